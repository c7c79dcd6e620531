//! PULL_MESSAGE (11) / LITE_PULL_MESSAGE (361): checks, tag filtering, the status table of
//! wire doc §7.3, offset commit, and long polling.

use std::sync::Arc;
use std::time::Duration;

use ferrumq_store::{GetMessageResult, GetMessageStatus};

use super::client::{check_property_filter, unsupported_filter};
use super::{Reject, Reply};
use crate::broker::consumer_manager::Subscription;
use crate::broker::long_polling::MAX_SUSPEND;
use crate::broker::stats::Stat;
use crate::broker::topic_config::{PERM_READ, RETRY_PREFIX};
use crate::broker::BrokerInner;
use crate::protocol::{RemotingCommand, ResponseCode};

/// Most messages and bytes one pull returns (hot data, 4.9.8 defaults).
pub const MAX_PULL_MSGS: i32 = 32;
pub const MAX_PULL_BYTES: usize = 256 * 1024;

const FLAG_COMMIT_OFFSET: i32 = 0x1;
const FLAG_SUSPEND: i32 = 0x2;
const FLAG_SUBSCRIPTION: i32 = 0x4;

pub struct PullHeader {
    pub group: String,
    pub topic: String,
    pub queue_id: i32,
    pub queue_offset: i64,
    pub max_msg_nums: i32,
    pub sys_flag: i32,
    pub commit_offset: i64,
    pub suspend_timeout_ms: u64,
    pub subscription: Option<String>,
    pub sub_version: i64,
    pub expression_type: Option<String>,
    /// Most bytes of one reply: ours, or the 5.x client's `maxMsgBytes` when smaller.
    pub max_msg_bytes: usize,
}

fn decode_header(req: &RemotingCommand) -> Result<PullHeader, Reject> {
    let ext = &req.ext_fields;
    Ok(PullHeader {
        group: ext.req("consumerGroup")?.to_string(),
        topic: ext.req("topic")?.to_string(),
        queue_id: ext.num("queueId")?,
        queue_offset: ext.num("queueOffset")?,
        max_msg_nums: ext.opt_num("maxMsgNums")?.unwrap_or(MAX_PULL_MSGS),
        sys_flag: ext.opt_num("sysFlag")?.unwrap_or(0),
        commit_offset: ext.opt_num("commitOffset")?.unwrap_or(0),
        suspend_timeout_ms: ext
            .opt_num::<i64>("suspendTimeoutMillis")?
            .unwrap_or(0)
            .max(0) as u64,
        subscription: ext.get("subscription").map(str::to_string),
        sub_version: ext.opt_num("subVersion")?.unwrap_or(0),
        expression_type: ext.get("expressionType").map(str::to_string),
        max_msg_bytes: ext
            .opt_num::<i64>("maxMsgBytes")?
            .map_or(MAX_PULL_BYTES, |b| {
                usize::try_from(b.max(1)).map_or(MAX_PULL_BYTES, |b| b.min(MAX_PULL_BYTES))
            }),
    })
}

pub async fn process(inner: &Arc<BrokerInner>, req: &RemotingCommand) -> Reply {
    let h = decode_header(req)?;
    check_access(inner, &h)?;
    let sub = subscription(inner, &h)?;
    if h.sys_flag & FLAG_COMMIT_OFFSET != 0 && !inner.config.is_slave() {
        inner
            .offsets
            .commit(&h.group, &h.topic, h.queue_id, h.commit_offset);
    }
    let (code, result) = pull_once(inner, &h, &sub);
    let may_suspend = h.sys_flag & FLAG_SUSPEND != 0 && !inner.is_shutting_down();
    if code != ResponseCode::PullNotFound || !may_suspend {
        return Ok(answer(inner, &h, req, code, result));
    }
    let hold = if inner.config.long_polling_enable {
        Duration::from_millis(h.suspend_timeout_ms).min(MAX_SUSPEND)
    } else {
        Duration::from_millis(inner.config.short_polling_time_ms)
    };
    let arrived = || inner.store.max_offset_in_queue(&h.topic, h.queue_id) > h.queue_offset;
    if inner
        .holds
        .hold(&h.topic, h.queue_id, h.queue_offset, hold, arrived)
        .await
    {
        let (code, result) = pull_once(inner, &h, &sub);
        return Ok(answer(inner, &h, req, code, result));
    }
    Ok(answer(inner, &h, req, code, result))
}

/// The reply, counted in the broker's statistics.
fn answer(
    inner: &BrokerInner,
    h: &PullHeader,
    req: &RemotingCommand,
    code: ResponseCode,
    result: GetMessageResult,
) -> RemotingCommand {
    let cluster = &inner.config.broker_cluster_name;
    if code == ResponseCode::Success {
        let (msgs, bytes) = (result.messages.len() as u64, result.total_bytes as u64);
        let key = format!("{}@{}", h.topic, h.group);
        inner.stats.add(Stat::GroupGetNums, &key, msgs, 1);
        inner.stats.add(Stat::GroupGetSize, &key, bytes, 1);
        inner.stats.add(Stat::BrokerGetNums, cluster, msgs, 1);
        inner.stats.add(Stat::GetFound, cluster, 1, 1);
    } else {
        inner.stats.add(Stat::GetMiss, cluster, 1, 1);
    }
    let suggest = suggested_broker(inner, h, &result);
    reply(req, code, result, suggest)
}

/// suggestWhichBrokerId: the master (0), unless slaveReadEnable is on and this consumer is
/// so far behind that its messages are unlikely to be in the page cache (more than
/// accessMessageInMemoryMaxRatio % of RAM behind the log's end): then the group's
/// whichBrokerWhenConsumeSlowly (a slave), as RocketMQ. Unlike RocketMQ, a slave with
/// slaveReadEnable=false still serves the pull (its master may be down) and points back at
/// the master.
fn suggested_broker(inner: &BrokerInner, h: &PullHeader, r: &GetMessageResult) -> i64 {
    if !inner.config.slave_read_enable {
        return 0;
    }
    let first = r.messages.first().and_then(|m| {
        let at = ferrumq_store::message::POS_PHYSICAL_OFFSET;
        m.get(at..at + 8)?.try_into().ok().map(i64::from_be_bytes)
    });
    let behind = first.map_or(0, |p| inner.store.commit_log_max_offset().saturating_sub(p));
    let group = inner.groups.get(&h.group);
    let ratio = inner.config.access_message_in_memory_max_ratio;
    if behind as u64 > total_memory() / 100 * ratio {
        group.map_or(1, |g| g.which_broker_when_consume_slowly)
    } else {
        group.map_or(0, |g| g.broker_id)
    }
}

fn check_access(inner: &BrokerInner, h: &PullHeader) -> Result<(), Reject> {
    let no_perm = |m: String| Reject::new(ResponseCode::NoPermission, m);
    if inner.live.broker_permission() & PERM_READ == 0 {
        return Err(no_perm(format!(
            "the broker[{}] pulling message is forbidden",
            inner.config.broker_ip1
        )));
    }
    let Some((group, _)) = inner.groups.find_or_create(&h.group) else {
        return Err(Reject::new(
            ResponseCode::SubscriptionGroupNotExist,
            format!("subscription group [{}] does not exist", h.group),
        ));
    };
    if !group.consume_enable {
        return Err(no_perm(format!(
            "subscription group no permission, {}",
            h.group
        )));
    }
    let topic = match inner.topics.get(&h.topic) {
        Some(t) => t,
        None if h.topic.starts_with(RETRY_PREFIX) => {
            inner.topics.get_or_create_system(&h.topic, 1, 6).0
        }
        // A slave can hold a topic's messages before its copy of the master's topics (every
        // 10 s) names it, and keep them after the master died in between: it serves them.
        None if inner.config.is_slave()
            && inner.store.max_offset_in_queue(&h.topic, h.queue_id) > 0 =>
        {
            Arc::new(crate::broker::topic_config::TopicConfig::new(
                &h.topic,
                h.queue_id.saturating_add(1),
                6,
            ))
        }
        None => {
            return Err(Reject::new(
                ResponseCode::TopicNotExist,
                format!("topic[{}] not exist, apply first please!", h.topic),
            ))
        }
    };
    if !topic.is_readable() {
        return Err(no_perm(format!(
            "the topic[{}] pulling message is forbidden",
            h.topic
        )));
    }
    if h.queue_id < 0 || h.queue_id >= topic.read_queue_nums {
        return Err(Reject::system(format!(
            "queueId[{}] is illegal, topic:[{}] topicConfig.readQueueNums:[{}]",
            h.queue_id, h.topic, topic.read_queue_nums
        )));
    }
    Ok(())
}

/// The subscription to filter with: the header's (sysFlag bit2, what C++ sends) or the
/// one the group registered by heartbeat.
fn subscription(inner: &BrokerInner, h: &PullHeader) -> Result<Subscription, Reject> {
    if h.sys_flag & FLAG_SUBSCRIPTION != 0 {
        let expr = h.subscription.as_deref().unwrap_or("*");
        if let Some(kind) = h
            .expression_type
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty() && !t.eq_ignore_ascii_case("TAG"))
        {
            // RocketMQ runs an expression that does not compile as no filter at all (only
            // an assert guards it); FerrumQ refuses it instead of delivering everything.
            let selector = check_property_filter(inner, kind, expr)?;
            return Ok(Subscription::with_selector(
                &h.topic,
                expr,
                h.sub_version,
                Some(selector),
            ));
        }
        return Ok(Subscription::from_expression(&h.topic, expr, h.sub_version));
    }
    let not_exist = |m: String| Reject::new(ResponseCode::SubscriptionNotExist, m);
    let Some(kind) = inner.consumers.group_kind(&h.group) else {
        return Err(not_exist(format!(
            "the consumer's group info not exist, group: {}",
            h.group
        )));
    };
    if kind.message_model == "BROADCASTING"
        && inner
            .groups
            .get(&h.group)
            .is_some_and(|g| !g.consume_broadcast_enable)
    {
        return Err(Reject::new(
            ResponseCode::NoPermission,
            "the consumer group can not consume by broadcast way",
        ));
    }
    let sub = inner
        .consumers
        .subscription(&h.group, &h.topic)
        .ok_or_else(|| {
            not_exist(format!(
                "the consumer's subscription not exist, group: {}",
                h.group
            ))
        })?;
    if sub.sub_version < h.sub_version {
        inner.consumers.forget_fingerprint(&h.group);
        return Err(Reject::new(
            ResponseCode::SubscriptionNotLatest,
            "the consumer's subscription not latest",
        ));
    }
    if sub.is_sql92() && sub.selector.is_none() {
        return Err(Reject::new(
            ResponseCode::FilterDataNotExist,
            "The broker's consumer filter data is not exist!Your expression may be wrong!",
        ));
    }
    let evaluated = sub.expression_type.eq_ignore_ascii_case("TAG")
        || (sub.is_sql92() && inner.config.enable_property_filter);
    if !evaluated {
        return Err(Reject::system(unsupported_filter(&sub.expression_type)));
    }
    Ok(sub)
}

/// One read of the queue, mapped to a response code per the §7.3 table.
fn pull_once(
    inner: &BrokerInner,
    h: &PullHeader,
    sub: &Subscription,
) -> (ResponseCode, GetMessageResult) {
    let max_msgs = h.max_msg_nums.clamp(1, MAX_PULL_MSGS);
    let filter = |tag_code: i64| sub.matches(tag_code);
    // SQL92 looks at the stored properties: an unmatched message never crosses the wire.
    let by_properties = |record: &[u8]| {
        ferrumq_store::decode_record(record).is_ok_and(|r| {
            sub.selector
                .as_ref()
                .is_some_and(|s| s.matches_properties(r.properties))
        })
    };
    let record_filter: Option<ferrumq_store::RecordFilter<'_>> = match sub.selector {
        Some(_) => Some(&by_properties),
        None => None,
    };
    let r = inner.store.get_message_filtered(
        &h.topic,
        h.queue_id,
        h.queue_offset,
        max_msgs,
        h.max_msg_bytes,
        &filter,
        record_filter,
    );
    use GetMessageStatus as S;
    let code = match r.status {
        S::Found if !r.messages.is_empty() => ResponseCode::Success,
        S::Found | S::NoMatchedMessage | S::MessageWasRemoving => {
            ResponseCode::PullRetryImmediately
        }
        S::NoMatchedLogicQueue | S::NoMessageInQueue if h.queue_offset != 0 => {
            ResponseCode::PullOffsetMoved
        }
        S::NoMatchedLogicQueue | S::NoMessageInQueue => ResponseCode::PullNotFound,
        S::OffsetFoundNull | S::OffsetOverflowOne => ResponseCode::PullNotFound,
        S::OffsetOverflowBadly | S::OffsetTooSmall => ResponseCode::PullOffsetMoved,
    };
    (code, r)
}

/// This machine's RAM in bytes (MemTotal), read once; 0 when unknown.
fn total_memory() -> u64 {
    static TOTAL: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TOTAL.get_or_init(|| {
        std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|t| {
                let line = t.lines().find(|l| l.starts_with("MemTotal:"))?;
                let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
                Some(kb * 1024)
            })
            .unwrap_or(0)
    })
}

fn reply(
    req: &RemotingCommand,
    code: ResponseCode,
    r: GetMessageResult,
    suggest: i64,
) -> RemotingCommand {
    let mut resp = req.response_to(code, None);
    let ext = &mut resp.ext_fields;
    ext.reserve(4);
    if suggest == 0 {
        ext.insert("suggestWhichBrokerId", "0");
    } else {
        ext.insert_display("suggestWhichBrokerId", suggest);
    }
    ext.insert_display("nextBeginOffset", r.next_begin_offset);
    ext.insert_display("minOffset", r.min_offset);
    ext.insert_display("maxOffset", r.max_offset);
    if code == ResponseCode::Success {
        // Slices of the mapped CommitLog, handed to the socket without a copy.
        resp.body_parts = r.messages;
    }
    resp
}
