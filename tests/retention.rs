//! The retention job in a running bridge: one job row however many replicas start, run by a
//! worker when due, purging an old order and counting what it purged in the metrics.

mod support;

use serde_json::json;
use sqlx::{Connection, PgConnection};
use std::time::{Duration, Instant};
use support::app::TestApp;
use support::client::Client;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_retention_job_purges_old_orders_and_counts_them() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = TestApp::spawn_with(move |c| {
        c.server.metrics_listen = Some(format!("127.0.0.1:{port}").parse().unwrap());
        c.issuance.poll_interval_ms = 50;
    })
    .await;
    let replica = app.replica(|c| c.issuance.poll_interval_ms = 50).await;
    let mut db = PgConnection::connect(&app.db.url).await.unwrap();
    let jobs: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE kind = 'retention'")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(jobs, 1, "one retention job for all replicas");
    // From here on one replica runs, so its metrics see the purge.
    replica.stop().await;

    let (kid, hmac) = app.eab_key(false).await;
    let mut c = Client::new(&app);
    c.register(Some((&kid, &hmac))).await;
    let old = c
        .post(
            &app.url("/acme/new-order"),
            Some(&json!({"identifiers": [{"type": "dns", "value": "old.example.test"}]})),
        )
        .await;
    let recent = c
        .post(
            &app.url("/acme/new-order"),
            Some(&json!({"identifiers": [{"type": "dns", "value": "new.example.test"}]})),
        )
        .await;
    let id = |r: &support::client::Reply| {
        r.location()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_string()
    };
    let (old_id, recent_id) = (id(&old), id(&recent));
    // The old order expired 100 days ago; the job is made due now (it runs hourly).
    let long_ago = chrono::Utc::now() - chrono::Duration::days(100);
    sqlx::query("UPDATE orders SET expires_at = $2, updated_at = $2 WHERE id = $1")
        .bind(&old_id)
        .bind(long_ago)
        .execute(&mut db)
        .await
        .unwrap();
    sqlx::query("UPDATE jobs SET run_at = $1 WHERE kind = 'retention'")
        .bind(chrono::Utc::now())
        .execute(&mut db)
        .await
        .unwrap();

    let deadline = Instant::now() + Duration::from_secs(20);
    while app.store.order(&old_id).await.unwrap().is_some() {
        assert!(Instant::now() < deadline, "the old order was not purged");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(app.store.order(&recent_id).await.unwrap().is_some());
    // Rescheduled, not deleted: it runs again in an hour.
    let next: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT run_at FROM jobs WHERE kind = 'retention'")
            .fetch_one(&mut db)
            .await
            .unwrap();
    assert!(next > chrono::Utc::now() + chrono::Duration::minutes(30));

    let text = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for (table, n) in [("orders", 1), ("authorizations", 1), ("challenges", 3)] {
        assert!(
            text.contains(&format!(
                "retention_purged_rows_total{{table=\"{table}\"}} {n}"
            )),
            "{table}: {text}"
        );
    }
}
