//! Subscription groups (`config/subscriptionGroup.json`): per-group consume switches and
//! retry settings, auto-created on first use when `autoCreateSubscriptionGroup`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

use super::topic_config::DataVersion;
use super::BrokerError;
use crate::config_file as json_file;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SubscriptionGroupConfig {
    pub group_name: String,
    pub consume_enable: bool,
    pub consume_from_min_enable: bool,
    pub consume_broadcast_enable: bool,
    pub retry_queue_nums: i32,
    pub retry_max_times: i32,
    pub broker_id: i64,
    pub which_broker_when_consume_slowly: i64,
    pub notify_consumer_ids_changed_enable: bool,
}

impl Default for SubscriptionGroupConfig {
    fn default() -> Self {
        Self {
            group_name: String::new(),
            consume_enable: true,
            consume_from_min_enable: true,
            consume_broadcast_enable: true,
            retry_queue_nums: 1,
            retry_max_times: 16,
            broker_id: 0,
            which_broker_when_consume_slowly: 1,
            notify_consumer_ids_changed_enable: true,
        }
    }
}

#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SubscriptionGroupWrapper {
    pub subscription_group_table: BTreeMap<String, SubscriptionGroupConfig>,
    pub data_version: DataVersion,
}

pub struct SubscriptionGroupManager {
    path: PathBuf,
    auto_create: bool,
    table: RwLock<SubscriptionGroupWrapper>,
}

impl SubscriptionGroupManager {
    pub fn load(config_dir: PathBuf, auto_create: bool) -> Result<Self, BrokerError> {
        let path = config_dir.join("subscriptionGroup.json");
        let table = json_file::load(&path)
            .map_err(BrokerError::Config)?
            .unwrap_or_default();
        Ok(Self {
            path,
            auto_create,
            table: RwLock::new(table),
        })
    }

    /// Every configured group's name.
    pub fn names(&self) -> Vec<String> {
        self.table
            .read()
            .subscription_group_table
            .keys()
            .cloned()
            .collect()
    }

    pub fn get(&self, group: &str) -> Option<SubscriptionGroupConfig> {
        self.table
            .read()
            .subscription_group_table
            .get(group)
            .cloned()
    }

    /// The group's config; created with defaults when unknown and auto-creation is on.
    /// Persisting a new group is the caller's choice (`persist`), off the hot path.
    pub fn find_or_create(&self, group: &str) -> Option<(SubscriptionGroupConfig, bool)> {
        if let Some(g) = self.get(group) {
            return Some((g, false));
        }
        if !self.auto_create {
            return None;
        }
        let mut table = self.table.write();
        if let Some(g) = table.subscription_group_table.get(group) {
            return Some((g.clone(), false));
        }
        let g = SubscriptionGroupConfig {
            group_name: group.to_string(),
            ..Default::default()
        };
        table
            .subscription_group_table
            .insert(group.to_string(), g.clone());
        table.data_version.next();
        Some((g, true))
    }

    /// A slave takes its master's groups (GET_ALL_SUBSCRIPTIONGROUP_CONFIG body).
    pub fn mirror(&self, body: &[u8]) -> Result<(), String> {
        let master: SubscriptionGroupWrapper =
            serde_json::from_slice(body).map_err(|e| e.to_string())?;
        *self.table.write() = master;
        Ok(())
    }

    /// UPDATE_AND_CREATE_SUBSCRIPTIONGROUP.
    pub fn upsert(&self, g: SubscriptionGroupConfig) {
        let mut table = self.table.write();
        table
            .subscription_group_table
            .insert(g.group_name.clone(), g);
        table.data_version.next();
    }

    pub fn delete(&self, group: &str) -> bool {
        let mut table = self.table.write();
        let removed = table.subscription_group_table.remove(group).is_some();
        if removed {
            table.data_version.next();
        }
        removed
    }

    pub fn encode(&self, pretty: bool) -> String {
        let table = self.table.read().clone();
        let r = if pretty {
            serde_json::to_string_pretty(&table)
        } else {
            serde_json::to_string(&table)
        };
        r.unwrap_or_default()
    }

    /// Writes subscriptionGroup.json atomically. Blocking.
    pub fn persist(&self) -> std::io::Result<()> {
        json_file::write_atomic(&self.path, &self.encode(true))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn auto_create_and_reload() {
        let dir = tempfile::tempdir().unwrap();
        let m = SubscriptionGroupManager::load(dir.path().to_path_buf(), true).unwrap();
        let (g, created) = m.find_or_create("cg").unwrap();
        assert!(created);
        assert_eq!(g.retry_max_times, 16);
        assert!(!m.find_or_create("cg").unwrap().1);
        m.persist().unwrap();
        let again = SubscriptionGroupManager::load(dir.path().to_path_buf(), false).unwrap();
        assert!(again.get("cg").is_some());
        assert!(again.find_or_create("other").is_none());
    }
}
