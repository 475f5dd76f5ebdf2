//! Consumer groups in a cluster. Each group has one coordinator, the same answer from every
//! broker: the live brokers sorted by id, indexed by the group id's Java `hashCode` (as Kafka
//! picks the `__consumer_offsets` partition whose leader coordinates). Group requests reaching
//! another broker get NOT_COORDINATOR, so clients look the coordinator up again after a
//! broker loss.
//!
//! Committed offsets must survive the coordinator's loss. Instead of a replicated internal
//! topic they live in ZooKeeper, where Kafka 0.8 kept them: `/consumers/<group>/offsets/
//! <topic>/<partition>` holds the offset as text. A commit is written there before it is
//! answered; a coordinator loads a group's offsets from there before answering OffsetFetch.

use kafka_protocol::ResponseError;
use zookeeper_client as zk;

use super::Cluster;
use super::session::persistent;
use super::znodes::Endpoint;
use crate::broker::Broker;
use crate::groups::offsets::Committed;

/// Java's `String.hashCode` (UTF-16 code units).
fn java_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
}

/// The coordinator of `group` and its endpoint on `listener`; None standalone (this broker).
pub(crate) fn coordinator(broker: &Broker, group: &str, listener: &str) -> Option<(i32, Endpoint)> {
    let cluster = broker.cluster.as_ref()?;
    cluster.with_view(|v| {
        let ids: Vec<i32> = v.brokers.keys().copied().collect();
        let n = i32::try_from(ids.len()).ok().filter(|n| *n > 0)?;
        let index = usize::try_from(java_hash(group).rem_euclid(n)).ok()?;
        let id = *ids.get(index)?;
        Some((id, v.endpoint(id, listener)?.clone()))
    })
}

/// NOT_COORDINATOR when another broker coordinates `group`.
pub(crate) fn check_coordinator(broker: &Broker, group: &str) -> Result<(), i16> {
    let Some(cluster) = &broker.cluster else {
        return Ok(());
    };
    let listener = cluster.inter_broker_listener.clone();
    match coordinator(broker, group, &listener) {
        Some((id, _)) if id != cluster.me => Err(ResponseError::NotCoordinator.code()),
        _ => Ok(()),
    }
}

fn offset_path(group: &str, topic: &str, partition: i32) -> String {
    format!("/consumers/{group}/offsets/{topic}/{partition}")
}

/// Writes `commits` to ZooKeeper (nothing standalone).
pub(crate) async fn commit(
    broker: &Broker,
    group: &str,
    commits: &[(String, i32, Committed)],
) -> Result<(), zk::Error> {
    let Some(cluster) = &broker.cluster else {
        return Ok(());
    };
    let client = cluster.zk().ok_or(zk::Error::ConnectionLoss)?;
    for (topic, partition, c) in commits {
        let path = offset_path(group, topic, *partition);
        let data = c.offset.to_string();
        match client.set_data(&path, data.as_bytes(), None).await {
            Ok(_) => {}
            Err(zk::Error::NoNode) => {
                match client
                    .mkdir(
                        &format!("/consumers/{group}/offsets/{topic}"),
                        &persistent(),
                    )
                    .await
                {
                    Ok(()) | Err(zk::Error::NodeExists) => {}
                    Err(e) => return Err(e),
                }
                match client.create(&path, data.as_bytes(), &persistent()).await {
                    Ok(_) => {}
                    Err(zk::Error::NodeExists) => {
                        client.set_data(&path, data.as_bytes(), None).await?;
                    }
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Loads the offsets ZooKeeper holds for `groups` into the local store (newer than what a
/// broker that was not the coordinator meanwhile has).
pub(crate) async fn load(broker: &Broker, groups: &[String]) {
    let Some(cluster) = &broker.cluster else {
        return;
    };
    for group in groups {
        match read_group(cluster, group).await {
            Ok(found) if !found.is_empty() => {
                if let Err(e) = broker.groups.offsets.commit(group, found) {
                    tracing::warn!(
                        "group {group}: cannot keep the offsets read from ZooKeeper: {e}"
                    );
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("group {group}: cannot read offsets from ZooKeeper: {e}"),
        }
    }
}

async fn read_group(
    cluster: &Cluster,
    group: &str,
) -> Result<Vec<(String, i32, Committed)>, zk::Error> {
    let client = cluster.zk().ok_or(zk::Error::ConnectionLoss)?;
    let base = format!("/consumers/{group}/offsets");
    let topics = match client.list_children(&base).await {
        Ok(t) => t,
        Err(zk::Error::NoNode) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for topic in topics {
        let partitions = match client.list_children(&format!("{base}/{topic}")).await {
            Ok(p) => p,
            Err(zk::Error::NoNode) => continue,
            Err(e) => return Err(e),
        };
        for p in partitions {
            let Ok(partition) = p.parse::<i32>() else {
                continue;
            };
            let data = match client
                .get_data(&offset_path(group, &topic, partition))
                .await
            {
                Ok((d, _)) => d,
                Err(zk::Error::NoNode) => continue,
                Err(e) => return Err(e),
            };
            if let Ok(offset) = String::from_utf8_lossy(&data).trim().parse::<i64>() {
                out.push((
                    topic.clone(),
                    partition,
                    Committed {
                        offset,
                        leader_epoch: -1,
                        metadata: Some(String::new()),
                    },
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_like_java() {
        assert_eq!(java_hash(""), 0);
        assert_eq!(java_hash("test"), 3_556_498);
        assert_eq!(
            java_hash("console-consumer-12345"),
            "console-consumer-12345"
                .encode_utf16()
                .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
        );
    }
}
