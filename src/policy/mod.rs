//! What an account may request: name patterns and SCM bindings from its EAB key, global limits.
//!
//! Placeholder: lands with the orders-and-validation issue.
