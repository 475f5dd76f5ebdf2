//! The job's consumers: `numThreads` members of the consumer group, each a task that polls its
//! partitions and hands what it read, stamped with the time of arrival, to the job.

use std::time::Duration;

use kafka_client::{Client, ConsumerRecord, GroupConfig, GroupConsumer, OffsetReset};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::clock::{Millis, now_millis};
use crate::commit::{Member, SharedMember};

/// Records from one poll and when they arrived.
#[derive(Debug)]
pub struct Arrival {
    /// The records, in offset order per partition.
    pub records: Vec<ConsumerRecord>,
    /// When the poll returned (what decides their batch).
    pub at: Millis,
}

/// What every consumer of the job shares.
#[derive(Debug, Clone)]
pub struct ConsumerSettings {
    /// The consumer group (`<group>`).
    pub group: String,
    /// The topics (`<topics>`).
    pub topics: Vec<String>,
    /// Where a partition without a committed offset starts.
    pub reset: OffsetReset,
}

impl ConsumerSettings {
    /// The group settings: offsets are committed by the job after each written batch, never
    /// automatically; a short session so a restarted job gets its partitions back quickly.
    fn group_config(&self) -> GroupConfig {
        let mut config = GroupConfig::new(self.group.clone());
        config.auto_commit = None;
        config.session_timeout = Duration::from_secs(10);
        config.rebalance_timeout = Duration::from_secs(10);
        config.heartbeat_interval = Duration::from_secs(1);
        config.consumer.max_wait = Duration::from_millis(250);
        config.consumer.auto_offset_reset = self.reset;
        config
    }
}

/// Runs consumer number `index` until `cancel`, sending what it reads to `to_job` and its group
/// identity to `member`. Leaves the group on the way out.
pub async fn consume(
    index: usize,
    client: Client,
    settings: ConsumerSettings,
    to_job: mpsc::Sender<Arrival>,
    member: SharedMember,
    cancel: CancellationToken,
) -> Result<(), Error> {
    let joining =
        GroupConsumer::subscribe(client, settings.group_config(), settings.topics.clone());
    let mut consumer = tokio::select! {
        () = cancel.cancelled() => return Ok(()),
        joined = joining => joined.map_err(|source| Error::Kafka {
            what: format!("join group {} for topics {}", settings.group, settings.topics.join(",")),
            source,
        })?,
    };
    // The generation whose first poll has not returned yet (positions are resolved in it).
    let mut announced = None;
    loop {
        let generation = consumer.generation();
        if let Ok(mut shared) = member.lock() {
            *shared = Some(Member {
                generation,
                member_id: consumer.member_id().to_owned(),
            });
        }
        let polled = tokio::select! {
            () = cancel.cancelled() => break,
            polled = consumer.poll() => polled,
        };
        if polled.is_ok() && announced != Some(generation) {
            announced = Some(generation);
            let partitions: Vec<String> = consumer
                .assignment()
                .iter()
                .map(ToString::to_string)
                .collect();
            tracing::info!(
                "consumer {index} of group {} (generation {generation}) reads {}",
                settings.group,
                if partitions.is_empty() {
                    "no partition".to_owned()
                } else {
                    partitions.join(", ")
                }
            );
        }
        match polled {
            Ok(records) if records.is_empty() => {}
            Ok(records) => {
                let arrival = Arrival {
                    records,
                    at: now_millis(),
                };
                if to_job.send(arrival).await.is_err() {
                    break;
                }
            }
            Err(e) => {
                tracing::warn!(consumer = index, "poll failed, retrying in 1 s: {e}");
                tokio::select! {
                    () = cancel.cancelled() => break,
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    }
    if let Err(e) = consumer.close().await {
        tracing::debug!(consumer = index, "leaving the group: {e}");
    }
    Ok(())
}
