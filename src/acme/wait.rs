//! The one wait loop of requests that answer with the worker's outcome (finalize waits for its
//! order to leave `processing`, revokeCert for SCM's answer): woken at once by this replica's worker
//! through a [`Watch`], and looking again now and then in case another replica's worker did the
//! work (its signal does not cross processes).

use crate::acme::Result;
use crate::store::Watch;
use std::future::Future;
use std::time::Duration;

/// How often a waiting request looks again without having been woken.
const POLL: Duration = Duration::from_millis(250);

/// What one look at the record found.
pub(crate) enum Look<T> {
    /// The outcome is there.
    Done(T),
    /// Not yet; the value is what to answer if time runs out now.
    Pending(T),
}

/// How the wait ended.
pub(crate) enum Waited<T> {
    Done(T),
    /// `limit` passed; the last look's value.
    TimedOut(T),
}

/// Looks at a record with `look` until it reports [`Look::Done`] or `limit` passes. With
/// `look_first` false it waits before the first look (the caller just changed the record and
/// knows the answer cannot be there yet). Take `watch` before the change being waited for.
pub(crate) async fn until<T, F, Fut>(
    watch: &Watch,
    limit: Duration,
    look_first: bool,
    mut look: F,
) -> Result<Waited<T>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Look<T>>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    let pause = || async {
        let next = deadline.min(tokio::time::Instant::now() + POLL);
        let _ = tokio::time::timeout_at(next, watch.changed()).await;
    };
    if !look_first {
        pause().await;
    }
    loop {
        match look().await? {
            Look::Done(v) => return Ok(Waited::Done(v)),
            Look::Pending(v) if tokio::time::Instant::now() >= deadline => {
                return Ok(Waited::TimedOut(v))
            }
            Look::Pending(_) => pause().await,
        }
    }
}
