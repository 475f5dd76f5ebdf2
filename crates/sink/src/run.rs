//! The sink's loop: a consumer-group member reading the topics, one [`PartitionFiles`] per
//! owned partition, commits to HDFS when a file is full or old enough, and Kafka offsets
//! committed only after each RENAME. HDFS or Kafka being away makes it wait and retry, never
//! drop or repeat a record.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use kafka_client::zookeeper::bootstrap_from_zookeeper;
use kafka_client::{Client, ClientConfig, GroupConfig, GroupConsumer, OffsetReset, TopicPartition};
use tokio_util::sync::CancellationToken;
use webhdfs_client::WebHdfs;

use crate::config::{Brokers, SinkConfig};
use crate::partition::PartitionFiles;

/// Pause between two attempts when HDFS or Kafka fails.
const RETRY: Duration = Duration::from_secs(1);
/// How long a member with no partition waits before joining again to look for new ones.
const RESUBSCRIBE: Duration = Duration::from_secs(5);

/// Runs the sink until `shutdown`; then commits what is buffered (if HDFS answers) and leaves
/// the group.
pub async fn run(config: SinkConfig, shutdown: CancellationToken) -> anyhow::Result<()> {
    let hdfs = WebHdfs::new(&config.webhdfs_url, &config.hdfs_user)?;
    let Some(mut consumer) = subscribe(&config, &shutdown).await? else {
        return Ok(());
    };
    tracing::info!(topics = ?config.topics, hdfs = %config.webhdfs_url, "HdfsSink running");
    let mut sink = Sink {
        config: &config,
        hdfs: &hdfs,
        shutdown: &shutdown,
        parts: BTreeMap::new(),
    };
    let mut idle_since = Instant::now();
    loop {
        let polled = tokio::select! {
            r = consumer.poll() => r,
            _ = shutdown.cancelled() => break,
        };
        let records = match polled {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!("poll failed: {e}");
                if sink.pause().await {
                    break;
                }
                continue;
            }
        };
        let owned: BTreeSet<TopicPartition> = consumer.assignment().into_iter().collect();
        if owned.is_empty() && idle_since.elapsed() >= RESUBSCRIBE {
            // Nothing assigned (the topics may not exist yet): join again, which reads the
            // topics' metadata afresh.
            let _ = consumer.close().await;
            let Some(c) = subscribe(&config, &shutdown).await? else {
                return Ok(());
            };
            consumer = c;
            idle_since = Instant::now();
            continue;
        }
        if !owned.is_empty() {
            idle_since = Instant::now();
        }
        sink.parts.retain(|tp, _| owned.contains(tp));
        for record in records {
            let tp = TopicPartition::new(record.topic.clone(), record.partition);
            let Some(part) = sink.partition(&tp).await else {
                return Ok(()); // shut down while HDFS was away
            };
            if part.push(&config, &record) && !sink.commit(&tp, &mut consumer).await {
                return Ok(());
            }
        }
        let due: Vec<TopicPartition> = sink
            .parts
            .iter()
            .filter(|(_, p)| p.due(config.rotate_interval))
            .map(|(tp, _)| tp.clone())
            .collect();
        for tp in due {
            if !sink.commit(&tp, &mut consumer).await {
                return Ok(());
            }
        }
    }
    // A clean stop commits what is buffered, once, without waiting for HDFS.
    for (tp, part) in sink.parts.iter_mut().filter(|(_, p)| p.is_dirty()) {
        match part.commit(&hdfs, &config).await {
            Ok(Some(next)) => {
                let _ = consumer
                    .commit_offsets(&BTreeMap::from([(tp.clone(), next)]))
                    .await;
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(?tp, "not committed at shutdown (re-read next time): {e}"),
        }
    }
    let _ = consumer.close().await;
    Ok(())
}

/// The sink's working state.
struct Sink<'a> {
    config: &'a SinkConfig,
    hdfs: &'a WebHdfs,
    shutdown: &'a CancellationToken,
    parts: BTreeMap<TopicPartition, PartitionFiles>,
}

impl Sink<'_> {
    /// Waits before a retry; true when shutting down instead.
    async fn pause(&self) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(RETRY) => false,
            _ = self.shutdown.cancelled() => true,
        }
    }

    /// The partition's files, recovered from HDFS on first sight (retrying until HDFS answers).
    async fn partition(&mut self, tp: &TopicPartition) -> Option<&mut PartitionFiles> {
        if !self.parts.contains_key(tp) {
            loop {
                match PartitionFiles::recover(self.hdfs, self.config, &tp.topic, tp.partition).await
                {
                    Ok(p) => {
                        self.parts.insert(tp.clone(), p);
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(?tp, "HDFS not ready, retrying: {e}");
                        if self.pause().await {
                            return None;
                        }
                    }
                }
            }
        }
        self.parts.get_mut(tp)
    }

    /// Commits a partition's file (retrying until HDFS answers), then its Kafka offset.
    /// False when shutting down before the file could be committed.
    async fn commit(&mut self, tp: &TopicPartition, consumer: &mut GroupConsumer) -> bool {
        let Some(part) = self.parts.get_mut(tp) else {
            return true;
        };
        let next = loop {
            match part.commit(self.hdfs, self.config).await {
                Ok(next) => break next,
                Err(e) => {
                    tracing::warn!(?tp, "commit to HDFS failed, retrying: {e}");
                    let stop = tokio::select! {
                        _ = tokio::time::sleep(RETRY) => false,
                        _ = self.shutdown.cancelled() => true,
                    };
                    if stop {
                        return false;
                    }
                }
            }
        };
        if let Some(next) = next
            && let Err(e) = consumer
                .commit_offsets(&BTreeMap::from([(tp.clone(), next)]))
                .await
        {
            // HDFS has the records: a restart skips them whatever Kafka remembers.
            tracing::warn!(?tp, "offset commit failed (harmless): {e}");
        }
        true
    }
}

/// Joins the group, retrying until Kafka answers; `None` when shut down first.
async fn subscribe(
    config: &SinkConfig,
    shutdown: &CancellationToken,
) -> anyhow::Result<Option<GroupConsumer>> {
    loop {
        let attempt = async {
            let bootstrap = match &config.brokers {
                Brokers::Bootstrap(b) => b.clone(),
                Brokers::ZooKeeper(zk) => bootstrap_from_zookeeper(zk).await?,
            };
            let client = Client::connect(&bootstrap, ClientConfig::default()).await?;
            let mut group = GroupConfig::new(config.group_id.clone());
            group.auto_commit = None;
            group.session_timeout = config.session_timeout;
            group.heartbeat_interval = config.session_timeout / 3;
            group.consumer.auto_offset_reset = OffsetReset::Earliest;
            anyhow::Ok(GroupConsumer::subscribe(client, group, config.topics.clone()).await?)
        };
        match attempt.await {
            Ok(c) => return Ok(Some(c)),
            Err(e) => tracing::warn!("Kafka not ready, retrying: {e:#}"),
        }
        tokio::select! {
            _ = tokio::time::sleep(RETRY) => {}
            _ = shutdown.cancelled() => return Ok(None),
        }
    }
}
