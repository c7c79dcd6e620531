//! Broker request and response headers (wire doc §2.2), other than send.

use crate::command_header;

command_header! {
    /// PULL_MESSAGE (11) / LITE_PULL_MESSAGE (361).
    pub struct PullMessageRequestHeader {
        req consumer_group: String = "consumerGroup",
        req topic: String = "topic",
        req queue_id: i32 = "queueId",
        req queue_offset: i64 = "queueOffset",
        req max_msg_nums: i32 = "maxMsgNums",
        req sys_flag: i32 = "sysFlag",
        req commit_offset: i64 = "commitOffset",
        req suspend_timeout_millis: i64 = "suspendTimeoutMillis",
        opt subscription: Option<String> = "subscription",
        req sub_version: i64 = "subVersion",
        opt expression_type: Option<String> = "expressionType",
        opt max_msg_bytes: Option<i32> = "maxMsgBytes",
    }
}

command_header! {
    /// Reply to PULL_MESSAGE: all four fields on every reply.
    pub struct PullMessageResponseHeader {
        req suggest_which_broker_id: i64 = "suggestWhichBrokerId",
        req next_begin_offset: i64 = "nextBeginOffset",
        req min_offset: i64 = "minOffset",
        req max_offset: i64 = "maxOffset",
        opt offset_delta: Option<i64> = "offsetDelta",
        opt topic_sys_flag: Option<i32> = "topicSysFlag",
        opt group_sys_flag: Option<i32> = "groupSysFlag",
        opt forbidden_type: Option<i32> = "forbiddenType",
    }
}

command_header! {
    /// QUERY_MESSAGE (12). Extra key `_UNIQUE_KEY_QUERY` is read from extFields directly.
    pub struct QueryMessageRequestHeader {
        req topic: String = "topic",
        req key: String = "key",
        req max_num: i32 = "maxNum",
        req begin_timestamp: i64 = "beginTimestamp",
        req end_timestamp: i64 = "endTimestamp",
    }
}

command_header! {
    pub struct QueryMessageResponseHeader {
        req index_last_update_timestamp: i64 = "indexLastUpdateTimestamp",
        req index_last_update_phyoffset: i64 = "indexLastUpdatePhyoffset",
    }
}

command_header! {
    /// VIEW_MESSAGE_BY_ID (33).
    pub struct ViewMessageRequestHeader {
        req offset: i64 = "offset",
    }
}

command_header! {
    /// QUERY_CONSUMER_OFFSET (14).
    pub struct QueryConsumerOffsetRequestHeader {
        req consumer_group: String = "consumerGroup",
        req topic: String = "topic",
        req queue_id: i32 = "queueId",
        opt set_zero_if_not_found: Option<bool> = "setZeroIfNotFound",
    }
}

command_header! {
    /// Reply with an `offset` (14, 29, 30, 31).
    pub struct OffsetResponseHeader {
        req offset: i64 = "offset",
    }
}

/// Reply to QUERY_CONSUMER_OFFSET.
pub type QueryConsumerOffsetResponseHeader = OffsetResponseHeader;
/// Reply to GET_MAX_OFFSET.
pub type GetMaxOffsetResponseHeader = OffsetResponseHeader;
/// Reply to GET_MIN_OFFSET.
pub type GetMinOffsetResponseHeader = OffsetResponseHeader;
/// Reply to SEARCH_OFFSET_BY_TIMESTAMP.
pub type SearchOffsetResponseHeader = OffsetResponseHeader;

command_header! {
    /// UPDATE_CONSUMER_OFFSET (15).
    pub struct UpdateConsumerOffsetRequestHeader {
        req consumer_group: String = "consumerGroup",
        req topic: String = "topic",
        req queue_id: i32 = "queueId",
        req commit_offset: i64 = "commitOffset",
    }
}

command_header! {
    /// GET_MAX_OFFSET (30).
    pub struct GetMaxOffsetRequestHeader {
        req topic: String = "topic",
        req queue_id: i32 = "queueId",
        opt committed: Option<bool> = "committed",
    }
}

command_header! {
    /// GET_MIN_OFFSET (31).
    pub struct GetMinOffsetRequestHeader {
        req topic: String = "topic",
        req queue_id: i32 = "queueId",
    }
}

command_header! {
    /// SEARCH_OFFSET_BY_TIMESTAMP (29).
    pub struct SearchOffsetRequestHeader {
        req topic: String = "topic",
        req queue_id: i32 = "queueId",
        req timestamp: i64 = "timestamp",
        opt boundary_type: Option<String> = "boundaryType",
    }
}

command_header! {
    /// GET_EARLIEST_MSG_STORETIME (32).
    pub struct GetEarliestMsgStoretimeRequestHeader {
        req topic: String = "topic",
        req queue_id: i32 = "queueId",
    }
}

command_header! {
    pub struct GetEarliestMsgStoretimeResponseHeader {
        req timestamp: i64 = "timestamp",
    }
}

command_header! {
    /// UNREGISTER_CLIENT (35).
    pub struct UnregisterClientRequestHeader {
        req client_id: String = "clientID",
        opt producer_group: Option<String> = "producerGroup",
        opt consumer_group: Option<String> = "consumerGroup",
    }
}

command_header! {
    /// CONSUMER_SEND_MSG_BACK (36). C++ 1.2.3 sends only group, delayLevel and offset.
    pub struct ConsumerSendMsgBackRequestHeader {
        req offset: i64 = "offset",
        req group: String = "group",
        req delay_level: i32 = "delayLevel",
        opt origin_msg_id: Option<String> = "originMsgId",
        opt origin_topic: Option<String> = "originTopic",
        def unit_mode: bool = "unitMode" => false,
        opt max_reconsume_times: Option<i32> = "maxReconsumeTimes",
    }
}

command_header! {
    /// END_TRANSACTION (37); commitOrRollback 0 unknown, 8 commit, 12 rollback.
    pub struct EndTransactionRequestHeader {
        req producer_group: String = "producerGroup",
        req tran_state_table_offset: i64 = "tranStateTableOffset",
        req commit_log_offset: i64 = "commitLogOffset",
        req commit_or_rollback: i32 = "commitOrRollback",
        def from_transaction_check: bool = "fromTransactionCheck" => false,
        req msg_id: String = "msgId",
        opt transaction_id: Option<String> = "transactionId",
        opt topic: Option<String> = "topic",
    }
}

command_header! {
    /// GET_CONSUMER_LIST_BY_GROUP (38).
    pub struct GetConsumerListByGroupRequestHeader {
        req consumer_group: String = "consumerGroup",
    }
}

command_header! {
    /// CHECK_TRANSACTION_STATE (39, broker → producer, oneway).
    pub struct CheckTransactionStateRequestHeader {
        req tran_state_table_offset: i64 = "tranStateTableOffset",
        req commit_log_offset: i64 = "commitLogOffset",
        opt msg_id: Option<String> = "msgId",
        opt transaction_id: Option<String> = "transactionId",
        opt offset_msg_id: Option<String> = "offsetMsgId",
    }
}

command_header! {
    /// NOTIFY_CONSUMER_IDS_CHANGED (40, broker → consumer, oneway).
    pub struct NotifyConsumerIdsChangedRequestHeader {
        req consumer_group: String = "consumerGroup",
    }
}

command_header! {
    /// UPDATE_AND_CREATE_TOPIC (17).
    pub struct CreateTopicRequestHeader {
        req topic: String = "topic",
        req default_topic: String = "defaultTopic",
        req read_queue_nums: i32 = "readQueueNums",
        req write_queue_nums: i32 = "writeQueueNums",
        req perm: i32 = "perm",
        req topic_filter_type: String = "topicFilterType",
        opt topic_sys_flag: Option<i32> = "topicSysFlag",
        def order: bool = "order" => false,
    }
}

command_header! {
    /// DELETE_TOPIC_IN_BROKER (215).
    pub struct DeleteTopicRequestHeader {
        req topic: String = "topic",
    }
}

command_header! {
    /// GET_TOPIC_STATS_INFO (202).
    pub struct GetTopicStatsInfoRequestHeader {
        req topic: String = "topic",
    }
}

command_header! {
    /// GET_CONSUME_STATS (208); blank topic means every topic of the group.
    pub struct GetConsumeStatsRequestHeader {
        req consumer_group: String = "consumerGroup",
        opt topic: Option<String> = "topic",
    }
}

command_header! {
    /// GET_CONSUMER_CONNECTION_LIST (203).
    pub struct GetConsumerConnectionListRequestHeader {
        req consumer_group: String = "consumerGroup",
    }
}

command_header! {
    /// GET_PRODUCER_CONNECTION_LIST (204).
    pub struct GetProducerConnectionListRequestHeader {
        req producer_group: String = "producerGroup",
    }
}

command_header! {
    /// QUERY_TOPIC_CONSUME_BY_WHO (300).
    pub struct QueryTopicConsumeByWhoRequestHeader {
        req topic: String = "topic",
    }
}

command_header! {
    /// DELETE_SUBSCRIPTIONGROUP (207).
    pub struct DeleteSubscriptionGroupRequestHeader {
        req group_name: String = "groupName",
        def remove_offset: bool = "removeOffset" => false,
    }
}

command_header! {
    /// INVOKE_BROKER_TO_RESET_OFFSET (222) and RESET_CONSUMER_CLIENT_OFFSET (220).
    pub struct ResetOffsetRequestHeader {
        req topic: String = "topic",
        req group: String = "group",
        req timestamp: i64 = "timestamp",
        def is_force: bool = "isForce" => false,
    }
}

command_header! {
    /// GET_CONSUMER_STATUS_FROM_CLIENT (221) / INVOKE_BROKER_TO_GET_CONSUMER_STATUS (223).
    pub struct GetConsumerStatusRequestHeader {
        req topic: String = "topic",
        req group: String = "group",
        opt client_addr: Option<String> = "clientAddr",
    }
}

command_header! {
    /// GET_CONSUMER_RUNNING_INFO (307).
    pub struct GetConsumerRunningInfoRequestHeader {
        req consumer_group: String = "consumerGroup",
        req client_id: String = "clientId",
        def jstack_enable: bool = "jstackEnable" => false,
    }
}

command_header! {
    /// CONSUME_MESSAGE_DIRECTLY (309).
    pub struct ConsumeMessageDirectlyResultRequestHeader {
        req consumer_group: String = "consumerGroup",
        opt client_id: Option<String> = "clientId",
        opt msg_id: Option<String> = "msgId",
        opt broker_name: Option<String> = "brokerName",
    }
}

command_header! {
    /// QUERY_CONSUME_TIME_SPAN (303).
    pub struct QueryConsumeTimeSpanRequestHeader {
        req topic: String = "topic",
        req group: String = "group",
    }
}

command_header! {
    /// CLONE_GROUP_OFFSET (314).
    pub struct CloneGroupOffsetRequestHeader {
        req src_group: String = "srcGroup",
        req dest_group: String = "destGroup",
        opt topic: Option<String> = "topic",
        def offline: bool = "offline" => false,
    }
}

command_header! {
    /// QUERY_CONSUME_QUEUE (321).
    pub struct QueryConsumeQueueRequestHeader {
        req topic: String = "topic",
        req queue_id: i32 = "queueId",
        req index: i64 = "index",
        req count: i32 = "count",
        opt consumer_group: Option<String> = "consumerGroup",
    }
}

command_header! {
    /// VIEW_BROKER_STATS_DATA (315).
    pub struct ViewBrokerStatsDataRequestHeader {
        req stats_name: String = "statsName",
        req stats_key: String = "statsKey",
    }
}

command_header! {
    /// GET_BROKER_CONSUME_STATS (317).
    pub struct GetConsumeStatsInBrokerHeader {
        def is_order: bool = "isOrder" => false,
    }
}
