//! Latency fault tolerance (RocketMQ's MQFaultStrategy): a broker that answered a send
//! slowly, or not at all, is passed over for a while so sends go to the healthy ones. The
//! pause grows with the latency seen, on RocketMQ's table: under 550 ms none, then 30 s,
//! 60 s, 120 s, 180 s, and 600 s from 15 s up. A failed send pauses the broker 30 s (RocketMQ
//! uses its 600 s step, which leaves a broker that restarted at once idle for ten minutes).
//! When every broker is paused, the one whose pause ends first is used.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Latency at or above `.0` pauses the broker for `.1`.
const STEPS: [(Duration, Duration); 5] = [
    (Duration::from_millis(15_000), Duration::from_secs(600)),
    (Duration::from_millis(3_000), Duration::from_secs(180)),
    (Duration::from_millis(2_000), Duration::from_secs(120)),
    (Duration::from_millis(1_000), Duration::from_secs(60)),
    (Duration::from_millis(550), Duration::from_secs(30)),
];
const FAILED_PAUSE: Duration = Duration::from_secs(30);

fn pause_for(latency: Duration) -> Duration {
    STEPS
        .iter()
        .find(|(at, _)| latency >= *at)
        .map_or(Duration::ZERO, |(_, pause)| *pause)
}

#[derive(Default)]
pub(crate) struct LatencyFaults {
    /// Broker name → paused until.
    paused: Mutex<HashMap<String, Instant>>,
    /// Whether `paused` has entries: the usual send skips its lock.
    any: AtomicBool,
}

impl LatencyFaults {
    /// What a send to `broker` took, or that it failed.
    pub fn record(&self, broker: &str, latency: Duration, failed: bool) {
        let pause = if failed {
            FAILED_PAUSE
        } else {
            pause_for(latency)
        };
        if pause.is_zero() && !self.any.load(Ordering::Acquire) {
            return;
        }
        let mut paused = self.paused.lock();
        if pause.is_zero() {
            // A fast answer ends an earlier pause only once it has run out.
            let now = Instant::now();
            paused.retain(|_, until| *until > now);
        } else {
            paused.insert(broker.to_string(), Instant::now() + pause);
        }
        self.any.store(!paused.is_empty(), Ordering::Release);
    }

    /// Whether no broker is paused (the lock-free fast path).
    pub fn none(&self) -> bool {
        !self.any.load(Ordering::Acquire)
    }

    /// Of `candidates` (broker names, in the order they would be used), the first not paused;
    /// else the one whose pause ends first. None only when there are no candidates.
    pub fn choose<'a>(&self, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
        let now = Instant::now();
        let paused = self.paused.lock();
        let mut least_bad: Option<(&'a str, Instant)> = None;
        for name in candidates {
            match paused.get(name) {
                Some(until) if *until > now => {
                    if least_bad.is_none_or(|(_, best)| *until < best) {
                        least_bad = Some((name, *until));
                    }
                }
                _ => return Some(name),
            }
        }
        least_bad.map(|(name, _)| name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pause_grows_with_latency() {
        assert_eq!(pause_for(Duration::from_millis(549)), Duration::ZERO);
        assert_eq!(
            pause_for(Duration::from_millis(550)),
            Duration::from_secs(30)
        );
        assert_eq!(
            pause_for(Duration::from_millis(1_500)),
            Duration::from_secs(60)
        );
        assert_eq!(pause_for(Duration::from_secs(2)), Duration::from_secs(120));
        assert_eq!(pause_for(Duration::from_secs(5)), Duration::from_secs(180));
        assert_eq!(pause_for(Duration::from_secs(20)), Duration::from_secs(600));
    }

    #[test]
    fn slow_and_failed_brokers_are_passed_over() {
        let f = LatencyFaults::default();
        f.record("a", Duration::from_millis(3), false);
        assert!(f.none(), "a fast answer pauses nothing");
        assert_eq!(f.choose(["a", "b"].into_iter()), Some("a"));
        f.record("a", Duration::from_millis(800), false);
        assert!(!f.none());
        assert_eq!(f.choose(["a", "b"].into_iter()), Some("b"), "a was slow");
        f.record("b", Duration::ZERO, true);
        // Both paused: a's 30 s pause began first, so it ends first.
        assert_eq!(f.choose(["b", "a"].into_iter()), Some("a"));
        assert_eq!(f.choose(std::iter::empty()), None);
    }
}
