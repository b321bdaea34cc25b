-- SIG VoIP store, schema version 4: the proposal document moves out of the integration's
-- state row. Every step commit rewrites the state row; with the document (about 3 KB) in it,
-- each commit rewrote a full page of it too. The document changes only on intake, edits and
-- enrichment, and is written only then.

CREATE TABLE integration_raw (
    integration_id TEXT PRIMARY KEY REFERENCES integrations (id),
    raw            TEXT NOT NULL      -- JSON RawProposal
);

INSERT INTO integration_raw (integration_id, raw)
    SELECT id, raw FROM integrations WHERE raw IS NOT NULL;

ALTER TABLE integrations DROP COLUMN raw;
