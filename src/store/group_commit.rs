//! Group commit for SQLite: one writer connection, whose transactions are shared by the requests
//! that write at the same time, so that one `fsync` acknowledges all of them.
//!
//! Why: in `synchronous = FULL` every commit waits for the disk. With a commit per transaction
//! (about twenty per order) the default store spent its time waiting for `fsync`, one transaction
//! after the other, and the queue of writers behind SQLite's single write lock made the tails long.
//!
//! How: a [`WriterTx`] takes the writer connection (a tokio mutex, so writers queue in order
//! instead of spinning on `SQLITE_BUSY`), opens the shared transaction with `BEGIN IMMEDIATE` if
//! none is open, and runs inside its own `SAVEPOINT`. Its commit releases the savepoint and hands
//! the connection to the next writer in the queue; the last writer of a batch (no one is waiting,
//! or [`MAX_BATCH`] transactions are in it) runs `COMMIT`. Every member's `commit()` returns only
//! after that `COMMIT` succeeded, so nothing is acknowledged before it is on disk — the same
//! promise as before, paid once per batch. A rollback undoes only its own savepoint. If the shared
//! `COMMIT` fails, every member's commit fails (none was acknowledged; the whole batch is rolled
//! back), as a single commit failure would have.
//!
//! The steps that must not be cut half-way (release/rollback and the shared `COMMIT`) run in a
//! spawned task, so a request cancelled mid-commit (client gone, request timeout) cannot leave the
//! connection inside a transaction nobody will end.

use super::{Result, StoreError};
use sqlx::sqlite::SqliteConnection;
use sqlx::Connection;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::{watch, Mutex, OwnedMutexGuard};

/// Most transactions one `COMMIT` carries, so that under continuous load a batch still ends and
/// its first member does not wait behind an unbounded queue.
pub const MAX_BATCH: usize = 64;

/// The savepoint each transaction runs in, inside the shared transaction.
const SAVEPOINT: &str = "SAVEPOINT bridge_tx";
const RELEASE: &str = "RELEASE bridge_tx";
const ROLLBACK_TO: &str = "ROLLBACK TO bridge_tx";
/// What the first member of a batch runs, in one round trip to SQLite's thread.
const BEGIN_AND_SAVEPOINT: &str = "BEGIN IMMEDIATE; SAVEPOINT bridge_tx";
/// What the last member of a batch runs on commit, in one round trip.
const RELEASE_AND_COMMIT: &str = "RELEASE bridge_tx; COMMIT";

/// How a batch ended: `Err` carries the database's message (every member reports it).
type Outcome = std::result::Result<(), Arc<str>>;

/// Counts kept for `/metrics` and the benchmark: how many transactions were acknowledged and how
/// many commits (each one `fsync` of the WAL) carried them.
#[derive(Debug, Default)]
pub struct CommitCounts {
    /// Transactions committed (members of a batch whose `COMMIT` succeeded).
    pub transactions: AtomicU64,
    /// `COMMIT`s run (batches), successful or not.
    pub commits: AtomicU64,
}

/// The one SQLite connection that writes, shared by every writer of this process.
#[derive(Clone)]
pub struct GroupWriter {
    conn: Arc<Mutex<WriterConn>>,
    /// Writers waiting for the connection: while any waits, a batch stays open for it.
    queued: Arc<AtomicUsize>,
    counts: Arc<CommitCounts>,
}

/// The connection and the batch it has open, if any.
pub struct WriterConn {
    conn: SqliteConnection,
    batch: Option<Batch>,
}

/// The open shared transaction: its members and where they learn how it ended.
struct Batch {
    members: usize,
    done: watch::Sender<Option<Outcome>>,
}

/// Decrements the queue count when a waiting writer gets the connection or gives up waiting. A
/// writer that gives up (its request was cancelled) may have been the one a batch was left open
/// for: it then has the batch ended, so the members already in it are not left waiting.
struct Queued {
    writer: GroupWriter,
    acquired: bool,
}

impl Drop for Queued {
    fn drop(&mut self) {
        self.writer.queued.fetch_sub(1, Ordering::SeqCst);
        if !self.acquired {
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                let writer = self.writer.clone();
                rt.spawn(async move {
                    let guard = writer.conn.clone().lock_owned().await;
                    writer.end_turn(guard).await;
                });
            }
        }
    }
}

impl GroupWriter {
    /// Wraps `conn`, a connection opened with the store's options (WAL, `synchronous = FULL`).
    pub fn new(conn: SqliteConnection) -> Self {
        Self {
            conn: Arc::new(Mutex::new(WriterConn { conn, batch: None })),
            queued: Arc::default(),
            counts: Arc::default(),
        }
    }

    /// The counts since start.
    pub fn counts(&self) -> &CommitCounts {
        &self.counts
    }

    /// Starts a transaction: waits for the writer connection, joins the open batch (or opens one)
    /// and sets the transaction's savepoint.
    pub async fn begin(&self) -> Result<WriterTx> {
        self.start(true).await
    }

    /// Starts a transaction of exactly one statement, without a savepoint: SQLite backs out a
    /// failed statement by itself (the default `ABORT` resolution; a cut-short statement may or
    /// may not land, as on any database), which saves two statements per write on the hot path.
    pub async fn begin_one_statement(&self) -> Result<WriterTx> {
        self.start(false).await
    }

    async fn start(&self, savepoint: bool) -> Result<WriterTx> {
        self.queued.fetch_add(1, Ordering::SeqCst);
        let mut waiting = Queued {
            writer: self.clone(),
            acquired: false,
        };
        let guard = self.conn.clone().lock_owned().await;
        waiting.acquired = true;
        drop(waiting);
        let mut tx = WriterTx {
            guard: Some(guard),
            writer: self.clone(),
            done: None,
            savepoint,
        };
        tx.join_batch().await?;
        Ok(tx)
    }

    /// Ends an open batch at shutdown by rolling it back: its members are still waiting for the
    /// commit, so none of them was acknowledged. The connection closes when the store is dropped.
    pub async fn close(&self) {
        let mut g = self.conn.lock().await;
        if g.batch.is_some() {
            let _ = sqlx::query("ROLLBACK").execute(&mut g.conn).await;
            g.batch = None;
        }
    }

    /// Whether the member holding the connection is the batch's last: nobody waits to join, or
    /// the batch is full.
    fn ends_batch(&self, conn: &WriterConn) -> bool {
        let full = conn.batch.as_ref().is_some_and(|b| b.members >= MAX_BATCH);
        self.queued.load(Ordering::SeqCst) == 0 || full
    }

    /// Ends a member's turn on the connection: the last member of a batch commits it for all.
    /// Runs in its own task (see the module doc).
    async fn end_turn(&self, guard: OwnedMutexGuard<WriterConn>) {
        if !self.ends_batch(&guard) {
            return; // the next writer joins the batch; the last one commits it
        }
        self.commit_batch(guard, "COMMIT").await
    }

    /// Runs `sql` (ending in `COMMIT`) and tells every member of the batch how it went; on failure
    /// the batch is rolled back.
    async fn commit_batch(&self, mut guard: OwnedMutexGuard<WriterConn>, sql: &'static str) {
        let Some(batch) = guard.batch.take() else {
            return;
        };
        self.counts.commits.fetch_add(1, Ordering::Relaxed);
        let outcome: Outcome = match sqlx::query(sql).execute(&mut guard.conn).await {
            Ok(_) => Ok(()),
            Err(e) => {
                let _ = sqlx::query("ROLLBACK").execute(&mut guard.conn).await;
                Err(Arc::from(e.to_string()))
            }
        };
        batch.done.send_replace(Some(outcome));
    }
}

/// One transaction inside the shared one. Dropped without [`WriterTx::commit`], its savepoint is
/// rolled back (in the background) and the batch goes on without it.
pub struct WriterTx {
    guard: Option<OwnedMutexGuard<WriterConn>>,
    writer: GroupWriter,
    /// Where this member learns how its batch ended.
    done: Option<watch::Receiver<Option<Outcome>>>,
    /// Whether it runs in its own savepoint (all but one-statement transactions).
    savepoint: bool,
}

impl WriterTx {
    /// Joins the open batch or opens one, then sets the savepoint.
    async fn join_batch(&mut self) -> Result<()> {
        let g = self.guard.as_mut().expect("held until commit or rollback");
        // Opening the batch and the savepoint go to SQLite's thread as one message.
        let start = match (g.batch.is_none(), self.savepoint) {
            (true, true) => Some(BEGIN_AND_SAVEPOINT),
            (true, false) => Some("BEGIN IMMEDIATE"),
            (false, true) => Some(SAVEPOINT),
            (false, false) => None,
        };
        if let Some(sql) = start {
            if let Err(e) = sqlx::query(sql).execute(&mut g.conn).await {
                if g.batch.is_none() {
                    // `BEGIN` may have run before the savepoint failed: leave no transaction open
                    // that no batch accounts for.
                    let _ = sqlx::query("ROLLBACK").execute(&mut g.conn).await;
                }
                return Err(e.into());
            }
        }
        let batch = g.batch.get_or_insert_with(|| Batch {
            members: 0,
            done: watch::channel(None).0,
        });
        batch.members += 1;
        self.done = Some(batch.done.subscribe());
        Ok(())
    }

    /// The connection, for the statements of this transaction.
    pub fn conn(&mut self) -> &mut SqliteConnection {
        &mut self
            .guard
            .as_mut()
            .expect("held until commit or rollback")
            .conn
    }

    /// Releases the savepoint into the batch and returns once the batch is committed (on disk).
    pub async fn commit(mut self) -> Result<()> {
        let guard = self.guard.take().expect("held until commit or rollback");
        let done = self.done.take();
        let writer = self.writer.clone();
        let savepoint = self.savepoint;
        let ended = tokio::spawn(async move { finish(writer, guard, savepoint, true).await });
        let released = ended
            .await
            .map_err(|e| StoreError::GroupCommit(format!("commit task failed: {e}")))?;
        released?;
        let outcome = wait(done).await;
        if outcome.is_ok() {
            self.writer
                .counts
                .transactions
                .fetch_add(1, Ordering::Relaxed);
        }
        outcome
    }

    /// Undoes this transaction's changes; the batch goes on without them. Returns once the batch
    /// has ended, as a rollback after a conflict does on PostgreSQL (it waits for the transaction
    /// it conflicted with): a caller that rolled back on a unique violation and then reads the
    /// row that won must find it committed.
    pub async fn rollback(mut self) -> Result<()> {
        let guard = self.guard.take().expect("held until commit or rollback");
        let done = self.done.take();
        let writer = self.writer.clone();
        let savepoint = self.savepoint;
        tokio::spawn(async move { finish(writer, guard, savepoint, false).await })
            .await
            .map_err(|e| StoreError::GroupCommit(format!("rollback task failed: {e}")))??;
        // How the others fared is theirs to report: this transaction's changes are gone either way.
        let _ = wait(done).await;
        Ok(())
    }
}

impl WriterTx {
    /// Ends a one-statement transaction whose statement failed. A constraint violation was backed
    /// out by SQLite alone and the batch goes on; any other error (disk full, I/O) may have rolled
    /// back the whole shared transaction, so the batch is ended as failed for every member rather
    /// than letting later members write outside it.
    pub async fn rollback_failed_statement(self, error: &sqlx::Error) -> Result<()> {
        // SQLITE_CONSTRAINT (19) in the low byte of the extended code: backed out alone.
        let backed_out = error
            .as_database_error()
            .and_then(|d| d.code())
            .and_then(|c| c.parse::<i32>().ok())
            .is_some_and(|c| c & 0xff == 19);
        if backed_out {
            return self.rollback().await;
        }
        let mut this = self;
        let mut guard = this.guard.take().expect("held until commit or rollback");
        let done = this.done.take();
        let message = format!("a statement failed inside the shared transaction: {error}");
        tokio::spawn(async move {
            if let Some(batch) = guard.batch.take() {
                let _ = sqlx::query("ROLLBACK").execute(&mut guard.conn).await;
                batch.done.send_replace(Some(Err(Arc::from(message))));
            }
        })
        .await
        .map_err(|e| StoreError::GroupCommit(format!("rollback task failed: {e}")))?;
        let _ = wait(done).await;
        Ok(())
    }
}

impl Drop for WriterTx {
    fn drop(&mut self) {
        if let Some(guard) = self.guard.take() {
            let writer = self.writer.clone();
            let savepoint = self.savepoint;
            match tokio::runtime::Handle::try_current() {
                Ok(rt) => {
                    rt.spawn(async move {
                        let _ = finish(writer, guard, savepoint, false).await;
                    });
                }
                // No runtime (shutdown): the connection goes with the process; nothing of this
                // batch was acknowledged.
                Err(_) => drop(guard),
            }
        }
    }
}

/// Releases (`keep`) or rolls back the member's savepoint, if it has one, then ends its turn. If
/// the savepoint cannot be ended, the connection's state is unknown: the whole batch is rolled back
/// and fails for every member (none of them was acknowledged yet).
async fn finish(
    writer: GroupWriter,
    mut guard: OwnedMutexGuard<WriterConn>,
    savepoint: bool,
    keep: bool,
) -> Result<()> {
    if savepoint && keep && guard.batch.is_some() && writer.ends_batch(&guard) {
        // The last member: release and commit in one round trip. A failed release fails the
        // whole batch, as below.
        writer.commit_batch(guard, RELEASE_AND_COMMIT).await;
        return Ok(());
    }
    let step = if !savepoint {
        Ok(())
    } else if keep {
        sqlx::query(RELEASE)
            .execute(&mut guard.conn)
            .await
            .map(|_| ())
    } else {
        match sqlx::query(ROLLBACK_TO).execute(&mut guard.conn).await {
            Ok(_) => sqlx::query(RELEASE)
                .execute(&mut guard.conn)
                .await
                .map(|_| ()),
            Err(e) => Err(e),
        }
    };
    if let Err(e) = step {
        if let Some(batch) = guard.batch.take() {
            let _ = sqlx::query("ROLLBACK").execute(&mut guard.conn).await;
            batch.done.send_replace(Some(Err(Arc::from(format!(
                "savepoint could not end: {e}"
            )))));
        }
        return Err(e.into());
    }
    writer.end_turn(guard).await;
    Ok(())
}

/// Waits until the member's batch has ended and reports its outcome.
async fn wait(done: Option<watch::Receiver<Option<Outcome>>>) -> Result<()> {
    let Some(mut done) = done else {
        return Err(StoreError::GroupCommit(
            "transaction joined no batch".into(),
        ));
    };
    let ended = done
        .wait_for(Option::is_some)
        .await
        .map(|v| v.clone())
        .map_err(|_| StoreError::GroupCommit("the shared commit was abandoned".into()))?;
    match ended {
        Some(Ok(())) => Ok(()),
        Some(Err(msg)) => Err(StoreError::GroupCommit(msg.to_string())),
        None => unreachable!("wait_for returns a value that is Some"),
    }
}

impl GroupWriter {
    /// Runs the migrations on the writer connection (before any transaction uses it).
    pub async fn migrate(&self, migrator: &sqlx::migrate::Migrator) -> Result<()> {
        let mut g = self.conn.lock().await;
        migrator.run(&mut g.conn).await?;
        Ok(())
    }
}

/// Opens the writer connection with the store's options.
pub async fn open(opts: &sqlx::sqlite::SqliteConnectOptions) -> Result<GroupWriter> {
    Ok(GroupWriter::new(
        SqliteConnection::connect_with(opts).await?,
    ))
}
