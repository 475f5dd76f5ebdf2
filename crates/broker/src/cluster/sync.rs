//! One round of cluster work, run by every broker as soon as a ZooKeeper watch fires (and every
//! [`super::SAFETY_POLL`] anyway): read the cluster state from ZooKeeper, let the controller (if
//! this broker is it) act on it, then apply it here: local logs for every topic, a leader or
//! follower role per partition, ISR maintenance on the partitions led here.

use std::sync::Arc;

use zookeeper_client as zk;

use super::watches::Watches;
use super::znodes::{self, ControllerZnode, PartitionStateZnode, Registration, TopicConfigZnode};
use super::{Cluster, PartitionKey, Role, TopicView, View, controller, fetcher, leader};
use crate::broker::Broker;
use crate::topics::Topic;

/// Reads the state, runs the controller's duties if elected here, and applies the state.
pub(crate) async fn once(cluster: &Arc<Cluster>, broker: &Arc<Broker>) -> Result<(), zk::Error> {
    let client = cluster.zk().ok_or(zk::Error::SessionExpired)?;
    let mut view = read_view(&cluster.watches, &client).await?;
    if controller::step(cluster, &client, &mut view).await? {
        view = read_view(&cluster.watches, &client).await?;
    }
    cluster.set_view(view.clone());
    apply(cluster, broker, &view);
    leader::maintain_isr(cluster, &client).await;
    Ok(())
}

/// Reads brokers, controller, topics, their configs and partition states, leaving a watch on
/// each (see [`Watches`]).
pub(crate) async fn read_view(watches: &Watches, client: &zk::Client) -> Result<View, zk::Error> {
    let mut view = View::default();
    for id in watches.children(client, znodes::BROKER_IDS).await? {
        let Ok(n) = id.parse::<i32>() else { continue };
        // A registration's data never changes: the children's watch sees it come and go.
        match client.get_data(&znodes::broker_path(n)).await {
            Ok((data, _)) => match serde_json::from_slice::<Registration>(&data) {
                Ok(r) => {
                    view.brokers.insert(n, r.parsed_endpoints());
                }
                Err(e) => {
                    tracing::warn!("{}: unreadable registration: {e}", znodes::broker_path(n))
                }
            },
            Err(zk::Error::NoNode) => {}
            Err(e) => return Err(e),
        }
    }
    view.controller = watches
        .data(client, znodes::CONTROLLER)
        .await?
        .and_then(|data| serde_json::from_slice::<ControllerZnode>(&data).ok())
        .map(|c| c.brokerid);
    for name in watches.children(client, znodes::TOPICS).await? {
        if let Some(topic) = read_topic(watches, client, &name).await? {
            view.topics.insert(name, topic);
        }
    }
    Ok(view)
}

async fn read_topic(
    watches: &Watches,
    client: &zk::Client,
    name: &str,
) -> Result<Option<TopicView>, zk::Error> {
    let path = znodes::topic_path(name);
    let Some((data, stat)) = watches.data_and_stat(client, &path).await? else {
        return Ok(None);
    };
    let parsed = serde_json::from_slice::<znodes::TopicZnode>(&data);
    let Some((z, replicas)) = parsed.ok().and_then(|z| z.replicas().map(|r| (z, r))) else {
        tracing::warn!("{path}: not a Kafka topic assignment; ignored");
        return Ok(None);
    };
    let configs = watches
        .data(client, &format!("{}/{name}", znodes::CONFIG_TOPICS))
        .await?
        .map(|data| {
            serde_json::from_slice::<TopicConfigZnode>(&data)
                .map(|c| c.config)
                .unwrap_or_default()
        })
        .unwrap_or_default();
    let mut states = Vec::with_capacity(replicas.len());
    for p in 0..replicas.len() {
        let p = i32::try_from(p).unwrap_or(i32::MAX);
        let state = watches
            .data_and_stat(client, &znodes::state_path(name, p))
            .await?;
        states.push(state.and_then(|(data, stat)| {
            serde_json::from_slice::<PartitionStateZnode>(&data)
                .ok()
                .map(|s| (s, stat.version))
        }));
    }
    Ok(Some(TopicView {
        id: z.id().unwrap_or_default(),
        replicas,
        states,
        configs,
        version: stat.version,
    }))
}

/// Makes the local logs and roles match `view`.
fn apply(cluster: &Arc<Cluster>, broker: &Arc<Broker>, view: &View) {
    for (name, topic) in &view.topics {
        if topic.id.is_nil() {
            continue; // the controller gives it an id first, so that every broker agrees
        }
        let Some(local) = local_topic(broker, name, topic) else {
            continue;
        };
        for (index, replicas) in topic.replicas.iter().enumerate() {
            let p = i32::try_from(index).unwrap_or(i32::MAX);
            let key: PartitionKey = (name.clone(), p);
            let state = topic
                .states
                .get(index)
                .and_then(Option::as_ref)
                .filter(|_| replicas.contains(&cluster.me));
            match state {
                Some((s, version)) if s.leader == cluster.me => {
                    leader::become_leader(cluster, &local, key, s, *version);
                }
                Some((s, _)) if s.leader >= 0 => become_follower(cluster, broker, &local, key, s),
                _ => drop_role(cluster, &key),
            }
        }
    }
    // Topics gone from ZooKeeper (deleted by the controller): their logs go too.
    let gone: Vec<String> = broker
        .topics
        .all()
        .iter()
        .filter(|t| !t.id.is_nil() && !view.topics.contains_key(&t.name))
        .filter(|t| cluster.known_topic(&t.name))
        .map(|t| t.name.clone())
        .collect();
    for name in gone {
        let keys: Vec<PartitionKey> = cluster
            .roles()
            .keys()
            .filter(|(t, _)| *t == name)
            .cloned()
            .collect();
        for k in keys {
            drop_role(cluster, &k);
        }
        if let Err(e) = broker.topics.delete(&name) {
            tracing::warn!("cannot delete the local log of topic {name}: {e}");
        }
        cluster.forget_topic(&name);
    }
}

/// The local topic for `view`, created (or re-created when its id differs) as needed.
fn local_topic(broker: &Broker, name: &str, view: &TopicView) -> Option<Arc<Topic>> {
    let cluster = broker.cluster.as_ref()?;
    if let Some(t) = broker.topics.get(name) {
        if t.id == view.id {
            // A partition count that differs is never fixed by deleting data: partitions
            // added in ZooKeeper (CreatePartitions) get their local logs; otherwise the
            // partitions both sides know are served, the others wait.
            let t = if t.partitions.len() < view.replicas.len() {
                let total = i32::try_from(view.replicas.len()).unwrap_or(i32::MAX);
                match broker.topics.add_partitions(name, total) {
                    Ok(grown) => grown,
                    Err(e) => {
                        tracing::warn!("topic {name}: cannot add partitions up to {total}: {e}");
                        t
                    }
                }
            } else {
                t
            };
            if t.partitions.len() != view.replicas.len() {
                tracing::warn!(
                    "topic {name}: {} partitions here, {} in ZooKeeper",
                    t.partitions.len(),
                    view.replicas.len()
                );
            }
            cluster.remember_topic(name);
            return Some(t);
        }
        tracing::info!("topic {name}: the local log belongs to an older topic; replacing it");
        if let Err(e) = broker.topics.delete(name) {
            tracing::warn!("topic {name}: {e}");
            return None;
        }
    }
    let partitions = i32::try_from(view.replicas.len()).unwrap_or(i32::MAX);
    match broker
        .topics
        .create_replica(name, view.id, partitions, view.configs.clone())
    {
        Ok(t) => {
            cluster.remember_topic(name);
            Some(t)
        }
        Err(e) => {
            tracing::warn!("topic {name}: cannot create the local log: {e}");
            None
        }
    }
}

fn become_follower(
    cluster: &Arc<Cluster>,
    broker: &Arc<Broker>,
    topic: &Topic,
    key: PartitionKey,
    state: &PartitionStateZnode,
) {
    let mut roles = cluster.roles();
    if let Some(Role::Follower { leader, epoch, .. }) = roles.get(&key)
        && *leader == state.leader
        && *epoch == state.leader_epoch
    {
        return;
    }
    let Some(partition) = topic.partition(key.1).cloned() else {
        return;
    };
    if let Some(Role::Follower { stop, .. }) = roles.remove(&key) {
        stop.cancel();
    }
    partition.lock().leader_epoch = state.leader_epoch;
    let stop = tokio_util::sync::CancellationToken::new();
    tracing::info!(
        "{}-{}: following broker {} at leader epoch {}",
        key.0,
        key.1,
        state.leader,
        state.leader_epoch
    );
    tokio::spawn(fetcher::follow(
        Arc::clone(cluster),
        Arc::clone(broker),
        partition,
        key.clone(),
        state.leader,
        state.leader_epoch,
        stop.clone(),
    ));
    roles.insert(
        key,
        Role::Follower {
            leader: state.leader,
            epoch: state.leader_epoch,
            stop,
        },
    );
    drop(roles);
    cluster.notify_progress();
}

/// Stops whatever this broker did for the partition.
fn drop_role(cluster: &Cluster, key: &PartitionKey) {
    let removed = cluster.roles().remove(key);
    if let Some(Role::Follower { stop, .. }) = removed {
        stop.cancel();
    }
    cluster.notify_progress();
}

/// Stops every fetcher (at shutdown).
pub(crate) fn stop_all(cluster: &Cluster) {
    for (_, role) in cluster.roles().drain() {
        if let Role::Follower { stop, .. } = role {
            stop.cancel();
        }
    }
    cluster.notify_progress();
}
