//! Kafka checks through rdkafka, a client independent of our own: metadata, a produce/consume
//! round trip through one broker, topics and their messages, consumer groups and their lag.
//! Blocking calls, run on a blocking thread by the callers.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::metadata::Metadata;
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

/// A client of the broker at `addr` and its answer to a Metadata request for every topic.
fn client_and_metadata(addr: SocketAddr) -> Result<(BaseConsumer, Metadata), String> {
    let client: BaseConsumer = config(addr)
        .create()
        .map_err(|e| format!("cannot create a Kafka client: {e}"))?;
    let md = client
        .fetch_metadata(None, TIMEOUT)
        .map_err(|e| format!("Metadata from {addr}: {e}"))?;
    Ok((client, md))
}

/// A Metadata request to the broker at `addr`.
pub(crate) fn metadata(addr: SocketAddr) -> Result<ClusterInfo, String> {
    let (_, md) = client_and_metadata(addr)?;
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

/// Every topic's partitions and replication: each partition needs a leader and all its
/// replicas in sync. The detail lists every topic, so a missing one shows.
pub(crate) fn topics(addr: SocketAddr) -> Result<String, String> {
    let (_, md) = client_and_metadata(addr)?;
    let mut shown = Vec::new();
    let mut problems = Vec::new();
    let mut topics: Vec<_> = md.topics().iter().collect();
    topics.sort_by_key(|t| t.name());
    for t in topics {
        if let Some(e) = t.error() {
            problems.push(format!("`{}`: {e:?}", t.name()));
            continue;
        }
        let replication: BTreeSet<usize> =
            t.partitions().iter().map(|p| p.replicas().len()).collect();
        shown.push(format!(
            "{} {}p r{}",
            t.name(),
            t.partitions().len(),
            replication
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join("/")
        ));
        for p in t.partitions() {
            if p.leader() < 0 {
                problems.push(format!("{}/{} has no leader", t.name(), p.id()));
            } else if p.isr().len() < p.replicas().len() {
                problems.push(format!(
                    "{}/{}: ISR {:?} of replicas {:?}",
                    t.name(),
                    p.id(),
                    p.isr(),
                    p.replicas()
                ));
            }
        }
    }
    let listing = if shown.is_empty() {
        "no topics".to_owned()
    } else {
        shown.join(", ")
    };
    if problems.is_empty() {
        Ok(listing)
    } else {
        Err(format!("{}; topics: {listing}", problems.join("; ")))
    }
}

/// One consumer group's committed offsets against the partitions' end offsets.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GroupLag {
    /// The group id.
    pub(crate) group: String,
    /// Its state as the coordinator reports it (`Stable`, `Empty`, …).
    pub(crate) state: String,
    /// Messages between the committed offsets and the ends, over the committed partitions.
    pub(crate) lag: i64,
    /// Partitions with a committed offset.
    pub(crate) committed: usize,
    /// Partitions assigned to a member, holding messages, with no committed offset.
    pub(crate) uncommitted: Vec<String>,
}

impl std::fmt::Display for GroupLag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}): lag {} over {} committed partition(s)",
            self.group, self.state, self.lag, self.committed
        )?;
        if !self.uncommitted.is_empty() {
            write!(f, ", nothing committed for {}", self.uncommitted.join(" "))?;
        }
        Ok(())
    }
}

/// Every consumer group the brokers know, with its lag.
pub(crate) fn group_lags(addr: SocketAddr) -> Result<Vec<GroupLag>, String> {
    let (client, md) = client_and_metadata(addr)?;
    let groups = client
        .fetch_group_list(None, TIMEOUT)
        .map_err(|e| format!("listing consumer groups via {addr}: {e}"))?;
    let mut out = Vec::new();
    for g in groups.groups() {
        if !(g.protocol_type().is_empty() || g.protocol_type() == "consumer") || g.state() == "Dead"
        {
            continue;
        }
        let mut assigned = BTreeSet::new();
        for m in g.members() {
            for tp in m.assignment().map(assignment).unwrap_or_default() {
                assigned.insert(tp);
            }
        }
        // Committed offsets of every partition of every topic, asked as that group.
        let asker: BaseConsumer = config(addr)
            .set("group.id", g.name())
            .set("enable.auto.commit", "false")
            .create()
            .map_err(|e| format!("cannot create a Kafka client: {e}"))?;
        let mut tpl = TopicPartitionList::new();
        for t in md.topics().iter().filter(|t| t.error().is_none()) {
            for p in t.partitions() {
                tpl.add_partition(t.name(), p.id());
            }
        }
        let committed = asker
            .committed_offsets(tpl, TIMEOUT)
            .map_err(|e| format!("committed offsets of group {}: {e}", g.name()))?;
        let mut lag = GroupLag {
            group: g.name().to_owned(),
            state: g.state().to_owned(),
            lag: 0,
            committed: 0,
            uncommitted: Vec::new(),
        };
        for e in committed.elements() {
            let (topic, p) = (e.topic(), e.partition());
            match e.offset() {
                Offset::Offset(o) => {
                    let (_, high) = client
                        .fetch_watermarks(topic, p, TIMEOUT)
                        .map_err(|e| format!("end offset of {topic}/{p}: {e}"))?;
                    lag.committed += 1;
                    lag.lag += (high - o).max(0);
                }
                _ if assigned.contains(&(topic.to_owned(), p)) => {
                    let (low, high) = client
                        .fetch_watermarks(topic, p, TIMEOUT)
                        .map_err(|e| format!("offsets of {topic}/{p}: {e}"))?;
                    if high > low {
                        lag.uncommitted.push(format!("{topic}/{p}"));
                    }
                }
                _ => {}
            }
        }
        out.push(lag);
    }
    out.sort_by(|a, b| a.group.cmp(&b.group));
    Ok(out)
}

/// A group's progress through some topics: per partition, the committed offset (the start
/// when nothing is committed) against the end offset. Topics not there yet are said so.
pub(crate) fn topic_lag(
    addr: SocketAddr,
    group: &str,
    topics: &[String],
) -> Result<String, String> {
    let client: BaseConsumer = config(addr)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .map_err(|e| format!("cannot create a Kafka client: {e}"))?;
    let md = client
        .fetch_metadata(None, TIMEOUT)
        .map_err(|e| format!("Metadata from {addr}: {e}"))?;
    let mut parts = Vec::new();
    let mut total = 0i64;
    for topic in topics {
        let Some(t) = md
            .topics()
            .iter()
            .find(|t| t.name() == topic && t.error().is_none())
        else {
            parts.push(format!("{topic}: no such topic yet"));
            continue;
        };
        let mut tpl = TopicPartitionList::new();
        for p in t.partitions() {
            tpl.add_partition(topic, p.id());
        }
        let committed = client
            .committed_offsets(tpl, TIMEOUT)
            .map_err(|e| format!("committed offsets of group {group}: {e}"))?;
        for e in committed.elements() {
            let p = e.partition();
            let (low, high) = client
                .fetch_watermarks(topic, p, TIMEOUT)
                .map_err(|e| format!("offsets of {topic}/{p}: {e}"))?;
            let (at, lag) = match e.offset() {
                Offset::Offset(o) => (o.to_string(), (high - o).max(0)),
                _ => ("none".to_owned(), high - low),
            };
            total += lag;
            parts.push(format!("{topic}/{p} committed {at} end {high} lag {lag}"));
        }
    }
    Ok(format!("group {group}: lag {total} ({})", parts.join(", ")))
}

/// The partitions of a member's assignment, in the consumer protocol's format (version i16,
/// then topics: name i16-prefixed string, partitions i32-counted array of i32). Malformed
/// bytes give what was read up to there.
fn assignment(bytes: &[u8]) -> Vec<(String, i32)> {
    let mut out = Vec::new();
    let mut r = Reader(bytes);
    let _version = r.i16();
    let Some(topics) = r.i32() else { return out };
    for _ in 0..topics.max(0) {
        let Some(name) = r.string() else { break };
        let Some(count) = r.i32() else { break };
        for _ in 0..count.max(0) {
            let Some(p) = r.i32() else { return out };
            out.push((name.clone(), p));
        }
    }
    out
}

/// A bounded big-endian reader: every read checks what is left.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }
    fn i16(&mut self) -> Option<i16> {
        Some(i16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }
    fn i32(&mut self) -> Option<i32> {
        Some(i32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }
    fn string(&mut self) -> Option<String> {
        let len = usize::try_from(self.i16()?).ok()?;
        Some(String::from_utf8_lossy(self.take(len)?).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(topics: &[(&str, &[i32])]) -> Vec<u8> {
        let mut b = 0i16.to_be_bytes().to_vec();
        b.extend((topics.len() as i32).to_be_bytes());
        for (name, parts) in topics {
            b.extend((name.len() as i16).to_be_bytes());
            b.extend(name.as_bytes());
            b.extend((parts.len() as i32).to_be_bytes());
            for p in *parts {
                b.extend(p.to_be_bytes());
            }
        }
        b.extend((-1i32).to_be_bytes()); // no user data
        b
    }

    #[test]
    fn assignment_lists_topic_partitions() {
        let bytes = encode(&[("Hello-Kafka", &[0, 2]), ("t", &[1])]);
        assert_eq!(
            assignment(&bytes),
            vec![
                ("Hello-Kafka".to_owned(), 0),
                ("Hello-Kafka".to_owned(), 2),
                ("t".to_owned(), 1)
            ]
        );
    }

    #[test]
    fn a_truncated_or_lying_assignment_gives_what_was_read() {
        let bytes = encode(&[("Hello-Kafka", &[0, 2])]);
        assert_eq!(
            assignment(&bytes[..bytes.len() - 8]),
            vec![("Hello-Kafka".to_owned(), 0)]
        );
        let mut huge = 0i16.to_be_bytes().to_vec();
        huge.extend(i32::MAX.to_be_bytes());
        assert!(assignment(&huge).is_empty());
        assert!(assignment(&[]).is_empty());
    }
}
