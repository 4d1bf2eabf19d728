-- The External Account Binding an account was registered with, as the client sent it: RFC 8555
-- §7.1.2 lists it among the account object's fields, and clients and test suites read it back.
ALTER TABLE accounts ADD COLUMN eab_binding JSONB;
