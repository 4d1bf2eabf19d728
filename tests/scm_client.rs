//! The SCM client against the sandbox over real HTTP: authentication, discovery, enroll refusals
//! in SCM's order, and the status machine with each pending code and approval (shared/scm-api.md
//! §6); tests/scm_client_lifecycle.rs covers what follows issuance.

mod support;

use acme_sectigo_bridge::sandbox::config::DomainConfig;
use acme_sectigo_bridge::sandbox::{Behavior, Issuance, SandboxConfig};
use acme_sectigo_bridge::scm::{CertStatus, CollectFormat, ErrorClass, ScmClient, ScmError};
use support::scm::{client, csr, request, sandbox};

fn code(e: &ScmError) -> i64 {
    e.code().unwrap_or_else(|| panic!("no SCM code in {e}"))
}

#[tokio::test]
async fn wrong_credentials_are_auth_errors() {
    let sb = sandbox(SandboxConfig::default());
    let mut cfg = sb.scm_config();
    cfg.password = Some(acme_sectigo_bridge::secret::Secret::new("wrong"));
    let e = ScmClient::new(&cfg)
        .unwrap()
        .organizations()
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(401));
    assert_eq!(e.class(), ErrorClass::Auth);
    cfg.customer_uri = "other".into();
    let e = ScmClient::new(&cfg)
        .unwrap()
        .organizations()
        .await
        .unwrap_err();
    assert_eq!((e.status(), code(&e)), (Some(401), -16));
    assert!(e.to_string().contains("-16"), "{e}");
    assert!(!format!("{cfg:?}").contains("wrong"));
}

#[tokio::test]
async fn discovery_calls() {
    let sb = sandbox(SandboxConfig::default());
    let c = client(&sb);
    let orgs = c.organizations().await.unwrap();
    assert_eq!(orgs[0].departments[0].id, 1002);
    assert_eq!(
        c.organization(1001).await.unwrap().ssl_certs_api_enabled,
        Some(true)
    );
    assert_eq!(
        c.organization(1003).await.unwrap().ssl_certs_api_enabled,
        Some(false)
    );
    let types = c.ssl_types(Some(1002)).await.unwrap();
    assert!(types.iter().any(|t| t.id == 503 && t.terms.contains(&90)));
    assert_eq!(c.custom_fields().await.unwrap()[0].name, "Cost Center");
    let domains = c.domains(&Default::default()).await.unwrap();
    assert_eq!(domains.total, Some(3));
    let d = c.domain(domains.items[0].id).await.unwrap();
    assert_eq!(d.validation_status.as_deref(), Some("VALIDATED"));
    assert_eq!(
        c.dcv_status("example.com").await.unwrap().status,
        "VALIDATED"
    );
}

#[tokio::test]
async fn enroll_refusals_in_scm_order() {
    let mut cfg = SandboxConfig {
        allow_any_domain: false,
        ..Default::default()
    };
    cfg.domains = vec![
        DomainConfig {
            id: 1,
            name: "ok.example".into(),
            validated: true,
            dcv_expiration: None,
            delegated_to: vec![1001],
            subdomains: true,
        },
        DomainConfig {
            id: 2,
            name: "unvalidated.example".into(),
            validated: false,
            dcv_expiration: None,
            delegated_to: vec![],
            subdomains: true,
        },
        DomainConfig {
            id: 3,
            name: "elsewhere.example".into(),
            validated: true,
            dcv_expiration: None,
            delegated_to: vec![1003],
            subdomains: true,
        },
    ];
    cfg.custom_fields[0].mandatory = true;
    let sb = sandbox(cfg);
    let c = client(&sb);
    let (pem, _) = csr("www.ok.example");
    let mut req = request(&pem, &["www.ok.example"]);
    req.custom_fields = vec![acme_sectigo_bridge::scm::types::CustomFieldValue {
        name: "Cost Center".into(),
        value: "42".into(),
    }];

    // An array subjAltNames is a parse error (-1002), like on SCM.
    let mut wire = req.to_wire();
    wire["subjAltNames"] = serde_json::json!(["www.ok.example"]);
    let e = c.post_raw("/ssl/v1/enroll", &wire).await.unwrap_err();
    assert_eq!((e.status(), code(&e)), (Some(400), -1002));
    assert!(!e.may_have_taken_effect());

    let e = c
        .enroll(&{
            let mut r = req.clone();
            r.org_id = 999;
            r
        })
        .await
        .unwrap_err();
    assert_eq!(code(&e), -1023);
    let e = c
        .enroll(&{
            let mut r = req.clone();
            r.org_id = 1003;
            r
        })
        .await
        .unwrap_err();
    assert_eq!(code(&e), -1021);
    assert_eq!(e.class(), ErrorClass::Permanent);
    let e = c
        .enroll(&{
            let mut r = req.clone();
            r.cert_type = 9;
            r
        })
        .await
        .unwrap_err();
    assert_eq!(code(&e), -39);
    let e = c
        .enroll(&{
            let mut r = req.clone();
            r.term = 91;
            r
        })
        .await
        .unwrap_err();
    assert_eq!(code(&e), -36);
    assert!(!e.may_have_taken_effect());
    let e = c
        .enroll(&{
            let mut r = req.clone();
            r.csr = "garbage".into();
            r
        })
        .await
        .unwrap_err();
    assert_eq!(code(&e), -9);
    let e = c
        .enroll(&{
            let mut r = req.clone();
            r.custom_fields.clear();
            r
        })
        .await
        .unwrap_err();
    assert_eq!(code(&e), -62);
    for bad in [
        "www.unvalidated.example",
        "www.elsewhere.example",
        "nowhere.example",
    ] {
        let e = c
            .enroll(&{
                let mut r = req.clone();
                r.subj_alt_names.push(bad.into());
                r
            })
            .await
            .unwrap_err();
        assert_eq!(code(&e), -107, "{bad}");
        assert!(e.description().contains(bad), "{e}");
    }
    assert_eq!(sb.enrollment_count(), 0);
    // Department 1002 inherits its organization's delegation.
    assert!(c.enroll(&req).await.is_ok());
    assert_eq!(sb.enrollment_count(), 1);
}

async fn collect_until_issued(c: &ScmClient, id: i64, expected_code: i64, polls: u32) {
    for _ in 1..polls {
        let e = c.collect(id, CollectFormat::X509CO).await.unwrap_err();
        assert_eq!(code(&e), expected_code);
        assert_eq!(e.class(), ErrorClass::Pending);
        assert!(e.is_pending());
    }
    c.collect(id, CollectFormat::X509CO).await.expect("issued");
}

#[tokio::test]
async fn pending_codes_then_issued() {
    let sb = sandbox(SandboxConfig::default());
    let c = client(&sb);
    let (pem, _) = csr("a.example.com");
    for pending in [0, -183, -1400, -109] {
        sb.set_behavior(Behavior {
            issuance: Some(Issuance::AfterPolls(3)),
            pending_code: Some(pending),
            ..Default::default()
        });
        let id = c
            .enroll(&request(&pem, &["a.example.com"]))
            .await
            .unwrap()
            .ssl_id;
        assert!(id > i32::MAX as i64);
        assert_eq!(c.details(id).await.unwrap().status, CertStatus::Applied);
        collect_until_issued(&c, id, pending, 3).await;
        let d = c.details(id).await.unwrap();
        assert_eq!(d.status, CertStatus::Issued);
        assert!(d.serial_number.is_some() && d.expires.is_some());
    }
    // Time-based issuance.
    sb.set_behavior(Behavior {
        issuance: Some(Issuance::AfterMillis(300)),
        pending_code: Some(0),
        ..Default::default()
    });
    let id = c
        .enroll(&request(&pem, &["a.example.com"]))
        .await
        .unwrap()
        .ssl_id;
    assert_eq!(
        code(&c.collect(id, CollectFormat::X509).await.unwrap_err()),
        0
    );
    tokio::time::sleep(std::time::Duration::from_millis(350)).await;
    c.collect(id, CollectFormat::X509).await.unwrap();
}

#[tokio::test]
async fn approval_and_decline() {
    let sb = sandbox(SandboxConfig::default());
    let c = client(&sb);
    sb.set_behavior(Behavior {
        org_id: Some(1001),
        requires_approval: Some(true),
        ..Default::default()
    });
    let (pem, _) = csr("b.example.com");
    // 1002 is a department of 1001 and inherits the override.
    let id = c
        .enroll(&request(&pem, &["b.example.com"]))
        .await
        .unwrap()
        .ssl_id;
    let e = c.collect(id, CollectFormat::X509).await.unwrap_err();
    assert_eq!((code(&e), e.class()), (-23, ErrorClass::AwaitingApproval));
    assert_eq!(c.details(id).await.unwrap().status, CertStatus::Requested);
    c.approve(id, "ok").await.unwrap();
    let e = c.approve(id, "again").await.unwrap_err();
    assert_eq!(code(&e), -1112);
    c.collect(id, CollectFormat::X509).await.unwrap();
    let d = c.details(id).await.unwrap();
    assert!(d.approved.is_some() && d.status == CertStatus::Issued);

    let id = c
        .enroll(&request(&pem, &["b.example.com"]))
        .await
        .unwrap()
        .ssl_id;
    c.decline(id, "no").await.unwrap();
    let d = c.details(id).await.unwrap();
    assert!(d.status.is_failed());
    assert!(c.collect(id, CollectFormat::X509).await.is_err());
}

/// #12 item 3: `list_all` reads every page (200 rows each) of a busy name, newest first — one page
/// alone would miss the newest requests, which the sandbox, like SCM, does not list first.
#[tokio::test]
async fn list_all_reads_every_page_newest_first() {
    let sb = sandbox(SandboxConfig::default());
    let c = client(&sb);
    let (pem, _) = csr("busy.example.com");
    let mut enrolled = Vec::new();
    for _ in 0..410 {
        let mut req = request(&pem, &["busy.example.com"]);
        req.common_name = Some("busy.example.com".into());
        enrolled.push(c.enroll(&req).await.unwrap().ssl_id);
    }
    let filter = acme_sectigo_bridge::scm::types::ListFilter {
        common_name: Some("busy.example.com".into()),
        ..Default::default()
    };
    let first_page = c
        .list(&acme_sectigo_bridge::scm::types::ListFilter {
            size: Some(200),
            ..filter.clone()
        })
        .await
        .unwrap();
    assert_eq!(first_page.items.len(), 200);
    assert!(
        !first_page
            .items
            .iter()
            .any(|i| i.ssl_id == *enrolled.last().unwrap()),
        "the newest request is not on SCM's first page"
    );
    let all = c.list_all(&filter).await.unwrap();
    let ids: Vec<i64> = all.iter().map(|i| i.ssl_id).collect();
    enrolled.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(ids, enrolled, "every request, newest first");
}
