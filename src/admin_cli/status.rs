//! consumerStatus' output: one consumer's running-info report (RocketMQ's
//! ConsumerRunningInfo.formatString sections) and the group summary with its files.

use std::collections::BTreeSet;
use std::fmt::Write;

use super::consumer::subscriptions;
use super::table::version_desc;
use crate::protocol::Connection;

/// The owned queues of a report: (topic, broker name, queue id) → process-queue info.
fn mq_table(info: &serde_json::Value) -> Vec<((String, String, i64), &serde_json::Value)> {
    let mut out: Vec<_> = info
        .get("mqTable")
        .and_then(|t| t.as_object())
        .map(|t| {
            t.iter()
                .filter_map(|(k, v)| {
                    let q: serde_json::Value = serde_json::from_str(k).ok()?;
                    let s = |f: &str| q[f].as_str().unwrap_or_default().to_string();
                    Some(((s("topic"), s("brokerName"), q["queueId"].as_i64()?), v))
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn value_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "null".into(),
        other => other.to_string(),
    }
}

/// The report text of one consumer (consumerStatus -i).
pub fn report(info: &serde_json::Value) -> String {
    let mut s = String::from("#Consumer Properties#\n");
    if let Some(props) = info.get("properties").and_then(|p| p.as_object()) {
        for (k, v) in props {
            let _ = writeln!(s, "{k:<40}: {}", value_text(v));
        }
    }
    s.push_str("\n\n#Consumer Subscription#\n");
    for (i, (topic, expr)) in subscriptions(info).iter().enumerate() {
        let _ = writeln!(
            s,
            "{:03} Topic: {topic:<40} ClassFilter: {:<8} SubExpression: {expr}",
            i + 1,
            false
        );
    }
    s.push_str("\n\n#Consumer Offset#\n");
    let _ = writeln!(
        s,
        "{:<32}  {:<32}  {:<4}  {:<20}",
        "#Topic", "#Broker Name", "#QID", "#Consumer Offset"
    );
    let table = mq_table(info);
    for ((topic, broker, qid), pq) in &table {
        let commit = pq["commitOffset"].as_i64().unwrap_or(0);
        let _ = writeln!(s, "{topic:<32}  {broker:<32}  {qid:<4}  {commit:<20}");
    }
    s.push_str("\n\n#Consumer MQ Detail#\n");
    let _ = writeln!(
        s,
        "{:<32}  {:<32}  {:<4}  {:<20}",
        "#Topic", "#Broker Name", "#QID", "#ProcessQueueInfo"
    );
    for ((topic, broker, qid), pq) in &table {
        let fields: Vec<String> = pq
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| format!("{k}={}", value_text(v)))
                    .collect()
            })
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "{topic:<32}  {broker:<32}  {qid:<4}  ProcessQueueInfo [{}]",
            fields.join(", ")
        );
    }
    s.push_str("\n\n#Consumer RT&TPS#\n");
    let _ = writeln!(
        s,
        "{:<32}  {:>14} {:>14} {:>14} {:>14} {:>18} {:>25}",
        "#Topic",
        "#Pull RT",
        "#Pull TPS",
        "#Consume RT",
        "#ConsumeOK TPS",
        "#ConsumeFailed TPS",
        "#ConsumeFailedMsgsInHour"
    );
    if let Some(status) = info.get("statusTable").and_then(|t| t.as_object()) {
        for (topic, st) in status {
            let f = |k: &str| st[k].as_f64().unwrap_or(0.0);
            let _ = writeln!(
                s,
                "{topic:<32}  {:>14.2} {:>14.2} {:>14.2} {:>14.2} {:>18.2} {:>25}",
                f("pullRT"),
                f("pullTPS"),
                f("consumeRT"),
                f("consumeOKTPS"),
                f("consumeFailedTPS"),
                st["consumeFailedMsgs"].as_i64().unwrap_or(0)
            );
        }
    }
    if let Some(j) = info
        .get("jstack")
        .and_then(|j| j.as_str())
        .filter(|j| !j.is_empty())
    {
        s.push_str("\n\n#Consumer jstack#\n");
        s.push_str(j);
        s.push('\n');
    }
    s
}

/// consumerStatus without -i: a row per client, its report written to
/// `<now-millis>/<clientId>`, then whether the group agrees on subscriptions and whether
/// each queue has one owner.
pub fn print_summary(
    infos: &[(&Connection, serde_json::Value)],
    now_ms: i64,
) -> Result<(), String> {
    println!(
        "{:<10} {:<40} {:<20} #ConsumerRunningInfoFile",
        "#Index", "#ClientId", "#Version"
    );
    let dir = std::path::PathBuf::from(now_ms.to_string());
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for (i, (c, info)) in infos.iter().enumerate() {
        let path = dir.join(&c.client_id);
        std::fs::write(&path, report(info)).map_err(|e| format!("{}: {e}", path.display()))?;
        println!(
            "{:<10} {:<40} {:<20} {}",
            i + 1,
            c.client_id,
            version_desc(c.version),
            path.display()
        );
    }
    let subs: BTreeSet<_> = infos.iter().map(|(_, i)| subscriptions(i)).collect();
    if subs.len() > 1 {
        println!("\n\nWARN: Different subscription in the same group of consumer!!!");
        return Ok(());
    }
    println!("\n\nSame subscription in the same group of consumer");
    let mut owners = BTreeSet::new();
    let balanced = infos
        .iter()
        .flat_map(|(_, i)| mq_table(i).into_iter().map(|(q, _)| q))
        .all(|q| owners.insert(q));
    println!("\n\nRebalance {}", if balanced { "OK" } else { "Failed" });
    Ok(())
}
