-- SIG VoIP store, schema version 2: indexes for the claims, the lists and the audit filters.

-- Claims: due pending work, oldest `next_attempt_at` first.
CREATE INDEX integrations_due ON integrations (next_attempt_at, id) WHERE status = 'pending';
-- Lists: by reception time, by company, by status.
CREATE INDEX integrations_received ON integrations (received_at, id);
CREATE INDEX integrations_company ON integrations (company, received_at);
CREATE INDEX integrations_status ON integrations (status, received_at);
CREATE INDEX integrations_customer ON integrations (customer);
-- A customer found by its SIG id.
CREATE INDEX customers_by_id ON customers (customer_id);
-- Load per server.
CREATE INDEX reservations_server ON reservations (server);
-- Audit filters.
CREATE INDEX audit_at ON audit (at, id);
CREATE INDEX audit_integration ON audit (integration_id, at);
CREATE INDEX audit_actor ON audit (actor_key, at);
CREATE INDEX audit_action ON audit (action, at);
