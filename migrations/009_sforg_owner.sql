-- The embedded simulated org's state belongs to one org: the one served at its public URL (owner).
-- Two instances on one database each keep their own (they used to overwrite one row), and the
-- generation is a compare-and-set guard, so two processes serving the same URL cannot silently
-- overwrite each other's saves. The unowned row of before is adopted by the first instance to start.
ALTER TABLE sforg_snapshot ADD COLUMN owner text NOT NULL DEFAULT '', ADD COLUMN generation bigint NOT NULL DEFAULT 1;
ALTER TABLE sforg_snapshot DROP COLUMN id;
ALTER TABLE sforg_snapshot ADD PRIMARY KEY (owner);

---- create above / drop below ----

DELETE FROM sforg_snapshot WHERE owner <> (SELECT owner FROM sforg_snapshot ORDER BY saved_at DESC LIMIT 1);
ALTER TABLE sforg_snapshot DROP CONSTRAINT sforg_snapshot_pkey;
ALTER TABLE sforg_snapshot ADD COLUMN id integer NOT NULL DEFAULT 1 CHECK (id = 1);
ALTER TABLE sforg_snapshot ADD PRIMARY KEY (id);
ALTER TABLE sforg_snapshot ALTER COLUMN id DROP DEFAULT;
ALTER TABLE sforg_snapshot DROP COLUMN owner, DROP COLUMN generation;
