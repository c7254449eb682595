-- A conflict: a record changed in Salesforce after a Postgres change of it was captured and before it
-- was written (or deleted on one side and changed on the other), with both versions of the fields
-- Postgres changed and what the mapping's policy did about it.
CREATE TABLE conflicts (
    id                  bigserial PRIMARY KEY,
    connection_id       bigint NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    mapping_id          bigint REFERENCES mappings(id) ON DELETE CASCADE,
    object_name         text NOT NULL,
    table_name          text NOT NULL,
    record_id           bigint,                 -- the table row's id
    sfid                text NOT NULL DEFAULT '',
    trigger_log_id      bigint NOT NULL,        -- the captured change (in the connection's _trigger_log)
    kind                text NOT NULL CHECK (kind IN ('update_update', 'deleted_in_salesforce', 'deleted_in_postgres', 'insert_existing')),
    postgres_values     jsonb NOT NULL DEFAULT '{}', -- field → value Postgres wrote (the change)
    salesforce_values   jsonb NOT NULL DEFAULT '{}', -- field → value Salesforce held when detected
    captured_at         timestamptz,            -- when Postgres's change was captured
    sf_modified_at      timestamptz,            -- the record's SystemModstamp when detected
    sf_modified_by      text NOT NULL DEFAULT '', -- its LastModifiedById
    policy              text NOT NULL CHECK (policy IN ('postgres_wins', 'salesforce_wins', 'newest_wins', 'manual')),
    outcome             text NOT NULL CHECK (outcome IN ('postgres_won', 'salesforce_won', 'delete_stands', 'held', 'kept_postgres', 'kept_salesforce')),
    detected_at         timestamptz NOT NULL DEFAULT now(),
    resolved_at         timestamptz,
    resolved_by         text NOT NULL DEFAULT '', -- 'policy', or the admin who chose
    CHECK ((outcome = 'held') = (resolved_at IS NULL))
);
CREATE INDEX conflicts_connection_idx ON conflicts (connection_id, detected_at DESC);
CREATE INDEX conflicts_held_idx ON conflicts (connection_id, trigger_log_id) WHERE outcome = 'held';
CREATE INDEX conflicts_log_idx ON conflicts (connection_id, trigger_log_id);

---- create above / drop below ----

DROP TABLE conflicts;
