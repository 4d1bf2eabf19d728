//! Latency samples per step and their percentiles.

use serde_json::{json, Value};
use std::time::Instant;

/// Milliseconds since `t`.
pub fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

/// Latencies in milliseconds of whole orders and of each step, for successful steps.
#[derive(Default)]
pub struct Samples {
    pub order: Vec<f64>,
    pub new_order: Vec<f64>,
    pub authz: Vec<f64>,
    /// Answering one authorization's challenge: the challenge POST until the authz is valid.
    pub challenge: Vec<f64>,
    pub finalize: Vec<f64>,
    pub poll: Vec<f64>,
    pub download: Vec<f64>,
    /// POST-as-GET requests made while the order was processing.
    pub polls: u64,
    /// Challenges answered (`--answer-challenges`).
    pub challenges_answered: u64,
    /// POST-as-GET requests of authorizations while their challenge was validated.
    pub authz_polls: u64,
}

impl Samples {
    pub fn merge(&mut self, other: Samples) {
        self.order.extend(other.order);
        self.new_order.extend(other.new_order);
        self.authz.extend(other.authz);
        self.challenge.extend(other.challenge);
        self.finalize.extend(other.finalize);
        self.poll.extend(other.poll);
        self.download.extend(other.download);
        self.polls += other.polls;
        self.challenges_answered += other.challenges_answered;
        self.authz_polls += other.authz_polls;
    }

    pub fn report(&mut self) -> Value {
        json!({
            "order": summary(&mut self.order),
            "new_order": summary(&mut self.new_order),
            "authz": summary(&mut self.authz),
            "challenge": summary(&mut self.challenge),
            "finalize": summary(&mut self.finalize),
            "poll": summary(&mut self.poll),
            "download": summary(&mut self.download),
        })
    }
}

/// Nearest-rank percentile of sorted `v` (`p` in 0..=100).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn round(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// count, p50, p90, p99, max and mean in milliseconds.
pub fn summary(v: &mut [f64]) -> Value {
    v.sort_by(f64::total_cmp);
    let mean = if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    };
    json!({
        "count": v.len(),
        "p50": round(percentile(v, 50.0)),
        "p90": round(percentile(v, 90.0)),
        "p99": round(percentile(v, 99.0)),
        "max": round(v.last().copied().unwrap_or(0.0)),
        "mean": round(mean),
    })
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&[7.0], 90.0), 7.0);
        assert_eq!(percentile(&[], 90.0), 0.0);
    }
}
