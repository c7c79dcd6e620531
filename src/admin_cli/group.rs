//! Subscription group subcommands: updateSubGroup, deleteSubGroup.

use clap::Args;

use super::table::group_config_string;
use super::{describe, fail, java_bool, Common, Run};
use crate::client::Admin;
use crate::protocol::SubscriptionGroupConfig;

/// `-b` or `-c` (one required: Apache prints its usage and exits 0 without).
#[derive(Args, Debug)]
#[group(skip)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["broker", "cluster"])))]
struct Target {
    /// create subscription group to which broker
    #[arg(short = 'b', long = "brokerAddr")]
    broker: Option<String>,
    /// create subscription group to which cluster
    #[arg(short = 'c', long = "clusterName")]
    cluster: Option<String>,
}

impl Target {
    async fn masters(&self, admin: &Admin) -> Result<Vec<String>, String> {
        match (&self.broker, &self.cluster) {
            (Some(b), _) => Ok(vec![b.clone()]),
            (None, Some(c)) => Ok(admin
                .masters(c)
                .await
                .map_err(|e| fail(format!("masters of cluster {c}"), e))?
                .into_values()
                .collect()),
            (None, None) => Err("give -b <broker address> or -c <cluster>".into()),
        }
    }
}

#[derive(Args, Debug)]
pub struct UpdateSubGroup {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    target: Target,
    /// consumer group name
    #[arg(short = 'g', long = "groupName")]
    group: String,
    /// consume enable
    #[arg(short = 's', long = "consumeEnable", action = clap::ArgAction::Set, value_parser = java_bool, default_value = "true")]
    consume_enable: bool,
    /// from min offset
    #[arg(short = 'm', long = "consumeFromMinEnable", action = clap::ArgAction::Set, value_parser = java_bool, default_value = "false")]
    from_min: bool,
    /// broadcast
    #[arg(short = 'd', long = "consumeBroadcastEnable", action = clap::ArgAction::Set, value_parser = java_bool, default_value = "false")]
    broadcast: bool,
    /// retry queue nums
    #[arg(short = 'q', long = "retryQueueNums", default_value_t = 1)]
    retry_queues: i32,
    /// retry max times
    #[arg(short = 'r', long = "retryMaxTimes", default_value_t = 16)]
    retry_max: i32,
    /// consumer from which broker id
    #[arg(short = 'i', long = "brokerId", default_value_t = 0)]
    broker_id: i64,
    /// which broker id when consume slowly
    #[arg(
        short = 'w',
        long = "whichBrokerWhenConsumeSlowly",
        default_value_t = 1
    )]
    slow_broker_id: i64,
    /// notify consumerId changed
    #[arg(short = 'a', long = "notifyConsumerIdsChanged", action = clap::ArgAction::Set, value_parser = java_bool, default_value = "true")]
    notify: bool,
}

impl Run for UpdateSubGroup {
    async fn run(self) -> Result<(), String> {
        let admin = self.common.admin()?;
        let config = SubscriptionGroupConfig {
            group_name: self.group.trim().to_string(),
            consume_enable: self.consume_enable,
            consume_from_min_enable: self.from_min,
            consume_broadcast_enable: self.broadcast,
            retry_queue_nums: self.retry_queues,
            retry_max_times: self.retry_max,
            broker_id: self.broker_id,
            which_broker_when_consume_slowly: self.slow_broker_id,
            notify_consumer_ids_changed_enable: self.notify,
        };
        for addr in self.target.masters(&admin).await? {
            admin
                .update_subscription_group(&addr, &config)
                .await
                .map_err(|e| fail(format!("create group {} on {addr}", config.group_name), e))?;
            println!("create subscription group to {addr} success.");
        }
        println!("{}", group_config_string(&config));
        Ok(())
    }
}

#[derive(Args, Debug)]
pub struct DeleteSubGroup {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    target: Target,
    /// subscription group name
    #[arg(short = 'g', long = "groupName")]
    group: String,
    /// remove offset
    #[arg(short = 'r', long = "removeOffset", action = clap::ArgAction::Set, value_parser = java_bool, default_value = "false")]
    remove_offset: bool,
}

impl Run for DeleteSubGroup {
    async fn run(self) -> Result<(), String> {
        let admin = self.common.admin()?;
        let group = self.group.trim();
        for addr in self.target.masters(&admin).await? {
            admin
                .delete_subscription_group(&addr, group, self.remove_offset)
                .await
                .map_err(|e| fail(format!("delete group {group} from {addr}"), e))?;
            match &self.target.cluster {
                Some(c) if self.target.broker.is_none() => println!(
                    "delete subscription group [{group}] from broker [{addr}] in cluster [{c}] success."
                ),
                _ => println!("delete subscription group [{group}] from broker [{addr}] success."),
            }
        }
        let Some(cluster) = self
            .target
            .cluster
            .as_deref()
            .filter(|_| self.target.broker.is_none())
        else {
            return Ok(());
        };
        // The group's retry and dead-letter topics go too; as in Apache's tool, a failure
        // here is reported and does not fail the command.
        for topic in [format!("%RETRY%{group}"), format!("%DLQ%{group}")] {
            match admin.delete_topic(cluster, &topic).await {
                Ok(()) => {
                    println!("delete topic [{topic}] from cluster [{cluster}] success.");
                    println!("delete topic [{topic}] from NameServer success.");
                }
                Err(e) => eprintln!("mqadmin: warning: delete topic {topic}: {}", describe(&e)),
            }
        }
        Ok(())
    }
}
