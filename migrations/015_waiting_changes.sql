-- A conflict whose policy kept the Postgres change before it was written (a failed change, which an
-- admin's retry sends) is postgres_kept until a write of its row succeeds: postgres_won says the
-- change reached Salesforce, and is recorded only then; postgres_dismissed when an admin dismisses
-- the failed write instead.
ALTER TABLE conflicts DROP CONSTRAINT conflicts_outcome_check;
ALTER TABLE conflicts ADD CONSTRAINT conflicts_outcome_check
    CHECK (outcome IN ('postgres_won', 'postgres_kept', 'postgres_dismissed', 'salesforce_won', 'delete_stands', 'held', 'kept_postgres', 'kept_salesforce'));
CREATE INDEX conflicts_kept_idx ON conflicts (connection_id, table_name, record_id) WHERE outcome = 'postgres_kept';

-- A row whose record left its mapping's record filter (or was purged in Salesforce, by a gap event)
-- while it held an application's change not yet written stays until the change is written or set
-- aside: deleting it would lose the change unseen. Its record is listed here meanwhile, and the
-- mapping's polls remove the row once nothing waits and Salesforce confirms the record is still out.
CREATE TABLE departures (
    mapping_id  bigint NOT NULL REFERENCES mappings(id) ON DELETE CASCADE,
    sfid        text NOT NULL,
    departed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (mapping_id, sfid)
);

---- create above / drop below ----

DROP TABLE departures;
DROP INDEX conflicts_kept_idx;
UPDATE conflicts SET outcome = 'postgres_won' WHERE outcome IN ('postgres_kept', 'postgres_dismissed');
ALTER TABLE conflicts DROP CONSTRAINT conflicts_outcome_check;
ALTER TABLE conflicts ADD CONSTRAINT conflicts_outcome_check
    CHECK (outcome IN ('postgres_won', 'salesforce_won', 'delete_stands', 'held', 'kept_postgres', 'kept_salesforce'));
