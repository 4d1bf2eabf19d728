//! PostgreSQL connections, pooled without a round-trip on every release.
//!
//! sqlx's pool pings a connection each time it goes back to the pool (a `Sync` and the wait for
//! `ReadyForQuery`): for the one-statement uses that make up most of the store, that doubled the
//! round-trips to PostgreSQL and cost both processes a context switch per statement (measured by the
//! benchmark: about a tenth of the bridge's CPU). This pool returns a connection as it is when the
//! last use ended cleanly, and throws it away when it might not have: a statement interrupted
//! mid-flight (its future dropped), an I/O or protocol error, or a transaction that could not be
//! rolled back. A connection that sat idle for a while is checked before use instead (a server
//! restart or a firewall may have cut it), which costs nothing under load; and when a connection
//! turns out broken, the idle ones are dropped too (a restart cut them all) and a read that failed
//! on a cut connection is run again on a new one, within a bounded budget (see `store::outage`).

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Idle longer than this, a connection is pinged before it is handed out.
const CHECK_AFTER_IDLE: Duration = Duration::from_secs(30);
use super::outage::{Budget, RETRY_BUDGET};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Up to `max` connections, opened on demand and reused.
#[derive(Clone)]
pub struct PgPool {
    inner: Arc<Inner>,
}

struct Inner {
    opts: PgConnectOptions,
    /// Connections not in use, with when their last use ended.
    idle: Mutex<Vec<(PgConnection, Instant)>>,
    permits: Arc<Semaphore>,
    acquire_timeout: Duration,
    closed: AtomicBool,
    /// When connecting first failed in the current outage; `None` while connections succeed.
    down_since: Mutex<Option<Instant>>,
}

impl PgPool {
    /// Opens one connection at once, so a wrong URL or an unreachable server fails start-up.
    pub async fn connect(
        opts: PgConnectOptions,
        max: u32,
        acquire_timeout: Duration,
    ) -> Result<Self, sqlx::Error> {
        let first = opts.connect().await?;
        Ok(Self {
            inner: Arc::new(Inner {
                opts,
                idle: Mutex::new(vec![(first, Instant::now())]),
                permits: Arc::new(Semaphore::new(max.max(1) as usize)),
                acquire_timeout,
                closed: AtomicBool::new(false),
                down_since: Mutex::new(None),
            }),
        })
    }

    /// What LISTEN connections and migrations connect with.
    pub fn options(&self) -> &PgConnectOptions {
        &self.inner.opts
    }

    /// A connection for exclusive use until the guard is dropped.
    pub async fn acquire(&self) -> Result<PgConn, sqlx::Error> {
        let permit = tokio::time::timeout(
            self.inner.acquire_timeout,
            self.inner.permits.clone().acquire_owned(),
        )
        .await
        .map_err(|_| sqlx::Error::PoolTimedOut)?
        .map_err(|_| sqlx::Error::PoolClosed)?;
        let mut conn = None;
        loop {
            let idle = self.inner.lock_idle().pop();
            match idle {
                Some((mut c, since)) if since.elapsed() > CHECK_AFTER_IDLE => {
                    if c.ping().await.is_ok() {
                        conn = Some(c);
                        break;
                    }
                }
                Some((c, _)) => {
                    conn = Some(c);
                    break;
                }
                None => break,
            }
        }
        let conn = match conn {
            Some(c) => c,
            None => match self.inner.opts.connect().await {
                Ok(c) => {
                    *self.inner.lock_down_since() = None;
                    c
                }
                Err(e) => {
                    self.inner
                        .lock_down_since()
                        .get_or_insert_with(Instant::now);
                    return Err(e);
                }
            },
        };
        Ok(PgConn {
            conn: Some(conn),
            clean: false,
            _permit: permit,
            inner: self.inner.clone(),
        })
    }

    /// The retry budget of a statement starting now: [`RETRY_BUDGET`] from now, or less when the
    /// database has already been refusing connections for a while, so a long outage answers
    /// requests at once instead of holding each of them for the whole budget.
    pub fn budget(&self) -> Budget {
        let since = *self.inner.lock_down_since();
        let deadline = since.unwrap_or_else(Instant::now) + RETRY_BUDGET;
        Budget::until(deadline.into())
    }

    /// Forgets every idle connection: one was found broken, so the others likely are too.
    pub fn discard_idle(&self) {
        self.inner.lock_idle().clear();
    }

    /// Closes idle connections and refuses new uses (graceful shutdown).
    pub async fn close(&self) {
        self.inner.closed.store(true, Ordering::SeqCst);
        self.inner.permits.close();
        let idle = std::mem::take(&mut *self.inner.lock_idle());
        for (c, _) in idle {
            let _ = c.close().await;
        }
    }
}

impl Inner {
    fn lock_down_since(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.down_since.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_idle(&self) -> std::sync::MutexGuard<'_, Vec<(PgConnection, Instant)>> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A pooled connection. It goes back to the pool only if its user declared the last use clean
/// ([`PgConn::mark_clean`]); otherwise it is closed.
pub struct PgConn {
    conn: Option<PgConnection>,
    clean: bool,
    _permit: OwnedSemaphorePermit,
    inner: Arc<Inner>,
}

impl PgConn {
    /// The connection, for one statement. Marks it unclean until [`PgConn::mark_clean`]: a use
    /// interrupted half-way leaves unread replies behind.
    pub fn start(&mut self) -> &mut PgConnection {
        self.clean = false;
        self.conn.as_mut().expect("present until drop")
    }

    /// The last statement ran to its end (successfully or with a database error, after which
    /// PostgreSQL is ready for the next one).
    pub fn mark_clean(&mut self) {
        self.clean = true;
    }
}

impl Drop for PgConn {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            if self.clean && !self.inner.closed.load(Ordering::SeqCst) {
                self.inner.lock_idle().push((conn, Instant::now()));
            }
        }
    }
}

/// Whether an error left the connection able to run the next statement. A server going down
/// reports its shutdown as a database error (57P01…) and then closes the connection.
pub fn leaves_connection_usable(e: &sqlx::Error) -> bool {
    if let sqlx::Error::Database(db) = e {
        return !db.code().is_some_and(|c| super::outage::is_outage_code(&c));
    }
    matches!(
        e,
        sqlx::Error::RowNotFound
            | sqlx::Error::ColumnNotFound(_)
            | sqlx::Error::ColumnDecode { .. }
            | sqlx::Error::ColumnIndexOutOfBounds { .. }
            | sqlx::Error::TypeNotFound { .. }
            | sqlx::Error::Decode(_)
    )
}
