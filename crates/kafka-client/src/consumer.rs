//! Reading partitions: positions, ListOffsets, Fetch from each partition's leader, batch decoding.
//! No group logic here ([`crate::GroupConsumer`] adds it), so replication and tools can use it
//! with manually assigned partitions.

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_protocol::messages::{FetchRequest, ListOffsetsRequest};
use tokio::task::JoinSet;

use crate::client::Client;
use crate::error::{Error, ResponseError, Result, check};
use crate::records::{ConsumerRecord, TopicPartition, decode_batches};
use crate::requests;

/// Where to start when a partition has no position (or its position is out of range).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetReset {
    /// The oldest record still stored (`--from-beginning`).
    Earliest,
    /// After the last record (only new records).
    Latest,
    /// Fail instead of guessing.
    None,
}

impl OffsetReset {
    /// The ListOffsets timestamp meaning this position, if any.
    fn timestamp(self) -> Option<i64> {
        match self {
            OffsetReset::Earliest => Some(-2),
            OffsetReset::Latest => Some(-1),
            OffsetReset::None => None,
        }
    }
}

/// Settings of a [`Consumer`].
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// How long a Fetch may wait on the broker for `min_bytes`.
    pub max_wait: Duration,
    /// Bytes the broker should gather before answering.
    pub min_bytes: i32,
    /// Limit of a whole Fetch answer.
    pub max_bytes: i32,
    /// Limit per partition in a Fetch answer.
    pub partition_max_bytes: i32,
    /// Where a partition without a valid position starts.
    pub auto_offset_reset: OffsetReset,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        ConsumerConfig {
            max_wait: Duration::from_millis(500),
            min_bytes: 1,
            max_bytes: 50 * 1024 * 1024,
            partition_max_bytes: 1024 * 1024,
            auto_offset_reset: OffsetReset::Latest,
        }
    }
}

/// Reads assigned partitions from their leaders.
#[derive(Debug)]
pub struct Consumer {
    client: Client,
    config: ConsumerConfig,
    /// Next offset to read per assigned partition; `None` until resolved by `auto_offset_reset`.
    positions: BTreeMap<TopicPartition, Option<i64>>,
}

impl Consumer {
    /// A consumer with nothing assigned yet.
    pub fn new(client: Client, config: ConsumerConfig) -> Consumer {
        Consumer {
            client,
            config,
            positions: BTreeMap::new(),
        }
    }

    /// The client this consumer reads through.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Replaces the assignment; each partition starts at the given offset, or (`None`) per
    /// `auto_offset_reset`.
    pub fn assign(&mut self, partitions: impl IntoIterator<Item = (TopicPartition, Option<i64>)>) {
        self.positions = partitions.into_iter().collect();
    }

    /// The assigned partitions.
    pub fn assignment(&self) -> Vec<TopicPartition> {
        self.positions.keys().cloned().collect()
    }

    /// Moves a partition's position.
    pub fn seek(&mut self, tp: TopicPartition, offset: i64) {
        self.positions.insert(tp, Some(offset));
    }

    /// The next offset to be read from `tp`, once known.
    pub fn position(&self, tp: &TopicPartition) -> Option<i64> {
        self.positions.get(tp).copied().flatten()
    }

    /// The known positions of every assigned partition.
    pub fn positions(&self) -> BTreeMap<TopicPartition, i64> {
        self.positions
            .iter()
            .filter_map(|(tp, p)| p.map(|p| (tp.clone(), p)))
            .collect()
    }

    /// One round: resolves missing positions, fetches every assigned partition from its leader
    /// (leaders in parallel, each waiting up to `max_wait`), and returns the records in offset
    /// order per partition. An empty answer is normal.
    pub async fn poll(&mut self) -> Result<Vec<ConsumerRecord>> {
        if self.positions.is_empty() {
            tokio::time::sleep(self.config.max_wait).await;
            return Ok(Vec::new());
        }
        match self.resolve_positions().await {
            Ok(()) => {}
            Err(e) if e.is_retriable() => {
                tracing::debug!("positions unknown, will retry: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => return Err(e),
        }
        let mut by_leader: BTreeMap<i32, Vec<(TopicPartition, i64)>> = BTreeMap::new();
        for (tp, pos) in &self.positions {
            let Some(pos) = *pos else { continue };
            match self.client.leader(&tp.topic, tp.partition).await {
                Ok(leader) => by_leader.entry(leader).or_default().push((tp.clone(), pos)),
                Err(e) if e.is_retriable() => {
                    tracing::debug!(%tp, "no leader yet: {e}");
                    self.client.invalidate(&tp.topic);
                }
                Err(e) => return Err(e),
            }
        }
        if by_leader.is_empty() {
            // Nothing fetchable yet (leaders unknown, positions unresolved): do not spin.
            tokio::time::sleep(Duration::from_millis(100)).await;
            return Ok(Vec::new());
        }
        let mut tasks = JoinSet::new();
        for (leader, parts) in by_leader {
            let client = self.client.clone();
            let config = self.config.clone();
            tasks.spawn(async move { fetch_from(&client, &config, leader, parts).await });
        }
        let mut out = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            let outcome = joined.map_err(|e| Error::Invalid(format!("fetch task failed: {e}")))?;
            match outcome {
                Ok(parts) => {
                    for part in parts {
                        self.apply(part, &mut out)?;
                    }
                }
                Err(e) if e.is_retriable() => {
                    tracing::debug!("fetch failed, will retry: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Takes one partition's fetch outcome into the positions and the output.
    fn apply(&mut self, part: PartitionFetch, out: &mut Vec<ConsumerRecord>) -> Result<()> {
        match part.error {
            None => {
                if let Some(next) = part.next_offset {
                    self.positions.insert(part.tp.clone(), Some(next));
                }
                out.extend(part.records);
            }
            Some(ResponseError::OffsetOutOfRange) => {
                tracing::info!(tp = %part.tp, "offset out of range, resetting");
                self.positions.insert(part.tp, None);
            }
            Some(e) if e.is_retriable() || e == ResponseError::NotLeaderOrFollower => {
                self.client.invalidate(&part.tp.topic);
            }
            Some(e) => {
                return Err(Error::Broker {
                    context: format!("fetch {}", part.tp),
                    error: e,
                    message: None,
                });
            }
        }
        Ok(())
    }

    /// Gives every assigned partition without a position one, per `auto_offset_reset`.
    pub(crate) async fn resolve_positions(&mut self) -> Result<()> {
        let missing: Vec<TopicPartition> = self
            .positions
            .iter()
            .filter(|(_, p)| p.is_none())
            .map(|(tp, _)| tp.clone())
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let Some(ts) = self.config.auto_offset_reset.timestamp() else {
            return Err(Error::Invalid(format!(
                "no committed offset for {} and auto.offset.reset is none",
                missing
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        let offsets = list_offsets(&self.client, &missing, ts).await?;
        for (tp, offset) in offsets {
            self.positions.insert(tp, Some(offset));
        }
        Ok(())
    }
}

/// One partition's part of a Fetch answer.
#[derive(Debug)]
struct PartitionFetch {
    tp: TopicPartition,
    error: Option<ResponseError>,
    records: Vec<ConsumerRecord>,
    next_offset: Option<i64>,
}

/// One Fetch to one leader for `parts` (each at its position).
async fn fetch_from(
    client: &Client,
    config: &ConsumerConfig,
    leader: i32,
    parts: Vec<(TopicPartition, i64)>,
) -> Result<Vec<PartitionFetch>> {
    let conn = client.broker_connection(leader).await?;
    let version = conn.version::<FetchRequest>()?;
    let request = requests::fetch(
        i32::try_from(config.max_wait.as_millis()).unwrap_or(i32::MAX),
        config.min_bytes,
        config.max_bytes,
        config.partition_max_bytes,
        &parts,
    );
    let response = conn
        .call_waiting(&request, version, config.max_wait)
        .await?;
    check(response.error_code, || {
        format!("fetch from {}", conn.addr())
    })?;
    let positions: BTreeMap<TopicPartition, i64> = parts.into_iter().collect();
    let mut out = Vec::new();
    for topic in response.responses {
        let name = topic.topic.0.to_string();
        for p in topic.partitions {
            let tp = TopicPartition::new(name.clone(), p.partition_index);
            let Some(&from) = positions.get(&tp) else {
                continue;
            };
            let error = ResponseError::try_from_code(p.error_code);
            let (records, next_offset) = match (error, p.records) {
                (None, Some(data)) => {
                    decode_batches(&name, p.partition_index, data, from, conn.addr())?
                }
                _ => (Vec::new(), None),
            };
            out.push(PartitionFetch {
                tp,
                error,
                records,
                next_offset,
            });
        }
    }
    Ok(out)
}

/// The offset of each partition at `timestamp` (-2 earliest, -1 latest), asking each leader.
pub(crate) async fn list_offsets(
    client: &Client,
    partitions: &[TopicPartition],
    timestamp: i64,
) -> Result<BTreeMap<TopicPartition, i64>> {
    let mut by_leader: BTreeMap<i32, Vec<&TopicPartition>> = BTreeMap::new();
    for tp in partitions {
        let leader = client.leader(&tp.topic, tp.partition).await?;
        by_leader.entry(leader).or_default().push(tp);
    }
    let mut out = BTreeMap::new();
    for (leader, tps) in by_leader {
        let conn = client.broker_connection(leader).await?;
        let version = conn.version::<ListOffsetsRequest>()?;
        let request = requests::list_offsets(&tps, timestamp);
        let response = conn.call(&request, version).await?;
        for t in response.topics {
            for p in t.partitions {
                let tp = TopicPartition::new(t.name.0.to_string(), p.partition_index);
                check(p.error_code, || format!("list offsets of {tp}"))?;
                out.insert(tp, p.offset);
            }
        }
    }
    Ok(out)
}
