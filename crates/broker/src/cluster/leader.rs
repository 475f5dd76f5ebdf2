//! A partition's leader: what each follower has fetched, the high watermark, and the ISR.
//!
//! - A follower's fetch offset is its log end. It is *caught up* at a fetch whose offset
//!   reaches the leader's log end, or the log end the leader had at that follower's previous
//!   fetch (Kafka's rule, so a follower of a busy partition that is never exactly at the end
//!   still counts as caught up).
//! - The high watermark is the smallest log end among the ISR (the leader's included); it only
//!   moves forward, and a follower whose position is not known yet holds it back.
//! - Every round, a follower of the ISR not caught up for `replica.lag.time.max.ms` leaves
//!   it, and one outside whose log end has reached the high watermark (and the start of the
//!   current leader epoch) joins it: the leader writes the state znode, conditionally on its
//!   version.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use zookeeper_client as zk;

use super::znodes::{self, PartitionStateZnode};
use super::{Cluster, PartitionKey, Role};
use crate::topics::{Partition, Topic};

/// One follower's progress.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Progress {
    /// Its log end (the offset of its last fetch).
    pub(crate) log_end: i64,
    /// The last time it was caught up.
    pub(crate) caught_up: Instant,
    /// The leader's log end at its previous fetch.
    last_fetch_leader_end: i64,
    /// When that fetch came.
    last_fetch: Instant,
}

/// The leader's side of one partition.
#[derive(Debug)]
pub(crate) struct LeaderState {
    /// The leader epoch led.
    pub(crate) epoch: i32,
    /// The log end when this epoch started (a joining follower must have reached it).
    epoch_start: i64,
    /// When leadership began (followers of the ISR count as caught up then).
    since: Instant,
    /// The ISR as last written.
    pub(crate) isr: Vec<i32>,
    /// All replicas.
    replicas: Vec<i32>,
    /// Version of the state znode.
    zk_version: i32,
    /// Followers' progress.
    followers: HashMap<i32, Progress>,
    /// The partition.
    partition: Arc<Partition>,
}

/// Takes (or keeps) the leadership of `key` as `state` says.
pub(crate) fn become_leader(
    cluster: &Cluster,
    topic: &Topic,
    key: PartitionKey,
    state: &PartitionStateZnode,
    zk_version: i32,
) {
    let replicas = cluster.with_view(|v| {
        v.topics
            .get(&key.0)
            .and_then(|t| usize::try_from(key.1).ok().and_then(|i| t.replicas.get(i)))
            .cloned()
            .unwrap_or_default()
    });
    let mut roles = cluster.roles();
    if let Some(Role::Leader(l)) = roles.get_mut(&key)
        && l.epoch == state.leader_epoch
    {
        if zk_version > l.zk_version {
            // A follower taken out (by the controller, on its loss) must fetch again to return.
            l.followers.retain(|r, _| state.isr.contains(r));
            l.isr.clone_from(&state.isr);
            l.zk_version = zk_version;
        }
        return;
    }
    let Some(partition) = topic.partition(key.1).cloned() else {
        return;
    };
    if let Some(Role::Follower { stop, .. }) = roles.remove(&key) {
        stop.cancel();
    }
    let epoch_start = {
        let mut p = partition.lock();
        p.leader_epoch = state.leader_epoch;
        if let Err(e) = p.log.assign_epoch(state.leader_epoch) {
            tracing::warn!("{}-{}: cannot record the leader epoch: {e}", key.0, key.1);
        }
        p.log.log_end_offset()
    };
    tracing::info!(
        "{}-{}: leader at epoch {} (log end {epoch_start}), ISR {:?}",
        key.0,
        key.1,
        state.leader_epoch,
        state.isr
    );
    roles.insert(
        key,
        Role::Leader(LeaderState {
            epoch: state.leader_epoch,
            epoch_start,
            since: Instant::now(),
            isr: state.isr.clone(),
            replicas,
            zk_version,
            followers: HashMap::new(),
            partition,
        }),
    );
    drop(roles);
    advance_high_watermark(cluster, &(String::new(), -1));
    cluster.notify_progress();
}

/// Records a follower's fetch at `offset` (before it is answered, so the answer carries the
/// high watermark this fetch allows).
pub(crate) fn follower_fetched(cluster: &Cluster, key: &PartitionKey, replica: i32, offset: i64) {
    let now = Instant::now();
    {
        let mut roles = cluster.roles();
        let Some(Role::Leader(l)) = roles.get_mut(key) else {
            return;
        };
        let leader_end = l.partition.lock().log.log_end_offset();
        let p = l.followers.entry(replica).or_insert(Progress {
            log_end: offset,
            caught_up: l.since,
            last_fetch_leader_end: -1,
            last_fetch: now,
        });
        p.log_end = offset;
        if offset >= leader_end {
            p.caught_up = now;
        } else if offset >= p.last_fetch_leader_end && p.last_fetch_leader_end >= 0 {
            p.caught_up = p.caught_up.max(p.last_fetch);
        }
        p.last_fetch_leader_end = leader_end;
        p.last_fetch = now;
    }
    advance_high_watermark(cluster, key);
}

/// Moves the high watermark of `key` (or of every led partition when `key.1` is -1) to the
/// smallest log end of the ISR; wakes waiters when it moved.
pub(crate) fn advance_high_watermark(cluster: &Cluster, key: &PartitionKey) {
    let mut moved = false;
    {
        let roles = cluster.roles();
        let all = key.1 < 0;
        for (k, role) in roles.iter() {
            if !all && k != key {
                continue;
            }
            let Role::Leader(l) = role else { continue };
            moved |= l.advance(cluster.me);
        }
    }
    if moved {
        cluster.notify_progress();
    }
}

impl LeaderState {
    /// Recomputes the high watermark; true when it moved.
    fn advance(&self, me: i32) -> bool {
        let mut state = self.partition.lock();
        let mut hw = state.log.log_end_offset();
        for r in self.isr.iter().filter(|r| **r != me) {
            match self.followers.get(r) {
                Some(p) => hw = hw.min(p.log_end),
                None => return false,
            }
        }
        if hw > state.log.high_watermark() {
            state.log.set_high_watermark(hw);
            true
        } else {
            false
        }
    }

    /// The ISR this round should write: laggards out, caught-up followers in (only registered
    /// brokers: a stopped one is not brought back by its last fetches).
    fn wanted_isr(&self, me: i32, lag_max: std::time::Duration, live: &[i32]) -> Vec<i32> {
        let now = Instant::now();
        let hw = self.partition.lock().log.high_watermark();
        let mut isr: Vec<i32> = self
            .isr
            .iter()
            .copied()
            .filter(|r| {
                *r == me
                    || now.duration_since(self.followers.get(r).map_or(self.since, |p| p.caught_up))
                        <= lag_max
            })
            .collect();
        for r in &self.replicas {
            if isr.contains(r) || *r == me || !live.contains(r) {
                continue;
            }
            if let Some(p) = self.followers.get(r)
                && p.log_end >= hw
                && p.log_end >= self.epoch_start
                && now.duration_since(p.caught_up) <= lag_max
            {
                isr.push(*r);
            }
        }
        if !isr.contains(&me) {
            isr.insert(0, me);
        }
        isr
    }
}

/// Writes the ISR changes of every partition led here.
pub(crate) async fn maintain_isr(cluster: &Cluster, client: &zk::Client) {
    let live: Vec<i32> = cluster.with_view(|v| v.brokers.keys().copied().collect());
    let changes: Vec<(PartitionKey, PartitionStateZnode, i32)> = {
        let roles = cluster.roles();
        roles
            .iter()
            .filter_map(|(k, role)| {
                let Role::Leader(l) = role else { return None };
                let wanted = l.wanted_isr(cluster.me, cluster.lag_max, &live);
                let mut sorted_old = l.isr.clone();
                sorted_old.sort_unstable();
                let mut sorted_new = wanted.clone();
                sorted_new.sort_unstable();
                (sorted_old != sorted_new).then(|| {
                    (
                        k.clone(),
                        PartitionStateZnode {
                            controller_epoch: 0,
                            leader: cluster.me,
                            version: 1,
                            leader_epoch: l.epoch,
                            isr: wanted,
                        },
                        l.zk_version,
                    )
                })
            })
            .collect()
    };
    for (key, mut state, version) in changes {
        let controller_epoch = cluster.with_view(|v| {
            v.topics
                .get(&key.0)
                .and_then(|t| t.state(key.1))
                .map_or(0, |s| s.controller_epoch)
        });
        state.controller_epoch = controller_epoch;
        let data = serde_json::to_vec(&state).unwrap_or_default();
        match client
            .set_data(&znodes::state_path(&key.0, key.1), &data, Some(version))
            .await
        {
            Ok(stat) => {
                tracing::info!("{}-{}: ISR now {:?}", key.0, key.1, state.isr);
                if let Some(Role::Leader(l)) = cluster.roles().get_mut(&key)
                    && l.epoch == state.leader_epoch
                {
                    l.isr = state.isr.clone();
                    l.zk_version = stat.version;
                }
                advance_high_watermark(cluster, &key);
            }
            Err(zk::Error::BadVersion | zk::Error::NoNode) => {
                tracing::debug!("{}-{}: state changed meanwhile; next round", key.0, key.1);
            }
            Err(e) => tracing::warn!("{}-{}: cannot write the ISR: {e}", key.0, key.1),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use bytes::{Bytes, BytesMut};
    use kafka_protocol::indexmap::IndexMap;
    use kafka_protocol::records::{
        Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
    };

    use super::*;
    use crate::cluster::{TopicView, View};
    use crate::config::BrokerConfig;
    use crate::topics::Topics;

    /// One uncompressed batch of `n` records.
    fn batch(n: usize) -> Vec<u8> {
        let records: Vec<Record> = (0..n)
            .map(|i| Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: -1,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: TimestampType::Creation,
                offset: i as i64,
                sequence: -1,
                timestamp: 1,
                key: None,
                value: Some(Bytes::from_static(b"v")),
                headers: IndexMap::new(),
            })
            .collect();
        let mut buf = BytesMut::new();
        RecordBatchEncoder::encode(
            &mut buf,
            &records,
            &RecordEncodeOptions {
                version: 2,
                compression: Compression::None,
            },
        )
        .unwrap();
        buf.to_vec()
    }

    /// Broker 1 leading `t`-0 (replicas 1, 2, 3; ISR all three) with an empty log.
    fn leading(dir: &std::path::Path) -> (Arc<Cluster>, Arc<Topic>, PartitionKey) {
        let config = BrokerConfig::parse(
            &format!(
                "broker.id=1\nlog.dirs={}\nzookeeper.connect=127.0.0.1:1\n\
                 replica.lag.time.max.ms=100\n",
                dir.display()
            ),
            "test",
        )
        .unwrap();
        let cluster = Cluster::from_config(&config).unwrap();
        let topic = Topics::open(&config)
            .unwrap()
            .create_replica("t", uuid::Uuid::new_v4(), 1, BTreeMap::new())
            .unwrap();
        let state = PartitionStateZnode {
            controller_epoch: 1,
            leader: 1,
            version: 1,
            leader_epoch: 4,
            isr: vec![1, 2, 3],
        };
        let mut view = View::default();
        view.topics.insert(
            "t".into(),
            TopicView {
                id: topic.id,
                replicas: vec![vec![1, 2, 3]],
                states: vec![Some((state.clone(), 0))],
                ..TopicView::default()
            },
        );
        cluster.set_view(view);
        let key = ("t".to_string(), 0);
        become_leader(&cluster, &topic, key.clone(), &state, 0);
        (cluster, topic, key)
    }

    fn isr_of(cluster: &Cluster, key: &PartitionKey) -> Vec<i32> {
        match cluster.roles().get(key) {
            Some(Role::Leader(l)) => l.isr.clone(),
            _ => panic!("not leader"),
        }
    }

    #[test]
    fn the_high_watermark_is_the_smallest_log_end_of_the_isr() {
        let dir = tempfile::tempdir().unwrap();
        let (cluster, topic, key) = leading(dir.path());
        let p = topic.partition(0).unwrap();
        assert_eq!(p.leader_epoch(), 4);
        p.produce(&batch(3)).unwrap();
        advance_high_watermark(&cluster, &key);
        assert_eq!(p.lock().log.high_watermark(), 0, "followers unknown yet");
        follower_fetched(&cluster, &key, 2, 3);
        assert_eq!(p.lock().log.high_watermark(), 0, "broker 3 has not fetched");
        follower_fetched(&cluster, &key, 3, 2);
        assert_eq!(p.lock().log.high_watermark(), 2);
        follower_fetched(&cluster, &key, 3, 3);
        assert_eq!(p.lock().log.high_watermark(), 3);
        // It never goes back.
        follower_fetched(&cluster, &key, 2, 1);
        assert_eq!(p.lock().log.high_watermark(), 3);
    }

    #[test]
    fn a_silent_follower_leaves_the_isr_and_a_caught_up_live_one_returns() {
        let dir = tempfile::tempdir().unwrap();
        let (cluster, topic, key) = leading(dir.path());
        let p = topic.partition(0).unwrap();
        p.produce(&batch(2)).unwrap();
        follower_fetched(&cluster, &key, 2, 2);
        std::thread::sleep(Duration::from_millis(150));
        follower_fetched(&cluster, &key, 2, 2);
        let wanted = match cluster.roles().get(&key) {
            Some(Role::Leader(l)) => l.wanted_isr(1, cluster.lag_max, &[1, 2, 3]),
            _ => panic!("not leader"),
        };
        assert_eq!(
            wanted,
            vec![1, 2],
            "3 never fetched within replica.lag.time.max.ms"
        );
        if let Some(Role::Leader(l)) = cluster.roles().get_mut(&key) {
            l.isr = wanted;
        }
        // With 3 out, the ISR {1, 2} commits what 2 has.
        advance_high_watermark(&cluster, &key);
        assert_eq!(p.lock().log.high_watermark(), 2);
        // 3 catches up: it returns only while registered.
        follower_fetched(&cluster, &key, 3, 2);
        let (live, dead) = match cluster.roles().get(&key) {
            Some(Role::Leader(l)) => (
                l.wanted_isr(1, cluster.lag_max, &[1, 2, 3]),
                l.wanted_isr(1, cluster.lag_max, &[1, 2]),
            ),
            _ => panic!("not leader"),
        };
        assert_eq!(live, vec![1, 2, 3]);
        assert_eq!(dead, vec![1, 2]);
        assert_eq!(isr_of(&cluster, &key), vec![1, 2]);
    }
}
