//! Kafka 3.x's ZooKeeper layout, as data: the paths and the JSON each znode holds, so that
//! Kafka's own tools (and ours) read what our brokers write, and the reverse.
//!
//! ```text
//! /brokers/ids/N                           ephemeral registration (endpoints of every listener)
//! /controller                              ephemeral {"version":1,"brokerid":N,"timestamp":".."}
//! /controller_epoch                        "E", bumped by every new controller
//! /brokers/topics/T                        {"version":3,"partitions":{"0":[1,2,3]},"topic_id":..}
//! /brokers/topics/T/partitions/P/state     {"controller_epoch":..,"leader":..,"leader_epoch":..,"isr":[..]}
//! /config/topics/T                         {"version":1,"config":{..}}
//! /admin/delete_topics/T                   a deletion request for the controller
//! ```

use std::collections::BTreeMap;

use base64::Engine;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Parent of the brokers' registrations.
pub(crate) const BROKER_IDS: &str = "/brokers/ids";
/// Parent of the topics' assignments.
pub(crate) const TOPICS: &str = "/brokers/topics";
/// The controller's ephemeral znode.
pub(crate) const CONTROLLER: &str = "/controller";
/// The controller epoch.
pub(crate) const CONTROLLER_EPOCH: &str = "/controller_epoch";
/// Pending topic deletions.
pub(crate) const DELETE_TOPICS: &str = "/admin/delete_topics";
/// The cluster id.
pub(crate) const CLUSTER_ID: &str = "/cluster/id";
/// Topic config overrides.
pub(crate) const CONFIG_TOPICS: &str = "/config/topics";
/// Persistent parents Kafka creates at start.
pub(crate) const PARENTS: &[&str] = &[
    "/brokers",
    BROKER_IDS,
    TOPICS,
    "/admin",
    DELETE_TOPICS,
    "/config",
    CONFIG_TOPICS,
];

/// `/brokers/ids/N`.
pub(crate) fn broker_path(id: i32) -> String {
    format!("{BROKER_IDS}/{id}")
}

/// `/brokers/topics/T`.
pub(crate) fn topic_path(topic: &str) -> String {
    format!("{TOPICS}/{topic}")
}

/// `/brokers/topics/T/partitions/P/state`.
pub(crate) fn state_path(topic: &str, partition: i32) -> String {
    format!("{TOPICS}/{topic}/partitions/{partition}/state")
}

/// Milliseconds since the epoch, as Kafka's `timestamp` strings.
pub(crate) fn timestamp() -> String {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
        .to_string()
}

/// A broker's registration (version 5, as Kafka 3.x writes it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Registration {
    /// Listener name → security protocol.
    #[serde(default)]
    pub(crate) listener_security_protocol_map: BTreeMap<String, String>,
    /// `NAME://host:port` of every listener.
    #[serde(default)]
    pub(crate) endpoints: Vec<String>,
    /// Always -1 (no JMX).
    #[serde(default = "minus_one")]
    pub(crate) jmx_port: i32,
    /// Supported features (none).
    #[serde(default)]
    pub(crate) features: BTreeMap<String, serde_json::Value>,
    /// Host of the first PLAINTEXT endpoint (for pre-0.10 clients).
    #[serde(default)]
    pub(crate) host: Option<String>,
    /// Its port, or -1.
    #[serde(default = "minus_one")]
    pub(crate) port: i32,
    /// Registration time.
    #[serde(default)]
    pub(crate) timestamp: String,
    /// Format version.
    #[serde(default)]
    pub(crate) version: i32,
}

fn minus_one() -> i32 {
    -1
}

/// One endpoint of a registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    /// The listener's name.
    pub(crate) listener: String,
    /// The advertised host.
    pub(crate) host: String,
    /// The advertised port.
    pub(crate) port: u16,
}

impl Registration {
    /// Builds a registration from the listeners (name, host, port) and their protocols.
    pub(crate) fn new(endpoints: &[Endpoint], protocols: BTreeMap<String, String>) -> Registration {
        let plaintext = endpoints
            .iter()
            .find(|e| protocols.get(&e.listener).map(String::as_str) == Some("PLAINTEXT"));
        Registration {
            endpoints: endpoints
                .iter()
                .map(|e| format!("{}://{}:{}", e.listener, e.host, e.port))
                .collect(),
            listener_security_protocol_map: protocols,
            jmx_port: -1,
            features: BTreeMap::new(),
            host: plaintext.map(|e| e.host.clone()),
            port: plaintext.map_or(-1, |e| i32::from(e.port)),
            timestamp: timestamp(),
            version: 5,
        }
    }

    /// The endpoints, parsed (malformed ones are skipped).
    pub(crate) fn parsed_endpoints(&self) -> Vec<Endpoint> {
        self.endpoints
            .iter()
            .filter_map(|e| {
                let (listener, rest) = e.split_once("://")?;
                let (host, port) = rest.rsplit_once(':')?;
                Some(Endpoint {
                    listener: listener.to_string(),
                    host: host.trim_matches(['[', ']']).to_string(),
                    port: port.parse().ok()?,
                })
            })
            .collect()
    }
}

/// `/controller`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ControllerZnode {
    /// Format version (1).
    pub(crate) version: i32,
    /// The controller's broker id.
    pub(crate) brokerid: i32,
    /// When it was elected.
    #[serde(default)]
    pub(crate) timestamp: String,
}

/// `/brokers/topics/T`: the replicas of each partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TopicZnode {
    /// 2 without a topic id (as older tools write it), 3 with one.
    pub(crate) version: i32,
    /// Partition number (as a string) → replica broker ids, preferred leader first.
    pub(crate) partitions: BTreeMap<String, Vec<i32>>,
    /// The topic id, in Kafka's URL-safe base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) topic_id: Option<String>,
    /// Reassignment in progress (never used here, kept for Kafka's tools).
    #[serde(default)]
    pub(crate) adding_replicas: BTreeMap<String, Vec<i32>>,
    /// Reassignment in progress (never used here, kept for Kafka's tools).
    #[serde(default)]
    pub(crate) removing_replicas: BTreeMap<String, Vec<i32>>,
}

impl TopicZnode {
    /// A version-3 assignment with `id`.
    pub(crate) fn new(assignment: &[Vec<i32>], id: Uuid) -> TopicZnode {
        TopicZnode {
            version: 3,
            partitions: assignment
                .iter()
                .enumerate()
                .map(|(p, r)| (p.to_string(), r.clone()))
                .collect(),
            topic_id: Some(encode_topic_id(id)),
            adding_replicas: BTreeMap::new(),
            removing_replicas: BTreeMap::new(),
        }
    }

    /// The replicas by partition number; None when the partitions are not exactly 0..n.
    pub(crate) fn replicas(&self) -> Option<Vec<Vec<i32>>> {
        let mut out = Vec::with_capacity(self.partitions.len());
        for p in 0..self.partitions.len() {
            out.push(self.partitions.get(&p.to_string())?.clone());
        }
        Some(out)
    }

    /// The topic id, if present and well-formed.
    pub(crate) fn id(&self) -> Option<Uuid> {
        self.topic_id.as_deref().and_then(decode_topic_id)
    }
}

/// `/brokers/topics/T/partitions/P/state`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PartitionStateZnode {
    /// Epoch of the controller that wrote the leader.
    pub(crate) controller_epoch: i32,
    /// The leader, or -1 when no replica of the ISR is alive.
    pub(crate) leader: i32,
    /// Format version (1).
    pub(crate) version: i32,
    /// Bumped on every leader change.
    pub(crate) leader_epoch: i32,
    /// The in-sync replicas.
    pub(crate) isr: Vec<i32>,
}

/// `/config/topics/T`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TopicConfigZnode {
    /// Format version (1).
    pub(crate) version: i32,
    /// Config overrides.
    #[serde(default)]
    pub(crate) config: BTreeMap<String, String>,
}

/// Kafka's `Uuid.toString()`: URL-safe base64 of the 16 bytes, without padding.
pub(crate) fn encode_topic_id(id: Uuid) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id.as_bytes())
}

/// The inverse of [`encode_topic_id`]; None for anything else.
pub(crate) fn decode_topic_id(text: &str) -> Option<Uuid> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .ok()?;
    Uuid::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registration_reads_like_kafkas() {
        let mut protocols = BTreeMap::new();
        protocols.insert("INTERNAL".to_string(), "PLAINTEXT".to_string());
        protocols.insert("EXTERNAL".to_string(), "PLAINTEXT".to_string());
        let endpoints = vec![
            Endpoint {
                listener: "INTERNAL".into(),
                host: "hadoop-master".into(),
                port: 9092,
            },
            Endpoint {
                listener: "EXTERNAL".into(),
                host: "localhost".into(),
                port: 29092,
            },
        ];
        let r = Registration::new(&endpoints, protocols);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["version"], 5);
        assert_eq!(json["jmx_port"], -1);
        assert_eq!(json["host"], "hadoop-master");
        assert_eq!(json["port"], 9092);
        assert_eq!(json["endpoints"][1], "EXTERNAL://localhost:29092");
        assert_eq!(r.parsed_endpoints(), endpoints);
        // Kafka's own registration (3.x) parses.
        let kafka = r#"{"features":{},"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT"},
            "endpoints":["PLAINTEXT://kafka1:9092"],"jmx_port":-1,"port":9092,"host":"kafka1",
            "version":5,"timestamp":"1700000000000"}"#;
        let parsed: Registration = serde_json::from_str(kafka).unwrap();
        assert_eq!(parsed.parsed_endpoints()[0].port, 9092);
    }

    #[test]
    fn topic_ids_round_trip_through_kafkas_base64() {
        let id = Uuid::new_v4();
        let text = encode_topic_id(id);
        assert_eq!(text.len(), 22);
        assert_eq!(decode_topic_id(&text), Some(id));
        assert_eq!(decode_topic_id("not base64!"), None);
    }

    #[test]
    fn an_assignment_written_by_kafka_topics_parses() {
        let z: TopicZnode =
            serde_json::from_str(r#"{"version":2,"partitions":{"1":[2,3],"0":[1,2]}}"#).unwrap();
        assert_eq!(z.replicas(), Some(vec![vec![1, 2], vec![2, 3]]));
        assert_eq!(z.id(), None);
        let gap: TopicZnode =
            serde_json::from_str(r#"{"version":2,"partitions":{"0":[1],"2":[1]}}"#).unwrap();
        assert_eq!(gap.replicas(), None);
    }
}
