//! The remoting server and client over real sockets on 127.0.0.1:0: pipelining, oneway,
//! unknown codes, limits, bad input, timeouts and graceful shutdown.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use ferrumq::protocol::*;
use ferrumq::remoting::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::codec::Decoder;

const SLEEP: RequestCode = RequestCode::Unknown(1000);
const ONEWAY: RequestCode = RequestCode::Unknown(1001);
const PANIC: RequestCode = RequestCode::Unknown(1002);
const PUSH: RequestCode = RequestCode::Unknown(1003);
const ASK_CLIENT: RequestCode = RequestCode::Unknown(1004);
/// Oneway: sleeps `ms`, then appends `id` to `TestProcessor::oneway_order`.
const ORDERED: RequestCode = RequestCode::Unknown(1005);
/// Answers with a body of `bytes` bytes.
const BIG: RequestCode = RequestCode::Unknown(1006);
/// Blocks the connection task (runs inline, never yields) for the request's `ms`.
const BLOCK: RequestCode = RequestCode::Unknown(1007);

/// Polls `cond` until it holds (bounded): waiting for an event, not for a guessed time.
async fn wait_until(cond: impl Fn() -> bool) {
    for _ in 0..1_000 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("condition not reached within 5 s");
}

/// Sleeps for the request's `ms` field (SLEEP and ORDERED requests).
async fn sleep_for(req: &RemotingCommand) {
    let ms: u64 = req
        .ext_fields
        .get("ms")
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

#[derive(Default)]
struct TestProcessor {
    /// SLEEP requests that reached the processor (tests wait on it instead of sleeping)
    sleeps_started: AtomicUsize,
    oneway_seen: AtomicUsize,
    closed: AtomicUsize,
    oneway_order: Arc<std::sync::Mutex<Vec<String>>>,
}

impl RequestProcessor for TestProcessor {
    fn process(
        &self,
        ctx: ConnectionContext,
        req: RemotingCommand,
    ) -> BoxFuture<'static, Option<RemotingCommand>> {
        match req.request_code() {
            SLEEP => {
                self.sleeps_started.fetch_add(1, Ordering::SeqCst);
                Box::pin(async move {
                    sleep_for(&req).await;
                    Some(req.response_to(
                        ResponseCode::Success,
                        req.ext_fields.get("id").map(str::to_owned),
                    ))
                })
            }
            ONEWAY => {
                self.oneway_seen.fetch_add(1, Ordering::SeqCst);
                Box::pin(async { None })
            }
            PANIC => Box::pin(async { panic!("processor bug") }),
            BLOCK => {
                let ms: u64 = req
                    .ext_fields
                    .get("ms")
                    .and_then(|m| m.parse().ok())
                    .unwrap_or(0);
                Box::pin(async move {
                    std::thread::sleep(Duration::from_millis(ms));
                    Some(req.response_to(ResponseCode::Success, None))
                })
            }
            ORDERED => {
                let order = self.oneway_order.clone();
                Box::pin(async move {
                    sleep_for(&req).await;
                    let id = req
                        .ext_fields
                        .get("id")
                        .map(str::to_owned)
                        .unwrap_or_default();
                    order.lock().unwrap().push(id);
                    None
                })
            }
            PUSH => {
                let push = RemotingCommand::new_request(
                    RequestCode::NotifyConsumerIdsChanged,
                    Default::default(),
                )
                .with_header(&NotifyConsumerIdsChangedRequestHeader {
                    consumer_group: "g".into(),
                });
                ctx.send_oneway(push);
                Box::pin(std::future::ready(Some(
                    req.response_to(ResponseCode::Success, None),
                )))
            }
            ASK_CLIENT => Box::pin(async move {
                let ask = RemotingCommand::new_request(
                    RequestCode::GetConsumerRunningInfo,
                    Default::default(),
                );
                let answer = ctx.invoke(ask, Duration::from_secs(3)).await;
                let remark = answer
                    .map(|a| a.remark.unwrap_or_default())
                    .unwrap_or_else(|e| e.to_string());
                Some(req.response_to(ResponseCode::Success, remark))
            }),
            BIG => {
                let n: usize = req
                    .ext_fields
                    .get("bytes")
                    .and_then(|m| m.parse().ok())
                    .unwrap_or(0);
                Box::pin(std::future::ready(Some(
                    req.response_to(ResponseCode::Success, None)
                        .with_body(vec![7u8; n]),
                )))
            }
            _ => Box::pin(std::future::ready(Some(not_supported(&req)))),
        }
    }

    fn on_connection_closed(&self, _ctx: &ConnectionContext) {
        self.closed.fetch_add(1, Ordering::SeqCst);
    }
}

fn fast_config() -> ServerConfig {
    ServerConfig {
        idle_timeout: Duration::from_millis(400),
        frame_timeout: Duration::from_millis(400),
        shutdown_grace: Duration::from_secs(5),
        ..Default::default()
    }
}

async fn start(config: ServerConfig) -> (RemotingServer, Arc<TestProcessor>) {
    let p = Arc::new(TestProcessor::default());
    let s = RemotingServer::bind("127.0.0.1:0".parse().unwrap(), config, p.clone())
        .await
        .unwrap();
    (s, p)
}

fn sleep_req(ms: u64, id: &str) -> RemotingCommand {
    let ext = ExtFields::from_iter([
        ("ms".to_owned(), ms.to_string()),
        ("id".to_owned(), id.to_owned()),
    ]);
    RemotingCommand::new_request(SLEEP, ext)
}

/// Reads one frame, or None when the peer closed or nothing came within 3 s.
async fn read_frame(s: &mut TcpStream, buf: &mut BytesMut) -> Option<RemotingCommand> {
    let mut codec = FrameCodec::default();
    loop {
        if let Some(item) = codec.decode(buf).unwrap() {
            return Some(item.unwrap());
        }
        match tokio::time::timeout(Duration::from_secs(3), s.read_buf(buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return None,
            Ok(Ok(_)) => {}
        }
    }
}

async fn is_closed(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 256];
    loop {
        match tokio::time::timeout(Duration::from_secs(3), s.read(&mut b)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

#[tokio::test]
async fn pipelined_requests_are_answered_as_they_complete() {
    let (server, _) = start(fast_config()).await;
    let mut s = TcpStream::connect(server.local_addr()).await.unwrap();
    let mut out = BytesMut::new();
    for (i, ms) in [300u64, 10, 150].iter().enumerate() {
        let mut r = sleep_req(*ms, &format!("r{i}"));
        r.opaque = 100 + i as i32;
        r.encode(&mut out);
    }
    s.write_all(&out).await.unwrap();
    let mut buf = BytesMut::new();
    let mut order = Vec::new();
    for _ in 0..3 {
        let r = read_frame(&mut s, &mut buf).await.unwrap();
        assert!(r.is_response());
        assert_eq!(
            r.remark.as_deref(),
            Some(format!("r{}", r.opaque - 100).as_str())
        );
        order.push(r.opaque);
    }
    assert_eq!(order, [101, 102, 100]);
    server.shutdown().await;
}

#[tokio::test]
async fn client_invoke_oneway_unknown_code_and_binary_reply() {
    let (server, p) = start(fast_config()).await;
    let addr = server.local_addr().to_string();
    let client = RemotingClient::new(ClientConfig::default());
    let resp = client
        .invoke(&addr, sleep_req(0, "a"), Duration::from_secs(3))
        .await
        .unwrap();
    assert_eq!(resp.response_code(), ResponseCode::Success);

    client
        .invoke_oneway(
            &addr,
            RemotingCommand::new_request(ONEWAY, Default::default()),
        )
        .await
        .unwrap();
    let resp = client
        .invoke(
            &addr,
            RemotingCommand::new_request(RequestCode::Unknown(4242), Default::default()),
            Duration::from_secs(3),
        )
        .await
        .unwrap();
    assert_eq!(resp.response_code(), ResponseCode::RequestCodeNotSupported);
    assert_eq!(
        resp.remark.as_deref(),
        Some(" request type 4242 not supported")
    );
    assert_eq!(p.oneway_seen.load(Ordering::SeqCst), 1);

    // Answered in the request's serialization.
    let mut req = sleep_req(0, "bin");
    req.serialize_type = SerializeType::RocketMq;
    let resp = client
        .invoke(&addr, req, Duration::from_secs(3))
        .await
        .unwrap();
    assert_eq!(resp.serialize_type, SerializeType::RocketMq);
    assert_eq!(resp.remark.as_deref(), Some("bin"));
    server.shutdown().await;
}

#[tokio::test]
async fn oneway_requests_get_no_reply_even_on_error() {
    let (server, _) = start(fast_config()).await;
    let mut s = TcpStream::connect(server.local_addr()).await.unwrap();
    let mut out = BytesMut::new();
    let mut unknown = RemotingCommand::new_request(RequestCode::Unknown(777), Default::default());
    unknown.mark_oneway();
    unknown.encode(&mut out);
    let mut ping = sleep_req(0, "after");
    ping.opaque = 9;
    ping.encode(&mut out);
    s.write_all(&out).await.unwrap();
    let mut buf = BytesMut::new();
    let r = read_frame(&mut s, &mut buf).await.unwrap();
    assert_eq!(r.opaque, 9, "the first reply is for the normal request");
    server.shutdown().await;
}

#[tokio::test]
async fn oneway_requests_of_a_connection_run_in_arrival_order() {
    let (server, p) = start(fast_config()).await;
    let client = RemotingClient::new(ClientConfig::default());
    let addr = server.local_addr().to_string();
    // The first is the slowest: run concurrently, they would finish in reverse order.
    for (id, ms) in [("a", 200u64), ("b", 50), ("c", 0)] {
        let ext = ExtFields::from_iter([
            ("ms".to_owned(), ms.to_string()),
            ("id".to_owned(), id.to_owned()),
        ]);
        client
            .invoke_oneway(&addr, RemotingCommand::new_request(ORDERED, ext))
            .await
            .unwrap();
    }
    // A request with a reply is not queued behind them.
    let quick = client
        .invoke(&addr, sleep_req(0, "quick"), Duration::from_secs(3))
        .await
        .unwrap();
    assert_eq!(quick.remark.as_deref(), Some("quick"));
    assert!(
        p.oneway_order.lock().unwrap().len() < 3,
        "the reply waited for the oneways"
    );
    for _ in 0..100 {
        if p.oneway_order.lock().unwrap().len() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(*p.oneway_order.lock().unwrap(), ["a", "b", "c"]);
    server.shutdown().await;
}

#[tokio::test]
async fn processor_panic_becomes_system_error() {
    let (server, _) = start(fast_config()).await;
    let client = RemotingClient::new(ClientConfig::default());
    let addr = server.local_addr().to_string();
    let resp = client
        .invoke(
            &addr,
            RemotingCommand::new_request(PANIC, Default::default()),
            Duration::from_secs(3),
        )
        .await
        .unwrap();
    assert_eq!(resp.response_code(), ResponseCode::SystemError);
    let ok = client
        .invoke(&addr, sleep_req(0, "x"), Duration::from_secs(3))
        .await
        .unwrap();
    assert_eq!(ok.response_code(), ResponseCode::Success);
    server.shutdown().await;
}

/// A request that keeps the connection task busy longer than the idle timeout does not make
/// the connection look idle: the next request on it is served.
#[tokio::test]
async fn busy_is_not_idle() {
    let (server, _) = start(fast_config()).await;
    let client = RemotingClient::new(ClientConfig::default());
    let addr = server.local_addr().to_string();
    let block = RemotingCommand::new_request(BLOCK, ExtFields::from_iter([("ms", "700")]));
    let r = client
        .invoke(&addr, block, Duration::from_secs(3))
        .await
        .unwrap();
    assert_eq!(r.response_code(), ResponseCode::Success);
    let r = client
        .invoke(&addr, sleep_req(0, "next"), Duration::from_secs(3))
        .await
        .unwrap();
    assert_eq!(r.response_code(), ResponseCode::Success);
    server.shutdown().await;
}

#[tokio::test]
async fn client_timeout_then_reconnect_after_server_restart() {
    let (server, _) = start(fast_config()).await;
    let addr = server.local_addr();
    let client = RemotingClient::new(ClientConfig::default());
    let e = client
        .invoke(
            &addr.to_string(),
            sleep_req(1000, "slow"),
            Duration::from_millis(100),
        )
        .await;
    assert!(matches!(e, Err(RemotingError::Timeout { .. })), "{e:?}");
    server.shutdown().await;

    let e = client
        .invoke(
            &addr.to_string(),
            sleep_req(0, "x"),
            Duration::from_millis(500),
        )
        .await;
    assert!(e.is_err(), "server is down");
    let p = Arc::new(TestProcessor::default());
    let server = RemotingServer::bind(addr, fast_config(), p).await.unwrap();
    let r = client
        .invoke(
            &addr.to_string(),
            sleep_req(0, "back"),
            Duration::from_secs(3),
        )
        .await
        .unwrap();
    assert_eq!(r.remark.as_deref(), Some("back"));
    server.shutdown().await;
}

#[tokio::test]
async fn server_pushes_oneway_to_client_handler() {
    let (server, _) = start(fast_config()).await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let handler: PushHandler = Arc::new(move |cmd: RemotingCommand| {
        let _ = tx.send(cmd);
        None
    });
    let client = RemotingClient::new(ClientConfig {
        push_handler: Some(handler),
        ..Default::default()
    });
    let addr = server.local_addr().to_string();
    client
        .invoke(
            &addr,
            RemotingCommand::new_request(PUSH, Default::default()),
            Duration::from_secs(3),
        )
        .await
        .unwrap();
    let pushed = tokio::time::timeout(Duration::from_secs(3), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pushed.request_code(), RequestCode::NotifyConsumerIdsChanged);
    assert!(pushed.is_oneway());
    assert_eq!(pushed.serialize_type, SerializeType::Json);
    assert_eq!(pushed.ext_fields.get("consumerGroup").unwrap(), "g");
    server.shutdown().await;
}

#[tokio::test]
async fn server_request_to_client_is_matched_to_its_reply() {
    let (server, _) = start(fast_config()).await;
    let handler: PushHandler = Arc::new(|cmd: RemotingCommand| {
        Some(cmd.response_to(ResponseCode::Success, "running fine".to_owned()))
    });
    let client = RemotingClient::new(ClientConfig {
        push_handler: Some(handler),
        ..Default::default()
    });
    let addr = server.local_addr().to_string();
    let r = client
        .invoke(
            &addr,
            RemotingCommand::new_request(ASK_CLIENT, Default::default()),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    assert_eq!(r.remark.as_deref(), Some("running fine"));
    server.shutdown().await;
}

#[tokio::test]
async fn in_flight_limit_answers_system_busy() {
    let config = ServerConfig {
        max_in_flight_per_connection: 2,
        ..fast_config()
    };
    let (server, _) = start(config).await;
    let mut s = TcpStream::connect(server.local_addr()).await.unwrap();
    let mut out = BytesMut::new();
    for i in 0..3 {
        let mut r = sleep_req(300, "x");
        r.opaque = i;
        r.encode(&mut out);
    }
    s.write_all(&out).await.unwrap();
    let mut buf = BytesMut::new();
    let first = read_frame(&mut s, &mut buf).await.unwrap();
    assert_eq!(
        (first.opaque, first.response_code()),
        (2, ResponseCode::SystemBusy)
    );
    assert!(first.remark.unwrap().starts_with("[OVERLOAD]"));
    server.shutdown().await;
}

#[tokio::test]
async fn graceful_shutdown_drains_in_flight_requests() {
    let (server, p) = start(fast_config()).await;
    let client = RemotingClient::new(ClientConfig::default());
    let addr = server.local_addr().to_string();
    let c2 = client.clone();
    let pending = tokio::spawn(async move {
        c2.invoke(&addr, sleep_req(300, "late"), Duration::from_secs(5))
            .await
    });
    wait_until(|| p.sleeps_started.load(Ordering::SeqCst) == 1).await;
    server.shutdown().await;
    let r = pending.await.unwrap().unwrap();
    assert_eq!(r.remark.as_deref(), Some("late"));
    assert_eq!(
        p.closed.load(Ordering::SeqCst),
        1,
        "on_connection_closed once"
    );
}

#[tokio::test]
async fn max_connections_closes_extra_connections() {
    let config = ServerConfig {
        max_connections: 2,
        ..fast_config()
    };
    let (server, _) = start(config).await;
    let addr = server.local_addr();
    let _a = TcpStream::connect(addr).await.unwrap();
    let _b = TcpStream::connect(addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut c = TcpStream::connect(addr).await.unwrap();
    assert!(is_closed(&mut c).await);
    server.shutdown().await;
}

#[tokio::test]
async fn many_idle_connections_do_not_stop_service_and_get_closed() {
    let (server, p) = start(fast_config()).await;
    let addr = server.local_addr();
    let mut idle = Vec::new();
    for _ in 0..2000 {
        idle.push(TcpStream::connect(addr).await.unwrap());
    }
    let client = RemotingClient::new(ClientConfig::default());
    let r = client
        .invoke(
            &addr.to_string(),
            sleep_req(0, "live"),
            Duration::from_secs(3),
        )
        .await
        .unwrap();
    assert_eq!(r.remark.as_deref(), Some("live"));
    for s in idle.iter_mut().take(5) {
        assert!(
            is_closed(s).await,
            "idle connection closed after idle_timeout"
        );
    }
    wait_until(|| p.closed.load(Ordering::SeqCst) >= 2000).await;
    server.shutdown().await;
}

#[tokio::test]
async fn slow_loris_is_closed_others_served() {
    let config = ServerConfig {
        idle_timeout: Duration::from_secs(30),
        ..fast_config()
    };
    let (server, _) = start(config).await;
    let addr = server.local_addr();
    let frame = sleep_req(0, "never").encode_to_bytes();
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut closed = false;
    for b in frame.iter().take(20) {
        if s.write_all(&[*b]).await.is_err() {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        closed || is_closed(&mut s).await,
        "a frame must complete within frame_timeout"
    );
    let client = RemotingClient::new(ClientConfig::default());
    assert!(client
        .invoke(
            &addr.to_string(),
            sleep_req(0, "ok"),
            Duration::from_secs(3)
        )
        .await
        .is_ok());
    server.shutdown().await;
}

async fn send_raw_and_expect_error_then_close(raw: &[u8]) -> RemotingCommand {
    let (server, _) = start(fast_config()).await;
    let mut s = TcpStream::connect(server.local_addr()).await.unwrap();
    s.write_all(raw).await.unwrap();
    let mut buf = BytesMut::new();
    let r = read_frame(&mut s, &mut buf)
        .await
        .expect("an error response before the close");
    assert!(
        is_closed(&mut s).await,
        "connection closed after a framing error"
    );
    let client = RemotingClient::new(ClientConfig::default());
    assert!(client
        .invoke(
            &server.local_addr().to_string(),
            sleep_req(0, "ok"),
            Duration::from_secs(3)
        )
        .await
        .is_ok());
    server.shutdown().await;
    r
}

#[tokio::test]
async fn bad_length_words_get_error_and_close() {
    for len in [0i32, -5, 3, 17 * 1024 * 1024] {
        let r = send_raw_and_expect_error_then_close(&len.to_be_bytes()).await;
        assert_eq!(r.response_code(), ResponseCode::SystemError, "length {len}");
        assert!(r.remark.is_some());
    }
}

#[tokio::test]
async fn bad_headers_get_error_and_connection_keeps_serving() {
    let (server, _) = start(fast_config()).await;
    let mut s = TcpStream::connect(server.local_addr()).await.unwrap();
    let mut raw = Vec::new();
    let bad: [&[u8]; 4] = [
        b"\x00\x00\x00\x09{not json",    // invalid JSON
        b"\x01\x00\x00\x03\x00\x01\x02", // binary header too short
        b"\x00\x00\x01\x00{}",           // header longer than its frame
        b"\x07\x00\x00\x02{}",           // unknown serialize type
    ];
    for frame in bad {
        raw.extend_from_slice(&(frame.len() as i32).to_be_bytes());
        raw.extend_from_slice(frame);
    }
    let mut ok = sleep_req(0, "still here");
    ok.opaque = 5;
    raw.extend_from_slice(&ok.encode_to_bytes());
    s.write_all(&raw).await.unwrap();
    let mut buf = BytesMut::new();
    for _ in 0..4 {
        let r = read_frame(&mut s, &mut buf).await.unwrap();
        assert_eq!(r.response_code(), ResponseCode::SystemError);
        assert!(r.remark.unwrap().starts_with("decode request failed"));
    }
    let r = read_frame(&mut s, &mut buf).await.unwrap();
    assert_eq!((r.opaque, r.remark.as_deref()), (5, Some("still here")));
    server.shutdown().await;
}

#[tokio::test]
async fn truncated_frame_then_eof_closes_quietly() {
    let (server, p) = start(fast_config()).await;
    let mut s = TcpStream::connect(server.local_addr()).await.unwrap();
    let frame = sleep_req(0, "x").encode_to_bytes();
    s.write_all(&frame[..frame.len() / 2]).await.unwrap();
    s.shutdown().await.unwrap();
    assert!(is_closed(&mut s).await);
    wait_until(|| p.closed.load(Ordering::SeqCst) >= 1).await;
    assert_eq!(p.closed.load(Ordering::SeqCst), 1);
    let _ = Bytes::new();
    server.shutdown().await;
}

/// Regression (issue 9): past the in-flight limit, oneway requests were dropped unseen
/// (50,000 unpaced oneway sends stored about 12,000). Now the server stops reading the
/// connection until a request finishes, so TCP pushes back and every one is processed.
#[tokio::test]
async fn oneway_requests_past_the_in_flight_limit_wait_instead_of_dropping() {
    let config = ServerConfig {
        max_in_flight_per_connection: 2,
        idle_timeout: Duration::from_secs(30),
        ..fast_config()
    };
    let (server, p) = start(config).await;
    let mut s = TcpStream::connect(server.local_addr()).await.unwrap();
    let mut out = BytesMut::new();
    for i in 0..50 {
        let ext = ExtFields::from_iter([
            ("ms".to_owned(), "2".to_owned()),
            ("id".to_owned(), i.to_string()),
        ]);
        let mut r = RemotingCommand::new_request(ORDERED, ext);
        r.mark_oneway();
        r.opaque = i;
        r.encode(&mut out);
    }
    s.write_all(&out).await.unwrap();
    for _ in 0..500 {
        if p.oneway_order.lock().unwrap().len() == 50 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let expected: Vec<String> = (0..50).map(|i| i.to_string()).collect();
    assert_eq!(*p.oneway_order.lock().unwrap(), expected);
    server.shutdown().await;
}

/// A peer that pipelines requests with large replies and never reads them: once its unread
/// replies pass `max_queued_bytes_per_connection` (or a write stalls past `write_timeout`)
/// the connection is closed and its memory freed, and other clients are served meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_that_never_reads_is_closed_others_are_served() {
    let config = ServerConfig {
        max_queued_bytes_per_connection: 1 << 20,
        write_timeout: Duration::from_millis(500),
        idle_timeout: Duration::from_secs(30),
        ..fast_config()
    };
    let (server, p) = start(config).await;
    let mut stalled = TcpStream::connect(server.local_addr()).await.unwrap();
    let mut out = BytesMut::new();
    for i in 0..400 {
        let ext = ExtFields::from_iter([("bytes".to_owned(), (256 * 1024).to_string())]);
        let mut r = RemotingCommand::new_request(BIG, ext);
        r.opaque = i;
        r.encode(&mut out);
    }
    stalled.write_all(&out).await.unwrap(); // 100 MiB of replies asked for, none read

    let client = RemotingClient::new(ClientConfig::default());
    let addr = server.local_addr().to_string();
    let r = client
        .invoke(&addr, sleep_req(0, "served"), Duration::from_secs(3))
        .await
        .unwrap();
    assert_eq!(r.remark.as_deref(), Some("served"));

    let mut closed = false;
    for _ in 0..300 {
        if p.closed.load(Ordering::SeqCst) >= 1 {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        closed,
        "the server kept a connection whose peer never reads"
    );
    assert!(is_closed(&mut stalled).await);
    server.shutdown().await;
}

/// Regression (issue 9): a request that timed out while its send still waited for room in a
/// full queue left its pending entry behind for the life of the connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timed_out_send_leaves_no_pending_entry() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let server = tokio::spawn(async move {
        let (s, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(10)).await; // accepts, never reads
        drop(s);
    });
    let client = RemotingClient::new(ClientConfig {
        send_queue_capacity: 1,
        ..Default::default()
    });
    // Big requests fill the socket buffers, then the one-slot queue; later sends wait.
    let mut calls = Vec::new();
    for i in 0..16 {
        let (c, a) = (client.clone(), addr.clone());
        let req = sleep_req(0, &i.to_string()).with_body(vec![0u8; 4 << 20]);
        calls.push(tokio::spawn(async move {
            c.invoke(&a, req, Duration::from_millis(500)).await
        }));
    }
    for call in calls {
        assert!(call.await.unwrap().is_err(), "nothing is ever answered");
    }
    assert_eq!(
        client.debug_pending(&addr),
        0,
        "a timed-out request left its waiter"
    );
    server.abort();
}
