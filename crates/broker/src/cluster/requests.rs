//! What the protocol handlers ask of the cluster: who leads a partition (Produce and Fetch are
//! refused with NOT_LEADER_OR_FOLLOWER elsewhere), min.insync.replicas, waiting for the ISR
//! (acks=all), followers' fetches, and the cluster-mode Metadata, CreateTopics and
//! DeleteTopics, which go through ZooKeeper and the controller.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{
    BrokerId, CreatePartitionsRequest, CreatePartitionsResponse, CreateTopicsRequest,
    CreateTopicsResponse, DeleteTopicsRequest, DeleteTopicsResponse, MetadataRequest,
    MetadataResponse, TopicName,
};
use tokio::time::Instant;
use zookeeper_client as zk;

pub(crate) use crate::api::text;

use super::assignment::{self, AssignmentError};
use super::session::persistent;
use super::znodes::{self, TopicConfigZnode, TopicZnode};
use super::{Cluster, PartitionKey, Role, TopicView, leader};
use crate::api::create_topics::{refuse, requested};
use crate::broker::Broker;
use crate::session::Session;
use crate::topics::{NewTopic, Partition, TopicError, check_growth};

/// Produce on `topic`/`partition`: refused unless led here; with acks=all, refused with
/// NOT_ENOUGH_REPLICAS when the ISR is smaller than `min.insync.replicas`.
pub(crate) fn check_produce(
    broker: &Broker,
    topic: &str,
    partition: i32,
    acks: i16,
) -> Result<(), i16> {
    let Some(cluster) = &broker.cluster else {
        return Ok(());
    };
    let roles = cluster.roles();
    let Some(Role::Leader(l)) = roles.get(&(topic.to_string(), partition)) else {
        return Err(ResponseError::NotLeaderOrFollower.code());
    };
    let isr = i32::try_from(l.isr.len()).unwrap_or(i32::MAX);
    drop(roles);
    if acks == -1 && isr < cluster.min_insync_for(topic) {
        return Err(ResponseError::NotEnoughReplicas.code());
    }
    Ok(())
}

/// After an append as leader: wakes the followers' long polls, moves the high watermark (a
/// one-replica ISR commits at once) and, for acks=all, waits until the high watermark reaches
/// the log end after the append, so every replica of the ISR has the records.
/// REQUEST_TIMED_OUT after `timeout`; NOT_LEADER_OR_FOLLOWER if the leadership moves meanwhile.
pub(crate) async fn replicate(
    broker: &Broker,
    topic: &str,
    partition: &Partition,
    acks: i16,
    timeout: Duration,
) -> Result<(), i16> {
    let Some(cluster) = &broker.cluster else {
        return Ok(());
    };
    let key = (topic.to_string(), partition.index);
    let end = partition.lock().log.log_end_offset();
    broker.notify_appended();
    leader::advance_high_watermark(cluster, &key);
    if acks != -1 {
        return Ok(());
    }
    let deadline = Instant::now() + timeout;
    let mut progress = cluster.progress.subscribe();
    loop {
        progress.borrow_and_update();
        if !matches!(cluster.roles().get(&key), Some(Role::Leader(_))) {
            return Err(ResponseError::NotLeaderOrFollower.code());
        }
        if partition.lock().log.high_watermark() >= end {
            // Committed, but by fewer replicas than asked for if the ISR shrank meanwhile.
            let isr = match cluster.roles().get(&key) {
                Some(Role::Leader(l)) => i32::try_from(l.isr.len()).unwrap_or(i32::MAX),
                _ => 0,
            };
            if isr < cluster.min_insync_for(topic) {
                return Err(ResponseError::NotEnoughReplicasAfterAppend.code());
            }
            return Ok(());
        }
        if tokio::time::timeout_at(deadline, progress.changed())
            .await
            .is_err()
        {
            return Err(ResponseError::RequestTimedOut.code());
        }
    }
}

/// Fetch of `topic`/`partition` by a consumer (`replica < 0`) or a follower: refused unless
/// led here. A follower must follow this leader's epoch (FENCED_LEADER_EPOCH when it knows an
/// older one, UNKNOWN_LEADER_EPOCH when this leader has not learnt of a newer one yet), so no
/// follower copies from a deposed leader. Its fetch offset is then recorded (its log end), so
/// the answer carries the high watermark it allows.
pub(crate) fn check_fetch(
    broker: &Broker,
    topic: &str,
    partition: i32,
    replica: i32,
    fetch_offset: i64,
    current_leader_epoch: i32,
) -> Result<(), i16> {
    let Some(cluster) = &broker.cluster else {
        return Ok(());
    };
    let key: PartitionKey = (topic.to_string(), partition);
    let epoch = match cluster.roles().get(&key) {
        Some(Role::Leader(l)) => l.epoch,
        _ => return Err(ResponseError::NotLeaderOrFollower.code()),
    };
    if replica >= 0 && current_leader_epoch >= 0 && current_leader_epoch != epoch {
        return Err(if current_leader_epoch < epoch {
            ResponseError::FencedLeaderEpoch.code()
        } else {
            ResponseError::UnknownLeaderEpoch.code()
        });
    }
    if replica >= 0 {
        leader::follower_fetched(cluster, &key, replica, fetch_offset);
    }
    Ok(())
}

/// OffsetForLeaderEpoch: refused unless led here (standalone, this broker leads everything).
pub(crate) fn check_leader(broker: &Broker, topic: &str, partition: i32) -> Result<(), i16> {
    check_fetch(broker, topic, partition, -1, 0, -1)
}

/// Metadata in cluster mode: every live broker at its endpoint on the listener the client
/// came in through, the live controller, and each partition's leader, replicas and ISR.
pub(crate) async fn metadata(
    session: &Session,
    cluster: &Cluster,
    version: i16,
    request: MetadataRequest,
) -> MetadataResponse {
    let broker = &session.broker;
    let listener = broker
        .listeners
        .get(session.listener)
        .map(|l| l.name.clone())
        .unwrap_or_default();
    let may_create =
        broker.config.auto_create_topics && (version < 4 || request.allow_auto_topic_creation);
    let asked: Option<Vec<String>> = match &request.topics {
        Some(t) if !(version == 0 && t.is_empty()) => Some(
            t.iter()
                .filter_map(|w| match &w.name {
                    Some(n) => Some(n.to_string()),
                    None => cluster.with_view(|v| {
                        v.topics
                            .iter()
                            .find(|(_, t)| t.id == w.topic_id)
                            .map(|(n, _)| n.clone())
                    }),
                })
                .collect(),
        ),
        _ => None,
    };
    if let Some(names) = &asked
        && may_create
    {
        let missing: Vec<&String> = cluster.with_view(|v| {
            names
                .iter()
                .filter(|n| !v.topics.contains_key(*n))
                .collect()
        });
        for name in missing {
            let new = NewTopic {
                name: name.clone(),
                partitions: broker.config.num_partitions,
                replication_factor: broker.config.default_replication_factor,
                configs: BTreeMap::new(),
            };
            match create_topic(broker, cluster, new, None).await {
                Ok(()) => tracing::info!("auto-created topic {name}"),
                Err(e) => tracing::warn!("cannot auto-create topic {name}: {e}"),
            }
        }
    }
    let view = cluster.view();
    let mut response = MetadataResponse::default();
    for (id, endpoints) in &view.brokers {
        if let Some(e) = endpoints.iter().find(|e| e.listener == listener) {
            let mut b = MetadataResponseBroker::default();
            b.node_id = BrokerId(*id);
            b.host = text(&e.host);
            b.port = i32::from(e.port);
            response.brokers.push(b);
        }
    }
    let id = cluster.cluster_id.get().unwrap_or(&broker.cluster_id);
    response.cluster_id = Some(text(id));
    response.controller_id = BrokerId(view.controller.unwrap_or(-1));
    response.cluster_authorized_operations = i32::MIN;
    let names: Vec<String> = asked.unwrap_or_else(|| view.topics.keys().cloned().collect());
    for name in names {
        let mut t = MetadataResponseTopic::default();
        t.name = Some(TopicName(text(&name)));
        t.topic_authorized_operations = i32::MIN;
        match view.topics.get(&name) {
            None => {
                t.error_code = if may_create {
                    ResponseError::LeaderNotAvailable.code()
                } else {
                    ResponseError::UnknownTopicOrPartition.code()
                };
            }
            Some(topic) => {
                t.topic_id = topic.id;
                t.partitions = describe_partitions(topic);
            }
        }
        response.topics.push(t);
    }
    response
}

fn describe_partitions(topic: &TopicView) -> Vec<MetadataResponsePartition> {
    topic
        .replicas
        .iter()
        .enumerate()
        .map(|(i, replicas)| {
            let index = i32::try_from(i).unwrap_or(i32::MAX);
            let mut mp = MetadataResponsePartition::default();
            mp.partition_index = index;
            mp.replica_nodes = replicas.iter().map(|r| BrokerId(*r)).collect();
            match topic.state(index) {
                Some(s) if s.leader >= 0 => {
                    mp.leader_id = BrokerId(s.leader);
                    mp.leader_epoch = s.leader_epoch;
                    mp.isr_nodes = s.isr.iter().map(|r| BrokerId(*r)).collect();
                }
                other => {
                    mp.error_code = ResponseError::LeaderNotAvailable.code();
                    mp.leader_id = BrokerId(-1);
                    mp.leader_epoch = other.map_or(-1, |s| s.leader_epoch);
                    mp.isr_nodes = other
                        .map(|s| s.isr.iter().map(|r| BrokerId(*r)).collect())
                        .unwrap_or_default();
                }
            }
            mp
        })
        .collect()
}

/// Why a topic could not be created in the cluster.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CreateError {
    /// Name, partitions or configs refused.
    #[error("{0}")]
    Topic(#[from] TopicError),
    /// Not enough live brokers, or a bad factor.
    #[error("{0}")]
    Assignment(#[from] AssignmentError),
    /// An explicit assignment is malformed.
    #[error("{0}")]
    InvalidAssignment(String),
    /// ZooKeeper refused or was unreachable.
    #[error("ZooKeeper: {0}")]
    Zk(#[from] zk::Error),
    /// `/brokers/topics/T` exists.
    #[error("Topic '{0}' already exists.")]
    Exists(String),
}

impl CreateError {
    fn code(&self) -> i16 {
        match self {
            CreateError::Topic(e) => e.code(),
            CreateError::Assignment(_) => ResponseError::InvalidReplicationFactor.code(),
            CreateError::InvalidAssignment(_) => ResponseError::InvalidReplicaAssignment.code(),
            CreateError::Zk(_) => ResponseError::UnknownServerError.code(),
            CreateError::Exists(_) => ResponseError::TopicAlreadyExists.code(),
        }
    }
}

/// Validates `new` and writes its config overrides and its assignment (round-robin over the
/// live brokers unless `explicit`); the controller does the rest. (`validate_only` requests
/// stop at [`plan_topic`].)
async fn create_topic(
    broker: &Broker,
    cluster: &Cluster,
    new: NewTopic,
    explicit: Option<Vec<Vec<i32>>>,
) -> Result<(), CreateError> {
    let assignment = plan_topic(broker, cluster, &new, explicit)?;
    let client = cluster.zk().ok_or(zk::Error::ConnectionLoss)?;
    let config = TopicConfigZnode {
        version: 1,
        config: new.configs.clone(),
    };
    let config_path = format!("{}/{}", znodes::CONFIG_TOPICS, new.name);
    match client
        .create(
            &config_path,
            &serde_json::to_vec(&config).unwrap_or_default(),
            &persistent(),
        )
        .await
    {
        Ok(_) => {}
        Err(zk::Error::NodeExists) => {
            client
                .set_data(
                    &config_path,
                    &serde_json::to_vec(&config).unwrap_or_default(),
                    None,
                )
                .await?;
        }
        Err(e) => return Err(e.into()),
    }
    let z = TopicZnode::new(&assignment, uuid::Uuid::new_v4());
    match client
        .create(
            &znodes::topic_path(&new.name),
            &serde_json::to_vec(&z).unwrap_or_default(),
            &persistent(),
        )
        .await
    {
        Ok(_) => {
            tracing::info!("topic {} assigned {assignment:?}", new.name);
            Ok(())
        }
        Err(zk::Error::NodeExists) => Err(CreateError::Exists(new.name)),
        Err(e) => Err(e.into()),
    }
}

/// Checks a topic and computes its assignment, writing nothing.
fn plan_topic(
    broker: &Broker,
    cluster: &Cluster,
    new: &NewTopic,
    explicit: Option<Vec<Vec<i32>>>,
) -> Result<Vec<Vec<i32>>, CreateError> {
    // Name, partition count and configs as standalone; the factor is checked against the
    // live brokers below instead of the single local one.
    broker.topics.validate(&NewTopic {
        name: new.name.clone(),
        partitions: new.partitions,
        replication_factor: 1,
        configs: new.configs.clone(),
    })?;
    let view = cluster.view();
    if view.topics.contains_key(&new.name) {
        return Err(CreateError::Exists(new.name.clone()));
    }
    let live: Vec<i32> = view.brokers.keys().copied().collect();
    if let Some(explicit) = explicit {
        for (p, r) in explicit.iter().enumerate() {
            let mut d = r.clone();
            d.sort_unstable();
            d.dedup();
            if r.is_empty() || d.len() != r.len() || r.iter().any(|b| !live.contains(b)) {
                return Err(CreateError::InvalidAssignment(format!(
                    "partition {p}: replicas {r:?} must be distinct live brokers of {live:?}"
                )));
            }
        }
        return Ok(explicit);
    }
    let seed = uuid::Uuid::new_v4().as_u128();
    let start = usize::try_from(seed & 0xffff).unwrap_or(0);
    let shift = usize::try_from((seed >> 16) & 0xffff).unwrap_or(0);
    Ok(assignment::assign(
        &live,
        new.partitions,
        new.replication_factor,
        start,
        shift,
    )?)
}

/// Waits (bounded) until every partition of `name` has a leader in this broker's view, so a
/// client that asks Metadata right after CreateTopics finds the leaders.
async fn wait_until(cluster: &Cluster, timeout: Duration, done: impl Fn(&super::View) -> bool) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline && !cluster.with_view(&done) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// CreateTopics in cluster mode.
pub(crate) async fn create_topics(
    session: &Session,
    cluster: &Cluster,
    _version: i16,
    request: CreateTopicsRequest,
) -> CreateTopicsResponse {
    let broker = &session.broker;
    let timeout = Duration::from_millis(request.timeout_ms.clamp(0, 30_000).unsigned_abs().into());
    let mut response = CreateTopicsResponse::default();
    let mut created = Vec::new();
    for t in request.topics {
        let (new, explicit) = requested(&t, &broker.config);
        let (partitions, factor) = (new.partitions, new.replication_factor);
        let name = new.name.clone();
        let outcome = if request.validate_only {
            plan_topic(broker, cluster, &new, explicit).map(|_| ())
        } else {
            create_topic(broker, cluster, new, explicit).await
        };
        let mut result = CreatableTopicResult::default();
        match outcome {
            Ok(()) => {
                result.num_partitions = partitions;
                result.replication_factor = factor;
                created.push(name);
            }
            Err(e) => refuse(&mut result, e.code(), &e.to_string()),
        }
        result.name = t.name;
        response.topics.push(result);
    }
    if !request.validate_only && !created.is_empty() {
        wait_until(cluster, timeout, |v| {
            created.iter().all(|n| {
                v.topics.get(n).is_some_and(|t| {
                    !t.id.is_nil()
                        && (0..t.replicas.len())
                            .all(|p| t.state(i32::try_from(p).unwrap_or(0)).is_some())
                })
            })
        })
        .await;
        // The other brokers read the new state when their watches fire: give them that long,
        // so a client's next Metadata, wherever it goes, sees the leaders (as Kafka waits for
        // the controller's metadata update).
        tokio::time::sleep(super::PROPAGATION).await;
        let view = cluster.view();
        for r in &mut response.topics {
            if let Some(t) = view.topics.get(r.name.as_str()) {
                r.topic_id = t.id;
            }
        }
    }
    response
}

/// CreatePartitions in cluster mode: each topic's assignment in `/brokers/topics/T` is extended
/// as Kafka's `addPartitions` does ([`assignment::extend`], written only if nobody changed the
/// znode meanwhile); the controller elects the new partitions' leaders and every broker creates
/// its replicas on its next round, which this waits for (bounded by the request's timeout).
pub(crate) async fn create_partitions(
    cluster: &Cluster,
    request: CreatePartitionsRequest,
) -> CreatePartitionsResponse {
    let timeout = Duration::from_millis(request.timeout_ms.clamp(0, 30_000).unsigned_abs().into());
    let mut response = CreatePartitionsResponse::default();
    let mut grown = Vec::new();
    for t in request.topics {
        let outcome = grow_topic(cluster, &t, request.validate_only).await;
        let mut result = CreatePartitionsTopicResult::default();
        match outcome {
            Ok(()) => grown.push((t.name.to_string(), t.count)),
            Err((code, message)) => {
                result.error_code = code;
                result.error_message = Some(text(&message));
            }
        }
        result.name = t.name;
        response.results.push(result);
    }
    if !grown.is_empty() {
        wait_until(cluster, timeout, |v| {
            grown.iter().all(|(n, count)| {
                v.topics
                    .get(n)
                    .is_some_and(|t| (0..*count).all(|p| t.state(p).is_some_and(|s| s.leader >= 0)))
            })
        })
        .await;
        tokio::time::sleep(super::PROPAGATION).await;
    }
    response
}

/// Checks one topic of a CreatePartitions request and, unless `validate_only`, writes its
/// extended assignment. Errors are the protocol code and Kafka's message.
async fn grow_topic(
    cluster: &Cluster,
    t: &CreatePartitionsTopic,
    validate_only: bool,
) -> Result<(), (i16, String)> {
    let name = t.name.as_str();
    let view = cluster.view();
    let topic = view.topics.get(name).ok_or_else(|| {
        let e = TopicError::Unknown;
        (e.code(), e.to_string())
    })?;
    let current = i32::try_from(topic.replicas.len()).unwrap_or(i32::MAX);
    check_growth(current, t.count).map_err(|e| (e.code(), e.to_string()))?;
    let live: Vec<i32> = view.brokers.keys().copied().collect();
    let added = match &t.assignments {
        Some(explicit) => explicit
            .iter()
            .map(|a| a.broker_ids.iter().map(|b| b.0).collect::<Vec<i32>>())
            .collect(),
        None => assignment::extend(&live, &topic.replicas, t.count).map_err(|e| {
            let e = CreateError::from(e);
            (e.code(), e.to_string())
        })?,
    };
    let factor = topic.replicas.first().map_or(0, Vec::len);
    let wanted = usize::try_from(t.count - current).unwrap_or(0);
    if added.len() != wanted
        || added.iter().any(|r| {
            let mut d = r.clone();
            d.sort_unstable();
            d.dedup();
            d.len() != factor || r.len() != factor || r.iter().any(|b| !live.contains(b))
        })
    {
        let e = CreateError::InvalidAssignment(format!(
            "{wanted} new partitions of {factor} distinct live brokers of {live:?} expected, got {added:?}"
        ));
        return Err((e.code(), e.to_string()));
    }
    if validate_only {
        return Ok(());
    }
    let mut replicas = topic.replicas.clone();
    replicas.extend(added);
    let client = cluster.zk().ok_or_else(|| {
        (
            ResponseError::UnknownServerError.code(),
            "ZooKeeper: not connected".to_string(),
        )
    })?;
    let z = TopicZnode::new(&replicas, topic.id);
    let data = serde_json::to_vec(&z).unwrap_or_default();
    match client
        .set_data(&znodes::topic_path(name), &data, Some(topic.version))
        .await
    {
        Ok(_) => {
            tracing::info!("topic {name} grown to {} partitions: {replicas:?}", t.count);
            Ok(())
        }
        Err(zk::Error::BadVersion) => Err((
            ResponseError::UnknownServerError.code(),
            format!("topic {name} changed meanwhile; try again"),
        )),
        Err(zk::Error::NoNode) => {
            let e = TopicError::Unknown;
            Err((e.code(), e.to_string()))
        }
        Err(e) => Err((
            ResponseError::UnknownServerError.code(),
            format!("ZooKeeper: {e}"),
        )),
    }
}

/// DeleteTopics in cluster mode: a request under `/admin/delete_topics` for the controller,
/// then a bounded wait until the topic is gone.
pub(crate) async fn delete_topics(
    session: &Session,
    cluster: &Cluster,
    version: i16,
    request: DeleteTopicsRequest,
) -> DeleteTopicsResponse {
    let broker = &session.broker;
    let timeout = Duration::from_millis(request.timeout_ms.clamp(0, 30_000).unsigned_abs().into());
    let asked = crate::api::delete_topics::asked_topics(version, request);
    let view = cluster.view();
    let mut response = DeleteTopicsResponse::default();
    let mut deleting = Vec::new();
    for (name, id) in asked {
        let mut r = DeletableTopicResult::default();
        let found = match &name {
            Some(n) => view.topics.get(n.as_str()).map(|t| (n.to_string(), t.id)),
            None => view
                .topics
                .iter()
                .find(|(_, t)| t.id == id)
                .map(|(n, t)| (n.clone(), t.id)),
        };
        let outcome = match found {
            None => Err(TopicError::Unknown.code()),
            Some(_) if !broker.config.delete_topic_enable => {
                Err(TopicError::DeletionDisabled.code())
            }
            Some((n, tid)) => request_deletion(cluster, &n).await.map(|()| (n, tid)),
        };
        match outcome {
            Ok((n, tid)) => {
                if let Err(e) = broker.groups.offsets.forget_topic(&n) {
                    tracing::warn!("offsets of deleted topic {n} kept: {e}");
                }
                r.name = Some(TopicName(text(&n)));
                r.topic_id = tid;
                deleting.push(n);
            }
            Err(code) => {
                r.error_code = code;
                r.error_message = ResponseError::try_from_code(code).map(|e| text(&e.to_string()));
                r.name = name;
                r.topic_id = id;
            }
        }
        response.responses.push(r);
    }
    wait_until(cluster, timeout, |v| {
        deleting.iter().all(|n| !v.topics.contains_key(n))
    })
    .await;
    response
}

async fn request_deletion(cluster: &Cluster, name: &str) -> Result<(), i16> {
    let client = cluster
        .zk()
        .ok_or(ResponseError::UnknownServerError.code())?;
    match client
        .create(
            &format!("{}/{name}", znodes::DELETE_TOPICS),
            b"",
            &persistent(),
        )
        .await
    {
        Ok(_) | Err(zk::Error::NodeExists) => Ok(()),
        Err(e) => {
            tracing::warn!("cannot request the deletion of {name}: {e}");
            Err(ResponseError::UnknownServerError.code())
        }
    }
}

/// The cluster of the broker, for handlers that take a different path in cluster mode.
pub(crate) fn of(session: &Session) -> Option<Arc<Cluster>> {
    session.broker.cluster.clone()
}
