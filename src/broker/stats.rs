//! Broker statistics, the part of RocketMQ's BrokerStatsManager that admin tools read
//! (VIEW_BROKER_STATS_DATA, the rates of GET_BROKER_RUNTIME_INFO). Each item keeps a running
//! sum and count; a sampler records them every 10 s (the last 10 minutes) and every 10
//! minutes (the last day), and a rate over a window is the difference of two samples.
//! Counting costs two relaxed atomic adds once the item exists.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use parking_lot::Mutex;
use serde_json::json;

/// The sampler's period.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(10);
const FINE_KEEP: usize = 62;
const COARSE_EVERY: Duration = Duration::from_secs(600);
const COARSE_KEEP: usize = 146;

/// The statistics RocketMQ names (`statsName` of VIEW_BROKER_STATS_DATA) that FerrumQ keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stat {
    /// key: topic; sum: messages, count: requests
    TopicPutNums,
    /// key: topic; sum: bytes
    TopicPutSize,
    /// key: `topic@group`; sum: messages pulled
    GroupGetNums,
    /// key: `topic@group`; sum: bytes pulled
    GroupGetSize,
    /// key: `topic@group`; sum: messages sent back
    SndbckPutNums,
    /// key: cluster name; sum: messages stored
    BrokerPutNums,
    /// key: cluster name; sum: messages pulled
    BrokerGetNums,
    /// key: cluster name; sum: pulls that found messages (runtime info only)
    GetFound,
    /// key: cluster name; sum: pulls that found none (runtime info only)
    GetMiss,
}

const NAMES: [(Stat, &str); 9] = [
    (Stat::TopicPutNums, "TOPIC_PUT_NUMS"),
    (Stat::TopicPutSize, "TOPIC_PUT_SIZE"),
    (Stat::GroupGetNums, "GROUP_GET_NUMS"),
    (Stat::GroupGetSize, "GROUP_GET_SIZE"),
    (Stat::SndbckPutNums, "SNDBCK_PUT_NUMS"),
    (Stat::BrokerPutNums, "BROKER_PUT_NUMS"),
    (Stat::BrokerGetNums, "BROKER_GET_NUMS"),
    (Stat::GetFound, "GET_FOUND_NUMS"),
    (Stat::GetMiss, "GET_MISS_NUMS"),
];

#[derive(Clone, Copy)]
struct Sample {
    at: Instant,
    sum: u64,
    count: u64,
}

struct Item {
    sum: AtomicU64,
    count: AtomicU64,
    /// (fine: every 10 s, coarse: every 10 min), oldest first.
    samples: Mutex<(VecDeque<Sample>, VecDeque<Sample>)>,
}

impl Item {
    fn new(now: Instant) -> Self {
        let zero = Sample {
            at: now,
            sum: 0,
            count: 0,
        };
        Item {
            sum: AtomicU64::new(0),
            count: AtomicU64::new(0),
            samples: Mutex::new((VecDeque::from([zero]), VecDeque::from([zero]))),
        }
    }

    fn current(&self, at: Instant) -> Sample {
        Sample {
            at,
            sum: self.sum.load(Relaxed),
            count: self.count.load(Relaxed),
        }
    }

    fn sample(&self, now: Instant) {
        let s = self.current(now);
        let mut g = self.samples.lock();
        let (fine, coarse) = &mut *g;
        fine.push_back(s);
        while fine.len() > FINE_KEEP {
            fine.pop_front();
        }
        if coarse
            .back()
            .is_none_or(|last| now.duration_since(last.at) >= COARSE_EVERY)
        {
            coarse.push_back(s);
            while coarse.len() > COARSE_KEEP {
                coarse.pop_front();
            }
        }
    }

    /// (sum, count, seconds) over about the last `window`: from the oldest sample inside it
    /// (or the oldest kept, for an item younger than the window) to now.
    fn over(&self, window: Duration, now: Instant) -> (u64, u64, f64) {
        let cur = self.current(now);
        let g = self.samples.lock();
        let ring = if window <= Duration::from_secs(600) {
            &g.0
        } else {
            &g.1
        };
        let from = ring
            .iter()
            .find(|s| now.duration_since(s.at) <= window)
            .or(ring.back())
            .copied()
            .unwrap_or(cur);
        let secs = now.duration_since(from.at).as_secs_f64();
        (
            cur.sum.saturating_sub(from.sum),
            cur.count.saturating_sub(from.count),
            secs,
        )
    }
}

/// All items, by statistic and key.
#[derive(Default)]
pub struct BrokerStats {
    items: [DashMap<String, Arc<Item>>; 9],
    /// Totals of BROKER_PUT_NUMS / BROKER_GET_NUMS at the start of today and yesterday (UTC).
    daily: Mutex<Daily>,
}

#[derive(Default, Clone, Copy)]
struct Daily {
    day: i64,
    put_today: u64,
    put_yesterday: u64,
    get_today: u64,
    get_yesterday: u64,
}

fn index(stat: Stat) -> usize {
    NAMES.iter().position(|(s, _)| *s == stat).unwrap_or(0)
}

impl BrokerStats {
    /// Adds `sum` (messages or bytes) and `count` (requests) to an item.
    pub fn add(&self, stat: Stat, key: &str, sum: u64, count: u64) {
        let Some(map) = self.items.get(index(stat)) else {
            return;
        };
        let item = match map.get(key) {
            Some(i) => i.clone(),
            None => map
                .entry(key.to_string())
                .or_insert_with(|| Arc::new(Item::new(Instant::now())))
                .clone(),
        };
        item.sum.fetch_add(sum, Relaxed);
        item.count.fetch_add(count, Relaxed);
    }

    fn item(&self, stat: Stat, key: &str) -> Option<Arc<Item>> {
        self.items
            .get(index(stat))
            .and_then(|m| m.get(key).map(|i| i.clone()))
    }

    /// The running total of an item.
    pub fn total(&self, stat: Stat, key: &str) -> u64 {
        self.item(stat, key).map_or(0, |i| i.sum.load(Relaxed))
    }

    /// Per-second rate of an item's sum over about the last `window`.
    pub fn rate(&self, stat: Stat, key: &str, window: Duration) -> f64 {
        let Some(item) = self.item(stat, key) else {
            return 0.0;
        };
        let (sum, _, secs) = item.over(window, Instant::now());
        if secs > 0.0 {
            sum as f64 / secs
        } else {
            0.0
        }
    }

    /// Rates over 10 s, 60 s and 600 s, as GET_BROKER_RUNTIME_INFO writes them.
    pub fn rates_text(&self, stat: Stat, key: &str) -> String {
        let r = |s| self.rate(stat, key, Duration::from_secs(s));
        format!("{:.2} {:.2} {:.2}", r(10), r(60), r(600))
    }

    /// VIEW_BROKER_STATS_DATA's BrokerStatsData for `name`/`key`, or None for an unknown
    /// statistic or an item without traffic yet.
    pub fn stats_data(&self, name: &str, key: &str) -> Option<serde_json::Value> {
        let stat = NAMES.iter().find(|(_, n)| *n == name).map(|(s, _)| *s)?;
        let item = self.item(stat, key)?;
        let now = Instant::now();
        let part = |window: u64| {
            let (sum, count, secs) = item.over(Duration::from_secs(window), now);
            let tps = if secs > 0.0 { sum as f64 / secs } else { 0.0 };
            let avgpt = if count > 0 {
                sum as f64 / count as f64
            } else {
                0.0
            };
            json!({ "avgpt": avgpt, "sum": sum, "tps": tps })
        };
        Some(json!({
            "statsDay": part(86_400),
            "statsHour": part(3_600),
            "statsMinute": part(60),
        }))
    }

    /// Records a sample of every item (every SAMPLE_EVERY) and rolls the daily totals.
    pub fn sample_all(&self, cluster: &str, now_ms: i64) {
        let now = Instant::now();
        for map in &self.items {
            for item in map.iter() {
                item.sample(now);
            }
        }
        let day = now_ms.div_euclid(86_400_000);
        let mut d = self.daily.lock();
        if d.day != day {
            let (put, get) = (
                self.total(Stat::BrokerPutNums, cluster),
                self.total(Stat::BrokerGetNums, cluster),
            );
            *d = Daily {
                day,
                put_yesterday: if d.day == 0 { put } else { d.put_today },
                put_today: put,
                get_yesterday: if d.day == 0 { get } else { d.get_today },
                get_today: get,
            };
        }
    }

    /// (put at yesterday's start, put at today's start, get at yesterday's, get at today's).
    pub fn daily_totals(&self) -> (u64, u64, u64, u64) {
        let d = *self.daily.lock();
        (d.put_yesterday, d.put_today, d.get_yesterday, d.get_today)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn sums_and_windows() {
        let s = BrokerStats::default();
        s.add(Stat::TopicPutNums, "T", 5, 1);
        s.add(Stat::TopicPutNums, "T", 3, 1);
        assert_eq!(s.total(Stat::TopicPutNums, "T"), 8);
        assert_eq!(s.total(Stat::TopicPutNums, "U"), 0);
        let d = s.stats_data("TOPIC_PUT_NUMS", "T").unwrap();
        assert_eq!(d["statsMinute"]["sum"], 8);
        assert_eq!(d["statsDay"]["avgpt"], 4.0);
        assert!(s.stats_data("TOPIC_PUT_NUMS", "U").is_none());
        assert!(s.stats_data("NO_SUCH_STAT", "T").is_none());
        s.sample_all("C", 1_700_000_000_000);
        s.add(Stat::TopicPutNums, "T", 2, 1);
        // The minute window starts at the oldest sample inside it: everything since creation.
        let d = s.stats_data("TOPIC_PUT_NUMS", "T").unwrap();
        assert_eq!(d["statsMinute"]["sum"], 10);
        assert_eq!(s.rates_text(Stat::BrokerPutNums, "C"), "0.00 0.00 0.00");
    }

    #[test]
    fn daily_totals_roll_at_midnight() {
        let s = BrokerStats::default();
        s.add(Stat::BrokerPutNums, "C", 10, 1);
        s.sample_all("C", 86_400_000 * 3 + 5);
        assert_eq!(s.daily_totals(), (10, 10, 0, 0));
        s.add(Stat::BrokerPutNums, "C", 7, 1);
        s.sample_all("C", 86_400_000 * 4 + 5);
        assert_eq!(s.daily_totals(), (10, 17, 0, 0));
    }
}
