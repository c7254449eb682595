-- Bearer tokens for the REST API and /metrics. Only a SHA-256 of the secret is kept: the secret is
-- shown once, when the token is created. A revoked token stays listed (and audited), never reused.
CREATE TABLE api_tokens (
    id           bigserial PRIMARY KEY,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    role         text NOT NULL CHECK (role IN ('admin', 'viewer', 'metrics')),
    token_hash   text NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
-- A name identifies one live token (revoke by name); revoked names may be reused.
CREATE UNIQUE INDEX api_tokens_live_name_key ON api_tokens (name) WHERE revoked_at IS NULL;

-- The org's daily API usage as the syncer last saw it (Salesforce reports it on every response), so
-- other processes (metrics, diagnose, the CLI) can read it without calling Salesforce.
CREATE TABLE api_usage (
    connection_id bigint PRIMARY KEY REFERENCES connections(id) ON DELETE CASCADE,
    used          integer NOT NULL,
    max           integer NOT NULL,
    seen_at       timestamptz NOT NULL DEFAULT now()
);

---- create above / drop below ----

DROP TABLE api_usage;
DROP TABLE api_tokens;
