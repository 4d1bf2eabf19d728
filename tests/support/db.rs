//! A fresh PostgreSQL database per test, on a real server: `DATABASE_URL` (any database on the
//! server; we create siblings), else the local server at 127.0.0.1:5432.

use sqlx::{Connection, PgConnection};

/// Where to create test databases.
pub fn admin_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

/// A connection to the server's admin database.
pub async fn admin_connection() -> PgConnection {
    let admin = admin_url();
    PgConnection::connect(&admin)
        .await
        .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {admin}: {e}"))
}

/// A database that exists for one test and is dropped afterwards.
pub struct TestDb {
    pub name: String,
    pub url: String,
    /// Whether dropping this handle drops the database (false for [`TestDb::shared`] handles).
    owner: bool,
}

impl TestDb {
    pub async fn create() -> Self {
        let admin = admin_url();
        let name = format!(
            "bridge_test_{}",
            acme_sectigo_bridge::ids::random_b64(9)
                .to_ascii_lowercase()
                .replace(['-', '_'], "x")
        );
        let mut conn = PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {admin}: {e}"));
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create test database");
        let mut url = url::Url::parse(&admin).expect("DATABASE_URL is a URL");
        url.set_path(&format!("/{name}"));
        Self {
            name,
            url: url.to_string(),
            owner: true,
        }
    }

    /// A database someone else created and removes (e.g. on a throwaway cluster that goes with
    /// its directory): dropping this handle leaves it alone.
    pub fn external(name: String, url: String) -> Self {
        Self {
            name,
            url,
            owner: false,
        }
    }

    /// Another handle on the same database that leaves it in place when dropped, for a second
    /// replica of a test: the first handle still drops the database at the end of the test.
    pub fn shared(&self) -> Self {
        Self {
            name: self.name.clone(),
            url: self.url.clone(),
            owner: false,
        }
    }

    /// A direct connection for assertions about what was (not) stored.
    pub async fn connect(&self) -> PgConnection {
        PgConnection::connect(&self.url).await.expect("connect")
    }

    /// Number of rows in `table`.
    pub async fn count(&self, table: &str) -> i64 {
        let mut c = self.connect().await;
        sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&mut c)
            .await
            .expect("count")
    }

    /// Jobs still to do, besides the recurring retention job (which is always there while
    /// retention is on): what tests mean by "the work is finished".
    pub async fn pending_work(&self) -> i64 {
        let mut c = self.connect().await;
        sqlx::query_scalar("SELECT count(*) FROM jobs WHERE kind <> 'retention'")
            .fetch_one(&mut c)
            .await
            .expect("count")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if !self.owner {
            return;
        }
        let admin = admin_url();
        let name = self.name.clone();
        // Drop runs outside async context; use a private runtime on a thread.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                if let Ok(mut c) = PgConnection::connect(&admin).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut c)
                        .await;
                }
            });
        })
        .join();
    }
}
