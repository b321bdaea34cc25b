-- SIG VoIP store, schema version 5: the actor and action indexes of the audit trail cover only
-- the events people look for by actor or action.
--
-- Nearly every event is a pipeline step (`step.*`, by the `system` actor): a dozen per
-- integration. Indexing them by actor and by action cost two more B-tree inserts per event, in
-- pages spread over the whole index, for filters that never narrow them: "every event of the
-- system" or "every `step.line` event" is most of the trail, read in time order through
-- `audit_at` (or per integration through `audit_integration`) just as fast. The events that are
-- rare, and that people do look for by who or what — a user's or a webhook's actions, intakes,
-- edits, overrides, retries — keep their indexes. The store adds the index's condition to a
-- query whose filter implies it, so SQLite can use the partial index.

DROP INDEX audit_actor;
DROP INDEX audit_action;
CREATE INDEX audit_actor ON audit (actor_key, at) WHERE actor_key <> 'system';
CREATE INDEX audit_action ON audit (action, at) WHERE substr(action, 1, 5) <> 'step.';
