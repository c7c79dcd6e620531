//! The SDK's admin API against a real NameServer and broker: cluster, topics (create,
//! list, route, delete), runtime info, consumer progress, offset reset, query by key.

mod broker_util;

use std::time::Duration;

use broker_util::*;
use ferrumq::client::{Admin, Message, Producer, PullConsumer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_and_cluster() {
    let c = Cluster::start().await;
    let admin = Admin::new(&c.namesrv_addr()).unwrap();
    let masters = admin.masters("TestCluster").await.unwrap();
    assert_eq!(masters.keys().collect::<Vec<_>>(), ["broker-t"]);
    admin
        .create_topic("TestCluster", "AdminTopic", 6)
        .await
        .unwrap();
    // The broker registers the new topic with the NameServer right away.
    let mut listed = false;
    for _ in 0..50 {
        if admin.topic_list().await.unwrap().contains("AdminTopic") {
            listed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(listed, "AdminTopic not listed");
    let route = admin.topic_route("AdminTopic").await.unwrap();
    assert_eq!(route.queue_datas[0].write_queue_nums, 6);
    let info = admin
        .broker_runtime_info(masters.values().next().unwrap())
        .await
        .unwrap();
    assert!(info.contains_key("putTps"));
    admin
        .delete_topic("TestCluster", "AdminTopic")
        .await
        .unwrap();
    assert!(!admin.topic_list().await.unwrap().contains("AdminTopic"));
    assert!(admin.masters("NoSuchCluster").await.is_err());
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_reset_and_query() {
    let c = Cluster::start().await;
    let admin = Admin::new(&c.namesrv_addr()).unwrap();
    let p = Producer::builder(&c.namesrv_addr()).build().unwrap();
    for i in 0..8 {
        let sent = p
            .send(Message::new("AdminLag", format!("m{i}")).with_keys([format!("key-{i}")]))
            .await
            .unwrap();
        c.wait_dispatched("AdminLag", sent.queue.queue_id, sent.queue_offset + 1)
            .await;
    }
    // A consumer of group adm-g reads everything and commits.
    let pc = PullConsumer::builder(&c.namesrv_addr())
        .group("adm-g")
        .build()
        .unwrap();
    pc.assign(pc.queues("AdminLag").await.unwrap())
        .await
        .unwrap();
    let mut read = 0;
    loop {
        let got = pc.poll(Duration::from_millis(200)).await.unwrap();
        if got.is_empty() {
            break;
        }
        read += got.len();
    }
    assert_eq!(read, 8);
    pc.commit().await.unwrap();
    let progress = admin.consume_stats("adm-g", "AdminLag").await.unwrap();
    assert_eq!(progress.len(), 4);
    assert_eq!(progress.iter().map(|q| q.lag()).sum::<i64>(), 0);
    assert_eq!(progress.iter().map(|q| q.broker_offset).sum::<i64>(), 8);

    // Back to the start: the whole topic is lag again.
    let reset = admin
        .reset_offset_by_time("AdminLag", "adm-g", 0, true)
        .await
        .unwrap();
    assert_eq!(reset.len(), 4);
    assert!(reset.values().all(|o| *o == 0));
    let progress = admin.consume_stats("adm-g", "AdminLag").await.unwrap();
    assert_eq!(progress.iter().map(|q| q.lag()).sum::<i64>(), 8);

    let found = admin
        .query_message_by_key("AdminLag", "key-5", Duration::from_secs(600))
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(&found[0].body[..], b"m5");
    c.shutdown().await;
}
