//! Admin requests: topics (create, delete, dump, stats), subscription groups, message
//! lookup by offset or key, runtime info, broker config.

use std::sync::Arc;
use std::time::Duration;

use ferrumq_store::{decode_record, RetentionProbe, SystemProbe};
use serde_json::json;

use super::{success, Reject, Reply};
use crate::broker::stats::Stat;
use crate::broker::subscription_group::SubscriptionGroupConfig;
use crate::broker::topic_config::{is_send_forbidden, is_valid_name, now_ms, TopicConfig, TBW102};
use crate::broker::BrokerInner;
use crate::protocol::{RemotingCommand, ResponseCode};

/// Most records one QUERY_MESSAGE returns.
const MAX_QUERY_MESSAGES: usize = 64;

pub fn view_message(inner: &BrokerInner, req: &RemotingCommand) -> Reply {
    let offset: i64 = req.ext_fields.num("offset")?;
    let rec = inner
        .store
        .lookup_message_by_offset(offset)
        .ok_or_else(|| Reject::system(format!("can not find message by the offset, {offset}")))?;
    Ok(success(req, []).with_body(rec))
}

pub fn query_message(inner: &BrokerInner, req: &RemotingCommand) -> Reply {
    let ext = &req.ext_fields;
    let topic = ext.req("topic")?;
    let key = ext.req("key")?;
    let mut max: usize = ext
        .num::<i64>("maxNum")?
        .clamp(1, MAX_QUERY_MESSAGES as i64) as usize;
    if ext.flag("_UNIQUE_KEY_QUERY") {
        max = 32;
    }
    let begin: i64 = ext.num("beginTimestamp")?;
    let end: i64 = ext.num("endTimestamp")?;
    let r = inner.store.query_message(topic, key, max, begin, end);
    let fields = [
        (
            "indexLastUpdateTimestamp",
            r.index_last_update_timestamp.to_string(),
        ),
        (
            "indexLastUpdatePhyoffset",
            r.index_last_update_phy_offset.to_string(),
        ),
    ];
    if r.messages.is_empty() {
        let mut resp = success(req, fields);
        resp.code = i32::from(ResponseCode::QueryNotFound);
        resp.remark = Some("can not find message, maybe time range not correct".to_string());
        return Ok(resp);
    }
    let body: Vec<u8> = r.messages.iter().flat_map(|m| m.iter().copied()).collect();
    Ok(success(req, fields).with_body(body))
}

pub fn runtime_info(inner: &BrokerInner, req: &RemotingCommand) -> Reply {
    let mut table = serde_json::Map::new();
    for (k, v) in inner.store.runtime_info() {
        table.insert(k, v.into());
    }
    let extra = [
        ("brokerVersionDesc", "V4_9_8".to_string()),
        ("brokerVersion", "409".to_string()),
        (
            "commitLogMinOffset",
            inner.store.commit_log_min_offset().to_string(),
        ),
        (
            "commitLogMaxOffset",
            inner.store.commit_log_max_offset().to_string(),
        ),
        (
            "dispatchBehindBytes",
            inner.store.dispatch_behind_bytes().to_string(),
        ),
        ("pullSuspendedCount", inner.holds.suspended().to_string()),
    ];
    for (k, v) in extra
        .into_iter()
        .chain(stats_keys(inner))
        .chain(ha_keys(inner))
    {
        table.insert(k.to_string(), v.into());
    }
    Ok(success(req, []).with_body(json!({ "table": table }).to_string().into_bytes()))
}

/// Replication state (FerrumQ keys; tools ignore keys they do not know): a master's HA
/// address, connected slaves and their acknowledged offset; a slave's master and how far its
/// copy goes.
fn ha_keys(inner: &BrokerInner) -> Vec<(&'static str, String)> {
    match &inner.ha {
        Some(ha) => vec![
            ("haServerAddr", inner.ha_server_addr()),
            ("haSlaveCount", ha.slaves().to_string()),
            ("haSlaveAckOffset", ha.acked_offset().to_string()),
        ],
        None => vec![
            (
                "haMasterAddress",
                inner
                    .config
                    .ha_master_address
                    .clone()
                    .or_else(|| inner.ha_master.lock().clone())
                    .unwrap_or_default(),
            ),
            (
                "haReceivedOffset",
                inner.store.replica_received_offset().to_string(),
            ),
        ],
    }
}

/// The runtime-info keys admin tools parse (features sheet §4.3): rates as three numbers over
/// 10 s, 60 s and 600 s (clusterList reads the first of `putTps` and of the transferred-TPS
/// key, under both spellings), daily totals, and store state.
fn stats_keys(inner: &BrokerInner) -> Vec<(&'static str, String)> {
    let s = &inner.stats;
    let cluster = inner.config.broker_cluster_name.as_str();
    let rates = |stat| s.rates_text(stat, cluster);
    let total_rates = {
        let r = |stat, secs| s.rate(stat, cluster, Duration::from_secs(secs));
        let sum = |secs| r(Stat::GetFound, secs) + r(Stat::GetMiss, secs);
        format!("{:.2} {:.2} {:.2}", sum(10), sum(60), sum(600))
    };
    let (put_yesterday, put_today, get_yesterday, get_today) = s.daily_totals();
    let now = now_ms();
    let up_s = (now - inner.boot_ms).max(0) / 1000;
    let store = &inner.store;
    let earliest = store
        .lookup_message_by_offset(store.commit_log_min_offset())
        .and_then(|raw| decode_record(&raw).ok().map(|r| r.store_timestamp_ms))
        .unwrap_or(0);
    let root = &inner.config.store.store_path_root_dir;
    let unflushed = (store.commit_log_max_offset() - store.commit_log_flushed_offset()).max(0);
    vec![
        ("putTps", rates(Stat::BrokerPutNums)),
        ("getTransferedTps", rates(Stat::BrokerGetNums)),
        ("getTransferredTps", rates(Stat::BrokerGetNums)),
        ("getFoundTps", rates(Stat::GetFound)),
        ("getMissTps", rates(Stat::GetMiss)),
        ("getTotalTps", total_rates),
        ("msgPutTotalYesterdayMorning", put_yesterday.to_string()),
        ("msgPutTotalTodayMorning", put_today.to_string()),
        (
            "msgPutTotalTodayNow",
            s.total(Stat::BrokerPutNums, cluster).to_string(),
        ),
        ("msgGetTotalYesterdayMorning", get_yesterday.to_string()),
        ("msgGetTotalTodayMorning", get_today.to_string()),
        (
            "msgGetTotalTodayNow",
            s.total(Stat::BrokerGetNums, cluster).to_string(),
        ),
        ("bootTimestamp", inner.boot_ms.to_string()),
        (
            "runtime",
            format!(
                "[ {} days, {} hours, {} minutes, {} seconds ]",
                up_s / 86_400,
                up_s / 3_600 % 24,
                up_s / 60 % 60,
                up_s % 60
            ),
        ),
        ("earliestMessageTimeStamp", earliest.to_string()),
        (
            "commitLogDiskRatio",
            format!("{:.4}", SystemProbe.disk_used_ratio(root)),
        ),
        ("remainHowManyDataToFlush", format!("{unflushed} B")),
        // FerrumQ has no request thread-pool queues (requests run on the connection's
        // task) and no page-cache lock: what clusterList shows as load is 0.
        ("sendThreadPoolQueueSize", "0".into()),
        ("sendThreadPoolQueueHeadWaitTimeMills", "0".into()),
        ("pullThreadPoolQueueSize", "0".into()),
        ("pullThreadPoolQueueHeadWaitTimeMills", "0".into()),
        ("pageCacheLockTimeMills", "0".into()),
    ]
}

/// VIEW_BROKER_STATS_DATA (315): one statistic's sums and rates over the last minute, hour
/// and day.
pub fn stats_data(inner: &BrokerInner, req: &RemotingCommand) -> Reply {
    let ext = &req.ext_fields;
    let (name, key) = (ext.req("statsName")?, ext.req("statsKey")?);
    let data = inner
        .stats
        .stats_data(name, key)
        .ok_or_else(|| Reject::system(format!("The stats <{name}> <{key}> not exist")))?;
    Ok(success(req, []).with_body(data.to_string().into_bytes()))
}

pub async fn create_topic(inner: &Arc<BrokerInner>, req: &RemotingCommand) -> Reply {
    let ext = &req.ext_fields;
    let topic = ext.req("topic")?;
    if !is_valid_name(topic) {
        return Err(Reject::system(format!(
            "topic[{topic}] is not a valid topic name"
        )));
    }
    if topic == inner.config.broker_cluster_name || is_send_forbidden(topic) || topic == TBW102 {
        return Err(Reject::system(format!(
            "the topic[{topic}] is conflict with system reserved words."
        )));
    }
    let queues = |k: &'static str| -> Result<i32, Reject> {
        let n: i32 = ext.opt_num(k)?.unwrap_or(8);
        if !(1..=1024).contains(&n) {
            return Err(Reject::system(format!("{k} {n} out of range 1..1024")));
        }
        Ok(n)
    };
    let mut t = TopicConfig::new(topic, 8, ext.opt_num("perm")?.unwrap_or(6));
    t.read_queue_nums = queues("readQueueNums")?;
    t.write_queue_nums = queues("writeQueueNums")?;
    t.topic_filter_type = ext
        .get("topicFilterType")
        .unwrap_or("SINGLE_TAG")
        .to_string();
    t.topic_sys_flag = ext.opt_num("topicSysFlag")?.unwrap_or(0);
    t.order = ext.flag("order");
    let i = inner.clone();
    blocking(move || i.topics.upsert(t)).await?;
    super::send::register_now(inner).await;
    Ok(success(req, []))
}

pub async fn delete_topic(inner: &Arc<BrokerInner>, req: &RemotingCommand) -> Reply {
    let topic = req.ext_fields.req("topic")?.to_string();
    if is_send_forbidden(&topic) || topic == TBW102 {
        return Err(Reject::system(format!(
            "the topic[{topic}] is a system topic"
        )));
    }
    let i = inner.clone();
    blocking(move || {
        i.topics.delete(&topic);
        i.offsets.remove_topic(&topic);
        i.store.delete_topics(std::slice::from_ref(&topic));
    })
    .await?;
    Ok(success(req, []))
}

pub fn all_topic_config(inner: &BrokerInner, req: &RemotingCommand) -> Reply {
    let body = serde_json::to_string(&inner.topics.snapshot())
        .map_err(|e| Reject::system(e.to_string()))?;
    Ok(success(req, []).with_body(body.into_bytes()))
}

/// TopicStatsTable in fastjson's form (MessageQueue objects as keys).
pub fn topic_stats(inner: &BrokerInner, req: &RemotingCommand) -> Reply {
    let topic = req.ext_fields.req("topic")?;
    let cfg = inner.topics.get(topic).ok_or_else(|| {
        Reject::new(
            ResponseCode::TopicNotExist,
            format!("topic[{topic}] not exist"),
        )
    })?;
    let mut entries = Vec::new();
    for q in 0..cfg.write_queue_nums {
        let min = inner.store.min_offset_in_queue(topic, q);
        let max = inner.store.max_offset_in_queue(topic, q);
        let last = if max > 0 {
            inner.store.store_time_at(topic, q, max - 1).unwrap_or(0)
        } else {
            0
        };
        let key = json!({"brokerName": inner.config.broker_name, "queueId": q, "topic": topic});
        let val = json!({"minOffset": min, "maxOffset": max, "lastUpdateTimestamp": last});
        entries.push(format!("{key}:{val}"));
    }
    let body = format!("{{\"offsetTable\":{{{}}}}}", entries.join(","));
    Ok(success(req, []).with_body(body.into_bytes()))
}

pub async fn create_group(inner: &Arc<BrokerInner>, req: &RemotingCommand) -> Reply {
    let g: SubscriptionGroupConfig = crate::protocol::lenient::from_slice(&req.body)
        .map_err(|e| Reject::system(format!("bad SubscriptionGroupConfig: {e}")))?;
    if !is_valid_name(&g.group_name) {
        return Err(Reject::system(format!(
            "group name [{}] is not valid",
            g.group_name
        )));
    }
    let i = inner.clone();
    blocking(move || {
        i.groups.upsert(g);
        i.groups.persist()
    })
    .await?
    .map_err(|e| Reject::system(format!("subscriptionGroup.json: {e}")))?;
    Ok(success(req, []))
}

pub fn all_groups(inner: &BrokerInner, req: &RemotingCommand) -> Reply {
    Ok(success(req, []).with_body(inner.groups.encode(false).into_bytes()))
}

pub async fn delete_group(inner: &Arc<BrokerInner>, req: &RemotingCommand) -> Reply {
    let group = req.ext_fields.req("groupName")?.to_string();
    let i = inner.clone();
    blocking(move || {
        i.groups.delete(&group);
        i.groups.persist()
    })
    .await?
    .map_err(|e| Reject::system(format!("subscriptionGroup.json: {e}")))?;
    Ok(success(req, []))
}

pub fn broker_config(inner: &BrokerInner, req: &RemotingCommand) -> Reply {
    let version = serde_json::to_string(&inner.topics.data_version()).unwrap_or_default();
    let config = inner.live.effective(&inner.config);
    Ok(success(req, [("version", version)]).with_body(config.to_properties().into_bytes()))
}

/// UPDATE_BROKER_CONFIG (25): properties text; only the live keys (`live_config.rs`) may
/// change. A new brokerPermission reaches the NameServers at once (a new data version makes
/// them take the re-registered topic perms), as in RocketMQ.
pub async fn update_broker_config(inner: &Arc<BrokerInner>, req: &RemotingCommand) -> Reply {
    let text = std::str::from_utf8(&req.body)
        .map_err(|e| Reject::system(format!("body is not UTF-8: {e}")))?;
    let props: std::collections::BTreeMap<String, String> =
        crate::protocol::properties::parse_properties(text)
            .into_iter()
            .collect();
    if props.is_empty() {
        return Err(Reject::system("no property in the body".to_string()));
    }
    inner
        .live
        .update(&inner.config, &props)
        .map_err(Reject::system)?;
    if props.contains_key("brokerPermission") {
        inner.topics.bump_version();
        super::send::register_now(inner).await;
    }
    Ok(success(req, []))
}

/// Runs file-touching work off the runtime's worker threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, Reject> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Reject::system(format!("task failed: {e}")))
}
