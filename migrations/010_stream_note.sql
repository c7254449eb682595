-- Why an accelerated mapping does not stream (Salesforce publishes no change events for its object,
-- say), shown on its page; NULL while it streams or is not accelerated.
ALTER TABLE mappings ADD COLUMN stream_note text;

---- create above / drop below ----

ALTER TABLE mappings DROP COLUMN stream_note;
