//! Heap allocations per 1 KiB send, broker side (issue 10's "<= 4 amortised" target).
//!
//! An in-process broker (ASYNC_FLUSH) is fed pre-encoded SEND_MESSAGE_V2 frames by a plain
//! blocking client that allocates nothing while measuring: frames are encoded up front and
//! replies are only counted by their length words. Every allocation the process makes in the
//! measured window is the broker's: reading, decoding, processing, storing, dispatching,
//! replying. Run: `cargo bench --bench alloc_send`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use ferrumq::broker::{start_broker, BrokerConfig};
use ferrumq::protocol::{ExtFields, RemotingCommand, RequestCode};

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator, which upholds the
// GlobalAlloc contract; the counters are plain atomics and never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        BYTES.fetch_add(layout.size() as u64, Relaxed);
        // SAFETY: forwarded with the caller's layout (see the impl's comment).
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc`/`realloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        BYTES.fetch_add(new_size as u64, Relaxed);
        // SAFETY: forwarded unchanged; `ptr` and `layout` are the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const WINDOW: usize = 32;

fn send_frame(opaque: i32, seq: usize) -> Vec<u8> {
    let props = format!("UNIQ_KEY\u{1}ALLOC{seq:012}\u{2}WAIT\u{1}true\u{2}TAGS\u{1}A\u{2}");
    let fields: ExtFields = [
        ("a", "alloc_group".to_string()),
        ("b", "AllocTopic".to_string()),
        ("c", "TBW102".to_string()),
        ("d", "4".to_string()),
        ("e", (seq % 4).to_string()),
        ("f", "0".to_string()),
        ("g", "1700000000000".to_string()),
        ("h", "0".to_string()),
        ("i", props),
        ("j", "0".to_string()),
        ("k", "false".to_string()),
        ("m", "false".to_string()),
    ]
    .into_iter()
    .collect();
    let mut cmd = RemotingCommand::new_request(RequestCode::SendMessageV2, fields)
        .with_body(vec![b'x'; 1024]);
    cmd.opaque = opaque;
    cmd.encode_to_bytes().to_vec()
}

/// Sends the frames in windows of `WINDOW`, reading each window's replies; allocates nothing.
fn drive(stream: &mut TcpStream, frames: &[Vec<u8>], buf: &mut [u8]) {
    for window in frames.chunks(WINDOW) {
        for f in window {
            stream.write_all(f).expect("write");
        }
        let mut replies = 0;
        let (mut have, mut at) = (0usize, 0usize);
        while replies < window.len() {
            // Whole frames at the front of the buffer.
            while have - at >= 4 {
                let len = u32::from_be_bytes(buf[at..at + 4].try_into().expect("4 bytes")) as usize;
                if have - at < 4 + len {
                    break;
                }
                at += 4 + len;
                replies += 1;
            }
            if replies == window.len() {
                break;
            }
            buf.copy_within(at..have, 0);
            have -= at;
            at = 0;
            let n = stream.read(&mut buf[have..]).expect("read");
            assert!(n > 0, "broker closed the connection");
            have += n;
        }
    }
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let mut cfg = BrokerConfig {
        broker_ip1: "127.0.0.1".into(),
        listen_port: 0,
        namesrv_addr: Vec::new(),
        ..Default::default()
    };
    cfg.store.store_path_root_dir = dir.path().join("store");
    cfg.store.mapped_file_size_commit_log = 256 << 20;
    let broker = rt.block_on(start_broker(cfg)).expect("broker");
    let addr = broker.local_addr();
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let mut buf = vec![0u8; 1 << 20];

    let warm: Vec<Vec<u8>> = (0..4_000).map(|i| send_frame(i as i32, i)).collect();
    drive(&mut stream, &warm, &mut buf);
    let n = 20_000usize;
    let frames: Vec<Vec<u8>> = (0..n).map(|i| send_frame(i as i32, 10_000 + i)).collect();
    let (a0, b0) = (ALLOCS.load(Relaxed), BYTES.load(Relaxed));
    drive(&mut stream, &frames, &mut buf);
    // Let the dispatcher index what was just sent: its allocations are the broker's too.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let (a1, b1) = (ALLOCS.load(Relaxed), BYTES.load(Relaxed));
    println!(
        "alloc_send: {n} x 1 KiB SEND_MESSAGE_V2 (ASYNC_FLUSH): {:.1} allocations and {:.0} bytes allocated per send, broker side",
        (a1 - a0) as f64 / n as f64,
        (b1 - b0) as f64 / n as f64
    );
    drop(stream);
    rt.block_on(broker.shutdown());
}
