//! What `mqbench` puts in a message body, and the consumer's check of it.
//!
//! Body layout (big-endian), padded with `b'x'` to the requested size:
//! `magic "FQB1" (4) | run id (8) | sequence number (8) | send time, µs since the epoch (8)`.
//! A run id per producer process lets consumers tell runs apart in a reused topic.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

const MAGIC: &[u8; 4] = b"FQB1";
/// Bytes the stamp takes; smaller requested sizes still carry the whole stamp.
pub const STAMP_BYTES: usize = 28;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub run_id: u64,
    pub seq: u64,
    pub sent_at_us: u64,
}

pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

pub fn encode(stamp: Stamp, size: usize) -> Vec<u8> {
    let mut body = Vec::with_capacity(size.max(STAMP_BYTES));
    body.extend_from_slice(MAGIC);
    body.extend_from_slice(&stamp.run_id.to_be_bytes());
    body.extend_from_slice(&stamp.seq.to_be_bytes());
    body.extend_from_slice(&stamp.sent_at_us.to_be_bytes());
    body.resize(size.max(STAMP_BYTES), b'x');
    body
}

/// `None` for bodies `mqbench` did not write.
pub fn decode(body: &[u8]) -> Option<Stamp> {
    let word = |at: usize| -> Option<u64> {
        let bytes: [u8; 8] = body.get(at..at + 8)?.try_into().ok()?;
        Some(u64::from_be_bytes(bytes))
    };
    if body.get(..4)? != MAGIC {
        return None;
    }
    Some(Stamp {
        run_id: word(4)?,
        seq: word(12)?,
        sent_at_us: word(20)?,
    })
}

/// Counts, per run, which sequence numbers arrived: gaps and duplicates.
#[derive(Default)]
pub struct SeqTracker {
    runs: HashMap<u64, Vec<u8>>,
    pub duplicates: u64,
    pub foreign: u64,
}

impl SeqTracker {
    pub fn observe(&mut self, stamp: Option<Stamp>) {
        let Some(stamp) = stamp else {
            self.foreign += 1;
            return;
        };
        let seen = self.runs.entry(stamp.run_id).or_default();
        let Ok(seq) = usize::try_from(stamp.seq) else {
            self.foreign += 1;
            return;
        };
        if seen.len() <= seq {
            seen.resize(seq + 1, 0);
        }
        if let Some(slot) = seen.get_mut(seq) {
            if *slot > 0 {
                self.duplicates += 1;
            }
            *slot = slot.saturating_add(1);
        }
    }

    /// Sequence numbers below the highest seen one of each run that never arrived.
    pub fn gaps(&self) -> u64 {
        self.runs
            .values()
            .map(|seen| seen.iter().filter(|&&n| n == 0).count() as u64)
            .sum()
    }

    pub fn runs(&self) -> usize {
        self.runs.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamp_round_trips_at_any_size() {
        let stamp = Stamp {
            run_id: 7,
            seq: 42,
            sent_at_us: 1_700_000_000_000_000,
        };
        for size in [0, 10, STAMP_BYTES, 1024] {
            let body = encode(stamp, size);
            assert_eq!(body.len(), size.max(STAMP_BYTES));
            assert_eq!(decode(&body), Some(stamp));
        }
        assert_eq!(decode(b"not a bench body at all, no no no"), None);
    }

    #[test]
    fn tracker_reports_gaps_and_duplicates() {
        let mut t = SeqTracker::default();
        for seq in [0, 1, 3, 3, 5] {
            t.observe(Some(Stamp {
                run_id: 1,
                seq,
                sent_at_us: 0,
            }));
        }
        t.observe(None);
        assert_eq!(t.gaps(), 2); // 2 and 4
        assert_eq!(t.duplicates, 1);
        assert_eq!(t.foreign, 1);
    }
}
