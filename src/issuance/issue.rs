//! The `issue` job: enroll exactly once (design.md §3.4), collect with backoff until SCM issues
//! (§3.5), then store the chain and make the order valid. Every step is resumable: the enrollment
//! row says how far the order got, so a crash or another replica picks up where this one stopped.

use super::chain::build_chains;
use super::error::{ChainError, JobError};
use super::worker::{Outcome, Worker};
use crate::acme::{Error, ProblemType};
use crate::model::status::OrderStatus;
use crate::model::{Certificate, Enrollment, Job};
use crate::scm::{CollectFormat, EnrollRequest, ErrorClass, ListFilter, ScmClient, ScmError};
use crate::store::issuance_records::IssueSubject;
use chrono::{DateTime, Duration, Utc};
use x509_parser::prelude::{FromDer, X509CertificationRequest};

enum EnrollStep {
    /// SCM took the request: its sslId, and — when not yet stored — the renewId it came with,
    /// stored with the first collect's outcome.
    Enrolled(i64, Option<Unrecorded>),
    Failed(Error),
    Later(String),
    /// Not before this time: an earlier enroll may still be under way in SCM.
    NotBefore(DateTime<Utc>, String),
}

pub(super) async fn run(w: &Worker, job: &Job) -> Outcome {
    match step(w, job).await {
        Ok(o) => o,
        Err(e) => Outcome::from_error(e),
    }
}

async fn step(w: &Worker, job: &Job) -> Result<Outcome, JobError> {
    let store = &w.ctx.store;
    let scm = w.scm.as_ref().ok_or(JobError::NoScm)?;
    let subject = store.issue_subject(&job.subject_id).await?;
    let Some(subject) = subject.filter(|s| s.order_status == OrderStatus::Processing) else {
        store.drop_job(&job.lease).await?;
        return Ok(Outcome::Done);
    };
    let e = &subject.enrollment;
    let cfg = &w.ctx.config.issuance;
    if w.ctx.now() - e.finalized_at > Duration::seconds(cfg.collect_deadline_secs) {
        let err = Error::internal_visible(format!(
            "SCM did not issue the certificate within {} hours; create a new order",
            cfg.collect_deadline_secs / 3600
        ));
        return fail(w, job, e, err).await;
    }
    if e.ssl_id.is_none() && e.enroll_started_at.is_none() {
        match super::caa::precheck(w, e, job.attempts).await {
            super::caa::Precheck::Passed => {}
            super::caa::Precheck::Refused(err) => return fail(w, job, e, err).await,
            super::caa::Precheck::Retry(why) => return Ok(Outcome::Retry(why)),
        }
    }
    let (ssl_id, unrecorded) = match e.ssl_id {
        Some(id) => (id, None),
        None => match enroll_once(w, scm, job, e, &subject).await? {
            EnrollStep::Enrolled(id, unrecorded) => (id, unrecorded),
            EnrollStep::Failed(err) => return fail(w, job, e, err).await,
            EnrollStep::Later(why) => return Ok(Outcome::Retry(why)),
            EnrollStep::NotBefore(at, why) => return Ok(Outcome::RetryAt(at, why)),
        },
    };
    let enrolled = Enrolled { ssl_id, unrecorded };
    collect(w, scm, job, e, enrolled, &subject.account_id).await
}

/// An sslId enroll returned but not yet stored: the renewId that came with it.
struct Unrecorded {
    renew_id: Option<String>,
}

/// The SCM request the order's certificate is collected from.
struct Enrolled {
    ssl_id: i64,
    /// Set right after enroll: the sslId is stored with the first collect's outcome.
    unrecorded: Option<Unrecorded>,
}

impl Enrolled {
    /// Stores the sslId (and renewId) if enroll's answer is not stored yet.
    async fn record(&mut self, w: &Worker, job: &Job, e: &Enrollment) -> Result<(), JobError> {
        if let Some(u) = self.unrecorded.take() {
            w.ctx
                .store
                .record_ssl_id(
                    &job.lease,
                    &e.order_id,
                    self.ssl_id,
                    u.renew_id.as_deref(),
                    w.ctx.now(),
                )
                .await?;
        }
        Ok(())
    }
}

async fn fail(w: &Worker, job: &Job, e: &Enrollment, err: Error) -> Result<Outcome, JobError> {
    tracing::warn!(order = %e.order_id, detail = %err.detail, "issuance failed");
    w.ctx
        .store
        .fail_issuance(
            &job.lease,
            &e.order_id,
            &err.problem_document(),
            w.ctx.now(),
        )
        .await?;
    Ok(Outcome::Done)
}

async fn enroll_once(
    w: &Worker,
    scm: &ScmClient,
    job: &Job,
    e: &Enrollment,
    subject: &IssueSubject,
) -> Result<EnrollStep, JobError> {
    let store = &w.ctx.store;
    if let Some(started) = e.enroll_started_at {
        // An earlier attempt's outcome is unknown: adopt what it created before enrolling again.
        match find_by_marker(scm, e).await {
            Ok(Some(id)) => {
                tracing::info!(order = %e.order_id, ssl_id = id, "adopted the certificate of an earlier enroll");
                store
                    .record_ssl_id(&job.lease, &e.order_id, id, None, w.ctx.now())
                    .await?;
                return Ok(EnrollStep::Enrolled(id, None));
            }
            Ok(None) => {
                // Not there (yet): the earlier call may still be under way — its replica died or
                // lost its lease while SCM was working on it — and may still create the
                // certificate. Only once it can no longer land does "not found" mean "never made".
                let settled = settled_at(w, started, e.enroll_answered_at);
                if w.ctx.now() < settled {
                    return Ok(EnrollStep::NotBefore(
                        settled,
                        format!(
                            "an earlier enroll (sent {started}) may still be under way in SCM; \
                             looking for its marker again at {settled} before enrolling again"
                        ),
                    ));
                }
                tracing::info!(order = %e.order_id, "earlier enroll created nothing; enrolling again")
            }
            Err(err) => {
                return Ok(EnrollStep::Later(format!(
                    "looking up an earlier enroll: {err}"
                )))
            }
        }
    }
    let external_requester = super::notify::external_requester(w, &subject.account_contact);
    let req = EnrollRequest {
        org_id: e.org_id,
        csr: csr_pem(&e.csr_der),
        cert_type: e.cert_type,
        term: e.term as u32,
        subj_alt_names: e.subj_alt_names.clone(),
        common_name: enrolled_common_name(e),
        comments: Some(crate::acme::ari::enroll_comments(
            &e.marker,
            subject.replaced_ssl_id,
        )),
        external_requester,
        custom_fields: Vec::new(),
    };
    let settle = Duration::seconds(w.ctx.config.issuance.enroll_settle_secs);
    // "Sent" is recorded once the request holds its SCM slot, right before it goes out (fenced:
    // a handler whose lease is gone sends nothing). A mark the database took longer than the
    // settle margin to commit would date the send too early, so such a send is called off.
    let sent_at = std::sync::Mutex::new(None);
    let result = scm
        .enroll_noting_send(&req, || async {
            let at = w.ctx.now();
            store
                .mark_enroll_started(&job.lease, &e.order_id, at)
                .await?;
            let took = w.ctx.now() - at;
            if took > settle {
                return Err(JobError::SlowSendMark(took.num_milliseconds()));
            }
            *sent_at.lock().expect("not poisoned") = Some(at);
            tracing::info!(order = %e.order_id, attempt = e.enroll_attempts + 1, "sending enroll to SCM");
            Ok(())
        })
        .await?;
    match result {
        Ok(r) => {
            tracing::info!(order = %e.order_id, ssl_id = r.ssl_id, "enrolled in SCM");
            let unrecorded = Unrecorded {
                renew_id: r.renew_id,
            };
            Ok(EnrollStep::Enrolled(r.ssl_id, Some(unrecorded)))
        }
        Err(err) if err.may_have_taken_effect() && err.answered() => {
            // SCM answered (a 5xx): the call is over; what it may have created shows up shortly.
            let answered = w.ctx.now();
            store
                .mark_enroll_answered(&job.lease, &e.order_id, answered)
                .await?;
            let sent = sent_at.lock().expect("not poisoned").unwrap_or(answered);
            let settled = settled_at(w, sent, Some(answered));
            Ok(EnrollStep::NotBefore(
                settled,
                format!(
                    "enroll outcome unknown ({err}); looking for the order's marker in SCM at \
                     {settled}"
                ),
            ))
        }
        Err(err) if err.may_have_taken_effect() => Ok(EnrollStep::Later(format!(
            "enroll outcome unknown ({err}); will look for the order's marker in SCM"
        ))),
        Err(err) => {
            // A definite answer: SCM created nothing.
            store
                .clear_enroll_started(&job.lease, &e.order_id, w.ctx.now())
                .await?;
            match err.class() {
                ErrorClass::Permanent => Ok(EnrollStep::Failed(scm_refusal(&err))),
                ErrorClass::Auth => {
                    tracing::error!(error = %err, "SCM refused the bridge's credentials; check [scm]");
                    Ok(EnrollStep::Later(err.to_string()))
                }
                _ => Ok(EnrollStep::Later(err.to_string())),
            }
        }
    }
}

/// The CN every enroll names explicitly: the CSR's (checked to be one of the order's identifiers)
/// or else the order's first identifier; never left for SCM to pick from the CSR's subject.
fn enrolled_common_name(e: &Enrollment) -> Option<String> {
    e.common_name
        .clone()
        .or_else(|| e.subj_alt_names.first().cloned())
}

/// When an enroll sent at `sent` whose outcome is unknown can no longer create a certificate in
/// SCM, so that not finding its marker means it created nothing: `issuance.enroll_settle_secs`
/// after SCM answered (a 5xx: the call is over), or else after the send plus the client's
/// `scm.timeout_secs` (the call may have been under way until the client gave up) plus the same
/// margin for SCM finishing work it had started (#12 items 2 and 8).
fn settled_at(w: &Worker, sent: DateTime<Utc>, answered: Option<DateTime<Utc>>) -> DateTime<Utc> {
    let margin = Duration::seconds(w.ctx.config.issuance.enroll_settle_secs);
    match answered {
        Some(a) if a >= sent => a + margin,
        _ => {
            let timeout = w.ctx.config.scm.as_ref().map_or(120, |s| s.timeout_secs);
            sent + Duration::seconds(timeout.min(86_400) as i64) + margin
        }
    }
}

/// Looks for a certificate request carrying the order's marker in its comments: every certificate
/// of the org whose CN (or one of its names) is the order's, compared case aside — SCM's own
/// `commonName` filter is exact, and a CN SCM stores in another case would hide the earlier
/// request — newest first, over every page (a busy name has more than one; #12 item 3).
pub(super) async fn find_by_marker(
    scm: &ScmClient,
    e: &Enrollment,
) -> Result<Option<i64>, ScmError> {
    let Some(cn) = enrolled_common_name(e) else {
        return Ok(None);
    };
    let filter = ListFilter {
        org_id: Some(e.org_id),
        ..Default::default()
    };
    let items = scm.list_all(&filter).await?;
    let named = |i: &crate::scm::types::ListItem| {
        i.common_name
            .as_deref()
            .is_some_and(|c| c.eq_ignore_ascii_case(&cn))
            || i.subject_alternative_names
                .iter()
                .any(|n| n.eq_ignore_ascii_case(&cn))
    };
    for item in items.iter().filter(|i| named(i)) {
        let d = scm.details(item.ssl_id).await?;
        if d.comments.as_deref().is_some_and(|c| c.contains(&e.marker)) {
            return Ok(Some(item.ssl_id));
        }
    }
    Ok(None)
}

async fn collect(
    w: &Worker,
    scm: &ScmClient,
    job: &Job,
    e: &Enrollment,
    mut enrolled: Enrolled,
    account_id: &str,
) -> Result<Outcome, JobError> {
    let store = &w.ctx.store;
    let cfg = &w.ctx.config.issuance;
    let ssl_id = enrolled.ssl_id;
    let collected = scm.collect(ssl_id, CollectFormat::X509).await;
    if collected.is_err() {
        enrolled.record(w, job, e).await?;
    }
    match collected {
        Ok(collected) => {
            let chains = collected
                .certificates()
                .map_err(|why| JobError::Chain(ChainError::Unparsable(why.to_string())))
                .and_then(|ders| Ok(build_chains(&ders, &csr_thumbprint(e)?, cfg.include_root)?));
            let chains = match chains {
                Ok(chains) => chains,
                Err(err) => {
                    enrolled.record(w, job, e).await?;
                    return Err(err);
                }
            };
            let chain = chains.default;
            let cert = Certificate {
                id: crate::ids::random_id(),
                order_id: e.order_id.clone(),
                account_id: account_id.to_string(),
                chain_pem: chain.pem,
                serial: chain.serial,
                key_thumbprint: chain.key_thumbprint,
                ssl_id,
                not_after: chain.not_after,
                revoked_at: None,
                revocation_reason: None,
                alternate_chains: chains.alternates,
            };
            match &enrolled.unrecorded {
                Some(u) => {
                    store
                        .complete_first_issuance(
                            &job.lease,
                            &cert,
                            u.renew_id.as_deref(),
                            w.ctx.now(),
                        )
                        .await?
                }
                None => {
                    store
                        .complete_issuance(&job.lease, &cert, w.ctx.now())
                        .await?
                }
            }
            if let Ok(elapsed) = (w.ctx.now() - e.finalized_at).to_std() {
                w.ctx.metrics.observe_issuance(elapsed);
            }
            tracing::info!(order = %e.order_id, ssl_id, serial = %cert.serial, "certificate issued");
            Ok(Outcome::Done)
        }
        Err(err) => match err.class() {
            ErrorClass::Pending | ErrorClass::AwaitingApproval => {
                // Collect says little about declines: ask for the status now and then.
                if e.collect_attempts % 3 == 2 {
                    let d = scm.details(ssl_id).await?;
                    if d.status.is_failed() {
                        // SCM's verdict as it states it: the request's status, and what collect
                        // answered (SCM's code and description).
                        let err = Error::internal_visible(format!(
                            "SCM did not issue the certificate: SCM reports its request (sslId \
                             {ssl_id}) as {}; collect answered: {err}",
                            d.status.as_str()
                        ));
                        return fail(w, job, e, err).await;
                    }
                }
                let wait = if err.class() == ErrorClass::AwaitingApproval {
                    cfg.collect_max_secs
                } else {
                    let exp = e.collect_attempts.clamp(0, 20) as u32;
                    (cfg.collect_initial_secs.max(1) << exp.min(20)).min(cfg.collect_max_secs)
                };
                let at = w.ctx.now() + Duration::seconds(wait);
                store
                    .schedule_collect(&job.lease, &e.order_id, at, &err.to_string(), w.ctx.now())
                    .await?;
                Ok(Outcome::Done)
            }
            ErrorClass::Permanent => fail(w, job, e, scm_refusal(&err)).await,
            ErrorClass::Retryable | ErrorClass::Auth => Ok(Outcome::Retry(err.to_string())),
        },
    }
}

/// SCM's definite refusal as the order's problem, quoting its code and description.
fn scm_refusal(err: &ScmError) -> Error {
    let kind = if err.refuses_names() {
        ProblemType::RejectedIdentifier
    } else if err.refuses_csr() {
        ProblemType::BadCsr
    } else {
        ProblemType::ServerInternal
    };
    Error::new(kind, format!("SCM refused the certificate request: {err}"))
}

fn csr_pem(der: &[u8]) -> String {
    crate::encoding::pem("CERTIFICATE REQUEST", der)
}

/// The thumbprint of the stored CSR's key: how the leaf is found among what SCM returns.
fn csr_thumbprint(e: &Enrollment) -> Result<String, JobError> {
    let corrupt = |why: String| JobError::StoredCsr {
        order: e.order_id.clone(),
        why,
    };
    let (_, csr) =
        X509CertificationRequest::from_der(&e.csr_der).map_err(|x| corrupt(x.to_string()))?;
    let (k, _) = crate::jose::spki::jwk_from_spki(&csr.certification_request_info.subject_pki)
        .map_err(|x| corrupt(x.to_string()))?;
    Ok(k.thumbprint())
}
