//! Fault injection: what a real SCM (or the network in between) does to a client on a bad day — 5xx
//! bursts, slow answers, connections cut without an answer, an enroll that succeeds but whose answer
//! never arrives or arrives late, connections closed after each answer — either on the next N calls
//! (counters) or on a random fraction of calls (`fault_rate`, see [`crate::sandbox::chaos`]). Applies
//! to SCM paths only, never `/__sandbox`.
//!
//! Every SCM call that gets past the faults is handled in its own task, not in the connection's
//! request future: hyper drops that future as soon as the caller hangs up, and a real SCM finishes
//! what it started whether or not the caller is still waiting. So a slow enroll whose caller timed
//! out still creates its certificate, exactly the situation the bridge's reconciliation exists for.

use crate::config::InvalidSetting;
use crate::sandbox::chaos::{Chaos, FaultKind};
use crate::sandbox::state::SandboxState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Active faults. Counters (`*_next`) go down by one per affected request and win over the rate.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    /// The next N SCM requests answer `fail_status` and change nothing.
    pub fail_next: u32,
    /// Status of those answers (0 = 503).
    pub fail_status: u16,
    /// Wait this many milliseconds before handling an SCM request (the request still takes effect
    /// if the caller gives up meanwhile).
    pub delay_ms: u64,
    /// Delay only the next N requests; absent = every request while `delay_ms > 0`.
    pub delay_next: Option<u32>,
    /// The next N SCM requests get their connection closed without an answer, changing nothing.
    pub reset_next: u32,
    /// The next N enrolls create their certificate (and count) but the connection is closed instead
    /// of answering: the caller cannot know the sslId.
    pub drop_enroll_response_next: u32,
    /// The next N enrolls ("enroll create-then-delay") create their certificate on SCM's side
    /// whatever the caller does — `enroll_create_after_ms` after they arrived — and answer only
    /// `enroll_answer_after_ms` after they arrived, or never: the caller times out while the
    /// certificate exists, as when a real SCM is slow and the client gives up.
    pub delay_enroll_response_next: u32,
    /// When a delayed-response enroll creates its certificate, in ms after it arrived (0 = at once).
    pub enroll_create_after_ms: u64,
    /// When a delayed-response enroll answers, in ms after it arrived (never before its certificate
    /// exists); absent = never (the connection stays open until the caller hangs up).
    pub enroll_answer_after_ms: Option<u64>,
    /// Answer with `Connection: close`, so the server closes the connection after every response.
    pub close_after_response: bool,
    /// Chaos mode: this fraction (0.0–1.0) of SCM requests gets one fault drawn from `fault_kinds`;
    /// 0 = off.
    pub fault_rate: f64,
    /// Kinds the rate draws from (`error_500`, `error_503`, `reset`, `slow`,
    /// `drop_enroll_response`, `delay_enroll_response`); empty = all of them.
    pub fault_kinds: Vec<FaultKind>,
    /// Upper bound of a drawn `slow` fault's delay (0 = 2000 ms).
    pub fault_slow_max_ms: u64,
    /// Seed of the draw, for reproducible runs; absent = a new random run each time faults are set.
    pub fault_seed: Option<u64>,
}

impl Faults {
    /// Checks what serde cannot (the rate is a probability).
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if !(0.0..=1.0).contains(&self.fault_rate) {
            return Err(InvalidSetting(format!(
                "fault_rate must be between 0 and 1, got {}",
                self.fault_rate
            )));
        }
        Ok(())
    }

    fn slow_max_ms(&self) -> u64 {
        if self.fault_slow_max_ms == 0 {
            2000
        } else {
            self.fault_slow_max_ms
        }
    }
}

/// Per-connection handle a handler uses to cut its own connection without answering.
#[derive(Clone, Default)]
pub struct ConnKill(pub Arc<Notify>);

impl ConnKill {
    /// Closes the connection; the handler returns the result, which is never sent.
    pub fn kill(&self) -> Response {
        self.0.notify_one();
        unanswered()
    }
}

/// Marks a response that must not be sent: the request is held open until the connection closes.
#[derive(Clone, Copy, Debug)]
struct Unanswered;

/// A response [`inject`] never sends: it keeps the request open instead, so the caller waits until
/// its own timeout (or the connection is cut). How a handler "never answers" without keeping its
/// own task alive forever.
pub fn unanswered() -> Response {
    let mut r = Response::default();
    r.extensions_mut().insert(Unanswered);
    r
}

/// An enroll fault chosen for one request (by the rate), handed to the enroll handler as a request
/// extension; counted enroll faults are taken by the handler itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnrollFault {
    /// Create, then close the connection without answering.
    DropResponse,
    /// Create (maybe later), answer late or never.
    DelayResponse,
}

/// What the middleware decided for one request.
enum Action {
    Reset,
    Fail(u16),
    Proceed {
        delay_ms: u64,
        close: bool,
        enroll: Option<EnrollFault>,
    },
}

fn decide(f: &mut Faults, chaos: &mut Chaos, is_enroll: bool) -> Action {
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
    let mut delay_ms = match &mut f.delay_next {
        None => f.delay_ms,
        Some(0) => 0,
        Some(n) => {
            *n -= 1;
            f.delay_ms
        }
    };
    let mut enroll = None;
    match chaos.draw(f.fault_rate, &f.fault_kinds, is_enroll) {
        None => {}
        Some(FaultKind::Reset) => return Action::Reset,
        Some(FaultKind::Error500) => return Action::Fail(500),
        Some(FaultKind::Error503) => return Action::Fail(503),
        Some(FaultKind::Slow) => delay_ms += chaos.slow_ms(f.slow_max_ms()),
        Some(FaultKind::DropEnrollResponse) => enroll = Some(EnrollFault::DropResponse),
        Some(FaultKind::DelayEnrollResponse) => enroll = Some(EnrollFault::DelayResponse),
    }
    Action::Proceed {
        delay_ms,
        close: f.close_after_response,
        enroll,
    }
}

/// Takes the enroll fault for an enroll that passed validation: the one the rate chose for this
/// request, else a counted one (`drop_enroll_response_next`, then `delay_enroll_response_next`).
pub fn take_enroll_fault(s: &SandboxState, chosen: Option<EnrollFault>) -> Option<EnrollFault> {
    if chosen.is_some() {
        return chosen;
    }
    s.with_faults(|f| {
        if f.drop_enroll_response_next > 0 {
            f.drop_enroll_response_next -= 1;
            Some(EnrollFault::DropResponse)
        } else if f.delay_enroll_response_next > 0 {
            f.delay_enroll_response_next -= 1;
            Some(EnrollFault::DelayResponse)
        } else {
            None
        }
    })
}

fn is_enroll(req: &Request) -> bool {
    req.method() == http::Method::POST && req.uri().path().ends_with("/enroll")
}

/// Middleware on the SCM routes: applies resets, failures, delays and `Connection: close`, and runs
/// the rest of the request in its own task (see the module docs).
pub async fn inject(
    State(state): State<Arc<SandboxState>>,
    mut req: Request,
    next: Next,
) -> Response {
    let enroll = is_enroll(&req);
    let action = state.with_faults_and_chaos(|f, c| decide(f, c, enroll));
    match action {
        Action::Reset => {
            let kill = req.extensions().get::<ConnKill>().cloned();
            match kill {
                Some(k) => {
                    k.kill();
                    std::future::pending().await
                }
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
        Action::Proceed {
            delay_ms,
            close,
            enroll,
        } => {
            if let Some(e) = enroll {
                req.extensions_mut().insert(e);
            }
            // Detached: dropping this future (the caller hung up) does not stop the task.
            let work = tokio::spawn(async move {
                if delay_ms > 0 {
                    tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                }
                next.run(req).await
            });
            let mut r = match work.await {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(error = %e, "sandbox handler failed");
                    return http::StatusCode::INTERNAL_SERVER_ERROR.into_response();
                }
            };
            if r.extensions().get::<Unanswered>().is_some() {
                return std::future::pending().await;
            }
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
