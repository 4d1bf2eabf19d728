//! SQLite connections for reads, pooled without a round-trip on every release.
//!
//! sqlx's pool pings each connection as it goes back to the pool. On SQLite a ping is a message to
//! the connection's worker thread and an answer back: two context switches and a spawned task per
//! read, for a check that can find nothing (the file cannot "go away" like a server). This pool
//! hands a connection back as it is. A read cut short (its future dropped) leaves nothing to clean
//! up: reads run outside any transaction, and the connection's worker finishes or abandons the
//! statement before it takes the next one.

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Connection};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Up to `max` read connections, opened on demand and reused.
#[derive(Clone)]
pub struct SqliteReaders {
    inner: Arc<Inner>,
}

struct Inner {
    opts: SqliteConnectOptions,
    idle: Mutex<Vec<SqliteConnection>>,
    permits: Arc<Semaphore>,
    acquire_timeout: Duration,
}

/// A connection lent out; it goes back to the pool when dropped.
pub struct Reader {
    conn: Option<SqliteConnection>,
    inner: Arc<Inner>,
    _permit: OwnedSemaphorePermit,
}

impl SqliteReaders {
    /// Opens one connection at once, so an unreadable file fails start-up.
    pub async fn connect(
        opts: SqliteConnectOptions,
        max: u32,
        acquire_timeout: Duration,
    ) -> Result<Self, sqlx::Error> {
        let first = opts.connect().await?;
        Ok(Self {
            inner: Arc::new(Inner {
                opts,
                idle: Mutex::new(vec![first]),
                permits: Arc::new(Semaphore::new(max.max(1) as usize)),
                acquire_timeout,
            }),
        })
    }

    /// A connection: an idle one, or a new one while fewer than `max` are open.
    pub async fn acquire(&self) -> Result<Reader, sqlx::Error> {
        let permit = tokio::time::timeout(
            self.inner.acquire_timeout,
            self.inner.permits.clone().acquire_owned(),
        )
        .await
        .map_err(|_| sqlx::Error::PoolTimedOut)?
        .map_err(|_| sqlx::Error::PoolClosed)?;
        let idle = self.inner.idle.lock().expect("not poisoned").pop();
        let conn = match idle {
            Some(conn) => conn,
            None => self.inner.opts.connect().await?,
        };
        Ok(Reader {
            conn: Some(conn),
            inner: self.inner.clone(),
            _permit: permit,
        })
    }

    /// Closes the idle connections and lets no new one be lent.
    pub async fn close(&self) {
        self.inner.permits.close();
        let idle: Vec<_> = std::mem::take(&mut *self.inner.idle.lock().expect("not poisoned"));
        for conn in idle {
            let _ = conn.close().await;
        }
    }
}

impl Reader {
    /// The connection, for one read.
    pub fn conn(&mut self) -> &mut SqliteConnection {
        self.conn.as_mut().expect("held until dropped")
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            if !self.inner.permits.is_closed() {
                self.inner.idle.lock().expect("not poisoned").push(conn);
            }
        }
    }
}
