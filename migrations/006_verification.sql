-- A verification compares a mapped table with its Salesforce object record by record (Id and
-- SystemModstamp), against the high-water mark the table claims to reflect, and lists what differs.
-- One runs at a time per mapping; the connection's syncer runs it under its lease (see sync/verify).
CREATE TABLE verifications (
    id            bigserial PRIMARY KEY,
    connection_id bigint NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    mapping_id    bigint NOT NULL REFERENCES mappings(id) ON DELETE CASCADE,
    state         text NOT NULL CHECK (state IN ('REQUESTED', 'VERIFYING', 'VERIFIED', 'DRIFT_FOUND', 'FAILED',
                                                  'REPAIR_REQUESTED', 'REPAIRING', 'REPAIRED')),
    state_reason  text NOT NULL DEFAULT '',
    requested_by  text NOT NULL DEFAULT '',
    requested_at  timestamptz NOT NULL DEFAULT now(),
    started_at    timestamptz,
    finished_at   timestamptz,
    holder        text NOT NULL DEFAULT '',   -- the instance working on it
    watermark     timestamptz,                -- the high-water mark the table was judged against
    sf_records    bigint,                     -- records Salesforce holds (filter applied)
    pg_rows       bigint,                     -- rows with an sfid in the table
    in_flight     bigint NOT NULL DEFAULT 0,  -- differences explained by changes after the mark or writes waiting
    missing       bigint NOT NULL DEFAULT 0,
    extra         bigint NOT NULL DEFAULT 0,
    stale         bigint NOT NULL DEFAULT 0,
    repaired      bigint NOT NULL DEFAULT 0,
    CHECK (finished_at IS NULL OR started_at IS NOT NULL)
);
CREATE INDEX verifications_mapping_idx ON verifications (mapping_id, id DESC);
-- At most one verification or repair in flight per mapping.
CREATE UNIQUE INDEX verifications_one_open ON verifications (mapping_id)
    WHERE state IN ('REQUESTED', 'VERIFYING', 'REPAIR_REQUESTED', 'REPAIRING');

-- What a verification found, one row per record; repair marks what it fixed.
CREATE TABLE verification_findings (
    verification_id bigint NOT NULL REFERENCES verifications(id) ON DELETE CASCADE,
    sfid            text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('missing', 'extra', 'stale')),
    sf_modstamp     timestamptz,
    pg_modstamp     timestamptz,
    repaired        boolean NOT NULL DEFAULT false,
    PRIMARY KEY (verification_id, sfid)
);

-- The cheap count check of every poll cycle: Salesforce's count against the table's, with the
-- difference that changes in flight cannot explain (0: they agree).
ALTER TABLE mappings ADD COLUMN count_checked_at timestamptz;
ALTER TABLE mappings ADD COLUMN count_drift bigint;

-- How often each mapping is verified in full (hours; 0 turns the schedule off).
ALTER TABLE connections ADD COLUMN verify_every_hours integer NOT NULL DEFAULT 24 CHECK (verify_every_hours BETWEEN 0 AND 8760);

---- create above / drop below ----

ALTER TABLE connections DROP COLUMN verify_every_hours;
ALTER TABLE mappings DROP COLUMN count_drift;
ALTER TABLE mappings DROP COLUMN count_checked_at;
DROP TABLE verification_findings;
DROP TABLE verifications;
