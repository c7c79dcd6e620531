//! Read side of the route table: routes and topic lists.

use std::collections::BTreeSet;

use super::routes::{RouteTable, MASTER_ID};
use crate::protocol::{TopicList, TopicRouteData};

/// TopicSysFlag bits (unit topics).
const FLAG_UNIT: i32 = 0x1;
const FLAG_UNIT_SUB: i32 = 0x2;

/// Which unit-topic list (codes 311–313).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitFilter {
    Unit,
    HasUnitSub,
    HasUnitSubUnunit,
}

impl RouteTable {
    /// The route of a topic, or None when it has no queues or none of its brokers exist.
    pub fn pickup_route(&self, topic: &str) -> Option<TopicRouteData> {
        let t = self.inner.read();
        let queues = t.topic_queue.get(topic)?;
        let mut route = TopicRouteData {
            queue_datas: queues.values().cloned().collect(),
            ..Default::default()
        };
        for name in queues.keys() {
            if let Some(bd) = t.broker_addr.get(name) {
                for addr in bd.broker_addrs.values() {
                    if let Some(fs) = t.filter_server.get(addr) {
                        route.filter_server_table.insert(addr.clone(), fs.clone());
                    }
                }
                route.broker_datas.push(bd.clone());
            }
        }
        (!route.broker_datas.is_empty() && !route.queue_datas.is_empty()).then_some(route)
    }

    pub fn all_topics(&self) -> TopicList {
        let t = self.inner.read();
        TopicList {
            broker_addr: None,
            topic_list: t.topic_queue.keys().cloned().collect(),
        }
    }

    /// Topics with a queue on any broker of the cluster.
    pub fn topics_by_cluster(&self, cluster: &str) -> TopicList {
        let t = self.inner.read();
        let names = t.cluster_addr.get(cluster).cloned().unwrap_or_default();
        let topic_list = t
            .topic_queue
            .iter()
            .filter(|(_, qs)| qs.keys().any(|b| names.contains(b)))
            .map(|(topic, _)| topic.clone())
            .collect();
        TopicList {
            broker_addr: None,
            topic_list,
        }
    }

    /// GET_SYSTEM_TOPIC_LIST_FROM_NS: cluster names and broker names, plus a master address.
    pub fn system_topics(&self) -> TopicList {
        let t = self.inner.read();
        let mut list = BTreeSet::new();
        let mut broker_addr = None;
        for (cluster, names) in &t.cluster_addr {
            list.insert(cluster.clone());
            for name in names {
                list.insert(name.clone());
                if let Some(bd) = t.broker_addr.get(name) {
                    if let Some(a) = bd
                        .broker_addrs
                        .get(&MASTER_ID)
                        .or(bd.broker_addrs.values().next())
                    {
                        broker_addr = Some(a.clone());
                    }
                }
            }
        }
        TopicList {
            broker_addr,
            topic_list: list,
        }
    }

    pub fn unit_topics(&self, filter: UnitFilter) -> TopicList {
        let t = self.inner.read();
        let topic_list = t
            .topic_queue
            .iter()
            .filter(|(_, qs)| {
                let flag = qs.values().next().map_or(0, |q| q.topic_sys_flag);
                match filter {
                    UnitFilter::Unit => flag & FLAG_UNIT != 0,
                    UnitFilter::HasUnitSub => flag & FLAG_UNIT_SUB != 0,
                    UnitFilter::HasUnitSubUnunit => {
                        flag & FLAG_UNIT == 0 && flag & FLAG_UNIT_SUB != 0
                    }
                }
            })
            .map(|(topic, _)| topic.clone())
            .collect();
        TopicList {
            broker_addr: None,
            topic_list,
        }
    }

    /// DELETE_TOPIC_IN_NAMESRV: all of it, or only the queues on `cluster`'s brokers.
    pub fn delete_topic(&self, topic: &str, cluster: Option<&str>) {
        let mut t = self.inner.write();
        match cluster.filter(|c| !c.is_empty()) {
            None => {
                t.topic_queue.remove(topic);
            }
            Some(cluster) => {
                let names = t.cluster_addr.get(cluster).cloned().unwrap_or_default();
                if let Some(qs) = t.topic_queue.get_mut(topic) {
                    qs.retain(|b, _| !names.contains(b));
                    if qs.is_empty() {
                        t.topic_queue.remove(topic);
                    }
                }
            }
        }
    }
}
