-- Change Data Capture over Salesforce's Pub/Sub API beside CometD. A connection's setting picks the
-- transport of its accelerated mappings (auto: Pub/Sub where the org offers it, CometD otherwise); each
-- mapping records the transport it streams over and its Pub/Sub replay id (opaque bytes, unlike
-- CometD's numbers), checkpointed with the data it led to as replay_id is.
ALTER TABLE connections ADD COLUMN stream_transport text NOT NULL DEFAULT 'auto'
    CHECK (stream_transport IN ('auto', 'pubsub', 'cometd'));
ALTER TABLE mappings ADD COLUMN pubsub_replay_id bytea,
    ADD COLUMN stream_transport text CHECK (stream_transport IN ('pubsub', 'cometd'));

---- create above / drop below ----

ALTER TABLE mappings DROP COLUMN stream_transport, DROP COLUMN pubsub_replay_id;
ALTER TABLE connections DROP COLUMN stream_transport;
