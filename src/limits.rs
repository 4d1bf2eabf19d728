//! Limits for abusive or broken clients (design.md §3.16): token-bucket rate limits on the
//! requests that create state or cost work — newNonce and newAccount per client address,
//! newOrder per account and per EAB key — and the failed-validation limit per account.
//!
//! **Where they are counted.** The request-rate buckets live in this replica's memory: they cost
//! no database round-trip on the hot path (newOrder is benchmarked), and a client that loops is
//! stopped by any one replica's bucket. N replicas behind a round-robin balancer therefore let a
//! client through at up to N times the configured rate. Failed validations are counted in the
//! database instead (`Store::count_failed_validations`): validations finish on whichever
//! replica's worker ran them, not on the replica that receives the next challenge response, so
//! only the shared count sees them all. That limit is checked when a challenge response would
//! start another validation — the request whose cost it bounds.
//!
//! **Memory.** Each bucket map forgets a key once its bucket has refilled (an idle key is
//! indistinguishable from a new one), sweeping when the map has doubled since the last sweep,
//! and never holds more than [`MAX_KEYS`] keys: past that, the least recently used half goes.

use serde::Deserialize;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most keys one bucket map holds; bounds memory whatever clients do (a few MB per map).
pub const MAX_KEYS: usize = 100_000;
/// Smallest map size at which idle keys are swept.
const SWEEP_FLOOR: usize = 1024;

/// A sustained rate and the burst allowed above it. Either being 0 turns the limit off.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    /// Requests per minute refilled into the bucket (fractions allowed: 0.5 = one per 2 min).
    pub per_minute: f64,
    /// Bucket size: requests allowed at once after a quiet period.
    pub burst: u32,
}

impl Rate {
    /// A limit of `per_minute` with `burst`.
    pub const fn new(per_minute: f64, burst: u32) -> Self {
        Self { per_minute, burst }
    }

    /// Whether this limit applies at all.
    pub fn enabled(&self) -> bool {
        self.per_minute > 0.0 && self.burst > 0
    }

    /// For limits counted in the database: the window in which at most `burst` events are
    /// allowed (`burst / per_minute` minutes), giving the same long-run rate as the bucket.
    pub fn window(&self) -> Duration {
        Duration::from_secs_f64(f64::from(self.burst) / self.per_minute * 60.0)
    }

    fn per_sec(&self) -> f64 {
        self.per_minute / 60.0
    }
}

/// `[limits]`: the rate limits. Defaults are far above what real clients (certbot, lego,
/// cert-manager renewing a cluster) do, so they only stop loops and floods.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Master switch (benchmarks and load tests turn every rate limit off with it).
    pub enabled: bool,
    /// newNonce requests per client address (see `server.trusted_proxies`).
    pub new_nonce_per_address: Rate,
    /// newAccount requests per client address.
    pub new_account_per_address: Rate,
    /// newOrder requests per account.
    pub new_order_per_account: Rate,
    /// newOrder requests per EAB key, all its accounts together.
    pub new_order_per_eab_key: Rate,
    /// Failed validations per account (counted in the database, all replicas together): at most
    /// `burst` in any window of `burst / per_minute` minutes.
    pub failed_validations_per_account: Rate,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            new_nonce_per_address: Rate::new(6000.0, 1000),
            new_account_per_address: Rate::new(60.0, 120),
            new_order_per_account: Rate::new(300.0, 600),
            new_order_per_eab_key: Rate::new(1200.0, 2400),
            failed_validations_per_account: Rate::new(1.0, 60),
        }
    }
}

impl LimitsConfig {
    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), crate::config::InvalidSetting> {
        for (name, r) in [
            ("new_nonce_per_address", &self.new_nonce_per_address),
            ("new_account_per_address", &self.new_account_per_address),
            ("new_order_per_account", &self.new_order_per_account),
            ("new_order_per_eab_key", &self.new_order_per_eab_key),
            (
                "failed_validations_per_account",
                &self.failed_validations_per_account,
            ),
        ] {
            if !r.per_minute.is_finite() || r.per_minute < 0.0 {
                return Err(crate::config::InvalidSetting(format!(
                    "limits.{name}.per_minute must be a number ≥ 0 (0 turns the limit off)"
                )));
            }
        }
        Ok(())
    }

    /// `rate` if the master switch and the limit itself are on.
    fn active(&self, rate: Rate) -> Option<Rate> {
        (self.enabled && rate.enabled()).then_some(rate)
    }

    /// The failed-validation limit, if on.
    pub fn failed_validations(&self) -> Option<Rate> {
        self.active(self.failed_validations_per_account)
    }
}

/// A request refused by a limit: wait this long before trying again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exceeded {
    /// Time until the bucket holds a token again (at least one second).
    pub retry_after: Duration,
}

impl Exceeded {
    /// `Retry-After` in whole seconds, rounded up.
    pub fn retry_after_secs(&self) -> u64 {
        self.retry_after.as_secs_f64().ceil().max(1.0) as u64
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Token buckets by key, bounded in memory (see the module docs).
pub struct Buckets<K> {
    rate: Rate,
    inner: Mutex<Inner<K>>,
}

struct Inner<K> {
    map: HashMap<K, Bucket>,
    sweep_at: usize,
}

impl<K: Hash + Eq + Clone> Buckets<K> {
    /// Buckets refilled at `rate`.
    pub fn new(rate: Rate) -> Self {
        Self {
            rate,
            inner: Mutex::new(Inner {
                map: HashMap::new(),
                sweep_at: SWEEP_FLOOR,
            }),
        }
    }

    /// Takes a token from `key`'s bucket at `now`, or says how long until one is there.
    pub fn take(&self, key: &K, now: Instant) -> Result<(), Exceeded> {
        let burst = f64::from(self.rate.burst);
        let per_sec = self.rate.per_sec();
        let mut inner = self.inner.lock().expect("lock");
        let b = inner.map.entry(key.clone()).or_insert(Bucket {
            tokens: burst,
            last: now,
        });
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * per_sec).min(burst);
        b.last = now;
        let result = if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Exceeded {
                retry_after: Duration::from_secs_f64((1.0 - b.tokens) / per_sec),
            })
        };
        if inner.map.len() >= inner.sweep_at {
            self.sweep(&mut inner, now);
        }
        result
    }

    /// Forgets refilled buckets; if still too many, the least recently used half.
    fn sweep(&self, inner: &mut Inner<K>, now: Instant) {
        let burst = f64::from(self.rate.burst);
        let per_sec = self.rate.per_sec();
        inner.map.retain(|_, b| {
            let refill = now.saturating_duration_since(b.last).as_secs_f64() * per_sec;
            b.tokens + refill < burst
        });
        if inner.map.len() >= MAX_KEYS {
            let mut lasts: Vec<Instant> = inner.map.values().map(|b| b.last).collect();
            let mid = lasts.len() / 2;
            let (_, cut, _) = lasts.select_nth_unstable(mid);
            let cut = *cut;
            inner.map.retain(|_, b| b.last > cut);
        }
        inner.sweep_at = (inner.map.len() * 2).clamp(SWEEP_FLOOR, MAX_KEYS);
    }

    /// Keys currently remembered (tests, metrics).
    pub fn len(&self) -> usize {
        self.inner.lock().expect("lock").map.len()
    }

    /// Whether no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// This replica's rate limiters, built from `[limits]`; a disabled limit has no buckets.
pub struct Limits {
    new_nonce: Option<Buckets<IpAddr>>,
    new_account: Option<Buckets<IpAddr>>,
    order_per_account: Option<Buckets<String>>,
    order_per_eab_key: Option<Buckets<String>>,
}

impl Limits {
    /// The limiters `config` turns on.
    pub fn new(config: &LimitsConfig) -> Self {
        Self {
            new_nonce: config
                .active(config.new_nonce_per_address)
                .map(Buckets::new),
            new_account: config
                .active(config.new_account_per_address)
                .map(Buckets::new),
            order_per_account: config
                .active(config.new_order_per_account)
                .map(Buckets::new),
            order_per_eab_key: config
                .active(config.new_order_per_eab_key)
                .map(Buckets::new),
        }
    }

    /// A newNonce request from `client`.
    pub fn new_nonce(&self, client: IpAddr) -> Result<(), Exceeded> {
        take(&self.new_nonce, &client)
    }

    /// A newAccount request from `client`.
    pub fn new_account(&self, client: IpAddr) -> Result<(), Exceeded> {
        take(&self.new_account, &client)
    }

    /// A newOrder request by `account`, bound to `eab_kid` if any.
    pub fn new_order(&self, account: &str, eab_kid: Option<&str>) -> Result<(), LimitHit> {
        take(&self.order_per_account, &account.to_string()).map_err(LimitHit::Account)?;
        if let Some(kid) = eab_kid {
            take(&self.order_per_eab_key, &kid.to_string()).map_err(LimitHit::EabKey)?;
        }
        Ok(())
    }
}

/// Which newOrder limit refused a request (the client is told which one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitHit {
    /// The account's own rate.
    Account(Exceeded),
    /// The rate of all accounts of its EAB key together.
    EabKey(Exceeded),
}

fn take<K: Hash + Eq + Clone>(buckets: &Option<Buckets<K>>, key: &K) -> Result<(), Exceeded> {
    match buckets {
        Some(b) => b.take(key, Instant::now()),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refills_at_the_rate() {
        let b = Buckets::new(Rate::new(60.0, 3)); // one per second
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(b.take(&1, t0).is_ok());
        }
        let e = b.take(&1, t0).unwrap_err();
        assert_eq!(e.retry_after_secs(), 1);
        assert!(b.take(&2, t0).is_ok(), "keys have their own buckets");
        assert!(b.take(&1, t0 + Duration::from_millis(1100)).is_ok());
        assert!(b.take(&1, t0 + Duration::from_millis(1200)).is_err());
    }

    #[test]
    fn idle_keys_are_forgotten_and_memory_is_bounded() {
        let b = Buckets::new(Rate::new(60.0, 2));
        let t0 = Instant::now();
        for k in 0..SWEEP_FLOOR - 1 {
            b.take(&k, t0).unwrap();
        }
        assert_eq!(b.len(), SWEEP_FLOOR - 1);
        // Two seconds later every one of those buckets is full again: the next insertion sweeps.
        b.take(&usize::MAX, t0 + Duration::from_secs(2)).unwrap();
        assert_eq!(b.len(), 1);

        // Keys that stay busy are never more than MAX_KEYS.
        let busy = Buckets::new(Rate::new(0.001, 5));
        for k in 0..(MAX_KEYS + 10) {
            busy.take(&k, t0 + Duration::from_nanos(k as u64)).unwrap();
        }
        assert!(busy.len() <= MAX_KEYS, "{}", busy.len());
    }

    #[test]
    fn zero_turns_a_limit_off() {
        let config = LimitsConfig {
            new_nonce_per_address: Rate::new(0.0, 10),
            new_account_per_address: Rate::new(10.0, 0),
            ..Default::default()
        };
        let l = Limits::new(&config);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..10_000 {
            assert!(l.new_nonce(ip).is_ok());
            assert!(l.new_account(ip).is_ok());
        }
        let off = Limits::new(&LimitsConfig {
            enabled: false,
            ..Default::default()
        });
        assert!(off.order_per_account.is_none() && off.new_nonce.is_none());
    }

    #[test]
    fn database_windows_match_the_rate() {
        assert_eq!(Rate::new(1.0, 60).window(), Duration::from_secs(3600));
    }
}
