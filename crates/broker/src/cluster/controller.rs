//! The controller: one broker wins the ephemeral `/controller` (bumping `/controller_epoch`),
//! another takes over when its session goes. Each round it
//! - carries out deletions requested under `/admin/delete_topics`,
//! - gives a topic id to an assignment written without one (as `kafka-topics.sh --zookeeper`
//!   writes them),
//! - writes the first leader and ISR of new partitions (the first live replica leads, the live
//!   replicas are the ISR),
//! - on a dead leader, elects the first replica (in assignment order) that is alive and in the
//!   ISR, bumping the leader epoch; with none, the partition goes offline (leader -1, no
//!   unclean election) until an ISR member returns,
//! - removes dead brokers from the ISRs of partitions whose leader lives.
//!
//! Every write is conditional on the version read, so a leader's concurrent ISR change is never
//! lost: the loser reads again next round.

use zookeeper_client as zk;

use super::session::{ensure, ephemeral};
use super::znodes::{self, ControllerZnode, PartitionStateZnode, TopicZnode};
use super::{Cluster, View};

/// Runs one controller round if this broker is (or becomes) the controller. True when it
/// changed ZooKeeper, so the caller reads it again.
pub(crate) async fn step(
    cluster: &Cluster,
    client: &zk::Client,
    view: &mut View,
) -> Result<bool, zk::Error> {
    let Some(epoch) = elect(cluster, client, view).await? else {
        return Ok(false);
    };
    let mut changed = delete_requested(cluster, client).await?;
    for (name, topic) in &view.topics {
        if topic.id.is_nil() {
            let z = TopicZnode::new(&topic.replicas, uuid::Uuid::new_v4());
            let data = serde_json::to_vec(&z).unwrap_or_default();
            match client
                .set_data(&znodes::topic_path(name), &data, Some(topic.version))
                .await
            {
                Ok(_) => tracing::info!("controller: topic {name} gets id {:?}", z.topic_id),
                Err(zk::Error::BadVersion | zk::Error::NoNode) => {}
                Err(e) => return Err(e),
            }
            changed = true;
            continue;
        }
        for (index, replicas) in topic.replicas.iter().enumerate() {
            let p = i32::try_from(index).unwrap_or(i32::MAX);
            let current = topic.states.get(index).and_then(Option::as_ref);
            let live: Vec<i32> = replicas
                .iter()
                .copied()
                .filter(|r| view.brokers.contains_key(r))
                .collect();
            let path = znodes::state_path(name, p);
            match current {
                None => {
                    let Some(&first) = live.first() else { continue };
                    let state = PartitionStateZnode {
                        controller_epoch: epoch,
                        leader: first,
                        version: 1,
                        leader_epoch: 0,
                        isr: live.clone(),
                    };
                    let parent = format!("{}/partitions", znodes::topic_path(name));
                    ensure(client, &parent, b"").await?;
                    ensure(client, &format!("{parent}/{p}"), b"").await?;
                    let data = serde_json::to_vec(&state).unwrap_or_default();
                    match client
                        .create(&path, &data, &super::session::persistent())
                        .await
                    {
                        Ok(_) | Err(zk::Error::NodeExists) => {}
                        Err(e) => return Err(e),
                    }
                    tracing::info!("controller: {name}-{p} led by {first}, ISR {live:?}");
                    changed = true;
                }
                Some((state, version)) => {
                    let Some(next) = next_state(state, replicas, &live, epoch) else {
                        continue;
                    };
                    let data = serde_json::to_vec(&next).unwrap_or_default();
                    match client.set_data(&path, &data, Some(*version)).await {
                        Ok(_) => {
                            tracing::info!(
                                "controller: {name}-{p} leader {} → {} (epoch {}), ISR {:?}",
                                state.leader,
                                next.leader,
                                next.leader_epoch,
                                next.isr
                            );
                            changed = true;
                        }
                        Err(zk::Error::BadVersion | zk::Error::NoNode) => changed = true,
                        Err(e) => return Err(e),
                    }
                }
            }
        }
    }
    Ok(changed)
}

/// The state a partition should move to given the live replicas, or None to leave it.
pub(crate) fn next_state(
    state: &PartitionStateZnode,
    replicas: &[i32],
    live: &[i32],
    controller_epoch: i32,
) -> Option<PartitionStateZnode> {
    let isr_live: Vec<i32> = state
        .isr
        .iter()
        .copied()
        .filter(|r| live.contains(r))
        .collect();
    if live.contains(&state.leader) {
        // The leader lives: only drop dead brokers from the ISR (the leader manages the rest).
        return (isr_live != state.isr).then(|| PartitionStateZnode {
            controller_epoch,
            isr: isr_live,
            ..state.clone()
        });
    }
    match replicas.iter().find(|r| isr_live.contains(r)) {
        Some(&leader) => Some(PartitionStateZnode {
            controller_epoch,
            leader,
            version: 1,
            leader_epoch: state.leader_epoch + 1,
            isr: isr_live,
        }),
        None if state.leader != -1 => Some(PartitionStateZnode {
            controller_epoch,
            leader: -1,
            version: 1,
            leader_epoch: state.leader_epoch + 1,
            isr: state.isr.clone(),
        }),
        None => None,
    }
}

/// Becomes the controller if none is; returns the controller epoch when this broker is it.
async fn elect(
    cluster: &Cluster,
    client: &zk::Client,
    view: &mut View,
) -> Result<Option<i32>, zk::Error> {
    let mine = client.session_id().0;
    if view.controller.is_none() {
        let z = ControllerZnode {
            version: 1,
            brokerid: cluster.me,
            timestamp: znodes::timestamp(),
        };
        let data = serde_json::to_vec(&z).unwrap_or_default();
        match client.create(znodes::CONTROLLER, &data, &ephemeral()).await {
            Ok(_) => {
                let epoch = bump_epoch(client).await?;
                tracing::info!(
                    "[Controller id={}] elected controller, epoch {epoch}",
                    cluster.me
                );
                view.controller = Some(cluster.me);
                return Ok(Some(epoch));
            }
            Err(zk::Error::NodeExists) => return Ok(None),
            Err(e) => return Err(e),
        }
    }
    if view.controller != Some(cluster.me) {
        return Ok(None);
    }
    // A `/controller` naming this broker may be a previous process's, not yet expired.
    match client.get_data(znodes::CONTROLLER).await {
        Ok((_, stat)) if stat.ephemeral_owner == mine => {}
        Ok(_) | Err(zk::Error::NoNode) => return Ok(None),
        Err(e) => return Err(e),
    }
    let (data, _) = client.get_data(znodes::CONTROLLER_EPOCH).await?;
    Ok(String::from_utf8_lossy(&data).trim().parse().ok())
}

/// Increments `/controller_epoch` (creating it at 1).
async fn bump_epoch(client: &zk::Client) -> Result<i32, zk::Error> {
    loop {
        match client.get_data(znodes::CONTROLLER_EPOCH).await {
            Err(zk::Error::NoNode) => {
                match client
                    .create(
                        znodes::CONTROLLER_EPOCH,
                        b"1",
                        &super::session::persistent(),
                    )
                    .await
                {
                    Ok(_) => return Ok(1),
                    Err(zk::Error::NodeExists) => continue,
                    Err(e) => return Err(e),
                }
            }
            Ok((data, stat)) => {
                let next = String::from_utf8_lossy(&data)
                    .trim()
                    .parse::<i32>()
                    .unwrap_or(0)
                    .saturating_add(1);
                match client
                    .set_data(
                        znodes::CONTROLLER_EPOCH,
                        next.to_string().as_bytes(),
                        Some(stat.version),
                    )
                    .await
                {
                    Ok(_) => return Ok(next),
                    Err(zk::Error::BadVersion) => continue,
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// Deletes the topics named under `/admin/delete_topics` (assignment, states, config, request).
async fn delete_requested(cluster: &Cluster, client: &zk::Client) -> Result<bool, zk::Error> {
    let names = cluster
        .watches
        .children(client, znodes::DELETE_TOPICS)
        .await?;
    for name in &names {
        delete_tree(client, &znodes::topic_path(name)).await?;
        delete_tree(client, &format!("{}/{name}", znodes::CONFIG_TOPICS)).await?;
        delete_tree(client, &format!("{}/{name}", znodes::DELETE_TOPICS)).await?;
        tracing::info!("controller: deleted topic {name}");
    }
    Ok(!names.is_empty())
}

/// Deletes `path` and everything under it (absent is fine).
async fn delete_tree(client: &zk::Client, path: &str) -> Result<(), zk::Error> {
    let mut stack = vec![path.to_string()];
    let mut order = Vec::new();
    while let Some(p) = stack.pop() {
        match client.list_children(&p).await {
            Ok(children) => stack.extend(children.into_iter().map(|c| format!("{p}/{c}"))),
            Err(zk::Error::NoNode) => continue,
            Err(e) => return Err(e),
        }
        order.push(p);
    }
    for p in order.iter().rev() {
        match client.delete(p, None).await {
            Ok(()) | Err(zk::Error::NoNode) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(leader: i32, epoch: i32, isr: &[i32]) -> PartitionStateZnode {
        PartitionStateZnode {
            controller_epoch: 1,
            leader,
            version: 1,
            leader_epoch: epoch,
            isr: isr.to_vec(),
        }
    }

    #[test]
    fn a_dead_leader_is_replaced_from_the_isr_with_a_new_epoch() {
        let next = next_state(&state(1, 4, &[1, 2, 3]), &[1, 2, 3], &[2, 3], 2).unwrap();
        assert_eq!(
            (next.leader, next.leader_epoch, next.isr),
            (2, 5, vec![2, 3])
        );
    }

    #[test]
    fn a_replica_out_of_the_isr_never_leads() {
        let next = next_state(&state(1, 0, &[1, 3]), &[1, 2, 3], &[2, 3], 2).unwrap();
        assert_eq!(next.leader, 3);
        let offline = next_state(&state(1, 0, &[1]), &[1, 2, 3], &[2, 3], 2).unwrap();
        assert_eq!((offline.leader, offline.isr.clone()), (-1, vec![1]));
        assert_eq!(next_state(&offline, &[1, 2, 3], &[2, 3], 2), None);
        let back = next_state(&offline, &[1, 2, 3], &[1, 2, 3], 2).unwrap();
        assert_eq!((back.leader, back.leader_epoch), (1, 2));
    }

    #[test]
    fn dead_followers_leave_the_isr_without_a_leader_change() {
        let next = next_state(&state(1, 3, &[1, 2, 3]), &[1, 2, 3], &[1, 2], 2).unwrap();
        assert_eq!(
            (next.leader, next.leader_epoch, next.isr),
            (1, 3, vec![1, 2])
        );
        assert_eq!(
            next_state(&state(1, 3, &[1, 2]), &[1, 2, 3], &[1, 2], 2),
            None
        );
    }
}
