//! Load for the kill -9 process tests: producers that remember every acknowledged send by
//! (queue, queue offset), and a reader that lists a queue from offset 0.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ferrumq::protocol::{
    CommandHeader, PullMessageRequestHeader, PullMessageResponseHeader, RemotingCommand,
    RequestCode, ResponseCode, SendMessageRequestHeader, SendMessageResponseHeader,
};
use ferrumq::remoting::RemotingClient;

pub const TIMEOUT: Duration = Duration::from_secs(10);

/// (queue id, queue offset) -> body, for every send the broker acknowledged.
pub type Acked = BTreeMap<(i32, i64), String>;

/// SEND_MESSAGE_V2 of "message {seq}" with key seq-{seq}.
pub fn send_request(topic: &str, queues: i32, queue_id: i32, seq: u64) -> RemotingCommand {
    let properties = format!("KEYS\u{1}seq-{seq}\u{2}");
    let header = SendMessageRequestHeader {
        producer_group: "kill9-producer",
        topic: topic.into(),
        default_topic_queue_nums: queues,
        queue_id,
        born_timestamp: Some(0),
        properties: &properties,
        ..Default::default()
    };
    RemotingCommand::new_request(RequestCode::SendMessageV2, header.to_ext(true))
        .with_body(format!("message {seq}").into_bytes())
}

/// Sends seq = first, first + step, ... round-robin over the queues until `stop`; returns
/// what was acknowledged with SEND_OK (anything else was never acknowledged).
pub async fn produce_until_stopped(
    client: RemotingClient,
    addr: String,
    topic: &'static str,
    queues: i32,
    (first, step): (u64, u64),
    stop: Arc<AtomicBool>,
) -> Acked {
    let mut acked = Acked::new();
    let mut seq = first;
    while !stop.load(Ordering::Relaxed) {
        let queue_id = (seq % queues as u64) as i32;
        match client
            .invoke(&addr, send_request(topic, queues, queue_id, seq), TIMEOUT)
            .await
        {
            Ok(resp) if resp.response_code() == ResponseCode::Success => {
                let h: SendMessageResponseHeader = resp.decode_header().unwrap();
                assert_eq!(h.queue_id, queue_id);
                acked.insert((queue_id, h.queue_offset), format!("message {seq}"));
            }
            // Failures after the kill are expected; they were never acknowledged.
            _ => tokio::time::sleep(Duration::from_millis(5)).await,
        }
        seq += step;
    }
    acked
}

/// `n` producers sending round-robin (seq first, first + n, ...) until `finish`.
pub struct Load {
    stop: Arc<AtomicBool>,
    producers: Vec<tokio::task::JoinHandle<Acked>>,
}

impl Load {
    pub fn start(
        client: &RemotingClient,
        addr: &str,
        topic: &'static str,
        queues: i32,
        n: u64,
        first: u64,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let producers = (0..n)
            .map(|i| {
                tokio::spawn(produce_until_stopped(
                    client.clone(),
                    addr.to_string(),
                    topic,
                    queues,
                    (first + i, n),
                    stop.clone(),
                ))
            })
            .collect();
        Load { stop, producers }
    }

    /// Stops the producers; what was acknowledged.
    pub async fn finish(self) -> Acked {
        self.stop.store(true, Ordering::Relaxed);
        let mut acked = Acked::new();
        for p in self.producers {
            acked.extend(p.await.unwrap());
        }
        acked
    }
}

/// Every message of a queue, in offset order, read from offset 0 until the end.
pub async fn read_queue(
    client: &RemotingClient,
    addr: &str,
    topic: &str,
    queue_id: i32,
) -> Vec<(i64, String)> {
    let mut out = Vec::new();
    let mut offset = 0;
    loop {
        let header = PullMessageRequestHeader {
            consumer_group: "kill9-check".into(),
            topic: topic.into(),
            queue_id,
            queue_offset: offset,
            max_msg_nums: 32,
            sys_flag: 0x4, // subscription in the request, no suspend
            commit_offset: 0,
            suspend_timeout_millis: 0,
            subscription: Some("*".into()),
            sub_version: 0,
            expression_type: Some("TAG".into()),
            max_msg_bytes: None,
        };
        let req = RemotingCommand::new_request(RequestCode::PullMessage, header.to_ext());
        let resp = client.invoke(addr, req, TIMEOUT).await.unwrap();
        match resp.response_code() {
            ResponseCode::Success => {
                let h: PullMessageResponseHeader = resp.decode_header().unwrap();
                for rec in ferrumq_store::message::decode_records(&resp.body).unwrap() {
                    out.push((
                        rec.queue_offset,
                        String::from_utf8_lossy(rec.body).into_owned(),
                    ));
                }
                offset = h.next_begin_offset;
            }
            ResponseCode::PullNotFound => return out,
            other => panic!(
                "pull of queue {queue_id} at {offset}: {other:?} {:?}",
                resp.remark
            ),
        }
    }
}

/// Reads every queue and checks each has offsets 0..n without a hole or repeat and every
/// acknowledged message at its offset, each body once. Returns how many are stored.
pub async fn check_acked(
    client: &RemotingClient,
    addr: &str,
    topic: &str,
    queues: i32,
    acked: &Acked,
) -> usize {
    let mut stored = std::collections::HashMap::new();
    for queue_id in 0..queues {
        let messages = read_queue(client, addr, topic, queue_id).await;
        for (i, (offset, body)) in messages.into_iter().enumerate() {
            assert_eq!(
                offset, i as i64,
                "queue {queue_id} has a hole or repeat at {i}"
            );
            stored.insert((queue_id, offset), body);
        }
    }
    for ((queue_id, offset), body) in acked {
        assert_eq!(
            stored.get(&(*queue_id, *offset)),
            Some(body),
            "acknowledged message at queue {queue_id} offset {offset} lost or changed"
        );
    }
    let mut bodies: Vec<_> = stored.values().collect();
    let total = bodies.len();
    bodies.sort();
    bodies.dedup();
    assert_eq!(bodies.len(), total, "a message was stored twice");
    total
}
