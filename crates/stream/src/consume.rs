//! The job's consumers: `numThreads` members of the consumer group, each a task that polls its
//! partitions and hands what it read, stamped with the time of arrival, to the job.

use std::time::Duration;

use kafka_client::{
    Client, ConsumerRecord, GroupConfig, GroupConsumer, OffsetReset, TopicPartition,
};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::clock::{Millis, now_millis};
use crate::pipeline::Offsets;

/// Records from one poll and when they arrived.
#[derive(Debug)]
pub struct Arrival {
    /// The records, in offset order per partition.
    pub records: Vec<ConsumerRecord>,
    /// When the poll returned (what decides their batch).
    pub at: Millis,
}

/// The job asks each consumer to commit the offsets of a written batch; each commits those of
/// the partitions it owns (through `GroupConsumer::commit_offsets`, as that member) and answers
/// with the partitions it committed.
#[derive(Debug)]
pub struct CommitRequest {
    /// Every partition's next offset to read.
    pub offsets: std::sync::Arc<Offsets>,
    /// The partitions committed, or why the commit failed.
    pub reply: oneshot::Sender<Result<Vec<TopicPartition>, kafka_client::Error>>,
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
        // Commits wait for the poll under way: keep polls short.
        config.consumer.max_wait = Duration::from_millis(50);
        config.consumer.auto_offset_reset = self.reset;
        // Spark's receiver (the ZooKeeper-era consumer) recorded where it started.
        config.commit_reset_positions = true;
        config
    }
}

/// Joins the group, trying again while the group is busy rebalancing or the coordinator is
/// unreachable (a restarted job waits for its previous members to time out); `None` when
/// cancelled first. Other errors (a refused group, a malformed answer) end the job.
async fn join(
    index: usize,
    client: &Client,
    settings: &ConsumerSettings,
    cancel: &CancellationToken,
) -> Result<Option<GroupConsumer>, Error> {
    let topics = settings.topics.join(",");
    loop {
        let joining = GroupConsumer::subscribe(
            client.clone(),
            settings.group_config(),
            settings.topics.clone(),
        );
        let failure = tokio::select! {
            () = cancel.cancelled() => return Ok(None),
            joined = joining => match joined {
                Ok(consumer) => return Ok(Some(consumer)),
                Err(e) if worth_retrying(&e) => e,
                Err(source) => {
                    return Err(Error::Kafka {
                        what: format!("join group {} for topics {topics}", settings.group),
                        source,
                    });
                }
            },
        };
        tracing::warn!(
            consumer = index,
            "joining group {} failed, retrying: {failure}",
            settings.group
        );
        tokio::select! {
            () = cancel.cancelled() => return Ok(None),
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// Errors a later join attempt can get past: connections, a coordinator moving or loading, the
/// group rebalancing around us.
fn worth_retrying(e: &kafka_client::Error) -> bool {
    use kafka_client::ResponseError as R;
    e.is_retriable()
        || matches!(
            e.response_error(),
            Some(
                R::UnknownMemberId
                    | R::RebalanceInProgress
                    | R::IllegalGeneration
                    | R::MemberIdRequired
                    | R::NotCoordinator
                    | R::CoordinatorNotAvailable
                    | R::CoordinatorLoadInProgress
            )
        )
}

/// Commits the offsets of `request` that belong to this member's partitions.
async fn serve_commit(consumer: &mut GroupConsumer, request: CommitRequest) {
    let owned = consumer.assignment();
    let mine: Offsets = request
        .offsets
        .iter()
        .filter(|(tp, _)| owned.contains(tp))
        .map(|(tp, o)| (tp.clone(), *o))
        .collect();
    let outcome = consumer.commit_offsets(&mine).await;
    let _ = request
        .reply
        .send(outcome.map(|()| mine.into_keys().collect()));
}

/// Runs consumer number `index` until `cancel`, sending what it reads to `to_job` and committing
/// what `commits` asks between polls. Leaves the group on the way out.
pub async fn consume(
    index: usize,
    client: Client,
    settings: ConsumerSettings,
    to_job: mpsc::Sender<Arrival>,
    mut commits: mpsc::Receiver<CommitRequest>,
    cancel: CancellationToken,
) -> Result<(), Error> {
    let Some(mut consumer) = join(index, &client, &settings, &cancel).await? else {
        return Ok(());
    };
    // The generation whose first poll has not returned yet (positions are resolved in it).
    let mut announced = None;
    loop {
        while let Ok(request) = commits.try_recv() {
            serve_commit(&mut consumer, request).await;
        }
        let generation = consumer.generation();
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
                // Wait for room in the job's queue, serving commits meanwhile: the job may be
                // waiting for one before it takes more records.
                let permit = loop {
                    tokio::select! {
                        permit = to_job.reserve() => break permit.ok(),
                        Some(request) = commits.recv() => serve_commit(&mut consumer, request).await,
                        () = cancel.cancelled() => break None,
                    }
                };
                let Some(permit) = permit else { break };
                permit.send(arrival);
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
