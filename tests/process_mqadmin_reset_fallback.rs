//! `mqadmin resetOffsetByTime` against a broker that behaves like Apache RocketMQ 4.9.8 when
//! the group has no consumer online: INVOKE_BROKER_TO_RESET_OFFSET answers
//! CONSUMER_NOT_ONLINE (206), and the tool falls back to the old method (fact sheet §6):
//! GET_CONSUME_STATS, then per queue SEARCH_OFFSET_BY_TIMESTAMP (GET_MAX_OFFSET for `now`)
//! and UPDATE_CONSUMER_OFFSET. FerrumQ's own broker sets the offsets itself, as 5.x does,
//! so this path needs a stand-in: one in-process server that is NameServer and broker.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::BoxFuture;
use parking_lot::Mutex;

use ferrumq::protocol::{
    BrokerData, ConsumeStats, JsonBody, MessageQueue, OffsetWrapper, QueueData, RemotingCommand,
    RequestCode, ResponseCode, TopicRouteData,
};
use ferrumq::remoting::{ConnectionContext, RemotingServer, RequestProcessor, ServerConfig};

/// The stand-in: topic `FbT` with two queues on broker `fb` (this server); group `g` has
/// offsets 7 (of 10) and 5 (of 5); a search by time finds offset 3.
struct Apache498 {
    addr: Mutex<String>,
    /// (queueId, commitOffset) of every UPDATE_CONSUMER_OFFSET, in order.
    updates: Mutex<Vec<(i32, i64)>>,
}

fn max_of(queue: i32) -> i64 {
    if queue == 0 {
        10
    } else {
        5
    }
}

impl Apache498 {
    fn answer(&self, req: &RemotingCommand) -> RemotingCommand {
        let ok = |req: &RemotingCommand| req.response_to(ResponseCode::Success, None);
        let queue: i32 = req
            .ext_fields
            .get("queueId")
            .and_then(|q| q.parse().ok())
            .unwrap_or(-1);
        match req.request_code() {
            RequestCode::GetRouteinfoByTopic => {
                let route = TopicRouteData {
                    broker_datas: vec![BrokerData {
                        broker_addrs: BTreeMap::from([(0, self.addr.lock().clone())]),
                        broker_name: "fb".into(),
                        cluster: "C".into(),
                        ..Default::default()
                    }],
                    queue_datas: vec![QueueData {
                        broker_name: "fb".into(),
                        perm: 6,
                        read_queue_nums: 2,
                        write_queue_nums: 2,
                        topic_sys_flag: 0,
                    }],
                    ..Default::default()
                };
                ok(req).with_body(route.encode())
            }
            RequestCode::InvokeBrokerToResetOffset => req.response_to(
                ResponseCode::ConsumerNotOnline,
                "Consumer not online, so can not reset offset, Group: g Topic: FbT".to_string(),
            ),
            RequestCode::GetConsumeStats => {
                let mq = |id| MessageQueue {
                    broker_name: "fb".into(),
                    queue_id: id,
                    topic: "FbT".into(),
                };
                let w = |b, c| OffsetWrapper {
                    broker_offset: b,
                    consumer_offset: c,
                    last_timestamp: 1,
                };
                let stats = ConsumeStats {
                    offset_table: BTreeMap::from([(mq(0), w(10, 7)), (mq(1), w(5, 5))]),
                    consume_tps: 0.0,
                };
                ok(req).with_body(stats.encode_fastjson())
            }
            RequestCode::SearchOffsetByTimestamp => {
                let mut r = ok(req);
                r.ext_fields.insert("offset", "3");
                r
            }
            RequestCode::GetMaxOffset => {
                let mut r = ok(req);
                r.ext_fields.insert_display("offset", max_of(queue));
                r
            }
            RequestCode::UpdateConsumerOffset => {
                let offset = req
                    .ext_fields
                    .get("commitOffset")
                    .and_then(|o| o.parse().ok())
                    .unwrap_or(-1);
                self.updates.lock().push((queue, offset));
                ok(req)
            }
            _ => ferrumq::remoting::not_supported(req),
        }
    }
}

impl RequestProcessor for Apache498 {
    fn process(
        &self,
        _ctx: ConnectionContext,
        req: RemotingCommand,
    ) -> BoxFuture<'static, Option<RemotingCommand>> {
        let resp = self.answer(&req);
        Box::pin(async move { Some(resp) })
    }
}

async fn mqadmin(args: Vec<String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_mqadmin"))
            .args(&args)
            .env_remove("NAMESRV_ADDR")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn falls_back_to_setting_offsets_queue_by_queue() {
    let fake = Arc::new(Apache498 {
        addr: Mutex::new(String::new()),
        updates: Mutex::new(Vec::new()),
    });
    let server = RemotingServer::bind(
        "127.0.0.1:0".parse().unwrap(),
        ServerConfig::default(),
        fake.clone(),
    )
    .await
    .unwrap();
    let addr = server.local_addr().to_string();
    *fake.addr.lock() = addr.clone();
    let args = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = ["resetOffsetByTime", "-n", &addr, "-g", "g", "-t", "FbT"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };

    // Forced (the default): every queue goes to the offset found for the time.
    let o = mqadmin(args(&["-s", "1000"])).await;
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "rollback consumer offset by specified consumerGroup[g], topic[FbT], force[true], timestamp(string)[1000], timestamp(long)[1000]"
    );
    let row = |cells: [&str; 6]| {
        format!(
            "{:<20}  {:<20}  {:<20}  {:<20}  {:<20}  {:<20}",
            cells[0], cells[1], cells[2], cells[3], cells[4], cells[5]
        )
    };
    assert_eq!(
        lines[1],
        row([
            "#brokerName",
            "#queueId",
            "#brokerOffset",
            "#consumerOffset",
            "#timestampOffset",
            "#rollbackOffset"
        ])
    );
    assert_eq!(lines[2], row(["fb", "0", "10", "7", "3", "3"]));
    assert_eq!(lines[3], row(["fb", "1", "5", "5", "3", "3"]));
    assert_eq!(*fake.updates.lock(), [(0, 3), (1, 3)]);

    // `now` without force: the end of each queue is ahead of queue 0's offset, so only
    // queue 1 (already at its end) is written.
    fake.updates.lock().clear();
    let o = mqadmin(args(&["-s", "now", "-f", "false"])).await;
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[2], row(["fb", "0", "10", "7", "10", "7"]));
    assert_eq!(lines[3], row(["fb", "1", "5", "5", "5", "5"]));
    assert_eq!(*fake.updates.lock(), [(1, 5)]);
}
