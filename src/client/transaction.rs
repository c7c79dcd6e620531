//! Transactional sends: a half message, the local transaction, then END_TRANSACTION; the
//! broker's check-backs (CHECK_TRANSACTION_STATE) for messages left unresolved reach the
//! checker, whose answer goes back to the broker that asked.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::error::ClientError;
use super::message::{Message, SendResult};
use super::producer::{Producer, ProducerBuilder};
use super::pull_consumer::{decode, ReceivedMessage};
use crate::protocol::{ExtFields, RemotingCommand, RequestCode};
use crate::remoting::{ClientConfig, RemotingClient};

/// The outcome of a local transaction, or of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionState {
    /// The local transaction committed: consumers get the message.
    Commit,
    /// The local transaction rolled back: the message is dropped.
    Rollback,
    /// Not known yet: the broker asks again later.
    Unknown,
}

impl TransactionState {
    fn code(self) -> &'static str {
        match self {
            TransactionState::Commit => "8",
            TransactionState::Rollback => "12",
            TransactionState::Unknown => "0",
        }
    }
}

type Checker = Arc<dyn Fn(&ReceivedMessage) -> TransactionState + Send + Sync>;

/// A producer of transactional messages.
#[derive(Clone)]
pub struct TransactionProducer {
    producer: Producer,
    client_id: String,
}

impl ProducerBuilder {
    /// A transactional producer; `checker` answers the broker's questions about messages
    /// whose transaction was left unknown (or whose END_TRANSACTION was lost).
    pub fn build_transactional(
        self,
        checker: impl Fn(&ReceivedMessage) -> TransactionState + Send + Sync + 'static,
    ) -> Result<TransactionProducer, ClientError> {
        let checker: Checker = Arc::new(checker);
        let answers = RemotingClient::new(ClientConfig::default());
        let config = ClientConfig {
            push_handler: Some(Arc::new(move |req: RemotingCommand| {
                if req.request_code() == RequestCode::CheckTransactionState {
                    answer_check(req, checker.clone(), answers.clone());
                }
                None
            })),
            ..Default::default()
        };
        let producer = self.build_with(config)?;
        let client_id = format!("{}@{}", std::process::id(), super::msg_id::new_id());
        Ok(TransactionProducer {
            producer,
            client_id,
        })
    }
}

/// Runs the checker and sends its answer to the broker that stored the message.
fn answer_check(req: RemotingCommand, checker: Checker, client: RemotingClient) {
    let Ok(records) = ferrumq_store::message::decode_records(&req.body) else {
        return;
    };
    let Some(rec) = records.first() else { return };
    let broker = rec.store_host.to_string();
    let queue = super::MessageQueue {
        topic: rec.topic.to_string(),
        broker_name: String::new(),
        queue_id: rec.queue_id,
    };
    let Ok(mut msgs) = decode(&queue, &req.body) else {
        return;
    };
    let Some(msg) = msgs.pop() else { return };
    let group = msg.properties.get("PGROUP").cloned().unwrap_or_default();
    let ext = req.ext_fields.clone();
    tokio::spawn(async move {
        let state = checker(&msg);
        let mut end = ExtFields::with_capacity(7);
        end.insert("producerGroup", &group);
        end.insert(
            "tranStateTableOffset",
            ext.get("tranStateTableOffset").unwrap_or("-1"),
        );
        end.insert(
            "commitLogOffset",
            ext.get("commitLogOffset").unwrap_or("-1"),
        );
        end.insert("commitOrRollback", state.code());
        end.insert("fromTransactionCheck", "true");
        end.insert("msgId", ext.get("msgId").unwrap_or_default());
        if let Some(t) = ext.get("transactionId") {
            end.insert("transactionId", t);
        }
        let req = RemotingCommand::new_request(RequestCode::EndTransaction, end);
        if let Err(e) = client.invoke_oneway(&broker, req).await {
            tracing::warn!(%broker, error = %e, "transaction check answer not sent");
        }
    });
}

impl TransactionProducer {
    /// Sends `msg` as a half message, runs `local` with the send result, and ends the
    /// transaction with its answer (Unknown: the broker's check-back decides later).
    pub async fn send_in_transaction(
        &self,
        msg: Message,
        local: impl FnOnce(&SendResult) -> TransactionState,
    ) -> Result<(SendResult, TransactionState), ClientError> {
        let group = self.producer.group().to_string();
        let msg = msg
            .with_property_reserved("TRAN_MSG", "true")
            .with_property_reserved("PGROUP", &group);
        let topic = msg.topic().to_string();
        let sent = self.producer.send_with_flags(msg, 0x4).await?;
        let addr = self
            .producer
            .master_of(&topic, &sent.queue.broker_name)
            .await
            .ok_or_else(|| ClientError::NoRoute(topic.clone()))?;
        self.heartbeat(&addr).await;
        let state = local(&sent);
        let physical =
            ferrumq_store::decode_offset_msg_id(&sent.offset_msg_id).map_or(-1, |(_, o)| o);
        let mut end = ExtFields::with_capacity(6);
        end.insert("producerGroup", &group);
        end.insert_display("tranStateTableOffset", sent.queue_offset);
        end.insert_display("commitLogOffset", physical);
        end.insert("commitOrRollback", state.code());
        end.insert("fromTransactionCheck", "false");
        end.insert("msgId", &sent.msg_id);
        let req = RemotingCommand::new_request(RequestCode::EndTransaction, end);
        self.producer.client().invoke_oneway(&addr, req).await?;
        Ok((sent, state))
    }

    /// Registers the producer group on the broker, so check-backs find this connection.
    async fn heartbeat(&self, addr: &str) {
        let body = json!({"clientID": self.client_id, "consumerDataSet": [],
            "producerDataSet": [{"groupName": self.producer.group()}]});
        let req = RemotingCommand::new_request(RequestCode::HeartBeat, ExtFields::new())
            .with_body(body.to_string().into_bytes());
        let _ = self
            .producer
            .client()
            .invoke(addr, req, Duration::from_secs(3))
            .await;
    }
}
