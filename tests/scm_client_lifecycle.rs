//! The SCM client against the sandbox after issuance: revoke rules, renew, list paging with
//! `X-Total-Count` and filters (`externalRequester` among them), and `dateFormat`
//! (shared/scm-api.md §6).

mod common_scm;

use acme_sectigo_bridge::sandbox::SandboxConfig;
use acme_sectigo_bridge::scm::types::{ListFilter, RevocationReason};
use acme_sectigo_bridge::scm::{CertStatus, CollectFormat, ScmError};
use common_scm::{client, csr, request, sandbox};
use x509_parser::prelude::FromDer;

fn code(e: &ScmError) -> i64 {
    e.code().unwrap_or_else(|| panic!("no SCM code in {e}"))
}

#[tokio::test]
async fn revoke_rules() {
    let sb = sandbox(SandboxConfig::default());
    let c = client(&sb);
    let (pem, _) = csr("c.example.com");
    let id = c
        .enroll(&request(&pem, &["c.example.com"]))
        .await
        .unwrap()
        .ssl_id;
    // reasonCode is required.
    let e = c
        .post_raw(
            &format!("/ssl/v1/revoke/{id}"),
            &serde_json::json!({"reason": "x"}),
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(400));
    c.revoke(id, RevocationReason::Superseded, "replaced")
        .await
        .unwrap();
    let e = c
        .revoke(id, RevocationReason::Superseded, "again")
        .await
        .unwrap_err();
    assert_eq!((e.status(), code(&e)), (Some(400), -102));
    let d = c.details(id).await.unwrap();
    assert_eq!((d.status, d.reason_code), (CertStatus::Revoked, Some(4)));
    assert_eq!(
        code(&c.collect(id, CollectFormat::X509).await.unwrap_err()),
        -110
    );

    let id = c
        .enroll(&request(&pem, &["c.example.com"]))
        .await
        .unwrap()
        .ssl_id;
    let serial = c.details(id).await.unwrap().serial_number.unwrap();
    assert!(serial.contains(':') && serial == serial.to_uppercase());
    c.revoke_by_serial(
        &serial.replace(':', "").to_lowercase(),
        RevocationReason::KeyCompromise,
        "k",
    )
    .await
    .unwrap();
    assert_eq!(c.details(id).await.unwrap().status, CertStatus::Revoked);
}

#[tokio::test]
async fn renew_creates_a_new_certificate() {
    let sb = sandbox(SandboxConfig::default());
    let c = client(&sb);
    let (pem, _) = csr("d.example.com");
    let id = c
        .enroll(&request(&pem, &["d.example.com"]))
        .await
        .unwrap()
        .ssl_id;
    let new = c.renew_by_id(id, None).await.unwrap().ssl_id;
    assert_ne!(new, id);
    assert_eq!(sb.enrollment_count(), 2);
    let d = c.details(new).await.unwrap();
    assert_eq!(d.subject_alternative_names, ["d.example.com"]);
    let e = c
        .post_raw(&format!("/ssl/v1/renewById/{id}"), &serde_json::json!(""))
        .await;
    assert_eq!(code(&e.unwrap_err()), -1002);
}

#[tokio::test]
async fn an_explicit_common_name_wins_over_the_csrs() {
    let sb = sandbox(SandboxConfig::default());
    let c = client(&sb);
    // The CSR's subject says one name; the enroll names another explicitly.
    let (pem, _) = csr("csr-cn.example.com");
    let mut req = request(&pem, &["explicit.example.com", "csr-cn.example.com"]);
    req.common_name = Some("explicit.example.com".into());
    let id = c.enroll(&req).await.unwrap().ssl_id;
    assert_eq!(
        c.details(id).await.unwrap().common_name.as_deref(),
        Some("explicit.example.com")
    );
    let leaf = c.collect(id, CollectFormat::X509CO).await.unwrap();
    let ders = leaf.certificates().unwrap();
    let (_, cert) = x509_parser::prelude::X509Certificate::from_der(&ders[0]).unwrap();
    let cn: Vec<_> = cert
        .subject()
        .iter_common_name()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(cn, ["explicit.example.com"]);
    // Without commonName the CSR's CN is used, as before.
    let id = c
        .enroll(&request(&pem, &["csr-cn.example.com"]))
        .await
        .unwrap()
        .ssl_id;
    assert_eq!(
        c.details(id).await.unwrap().common_name.as_deref(),
        Some("csr-cn.example.com")
    );
}

#[tokio::test]
async fn list_paging_filters_and_count() {
    let sb = sandbox(SandboxConfig::default());
    let c = client(&sb);
    let (pem, _) = csr("page.example.com");
    for i in 0..5 {
        let mut r = request(&pem, &["page.example.com"]);
        r.comments = Some(format!("order-{i}"));
        c.enroll(&r).await.unwrap();
    }
    let (other, _) = csr("other.example.com");
    c.enroll(&request(&other, &["other.example.com"]))
        .await
        .unwrap();
    let filter = ListFilter {
        common_name: Some("page.example.com".into()),
        size: Some(2),
        ..Default::default()
    };
    let mut seen = Vec::new();
    let mut position = 0;
    loop {
        let page = c
            .list(&ListFilter {
                position: Some(position),
                ..filter.clone()
            })
            .await
            .unwrap();
        assert_eq!(page.total, Some(5));
        if page.items.is_empty() {
            break;
        }
        position += page.items.len() as u64;
        seen.extend(page.items);
    }
    assert_eq!(seen.len(), 5);
    assert_eq!(c.count(&filter).await.unwrap(), 5);
    assert_eq!(c.count(&ListFilter::default()).await.unwrap(), 6);
    // The reconciliation path: find by name, then match the marker in details.
    let by_san = c
        .list(&ListFilter {
            subject_alternative_name: Some("page.example.com".into()),
            size: Some(200),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut markers = Vec::new();
    for item in by_san.items {
        markers.push(c.details(item.ssl_id).await.unwrap().comments.unwrap());
    }
    assert!(markers.contains(&"order-3".to_string()));
}

#[tokio::test]
async fn date_format_query() {
    let sb = sandbox(SandboxConfig::default());
    let c = client(&sb);
    let (pem, _) = csr("e.example.com");
    let id = c
        .enroll(&request(&pem, &["e.example.com"]))
        .await
        .unwrap()
        .ssl_id;
    let get = |q: &'static str| {
        let url = format!("{}/ssl/v1/{id}{q}", sb.base_url());
        async move {
            let v: serde_json::Value = reqwest::Client::new()
                .get(url)
                .header("customerUri", "demo")
                .header("login", "demo")
                .header("password", "demo")
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v["issued"].as_str().unwrap().to_string()
        }
    };
    let us = get("").await;
    let iso = get("?dateFormat=ISO").await;
    assert_eq!(&us[2..3], "/", "{us}");
    assert_eq!(&iso[4..5], "-", "{iso}");
    // The client reads both.
    assert!(c.details(id).await.unwrap().issued.is_some());
}

#[tokio::test]
async fn external_requester_is_kept_and_filters_the_list() {
    let sb = sandbox(SandboxConfig::default());
    let c = client(&sb);
    let (pem, _) = csr("req.example.com");
    let enroll = |who: Option<&str>| {
        let mut r = request(&pem, &["req.example.com"]);
        r.external_requester = who.map(str::to_string);
        let c = c.clone();
        async move { c.enroll(&r).await.unwrap().ssl_id }
    };
    let both = enroll(Some("ops@example.com,pki@example.com")).await;
    let nobody = enroll(None).await;
    let other = enroll(Some("other@example.org")).await;

    assert_eq!(
        c.details(both).await.unwrap().external_requester.as_deref(),
        Some("ops@example.com,pki@example.com")
    );
    assert_eq!(c.details(nobody).await.unwrap().external_requester, None);
    let by = |who: &str| {
        let f = ListFilter {
            external_requester: Some(who.into()),
            ..Default::default()
        };
        let c = c.clone();
        async move {
            let ids: Vec<i64> = c
                .list(&f)
                .await
                .unwrap()
                .items
                .iter()
                .map(|i| i.ssl_id)
                .collect();
            assert_eq!(c.count(&f).await.unwrap(), ids.len() as u64);
            ids
        }
    };
    assert_eq!(by("pki@example.com").await, [both]);
    assert_eq!(by("OPS@example.com").await, [both]);
    assert_eq!(by("ops@example.com,pki@example.com").await, [both]);
    assert_eq!(by("other@example.org").await, [other]);
    assert!(by("nobody@example.com").await.is_empty());
    // A renewal keeps the requester.
    let renewed = c.renew_by_id(other, None).await.unwrap().ssl_id;
    assert_eq!(by("other@example.org").await, [other, renewed]);
}
