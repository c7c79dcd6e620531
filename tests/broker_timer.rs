//! Timer messages over TCP (features sheet §3): TIMER_DELIVER_MS / TIMER_DELAY_MS /
//! TIMER_DELAY_SEC delivered at their time on their topic and queue, never early, across a
//! broker restart; refusals for bad values, beyond timerMaxDelaySec and with the wheel off.

mod broker_util;

use std::time::{Duration, Instant};

use broker_util::*;
use ferrumq::protocol::ResponseCode;
use ferrumq_store::message::{decode_records, find_property};

const TOPIC: &str = "TimerTopic";

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn send_timed(
    c: &Cluster,
    key: &str,
    value: &str,
    body: &str,
) -> ferrumq::protocol::RemotingCommand {
    let p = props(&[(key, value), ("UNIQ_KEY", body)]);
    c.call(send_request(TOPIC, 1, &p, body.as_bytes().to_vec(), false))
        .await
}

/// (body, TIMER_OUT_MS, store time) of what queue 1 of the topic holds.
async fn delivered(c: &Cluster) -> Vec<(String, i64, i64)> {
    let r = c.call(pull_request("tg", TOPIC, 1, 0, 0x4, "*", 0)).await;
    if r.response_code() != ResponseCode::Success {
        return Vec::new();
    }
    decode_records(&r.body)
        .unwrap()
        .iter()
        .map(|m| {
            let due = find_property(m.properties, "TIMER_OUT_MS")
                .and_then(|d| d.parse().ok())
                .unwrap_or(0);
            (
                String::from_utf8_lossy(m.body).into_owned(),
                due,
                m.store_timestamp_ms,
            )
        })
        .collect()
}

async fn wait_for(c: &Cluster, n: usize) -> Vec<(String, i64, i64)> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = delivered(c).await;
        if got.len() >= n {
            return got;
        }
        assert!(Instant::now() < deadline, "only {got:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn each_property_delivers_at_its_time_never_early() {
    let c = Cluster::start().await;
    let at = now_ms() + 900;
    for (key, value, body) in [
        ("TIMER_DELIVER_MS", at.to_string(), "deliver-ms"),
        ("TIMER_DELAY_MS", "600".to_string(), "delay-ms"),
        ("TIMER_DELAY_SEC", "1".to_string(), "delay-sec"),
    ] {
        let r = send_timed(&c, key, &value, body).await;
        assert_eq!(r.code, 0, "{r:?}");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(delivered(&c).await.is_empty(), "nothing before its time");
    let got = wait_for(&c, 3).await;
    assert_eq!(got.len(), 3, "{got:?}");
    for (body, due, stored) in &got {
        assert!(*due > 0, "{body} carries TIMER_OUT_MS");
        assert!(stored >= due, "{body} stored at {stored}, due {due}: early");
    }
    let mut order: Vec<&str> = got.iter().map(|g| g.0.as_str()).collect();
    order.sort_unstable();
    assert_eq!(order, ["delay-ms", "delay-sec", "deliver-ms"]);
    c.shutdown().await;
}

#[tokio::test]
async fn a_due_time_in_the_past_is_delivered_at_once() {
    let c = Cluster::start().await;
    let r = send_timed(
        &c,
        "TIMER_DELIVER_MS",
        &(now_ms() - 5_000).to_string(),
        "late",
    )
    .await;
    assert_eq!(r.code, 0);
    let got = wait_for(&c, 1).await;
    assert_eq!(got[0].0, "late");
    c.shutdown().await;
}

#[tokio::test]
async fn bad_timer_values_are_refused() {
    let c = Cluster::start_with(|cfg| cfg.timer_max_delay_sec = 60).await;
    let r = send_timed(&c, "TIMER_DELAY_SEC", "61", "far").await;
    assert_eq!(r.response_code(), ResponseCode::MessageIllegal);
    assert!(r.remark.unwrap_or_default().contains("max delay 60000ms"));
    let r = send_timed(&c, "TIMER_DELAY_MS", "soon", "nan").await;
    assert_eq!(r.response_code(), ResponseCode::MessageIllegal);
    c.shutdown().await;

    let c = Cluster::start_with(|cfg| cfg.timer_wheel_enable = false).await;
    let r = send_timed(&c, "TIMER_DELAY_SEC", "5", "off").await;
    assert_eq!(r.response_code(), ResponseCode::SystemError);
    assert!(r.remark.unwrap_or_default().contains("timerWheelEnable"));
    c.shutdown().await;
}

#[tokio::test]
async fn scheduled_messages_survive_a_restart() {
    let mut c = Cluster::start().await;
    let at = now_ms() + 1_500;
    for i in 0..20 {
        let r = send_timed(
            &c,
            "TIMER_DELIVER_MS",
            &(at + i).to_string(),
            &format!("m{i:02}"),
        )
        .await;
        assert_eq!(r.code, 0);
    }
    // Wait until the wheel has read them, then restart before they are due.
    tokio::time::sleep(Duration::from_millis(200)).await;
    c.restart_broker().await;
    assert!(delivered(&c).await.is_empty(), "nothing before its time");
    let got = wait_for(&c, 20).await;
    assert_eq!(got.len(), 20, "none lost, none twice: {got:?}");
    for (body, due, stored) in &got {
        assert!(stored >= due, "{body} early");
    }
    c.shutdown().await;
}
