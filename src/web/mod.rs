//! The HTTP front end: routes, JWS extraction, ACME headers, problem documents.
