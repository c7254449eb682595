-- Which database history a mapping's high-water mark was stored in (the cluster, its WAL timeline and
-- the table's oid): a restore (point-in-time recovery, a dump restored, a failover that may have lost
-- commits) changes it, so a rolled-back high-water mark is detected after a restart too.
ALTER TABLE mappings ADD COLUMN synced_in text;

---- create above / drop below ----

ALTER TABLE mappings DROP COLUMN synced_in;
