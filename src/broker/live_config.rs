//! Broker properties that change while the broker runs (UPDATE_BROKER_CONFIG, `mqadmin
//! updateBrokerConfig`). Most of `BrokerConfig` is read once at start and shared without a
//! lock; only the keys in [`LIVE_KEYS`] can change, and a request naming any other key is
//! refused with one line saying so, instead of being accepted and silently not applied.
//! Changes are not written to the config file: a restart goes back to it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI32, Ordering};

use parking_lot::Mutex;

use super::BrokerConfig;

/// Properties UPDATE_BROKER_CONFIG may change.
pub const LIVE_KEYS: [&str; 1] = ["brokerPermission"];

/// The live values and every accepted change (GET_BROKER_CONFIG shows them).
pub struct LiveConfig {
    broker_permission: AtomicI32,
    changed: Mutex<BTreeMap<String, String>>,
}

impl LiveConfig {
    pub fn new(cfg: &BrokerConfig) -> Self {
        LiveConfig {
            broker_permission: AtomicI32::new(cfg.broker_permission),
            changed: Mutex::new(BTreeMap::new()),
        }
    }

    /// brokerPermission as it is now (perm bits: 4 read, 2 write).
    pub fn broker_permission(&self) -> i32 {
        self.broker_permission.load(Ordering::Acquire)
    }

    /// Applies `props` over `base` and the earlier changes, after checking every key is live
    /// and every value in range; nothing changes when one is refused.
    pub fn update(
        &self,
        base: &BrokerConfig,
        props: &BTreeMap<String, String>,
    ) -> Result<(), String> {
        if let Some(k) = props.keys().find(|k| !LIVE_KEYS.contains(&k.as_str())) {
            return Err(format!(
                "{k} cannot change while the broker runs (live keys: {}); set it in the config file and restart",
                LIVE_KEYS.join(", ")
            ));
        }
        let mut changed = self.changed.lock();
        let mut all = changed.clone();
        all.extend(props.clone());
        let mut next = base.clone();
        next.apply(&all).map_err(|e| e.to_string())?;
        self.broker_permission
            .store(next.broker_permission, Ordering::Release);
        *changed = all;
        Ok(())
    }

    /// `base` with the accepted changes (GET_BROKER_CONFIG).
    pub fn effective(&self, base: &BrokerConfig) -> BrokerConfig {
        let mut cfg = base.clone();
        cfg.broker_permission = self.broker_permission();
        cfg
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn props(k: &str, v: &str) -> BTreeMap<String, String> {
        BTreeMap::from([(k.to_string(), v.to_string())])
    }

    #[test]
    fn only_live_keys_in_range_change() {
        let base = BrokerConfig::default();
        let live = LiveConfig::new(&base);
        assert_eq!(live.broker_permission(), 6);
        live.update(&base, &props("brokerPermission", "4")).unwrap();
        assert_eq!(live.broker_permission(), 4);
        assert_eq!(live.effective(&base).broker_permission, 4);
        let err = live.update(&base, &props("listenPort", "1")).unwrap_err();
        assert!(err.starts_with("listenPort cannot change"), "{err}");
        assert!(live.update(&base, &props("brokerPermission", "9")).is_err());
        assert_eq!(
            live.broker_permission(),
            4,
            "a refused value changes nothing"
        );
    }
}
