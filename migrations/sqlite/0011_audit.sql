-- Audit trail (SQLite spelling of migrations/postgres/0011_audit.sql): append-only, the triggers
-- refuse UPDATE and DELETE.
CREATE TABLE audit_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    actor TEXT NOT NULL,
    account_id TEXT,
    eab_kid TEXT,
    order_id TEXT,
    serial TEXT,
    names TEXT,
    details TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_at ON audit_events (at, id);
CREATE INDEX audit_events_account ON audit_events (account_id, at) WHERE account_id IS NOT NULL;
CREATE INDEX audit_events_eab ON audit_events (eab_kid, at) WHERE eab_kid IS NOT NULL;
CREATE INDEX audit_events_serial ON audit_events (serial) WHERE serial IS NOT NULL;
CREATE INDEX audit_events_order ON audit_events (order_id) WHERE order_id IS NOT NULL;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only (UPDATE refused)');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only (DELETE refused)');
END;
