//! Statuses of accounts, orders, authorizations and challenges, and their rules (RFC 8555 §7.1.6) as pure functions of the
//! stored state and `now`, so expiry needs no background sweeper and tests move the clock instead of
//! sleeping.

use chrono::{DateTime, Utc};

macro_rules! status_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            /// The RFC 8555 spelling.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }

            /// Parses the RFC 8555 spelling.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some(Self::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        /// Resources carry the enum and serialize its RFC 8555 spelling, so code compares enums.
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

status_enum!(
    /// Order status (§7.1.6).
    OrderStatus {
        Pending => "pending",
        Ready => "ready",
        Processing => "processing",
        Valid => "valid",
        Invalid => "invalid",
    }
);

status_enum!(
    /// Authorization status (§7.1.6).
    AuthzStatus {
        Pending => "pending",
        Valid => "valid",
        Invalid => "invalid",
        Deactivated => "deactivated",
        Expired => "expired",
        Revoked => "revoked",
    }
);

status_enum!(
    /// Challenge status (§7.1.6).
    ChallengeStatus {
        Pending => "pending",
        Processing => "processing",
        Valid => "valid",
        Invalid => "invalid",
    }
);

status_enum!(
    /// Account status (§7.1.2): only a valid account may act.
    AccountStatus {
        Valid => "valid",
        Deactivated => "deactivated",
        Revoked => "revoked",
    }
);

/// An authorization's status as clients see it: pending and valid ones expire.
pub fn authz_status(
    stored: AuthzStatus,
    expires: DateTime<Utc>,
    now: DateTime<Utc>,
) -> AuthzStatus {
    match stored {
        AuthzStatus::Pending | AuthzStatus::Valid if expires <= now => AuthzStatus::Expired,
        s => s,
    }
}

/// An order's status as clients see it. `processing`, `valid` and `invalid` are final as stored
/// (issuance owns them); before that the order follows its authorizations (already evaluated with
/// [`authz_status`]) and its own expiry.
pub fn order_status(
    stored: OrderStatus,
    expires: DateTime<Utc>,
    authzs: &[AuthzStatus],
    now: DateTime<Utc>,
) -> OrderStatus {
    match stored {
        OrderStatus::Pending | OrderStatus::Ready => {
            if expires <= now {
                return OrderStatus::Invalid;
            }
            if authzs.iter().any(|a| {
                matches!(
                    a,
                    AuthzStatus::Invalid
                        | AuthzStatus::Deactivated
                        | AuthzStatus::Expired
                        | AuthzStatus::Revoked
                )
            }) {
                return OrderStatus::Invalid;
            }
            if !authzs.is_empty() && authzs.iter().all(|a| *a == AuthzStatus::Valid) {
                OrderStatus::Ready
            } else {
                OrderStatus::Pending
            }
        }
        s => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn authorizations_expire_at_their_deadline() {
        let exp = t0() + Duration::hours(1);
        assert_eq!(
            authz_status(AuthzStatus::Pending, exp, t0()),
            AuthzStatus::Pending
        );
        assert_eq!(
            authz_status(AuthzStatus::Valid, exp, exp - Duration::seconds(1)),
            AuthzStatus::Valid
        );
        assert_eq!(
            authz_status(AuthzStatus::Valid, exp, exp),
            AuthzStatus::Expired
        );
        assert_eq!(
            authz_status(AuthzStatus::Pending, exp, exp + Duration::days(1)),
            AuthzStatus::Expired
        );
        // Final states do not expire.
        assert_eq!(
            authz_status(AuthzStatus::Invalid, exp, exp + Duration::days(1)),
            AuthzStatus::Invalid
        );
    }

    #[test]
    fn all_authorizations_valid_makes_the_order_ready() {
        let exp = t0() + Duration::hours(1);
        use AuthzStatus::*;
        assert_eq!(
            order_status(OrderStatus::Pending, exp, &[Valid, Valid], t0()),
            OrderStatus::Ready
        );
        assert_eq!(
            order_status(OrderStatus::Pending, exp, &[Valid, Pending], t0()),
            OrderStatus::Pending
        );
    }

    #[test]
    fn one_invalid_authorization_makes_the_order_invalid() {
        let exp = t0() + Duration::hours(1);
        use AuthzStatus::*;
        for bad in [Invalid, Deactivated, Expired, Revoked] {
            assert_eq!(
                order_status(OrderStatus::Pending, exp, &[Valid, bad], t0()),
                OrderStatus::Invalid,
                "{bad:?}"
            );
            assert_eq!(
                order_status(OrderStatus::Ready, exp, &[bad], t0()),
                OrderStatus::Invalid
            );
        }
    }

    #[test]
    fn orders_expire_but_issuance_states_are_kept() {
        let exp = t0() + Duration::hours(1);
        use AuthzStatus::*;
        assert_eq!(
            order_status(OrderStatus::Ready, exp, &[Valid], exp),
            OrderStatus::Invalid
        );
        // An authorization expiring after the order became ready invalidates it too.
        let authz = authz_status(
            Valid,
            t0() + Duration::minutes(5),
            t0() + Duration::minutes(10),
        );
        assert_eq!(
            order_status(
                OrderStatus::Ready,
                exp,
                &[authz],
                t0() + Duration::minutes(10)
            ),
            OrderStatus::Invalid
        );
        for s in [
            OrderStatus::Processing,
            OrderStatus::Valid,
            OrderStatus::Invalid,
        ] {
            assert_eq!(order_status(s, exp, &[Expired], exp + Duration::days(9)), s);
        }
    }
}
