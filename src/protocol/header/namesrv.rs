//! NameServer request and response headers (wire doc §2.2, "NameServer headers").

use crate::command_header;

command_header! {
    /// PUT_KV_CONFIG (100).
    pub struct PutKvConfigRequestHeader {
        req namespace: String = "namespace",
        req key: String = "key",
        req value: String = "value",
    }
}

command_header! {
    /// GET_KV_CONFIG (101).
    pub struct GetKvConfigRequestHeader {
        req namespace: String = "namespace",
        req key: String = "key",
    }
}

command_header! {
    pub struct GetKvConfigResponseHeader {
        opt value: Option<String> = "value",
    }
}

command_header! {
    /// DELETE_KV_CONFIG (102).
    pub struct DeleteKvConfigRequestHeader {
        req namespace: String = "namespace",
        req key: String = "key",
    }
}

command_header! {
    /// GET_KVLIST_BY_NAMESPACE (219).
    pub struct GetKvListByNamespaceRequestHeader {
        req namespace: String = "namespace",
    }
}

command_header! {
    /// REGISTER_BROKER (103).
    pub struct RegisterBrokerRequestHeader {
        req broker_name: String = "brokerName",
        req broker_addr: String = "brokerAddr",
        req cluster_name: String = "clusterName",
        req ha_server_addr: String = "haServerAddr",
        req broker_id: i64 = "brokerId",
        def compressed: bool = "compressed" => false,
        /// Masked CRC-32 of the body; 0 skips the check.
        def body_crc32: i32 = "bodyCrc32" => 0,
        opt heartbeat_timeout_millis: Option<i64> = "heartbeatTimeoutMillis",
        opt enable_acting_master: Option<bool> = "enableActingMaster",
    }
}

command_header! {
    /// Reply to REGISTER_BROKER: set only for slaves.
    pub struct RegisterBrokerResponseHeader {
        opt ha_server_addr: Option<String> = "haServerAddr",
        opt master_addr: Option<String> = "masterAddr",
    }
}

command_header! {
    /// UNREGISTER_BROKER (104).
    pub struct UnRegisterBrokerRequestHeader {
        req broker_name: String = "brokerName",
        req broker_addr: String = "brokerAddr",
        req cluster_name: String = "clusterName",
        req broker_id: i64 = "brokerId",
    }
}

command_header! {
    /// GET_ROUTEINFO_BY_TOPIC (105).
    pub struct GetRouteInfoRequestHeader {
        req topic: String = "topic",
        def accept_standard_json_only: bool = "acceptStandardJsonOnly" => false,
    }
}

command_header! {
    /// WIPE_WRITE_PERM_OF_BROKER (205).
    pub struct WipeWritePermOfBrokerRequestHeader {
        req broker_name: String = "brokerName",
    }
}

command_header! {
    pub struct WipeWritePermOfBrokerResponseHeader {
        req wipe_topic_count: i32 = "wipeTopicCount",
    }
}

command_header! {
    /// ADD_WRITE_PERM_OF_BROKER (327).
    pub struct AddWritePermOfBrokerRequestHeader {
        req broker_name: String = "brokerName",
    }
}

command_header! {
    pub struct AddWritePermOfBrokerResponseHeader {
        req add_topic_count: i32 = "addTopicCount",
    }
}

command_header! {
    /// GET_TOPICS_BY_CLUSTER (224).
    pub struct GetTopicsByClusterRequestHeader {
        req cluster: String = "cluster",
    }
}

command_header! {
    /// DELETE_TOPIC_IN_NAMESRV (216).
    pub struct DeleteTopicFromNamesrvRequestHeader {
        req topic: String = "topic",
        opt cluster_name: Option<String> = "clusterName",
    }
}

command_header! {
    /// QUERY_DATA_VERSION (322).
    pub struct QueryDataVersionRequestHeader {
        req broker_name: String = "brokerName",
        req broker_addr: String = "brokerAddr",
        req cluster_name: String = "clusterName",
        req broker_id: i64 = "brokerId",
    }
}

command_header! {
    pub struct QueryDataVersionResponseHeader {
        req changed: bool = "changed",
    }
}
