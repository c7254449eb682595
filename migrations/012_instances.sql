-- The pgforce instances on this database, each announcing itself every few seconds: the
-- connections are shared fairly among the live ones (sync/engine/lease).
CREATE TABLE instances (
    name    text PRIMARY KEY,
    seen_at timestamptz NOT NULL
);

---- create above / drop below ----

DROP TABLE instances;
