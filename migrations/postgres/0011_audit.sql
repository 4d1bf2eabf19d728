-- Audit trail (#15): one row per change, written in the transaction of the change it records.
-- Append-only: the application never updates or deletes a row, and the triggers below refuse it
-- (a retention purge, if ever configured, must say so with SET LOCAL bridge.audit_purge = 'on').
CREATE TABLE audit_events (
    id BIGSERIAL PRIMARY KEY,
    at TIMESTAMPTZ NOT NULL,
    kind TEXT NOT NULL,
    actor TEXT NOT NULL,
    account_id TEXT,
    eab_kid TEXT,
    order_id TEXT,
    serial TEXT,
    names TEXT,
    details JSONB NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_events_at ON audit_events (at, id);
CREATE INDEX audit_events_account ON audit_events (account_id, at) WHERE account_id IS NOT NULL;
CREATE INDEX audit_events_eab ON audit_events (eab_kid, at) WHERE eab_kid IS NOT NULL;
CREATE INDEX audit_events_serial ON audit_events (serial) WHERE serial IS NOT NULL;
CREATE INDEX audit_events_order ON audit_events (order_id) WHERE order_id IS NOT NULL;

CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('bridge.audit_purge', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_events is append-only (% refused)', TG_OP;
END
$$;
CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
