//! A database that is away (restarting, refusing connections, a cut connection) is told apart from
//! one that refused a statement: the first is [`StoreError::Unavailable`](super::StoreError), which
//! requests ride out for a few seconds and otherwise answer 503 with `Retry-After` instead of a
//! bare 500 (issue #12 item 5).

use std::time::Duration;
use tokio::time::Instant;

/// How long one statement keeps retrying what is safe to repeat (a connection attempt, `BEGIN`, a
/// read) while the database is away: a sub-second restart costs no request.
pub const RETRY_BUDGET: Duration = Duration::from_secs(5);

/// Whether `e` says the database could not be reached or dropped the connection, rather than
/// refusing the statement: I/O errors, pool time-outs, and the SQLSTATEs of a server going down or
/// starting up (57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now) or of a
/// broken connection (class 08); on SQLite, a file another process kept locked for longer than
/// `database.acquire_timeout_secs` (`SQLITE_BUSY`, `SQLITE_LOCKED`: e.g. a long CLI command).
pub fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            let sqlite = db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some();
            db.code().is_some_and(|c| match sqlite {
                true => is_sqlite_busy(&c),
                false => is_outage_code(&c),
            })
        }
        _ => false,
    }
}

/// SQLite's result codes for a lock held elsewhere (`SQLITE_BUSY` 5, `SQLITE_LOCKED` 6, and
/// their extended codes, which keep the primary code in the low byte).
fn is_sqlite_busy(code: &str) -> bool {
    code.parse::<i32>().is_ok_and(|c| matches!(c & 0xff, 5 | 6))
}

/// SQLSTATEs of a server that is going away or not there yet, or of a connection that broke.
pub fn is_outage_code(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03")
}

/// Whether a failed connection attempt may be tried again at once (the pool's own time-out and
/// shutdown are final).
pub fn may_reconnect(e: &sqlx::Error) -> bool {
    is_unavailable(e) && !matches!(e, sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed)
}

/// The retry budget of one statement (see `PgPool::budget`): pauses of 50 ms doubling to 1 s
/// until its deadline.
pub struct Budget {
    deadline: Instant,
    pause: Duration,
}

impl Budget {
    /// A budget that ends at `deadline`.
    pub fn until(deadline: Instant) -> Self {
        Self {
            deadline,
            pause: Duration::from_millis(50),
        }
    }

    /// Waits before the next attempt; false (at once) when the budget is spent.
    pub async fn wait(&mut self) -> bool {
        let now = Instant::now();
        if now >= self.deadline {
            return false;
        }
        tokio::time::sleep(self.pause.min(self.deadline - now)).await;
        self.pause = (self.pause * 2).min(Duration::from_secs(1));
        true
    }
}
