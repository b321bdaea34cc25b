-- SIG VoIP store, schema version 1: the tables.
--
-- Timestamps are UTC, RFC 3339 text of fixed width with nanoseconds
-- (`2026-11-25T06:08:58.123456789Z`), so text order is time order and range filters work on
-- the text. Ids are lower-case hyphenated UUIDs (text order is id order). JSON columns hold
-- the serde form of sig-core's types.

CREATE TABLE schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL
);

CREATE TABLE integrations (
    id              TEXT PRIMARY KEY,
    company         TEXT NOT NULL,
    source_account  TEXT NOT NULL,
    source_proposal TEXT NOT NULL,
    status          TEXT NOT NULL
                    CHECK (status IN ('pending', 'held', 'done', 'failed', 'cancelled')),
    step            TEXT,
    raw             TEXT,             -- JSON RawProposal
    problems        TEXT NOT NULL,    -- JSON Problems
    failure         TEXT,             -- JSON Failure
    customer        TEXT,
    attempts        INTEGER NOT NULL CHECK (attempts >= 0),
    actor           TEXT NOT NULL,    -- JSON Actor
    received_at     TEXT NOT NULL,
    finished_at     TEXT,
    held_since      TEXT,
    held_ms         INTEGER NOT NULL CHECK (held_ms >= 0),
    next_attempt_at TEXT NOT NULL,
    lease_until     TEXT,             -- set by claims; NULL when not leased
    UNIQUE (source_account, source_proposal)
);

CREATE TABLE journal (
    integration_id TEXT NOT NULL REFERENCES integrations (id),
    step_key       TEXT NOT NULL,
    result         TEXT NOT NULL,     -- JSON
    at             TEXT NOT NULL,
    duration_ms    INTEGER NOT NULL CHECK (duration_ms >= 0),
    PRIMARY KEY (integration_id, step_key)
) WITHOUT ROWID;

CREATE TABLE customers (
    company     TEXT NOT NULL,
    tax_id      TEXT NOT NULL,        -- digits (CPF) or the 14-character CNPJ
    customer_id TEXT NOT NULL,
    PRIMARY KEY (company, tax_id)
) WITHOUT ROWID;

CREATE TABLE customer_links (
    customer_id TEXT PRIMARY KEY,
    erp_id      INTEGER               -- Omie codigo_cliente_omie
) WITHOUT ROWID;

CREATE TABLE customer_voip (
    customer_id TEXT NOT NULL REFERENCES customer_links (customer_id),
    server      TEXT NOT NULL,
    voip_id     INTEGER NOT NULL,     -- NextBilling customer id on that server
    PRIMARY KEY (customer_id, server)
) WITHOUT ROWID;

CREATE TABLE reservations (
    order_id       TEXT PRIMARY KEY,
    integration_id TEXT NOT NULL,
    server         TEXT NOT NULL,
    lines          INTEGER NOT NULL CHECK (lines >= 0),
    channels       INTEGER NOT NULL CHECK (channels >= 0),
    provisioned    INTEGER NOT NULL CHECK (provisioned IN (0, 1))
);

CREATE TABLE limit_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL               -- JSON
);

CREATE TABLE audit (
    id             TEXT PRIMARY KEY,  -- UUID v7
    at             TEXT NOT NULL,
    integration_id TEXT,
    actor          TEXT NOT NULL,     -- JSON Actor
    actor_key      TEXT NOT NULL,     -- `system`, `webhook:<account>`, `user:<id>` (filters)
    action         TEXT NOT NULL,
    system         TEXT,
    call           TEXT,
    outcome        TEXT NOT NULL,
    duration_ms    INTEGER CHECK (duration_ms >= 0),
    summary        TEXT NOT NULL,
    details        TEXT NOT NULL      -- JSON
);
