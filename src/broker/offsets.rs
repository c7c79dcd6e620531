//! Committed consumer offsets (`config/consumerOffset.json`), keyed `topic@group` → queue
//! id → next offset to consume.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::BrokerError;
use crate::config_file as json_file;

type OffsetTable = BTreeMap<String, BTreeMap<i32, i64>>;

#[derive(Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct OffsetFile {
    offset_table: OffsetTable,
}

pub struct ConsumerOffsetManager {
    path: PathBuf,
    table: Mutex<HashMap<String, BTreeMap<i32, i64>>>,
}

fn key(topic: &str, group: &str) -> String {
    format!("{topic}@{group}")
}

impl ConsumerOffsetManager {
    pub fn load(config_dir: PathBuf) -> Result<Self, BrokerError> {
        let path = config_dir.join("consumerOffset.json");
        let file: OffsetFile = json_file::load(&path)
            .map_err(BrokerError::Config)?
            .unwrap_or_default();
        Ok(Self {
            path,
            table: Mutex::new(file.offset_table.into_iter().collect()),
        })
    }

    /// A slave takes its master's offsets (GET_ALL_CONSUMER_OFFSET body): the master's
    /// entries win, entries only the slave has stay.
    pub fn mirror(&self, body: &[u8]) -> Result<(), String> {
        let file: OffsetFile = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        let mut table = self.table.lock();
        for (k, queues) in file.offset_table {
            table.insert(k, queues);
        }
        Ok(())
    }

    pub fn commit(&self, group: &str, topic: &str, queue_id: i32, offset: i64) {
        self.table
            .lock()
            .entry(key(topic, group))
            .or_default()
            .insert(queue_id, offset);
    }

    pub fn query(&self, group: &str, topic: &str, queue_id: i32) -> Option<i64> {
        self.table
            .lock()
            .get(&key(topic, group))
            .and_then(|q| q.get(&queue_id).copied())
    }

    /// Offsets of one group on one topic (GET_CONSUME_STATS).
    pub fn group_topic(&self, group: &str, topic: &str) -> BTreeMap<i32, i64> {
        self.table
            .lock()
            .get(&key(topic, group))
            .cloned()
            .unwrap_or_default()
    }

    /// Topics a group has offsets for.
    pub fn topics_of_group(&self, group: &str) -> Vec<String> {
        let suffix = format!("@{group}");
        let table = self.table.lock();
        table
            .keys()
            .filter_map(|k| k.strip_suffix(&suffix))
            .map(str::to_string)
            .collect()
    }

    /// Groups with offsets on a topic.
    pub fn groups_of_topic(&self, topic: &str) -> Vec<String> {
        let prefix = format!("{topic}@");
        let table = self.table.lock();
        table
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix))
            .map(str::to_string)
            .collect()
    }

    /// Copies `src`'s offsets on a topic to `dest` (replacing `dest`'s).
    pub fn clone_topic(&self, src: &str, dest: &str, topic: &str) {
        let mut table = self.table.lock();
        if let Some(offsets) = table.get(&key(topic, src)).cloned() {
            table.insert(key(topic, dest), offsets);
        }
    }

    /// Drops a topic's offsets (DELETE_TOPIC_IN_BROKER).
    pub fn remove_topic(&self, topic: &str) {
        let prefix = format!("{topic}@");
        self.table.lock().retain(|k, _| !k.starts_with(&prefix));
    }

    /// The whole table as JSON (GET_ALL_CONSUMER_OFFSET and the file).
    pub fn encode(&self, pretty: bool) -> String {
        let file = OffsetFile {
            offset_table: self.table.lock().clone().into_iter().collect(),
        };
        let r = if pretty {
            serde_json::to_string_pretty(&file)
        } else {
            serde_json::to_string(&file)
        };
        r.unwrap_or_else(|_| "{\"offsetTable\":{}}".to_string())
    }

    /// Writes consumerOffset.json atomically. Blocking: call from a blocking thread.
    pub fn persist(&self) -> std::io::Result<()> {
        json_file::write_atomic(&self.path, &self.encode(true))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn commit_persist_reload_and_fastjson_keys() {
        let dir = tempfile::tempdir().unwrap();
        let m = ConsumerOffsetManager::load(dir.path().to_path_buf()).unwrap();
        m.commit("g", "T", 0, 12);
        m.commit("g", "T", 3, 7);
        m.persist().unwrap();
        let again = ConsumerOffsetManager::load(dir.path().to_path_buf()).unwrap();
        assert_eq!(again.query("g", "T", 3), Some(7));
        assert_eq!(again.query("g", "T", 1), None);
        assert_eq!(again.topics_of_group("g"), vec!["T".to_string()]);
        std::fs::write(
            dir.path().join("consumerOffset.json"),
            "{\"offsetTable\":{\"T2@g\":{0:5,1:9}}}",
        )
        .unwrap();
        let java = ConsumerOffsetManager::load(dir.path().to_path_buf()).unwrap();
        assert_eq!(java.query("g", "T2", 1), Some(9));
    }
}
