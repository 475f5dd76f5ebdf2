//! Kafka checks through rdkafka, a client independent of our own: metadata, a produce/consume
//! round trip through one broker, topics and their messages. Blocking calls, run on a
//! blocking thread by the callers.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

/// How long one Kafka request may take.
const TIMEOUT: Duration = Duration::from_secs(5);

/// A topic as Metadata describes it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TopicInfo {
    /// Its name.
    pub(crate) name: String,
    /// Replicas of each partition, in partition order.
    pub(crate) replicas: Vec<usize>,
}

/// What a Metadata request answered.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ClusterInfo {
    /// Broker ids.
    pub(crate) brokers: Vec<i32>,
    /// Topics.
    pub(crate) topics: Vec<TopicInfo>,
}

fn config(addr: SocketAddr) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", addr.to_string())
        .set("socket.timeout.ms", "5000")
        .set("log_level", "0");
    c
}

/// A Metadata request to the broker at `addr`.
pub(crate) fn metadata(addr: SocketAddr) -> Result<ClusterInfo, String> {
    let consumer: BaseConsumer = config(addr)
        .create()
        .map_err(|e| format!("cannot create a Kafka client: {e}"))?;
    let md = consumer
        .fetch_metadata(None, TIMEOUT)
        .map_err(|e| format!("Metadata from {addr}: {e}"))?;
    Ok(ClusterInfo {
        brokers: md.brokers().iter().map(|b| b.id()).collect(),
        topics: md
            .topics()
            .iter()
            .filter(|t| t.error().is_none())
            .map(|t| TopicInfo {
                name: t.name().to_owned(),
                replicas: t.partitions().iter().map(|p| p.replicas().len()).collect(),
            })
            .collect(),
    })
}

/// Produces one unique message through the broker at `addr` and reads it back.
pub(crate) fn round_trip(addr: SocketAddr, topic: &str) -> Result<String, String> {
    // A broker that does not answer Metadata fails here, without waiting for produce timeouts.
    metadata(addr)?;
    let admin: AdminClient<DefaultClientContext> = config(addr)
        .create()
        .map_err(|e| format!("cannot create an admin client: {e}"))?;
    let new = NewTopic::new(topic, 1, TopicReplication::Fixed(1));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    // An existing topic answers TopicAlreadyExists: fine.
    let _ = runtime.block_on(admin.create_topics(
        [&new],
        &AdminOptions::new().operation_timeout(Some(TIMEOUT)),
    ));

    let producer: BaseProducer = config(addr)
        .create()
        .map_err(|e| format!("cannot create a producer: {e}"))?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let payload = format!("lab-check-{}-{nanos}", std::process::id());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match producer.send(
            BaseRecord::to(topic)
                .key("lab-check")
                .payload(&payload)
                .partition(0),
        ) {
            Ok(()) => break,
            Err(_) if Instant::now() < deadline => {
                producer.poll(Duration::from_millis(100));
            }
            Err((e, _)) => return Err(format!("produce to {topic} via {addr}: {e}")),
        }
    }
    producer
        .flush(TIMEOUT)
        .map_err(|e| format!("produce to {topic} via {addr}: {e}"))?;

    let consumer: BaseConsumer = config(addr)
        .set("group.id", "lab-check")
        .set("enable.auto.commit", "false")
        .create()
        .map_err(|e| format!("cannot create a consumer: {e}"))?;
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)
        .map_err(|e| e.to_string())?;
    consumer.assign(&tpl).map_err(|e| e.to_string())?;
    while Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(500)) {
            Some(Ok(m)) if m.payload() == Some(payload.as_bytes()) => {
                return Ok(format!(
                    "produced and consumed offset {} of {topic} via {addr}",
                    m.offset()
                ));
            }
            Some(Err(e)) => return Err(format!("consume {topic} via {addr}: {e}")),
            _ => {}
        }
    }
    Err(format!(
        "the message produced to {topic} via {addr} was not consumed back within 20 s"
    ))
}

/// Reads a topic from the beginning to its end: message count and the keys seen.
pub(crate) fn messages(addr: SocketAddr, topic: &str) -> Result<(usize, BTreeSet<String>), String> {
    let info = metadata(addr)?;
    let Some(t) = info.topics.iter().find(|t| t.name == topic) else {
        return Err(format!("no topic `{topic}`"));
    };
    let consumer: BaseConsumer = config(addr)
        .set("group.id", "lab-check")
        .set("enable.auto.commit", "false")
        .create()
        .map_err(|e| format!("cannot create a consumer: {e}"))?;
    let mut tpl = TopicPartitionList::new();
    let mut ends = Vec::new();
    for p in 0..t.replicas.len() {
        let p = i32::try_from(p).map_err(|e| e.to_string())?;
        let (low, high) = consumer
            .fetch_watermarks(topic, p, TIMEOUT)
            .map_err(|e| format!("offsets of {topic}/{p}: {e}"))?;
        if high > low {
            tpl.add_partition_offset(topic, p, Offset::Offset(low))
                .map_err(|e| e.to_string())?;
            ends.push(high);
        }
    }
    let mut count = 0usize;
    let mut keys = BTreeSet::new();
    if tpl.count() == 0 {
        return Ok((0, keys));
    }
    consumer.assign(&tpl).map_err(|e| e.to_string())?;
    let mut remaining: Vec<(i32, i64)> = tpl
        .elements()
        .iter()
        .zip(&ends)
        .map(|(e, high)| (e.partition(), *high))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !remaining.is_empty() && Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(500)) {
            Some(Ok(m)) => {
                count += 1;
                if let Some(k) = m.key() {
                    keys.insert(String::from_utf8_lossy(k).into_owned());
                }
                let (p, o) = (m.partition(), m.offset());
                remaining.retain(|(rp, high)| !(*rp == p && o + 1 >= *high));
            }
            Some(Err(e)) => return Err(format!("consume {topic}: {e}")),
            None => {}
        }
    }
    Ok((count, keys))
}
