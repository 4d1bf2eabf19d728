//! Who is calling: an API request names its token (`Authorization: Bearer …`), a console request
//! carries the session cookie. Either way the operator is the token's name, which the audit trail
//! records as the actor.

use super::AdminState;
use crate::model::Actor;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "bridge_admin";
/// The login form's double-submit CSRF cookie.
pub const LOGIN_CSRF_COOKIE: &str = "bridge_admin_login";

/// An API caller with a valid bearer token.
pub struct ApiOperator(pub String);

impl ApiOperator {
    /// The audit trail's actor.
    pub fn actor(&self) -> Actor {
        Actor::Operator(self.0.clone())
    }
}

impl FromRequestParts<AdminState> for ApiOperator {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, s: &AdminState) -> Result<Self, Response> {
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        match presented.and_then(|t| s.tokens.name_of(t.trim())) {
            Some(name) => Ok(Self(name.to_string())),
            None => Err(super::api::problem(
                StatusCode::UNAUTHORIZED,
                "a valid admin token is required (Authorization: Bearer TOKEN)",
            )
            .into_response()),
        }
    }
}

/// A console user with a live session; `csrf` is the token every form of the session carries.
pub struct ConsoleOperator {
    pub name: String,
    pub csrf: String,
}

impl ConsoleOperator {
    /// The audit trail's actor.
    pub fn actor(&self) -> Actor {
        Actor::Operator(self.name.clone())
    }

    /// Whether a submitted form carries this session's CSRF token.
    pub fn csrf_ok(&self, submitted: &str) -> bool {
        super::tokens::constant_time_eq(self.csrf.as_bytes(), submitted.as_bytes())
    }
}

/// The value of cookie `name` in the request.
pub fn cookie<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

impl FromRequestParts<AdminState> for ConsoleOperator {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, s: &AdminState) -> Result<Self, Response> {
        let now = s.app.ctx.now().timestamp();
        let session = cookie(&parts.headers, SESSION_COOKIE);
        let found = session.and_then(|c| {
            let name = s.tokens.check_session(c, now)?;
            Some(Self {
                name,
                csrf: s.tokens.csrf(c)?,
            })
        });
        match found {
            Some(op) => Ok(op),
            None if parts.method == axum::http::Method::GET => {
                Err(Redirect::to("/admin/login").into_response())
            }
            None => Err((StatusCode::UNAUTHORIZED, "log in first").into_response()),
        }
    }
}
