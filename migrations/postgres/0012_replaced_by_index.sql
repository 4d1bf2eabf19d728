-- Every issuance asks which certificate its order replaces (the enrollment's comments name its
-- sslId), by `replaced_by_order`; without an index that was a scan of every certificate, a cost
-- that grew with the database (6.7 ms per issuance at ~10,000 certificates on SQLite).
CREATE INDEX IF NOT EXISTS certificates_replaced_by_order ON certificates (replaced_by_order);
