//! Cluster mode: brokers sharing a `zookeeper.connect` form one replicated cluster, as Kafka 3.x
//! does in ZooKeeper mode (layout in [`znodes`]).
//!
//! - [`session`]: the ZooKeeper session, the broker's ephemeral registration (a duplicate
//!   broker.id is refused, naming the holder) and the `/controller` election.
//! - [`sync`]: every broker reads the cluster state from ZooKeeper into a [`View`] and applies
//!   it: local logs for the topics, leader or follower per partition.
//! - [`watches`]: the ZooKeeper watches left by those reads, which start the next read as soon
//!   as something changes (a slow poll stays as a safety net).
//! - [`controller`]: the elected broker gives new partitions a leader and an ISR, elects new
//!   leaders from the ISR when a broker's session expires (bumping the leader epoch), and
//!   carries out topic deletions.
//! - [`leader`]: on a partition's leader, the followers' progress, the high watermark (the
//!   smallest log end of the ISR) and ISR shrink/expand by `replica.lag.time.max.ms`.
//! - [`fetcher`]: on a follower, a task that truncates to the leader's epoch boundary
//!   (OffsetForLeaderEpoch) and then fetches with its own replica id through `kafka-client`.
//! - [`requests`]: what the protocol handlers call in cluster mode (Metadata, CreateTopics,
//!   DeleteTopics, OffsetForLeaderEpoch, the checks of Produce, Fetch and ListOffsets).
//! - [`groups`]: one coordinator per group, chosen alike by every broker, and committed offsets
//!   kept in ZooKeeper so they survive the coordinator's loss.
//! - [`producer_ids`]: idempotent-producer ids in blocks reserved in ZooKeeper, unique across
//!   the cluster.
//!
//! Simplification: every broker keeps a (possibly empty) local log for every partition of every
//! topic, so a topic's partitions stay numbered 0..n on disk; only the assigned replicas ever
//! receive data.

pub(crate) mod assignment;
pub(crate) mod controller;
pub(crate) mod fetcher;
pub(crate) mod groups;
pub(crate) mod leader;
pub(crate) mod producer_ids;
pub(crate) mod requests;
pub(crate) mod session;
pub(crate) mod sync;
pub(crate) mod watches;
pub(crate) mod znodes;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::broker::Broker;
use crate::config::BrokerConfig;
use znodes::{Endpoint, PartitionStateZnode};

/// A topic as ZooKeeper describes it.
#[derive(Debug, Clone, Default)]
pub(crate) struct TopicView {
    /// The topic id (nil until the controller has given one).
    pub(crate) id: Uuid,
    /// Replicas of each partition, preferred leader first.
    pub(crate) replicas: Vec<Vec<i32>>,
    /// Leader and ISR of each partition with the znode's version (None before the controller
    /// wrote it).
    pub(crate) states: Vec<Option<(PartitionStateZnode, i32)>>,
    /// Config overrides from `/config/topics/T`.
    pub(crate) configs: BTreeMap<String, String>,
    /// Version of the assignment znode (to add a topic id without losing a concurrent change).
    pub(crate) version: i32,
}

impl TopicView {
    /// The state of partition `p`, if written.
    pub(crate) fn state(&self, p: i32) -> Option<&PartitionStateZnode> {
        usize::try_from(p)
            .ok()
            .and_then(|i| self.states.get(i))
            .and_then(|s| s.as_ref())
            .map(|(s, _)| s)
    }
}

/// The whole cluster as last read from ZooKeeper.
#[derive(Debug, Clone, Default)]
pub(crate) struct View {
    /// Live brokers and their endpoints.
    pub(crate) brokers: BTreeMap<i32, Vec<Endpoint>>,
    /// The live controller.
    pub(crate) controller: Option<i32>,
    /// Every topic.
    pub(crate) topics: BTreeMap<String, TopicView>,
}

impl View {
    /// The endpoint of broker `id` on listener `name`.
    pub(crate) fn endpoint(&self, id: i32, name: &str) -> Option<&Endpoint> {
        self.brokers.get(&id)?.iter().find(|e| e.listener == name)
    }
}

/// What this broker does for one partition.
#[derive(Debug)]
pub(crate) enum Role {
    /// Leads it: followers' progress, ISR and high watermark.
    Leader(leader::LeaderState),
    /// Follows `leader` at `epoch`; the fetcher stops when `stop` fires.
    Follower {
        /// The leader followed.
        leader: i32,
        /// Its leader epoch.
        epoch: i32,
        /// Stops the fetcher task.
        stop: CancellationToken,
    },
}

/// A partition, by topic name and index.
pub(crate) type PartitionKey = (String, i32);

/// The cluster side of a broker, shared by the handlers and the background tasks.
#[derive(Debug)]
pub(crate) struct Cluster {
    /// This broker's id.
    pub(crate) me: i32,
    /// `zookeeper.connect`.
    pub(crate) connect: String,
    /// `zookeeper.session.timeout.ms` (Kafka's default 18 s).
    pub(crate) session_timeout: Duration,
    /// `replica.lag.time.max.ms` (Kafka's default 30 s).
    pub(crate) lag_max: Duration,
    /// `min.insync.replicas` of the broker (topics may override it).
    pub(crate) min_insync: i32,
    /// The listener other brokers fetch through.
    pub(crate) inter_broker_listener: String,
    /// The current ZooKeeper session.
    zk: RwLock<Option<zookeeper_client::Client>>,
    /// The cluster as last read.
    view: RwLock<View>,
    /// This broker's role per partition.
    roles: Mutex<HashMap<PartitionKey, Role>>,
    /// Bumped whenever a high watermark moves or a role changes (acks=all waiters look again).
    pub(crate) progress: watch::Sender<u64>,
    /// Topics seen in ZooKeeper since start (only those are deleted locally when they go).
    known: Mutex<HashSet<String>>,
    /// The cluster id kept in `/cluster/id` (the first broker's own id wins).
    pub(crate) cluster_id: std::sync::OnceLock<String>,
    /// The block of producer ids this broker hands out.
    pub(crate) producer_ids: producer_ids::Reserved,
    /// The ZooKeeper watches that wake [`run`].
    pub(crate) watches: watches::Watches,
}

/// How often the cluster state is read even when no watch fired (a safety net: every change
/// that matters fires one).
pub(crate) const SAFETY_POLL: Duration = Duration::from_secs(1);
/// How often the leaders look at their followers' progress to shrink or expand ISRs (no
/// ZooKeeper read; a write only when an ISR changes).
pub(crate) const ISR_INTERVAL: Duration = Duration::from_millis(200);
/// How long a broker that changed the cluster state gives the others to apply it (their
/// watches fire within milliseconds; this is the margin for a loaded machine).
pub(crate) const PROPAGATION: Duration = Duration::from_millis(200);

impl Cluster {
    /// The cluster side of a broker configured with `zookeeper.connect`, or None standalone.
    pub(crate) fn from_config(config: &BrokerConfig) -> Option<Arc<Cluster>> {
        let connect = config.zookeeper_connect.clone()?;
        let number = |key: &str, default: u64| {
            config
                .raw
                .get(key)
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(default)
        };
        Some(Arc::new(Cluster {
            me: config.broker_id,
            connect,
            session_timeout: Duration::from_millis(number("zookeeper.session.timeout.ms", 18_000)),
            lag_max: Duration::from_millis(number("replica.lag.time.max.ms", 30_000)),
            min_insync: i32::try_from(number("min.insync.replicas", 1)).unwrap_or(1),
            inter_broker_listener: config.inter_broker_listener.clone(),
            zk: RwLock::new(None),
            view: RwLock::new(View::default()),
            roles: Mutex::new(HashMap::new()),
            progress: watch::Sender::new(0),
            known: Mutex::new(HashSet::new()),
            cluster_id: std::sync::OnceLock::new(),
            producer_ids: producer_ids::Reserved::default(),
            watches: watches::Watches::default(),
        }))
    }

    /// The ZooKeeper client of the current session.
    pub(crate) fn zk(&self) -> Option<zookeeper_client::Client> {
        self.zk
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn set_zk(&self, client: Option<zookeeper_client::Client>) {
        *self
            .zk
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = client;
    }

    /// A copy of the cluster as last read.
    pub(crate) fn view(&self) -> View {
        self.view
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn set_view(&self, view: View) {
        *self
            .view
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = view;
    }

    /// Runs `f` on the view without copying it.
    pub(crate) fn with_view<T>(&self, f: impl FnOnce(&View) -> T) -> T {
        f(&self
            .view
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// The roles, locked (never held across an await or while taking a partition's lock
    /// first: the order is roles, then partition).
    pub(crate) fn roles(&self) -> MutexGuard<'_, HashMap<PartitionKey, Role>> {
        self.roles
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Wakes everything waiting on replication progress.
    pub(crate) fn notify_progress(&self) {
        self.progress.send_modify(|n| *n = n.wrapping_add(1));
    }

    fn known(&self) -> MutexGuard<'_, HashSet<String>> {
        self.known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// True when `topic` was seen in ZooKeeper since start.
    pub(crate) fn known_topic(&self, topic: &str) -> bool {
        self.known().contains(topic)
    }

    /// Notes that `topic` is in ZooKeeper.
    pub(crate) fn remember_topic(&self, topic: &str) {
        if !self.known_topic(topic) {
            self.known().insert(topic.to_string());
        }
    }

    /// Notes that `topic` was deleted.
    pub(crate) fn forget_topic(&self, topic: &str) {
        self.known().remove(topic);
    }

    /// `min.insync.replicas` for `topic` (its override, else the broker's).
    pub(crate) fn min_insync_for(&self, topic: &str) -> i32 {
        self.with_view(|v| {
            v.topics
                .get(topic)
                .and_then(|t| t.configs.get("min.insync.replicas"))
                .and_then(|m| m.parse().ok())
        })
        .unwrap_or(self.min_insync)
    }
}

/// Joins the cluster before the broker serves: connects to ZooKeeper, registers (refusing a
/// broker.id held by a live broker) and reads the cluster state once (roles are taken by
/// [`run`]'s first round).
pub(crate) async fn join(broker: &Broker) -> Result<(), crate::broker::StartError> {
    let Some(cluster) = &broker.cluster else {
        return Ok(());
    };
    session::start(cluster, broker)
        .await
        .map_err(|e| crate::broker::StartError::Cluster(e.to_string()))?;
    if let Some(client) = cluster.zk() {
        match sync::read_view(&cluster.watches, &client).await {
            Ok(view) => cluster.set_view(view),
            Err(e) => tracing::warn!("first read of the cluster state failed: {e}"),
        }
    }
    Ok(())
}

/// Keeps the broker in the cluster until `shutdown`: the state is read and applied whenever a
/// ZooKeeper watch fires (or [`SAFETY_POLL`] passed), the session re-established if it expires;
/// in between, the ISRs of the partitions led here are kept every [`ISR_INTERVAL`]. On shutdown
/// the session is closed, so the registration and any controllership go at once.
pub(crate) async fn run(broker: Arc<Broker>, shutdown: CancellationToken) {
    let Some(cluster) = broker.cluster.clone() else {
        return;
    };
    let mut poll = tokio::time::interval(SAFETY_POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut isr = tokio::time::interval(ISR_INTERVAL);
    isr.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let full = tokio::select! {
            _ = poll.tick() => true,
            () = cluster.watches.changed() => true,
            _ = isr.tick() => false,
            () = shutdown.cancelled() => break,
        };
        if !session::alive(&cluster) {
            tracing::warn!("ZooKeeper session lost; registering again");
            if let Err(e) = session::start(&cluster, &broker).await {
                tracing::warn!("cannot register again yet: {e}");
                continue;
            }
        }
        let step = async {
            if full {
                sync::once(&cluster, &broker).await
            } else {
                let client = cluster
                    .zk()
                    .ok_or(zookeeper_client::Error::SessionExpired)?;
                leader::maintain_isr(&cluster, &client).await;
                Ok(())
            }
        };
        match tokio::time::timeout(cluster.session_timeout.max(Duration::from_secs(2)), step).await
        {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::debug!("cluster sync: {e}"),
            Err(_) => tracing::warn!("cluster sync timed out"),
        }
    }
    sync::stop_all(&cluster);
    session::close(&cluster);
}
