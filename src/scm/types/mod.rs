//! SCM wire types (JSON, camelCase), shared by the client and the sandbox. Deserialisation is
//! tolerant (missing fields default, dates in any SCM form, SAN lists as array or comma string) because
//! tenants and API versions differ; ids are `i64` because SCM ids exceed 32 bits.

mod cert;
mod domain;
mod org;

pub use cert::*;
pub use domain::*;
pub use org::*;

use serde::{Deserialize, Deserializer};

pub(crate) fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

pub(crate) fn empty_none<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.filter(|s| !s.is_empty()))
}

/// SAN lists arrive as an array, a comma-separated string, or null.
pub(crate) fn names<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Names {
        List(Vec<String>),
        Joined(String),
    }
    Ok(match Option::<Names>::deserialize(d)? {
        None => Vec::new(),
        Some(Names::List(v)) => v,
        Some(Names::Joined(s)) => s
            .split(',')
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect(),
    })
}
