//! SQL92 property filtering over TCP (features sheet §1): CHECK_CLIENT_CONFIG, pulls with the
//! expression in the header and by heartbeat, the switch, and what a bad expression gets.

mod broker_util;

use broker_util::*;
use ferrumq::protocol::{RequestCode, ResponseCode};
use ferrumq_store::message::decode_records;

const TOPIC: &str = "SqlTopic";
/// Pull flags: subscription in the header (bit2); no suspend.
const FLAG_SUB: i32 = 0x4;

async fn filtering_cluster() -> Cluster {
    Cluster::start_with(|c| c.enable_property_filter = true).await
}

/// Sends `n` messages to queue 0 with `price` = i and `region` alternating.
async fn send_priced(c: &Cluster, n: i32) {
    for i in 0..n {
        let region = if i % 2 == 0 { "hz-01" } else { "sh-02" };
        let p = props(&[("TAGS", "A"), ("price", &i.to_string()), ("region", region)]);
        let r = c
            .call(send_request(
                TOPIC,
                0,
                &p,
                format!("m{i}").into_bytes(),
                false,
            ))
            .await;
        assert_eq!(r.code, 0, "{r:?}");
    }
    c.wait_dispatched(TOPIC, 0, i64::from(n)).await;
}

fn sql_pull(expr: &str, offset: i64) -> ferrumq::protocol::RemotingCommand {
    let mut req = pull_request("g1", TOPIC, 0, offset, FLAG_SUB, expr, 0);
    req.ext_fields.insert("expressionType", "SQL92");
    req
}

fn bodies(resp: &ferrumq::protocol::RemotingCommand) -> Vec<String> {
    decode_records(&resp.body)
        .expect("records")
        .iter()
        .map(|r| String::from_utf8_lossy(r.body).into_owned())
        .collect()
}

fn check_config(kind: &str, expr: &str) -> ferrumq::protocol::RemotingCommand {
    let body = format!(
        r#"{{"clientId":"c1","group":"g1","subscriptionData":{{"expressionType":"{kind}","subString":"{expr}","subVersion":1,"topic":"{TOPIC}"}}}}"#
    );
    request(RequestCode::CheckClientConfig, &[]).with_body(body.into_bytes())
}

#[tokio::test]
async fn header_subscription_filters_on_the_broker() {
    let c = filtering_cluster().await;
    send_priced(&c, 10).await;
    let r = c
        .call(sql_pull("price >= 4 AND region STARTSWITH 'hz'", 0))
        .await;
    assert_eq!(r.response_code(), ResponseCode::Success, "{r:?}");
    assert_eq!(bodies(&r), ["m4", "m6", "m8"]);
    assert_eq!(field_i64(&r, "nextBeginOffset"), 10);

    // Nothing matches: the entries are skipped and the client retries from past them.
    let r = c.call(sql_pull("price > 100", 0)).await;
    assert_eq!(r.response_code(), ResponseCode::PullRetryImmediately);
    assert!(r.body.is_empty());
    assert_eq!(field_i64(&r, "nextBeginOffset"), 10);

    // Unknown properties are NULL: no match, never an error reply.
    let r = c.call(sql_pull("color = 'red' OR price = 3", 0)).await;
    assert_eq!(bodies(&r), ["m3"]);
    c.shutdown().await;
}

#[tokio::test]
async fn bad_expressions_are_refused_with_the_place_they_fail() {
    let c = filtering_cluster().await;
    send_priced(&c, 2).await;
    let r = c.call(check_config("SQL92", "price > 'x'")).await;
    assert_eq!(r.response_code(), ResponseCode::SubscriptionParseFailed);
    let remark = r.remark.unwrap_or_default();
    assert!(remark.contains("position"), "{remark}");
    let r = c.call(check_config("SQL92", "price > 1")).await;
    assert_eq!(r.response_code(), ResponseCode::Success, "{r:?}");
    let r = c.call(check_config("XPATH", "a")).await;
    assert_eq!(r.response_code(), ResponseCode::SubscriptionParseFailed);

    // RocketMQ pulls with an uncompilable header expression unfiltered; FerrumQ refuses.
    let r = c.call(sql_pull("price >", 0)).await;
    assert_eq!(r.response_code(), ResponseCode::SubscriptionParseFailed);
    let r = c.call(sql_pull("", 0)).await;
    assert_eq!(r.response_code(), ResponseCode::SubscriptionParseFailed);
    c.shutdown().await;
}

#[tokio::test]
async fn property_filter_off_gives_rocketmqs_refusal() {
    let c = Cluster::start().await;
    send_priced(&c, 1).await;
    let r = c.call(check_config("SQL92", "price > 1")).await;
    assert_eq!(r.response_code(), ResponseCode::SystemError);
    assert_eq!(
        r.remark.as_deref(),
        Some("The broker does not support consumer to filter message by SQL92")
    );
    let r = c.call(sql_pull("price > 1", 0)).await;
    assert_eq!(r.response_code(), ResponseCode::SystemError);
    c.shutdown().await;
}

fn sql_heartbeat(expr: &str, version: i64) -> Vec<u8> {
    format!(
        r#"{{"clientID":"c1","consumerDataSet":[{{"consumeFromWhere":0,"consumeType":1,"groupName":"g1","messageModel":1,"subscriptionDataSet":[{{"expressionType":"SQL92","subString":"{expr}","subVersion":{version},"tagsSet":[],"codeSet":[],"topic":"{TOPIC}"}}]}}]}}"#
    )
    .into_bytes()
}

#[tokio::test]
async fn heartbeat_subscription_filters_pulls_without_one() {
    let c = filtering_cluster().await;
    send_priced(&c, 6).await;
    let hb = request(RequestCode::HeartBeat, &[])
        .with_body(sql_heartbeat("price < 2", 1_700_000_000_000));
    assert_eq!(c.call(hb).await.code, 0);
    let mut pull = pull_request("g1", TOPIC, 0, 0, 0, "", 0);
    pull.ext_fields.insert("subVersion", "1700000000000");
    let r = c.call(pull.clone()).await;
    assert_eq!(bodies(&r), ["m0", "m1"]);

    // A newer subscription that does not compile leaves no filter: FILTER_DATA_NOT_EXIST.
    let hb =
        request(RequestCode::HeartBeat, &[]).with_body(sql_heartbeat("price <", 1_700_000_000_001));
    assert_eq!(c.call(hb).await.code, 0);
    let r = c.call(pull).await;
    assert_eq!(r.response_code(), ResponseCode::FilterDataNotExist, "{r:?}");
    c.shutdown().await;
}
