//! JSON Web Signature handling for ACME (RFC 8555 §6.2, RFC 7515/7517/7638): parsing flattened JWS,
//! verifying signatures with josekit, thumbprints, External Account Binding, and nonces.
