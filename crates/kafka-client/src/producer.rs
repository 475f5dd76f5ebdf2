//! Sending records: partition choice, one record batch (v2) per partition, one Produce per leader,
//! acks 0/1/all, retries after a metadata refresh, and optional idempotence (producer id and
//! per-partition sequence numbers, so a retried batch is stored once).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use kafka_protocol::messages::{InitProducerIdRequest, ProduceRequest, ProduceResponse};
use kafka_protocol::records::Compression;
use tokio::task::JoinHandle;

use crate::client::Client;
use crate::connection::Pending;
use crate::error::{Error, ResponseError, Result, check, check_with_message};
use crate::partitioner::murmur2_partition;
use crate::records::{BatchProducer, ProducerRecord, TopicPartition, encode_batch};
use crate::requests;

/// How long a producer trusts a topic's partition count (Java's `metadata.max.age.ms`).
const METADATA_MAX_AGE: Duration = Duration::from_secs(300);

/// How many replicas must have a batch before the broker answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acks {
    /// `acks=0`: no answer at all.
    None,
    /// `acks=1`: the leader has it.
    Leader,
    /// `acks=all` (-1): every in-sync replica has it.
    All,
}

impl Acks {
    fn code(self) -> i16 {
        match self {
            Acks::None => 0,
            Acks::Leader => 1,
            Acks::All => -1,
        }
    }
}

/// Settings of a [`Producer`].
#[derive(Debug, Clone)]
pub struct ProducerConfig {
    /// `acks`.
    pub acks: Acks,
    /// Codec of each batch.
    pub compression: Compression,
    /// Bytes buffered (keys + values) before `send` flushes by itself.
    pub batch_size: usize,
    /// `enable.idempotence` (needs acks=all).
    pub idempotent: bool,
    /// Attempts after the first for a batch that failed with a retriable error.
    pub retries: u32,
    /// How long the broker may take to gather acks.
    pub request_timeout: Duration,
    /// Let the broker create a missing topic (when its `auto.create.topics.enable` allows).
    pub auto_create_topics: bool,
    /// Produce requests in flight at once (`max.in.flight.requests.per.connection`). With more
    /// than one, a retried batch may land after a later one, as with Java's client; an
    /// idempotent producer therefore keeps one, so its sequences never arrive out of order.
    pub max_in_flight: usize,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            acks: Acks::All,
            compression: Compression::None,
            batch_size: 16384,
            idempotent: false,
            retries: 5,
            request_timeout: Duration::from_secs(30),
            auto_create_topics: true,
            max_in_flight: 5,
        }
    }
}

/// Where a record was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordMetadata {
    /// Topic and partition.
    pub partition: TopicPartition,
    /// Its offset (-1 with acks=0, where the broker says nothing).
    pub offset: i64,
}

/// One encoded batch waiting for its acknowledgement.
#[derive(Debug)]
struct Batch {
    tp: TopicPartition,
    data: Bytes,
    count: usize,
}

/// Buffers records per partition and sends them as batches.
#[derive(Debug)]
pub struct Producer {
    client: Client,
    config: ProducerConfig,
    pending: BTreeMap<TopicPartition, Vec<ProducerRecord>>,
    pending_bytes: usize,
    round_robin: HashMap<String, i32>,
    /// Partition count per topic and when it was read; read again after [`METADATA_MAX_AGE`],
    /// so records spread over partitions added meanwhile.
    partition_counts: HashMap<String, (i32, Instant)>,
    producer_id: Option<(i64, i16)>,
    sequences: HashMap<TopicPartition, i32>,
    /// Flushes sent and not yet acknowledged, oldest first.
    in_flight: VecDeque<JoinHandle<Result<Vec<RecordMetadata>>>>,
}

impl Drop for Producer {
    fn drop(&mut self) {
        // Unflushed requests are abandoned with the producer, as when a Java producer is not closed.
        for task in &self.in_flight {
            task.abort();
        }
    }
}

/// What a flush task needs: the cluster and the settings.
#[derive(Debug, Clone)]
struct Sender {
    client: Client,
    config: ProducerConfig,
}

impl Producer {
    /// A producer; asks for a producer id first when `config.idempotent`.
    pub async fn new(client: Client, config: ProducerConfig) -> Result<Producer> {
        if config.idempotent && config.acks != Acks::All {
            return Err(Error::Invalid(
                "an idempotent producer needs acks=all".into(),
            ));
        }
        let producer_id = if config.idempotent {
            let conn = client.any_connection().await?;
            let version = conn.version::<InitProducerIdRequest>()?;
            let request = requests::init_producer_id(version);
            let r = conn.call(&request, version).await?;
            check(r.error_code, || "get a producer id".into())?;
            Some((r.producer_id.0, r.producer_epoch))
        } else {
            None
        };
        Ok(Producer {
            client,
            config,
            pending: BTreeMap::new(),
            pending_bytes: 0,
            round_robin: HashMap::new(),
            partition_counts: HashMap::new(),
            producer_id,
            sequences: HashMap::new(),
            in_flight: VecDeque::new(),
        })
    }

    /// Buffers `record` for its partition; once `batch_size` bytes wait, sends them without
    /// waiting (up to `max_in_flight` sends at once). Returns the records acknowledged since the
    /// last call (often none), or the error of a send that failed for good.
    pub async fn send(&mut self, record: ProducerRecord) -> Result<Vec<RecordMetadata>> {
        let partition = self.partition_for(&record).await?;
        self.pending_bytes += record.key.as_ref().map_or(0, Bytes::len)
            + record.value.as_ref().map_or(0, Bytes::len)
            + 16;
        self.pending
            .entry(TopicPartition::new(record.topic.clone(), partition))
            .or_default()
            .push(record);
        let mut delivered = Vec::new();
        if self.pending_bytes >= self.config.batch_size {
            self.dispatch().await?;
            let limit = if self.producer_id.is_some() {
                1
            } else {
                self.config.max_in_flight.max(1)
            };
            while self.in_flight.len() > limit {
                delivered.extend(self.wait_oldest().await?);
            }
        }
        while self.in_flight.front().is_some_and(JoinHandle::is_finished) {
            delivered.extend(self.wait_oldest().await?);
        }
        Ok(delivered)
    }

    /// Sends every buffered record and waits for every acknowledgement still due.
    pub async fn flush(&mut self) -> Result<Vec<RecordMetadata>> {
        self.dispatch().await?;
        let mut delivered = Vec::new();
        while !self.in_flight.is_empty() {
            delivered.extend(self.wait_oldest().await?);
        }
        Ok(delivered)
    }

    async fn wait_oldest(&mut self) -> Result<Vec<RecordMetadata>> {
        match self.in_flight.pop_front() {
            Some(task) => task
                .await
                .map_err(|e| Error::Invalid(format!("produce task failed: {e}")))?,
            None => Ok(Vec::new()),
        }
    }

    /// Encodes the buffered records (one batch per partition) and writes them to their leaders;
    /// a background task reads the answers and retries.
    async fn dispatch(&mut self) -> Result<()> {
        let pending = std::mem::take(&mut self.pending);
        self.pending_bytes = 0;
        if pending.is_empty() {
            return Ok(());
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let mut batches = Vec::with_capacity(pending.len());
        for (tp, records) in pending {
            let producer = match self.producer_id {
                Some((id, epoch)) => {
                    let seq = self.sequences.entry(tp.clone()).or_insert(0);
                    let base_sequence = *seq;
                    let n = i32::try_from(records.len()).unwrap_or(i32::MAX);
                    *seq = seq.wrapping_add(n) & i32::MAX;
                    Some(BatchProducer {
                        id,
                        epoch,
                        base_sequence,
                    })
                }
                None => None,
            };
            let data = encode_batch(&records, self.config.compression, producer, now)?;
            batches.push(Batch {
                tp,
                data,
                count: records.len(),
            });
        }
        let sender = Sender {
            client: self.client.clone(),
            config: self.config.clone(),
        };
        // Written here, in order; only the answers are awaited in the background.
        let (started, failed) = sender.start(batches).await;
        self.in_flight
            .push_back(tokio::spawn(sender.complete(started, failed)));
        Ok(())
    }

    /// The partition of a record: its own, else by key hash, else round-robin.
    async fn partition_for(&mut self, record: &ProducerRecord) -> Result<i32> {
        let count = match self.partition_counts.get(&record.topic) {
            Some(&(n, read_at)) if read_at.elapsed() < METADATA_MAX_AGE => n,
            _ => {
                self.client.invalidate(&record.topic);
                let topic = self
                    .client
                    .topic(&record.topic, self.config.auto_create_topics)
                    .await?;
                let n = i32::try_from(topic.partitions.len()).unwrap_or(i32::MAX);
                self.partition_counts
                    .insert(record.topic.clone(), (n, Instant::now()));
                n
            }
        };
        if count == 0 {
            return Err(Error::UnknownTopic(record.topic.clone()));
        }
        if let Some(p) = record.partition {
            if !(0..count).contains(&p) {
                return Err(Error::Invalid(format!(
                    "topic {} has no partition {p} (it has {count})",
                    record.topic
                )));
            }
            return Ok(p);
        }
        if let Some(key) = &record.key {
            return Ok(murmur2_partition(key, count));
        }
        let next = self.round_robin.entry(record.topic.clone()).or_insert(0);
        let p = *next % count;
        *next = next.wrapping_add(1) & i32::MAX;
        Ok(p)
    }
}

/// A Produce request written to one leader, its answer not read yet.
#[derive(Debug)]
struct InFlight {
    batches: Vec<Batch>,
    /// The written request (`None` with acks=0: nothing will come back), or why it failed.
    sent: Result<Option<Pending<ProduceRequest>>>,
}

impl Sender {
    /// Writes one Produce per leader for `batches`, in the order given, so batches of one
    /// partition reach its leader in order; batches without a leader come back failed.
    async fn start(&self, batches: Vec<Batch>) -> (Vec<InFlight>, Vec<(Batch, Error)>) {
        let mut by_leader: BTreeMap<i32, Vec<Batch>> = BTreeMap::new();
        let mut failed = Vec::new();
        for b in batches {
            match self.client.leader(&b.tp.topic, b.tp.partition).await {
                Ok(l) => by_leader.entry(l).or_default().push(b),
                Err(e) => failed.push((b, e)),
            }
        }
        let mut started = Vec::with_capacity(by_leader.len());
        for (leader, group) in by_leader {
            let sent = self.write_produce(leader, &group).await;
            started.push(InFlight {
                batches: group,
                sent,
            });
        }
        (started, failed)
    }

    /// Writes one Produce request to `leader`.
    async fn write_produce(
        &self,
        leader: i32,
        batches: &[Batch],
    ) -> Result<Option<Pending<ProduceRequest>>> {
        let conn = self.client.broker_connection(leader).await?;
        let version = conn.version::<ProduceRequest>()?;
        let data: Vec<(&TopicPartition, Bytes)> =
            batches.iter().map(|b| (&b.tp, b.data.clone())).collect();
        let timeout_ms = i32::try_from(self.config.request_timeout.as_millis()).unwrap_or(i32::MAX);
        let request = requests::produce(self.config.acks.code(), timeout_ms, &data);
        if self.config.acks == Acks::None {
            conn.send_without_response(&request, version).await?;
            return Ok(None);
        }
        conn.send(&request, version, self.config.request_timeout)
            .await
            .map(Some)
    }

    /// Reads the answers of started requests, then retries what failed with a retriable error
    /// (one attempt after another, up to `retries`, after a metadata refresh).
    async fn complete(
        self,
        started: Vec<InFlight>,
        mut failed: Vec<(Batch, Error)>,
    ) -> Result<Vec<RecordMetadata>> {
        let mut delivered = Vec::new();
        self.read_answers(started, &mut delivered, &mut failed)
            .await?;
        let mut attempt = 0;
        while !failed.is_empty() {
            attempt += 1;
            let mut retry = Vec::with_capacity(failed.len());
            for (b, e) in failed.drain(..) {
                if !e.is_retriable() || attempt > self.config.retries {
                    return Err(e);
                }
                tracing::debug!(tp = %b.tp, "produce failed, retrying: {e}");
                self.client.invalidate(&b.tp.topic);
                retry.push(b);
            }
            tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
            let (started, newly_failed) = self.start(retry).await;
            failed = newly_failed;
            self.read_answers(started, &mut delivered, &mut failed)
                .await?;
        }
        Ok(delivered)
    }

    /// Collects each request's answer: offsets of delivered records, batches that failed.
    async fn read_answers(
        &self,
        started: Vec<InFlight>,
        delivered: &mut Vec<RecordMetadata>,
        failed: &mut Vec<(Batch, Error)>,
    ) -> Result<()> {
        for flight in started {
            let results = match flight.sent {
                Ok(None) => Ok(flight.batches.iter().map(|_| Ok(-1)).collect()),
                Ok(Some(pending)) => pending
                    .response()
                    .await
                    .map(|r| per_batch(&flight.batches, r)),
                Err(e) => Err(e),
            };
            match results {
                Ok(results) => {
                    for (b, result) in flight.batches.into_iter().zip(results) {
                        match result {
                            Ok(base) => delivered.extend((0..b.count).map(|i| RecordMetadata {
                                partition: b.tp.clone(),
                                offset: if base < 0 { -1 } else { base + i as i64 },
                            })),
                            Err(e) => failed.push((b, e)),
                        }
                    }
                }
                Err(e) if e.is_retriable() => {
                    failed.extend(flight.batches.into_iter().map(|b| (b, clone_err(&e))));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// Each batch's outcome in a Produce answer: its base offset, or its error.
fn per_batch(batches: &[Batch], response: ProduceResponse) -> Vec<Result<i64>> {
    let mut answers: HashMap<TopicPartition, (i16, i64, Option<String>)> = HashMap::new();
    for t in response.responses {
        for p in t.partition_responses {
            answers.insert(
                TopicPartition::new(t.name.0.to_string(), p.index),
                (
                    p.error_code,
                    p.base_offset,
                    p.error_message.map(|m| m.to_string()),
                ),
            );
        }
    }
    batches
        .iter()
        .map(|b| match answers.get(&b.tp) {
            None => Err(Error::Invalid(format!(
                "the broker's Produce answer says nothing about {}",
                b.tp
            ))),
            Some((code, base, message)) => {
                if *code == ResponseError::DuplicateSequenceNumber.code() {
                    return Ok(*base);
                }
                check_with_message(*code, message.as_deref(), || format!("produce to {}", b.tp))
                    .map(|()| *base)
            }
        })
        .collect()
}

/// Our errors carry `io::Error`s and are not `Clone`; a batch group's shared failure is
/// repeated as a broker-less copy with the same text and retriability.
fn clone_err(e: &Error) -> Error {
    match e {
        Error::Broker {
            context,
            error,
            message,
        } => Error::Broker {
            context: context.clone(),
            error: *error,
            message: message.clone(),
        },
        other => Error::Io {
            addr: String::new(),
            source: std::io::Error::other(other.to_string()),
        },
    }
}
