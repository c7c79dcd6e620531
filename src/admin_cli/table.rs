//! Formatting shared by the subcommands: RocketMQ's perm letters, its time formats (in
//! UTC: Apache's tool uses the JVM's zone), its time arguments, and the `toString` forms
//! its output shows (TopicConfig, SubscriptionGroupConfig, MessageQueue, Java maps).

use crate::client::MessageQueue;
use crate::protocol::{SubscriptionGroupConfig, TopicConfig};

/// RocketMQ's PermName.perm2String: R, W, X (inherit) or `-`.
pub fn perm_letters(perm: i32) -> String {
    [(4, 'R'), (2, 'W'), (1, 'X')]
        .iter()
        .map(|(bit, c)| if perm & bit != 0 { *c } else { '-' })
        .collect()
}

/// (date, time of day in ms) of an epoch-ms instant, UTC.
fn civil(ms: i64) -> ((i64, i64, i64), i64) {
    let days = ms.div_euclid(86_400_000);
    (
        ferrumq_store::civil_from_days(days),
        ms.rem_euclid(86_400_000),
    )
}

/// `yyyy-MM-dd HH:mm:ss` (the "LastTime" columns), `N/A` for 0.
pub fn last_time(ms: i64) -> String {
    if ms <= 0 {
        return "N/A".into();
    }
    let ((y, mo, d), t) = civil(ms);
    let s = t / 1000;
    format!(
        "{y:04}-{mo:02}-{d:02} {:02}:{:02}:{:02}",
        s / 3_600,
        s / 60 % 60,
        s % 60
    )
}

/// `yyyy-MM-dd HH:mm:ss,SSS` (UtilAll.timeMillisToHumanString2), empty for 0.
pub fn human_ms(ms: i64) -> String {
    if ms <= 0 {
        return String::new();
    }
    let ((y, mo, d), t) = civil(ms);
    let s = t / 1000;
    format!(
        "{y:04}-{mo:02}-{d:02} {:02}:{:02}:{:02},{:03}",
        s / 3_600,
        s / 60 % 60,
        s % 60,
        t % 1000
    )
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's days_from_civil).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A time argument: epoch milliseconds or `yyyy-MM-dd#HH:mm:ss:SSS` (read as UTC).
pub fn parse_time(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if let Ok(ms) = s.parse::<i64>() {
        return Ok(ms);
    }
    let bad = || format!("time {s:?}: give epoch milliseconds or yyyy-MM-dd#HH:mm:ss:SSS");
    let (date, time) = s.split_once('#').ok_or_else(bad)?;
    let nums = |t: &str, sep: char| -> Result<Vec<i64>, String> {
        t.split(sep)
            .map(|p| p.parse::<i64>().map_err(|_| bad()))
            .collect()
    };
    let (d, t) = (nums(date, '-')?, nums(time, ':')?);
    let [y, mo, day] = <[i64; 3]>::try_from(d).map_err(|_| bad())?;
    let [h, mi, sec, milli] = <[i64; 4]>::try_from(t).map_err(|_| bad())?;
    if !(1..=12).contains(&mo) || !(1..=31).contains(&day) || h > 23 || mi > 59 || sec > 59 {
        return Err(bad());
    }
    let days = days_from_civil(y, mo, day);
    Ok(days * 86_400_000 + ((h * 60 + mi) * 60 + sec) * 1000 + milli)
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// TopicConfig.toString.
pub fn topic_config_string(t: &TopicConfig) -> String {
    format!(
        "TopicConfig [topicName={}, readQueueNums={}, writeQueueNums={}, perm={}, topicFilterType={}, topicSysFlag={}, order={}]",
        t.topic_name,
        t.read_queue_nums,
        t.write_queue_nums,
        perm_letters(t.perm),
        t.topic_filter_type.name(),
        t.topic_sys_flag,
        t.order
    )
}

/// SubscriptionGroupConfig.toString.
pub fn group_config_string(g: &SubscriptionGroupConfig) -> String {
    format!(
        "SubscriptionGroupConfig [groupName={}, consumeEnable={}, consumeFromMinEnable={}, consumeBroadcastEnable={}, retryQueueNums={}, retryMaxTimes={}, brokerId={}, whichBrokerWhenConsumeSlowly={}, notifyConsumerIdsChangedEnable={}]",
        g.group_name,
        g.consume_enable,
        g.consume_from_min_enable,
        g.consume_broadcast_enable,
        g.retry_queue_nums,
        g.retry_max_times,
        g.broker_id,
        g.which_broker_when_consume_slowly,
        g.notify_consumer_ids_changed_enable
    )
}

/// MessageQueue.toString.
pub fn queue_string(q: &MessageQueue) -> String {
    format!(
        "MessageQueue [topic={}, brokerName={}, queueId={}]",
        q.topic, q.broker_name, q.queue_id
    )
}

/// A Java map's toString: `{k=v, k2=v2}`.
pub fn java_map<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let inner: Vec<String> = pairs.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{{{}}}", inner.join(", "))
}

/// MQVersion.getVersionDesc: the release a version ordinal stands for (V4_x_y and V5_x_y
/// count two ordinals per release, a snapshot and the release; older ones by table).
pub fn version_desc(v: i32) -> String {
    let known = [(37, "V3_0_11"), (63, "V3_1_8"), (121, "V3_4_9")];
    if let Some((_, name)) = known.iter().find(|(n, _)| *n == v) {
        return (*name).to_string();
    }
    let (major, base) = match v {
        212..=411 => (4, 212),
        412..=611 => (5, 412),
        _ => return format!("V{v}"),
    };
    let step = v - base;
    let (minor, patch) = (step / 2 / 10, step / 2 % 10);
    let snapshot = if step % 2 == 0 { "_SNAPSHOT" } else { "" };
    format!("V{major}_{minor}_{patch}{snapshot}")
}

/// The first `n` characters of `s` (Apache cuts some columns).
pub fn cut(s: &str, n: usize) -> &str {
    s.char_indices().nth(n).map_or(s, |(i, _)| &s[..i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perm_and_time() {
        assert_eq!(perm_letters(6), "RW-");
        assert_eq!(perm_letters(7), "RWX");
        assert_eq!(perm_letters(2), "-W-");
        assert_eq!(last_time(0), "N/A");
        assert_eq!(last_time(1_796_029_200_000), "2026-11-30 09:00:00");
        assert_eq!(human_ms(1_796_029_200_007), "2026-11-30 09:00:00,007");
        assert_eq!(human_ms(0), "");
    }

    #[test]
    fn time_arguments() {
        assert_eq!(parse_time("1796029200007"), Ok(1_796_029_200_007));
        assert_eq!(parse_time("2026-11-30#09:00:00:007"), Ok(1_796_029_200_007));
        assert_eq!(parse_time("1970-01-01#00:00:00:000"), Ok(0));
        assert!(parse_time("2026-13-30#09:00:00:007").is_err());
        assert!(parse_time("yesterday").is_err());
    }

    #[test]
    fn versions() {
        assert_eq!(version_desc(409), "V4_9_8");
        assert_eq!(version_desc(401), "V4_9_4");
        assert_eq!(version_desc(232), "V4_1_0_SNAPSHOT");
        assert_eq!(version_desc(317), "V4_5_2");
        assert_eq!(version_desc(413), "V5_0_0");
        assert_eq!(version_desc(479), "V5_3_3");
        assert_eq!(version_desc(63), "V3_1_8");
    }

    #[test]
    fn cut_counts_characters() {
        assert_eq!(cut("abcdef", 3), "abc");
        assert_eq!(cut("ab", 3), "ab");
        assert_eq!(cut("äöü", 2), "äö");
    }
}
