-- SIG VoIP store, schema version 6: the journal is a rowid table, appended to in commit order,
-- with a unique index on (integration, step).
--
-- It was a WITHOUT ROWID table keyed by (integration, step). Its rows (a step's result, up to
-- a kilobyte or so) are large for that layout, which keeps whole rows in the interior pages
-- too, and each commit inserted into the middle of the tree: in the region of each of the
-- integrations in flight, splitting pages there. Each transaction wrote about 20 journal
-- pages to the WAL. Appended by rowid, a commit's rows share the last page or two; only the
-- small index entries go to each integration's region.

CREATE TABLE journal_by_rowid (
    integration_id TEXT NOT NULL REFERENCES integrations (id),
    step_key       TEXT NOT NULL,
    result         TEXT NOT NULL,     -- JSON
    at             TEXT NOT NULL,
    duration_ms    INTEGER NOT NULL CHECK (duration_ms >= 0),
    UNIQUE (integration_id, step_key)
);

INSERT INTO journal_by_rowid (integration_id, step_key, result, at, duration_ms)
    SELECT integration_id, step_key, result, at, duration_ms FROM journal ORDER BY at;

DROP TABLE journal;
ALTER TABLE journal_by_rowid RENAME TO journal;
