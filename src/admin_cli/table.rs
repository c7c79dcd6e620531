//! Formatting shared by the subcommands: RocketMQ's perm letters, its time formats (in
//! UTC: Apache's tool uses the JVM's zone), its time arguments, and the `toString` forms
//! its output shows (TopicConfig, SubscriptionGroupConfig, MessageQueue, Java maps).

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
    fn cut_counts_characters() {
        assert_eq!(cut("abcdef", 3), "abc");
        assert_eq!(cut("ab", 3), "ab");
        assert_eq!(cut("äöü", 2), "äö");
    }
}
