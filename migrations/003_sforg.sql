-- The embedded simulated Salesforce org's saved state (demo data survives restarts).
CREATE TABLE sforg_snapshot (
    id       integer PRIMARY KEY CHECK (id = 1),
    data     bytea NOT NULL,
    saved_at timestamptz NOT NULL
);

---- create above / drop below ----

DROP TABLE sforg_snapshot;
