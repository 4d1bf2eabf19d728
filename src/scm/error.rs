//! [`ScmError`]: every way an SCM call can fail, classified so the issuance worker knows whether to
//! wait (pending), retry (transient), stop (permanent) or alert (auth), and whether a failed call may
//! still have created something on SCM's side (the double-enrollment hazard).

use std::fmt;

/// What the caller should do about an [`ScmError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Not issued yet (collect codes 0, -183, -1400, -109, or an empty collect body): poll again later.
    Pending,
    /// Waiting for an SCM administrator's approval (-23): poll rarely, this can take days.
    AwaitingApproval,
    /// Transient (timeouts, connection resets, 5xx, 429, -195 CA unavailable, -140): retry with backoff.
    Retryable,
    /// Credentials refused (401, -16, -970): retrying will not help until an operator acts.
    Auth,
    /// Everything else: the request is wrong or refused for good.
    Permanent,
}

/// How a request failed below HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// No connection was made: nothing reached SCM.
    Connect,
    /// The call timed out after the request may have been sent.
    Timeout,
    /// Reset, closed mid-response, or another I/O failure after connecting.
    Other,
}

/// An SCM call that did not produce the expected result.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ScmError {
    /// SCM answered with an error status (or a 200 with an error body). `code`/`description` come from
    /// its JSON `{"code","description"}` when present.
    #[error("{}", api_display(*.status, *.code, .description))]
    Api {
        /// HTTP status.
        status: u16,
        /// SCM's error code (≤ 0), when the body carried one.
        code: Option<i64>,
        /// SCM's text, or the start of a non-JSON body.
        description: String,
        /// The call changes state on SCM (enroll, revoke, renew, approve…).
        mutating: bool,
    },
    /// Collect answered 200 with an empty body: SCM's other way of saying "not ready".
    #[error("SCM has no certificate to collect yet (empty response)")]
    NotReady,
    /// No usable HTTP response.
    #[error("SCM request failed ({kind:?}): {message}")]
    Transport {
        /// Where the failure happened.
        kind: TransportKind,
        /// The underlying error, without credentials.
        message: String,
        /// The call changes state on SCM.
        mutating: bool,
    },
    /// A 2xx response whose body was not what SCM documents.
    #[error("unexpected SCM response: {message}")]
    Decode {
        /// What did not parse.
        message: String,
        /// The call changes state on SCM.
        mutating: bool,
    },
    /// The client could not be built or the request not formed (bad config, bad client certificate).
    #[error("SCM client configuration: {0}")]
    Config(String),
}

fn api_display(status: u16, code: Option<i64>, description: &str) -> String {
    match code {
        Some(c) => format!("SCM error {c} (HTTP {status}): {description}"),
        None if description.is_empty() => format!("SCM answered HTTP {status}"),
        None => format!("SCM answered HTTP {status}: {description}"),
    }
}

/// Collect codes meaning "not issued yet".
pub const PENDING_CODES: [i64; 4] = [0, -183, -1400, -109];
/// Collect code meaning "waiting for an administrator's approval".
pub const AWAITING_APPROVAL_CODE: i64 = -23;

impl ScmError {
    /// SCM's error code, if the response carried one.
    pub fn code(&self) -> Option<i64> {
        match self {
            ScmError::Api { code, .. } => *code,
            _ => None,
        }
    }

    /// HTTP status, if SCM answered at all.
    pub fn status(&self) -> Option<u16> {
        match self {
            ScmError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// SCM's description (empty when there is none).
    pub fn description(&self) -> &str {
        match self {
            ScmError::Api { description, .. } => description,
            _ => "",
        }
    }

    /// What the caller should do; see [`ErrorClass`].
    pub fn class(&self) -> ErrorClass {
        match self {
            ScmError::NotReady => ErrorClass::Pending,
            ScmError::Transport { .. } => ErrorClass::Retryable,
            ScmError::Decode { .. } | ScmError::Config(_) => ErrorClass::Permanent,
            ScmError::Api { status, code, .. } => classify(*status, *code),
        }
    }

    /// SCM refused the names: their Domain Control Validation is incomplete or expired (-107,
    /// -737, -1137) or the domain is not allowed for the organization (-1010) — scm-api.md §3,
    /// "Enroll errors". The requester must validate the domain in SCM; the request was not wrong.
    pub fn refuses_names(&self) -> bool {
        matches!(self.code(), Some(-107 | -737 | -1137 | -1010))
    }

    /// SCM refused the CSR or its key: unparsable or badly signed CSR (-9, -10, -138), key size
    /// (-141, -13, -194) or ECC not allowed for the profile (-170) — scm-api.md §3, "Enroll
    /// errors".
    pub fn refuses_csr(&self) -> bool {
        matches!(
            self.code(),
            Some(-9 | -10 | -138 | -141 | -13 | -194 | -170)
        )
    }

    /// SCM will not revoke because the certificate is not (or no longer) in the Issued state:
    /// -102 "Only issued certificates could be revoked", -159 "already revoked", and -110 (revoked,
    /// as collect answers it) — scm-api.md §3 "Revoke" and "Collect". Whether it is in fact revoked
    /// must be read from its status.
    pub fn says_not_revocable(&self) -> bool {
        matches!(self.code(), Some(-102 | -159 | -110))
    }

    /// True for [`ErrorClass::Pending`] and [`ErrorClass::AwaitingApproval`].
    pub fn is_pending(&self) -> bool {
        matches!(
            self.class(),
            ErrorClass::Pending | ErrorClass::AwaitingApproval
        )
    }

    /// Whether SCM may have acted on the request although the caller got an error: true after a
    /// mutating call timed out, was cut off, got a 5xx, or got an unreadable 2xx; false when nothing was
    /// sent (connect failure) or SCM refused it with a 4xx. When true, look the result up (list +
    /// details) before repeating an enroll.
    pub fn may_have_taken_effect(&self) -> bool {
        match self {
            ScmError::Api {
                status, mutating, ..
            } => *mutating && *status >= 500,
            ScmError::Transport { kind, mutating, .. } => {
                *mutating && *kind != TransportKind::Connect
            }
            ScmError::Decode { mutating, .. } => *mutating,
            ScmError::NotReady | ScmError::Config(_) => false,
        }
    }

    /// SCM's HTTP answer came back in full (an error status or an unexpected body), so the call is
    /// over on SCM's side as far as the connection tells: a certificate such a failed enroll may
    /// still have created shows up shortly, not up to the client timeout later (#12 item 8).
    pub fn answered(&self) -> bool {
        matches!(self, ScmError::Api { .. } | ScmError::Decode { .. })
    }

    /// Maps a reqwest failure, keeping the message but never headers (where the password travels).
    pub(crate) fn from_reqwest(e: &reqwest::Error, mutating: bool) -> Self {
        let kind = if e.is_connect() {
            TransportKind::Connect
        } else if e.is_timeout() {
            TransportKind::Timeout
        } else {
            TransportKind::Other
        };
        let mut message = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        ScmError::Transport {
            kind,
            message,
            mutating,
        }
    }
}

fn classify(status: u16, code: Option<i64>) -> ErrorClass {
    if let Some(c) = code {
        if PENDING_CODES.contains(&c) {
            return ErrorClass::Pending;
        }
        match c {
            AWAITING_APPROVAL_CODE => return ErrorClass::AwaitingApproval,
            -16 | -970 => return ErrorClass::Auth,
            -195 | -140 => return ErrorClass::Retryable,
            _ => {}
        }
    }
    match status {
        401 => ErrorClass::Auth,
        429 | 500..=599 => ErrorClass::Retryable,
        _ => ErrorClass::Permanent,
    }
}

/// SCM's error body `{"code": …, "description": …}`; `details`/`items` are ignored.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct ErrorBody {
    /// Error code, ≤ 0.
    pub code: i64,
    /// Human-readable text (changed with the rebrand: never match on it).
    #[serde(default)]
    pub description: String,
}

impl fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code, self.description)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, code: Option<i64>, mutating: bool) -> ScmError {
        ScmError::Api {
            status,
            code,
            description: "d".into(),
            mutating,
        }
    }

    #[test]
    fn classification() {
        for c in [0, -183, -1400, -109] {
            assert_eq!(api(400, Some(c), false).class(), ErrorClass::Pending);
        }
        assert_eq!(
            api(400, Some(-23), false).class(),
            ErrorClass::AwaitingApproval
        );
        assert_eq!(api(400, Some(-195), true).class(), ErrorClass::Retryable);
        assert_eq!(api(400, Some(-140), true).class(), ErrorClass::Retryable);
        assert_eq!(api(503, None, true).class(), ErrorClass::Retryable);
        assert_eq!(api(429, None, true).class(), ErrorClass::Retryable);
        assert_eq!(api(401, Some(-16), false).class(), ErrorClass::Auth);
        assert_eq!(api(400, Some(-970), false).class(), ErrorClass::Auth);
        assert_eq!(api(400, Some(-107), true).class(), ErrorClass::Permanent);
        assert_eq!(api(404, None, false).class(), ErrorClass::Permanent);
    }

    #[test]
    fn refusal_kinds() {
        for c in [-107, -737, -1137, -1010] {
            assert!(api(400, Some(c), true).refuses_names(), "{c}");
            assert!(!api(400, Some(c), true).refuses_csr(), "{c}");
        }
        for c in [-9, -10, -138, -141, -13, -194, -170] {
            assert!(api(400, Some(c), true).refuses_csr(), "{c}");
            assert!(!api(400, Some(c), true).refuses_names(), "{c}");
        }
        for c in [-102, -159, -110] {
            assert!(api(400, Some(c), true).says_not_revocable(), "{c}");
        }
        assert!(!api(400, Some(-36), true).says_not_revocable());
        assert!(!api(500, None, true).refuses_names());
    }

    #[test]
    fn taken_effect() {
        assert!(!api(400, Some(-36), true).may_have_taken_effect());
        assert!(api(502, None, true).may_have_taken_effect());
        assert!(!api(502, None, false).may_have_taken_effect());
        let t = |kind, mutating| ScmError::Transport {
            kind,
            message: String::new(),
            mutating,
        };
        assert!(t(TransportKind::Timeout, true).may_have_taken_effect());
        assert!(t(TransportKind::Other, true).may_have_taken_effect());
        assert!(!t(TransportKind::Connect, true).may_have_taken_effect());
        assert!(!t(TransportKind::Timeout, false).may_have_taken_effect());
    }

    #[test]
    fn display_quotes_code_and_description() {
        let e = ScmError::Api {
            status: 400,
            code: Some(-107),
            description: "Domain Control Validation is either incomplete or expired for x.org"
                .into(),
            mutating: true,
        };
        assert_eq!(
            e.to_string(),
            "SCM error -107 (HTTP 400): Domain Control Validation is either incomplete or expired for x.org"
        );
    }
}
