//! The error of a settings check that serde cannot express (keys given together, ranges, ids that
//! must be unique). Every layer with its own settings (`scm`, `policy`, `sandbox`) reports through
//! it, so `Config::load` shows the message, which names the key to fix, as it is.

/// A setting, or a combination of settings, that cannot work; the message names the keys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidSetting(pub String);

impl From<String> for InvalidSetting {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl From<&str> for InvalidSetting {
    fn from(s: &str) -> Self {
        Self(s.to_string())
    }
}

impl InvalidSetting {
    /// Prefixes the section the setting lives in, for checks that run on a nested part.
    pub fn within(self, section: &str) -> Self {
        Self(format!("{section}: {}", self.0))
    }

    /// Whether the message mentions `text` (tests name the key they expect).
    pub fn mentions(&self, text: &str) -> bool {
        self.0.contains(text)
    }
}
