//! Request handlers: SCM's REST surface (`discovery`, `enroll`, `certs`, `replace`) and the sandbox's own
//! control API (`control`).

pub mod certs;
pub mod control;
pub mod discovery;
pub mod enroll;
pub mod replace;
