//! Topics and their partitions: creation (explicit or automatic), deletion, lookup by name or
//! id, and the per-partition state the protocol handlers share (the partition log, the leader
//! epoch, the idempotent producers' sequences).
//!
//! On disk, as Kafka lays it out: `<log.dir>/<topic>-<partition>/` per partition, each with a
//! `partition.metadata` file holding the topic id (and here the topic's config overrides), so
//! a restart finds every topic again by scanning the log dirs.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use kafka_protocol::ResponseError;
use uuid::Uuid;

use crate::broker::StartError;
use crate::config::BrokerConfig;
use crate::log::batch::Batches;
use crate::log::{LogConfig, LogError, PartitionLog, TimestampType};
use crate::producers::{ProducerBatch, ProducerTable, Verdict};

/// Why a topic operation was refused, with the Kafka error code it answers.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TopicError {
    #[error("this server does not host this topic")]
    Unknown,
    #[error("topic already exists")]
    AlreadyExists,
    #[error("invalid topic name {0:?}: up to 249 characters of [a-zA-Z0-9._-], not . or ..")]
    InvalidName(String),
    #[error("number of partitions must be between 1 and {MAX_PARTITIONS} (got {0})")]
    InvalidPartitions(i32),
    #[error("replication factor {0} is larger than the 1 available broker")]
    InvalidReplicationFactor(i16),
    #[error("{0}")]
    InvalidConfig(String),
    #[error("topic deletion is disabled (delete.topic.enable=false)")]
    DeletionDisabled,
    #[error("storage error: {0}")]
    Storage(String),
    #[error("{}", if current == total {
        format!("Topic already has {current} partitions.")
    } else {
        format!("Topic currently has {current} partitions, which is higher than the requested {total}.")
    })]
    CannotShrink { current: i32, total: i32 },
}

impl TopicError {
    /// The protocol error code.
    pub(crate) fn code(&self) -> i16 {
        match self {
            TopicError::Unknown => ResponseError::UnknownTopicOrPartition,
            TopicError::AlreadyExists => ResponseError::TopicAlreadyExists,
            TopicError::InvalidName(_) => ResponseError::InvalidTopicException,
            TopicError::InvalidPartitions(_) | TopicError::CannotShrink { .. } => {
                ResponseError::InvalidPartitions
            }
            TopicError::InvalidReplicationFactor(_) => ResponseError::InvalidReplicationFactor,
            TopicError::InvalidConfig(_) => ResponseError::InvalidConfig,
            TopicError::DeletionDisabled => ResponseError::TopicDeletionDisabled,
            TopicError::Storage(_) => ResponseError::KafkaStorageError,
        }
        .code()
    }
}

/// The most partitions a topic may have: every partition is a directory and open files, so a
/// request for millions (a typo, or a hostile client) is refused instead of filling the disk.
pub(crate) const MAX_PARTITIONS: i32 = 10_000;

/// INVALID_PARTITIONS unless a topic may have `n` partitions.
pub(crate) fn check_partition_count(n: i32) -> Result<(), TopicError> {
    if (1..=MAX_PARTITIONS).contains(&n) {
        Ok(())
    } else {
        Err(TopicError::InvalidPartitions(n))
    }
}

/// INVALID_PARTITIONS unless a topic of `current` partitions may grow to `total`: a topic never
/// shrinks, nor grows past [`MAX_PARTITIONS`].
pub(crate) fn check_growth(current: i32, total: i32) -> Result<(), TopicError> {
    if total <= current {
        return Err(TopicError::CannotShrink { current, total });
    }
    check_partition_count(total)
}

/// How many partitions `topic` has, as the protocol counts them.
fn partition_count(topic: &Topic) -> i32 {
    i32::try_from(topic.partitions.len()).unwrap_or(i32::MAX)
}

/// A topic to create.
#[derive(Debug)]
pub(crate) struct NewTopic {
    pub(crate) name: String,
    pub(crate) partitions: i32,
    pub(crate) replication_factor: i16,
    pub(crate) configs: BTreeMap<String, String>,
}

/// Topic-level config keys accepted at creation (others are INVALID_CONFIG, as in Kafka).
const TOPIC_CONFIG_KEYS: &[&str] = &[
    "cleanup.policy",
    "compression.type",
    "delete.retention.ms",
    "file.delete.delay.ms",
    "flush.messages",
    "flush.ms",
    "index.interval.bytes",
    "max.message.bytes",
    "message.timestamp.type",
    "min.insync.replicas",
    "retention.bytes",
    "retention.ms",
    "segment.bytes",
    "segment.index.bytes",
    "segment.ms",
    "unclean.leader.election.enable",
];

/// One partition: its log and the state kept beside it.
#[derive(Debug)]
pub(crate) struct Partition {
    /// The partition number.
    pub(crate) index: i32,
    /// In a cluster the high watermark follows the ISR (`cluster::leader`), not the log end.
    pub(crate) replicated: bool,
    state: Mutex<PartitionState>,
}

/// What is changed under the partition's lock.
#[derive(Debug)]
pub(crate) struct PartitionState {
    /// The stored batches.
    pub(crate) log: PartitionLog,
    /// Idempotent producers' recent batches.
    pub(crate) producers: ProducerTable,
    /// The leader epoch (0 standalone; replication bumps it on leader change).
    pub(crate) leader_epoch: i32,
}

impl Partition {
    /// Locks the partition's state (a poisoned lock is taken over: the log itself stays
    /// consistent, each append being a single write).
    pub(crate) fn lock(&self) -> MutexGuard<'_, PartitionState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The current leader epoch.
    pub(crate) fn leader_epoch(&self) -> i32 {
        self.lock().leader_epoch
    }

    /// Appends a producer's batches as the leader. Batches of an idempotent producer are
    /// checked against its recent sequences first: a retried one is not stored again and is
    /// answered with its original offset. Standalone, the high watermark follows the log end
    /// (the in-sync replica set is this broker).
    pub(crate) fn produce(&self, records: &[u8]) -> Result<Appended, i16> {
        let mut state = self.lock();
        let state = &mut *state;
        let mut first: Option<i64> = None;
        let mut log_append_time = -1;
        for item in Batches::new(records, state.log.config().max_message_bytes, false) {
            let (_, header, bytes) = item.map_err(|(position, source)| {
                LogError::InvalidBatch { position, source }.kafka_error_code()
            })?;
            let base = if header.has_producer_id() {
                let verdict = state
                    .producers
                    .check(
                        header.producer_id,
                        header.producer_epoch,
                        header.base_sequence,
                        header.last_sequence(),
                    )
                    .map_err(|e| e.code())?;
                match verdict {
                    Verdict::Duplicate(offset) => offset,
                    Verdict::Append => {
                        let info = state
                            .log
                            .append(bytes, state.leader_epoch)
                            .map_err(|e| e.kafka_error_code())?;
                        state.producers.record(
                            header.producer_id,
                            header.producer_epoch,
                            ProducerBatch {
                                first_sequence: header.base_sequence,
                                last_sequence: header.last_sequence(),
                                base_offset: info.first_offset,
                            },
                        );
                        log_append_time = info.log_append_time;
                        info.first_offset
                    }
                }
            } else {
                let info = state
                    .log
                    .append(bytes, state.leader_epoch)
                    .map_err(|e| e.kafka_error_code())?;
                log_append_time = info.log_append_time;
                info.first_offset
            };
            first.get_or_insert(base);
        }
        if !self.replicated {
            let end = state.log.log_end_offset();
            state.log.set_high_watermark(end);
        }
        Ok(Appended {
            base_offset: first.ok_or(ResponseError::InvalidRecord.code())?,
            log_append_time,
            log_start_offset: state.log.log_start_offset(),
        })
    }
}

/// Where a produce landed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Appended {
    /// Offset of the first record (the original one for a retried batch).
    pub(crate) base_offset: i64,
    /// The append time for LogAppendTime topics, else -1.
    pub(crate) log_append_time: i64,
    /// The log's first offset.
    pub(crate) log_start_offset: i64,
}

/// One topic.
#[derive(Debug)]
pub(crate) struct Topic {
    pub(crate) name: String,
    pub(crate) id: Uuid,
    pub(crate) partitions: Vec<Arc<Partition>>,
    /// Config overrides given at creation.
    pub(crate) configs: BTreeMap<String, String>,
    dirs: Vec<PathBuf>,
}

impl Topic {
    /// The partition `index`, if the topic has it.
    pub(crate) fn partition(&self, index: i32) -> Option<&Arc<Partition>> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.partitions.get(i))
    }

    /// Every topic config with its value: the override, else the broker's default
    /// (`(name, value, is_default)`).
    pub(crate) fn effective_configs(&self, broker: &BrokerConfig) -> Vec<(String, String, bool)> {
        let defaults: [(&str, String); 9] = [
            ("cleanup.policy", "delete".into()),
            ("compression.type", "producer".into()),
            ("max.message.bytes", broker.message_max_bytes.to_string()),
            ("message.timestamp.type", "CreateTime".into()),
            ("min.insync.replicas", "1".into()),
            (
                "retention.bytes",
                broker
                    .retention_bytes
                    .map_or("-1".into(), |b| b.to_string()),
            ),
            (
                "retention.ms",
                broker
                    .retention_time
                    .map_or("-1".into(), |d| d.as_millis().to_string()),
            ),
            ("segment.bytes", broker.segment_bytes.to_string()),
            ("segment.ms", broker.roll_after.as_millis().to_string()),
        ];
        let mut out: Vec<(String, String, bool)> = defaults
            .into_iter()
            .map(|(k, v)| match self.configs.get(k) {
                Some(o) => (k.to_string(), o.clone(), false),
                None => (k.to_string(), v, true),
            })
            .collect();
        for (k, v) in &self.configs {
            if !out.iter().any(|(n, _, _)| n == k) {
                out.push((k.clone(), v.clone(), false));
            }
        }
        out
    }
}

/// Every topic of the broker.
#[derive(Debug)]
pub(crate) struct Topics {
    by_name: RwLock<HashMap<String, Arc<Topic>>>,
    config: BrokerConfig,
}

impl Topics {
    /// Finds the topics already in the log dirs and opens (recovers) their partition logs.
    pub(crate) fn open(config: &BrokerConfig) -> Result<Topics, StartError> {
        let mut found: BTreeMap<String, Vec<(i32, PathBuf)>> = BTreeMap::new();
        for dir in &config.log_dirs {
            std::fs::create_dir_all(dir).map_err(|source| StartError::Io {
                path: dir.display().to_string(),
                source,
            })?;
            let entries = std::fs::read_dir(dir).map_err(|source| StartError::Io {
                path: dir.display().to_string(),
                source,
            })?;
            for entry in entries.flatten() {
                let path = entry.path();
                if !path.join(METADATA_FILE).is_file() {
                    continue;
                }
                let name = entry.file_name().to_string_lossy().to_string();
                if let Some((topic, p)) = name.rsplit_once('-')
                    && let Ok(p) = p.parse::<i32>()
                {
                    found.entry(topic.to_string()).or_default().push((p, path));
                }
            }
        }
        let topics = Topics {
            by_name: RwLock::new(HashMap::new()),
            config: config.clone(),
        };
        for (name, mut parts) in found {
            parts.sort();
            let contiguous = parts
                .iter()
                .enumerate()
                .all(|(i, (p, _))| usize::try_from(*p).is_ok_and(|p| p == i));
            if !contiguous {
                tracing::warn!("topic {name}: partition directories are not 0..n; skipped");
                continue;
            }
            let dirs: Vec<PathBuf> = parts.into_iter().map(|(_, d)| d).collect();
            let (id, configs) = dirs
                .first()
                .map(|d| read_metadata(d))
                .transpose()
                .map_err(|e| StartError::Log(format!("topic {name}: {e}")))?
                .unwrap_or((Uuid::nil(), BTreeMap::new()));
            let topic = topics
                .open_topic(&name, id, configs, dirs)
                .map_err(|e| StartError::Log(format!("topic {name}: {e}")))?;
            tracing::info!(
                "loaded topic {name} ({} partitions)",
                topic.partitions.len()
            );
            topics.write().insert(name, Arc::new(topic));
        }
        Ok(topics)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<Topic>>> {
        self.by_name
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Arc<Topic>>> {
        self.by_name
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The topic called `name`.
    pub(crate) fn get(&self, name: &str) -> Option<Arc<Topic>> {
        self.read().get(name).cloned()
    }

    /// The topic with id `id`.
    pub(crate) fn get_by_id(&self, id: Uuid) -> Option<Arc<Topic>> {
        self.read().values().find(|t| t.id == id).cloned()
    }

    /// Every topic, by name.
    pub(crate) fn all(&self) -> Vec<Arc<Topic>> {
        let mut all: Vec<Arc<Topic>> = self.read().values().cloned().collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// Creates `name` with the broker's defaults (Metadata with auto-creation allowed).
    pub(crate) fn auto_create(&self, name: &str) -> Result<Arc<Topic>, TopicError> {
        let new = NewTopic {
            name: name.to_string(),
            partitions: self.config.num_partitions,
            replication_factor: self.config.default_replication_factor,
            configs: BTreeMap::new(),
        };
        match self.create(new) {
            Err(TopicError::AlreadyExists) => self.get(name).ok_or(TopicError::Unknown),
            other => other,
        }
    }

    /// Checks what [`Topics::create`] would check, creating nothing.
    pub(crate) fn validate(&self, new: &NewTopic) -> Result<(), TopicError> {
        validate_name(&new.name)?;
        check_partition_count(new.partitions)?;
        if new.replication_factor != 1 && new.replication_factor != -1 {
            return Err(TopicError::InvalidReplicationFactor(new.replication_factor));
        }
        for key in new.configs.keys() {
            if !TOPIC_CONFIG_KEYS.contains(&key.as_str()) {
                return Err(TopicError::InvalidConfig(format!(
                    "unknown topic config {key}"
                )));
            }
        }
        self.log_config(&new.configs)?;
        if self.read().contains_key(&new.name) {
            return Err(TopicError::AlreadyExists);
        }
        Ok(())
    }

    /// Creates a topic: its partition directories, metadata files and logs.
    pub(crate) fn create(&self, new: NewTopic) -> Result<Arc<Topic>, TopicError> {
        self.validate(&new)?;
        self.create_replica(&new.name, Uuid::new_v4(), new.partitions, new.configs)
    }

    /// Creates the local log of a topic whose id and size the cluster decided (validated there).
    pub(crate) fn create_replica(
        &self,
        name: &str,
        id: Uuid,
        partitions: i32,
        configs: BTreeMap<String, String>,
    ) -> Result<Arc<Topic>, TopicError> {
        let new = NewTopic {
            name: name.to_string(),
            partitions,
            replication_factor: -1,
            configs,
        };
        let mut by_name = self.write();
        if by_name.contains_key(&new.name) {
            return Err(TopicError::AlreadyExists);
        }
        let mut dirs = Vec::new();
        for p in 0..new.partitions {
            let dir = self.partition_dir(&new.name, p);
            std::fs::create_dir_all(&dir)
                .and_then(|()| write_metadata(&dir, id, &new.configs))
                .map_err(|e| TopicError::Storage(format!("{}: {e}", dir.display())))?;
            dirs.push(dir);
        }
        let topic = Arc::new(self.open_topic(&new.name, id, new.configs, dirs)?);
        by_name.insert(new.name.clone(), Arc::clone(&topic));
        tracing::info!(
            "created topic {} with {} partitions",
            new.name,
            new.partitions
        );
        Ok(topic)
    }

    /// Checks that `name` exists here and has fewer than `total` partitions (Kafka's
    /// INVALID_PARTITIONS otherwise: a topic never shrinks).
    pub(crate) fn validate_partitions(&self, name: &str, total: i32) -> Result<(), TopicError> {
        let topic = self.get(name).ok_or(TopicError::Unknown)?;
        check_growth(partition_count(&topic), total)
    }

    /// Grows topic `name` to `total` partitions: the new partitions get their directories and
    /// empty logs; the existing ones are kept as they are (shared with the old handle).
    pub(crate) fn add_partitions(&self, name: &str, total: i32) -> Result<Arc<Topic>, TopicError> {
        let mut by_name = self.write();
        let old = by_name.get(name).cloned().ok_or(TopicError::Unknown)?;
        let current = partition_count(&old);
        check_growth(current, total)?;
        let dirs: Vec<PathBuf> = (current..total)
            .map(|p| self.partition_dir(name, p))
            .collect();
        for dir in &dirs {
            std::fs::create_dir_all(dir)
                .and_then(|()| write_metadata(dir, old.id, &old.configs))
                .map_err(|e| TopicError::Storage(format!("{}: {e}", dir.display())))?;
        }
        let mut partitions = old.partitions.clone();
        partitions.extend(self.open_partitions(&old.configs, current, &dirs)?);
        let mut all_dirs = old.dirs.clone();
        all_dirs.extend(dirs);
        let topic = Arc::new(Topic {
            name: name.to_string(),
            id: old.id,
            partitions,
            configs: old.configs.clone(),
            dirs: all_dirs,
        });
        by_name.insert(name.to_string(), Arc::clone(&topic));
        tracing::info!("topic {name}: {current} -> {total} partitions");
        Ok(topic)
    }

    /// Where partition `p` of `topic` lives: the log dirs take partitions in turn.
    fn partition_dir(&self, topic: &str, p: i32) -> PathBuf {
        let n = self.config.log_dirs.len().max(1);
        let base = self
            .config
            .log_dirs
            .get(usize::try_from(p).unwrap_or(0) % n)
            .cloned()
            .unwrap_or_else(|| PathBuf::from("/tmp/kafka-logs"));
        base.join(format!("{topic}-{p}"))
    }

    /// Deletes a topic and its data.
    pub(crate) fn delete(&self, name: &str) -> Result<(), TopicError> {
        let topic = self.write().remove(name).ok_or(TopicError::Unknown)?;
        for dir in &topic.dirs {
            if let Err(e) = std::fs::remove_dir_all(dir) {
                tracing::warn!("topic {name}: cannot remove {}: {e}", dir.display());
            }
        }
        tracing::info!("deleted topic {name}");
        Ok(())
    }

    fn log_config(&self, overrides: &BTreeMap<String, String>) -> Result<LogConfig, TopicError> {
        let c = &self.config;
        let mut log = LogConfig {
            segment_bytes: c.segment_bytes,
            segment_ms: u64::try_from(c.roll_after.as_millis()).unwrap_or(u64::MAX),
            retention_bytes: c.retention_bytes,
            retention_ms: c
                .retention_time
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            max_message_bytes: c.message_max_bytes.unsigned_abs().into(),
            ..LogConfig::default()
        };
        let number = |k: &str, v: &str| {
            v.parse::<i64>()
                .map_err(|_| TopicError::InvalidConfig(format!("{k}={v}: not a number")))
        };
        for (k, v) in overrides {
            match k.as_str() {
                "segment.bytes" => log.segment_bytes = number(k, v)?.max(0).unsigned_abs(),
                "segment.ms" => log.segment_ms = number(k, v)?.max(1).unsigned_abs(),
                "retention.bytes" => {
                    log.retention_bytes = u64::try_from(number(k, v)?).ok();
                }
                "retention.ms" => log.retention_ms = u64::try_from(number(k, v)?).ok(),
                "max.message.bytes" => {
                    log.max_message_bytes = number(k, v)?.max(0).unsigned_abs();
                }
                "index.interval.bytes" => {
                    log.index_interval_bytes = number(k, v)?.max(1).unsigned_abs();
                }
                "message.timestamp.type" => {
                    log.timestamp_type = match v.as_str() {
                        "CreateTime" => TimestampType::CreateTime,
                        "LogAppendTime" => TimestampType::LogAppendTime,
                        _ => {
                            return Err(TopicError::InvalidConfig(format!(
                                "{k}={v}: CreateTime or LogAppendTime"
                            )));
                        }
                    }
                }
                _ => {}
            }
        }
        log.validate()
            .map_err(|e| TopicError::InvalidConfig(e.to_string()))?;
        Ok(log)
    }

    fn open_topic(
        &self,
        name: &str,
        id: Uuid,
        configs: BTreeMap<String, String>,
        dirs: Vec<PathBuf>,
    ) -> Result<Topic, TopicError> {
        let partitions = self.open_partitions(&configs, 0, &dirs)?;
        Ok(Topic {
            name: name.to_string(),
            id,
            partitions,
            configs,
            dirs,
        })
    }

    /// Opens (recovers) the logs in `dirs` as partitions `first`, `first + 1`, ….
    fn open_partitions(
        &self,
        configs: &BTreeMap<String, String>,
        first: i32,
        dirs: &[PathBuf],
    ) -> Result<Vec<Arc<Partition>>, TopicError> {
        let log_config = self.log_config(configs)?;
        let mut partitions = Vec::new();
        for (index, dir) in (first..).zip(dirs) {
            let mut log = PartitionLog::open(dir, log_config.clone())
                .map_err(|e| TopicError::Storage(e.to_string()))?;
            // Standalone, every record in the log is committed (this broker is the whole ISR).
            let replicated = self.config.zookeeper_connect.is_some();
            if !replicated {
                log.set_high_watermark(log.log_end_offset());
            }
            let producers = rebuild_producers(&log);
            partitions.push(Arc::new(Partition {
                index,
                replicated,
                state: Mutex::new(PartitionState {
                    leader_epoch: log.latest_epoch().unwrap_or(0),
                    log,
                    producers,
                }),
            }));
        }
        Ok(partitions)
    }

    /// The highest producer id found in any partition (to allocate above it).
    pub(crate) fn max_producer_id(&self) -> Option<i64> {
        self.all()
            .iter()
            .flat_map(|t| t.partitions.iter())
            .filter_map(|p| p.lock().producers.max_producer_id())
            .max()
    }

    /// Writes everything buffered to disk (at shutdown).
    pub(crate) fn flush_all(&self) {
        for t in self.all() {
            for p in &t.partitions {
                if let Err(e) = p.lock().log.flush() {
                    tracing::warn!("{}-{}: flush failed: {e}", t.name, p.index);
                }
            }
        }
    }

    /// Deletes segments past the retention limits.
    pub(crate) fn enforce_retention(&self) {
        for t in self.all() {
            for p in &t.partitions {
                if let Err(e) = p.lock().log.enforce_retention(now_ms()) {
                    tracing::warn!("{}-{}: retention failed: {e}", t.name, p.index);
                }
            }
        }
    }
}

/// Milliseconds since the Unix epoch.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

const METADATA_FILE: &str = "partition.metadata";

/// `partition.metadata`: `version: 0`, `topic_id: <uuid>`, then `config.<key>: <value>` lines.
fn write_metadata(dir: &Path, id: Uuid, configs: &BTreeMap<String, String>) -> std::io::Result<()> {
    let mut text = format!("version: 0\ntopic_id: {id}\n");
    for (k, v) in configs {
        text.push_str(&format!("config.{k}: {v}\n"));
    }
    std::fs::write(dir.join(METADATA_FILE), text)
}

fn read_metadata(dir: &Path) -> Result<(Uuid, BTreeMap<String, String>), String> {
    let path = dir.join(METADATA_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut id = None;
    let mut configs = BTreeMap::new();
    for line in text.lines() {
        let Some((k, v)) = line.split_once(": ") else {
            continue;
        };
        if k == "topic_id" {
            id = Some(
                Uuid::parse_str(v.trim())
                    .map_err(|e| format!("{}: topic_id {v:?}: {e}", path.display()))?,
            );
        } else if let Some(key) = k.strip_prefix("config.") {
            configs.insert(key.to_string(), v.trim().to_string());
        }
    }
    Ok((
        id.ok_or_else(|| format!("{}: no topic_id", path.display()))?,
        configs,
    ))
}

fn validate_name(name: &str) -> Result<(), TopicError> {
    let ok = !name.is_empty()
        && name.len() <= 249
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(TopicError::InvalidName(name.to_string()))
    }
}

/// Rebuilds the idempotent producers' recent batches by reading the log, so sequence checks
/// continue where they were before a restart.
pub(crate) fn rebuild_producers(log: &PartitionLog) -> ProducerTable {
    let mut table = ProducerTable::default();
    let mut offset = log.log_start_offset();
    let end = log.log_end_offset();
    while offset < end {
        let chunk = match log.read(offset, 1 << 20, end) {
            Ok(c) if !c.records.is_empty() => c.records,
            _ => break,
        };
        let mut next = offset;
        for batch in Batches::new(&chunk, u64::MAX, false) {
            let Ok((_, h, _)) = batch else { break };
            if h.has_producer_id() {
                table.record(
                    h.producer_id,
                    h.producer_epoch,
                    ProducerBatch {
                        first_sequence: h.base_sequence,
                        last_sequence: h.last_sequence(),
                        base_offset: h.base_offset,
                    },
                );
            }
            next = h.next_offset();
        }
        if next <= offset {
            break;
        }
        offset = next;
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_follow_kafka_rules() {
        assert!(validate_name("Hello-Kafka").is_ok());
        assert!(validate_name("a.b_c-1").is_ok());
        assert!(validate_name("").is_err());
        assert!(validate_name("..").is_err());
        assert!(validate_name("bad name").is_err());
        assert!(validate_name(&"x".repeat(250)).is_err());
    }

    #[test]
    fn partition_counts_are_bounded_both_ways() {
        assert!(check_partition_count(1).is_ok());
        assert!(check_partition_count(MAX_PARTITIONS).is_ok());
        for bad in [0, -1, MAX_PARTITIONS + 1, i32::MAX] {
            let e = check_partition_count(bad).unwrap_err();
            assert_eq!(e.code(), ResponseError::InvalidPartitions.code(), "{bad}");
            assert_eq!(
                e.to_string(),
                format!("number of partitions must be between 1 and 10000 (got {bad})")
            );
        }
    }
}
