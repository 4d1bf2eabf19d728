//! One complete ACME order as the load generator runs it: newOrder, the authorizations (answering
//! a challenge when asked), finalize with a fresh CSR, polling, download and the chain's checks,
//! each step timed.

use crate::acme::{b64, Account, Client, Fail};
use crate::cert::{check_chain, csr};
use crate::challenge::{self, Http01, PollPace};
use crate::stats::{ms, Samples};
use serde_json::{json, Value};
use std::time::Instant;

/// How orders answer challenges and poll.
pub struct Mode {
    pub answer: bool,
    pub http01: Option<Http01>,
    pub pace: PollPace,
}

/// The `status` member of an ACME resource.
fn status(v: &Value) -> &str {
    v["status"].as_str().unwrap_or("?")
}

/// One complete order; successful steps are recorded in `s` as they finish.
pub async fn one_order(
    c: &Client,
    acct: &Account,
    names: &[String],
    mode: &Mode,
    s: &mut Samples,
) -> Result<(), Fail> {
    let t0 = Instant::now();

    // newOrder
    let ids: Vec<Value> = names
        .iter()
        .map(|n| json!({"type": "dns", "value": n}))
        .collect();
    let t = Instant::now();
    let r = c
        .post(
            "newOrder",
            acct,
            &c.new_order,
            Some(&json!({"identifiers": ids})),
            None,
        )
        .await?;
    if r.status != 201 {
        return Err(r.fail("newOrder"));
    }
    s.new_order.push(ms(t));
    let order_url = r
        .location
        .clone()
        .ok_or_else(|| Fail::new("newOrder: no Location", ""))?;
    let mut order = r.json();

    // authorizations
    let t = Instant::now();
    let authzs: Vec<String> = order["authorizations"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|u| u.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if authzs.len() != names.len() {
        return Err(Fail::new(
            "newOrder: authorizations",
            format!("{} for {} names", authzs.len(), names.len()),
        ));
    }
    for a in &authzs {
        let r = c.post("authz", acct, a, None, None).await?;
        if r.status != 200 {
            return Err(r.fail("authz"));
        }
        let body = r.json();
        match status(&body) {
            "valid" => {}
            "pending" if mode.answer => {
                let tc = Instant::now();
                let done =
                    challenge::answer(c, acct, a, &body, mode.http01.as_ref(), mode.pace).await?;
                s.challenge.push(ms(tc));
                s.challenges_answered += 1;
                s.authz_polls += done.polls;
            }
            "pending" => return Err(Fail::new("challenge-needed", a.clone())),
            other => return Err(Fail::new(format!("authz: status {other}"), a.clone())),
        }
    }
    s.authz.push(ms(t));
    if status(&order) == "pending" {
        // All authorizations are valid; the order is ready once re-read.
        let r = c.post("order", acct, &order_url, None, None).await?;
        if r.status != 200 {
            return Err(r.fail("order"));
        }
        order = r.json();
    }
    if status(&order) != "ready" {
        return Err(Fail::new(
            format!("order: status {} before finalize", status(&order)),
            order_url,
        ));
    }

    // finalize
    let finalize = order["finalize"]
        .as_str()
        .ok_or_else(|| Fail::new("order: no finalize URL", order_url.clone()))?
        .to_string();
    let csr = csr(names)?;
    let t = Instant::now();
    let r = c
        .post(
            "finalize",
            acct,
            &finalize,
            Some(&json!({"csr": b64(&csr)})),
            None,
        )
        .await?;
    if r.status != 200 {
        return Err(r.fail("finalize"));
    }
    s.finalize.push(ms(t));

    // poll while processing
    let t = Instant::now();
    let mut order = r.json();
    let mut retry_after = r.retry_after;
    let mut polls = 0;
    loop {
        match status(&order) {
            "valid" => break,
            "processing" if polls < mode.pace.max_polls => {
                tokio::time::sleep(mode.pace.wait(retry_after, polls)).await;
                let r = c.post("poll", acct, &order_url, None, None).await?;
                if r.status != 200 {
                    return Err(r.fail("poll"));
                }
                polls += 1;
                s.polls += 1;
                retry_after = r.retry_after;
                order = r.json();
            }
            "processing" => return Err(Fail::new("poll: still processing", order_url)),
            other => {
                let problem = order["error"]["type"]
                    .as_str()
                    .unwrap_or("-")
                    .trim_start_matches("urn:ietf:params:acme:error:")
                    .to_string();
                return Err(Fail::new(
                    format!("order: status {other} {problem}"),
                    order["error"].to_string(),
                ));
            }
        }
    }
    s.poll.push(ms(t));

    // download and check
    let cert_url = order["certificate"]
        .as_str()
        .ok_or_else(|| Fail::new("order: valid without certificate", order_url.clone()))?
        .to_string();
    let t = Instant::now();
    let r = c
        .post(
            "download",
            acct,
            &cert_url,
            None,
            Some("application/pem-certificate-chain"),
        )
        .await?;
    if r.status != 200 {
        return Err(r.fail("download"));
    }
    s.download.push(ms(t));
    check_chain(&r.body, names)?;
    s.order.push(ms(t0));
    Ok(())
}
