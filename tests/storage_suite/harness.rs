//! A fresh, migrated store on either backend, and a way to open it again as a restart would.

use crate::db::TestDb;
use acme_sectigo_bridge::config::DatabaseConfig;
use acme_sectigo_bridge::secret::Secret;
use acme_sectigo_bridge::store::Store;
use sqlx::Connection;

/// What keeps a test's database alive until the test ends.
enum Guard {
    Postgres(#[allow(dead_code)] TestDb),
    Sqlite(std::path::PathBuf),
}

/// A migrated store of one backend, private to one test.
pub struct TestStore {
    pub store: Store,
    url: String,
    /// PostgreSQL with the transaction spelling of the one-statement hot paths.
    transaction_spelling: bool,
    _guard: Guard,
}

impl TestStore {
    /// A new PostgreSQL database on the test server.
    pub async fn postgres() -> Self {
        let db = TestDb::create().await;
        let url = db.url.clone();
        Self::open_new(url, Guard::Postgres(db)).await
    }

    /// A new PostgreSQL database, the store using the transaction spelling SQLite uses for the
    /// paths PostgreSQL normally runs as one statement (`Store::with_transaction_spelling`).
    pub async fn postgres_with_transactions() -> Self {
        let db = TestDb::create().await;
        let url = db.url.clone();
        let mut t = Self::open_new(url, Guard::Postgres(db)).await;
        t.transaction_spelling = true;
        t.store = t.store.with_transaction_spelling();
        t
    }

    /// A new SQLite file in a directory that does not exist yet (the store creates it).
    pub async fn sqlite() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "bridge-storage-{}",
            acme_sectigo_bridge::ids::random_b64(9).replace(['-', '_'], "x")
        ));
        let url = acme_sectigo_bridge::store::default_sqlite_url(&dir.join("nested"));
        Self::open_new(url, Guard::Sqlite(dir)).await
    }

    async fn open_new(url: String, guard: Guard) -> Self {
        let store = open(&url).await;
        Self {
            store,
            url,
            transaction_spelling: false,
            _guard: guard,
        }
    }

    /// Another store on the same database, as a restarted process would open it.
    pub async fn reopen(&self) -> Store {
        let store = open(&self.url).await;
        if self.transaction_spelling {
            store.with_transaction_spelling()
        } else {
            store
        }
    }

    /// The `hmac_key` and `hmac_key_format` columns of an EAB key, read past the store.
    pub async fn raw_hmac_key(&self, kid: &str) -> (Vec<u8>, String) {
        let sql = "SELECT hmac_key, hmac_key_format FROM eab_keys WHERE kid = $1";
        match &self._guard {
            Guard::Postgres(_) => {
                let mut c = sqlx::PgConnection::connect(&self.url).await.unwrap();
                sqlx::query_as(sql)
                    .bind(kid)
                    .fetch_one(&mut c)
                    .await
                    .unwrap()
            }
            Guard::Sqlite(_) => {
                let mut c = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
                sqlx::query_as(sql)
                    .bind(kid)
                    .fetch_one(&mut c)
                    .await
                    .unwrap()
            }
        }
    }

    /// Overwrites the stored `hmac_key` of an EAB key, as someone with database access could.
    pub async fn set_raw_hmac_key(&self, kid: &str, stored: &[u8]) {
        let sql = "UPDATE eab_keys SET hmac_key = $2 WHERE kid = $1";
        match &self._guard {
            Guard::Postgres(_) => {
                let mut c = sqlx::PgConnection::connect(&self.url).await.unwrap();
                sqlx::query(sql)
                    .bind(kid)
                    .bind(stored)
                    .execute(&mut c)
                    .await
                    .unwrap();
            }
            Guard::Sqlite(_) => {
                let mut c = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
                sqlx::query(sql)
                    .bind(kid)
                    .bind(stored)
                    .execute(&mut c)
                    .await
                    .unwrap();
            }
        }
    }

    /// Moves an order's `updated_at` and `expires_at` (e.g. into the past, as time passing would),
    /// past the store.
    pub async fn set_order_times(
        &self,
        order_id: &str,
        updated_at: chrono::DateTime<chrono::Utc>,
        expires_at: chrono::DateTime<chrono::Utc>,
    ) {
        let sql = "UPDATE orders SET updated_at = $2, expires_at = $3 WHERE id = $1";
        let done = match &self._guard {
            Guard::Postgres(_) => {
                let mut c = sqlx::PgConnection::connect(&self.url).await.unwrap();
                sqlx::query(sql)
                    .bind(order_id)
                    .bind(updated_at)
                    .bind(expires_at)
                    .execute(&mut c)
                    .await
                    .unwrap()
                    .rows_affected()
            }
            Guard::Sqlite(_) => {
                let mut c = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
                sqlx::query(sql)
                    .bind(order_id)
                    .bind(updated_at)
                    .bind(expires_at)
                    .execute(&mut c)
                    .await
                    .unwrap()
                    .rows_affected()
            }
        };
        assert_eq!(done, 1, "order {order_id} exists");
    }

    /// Whether this store is on PostgreSQL (some raw statements need its spelling).
    pub fn is_postgres(&self) -> bool {
        matches!(self._guard, Guard::Postgres(_))
    }

    /// Runs one statement past the store, as someone with database access could; the error is
    /// the database's (a trigger's refusal, say).
    pub async fn raw_execute(&self, sql: &str) -> Result<u64, sqlx::Error> {
        match &self._guard {
            Guard::Postgres(_) => {
                let mut c = sqlx::PgConnection::connect(&self.url).await?;
                Ok(sqlx::raw_sql(sql).execute(&mut c).await?.rows_affected())
            }
            Guard::Sqlite(_) => {
                let mut c = sqlx::SqliteConnection::connect(&self.url).await?;
                Ok(sqlx::raw_sql(sql).execute(&mut c).await?.rows_affected())
            }
        }
    }

    /// The database's plan for `sql` as text (PostgreSQL with sequential scans discouraged, so
    /// an index is used whenever one exists, however small the table).
    pub async fn query_plan(&self, sql: &str) -> String {
        use sqlx::Row;
        match &self._guard {
            Guard::Postgres(_) => {
                let mut c = sqlx::PgConnection::connect(&self.url).await.unwrap();
                sqlx::raw_sql("SET enable_seqscan = off")
                    .execute(&mut c)
                    .await
                    .unwrap();
                let rows = sqlx::query(&format!("EXPLAIN {sql}"))
                    .fetch_all(&mut c)
                    .await
                    .unwrap();
                rows.iter()
                    .map(|r| r.get::<String, _>(0))
                    .collect::<Vec<_>>()
                    .join("\n")
            }
            Guard::Sqlite(_) => {
                let mut c = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
                let rows = sqlx::query(&format!("EXPLAIN QUERY PLAN {sql}"))
                    .fetch_all(&mut c)
                    .await
                    .unwrap();
                rows.iter()
                    .map(|r| r.get::<String, _>(3))
                    .collect::<Vec<_>>()
                    .join("\n")
            }
        }
    }

    /// Makes every statement of `op` (`INSERT`, `DELETE`, …) on `table` fail where `condition`
    /// (SQL over `NEW`/`OLD`) holds: a way to break a transaction half-way through.
    pub async fn fail_on(&self, table: &str, op: &str, row: &str, condition: &str) {
        let name = format!("test_fail_{}_{}", table, op.to_ascii_lowercase());
        let sql = if self.is_postgres() {
            format!(
                "CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
                   IF {condition} THEN RAISE EXCEPTION 'broken by the test'; END IF; \
                   RETURN {row}; END $$; \
                 CREATE TRIGGER {name} BEFORE {op} ON {table} FOR EACH ROW \
                   EXECUTE FUNCTION {name}();"
            )
        } else {
            format!(
                "CREATE TRIGGER {name} BEFORE {op} ON {table} FOR EACH ROW WHEN {condition} \
                 BEGIN SELECT RAISE(ABORT, 'broken by the test'); END;"
            )
        };
        self.raw_execute(&sql)
            .await
            .expect("create the breaking trigger");
    }

    /// Another store on the same database with a pool of `max_connections`.
    pub async fn reopen_with_pool(&self, max_connections: u32) -> Store {
        open_with(&self.url, max_connections).await
    }
}

async fn open(url: &str) -> Store {
    open_with(url, 8).await
}

async fn open_with(url: &str, max_connections: u32) -> Store {
    let cfg = DatabaseConfig {
        url: Some(Secret::new(url)),
        max_connections,
        acquire_timeout_secs: 5,
        ..DatabaseConfig::default()
    };
    let store = Store::connect(&cfg).await.expect("connect");
    store.migrate().await.expect("migrate");
    store
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Guard::Sqlite(dir) = self {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
