//! Every URL the bridge hands out, computed from `server.external_url`, and the routes they map to.
//! Keeping both in one place means the JWS `url` check and the links in resources cannot drift.

/// Builds absolute ACME URLs from the public base URL.
#[derive(Debug, Clone)]
pub struct Urls {
    /// Base URL without a trailing slash, e.g. `https://acme.example.edu`.
    base: String,
}

/// Route paths (relative to the server root) — the router uses the same constants.
pub mod paths {
    pub const DIRECTORY: &str = "/directory";
    pub const NEW_NONCE: &str = "/acme/new-nonce";
    pub const NEW_ACCOUNT: &str = "/acme/new-account";
    pub const NEW_ORDER: &str = "/acme/new-order";
    pub const REVOKE_CERT: &str = "/acme/revoke-cert";
    pub const KEY_CHANGE: &str = "/acme/key-change";
    pub const ACCOUNT: &str = "/acme/acct";
    pub const ORDER: &str = "/acme/order";
    pub const AUTHZ: &str = "/acme/authz";
    pub const CHALLENGE: &str = "/acme/chall";
    pub const CERTIFICATE: &str = "/acme/cert";
    /// RFC 9773 renewalInfo; a certID follows after `/`.
    pub const RENEWAL_INFO: &str = "/acme/renewal-info";
}

impl Urls {
    /// From the configured public base URL.
    pub fn new(base: &url::Url) -> Self {
        Self {
            base: base.as_str().trim_end_matches('/').to_string(),
        }
    }

    /// The URL a request for `path` (as routed, starting with `/`) was addressed to.
    pub fn for_path(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn directory(&self) -> String {
        self.for_path(paths::DIRECTORY)
    }
    pub fn new_nonce(&self) -> String {
        self.for_path(paths::NEW_NONCE)
    }
    pub fn new_account(&self) -> String {
        self.for_path(paths::NEW_ACCOUNT)
    }
    pub fn new_order(&self) -> String {
        self.for_path(paths::NEW_ORDER)
    }
    pub fn revoke_cert(&self) -> String {
        self.for_path(paths::REVOKE_CERT)
    }
    pub fn key_change(&self) -> String {
        self.for_path(paths::KEY_CHANGE)
    }
    pub fn account(&self, id: &str) -> String {
        format!("{}{}/{id}", self.base, paths::ACCOUNT)
    }
    pub fn account_orders(&self, id: &str) -> String {
        format!("{}{}/{id}/orders", self.base, paths::ACCOUNT)
    }
    pub fn order(&self, id: &str) -> String {
        format!("{}{}/{id}", self.base, paths::ORDER)
    }
    pub fn finalize(&self, id: &str) -> String {
        format!("{}{}/{id}/finalize", self.base, paths::ORDER)
    }
    pub fn authz(&self, id: &str) -> String {
        format!("{}{}/{id}", self.base, paths::AUTHZ)
    }
    pub fn challenge(&self, id: &str) -> String {
        format!("{}{}/{id}", self.base, paths::CHALLENGE)
    }
    /// The directory's `renewalInfo` (clients append `/` and a certID).
    pub fn renewal_info(&self) -> String {
        self.for_path(paths::RENEWAL_INFO)
    }
    pub fn certificate(&self, id: &str) -> String {
        format!("{}{}/{id}", self.base, paths::CERTIFICATE)
    }
    /// Alternate chain `n` (from 1) of a certificate (RFC 8555 §7.4.2).
    pub fn alternate_chain(&self, id: &str, n: usize) -> String {
        format!("{}{}/{id}/alt/{n}", self.base, paths::CERTIFICATE)
    }

    /// The account id in an account URL we issued (a JWS `kid`), if it is one.
    pub fn account_id_from_url<'a>(&self, url: &'a str) -> Option<&'a str> {
        let prefix = format!("{}{}/", self.base, paths::ACCOUNT);
        url.strip_prefix(&prefix)
            .filter(|id| crate::ids::is_plausible_id(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_urls_round_trip() {
        let u = Urls::new(&url::Url::parse("https://acme.example.edu/").unwrap());
        let id = crate::ids::random_id();
        assert_eq!(u.account_id_from_url(&u.account(&id)), Some(id.as_str()));
        assert_eq!(
            u.account_id_from_url("https://evil.example/acme/acct/x"),
            None
        );
        assert_eq!(u.directory(), "https://acme.example.edu/directory");
    }
}
