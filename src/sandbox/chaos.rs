//! Probabilistic faults for chaos runs: a fraction of SCM calls (`fault_rate`) gets one fault drawn
//! from an allowed set. Counted faults (`fail_next`, …) say exactly which call breaks, which suits a
//! test of one code path; a rate breaks calls nobody picked in advance, which is what shakes out the
//! retry, reconciliation and restart paths of a whole bridge run. A seed makes a run reproducible:
//! the same seed and the same sequence of calls give the same faults.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One kind of fault the rate can draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum FaultKind {
    /// HTTP 500 with an HTML body; the call changes nothing.
    #[serde(rename = "error_500")]
    Error500,
    /// HTTP 503 with an HTML body; the call changes nothing.
    #[serde(rename = "error_503")]
    Error503,
    /// The connection is closed without an answer; the call changes nothing.
    #[serde(rename = "reset")]
    Reset,
    /// The call is handled after a random delay of 1..=`fault_slow_max_ms` (it still takes effect
    /// when the caller gave up meanwhile).
    #[serde(rename = "slow")]
    Slow,
    /// Enroll only: the certificate is created, the connection is closed instead of answering.
    #[serde(rename = "drop_enroll_response")]
    DropEnrollResponse,
    /// Enroll only: the certificate is created whatever the caller does, the answer comes late or
    /// never (`enroll_create_after_ms`, `enroll_answer_after_ms`).
    #[serde(rename = "delay_enroll_response")]
    DelayEnrollResponse,
}

impl FaultKind {
    /// Every kind, in a fixed order (the order the seeded draw indexes into).
    pub const ALL: [FaultKind; 6] = [
        FaultKind::Error500,
        FaultKind::Error503,
        FaultKind::Reset,
        FaultKind::Slow,
        FaultKind::DropEnrollResponse,
        FaultKind::DelayEnrollResponse,
    ];

    /// The name used in config, control API and CLI flags.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::Error500 => "error_500",
            FaultKind::Error503 => "error_503",
            FaultKind::Reset => "reset",
            FaultKind::Slow => "slow",
            FaultKind::DropEnrollResponse => "drop_enroll_response",
            FaultKind::DelayEnrollResponse => "delay_enroll_response",
        }
    }

    /// Kinds that only make sense for an enroll (they are about the certificate it creates).
    pub fn enroll_only(self) -> bool {
        matches!(
            self,
            FaultKind::DropEnrollResponse | FaultKind::DelayEnrollResponse
        )
    }
}

impl std::fmt::Display for FaultKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A fault kind name that is not one of [`FaultKind::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown fault kind `{given}`, expected one of {}", FaultKind::ALL.map(FaultKind::as_str).join(", "))]
pub struct UnknownFaultKind {
    /// The name as given.
    pub given: String,
}

impl std::str::FromStr for FaultKind {
    type Err = UnknownFaultKind;

    /// Parses the config/CLI name, so `--fault-kinds reset,slow` and the TOML list agree.
    fn from_str(s: &str) -> Result<Self, UnknownFaultKind> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim())
            .ok_or_else(|| UnknownFaultKind {
                given: s.to_string(),
            })
    }
}

/// The random source and the tally of a chaos run; lives beside the faults in the sandbox state and
/// is re-seeded whenever the faults are replaced, so setting the same faults again replays the run.
#[derive(Debug)]
pub struct Chaos {
    rng: StdRng,
    calls: u64,
    injected: BTreeMap<FaultKind, u64>,
}

/// What a chaos run did so far (`GET /__sandbox/faults/stats`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChaosStats {
    /// SCM calls the rate was applied to since the faults were last set.
    pub calls: u64,
    /// Faults drawn, by kind (an enroll fault drawn for an enroll that SCM then refuses has no effect
    /// but is counted).
    pub injected: BTreeMap<String, u64>,
}

impl Chaos {
    /// A fresh run: seeded from `seed`, or from the OS when absent.
    pub fn new(seed: Option<u64>) -> Self {
        Self {
            rng: match seed {
                Some(s) => StdRng::seed_from_u64(s),
                None => StdRng::from_entropy(),
            },
            calls: 0,
            injected: BTreeMap::new(),
        }
    }

    /// Decides whether this call gets a fault: with probability `rate`, one of the `allowed` kinds
    /// (empty = all) that apply to it (enroll-only kinds only for an enroll). Consumes two numbers per
    /// call whatever the outcome, so which kinds are allowed does not shift later calls' rolls.
    pub fn draw(&mut self, rate: f64, allowed: &[FaultKind], is_enroll: bool) -> Option<FaultKind> {
        if rate <= 0.0 {
            return None;
        }
        self.calls += 1;
        let roll: f64 = self.rng.gen();
        let pick: u64 = self.rng.gen();
        if roll >= rate {
            return None;
        }
        let candidates: Vec<FaultKind> = FaultKind::ALL
            .into_iter()
            .filter(|k| allowed.is_empty() || allowed.contains(k))
            .filter(|k| is_enroll || !k.enroll_only())
            .collect();
        if candidates.is_empty() {
            return None;
        }
        let kind = candidates[(pick % candidates.len() as u64) as usize];
        *self.injected.entry(kind).or_default() += 1;
        Some(kind)
    }

    /// A delay for a `slow` fault: 1..=`max_ms`.
    pub fn slow_ms(&mut self, max_ms: u64) -> u64 {
        self.rng.gen_range(1..=max_ms.max(1))
    }

    /// The tally so far.
    pub fn stats(&self) -> ChaosStats {
        ChaosStats {
            calls: self.calls,
            injected: self
                .injected
                .iter()
                .map(|(k, n)| (k.as_str().to_string(), *n))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(seed: u64, rate: f64, allowed: &[FaultKind], n: usize) -> Vec<Option<FaultKind>> {
        let mut c = Chaos::new(Some(seed));
        (0..n).map(|i| c.draw(rate, allowed, i % 3 == 0)).collect()
    }

    #[test]
    fn a_seed_replays_the_same_faults() {
        let a = run(42, 0.3, &[], 500);
        assert_eq!(a, run(42, 0.3, &[], 500));
        assert_ne!(a, run(43, 0.3, &[], 500), "another seed, another run");
    }

    #[test]
    fn the_rate_is_roughly_the_fraction_of_calls_hit() {
        let hits = run(7, 0.1, &[], 2000).iter().flatten().count();
        assert!((120..=280).contains(&hits), "{hits} of 2000 at rate 0.1");
        assert_eq!(run(7, 0.0, &[], 200).iter().flatten().count(), 0);
        assert_eq!(run(7, 1.0, &[], 200).iter().flatten().count(), 200);
    }

    #[test]
    fn enroll_faults_only_hit_enrolls_and_only_allowed_kinds_are_drawn() {
        let mut c = Chaos::new(Some(1));
        for _ in 0..200 {
            let k = c.draw(1.0, &[], false).unwrap();
            assert!(!k.enroll_only(), "{k} on a non-enroll call");
        }
        let only = [FaultKind::DropEnrollResponse];
        assert_eq!(c.draw(1.0, &only, false), None, "nothing applies");
        assert_eq!(
            c.draw(1.0, &only, true),
            Some(FaultKind::DropEnrollResponse)
        );
        let allowed = [FaultKind::Reset, FaultKind::Slow];
        for _ in 0..100 {
            assert!(allowed.contains(&c.draw(1.0, &allowed, true).unwrap()));
        }
        let s = c.stats();
        assert_eq!(s.calls, 302);
        assert_eq!(s.injected.values().sum::<u64>(), 301);
    }

    #[test]
    fn kinds_parse_from_their_config_names() {
        for k in FaultKind::ALL {
            assert_eq!(k.as_str().parse::<FaultKind>(), Ok(k));
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(json, format!("\"{}\"", k.as_str()));
        }
        assert!("error500".parse::<FaultKind>().is_err());
    }
}
