-- A connection: one Salesforce org synced with one schema of the database.
CREATE TABLE connections (
    id               bigserial PRIMARY KEY,
    name             text NOT NULL UNIQUE,
    schema_name      text NOT NULL UNIQUE CHECK (schema_name ~ '^[a-z_][a-z0-9_]{0,62}$'),
    state            text NOT NULL,
    state_reason     text NOT NULL DEFAULT '',
    state_changed_at timestamptz NOT NULL DEFAULT now(),
    org_type         text NOT NULL CHECK (org_type IN ('production', 'sandbox', 'custom', 'simulated')),
    login_url        text NOT NULL,
    api_version      text NOT NULL,
    write_algorithm  text NOT NULL DEFAULT 'ordered' CHECK (write_algorithm IN ('ordered', 'merged')),
    instance_url     text NOT NULL DEFAULT '',
    org_id           text NOT NULL DEFAULT '',
    org_name         text NOT NULL DEFAULT '',
    sf_username      text NOT NULL DEFAULT '',
    sf_user_id       text NOT NULL DEFAULT '',
    identity_url     text NOT NULL DEFAULT '',
    access_token     bytea,  -- sealed with the instance key
    refresh_token    bytea,  -- sealed with the instance key
    authorized_at    timestamptz,
    polling_seconds  integer NOT NULL DEFAULT 600 CHECK (polling_seconds BETWEEN 120 AND 3600),
    max_daily_api_calls integer,
    trigger_log_retention_days integer NOT NULL DEFAULT 31 CHECK (trigger_log_retention_days BETWEEN 1 AND 3650),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- A mapping: one Salesforce object synced with one table of the connection's schema.
CREATE TABLE mappings (
    id                 bigserial PRIMARY KEY,
    connection_id      bigint NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    object_name        text NOT NULL,
    table_name         text NOT NULL,
    state              text NOT NULL,
    state_reason       text NOT NULL DEFAULT '',
    state_changed_at   timestamptz NOT NULL DEFAULT now(),
    config             jsonb NOT NULL,          -- Heroku Connect's mapping config (+ pgforce options)
    applied_fields     jsonb NOT NULL DEFAULT '[]', -- field definitions the table was built from
    requested_action   text,                    -- reload, abort, resync: picked up by the syncer
    backfill           jsonb,                   -- fields an edit added whose values must be loaded
    revision           integer NOT NULL DEFAULT 1,
    applied_at         timestamptz,
    load_expected      bigint,
    load_done          bigint NOT NULL DEFAULT 0,
    load_started_at    timestamptz,
    load_finished_at   timestamptz,
    watermark          timestamptz,             -- SystemModstamp high-water mark (also kept in the synced schema)
    watermark_id       text NOT NULL DEFAULT '',
    replay_id          bigint,                  -- CDC replay position (accelerated mode)
    last_poll_at       timestamptz,
    next_poll_at       timestamptz,
    sf_count           bigint,
    sf_count_at        timestamptz,
    drift              jsonb,                   -- field definitions changed in Salesforce since applied
    orphaned_at        timestamptz,             -- object missing from the org's describe
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (connection_id, object_name),
    UNIQUE (connection_id, table_name)
);

-- Every state change and notable event of connections and mappings, for the dashboard's history.
CREATE TABLE events (
    id            bigserial PRIMARY KEY,
    at            timestamptz NOT NULL DEFAULT clock_timestamp(),
    connection_id bigint NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    mapping_id    bigint REFERENCES mappings(id) ON DELETE SET NULL,
    object_name   text NOT NULL DEFAULT '',
    level         text NOT NULL CHECK (level IN ('info', 'warn', 'error')),
    kind          text NOT NULL,               -- state, load, poll, write, auth, ...
    from_state    text NOT NULL DEFAULT '',
    to_state      text NOT NULL DEFAULT '',
    message       text NOT NULL,
    counts        jsonb
);
CREATE INDEX events_connection_at_idx ON events (connection_id, at DESC);
CREATE INDEX events_mapping_at_idx ON events (mapping_id, at DESC) WHERE mapping_id IS NOT NULL;

-- Exactly one syncer per connection across instances: a lease renewed by heartbeat.
CREATE TABLE leases (
    connection_id bigint PRIMARY KEY REFERENCES connections(id) ON DELETE CASCADE,
    holder        text NOT NULL,
    acquired_at   timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL
);

-- Records synced per direction and 5-minute bucket, for the activity chart.
CREATE TABLE sync_stats (
    connection_id bigint NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    mapping_id    bigint NOT NULL,
    bucket        timestamptz NOT NULL,
    direction     text NOT NULL CHECK (direction IN ('sf_to_pg', 'pg_to_sf')),
    records       bigint NOT NULL DEFAULT 0,
    errors        bigint NOT NULL DEFAULT 0,
    api_calls     bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (connection_id, mapping_id, bucket, direction)
);

---- create above / drop below ----

DROP TABLE sync_stats;
DROP TABLE leases;
DROP TABLE events;
DROP TABLE mappings;
DROP TABLE connections;
