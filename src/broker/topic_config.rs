//! Topic table (`config/topics.json`): system topics, auto-creation from TBW102, the data
//! version the NameServer compares.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

use super::config::BrokerConfig;
use super::BrokerError;
use crate::config_file as json_file;

pub const PERM_PRIORITY: i32 = 8;
pub const PERM_READ: i32 = 4;
pub const PERM_WRITE: i32 = 2;
pub const PERM_INHERIT: i32 = 1;

pub const TBW102: &str = "TBW102";
pub const SELF_TEST_TOPIC: &str = "SELF_TEST_TOPIC";
pub const BENCHMARK_TOPIC: &str = "BenchmarkTest";
pub const OFFSET_MOVED_EVENT: &str = "OFFSET_MOVED_EVENT";
pub const SCHEDULE_TOPIC: &str = "SCHEDULE_TOPIC_XXXX";
pub const RETRY_PREFIX: &str = "%RETRY%";
pub const DLQ_PREFIX: &str = "%DLQ%";

/// Topics a producer may never send to (wire doc §7.1 step 3).
const NOT_ALLOWED_SEND: [&str; 6] = [
    SCHEDULE_TOPIC,
    "RMQ_SYS_TRANS_HALF_TOPIC",
    "RMQ_SYS_TRANS_OP_HALF_TOPIC",
    "TRANS_CHECK_MAX_TIME_TOPIC",
    SELF_TEST_TOPIC,
    OFFSET_MOVED_EVENT,
];

pub fn is_send_forbidden(topic: &str) -> bool {
    NOT_ALLOWED_SEND.contains(&topic)
}

/// `^[%|a-zA-Z0-9_-]+$`, at most 127 chars (topics and groups).
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 127
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"%|_-".contains(&b))
}

/// One topic, serialised with fastjson's bean names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicConfig {
    pub topic_name: String,
    pub read_queue_nums: i32,
    pub write_queue_nums: i32,
    pub perm: i32,
    pub topic_filter_type: String,
    pub topic_sys_flag: i32,
    pub order: bool,
}

impl Default for TopicConfig {
    fn default() -> Self {
        Self::new("", 16, 6)
    }
}

impl TopicConfig {
    pub fn new(name: &str, queues: i32, perm: i32) -> Self {
        Self {
            topic_name: name.to_string(),
            read_queue_nums: queues,
            write_queue_nums: queues,
            perm,
            topic_filter_type: "SINGLE_TAG".to_string(),
            topic_sys_flag: 0,
            order: false,
        }
    }

    pub fn is_readable(&self) -> bool {
        self.perm & PERM_READ != 0
    }

    pub fn is_writeable(&self) -> bool {
        self.perm & PERM_WRITE != 0
    }
}

/// `{"counter":N,"timestamp":ms}`; bumped on every change of a table.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DataVersion {
    pub timestamp: i64,
    pub counter: i64,
}

impl DataVersion {
    pub fn now() -> Self {
        Self {
            timestamp: now_ms(),
            counter: 0,
        }
    }

    pub fn next(&mut self) {
        self.timestamp = now_ms();
        self.counter += 1;
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// topics.json / GET_ALL_TOPIC_CONFIG body / RegisterBrokerBody's wrapper.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicConfigSerializeWrapper {
    /// Shared: a lookup on the send and pull paths is a reference count, not a copy.
    pub topic_config_table: BTreeMap<String, Arc<TopicConfig>>,
    pub data_version: DataVersion,
}

/// Outcome of looking a topic up for a send.
pub enum SendTopic {
    /// Exists already.
    Existing(Arc<TopicConfig>),
    /// Created just now: the caller must register with the NameServers at once.
    Created(Arc<TopicConfig>),
}

pub struct TopicConfigManager {
    path: PathBuf,
    table: RwLock<TopicConfigSerializeWrapper>,
    /// Created on a request path (send, heartbeat, pull) and not yet written: those paths
    /// must not do disk I/O on a runtime worker, so `persist_if_dirty` runs later on a
    /// blocking thread.
    dirty: AtomicBool,
    persist_lock: parking_lot::Mutex<()>,
}

impl TopicConfigManager {
    /// Loads topics.json and adds the system topics a 4.9 broker creates at start.
    pub fn load(cfg: &BrokerConfig) -> Result<Self, BrokerError> {
        let path = cfg.config_dir().join("topics.json");
        let mut wrapper: TopicConfigSerializeWrapper = json_file::load(&path)
            .map_err(BrokerError::Config)?
            .unwrap_or_else(|| TopicConfigSerializeWrapper {
                data_version: DataVersion::now(),
                ..Default::default()
            });
        for t in system_topics(cfg) {
            wrapper
                .topic_config_table
                .entry(t.topic_name.clone())
                .or_insert_with(|| Arc::new(t));
        }
        if !cfg.auto_create_topic_enable {
            wrapper.topic_config_table.remove(TBW102);
        }
        let mgr = Self {
            path,
            table: RwLock::new(wrapper),
            dirty: AtomicBool::new(false),
            persist_lock: parking_lot::Mutex::new(()),
        };
        mgr.persist();
        Ok(mgr)
    }

    pub fn get(&self, topic: &str) -> Option<Arc<TopicConfig>> {
        self.table.read().topic_config_table.get(topic).cloned()
    }

    /// A snapshot of the whole table with its version (registration, GET_ALL_TOPIC_CONFIG).
    pub fn snapshot(&self) -> TopicConfigSerializeWrapper {
        self.table.read().clone()
    }

    pub fn data_version(&self) -> DataVersion {
        self.table.read().data_version.clone()
    }

    /// Finds `topic`, or creates it from `default_topic` (TBW102) when that has INHERIT perm:
    /// queues = min(requested, template's write queues), perm = template perm minus INHERIT.
    pub fn get_or_create_for_send(
        &self,
        topic: &str,
        default_topic: &str,
        requested_queues: i32,
    ) -> Option<SendTopic> {
        if let Some(t) = self.get(topic) {
            return Some(SendTopic::Existing(t));
        }
        let created = {
            let mut table = self.table.write();
            if let Some(t) = table.topic_config_table.get(topic) {
                return Some(SendTopic::Existing(t.clone()));
            }
            let template = table.topic_config_table.get(default_topic)?;
            if template.perm & PERM_INHERIT == 0 {
                return None;
            }
            let queues = requested_queues.clamp(1, template.write_queue_nums.max(1));
            let mut t = TopicConfig::new(topic, queues, template.perm & !PERM_INHERIT);
            t.topic_filter_type = template.topic_filter_type.clone();
            let t = Arc::new(t);
            table
                .topic_config_table
                .insert(topic.to_string(), t.clone());
            table.data_version.next();
            t
        };
        tracing::info!(
            topic,
            queues = created.write_queue_nums,
            "auto-created topic"
        );
        // A request path: no file I/O on a runtime worker. The caller (send::register_now)
        // writes it on a blocking thread before registering with the NameServers.
        self.dirty.store(true, Ordering::Release);
        Some(SendTopic::Created(created))
    }

    /// Creates a topic with a fixed queue count if missing (retry and DLQ topics).
    /// Returns the config and whether it was created.
    pub fn get_or_create_system(
        &self,
        topic: &str,
        queues: i32,
        perm: i32,
    ) -> (Arc<TopicConfig>, bool) {
        if let Some(t) = self.get(topic) {
            return (t, false);
        }
        let (t, created) = {
            let mut table = self.table.write();
            match table.topic_config_table.get(topic) {
                Some(t) => (t.clone(), false),
                None => {
                    let t = Arc::new(TopicConfig::new(topic, queues, perm));
                    table
                        .topic_config_table
                        .insert(topic.to_string(), t.clone());
                    table.data_version.next();
                    (t, true)
                }
            }
        };
        if created {
            self.dirty.store(true, Ordering::Release);
        }
        (t, created)
    }

    /// UPDATE_AND_CREATE_TOPIC.
    pub fn upsert(&self, t: TopicConfig) {
        {
            let mut table = self.table.write();
            table
                .topic_config_table
                .insert(t.topic_name.clone(), Arc::new(t));
            table.data_version.next();
        }
        self.persist();
    }

    /// A new data version without a topic change (a new broker permission changes every
    /// registered perm); written later by `persist_if_dirty`.
    pub fn bump_version(&self) {
        self.table.write().data_version.next();
        self.dirty.store(true, Ordering::Release);
    }

    /// DELETE_TOPIC_IN_BROKER; true if it existed.
    pub fn delete(&self, topic: &str) -> bool {
        let removed = {
            let mut table = self.table.write();
            let removed = table.topic_config_table.remove(topic).is_some();
            if removed {
                table.data_version.next();
            }
            removed
        };
        if removed {
            self.persist();
        }
        removed
    }

    /// A slave takes its master's table (GET_ALL_TOPIC_CONFIG) when its version differs;
    /// returns whether it changed. Written later by `persist_if_dirty`.
    pub fn mirror(&self, master: TopicConfigSerializeWrapper) -> bool {
        let mut table = self.table.write();
        if table.data_version == master.data_version
            && table.topic_config_table.len() == master.topic_config_table.len()
        {
            return false;
        }
        *table = master;
        self.dirty.store(true, Ordering::Release);
        true
    }

    /// Writes topics.json if a request path created a topic since the last write. Blocking.
    pub fn persist_if_dirty(&self) {
        if self.dirty.swap(false, Ordering::AcqRel) {
            self.persist();
        }
    }

    /// Writes topics.json (pretty, like fastjson). Failures are logged: the in-memory table
    /// stays authoritative and the next change retries.
    pub fn persist(&self) {
        // Snapshot and write under one lock, so an older snapshot never overwrites a newer one.
        let _in_order = self.persist_lock.lock();
        let text = match serde_json::to_string_pretty(&*self.table.read()) {
            Ok(t) => t,
            Err(e) => return tracing::error!(error = %e, "topics.json: encode failed"),
        };
        if let Err(e) = json_file::write_atomic(&self.path, &text) {
            tracing::error!(file = %self.path.display(), error = %e, "topics.json: write failed");
        }
    }
}

/// The topics every 4.9.8 broker creates at start (wire doc §7.9).
fn system_topics(cfg: &BrokerConfig) -> Vec<TopicConfig> {
    let mut v = vec![
        TopicConfig::new(SELF_TEST_TOPIC, 1, 6),
        TopicConfig::new(BENCHMARK_TOPIC, 1024, 6),
        TopicConfig::new(&cfg.broker_cluster_name, 16, PERM_INHERIT | 6),
        TopicConfig::new(&cfg.broker_name, 1, PERM_INHERIT | 6),
        TopicConfig::new(OFFSET_MOVED_EVENT, 1, 6),
        TopicConfig::new(SCHEDULE_TOPIC, 18, 6),
        TopicConfig::new(&format!("{}_REPLY_TOPIC", cfg.broker_cluster_name), 1, 6),
    ];
    if cfg.trace_topic_enable {
        v.push(TopicConfig::new(&cfg.msg_trace_topic_name, 1, 6));
    }
    if cfg.auto_create_topic_enable {
        let n = cfg.default_topic_queue_nums.max(1);
        v.push(TopicConfig::new(
            TBW102,
            n,
            PERM_INHERIT | PERM_READ | PERM_WRITE,
        ));
    }
    v
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn cfg(dir: &std::path::Path) -> BrokerConfig {
        let mut c = BrokerConfig::default();
        c.store.store_path_root_dir = dir.to_path_buf();
        c.broker_cluster_name = "C1".into();
        c
    }

    #[test]
    fn system_topics_and_auto_create_persist() {
        let dir = tempfile::tempdir().unwrap();
        let c = cfg(dir.path());
        let m = TopicConfigManager::load(&c).unwrap();
        assert_eq!(m.get(TBW102).unwrap().perm, 7);
        assert_eq!(m.get("C1_REPLY_TOPIC").unwrap().write_queue_nums, 1);
        let v0 = m.data_version();
        match m.get_or_create_for_send("T1", TBW102, 4) {
            Some(SendTopic::Created(t)) => {
                assert_eq!((t.read_queue_nums, t.write_queue_nums, t.perm), (4, 4, 6))
            }
            _ => panic!("expected creation"),
        }
        assert_ne!(m.data_version(), v0);
        assert!(matches!(
            m.get_or_create_for_send("T1", TBW102, 4),
            Some(SendTopic::Existing(_))
        ));
        assert!(m.get_or_create_for_send("T2", "NOPE", 4).is_none());
        // Creation on the send path writes nothing itself (it runs on a runtime worker)...
        let on_disk = std::fs::read_to_string(c.config_dir().join("topics.json")).unwrap();
        assert!(
            !on_disk.contains("\"T1\""),
            "the request path wrote topics.json"
        );
        // ...the blocking task that follows does.
        m.persist_if_dirty();
        let again = TopicConfigManager::load(&c).unwrap();
        assert_eq!(again.get("T1").unwrap().write_queue_nums, 4);
    }

    #[test]
    fn names() {
        assert!(is_valid_name("%RETRY%g-1_x|y"));
        assert!(!is_valid_name("a b"));
        assert!(!is_valid_name(""));
        assert!(!is_valid_name(&"x".repeat(128)));
        assert!(is_send_forbidden(SCHEDULE_TOPIC));
    }
}
