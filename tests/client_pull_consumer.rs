//! The SDK's pull consumer with the SDK's producer, against a real NameServer and broker:
//! poll everything once, commit and resume from the committed offsets, seek, seek by time.

mod broker_util;

use std::collections::BTreeSet;
use std::time::Duration;

use broker_util::*;
use ferrumq::client::{Message, Producer, PullConsumer, ReceivedMessage};

async fn produce(c: &Cluster, topic: &str, n: usize) -> Vec<String> {
    let p = Producer::builder(&c.namesrv_addr())
        .group("pc-pg")
        .build()
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..n {
        let sent = p
            .send(
                Message::new(topic, format!("m{i}"))
                    .with_tags("T")
                    .with_keys([format!("k{i}")]),
            )
            .await
            .unwrap();
        c.wait_dispatched(topic, sent.queue.queue_id, sent.queue_offset + 1)
            .await;
        ids.push(sent.msg_id);
    }
    ids
}

async fn drain(consumer: &PullConsumer) -> Vec<ReceivedMessage> {
    let mut all = Vec::new();
    loop {
        let got = consumer.poll(Duration::from_millis(200)).await.unwrap();
        if got.is_empty() {
            return all;
        }
        all.extend(got);
    }
}

fn consumer(c: &Cluster, group: &str) -> PullConsumer {
    PullConsumer::builder(&c.namesrv_addr())
        .group(group)
        .pull_batch_size(4)
        .build()
        .unwrap()
}

#[tokio::test]
async fn poll_reads_everything_once_and_resumes_after_commit() {
    let c = Cluster::start().await;
    let ids = produce(&c, "PcTopic", 20).await;
    let pc = consumer(&c, "pcg");
    let queues = pc.queues("PcTopic").await.unwrap();
    assert_eq!(queues.len(), 4);
    pc.assign(queues.clone()).await.unwrap();
    let first = drain(&pc).await;
    let got: BTreeSet<String> = first.iter().map(|m| m.msg_id.clone()).collect();
    assert_eq!(got, ids.iter().cloned().collect(), "every message once");
    assert_eq!(first.len(), 20, "no duplicates");
    let m = &first[0];
    assert_eq!(m.tags(), Some("T"));
    assert_eq!(m.keys().len(), 1);
    pc.commit().await.unwrap();

    // A new consumer of the group starts at the committed offsets: nothing old again.
    let more = produce(&c, "PcTopic", 3).await;
    let again = consumer(&c, "pcg");
    again.assign(queues).await.unwrap();
    let second: Vec<String> = drain(&again).await.into_iter().map(|m| m.msg_id).collect();
    let want: BTreeSet<String> = more.into_iter().collect();
    assert_eq!(second.iter().cloned().collect::<BTreeSet<_>>(), want);
    assert_eq!(second.len(), 3);
    c.shutdown().await;
}

#[tokio::test]
async fn seek_and_seek_to_timestamp_move_a_queue() {
    let c = Cluster::start().await;
    produce(&c, "PcSeek", 8).await;
    let pc = consumer(&c, "pcs");
    let queues = pc.queues("PcSeek").await.unwrap();
    pc.assign(queues.clone()).await.unwrap();
    let all = drain(&pc).await;
    assert_eq!(all.len(), 8);
    let q = all[0].queue.clone();
    let on_q = all.iter().filter(|m| m.queue == q).count() as i64;
    assert_eq!(pc.position(&q), Some(on_q));
    pc.seek(&q, 0).unwrap();
    let again = drain(&pc).await;
    assert_eq!(again.len() as i64, on_q, "the queue is read again from 0");
    assert!(again.iter().all(|m| m.queue == q));
    // The start of time: the first message of the queue.
    pc.seek_to_timestamp(&q, 0).await.unwrap();
    assert_eq!(pc.position(&q), Some(0));
    let far = ferrumq::client::MessageQueue { queue_id: 99, ..q };
    assert!(pc.seek(&far, 0).is_err(), "not assigned");
    c.shutdown().await;
}

#[tokio::test]
async fn large_bodies_travel_compressed_and_arrive_whole() {
    let c = Cluster::start().await;
    let p = Producer::builder(&c.namesrv_addr()).build().unwrap();
    let big = "ferrumq ".repeat(5_000); // 40 kB, compresses well
    let sent = p.send(Message::new("PcZip", big.clone())).await.unwrap();
    c.wait_dispatched("PcZip", sent.queue.queue_id, sent.queue_offset + 1)
        .await;
    // Stored compressed: the record carries the sysFlag bit and fewer bytes.
    let r = c
        .call(pull_request(
            "raw",
            "PcZip",
            sent.queue.queue_id,
            0,
            0x4,
            "*",
            0,
        ))
        .await;
    let recs = ferrumq_store::message::decode_records(&r.body).unwrap();
    assert_eq!(recs[0].sys_flag & 1, 1);
    assert!(recs[0].body.len() < big.len() / 10);
    // The consumer inflates it.
    let pc = consumer(&c, "pcz");
    pc.assign(pc.queues("PcZip").await.unwrap()).await.unwrap();
    let got = drain(&pc).await;
    assert_eq!(got.len(), 1);
    assert_eq!(&got[0].body[..], big.as_bytes());
    c.shutdown().await;
}
