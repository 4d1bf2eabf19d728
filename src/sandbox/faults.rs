//! Fault injection: what a real SCM (or the network in between) does to a client on a bad day — 5xx
//! bursts, slow answers, connections cut without an answer, an enroll that succeeds but whose answer
//! never arrives, connections closed after each answer. Applies to SCM paths only, never `/__sandbox`.

use crate::sandbox::state::SandboxState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Active faults. Counters (`*_next`) go down by one per affected request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    /// The next N SCM requests answer `fail_status` and change nothing.
    pub fail_next: u32,
    /// Status of those answers (0 = 503).
    pub fail_status: u16,
    /// Wait this many milliseconds before handling an SCM request.
    pub delay_ms: u64,
    /// Delay only the next N requests; absent = every request while `delay_ms > 0`.
    pub delay_next: Option<u32>,
    /// The next N SCM requests get their connection closed without an answer, changing nothing.
    pub reset_next: u32,
    /// The next N enrolls create their certificate (and count) but the connection is closed instead
    /// of answering: the caller cannot know the sslId.
    pub drop_enroll_response_next: u32,
    /// Answer with `Connection: close`, so the server closes the connection after every response.
    pub close_after_response: bool,
}

/// Per-connection handle a handler uses to cut its own connection without answering.
#[derive(Clone, Default)]
pub struct ConnKill(pub Arc<Notify>);

impl ConnKill {
    /// Closes the connection; the handler should then never return (see [`ConnKill::kill_and_hang`]).
    pub async fn kill_and_hang(&self) -> Response {
        self.0.notify_one();
        std::future::pending::<()>().await;
        unreachable!("the connection task drops this future")
    }
}

/// What the middleware decided for one request.
enum Action {
    Reset,
    Fail(u16),
    Proceed { delay_ms: u64, close: bool },
}

fn decide(f: &mut Faults) -> Action {
    if f.reset_next > 0 {
        f.reset_next -= 1;
        return Action::Reset;
    }
    if f.fail_next > 0 {
        f.fail_next -= 1;
        return Action::Fail(if f.fail_status == 0 {
            503
        } else {
            f.fail_status
        });
    }
    let delay_ms = match &mut f.delay_next {
        None => f.delay_ms,
        Some(0) => 0,
        Some(n) => {
            *n -= 1;
            f.delay_ms
        }
    };
    Action::Proceed {
        delay_ms,
        close: f.close_after_response,
    }
}

/// Middleware on the SCM routes: applies resets, failures, delays and `Connection: close`.
pub async fn inject(State(state): State<Arc<SandboxState>>, req: Request, next: Next) -> Response {
    let action = state.with_faults(decide);
    match action {
        Action::Reset => {
            let kill = req.extensions().get::<ConnKill>().cloned();
            match kill {
                Some(k) => k.kill_and_hang().await,
                None => (http::StatusCode::BAD_GATEWAY, "connection reset").into_response(),
            }
        }
        Action::Fail(status) => {
            let status =
                http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::SERVICE_UNAVAILABLE);
            let mut r = Response::new(Body::from(format!(
                "<html><body><h1>{status}</h1>sandbox fault injection</body></html>"
            )));
            *r.status_mut() = status;
            r.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("text/html"),
            );
            r
        }
        Action::Proceed { delay_ms, close } => {
            if delay_ms > 0 {
                tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            }
            let mut r = next.run(req).await;
            if close {
                r.headers_mut().insert(
                    http::header::CONNECTION,
                    http::HeaderValue::from_static("close"),
                );
            }
            r
        }
    }
}
