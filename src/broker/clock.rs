//! The wall clock the broker's time-based delivery (delay levels) reads. Tests shift it, so
//! "not delivered before its delay" is decided by the clock they move, not by how fast the
//! machine happens to be.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// System time, optionally shifted by a test.
#[derive(Clone, Debug, Default)]
pub struct BrokerClock {
    shift_ms: Option<Arc<AtomicI64>>,
}

impl BrokerClock {
    /// A clock that follows system time until `advance` moves it ahead.
    pub fn shiftable() -> Self {
        Self {
            shift_ms: Some(Arc::new(AtomicI64::new(0))),
        }
    }

    /// Milliseconds since the epoch.
    pub fn now_ms(&self) -> i64 {
        let shift = self
            .shift_ms
            .as_ref()
            .map_or(0, |s| s.load(Ordering::Acquire));
        super::topic_config::now_ms().saturating_add(shift)
    }

    /// Moves a shiftable clock ahead (no effect on the system clock).
    pub fn advance(&self, ms: i64) {
        if let Some(s) = &self.shift_ms {
            s.fetch_add(ms, Ordering::AcqRel);
        }
    }
}
