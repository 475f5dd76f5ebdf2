//! A classic consumer-group member: FindCoordinator, JoinGroup (range assignor when leader),
//! SyncGroup, Heartbeat (a background task on its own connection), OffsetCommit/OffsetFetch,
//! LeaveGroup, wrapped around a [`Consumer`] as [`GroupConsumer`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    ConsumerProtocolAssignment, ConsumerProtocolSubscription, HeartbeatRequest, JoinGroupRequest,
    LeaveGroupRequest, OffsetCommitRequest, OffsetFetchRequest, SyncGroupRequest, TopicName,
    consumer_protocol_assignment::TopicPartition as AssignedTopic,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

use crate::client::Client;
use crate::connection::Connection;
use crate::consumer::{Consumer, ConsumerConfig};
use crate::error::{Error, ResponseError, Result, check};
use crate::records::{ConsumerRecord, TopicPartition};
use crate::requests;

/// The only assignor this client offers, under the name every Kafka client knows.
const RANGE: &str = "range";
/// The group protocol type of consumers.
const CONSUMER: &str = "consumer";

/// Settings of a [`GroupConsumer`].
#[derive(Debug, Clone)]
pub struct GroupConfig {
    /// `group.id`.
    pub group_id: String,
    /// `session.timeout.ms`: the coordinator drops a member silent for this long.
    pub session_timeout: Duration,
    /// `max.poll.interval.ms` as the rebalance timeout.
    pub rebalance_timeout: Duration,
    /// `heartbeat.interval.ms`.
    pub heartbeat_interval: Duration,
    /// `auto.commit.interval.ms` when `enable.auto.commit` is true, else `None`.
    pub auto_commit: Option<Duration>,
    /// `metadata.max.age.ms`: how often the partition counts of the subscribed topics are read
    /// again; a topic that appears or grows makes the group rebalance.
    pub metadata_max_age: Duration,
    /// Fetch settings (and `auto.offset.reset` for partitions without a committed offset).
    pub consumer: ConsumerConfig,
    /// Commit where `auto.offset.reset` started each partition that had no committed offset, as
    /// soon as it is assigned, as Kafka's ZooKeeper-era high-level consumer did: the group then
    /// shows its position (lag 0, not "nothing committed"), and a restart resumes there rather
    /// than resetting again past what was produced meanwhile.
    pub commit_reset_positions: bool,
}

impl GroupConfig {
    /// Defaults like the Java client's (45 s session, 3 s heartbeats, auto-commit every 5 s),
    /// except partition counts, re-read every 5 s rather than 5 min so a lab's new topic is
    /// picked up while students watch.
    pub fn new(group_id: impl Into<String>) -> Self {
        GroupConfig {
            group_id: group_id.into(),
            session_timeout: Duration::from_secs(45),
            rebalance_timeout: Duration::from_secs(300),
            heartbeat_interval: Duration::from_secs(3),
            auto_commit: Some(Duration::from_secs(5)),
            metadata_max_age: Duration::from_secs(5),
            consumer: ConsumerConfig::default(),
            commit_reset_positions: false,
        }
    }
}

/// The range assignor: per topic, members sorted by id get consecutive partition ranges, the
/// first ones one extra partition when the count does not divide (as Java's `RangeAssignor`).
/// `subscriptions` maps member id to its topics; `partitions` maps topic to its partition count.
pub fn range_assign(
    subscriptions: &BTreeMap<String, Vec<String>>,
    partitions: &BTreeMap<String, i32>,
) -> BTreeMap<String, Vec<TopicPartition>> {
    let mut out: BTreeMap<String, Vec<TopicPartition>> = subscriptions
        .keys()
        .map(|m| (m.clone(), Vec::new()))
        .collect();
    let topics: BTreeSet<&String> = subscriptions.values().flatten().collect();
    for topic in topics {
        let Some(&count) = partitions.get(topic) else {
            continue;
        };
        let members: Vec<&String> = subscriptions
            .iter()
            .filter(|(_, t)| t.contains(topic))
            .map(|(m, _)| m)
            .collect();
        let n = i32::try_from(members.len()).unwrap_or(i32::MAX).max(1);
        let (per, extra) = (count / n, count % n);
        for (i, member) in (0..).zip(members) {
            let start = per * i + i.min(extra);
            let len = per + i32::from(i < extra);
            if let Some(list) = out.get_mut(member) {
                list.extend((start..start + len).map(|p| TopicPartition::new(topic.clone(), p)));
            }
        }
    }
    out
}

/// A subscription as sent in JoinGroup: version prefix, then the v0 body.
fn encode_subscription(topics: &[String]) -> Result<Bytes> {
    let sub = ConsumerProtocolSubscription::default().with_topics(
        topics
            .iter()
            .map(|t| StrBytes::from_string(t.clone()))
            .collect(),
    );
    let mut buf = BytesMut::new();
    buf.put_i16(0);
    sub.encode(&mut buf, 0).map_err(|e| codec("JoinGroup", e))?;
    Ok(buf.freeze())
}

fn decode_subscription(mut data: Bytes) -> Result<Vec<String>> {
    if data.remaining() < 2 {
        return Ok(Vec::new());
    }
    let version = data.get_i16().clamp(0, 3);
    let sub = ConsumerProtocolSubscription::decode(&mut data, version)
        .map_err(|e| codec("JoinGroup", e))?;
    Ok(sub.topics.iter().map(ToString::to_string).collect())
}

fn encode_assignment(partitions: &[TopicPartition]) -> Result<Bytes> {
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for tp in partitions {
        by_topic.entry(&tp.topic).or_default().push(tp.partition);
    }
    let assignment = ConsumerProtocolAssignment::default().with_assigned_partitions(
        by_topic
            .into_iter()
            .map(|(t, ps)| {
                AssignedTopic::default()
                    .with_topic(TopicName(StrBytes::from_string(t.to_owned())))
                    .with_partitions(ps)
            })
            .collect(),
    );
    let mut buf = BytesMut::new();
    buf.put_i16(0);
    assignment
        .encode(&mut buf, 0)
        .map_err(|e| codec("SyncGroup", e))?;
    Ok(buf.freeze())
}

/// Decodes a member's assignment (as in SyncGroup and DescribeGroups); empty means none.
pub(crate) fn decode_assignment(mut data: Bytes) -> Result<Vec<TopicPartition>> {
    if data.remaining() < 2 {
        return Ok(Vec::new());
    }
    let version = data.get_i16().clamp(0, 3);
    let a = ConsumerProtocolAssignment::decode(&mut data, version)
        .map_err(|e| codec("SyncGroup", e))?;
    Ok(a.assigned_partitions
        .into_iter()
        .flat_map(|t| {
            let topic = t.topic.0.to_string();
            t.partitions
                .into_iter()
                .map(move |p| TopicPartition::new(topic.clone(), p))
        })
        .collect())
}

fn codec(api: &'static str, e: anyhow::Error) -> Error {
    Error::Codec {
        addr: String::new(),
        api,
        reason: format!("{e:#}"),
    }
}

fn millis(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

/// How a consumer with `config` presents itself in JoinGroup and SyncGroup.
fn joining<'a>(
    config: &'a GroupConfig,
    member_id: &'a str,
    metadata: &Bytes,
) -> requests::Joining<'a> {
    requests::Joining {
        group: &config.group_id,
        member_id,
        session_timeout_ms: millis(config.session_timeout),
        rebalance_timeout_ms: millis(config.rebalance_timeout),
        protocol_type: CONSUMER,
        protocol: RANGE,
        metadata: metadata.clone(),
    }
}

/// The group errors after which a member must join again.
fn needs_rejoin(e: &Error) -> bool {
    matches!(
        e.response_error(),
        Some(
            ResponseError::RebalanceInProgress
                | ResponseError::IllegalGeneration
                | ResponseError::UnknownMemberId
                | ResponseError::NotCoordinator
                | ResponseError::CoordinatorNotAvailable
        )
    )
}

/// Commits `offsets` for a group, as member `member_id` of `generation` (-1 and "" for a
/// simple, group-less commit).
pub(crate) async fn commit_offsets(
    conn: &Connection,
    group: &str,
    generation: i32,
    member_id: &str,
    offsets: &BTreeMap<TopicPartition, i64>,
) -> Result<()> {
    let version = conn.version::<OffsetCommitRequest>()?;
    let request = requests::offset_commit(group, generation, member_id, offsets);
    let response = conn.call(&request, version).await?;
    for t in response.topics {
        for p in t.partitions {
            check(p.error_code, || {
                format!(
                    "commit offset of {}-{} for group {group}",
                    t.name.0, p.partition_index
                )
            })?;
        }
    }
    Ok(())
}

/// The committed offsets of a group: for `partitions`, or every partition it has offsets for
/// (`None`). Partitions without a committed offset are left out.
pub(crate) async fn fetch_offsets(
    conn: &Connection,
    group: &str,
    partitions: Option<&[TopicPartition]>,
) -> Result<BTreeMap<TopicPartition, i64>> {
    let version = conn.version::<OffsetFetchRequest>()?;
    if partitions.is_none() && version < 2 {
        return Err(Error::UnsupportedVersion {
            addr: conn.addr().to_owned(),
            api: "OffsetFetch (all topics)",
            ours: "2..7".into(),
        });
    }
    let request = requests::offset_fetch(group, partitions);
    let response = conn.call(&request, version).await?;
    check(response.error_code, || {
        format!("fetch offsets of group {group}")
    })?;
    let mut out = BTreeMap::new();
    for t in response.topics {
        for p in t.partitions {
            let tp = TopicPartition::new(t.name.0.to_string(), p.partition_index);
            check(p.error_code, || {
                format!("fetch offset of {tp} for group {group}")
            })?;
            if p.committed_offset >= 0 {
                out.insert(tp, p.committed_offset);
            }
        }
    }
    Ok(out)
}

/// This member's place in the group after a join.
#[derive(Debug, Clone, Default)]
struct Membership {
    coordinator: String,
    member_id: String,
    generation: i32,
}

/// Aborts the heartbeat task when the member goes away.
#[derive(Debug)]
struct Heartbeats {
    task: tokio::task::JoinHandle<()>,
    rejoin: Arc<AtomicBool>,
}

impl Drop for Heartbeats {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A consumer that is a member of a classic consumer group: subscribes to topics, gets its
/// partitions from the group, starts at the committed offsets, commits (automatically or on
/// demand) and rejoins when the group rebalances.
#[derive(Debug)]
pub struct GroupConsumer {
    client: Client,
    config: GroupConfig,
    topics: Vec<String>,
    consumer: Consumer,
    membership: Membership,
    heartbeats: Option<Heartbeats>,
    last_commit: Instant,
    committed: BTreeMap<TopicPartition, i64>,
    /// Partition count of each subscribed topic when we last joined (0: no such topic).
    partition_counts: BTreeMap<String, usize>,
    last_metadata_check: Instant,
}

impl GroupConsumer {
    /// Joins group `config.group_id` subscribed to `topics` and waits for an assignment.
    pub async fn subscribe(
        client: Client,
        config: GroupConfig,
        topics: Vec<String>,
    ) -> Result<GroupConsumer> {
        let consumer = Consumer::new(client.clone(), config.consumer.clone());
        let mut this = GroupConsumer {
            client,
            config,
            topics,
            consumer,
            membership: Membership::default(),
            heartbeats: None,
            last_commit: Instant::now(),
            committed: BTreeMap::new(),
            partition_counts: BTreeMap::new(),
            last_metadata_check: Instant::now(),
        };
        this.join().await?;
        Ok(this)
    }

    /// The partitions this member owns now.
    pub fn assignment(&self) -> Vec<TopicPartition> {
        self.consumer.assignment()
    }

    /// The member id the coordinator gave us.
    pub fn member_id(&self) -> &str {
        &self.membership.member_id
    }

    /// The group generation of our last join.
    pub fn generation(&self) -> i32 {
        self.membership.generation
    }

    /// Fetches the next records; rejoins first if the group rebalanced, and auto-commits when due.
    /// While the group cannot be joined (coordinator moving, broker restarting) it returns no
    /// records after a short pause, and tries again on the next call.
    pub async fn poll(&mut self) -> Result<Vec<ConsumerRecord>> {
        if self.last_metadata_check.elapsed() >= self.config.metadata_max_age {
            self.check_partition_counts().await;
        }
        if self
            .heartbeats
            .as_ref()
            .is_none_or(|h| h.rejoin.load(Ordering::Relaxed))
        {
            if self.config.auto_commit.is_some() && self.heartbeats.is_some() {
                let _ = self.commit().await;
            }
            self.heartbeats = None;
            // One attempt per poll, so a poll stays short while the cluster is away.
            if let Err(e) = self.join_and_start().await {
                if !(needs_rejoin(&e) || e.is_retriable()) {
                    return Err(e);
                }
                if e.response_error() == Some(ResponseError::UnknownMemberId) {
                    self.membership.member_id.clear();
                }
                tracing::debug!(group = %self.config.group_id, "not in the group yet: {e}");
                tokio::time::sleep(self.config.consumer.max_wait).await;
                return Ok(Vec::new());
            }
        }
        if let Some(every) = self.config.auto_commit
            && self.last_commit.elapsed() >= every
            && let Err(e) = self.commit().await
        {
            tracing::warn!("auto-commit failed: {e}");
        }
        self.consumer.poll().await
    }

    /// The partition count of each subscribed topic, as the cluster says now.
    async fn partition_counts(&self) -> Result<BTreeMap<String, usize>> {
        let metadata = self
            .client
            .refresh_metadata(Some(&self.topics), false)
            .await?;
        Ok(self
            .topics
            .iter()
            .map(|t| {
                let n = metadata
                    .topics
                    .get(t)
                    .filter(|m| m.error_code == 0)
                    .map_or(0, |m| m.partitions.len());
                (t.clone(), n)
            })
            .collect())
    }

    /// Asks for a rebalance when a subscribed topic appeared or gained partitions since we joined.
    async fn check_partition_counts(&mut self) {
        self.last_metadata_check = Instant::now();
        match self.partition_counts().await {
            Ok(now) if now != self.partition_counts => {
                tracing::info!(group = %self.config.group_id, before = ?self.partition_counts, ?now, "partitions changed, rebalancing");
                if let Some(h) = &self.heartbeats {
                    h.rejoin.store(true, Ordering::Relaxed);
                }
            }
            Ok(_) => {}
            Err(e) => tracing::debug!("metadata refresh failed: {e}"),
        }
    }

    /// Commits the current position of every owned partition (what has been returned by `poll`).
    pub async fn commit(&mut self) -> Result<()> {
        self.last_commit = Instant::now();
        let positions: BTreeMap<TopicPartition, i64> = self
            .consumer
            .positions()
            .into_iter()
            .filter(|(tp, p)| self.committed.get(tp) != Some(p))
            .collect();
        self.commit_offsets(&positions).await
    }

    /// Commits exactly `offsets` (the next offset to read, per partition) as this member, e.g.
    /// only what a job has durably written. A rebalance error makes the next `poll` rejoin.
    pub async fn commit_offsets(&mut self, offsets: &BTreeMap<TopicPartition, i64>) -> Result<()> {
        if offsets.is_empty() {
            return Ok(());
        }
        let conn = self.client.connection(&self.membership.coordinator).await?;
        let result = commit_offsets(
            &conn,
            &self.config.group_id,
            self.membership.generation,
            &self.membership.member_id,
            offsets,
        )
        .await;
        match result {
            Ok(()) => {
                self.committed
                    .extend(offsets.iter().map(|(tp, o)| (tp.clone(), *o)));
                Ok(())
            }
            Err(e) => {
                if needs_rejoin(&e)
                    && let Some(h) = &self.heartbeats
                {
                    h.rejoin.store(true, Ordering::Relaxed);
                }
                Err(e)
            }
        }
    }

    /// Commits (when auto-commit is on) and leaves the group, so the others rebalance at once.
    pub async fn close(mut self) -> Result<()> {
        if self.config.auto_commit.is_some() {
            let _ = self.commit().await;
        }
        self.heartbeats = None;
        let conn = self.client.connection(&self.membership.coordinator).await?;
        let version = conn.version::<LeaveGroupRequest>()?;
        let request =
            requests::leave_group(&self.config.group_id, &self.membership.member_id, version);
        let response = conn.call(&request, version).await?;
        check(response.error_code, || {
            format!("leave group {}", self.config.group_id)
        })
    }

    /// Joins (or rejoins) the group until it has a generation and an assignment.
    async fn join(&mut self) -> Result<()> {
        self.heartbeats = None;
        // Keeps trying through a coordinator move or a broker restart (with a growing pause),
        // for up to the rebalance timeout, as a member the group still waits for.
        let deadline = Instant::now() + self.config.rebalance_timeout;
        let mut pause = Duration::from_millis(100);
        loop {
            match self.join_and_start().await {
                Ok(()) => return Ok(()),
                Err(e) if Instant::now() < deadline && (needs_rejoin(&e) || e.is_retriable()) => {
                    if e.response_error() == Some(ResponseError::UnknownMemberId) {
                        self.membership.member_id.clear();
                    }
                    tracing::debug!(group = %self.config.group_id, "join again: {e}");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(2));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// One attempt: partition counts, JoinGroup + SyncGroup, committed offsets, heartbeats.
    async fn join_and_start(&mut self) -> Result<()> {
        // Read before joining, so a topic created during the join shows as a change afterwards.
        self.partition_counts = self.partition_counts().await?;
        self.last_metadata_check = Instant::now();
        let assigned = self.join_once().await?;
        self.start(assigned).await
    }

    /// One JoinGroup + SyncGroup round; returns our partitions.
    async fn join_once(&mut self) -> Result<Vec<TopicPartition>> {
        let group = self.config.group_id.clone();
        self.membership.coordinator = self.client.coordinator_addr(&group).await?;
        let conn = self.client.connection(&self.membership.coordinator).await?;
        let version = conn.version::<JoinGroupRequest>()?;
        let metadata = encode_subscription(&self.topics)?;
        let mut member_id = self.membership.member_id.clone();
        let join = loop {
            let request =
                requests::join_group(&joining(&self.config, &member_id, &metadata), version);
            let response = conn
                .call_waiting(&request, version, self.config.rebalance_timeout)
                .await?;
            if response.error_code == ResponseError::MemberIdRequired.code() {
                member_id = response.member_id.to_string();
                continue;
            }
            check(response.error_code, || format!("join group {group}"))?;
            break response;
        };
        member_id = join.member_id.to_string();
        let assignments = if join.leader == join.member_id {
            let mut subscriptions = BTreeMap::new();
            for m in join.members {
                subscriptions.insert(m.member_id.to_string(), decode_subscription(m.metadata)?);
            }
            self.assign(&subscriptions).await?
        } else {
            BTreeMap::new()
        };
        let mut encoded = Vec::with_capacity(assignments.len());
        for (member, partitions) in assignments {
            encoded.push((member, encode_assignment(&partitions)?));
        }
        let version = conn.version::<SyncGroupRequest>()?;
        let request = requests::sync_group(
            &joining(&self.config, &member_id, &metadata),
            join.generation_id,
            encoded,
            version,
        );
        let response = conn.call(&request, version).await?;
        check(response.error_code, || format!("sync group {group}"))?;
        self.membership.member_id = member_id;
        self.membership.generation = join.generation_id;
        decode_assignment(response.assignment)
    }

    /// The leader's part: partition counts of every subscribed topic, then the range assignor.
    async fn assign(
        &self,
        subscriptions: &BTreeMap<String, Vec<String>>,
    ) -> Result<BTreeMap<String, Vec<TopicPartition>>> {
        let topics: Vec<String> = subscriptions
            .values()
            .flatten()
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let metadata = self.client.refresh_metadata(Some(&topics), false).await?;
        let counts = metadata
            .topics
            .iter()
            .filter(|(_, t)| t.error_code == 0)
            .map(|(n, t)| (n.clone(), i32::try_from(t.partitions.len()).unwrap_or(0)))
            .collect();
        Ok(range_assign(subscriptions, &counts))
    }

    /// Takes a new assignment: positions from committed offsets, then heartbeats.
    async fn start(&mut self, assigned: Vec<TopicPartition>) -> Result<()> {
        let conn = self.client.connection(&self.membership.coordinator).await?;
        let committed = if assigned.is_empty() {
            BTreeMap::new()
        } else {
            fetch_offsets(&conn, &self.config.group_id, Some(&assigned)).await?
        };
        tracing::debug!(group = %self.config.group_id, ?assigned, ?committed, "assigned");
        self.committed = committed.clone();
        self.consumer.assign(assigned.into_iter().map(|tp| {
            let at = committed.get(&tp).copied();
            (tp, at)
        }));
        let rejoin = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(heartbeat_loop(
            self.client.clone(),
            self.config.clone(),
            self.membership.clone(),
            rejoin.clone(),
        ));
        self.heartbeats = Some(Heartbeats { task, rejoin });
        if self.config.commit_reset_positions {
            self.commit_reset_positions().await;
        }
        Ok(())
    }

    /// Commits the positions `auto.offset.reset` chose (before any record is returned from
    /// them). Best effort: a failure is logged and the partition stays uncommitted until the
    /// owner commits what it read.
    async fn commit_reset_positions(&mut self) {
        if let Err(e) = self.consumer.resolve_positions().await {
            tracing::debug!(group = %self.config.group_id, "positions not resolved yet: {e}");
        }
        let reset: BTreeMap<TopicPartition, i64> = self
            .consumer
            .positions()
            .into_iter()
            .filter(|(tp, _)| !self.committed.contains_key(tp))
            .collect();
        if let Err(e) = self.commit_offsets(&reset).await {
            tracing::debug!(group = %self.config.group_id, "committing reset positions: {e}");
        }
    }
}

/// Sends heartbeats on a connection of its own until the group asks us to rejoin.
async fn heartbeat_loop(
    client: Client,
    config: GroupConfig,
    membership: Membership,
    rejoin: Arc<AtomicBool>,
) {
    let conn = match Connection::open(&membership.coordinator, &client.config().connection).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("heartbeat connection failed: {e}");
            rejoin.store(true, Ordering::Relaxed);
            return;
        }
    };
    loop {
        tokio::time::sleep(config.heartbeat_interval).await;
        let outcome = async {
            let version = conn.version::<HeartbeatRequest>()?;
            let request = requests::heartbeat(
                &config.group_id,
                membership.generation,
                &membership.member_id,
            );
            let r = conn.call(&request, version).await?;
            check(r.error_code, || {
                format!("heartbeat to group {}", config.group_id)
            })
        }
        .await;
        if let Err(e) = outcome {
            tracing::debug!("heartbeat: {e}; will rejoin");
            rejoin.store(true, Ordering::Relaxed);
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subs(pairs: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        pairs
            .iter()
            .map(|(m, ts)| (m.to_string(), ts.iter().map(|t| t.to_string()).collect()))
            .collect()
    }

    #[test]
    fn range_gives_the_first_members_the_extra_partitions() {
        let counts = BTreeMap::from([("t".to_string(), 5)]);
        let got = range_assign(&subs(&[("b", &["t"]), ("a", &["t"])]), &counts);
        let parts = |m: &str| got[m].iter().map(|tp| tp.partition).collect::<Vec<_>>();
        assert_eq!(parts("a"), vec![0, 1, 2]);
        assert_eq!(parts("b"), vec![3, 4]);
    }

    #[test]
    fn range_handles_more_members_than_partitions_and_unknown_topics() {
        let counts = BTreeMap::from([("t".to_string(), 1)]);
        let got = range_assign(&subs(&[("a", &["t", "gone"]), ("b", &["t"])]), &counts);
        assert_eq!(got["a"], vec![TopicPartition::new("t", 0)]);
        assert!(got["b"].is_empty());
    }

    #[test]
    fn subscriptions_and_assignments_round_trip() {
        let topics = vec!["Hello-Kafka".to_string()];
        assert_eq!(
            decode_subscription(encode_subscription(&topics).unwrap()).unwrap(),
            topics
        );
        let a = vec![TopicPartition::new("t", 0), TopicPartition::new("t", 2)];
        assert_eq!(
            decode_assignment(encode_assignment(&a).unwrap()).unwrap(),
            a
        );
        assert!(decode_assignment(Bytes::new()).unwrap().is_empty());
        assert!(decode_assignment(Bytes::from_static(&[0, 0, 0xff])).is_err());
    }
}
