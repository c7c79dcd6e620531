//! Topics: create or update, delete, per-queue offsets, who consumes them.

use std::collections::{BTreeMap, BTreeSet};

use super::{bad_body, Admin};
use crate::client::error::ClientError;
use crate::client::message::MessageQueue;
use crate::protocol::{
    ExtFields, GroupList, JsonBody, RequestCode, TopicConfig, TopicOffset, TopicStatsTable,
};

impl Admin {
    /// Creates (or updates) a topic on every master of `cluster`, `queues` read and write
    /// queues each, perm read-write.
    pub async fn create_topic(
        &self,
        cluster: &str,
        topic: &str,
        queues: i32,
    ) -> Result<(), ClientError> {
        for addr in self.masters(cluster).await?.values() {
            self.create_topic_on(addr, topic, queues, queues, 6).await?;
        }
        Ok(())
    }

    /// Creates (or updates) a topic on one broker (UPDATE_AND_CREATE_TOPIC).
    pub async fn create_topic_on(
        &self,
        broker_addr: &str,
        topic: &str,
        read_queues: i32,
        write_queues: i32,
        perm: i32,
    ) -> Result<(), ClientError> {
        let mut config = TopicConfig::new(topic);
        config.read_queue_nums = read_queues;
        config.write_queue_nums = write_queues;
        config.perm = perm;
        self.update_topic_config(broker_addr, &config).await
    }

    /// Writes a whole TopicConfig to one broker (UPDATE_AND_CREATE_TOPIC): queue counts,
    /// perm, sysflag and order flag.
    pub async fn update_topic_config(
        &self,
        broker_addr: &str,
        config: &TopicConfig,
    ) -> Result<(), ClientError> {
        let mut ext = ExtFields::with_capacity(8);
        ext.insert("topic", &config.topic_name);
        ext.insert("defaultTopic", "TBW102");
        ext.insert_display("readQueueNums", config.read_queue_nums);
        ext.insert_display("writeQueueNums", config.write_queue_nums);
        ext.insert_display("perm", config.perm);
        ext.insert("topicFilterType", config.topic_filter_type.name());
        ext.insert_display("topicSysFlag", config.topic_sys_flag);
        ext.insert_display("order", config.order);
        self.broker_call(broker_addr, RequestCode::UpdateAndCreateTopic, ext)
            .await?;
        Ok(())
    }

    /// Deletes a topic from every master of `cluster`, then from every NameServer.
    pub async fn delete_topic(&self, cluster: &str, topic: &str) -> Result<(), ClientError> {
        let mut ext = ExtFields::with_capacity(2);
        ext.insert("topic", topic);
        for addr in self.masters(cluster).await?.values() {
            self.broker_call(addr, RequestCode::DeleteTopicInBroker, ext.clone())
                .await?;
        }
        ext.insert("clusterName", cluster);
        self.namesrv_all(RequestCode::DeleteTopicInNamesrv, ext, None)
            .await
    }

    /// Min and max offset and last store time of each queue of a topic on one broker
    /// (GET_TOPIC_STATS_INFO).
    pub async fn topic_stats_on(
        &self,
        broker_addr: &str,
        topic: &str,
    ) -> Result<TopicStatsTable, ClientError> {
        let mut ext = ExtFields::with_capacity(1);
        ext.insert("topic", topic);
        let resp = self
            .broker_call(broker_addr, RequestCode::GetTopicStatsInfo, ext)
            .await?;
        TopicStatsTable::decode(&resp.body).map_err(|e| bad_body(format!("stats of {topic}"), e))
    }

    /// Min and max offset and last store time of every queue of a topic, from every broker
    /// of its route.
    pub async fn topic_stats(
        &self,
        topic: &str,
    ) -> Result<BTreeMap<MessageQueue, TopicOffset>, ClientError> {
        let mut out = BTreeMap::new();
        for addr in self.route_brokers(topic).await?.values() {
            for (q, o) in self.topic_stats_on(addr, topic).await?.offset_table {
                let queue = MessageQueue {
                    topic: q.topic,
                    broker_name: q.broker_name,
                    queue_id: q.queue_id,
                };
                out.insert(queue, o);
            }
        }
        Ok(out)
    }

    /// The groups that consume a topic, as one broker knows them (QUERY_TOPIC_CONSUME_BY_WHO).
    pub async fn consumed_by(
        &self,
        broker_addr: &str,
        topic: &str,
    ) -> Result<BTreeSet<String>, ClientError> {
        let mut ext = ExtFields::with_capacity(1);
        ext.insert("topic", topic);
        let resp = self
            .broker_call(broker_addr, RequestCode::QueryTopicConsumeByWho, ext)
            .await?;
        let list =
            GroupList::decode(&resp.body).map_err(|e| bad_body(format!("groups of {topic}"), e))?;
        Ok(list.group_list)
    }
}
