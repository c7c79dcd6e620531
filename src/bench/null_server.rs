//! `mqbench null-server`: the ceiling a broker is measured against. One thread, the project's
//! own frame codec, and nothing else: it answers the route query with itself as the only
//! broker (4 queues), every send and batch with success, every pull with "no new message",
//! and anything else with success; nothing is stored. A broker's figure divided by this
//! one's, in the same run with the same generator, is what the broker's own work costs.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::protocol::{
    perm, BrokerData, ExtFields, QueueData, RemotingCommand, RequestCode, ResponseCode,
    TopicRouteData,
};
use crate::remoting::FrameCodec;

#[derive(clap::Args, Debug, Clone)]
pub struct NullOptions {
    /// Address to listen on (it is the NameServer and the broker at once).
    #[arg(long, default_value = "127.0.0.1:9876")]
    pub listen: SocketAddr,
}

/// Serves until the process is stopped, on a single-threaded runtime.
pub fn serve(opts: NullOptions) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    rt.block_on(async move {
        let listener = TcpListener::bind(opts.listen)
            .await
            .map_err(|e| format!("listen on {}: {e}", opts.listen))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("local address: {e}"))?;
        println!("null-server listening on {addr}");
        let route = route_body(&addr.to_string());
        loop {
            let (stream, _) = listener
                .accept()
                .await
                .map_err(|e| format!("accept: {e}"))?;
            let route = route.clone();
            tokio::spawn(async move {
                let _ = connection(stream, route).await;
            });
        }
    })
}

fn route_body(addr: &str) -> bytes::Bytes {
    let route = TopicRouteData {
        broker_datas: vec![BrokerData {
            broker_addrs: BTreeMap::from([(0, addr.to_string())]),
            broker_name: "null".into(),
            cluster: "NullCluster".into(),
            ..Default::default()
        }],
        queue_datas: vec![QueueData {
            broker_name: "null".into(),
            perm: perm::READ | perm::WRITE,
            read_queue_nums: 4,
            write_queue_nums: 4,
            ..Default::default()
        }],
        ..Default::default()
    };
    route.encode_route(true).into()
}

async fn connection(mut stream: TcpStream, route: bytes::Bytes) -> std::io::Result<()> {
    let _ = stream.set_nodelay(true);
    let codec = FrameCodec::default();
    let mut input = BytesMut::with_capacity(64 * 1024);
    let mut output = BytesMut::with_capacity(64 * 1024);
    loop {
        if stream.read_buf(&mut input).await? == 0 {
            return Ok(());
        }
        // Answer every whole frame read, then write the answers at once.
        while let Ok(Some(total)) = codec.frame_len(&input) {
            if input.len() < total {
                break;
            }
            let frame = input.split_to(total).freeze().slice(4..);
            let Ok(req) = RemotingCommand::decode_frame(frame) else {
                return Ok(());
            };
            if !req.is_oneway() {
                answer(&req, &route).encode(&mut output);
            }
        }
        if !output.is_empty() {
            stream.write_all(&output).await?;
            output.clear();
        }
    }
}

fn answer(req: &RemotingCommand, route: &bytes::Bytes) -> RemotingCommand {
    match req.request_code() {
        RequestCode::GetRouteinfoByTopic => req
            .response_to(ResponseCode::Success, None)
            .with_body(route.clone()),
        RequestCode::SendMessage | RequestCode::SendMessageV2 | RequestCode::SendBatchMessage => {
            let mut r = req.response_to(ResponseCode::Success, None);
            r.ext_fields = ExtFields::from_iter([
                ("msgId", "7F00000100002A9F0000000000000000"),
                ("queueId", "0"),
                ("queueOffset", "0"),
            ]);
            r
        }
        RequestCode::PullMessage => {
            let mut r = req.response_to(ResponseCode::PullNotFound, None);
            r.ext_fields = ExtFields::from_iter([
                ("nextBeginOffset", "0"),
                ("minOffset", "0"),
                ("maxOffset", "0"),
                ("suggestWhichBrokerId", "0"),
            ]);
            r
        }
        _ => req.response_to(ResponseCode::Success, None),
    }
}
