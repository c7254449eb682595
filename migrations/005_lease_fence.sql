-- The lease fence: work that changes synced state holds FOR KEY SHARE on its connection's lease row
-- for its whole transaction (a load can take minutes). With holder in a unique key, a takeover
-- (holder changes) must wait for those transactions to end, while the holder's own renewals (only
-- expires_at changes) go through: a long load no longer blocks the heartbeat and loses the lease.
CREATE UNIQUE INDEX leases_fence ON leases (connection_id, holder);

---- create above / drop below ----

DROP INDEX leases_fence;
