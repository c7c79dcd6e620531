//! The route table (wire doc §9): topics → queue data per broker name, broker names →
//! cluster and addresses, live brokers. One RwLock over everything: simple and correct.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use parking_lot::RwLock;
use tokio::time::Instant;

use crate::protocol::{perm, BrokerData, ClusterInfo, DataVersion, QueueData, TopicConfig};

/// Broker id of a master.
pub const MASTER_ID: i64 = 0;

#[derive(Debug, Clone)]
pub struct BrokerLiveInfo {
    pub last_update: Instant,
    /// Per-broker expiry (5.x `heartbeatTimeoutMillis`), else the configured default.
    pub timeout: Duration,
    pub data_version: DataVersion,
    pub ha_server_addr: String,
    /// The remoting connection the broker registered over.
    pub conn_id: Option<u64>,
}

#[derive(Default)]
pub(crate) struct Tables {
    pub(crate) topic_queue: BTreeMap<String, BTreeMap<String, QueueData>>,
    pub(crate) broker_addr: BTreeMap<String, BrokerData>,
    pub(crate) cluster_addr: BTreeMap<String, BTreeSet<String>>,
    pub(crate) broker_live: HashMap<String, BrokerLiveInfo>,
    pub(crate) filter_server: HashMap<String, Vec<String>>,
}

/// One REGISTER_BROKER, already decoded.
pub struct Registration<'a> {
    pub cluster_name: &'a str,
    pub broker_addr: &'a str,
    pub broker_name: &'a str,
    pub broker_id: i64,
    pub ha_server_addr: &'a str,
    pub data_version: &'a DataVersion,
    pub topics: &'a BTreeMap<String, TopicConfig>,
    pub filter_servers: &'a [String],
    pub conn_id: Option<u64>,
    pub timeout: Duration,
}

/// What a slave is told: its master and the master's HA address.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RegisterResult {
    pub ha_server_addr: Option<String>,
    pub master_addr: Option<String>,
}

#[derive(Default)]
pub struct RouteTable {
    pub(crate) inner: RwLock<Tables>,
}

impl RouteTable {
    pub fn register(&self, r: &Registration<'_>, now: Instant) -> RegisterResult {
        let mut t = self.inner.write();
        t.cluster_addr
            .entry(r.cluster_name.to_owned())
            .or_default()
            .insert(r.broker_name.to_owned());
        let mut register_first = !t.broker_addr.contains_key(r.broker_name);
        let bd = t
            .broker_addr
            .entry(r.broker_name.to_owned())
            .or_insert_with(|| BrokerData {
                cluster: r.cluster_name.to_owned(),
                broker_name: r.broker_name.to_owned(),
                ..Default::default()
            });
        bd.cluster = r.cluster_name.to_owned();
        // Slave → master switch: the same address under another id goes first.
        bd.broker_addrs
            .retain(|id, addr| addr != r.broker_addr || *id == r.broker_id);
        let old = bd
            .broker_addrs
            .insert(r.broker_id, r.broker_addr.to_owned());
        register_first |= old.is_none();

        if r.broker_id == MASTER_ID {
            let changed = t
                .broker_live
                .get(r.broker_addr)
                .is_none_or(|live| !live.data_version.same_as(r.data_version));
            if changed || register_first {
                for tc in r.topics.values() {
                    t.topic_queue
                        .entry(tc.topic_name.clone())
                        .or_default()
                        .insert(
                            r.broker_name.to_owned(),
                            QueueData {
                                broker_name: r.broker_name.to_owned(),
                                perm: tc.perm,
                                read_queue_nums: tc.read_queue_nums,
                                write_queue_nums: tc.write_queue_nums,
                                topic_sys_flag: tc.topic_sys_flag,
                            },
                        );
                }
            }
        }
        t.broker_live.insert(
            r.broker_addr.to_owned(),
            BrokerLiveInfo {
                last_update: now,
                timeout: r.timeout,
                data_version: r.data_version.clone(),
                ha_server_addr: r.ha_server_addr.to_owned(),
                conn_id: r.conn_id,
            },
        );
        if r.filter_servers.is_empty() {
            t.filter_server.remove(r.broker_addr);
        } else {
            t.filter_server
                .insert(r.broker_addr.to_owned(), r.filter_servers.to_vec());
        }
        slave_result(&t, r)
    }

    /// UNREGISTER_BROKER: drops the address; the broker name and its queues go when no
    /// address is left.
    pub fn unregister(&self, cluster: &str, broker_addr: &str, broker_name: &str, broker_id: i64) {
        let mut t = self.inner.write();
        t.broker_live.remove(broker_addr);
        t.filter_server.remove(broker_addr);
        let emptied = match t.broker_addr.get_mut(broker_name) {
            Some(bd) => {
                bd.broker_addrs.remove(&broker_id);
                bd.broker_addrs.is_empty()
            }
            None => false,
        };
        if emptied {
            t.broker_addr.remove(broker_name);
            if let Some(names) = t.cluster_addr.get_mut(cluster) {
                names.remove(broker_name);
                if names.is_empty() {
                    t.cluster_addr.remove(cluster);
                }
            }
            remove_broker_name_from_topics(&mut t, broker_name);
        }
    }

    /// Expiry and connection close: removes a broker address everywhere.
    fn remove_addr(t: &mut Tables, broker_addr: &str) {
        t.broker_live.remove(broker_addr);
        t.filter_server.remove(broker_addr);
        let mut emptied = Vec::new();
        for (name, bd) in t.broker_addr.iter_mut() {
            bd.broker_addrs.retain(|_, a| a != broker_addr);
            if bd.broker_addrs.is_empty() {
                emptied.push(name.clone());
            }
        }
        for name in emptied {
            t.broker_addr.remove(&name);
            t.cluster_addr.retain(|_, names| {
                names.remove(&name);
                !names.is_empty()
            });
            remove_broker_name_from_topics(t, &name);
        }
    }

    /// Removes brokers silent for longer than their timeout; returns their addresses.
    pub fn scan_not_active(&self, now: Instant) -> Vec<String> {
        let mut t = self.inner.write();
        let expired: Vec<String> = t
            .broker_live
            .iter()
            .filter(|(_, l)| now.saturating_duration_since(l.last_update) > l.timeout)
            .map(|(a, _)| a.clone())
            .collect();
        for addr in &expired {
            Self::remove_addr(&mut t, addr);
        }
        expired
    }

    /// A connection closed: brokers registered over it leave at once.
    pub fn on_connection_closed(&self, conn_id: u64) -> Vec<String> {
        let mut t = self.inner.write();
        let gone: Vec<String> = t
            .broker_live
            .iter()
            .filter(|(_, l)| l.conn_id == Some(conn_id))
            .map(|(a, _)| a.clone())
            .collect();
        for addr in &gone {
            Self::remove_addr(&mut t, addr);
        }
        gone
    }

    /// QUERY_DATA_VERSION: whether the broker's version differs; refreshes it if not.
    pub fn query_data_version(
        &self,
        broker_addr: &str,
        version: &DataVersion,
        now: Instant,
    ) -> (bool, Option<DataVersion>) {
        let mut t = self.inner.write();
        match t.broker_live.get_mut(broker_addr) {
            Some(live) => {
                let changed = !live.data_version.same_as(version);
                if !changed {
                    live.last_update = now;
                }
                (changed, Some(live.data_version.clone()))
            }
            None => (true, None),
        }
    }

    pub fn cluster_info(&self) -> ClusterInfo {
        let t = self.inner.read();
        ClusterInfo {
            broker_addr_table: t.broker_addr.clone(),
            cluster_addr_table: t.cluster_addr.clone(),
        }
    }

    /// WIPE (`add == false`) or ADD the WRITE bit on a broker's queues; returns the count.
    pub fn set_write_perm(&self, broker_name: &str, add: bool) -> i32 {
        let mut t = self.inner.write();
        let mut count = 0;
        for queues in t.topic_queue.values_mut() {
            if let Some(q) = queues.get_mut(broker_name) {
                q.perm = if add {
                    q.perm | perm::WRITE
                } else {
                    q.perm & !perm::WRITE
                };
                count += 1;
            }
        }
        count
    }
}

fn slave_result(t: &Tables, r: &Registration<'_>) -> RegisterResult {
    if r.broker_id == MASTER_ID {
        return RegisterResult::default();
    }
    let master = t
        .broker_addr
        .get(r.broker_name)
        .and_then(|bd| bd.broker_addrs.get(&MASTER_ID));
    match master.and_then(|m| t.broker_live.get(m).map(|l| (m, l))) {
        Some((m, live)) => RegisterResult {
            ha_server_addr: Some(live.ha_server_addr.clone()),
            master_addr: Some(m.clone()),
        },
        None => RegisterResult::default(),
    }
}

fn remove_broker_name_from_topics(t: &mut Tables, broker_name: &str) {
    t.topic_queue.retain(|_, queues| {
        queues.remove(broker_name);
        !queues.is_empty()
    });
}
