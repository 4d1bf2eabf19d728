//! In-process signals that a record changed in a way a waiting request cares about: finalize waits
//! for its order to leave `processing`, revokeCert for SCM's answer. The store raises the signal
//! right after the commit that makes the change visible, so a request on the replica whose worker
//! did the work answers at once instead of polling; a request whose work another replica did still
//! notices by polling (less often), since no signal crosses processes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// Who waits on which record (an order or certificate id).
#[derive(Default)]
pub struct Watchers {
    map: Mutex<HashMap<String, Arc<Notify>>>,
}

impl Watchers {
    /// Starts watching `id`. Take the watch *before* reading the record: a change committed in
    /// between is then not missed (the signal is kept until the next wait).
    pub fn watch(self: &Arc<Self>, id: &str) -> Watch {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let notify = map.entry(id.to_string()).or_default().clone();
        Watch {
            id: id.to_string(),
            notify,
            watchers: self.clone(),
        }
    }

    /// Wakes whoever watches `id`.
    pub fn changed(&self, id: &str) {
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get(id) {
            n.notify_waiters();
            n.notify_one(); // kept for a watcher between its read and its wait
        }
    }
}

/// A registration to be woken when a record changes; unregisters when dropped.
pub struct Watch {
    id: String,
    notify: Arc<Notify>,
    watchers: Arc<Watchers>,
}

impl Watch {
    /// Resolves when the record changed (or a signal was raised since the last wait).
    pub async fn changed(&self) {
        self.notify.notified().await;
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let mut map = self.watchers.map.lock().unwrap_or_else(|e| e.into_inner());
        // Only the map and this watch hold it: nobody else waits on this id.
        if Arc::strong_count(&self.notify) == 2 {
            map.remove(&self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn woke(w: &Watch) -> bool {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            tokio::time::timeout(Duration::from_millis(50), w.changed())
                .await
                .is_ok()
        })
    }

    #[test]
    fn a_change_before_the_wait_is_not_lost_and_others_are_not_woken() {
        let watchers = Arc::new(Watchers::default());
        let order = watchers.watch("order-1");
        let other = watchers.watch("order-2");
        watchers.changed("order-1");
        assert!(woke(&order), "signal raised between read and wait is kept");
        assert!(!woke(&order), "and consumed once");
        assert!(!woke(&other));
        watchers.changed("nobody-watches");
    }

    #[test]
    fn dropping_the_last_watch_forgets_the_id() {
        let watchers = Arc::new(Watchers::default());
        let a = watchers.watch("x");
        let b = watchers.watch("x");
        drop(a);
        assert_eq!(watchers.map.lock().unwrap().len(), 1, "b still watches");
        watchers.changed("x");
        assert!(woke(&b));
        drop(b);
        assert!(watchers.map.lock().unwrap().is_empty());
    }
}
