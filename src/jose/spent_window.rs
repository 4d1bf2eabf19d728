//! The single-use record of nonces for a store that only one process uses (SQLite): kept in
//! memory instead of a database row per request.
//!
//! Why: every signed request spends a nonce. With PostgreSQL several replicas share the record, so
//! it must be a row; with SQLite the bridge is one process, and writing that row (one more
//! transaction and `fsync` share per request, four per order) was the largest single share of the
//! default store's writes. A nonce minted by a process-local key carries a sequence number; this
//! window remembers which of the last [`WINDOW`] sequence numbers were spent, in one bit each
//! (512 KiB), so memory stays bounded however many nonces are handed out.
//!
//! Safety after a restart needs no record: the key is made afresh by each process, so a nonce
//! minted before a restart is not ours afterwards (`badNonce`; the client retries with the nonce
//! the error carries, RFC 8555 §6.5). A nonce more than [`WINDOW`] mints old is refused the same
//! way, as its expiry would have.

use std::sync::atomic::{AtomicU64, Ordering::SeqCst};

/// Sequence numbers remembered: nonces older than this many mints are refused as expired.
pub const WINDOW: u64 = 1 << 22;

/// Spent-bits of the last [`WINDOW`] minted sequence numbers.
#[derive(Debug)]
pub struct SpentWindow {
    /// The next sequence number to mint.
    next: AtomicU64,
    /// Bit `s % WINDOW` is set once `s` was spent (and cleared when `s + WINDOW` is minted).
    bits: Box<[AtomicU64]>,
}

/// What spending a sequence number found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spend {
    Fresh,
    AlreadySpent,
    /// Never minted, or older than the window.
    OutOfWindow,
}

impl Default for SpentWindow {
    fn default() -> Self {
        Self {
            next: AtomicU64::new(0),
            bits: (0..WINDOW / 64).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl SpentWindow {
    fn slot(&self, seq: u64) -> (&AtomicU64, u64) {
        let i = seq % WINDOW;
        (&self.bits[(i / 64) as usize], 1u64 << (i % 64))
    }

    fn in_window(&self, seq: u64) -> bool {
        let next = self.next.load(SeqCst);
        seq < next && next - seq <= WINDOW
    }

    /// A new sequence number, its slot cleared of the one `WINDOW` before it (now out of window).
    pub fn mint(&self) -> u64 {
        let seq = self.next.fetch_add(1, SeqCst);
        let (word, bit) = self.slot(seq);
        word.fetch_and(!bit, SeqCst);
        seq
    }

    /// Spends `seq` once. The window is checked again after the bit is set: if `seq + WINDOW` was
    /// minted meanwhile, the slot may have been cleared under us, and the answer is "out of window"
    /// rather than a second "fresh" (a replay is never accepted; at worst the newer nonce in that
    /// slot is refused once and its client retries).
    pub fn spend(&self, seq: u64) -> Spend {
        if !self.in_window(seq) {
            return Spend::OutOfWindow;
        }
        let (word, bit) = self.slot(seq);
        let before = word.fetch_or(bit, SeqCst);
        if !self.in_window(seq) {
            return Spend::OutOfWindow;
        }
        if before & bit != 0 {
            Spend::AlreadySpent
        } else {
            Spend::Fresh
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_minted_number_is_fresh_once() {
        let w = SpentWindow::default();
        let a = w.mint();
        let b = w.mint();
        assert_eq!(w.spend(b), Spend::Fresh);
        assert_eq!(w.spend(b), Spend::AlreadySpent);
        assert_eq!(w.spend(a), Spend::Fresh);
        assert_eq!(w.spend(a), Spend::AlreadySpent);
        assert_eq!(w.spend(b + 1), Spend::OutOfWindow, "not minted yet");
    }

    #[test]
    fn a_number_older_than_the_window_is_refused_even_unspent() {
        let w = SpentWindow::default();
        let old = w.mint();
        let spent_then_recycled = w.mint();
        assert_eq!(w.spend(spent_then_recycled), Spend::Fresh);
        for _ in 0..WINDOW {
            w.mint();
        }
        assert_eq!(w.spend(old), Spend::OutOfWindow);
        assert_eq!(w.spend(spent_then_recycled), Spend::OutOfWindow);
        // The slot of `spent_then_recycled` now belongs to the newest number, which is fresh
        // (its bit was cleared when it was minted); so is the one in `old`'s slot.
        let newest = w.next.load(SeqCst) - 1;
        assert_eq!(newest, spent_then_recycled + WINDOW);
        assert_eq!(w.spend(newest), Spend::Fresh);
        assert_eq!(w.spend(old + WINDOW), Spend::Fresh);
        assert_eq!(w.spend(old + WINDOW), Spend::AlreadySpent);
    }

    #[test]
    fn concurrent_spenders_of_one_number_see_one_fresh() {
        let w = std::sync::Arc::new(SpentWindow::default());
        for _ in 0..200 {
            let seq = w.mint();
            let fresh: usize = std::thread::scope(|s| {
                let hs: Vec<_> = (0..4)
                    .map(|_| s.spawn(|| w.spend(seq) == Spend::Fresh))
                    .collect();
                hs.into_iter().map(|h| usize::from(h.join().unwrap())).sum()
            });
            assert_eq!(fresh, 1);
        }
    }
}
