//! Where each block lives: the namenode's view of the datanodes (from their heartbeats) and of
//! the replicas of every block the namespace refers to. Rebuilt from block reports after a
//! restart, as in Hadoop; nothing here is journaled.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant};

use crate::namespace::Block;
use crate::protocol::{Heartbeat, HeartbeatReply};

/// A datanode as the namenode knows it.
#[derive(Debug, Clone)]
pub struct Datanode {
    /// Its storage id.
    pub id: String,
    /// `host:port` of its HTTP server.
    pub addr: String,
    /// Last heartbeat.
    pub last_seen: Instant,
    /// When a write or read to it last failed (it is avoided until it heartbeats again).
    pub failed_at: Option<Instant>,
    /// Space figures from its last heartbeat.
    pub capacity: u64,
    /// Bytes of blocks.
    pub used: u64,
    /// Bytes free.
    pub remaining: u64,
    /// Blocks it reported.
    pub blocks: usize,
}

/// A block the namespace refers to.
#[derive(Debug, Clone)]
pub struct BlockInfo {
    /// Its length.
    pub len: u64,
    /// Replicas wanted.
    pub replication: u16,
    /// Storage ids of datanodes holding a replica.
    pub nodes: BTreeSet<String>,
}

/// How long a datanode may stay silent before it counts as dead, and the heartbeat period.
#[derive(Debug, Clone, Copy)]
pub struct Liveness {
    /// Heartbeat period.
    pub heartbeat: Duration,
    /// Silence after which a datanode is dead.
    pub dead_after: Duration,
}

/// The map of datanodes and replicas.
#[derive(Debug)]
pub struct BlockMap {
    liveness: Liveness,
    datanodes: HashMap<String, Datanode>,
    blocks: HashMap<u64, BlockInfo>,
    /// Blocks being written: not in the namespace yet, not to be deleted.
    pending: HashSet<u64>,
    /// Deletions waiting for each datanode's next heartbeat.
    to_delete: HashMap<String, Vec<u64>>,
    /// When the map was built, and whether safe mode is over (it never comes back).
    started: Instant,
    safe_mode_over: bool,
}

/// Share of blocks that must have a reported replica to leave safe mode (Hadoop's
/// `dfs.namenode.safemode.threshold-pct`, 0.999), in thousandths.
const SAFE_MODE_THOUSANDTHS: usize = 999;
/// Safe mode ends after this long anyway, with a warning (a lab must not stay read-only
/// because a datanode's disk is gone; Hadoop would wait for `hdfs dfsadmin -safemode leave`).
const SAFE_MODE_MAX: Duration = Duration::from_secs(30);

impl BlockMap {
    /// A map for the blocks of a freshly loaded namespace, no replica known yet.
    pub fn new(liveness: Liveness, blocks: Vec<(Block, u16)>) -> BlockMap {
        BlockMap {
            liveness,
            datanodes: HashMap::new(),
            blocks: blocks
                .into_iter()
                .map(|(b, replication)| {
                    let info = BlockInfo {
                        len: b.len,
                        replication,
                        nodes: BTreeSet::new(),
                    };
                    (b.id, info)
                })
                .collect(),
            pending: HashSet::new(),
            to_delete: HashMap::new(),
            started: Instant::now(),
            safe_mode_over: false,
        }
    }

    /// True while the namenode waits for datanodes to report the blocks it knows (after a
    /// restart): writes are refused with a SafeModeException meanwhile, as in Hadoop.
    pub fn in_safe_mode(&mut self) -> bool {
        if self.safe_mode_over {
            return false;
        }
        let total = self.blocks.len();
        let reported = self.blocks.values().filter(|b| !b.nodes.is_empty()).count();
        if reported * 1000 >= total * SAFE_MODE_THOUSANDTHS {
            tracing::info!(blocks = total, "leaving safe mode: the blocks are reported");
            self.safe_mode_over = true;
        } else if self.started.elapsed() >= SAFE_MODE_MAX {
            tracing::warn!(
                blocks = total,
                reported,
                "leaving safe mode with blocks missing"
            );
            self.safe_mode_over = true;
        }
        !self.safe_mode_over
    }

    /// True when the datanode heartbeats within the dead interval.
    pub fn is_alive(&self, id: &str, now: Instant) -> bool {
        self.datanodes
            .get(id)
            .is_some_and(|d| now.duration_since(d.last_seen) < self.liveness.dead_after)
    }

    /// True when the datanode is a good target right now: heard from recently and no failure
    /// since its last heartbeat.
    fn is_fresh(&self, d: &Datanode, now: Instant) -> bool {
        let recent = now.duration_since(d.last_seen) < self.liveness.heartbeat * 3;
        let failed = d.failed_at.is_some_and(|f| f >= d.last_seen);
        recent && !failed
    }

    /// Records a heartbeat; returns the blocks the datanode should delete.
    pub fn heartbeat(&mut self, report: Heartbeat, addr: String, now: Instant) -> HeartbeatReply {
        let id = report.storage_id.clone();
        if !self.datanodes.contains_key(&id) {
            tracing::info!(%id, %addr, "datanode registered");
        }
        let failed_at = self.datanodes.get(&id).and_then(|d| d.failed_at);
        self.datanodes.insert(
            id.clone(),
            Datanode {
                id: id.clone(),
                addr,
                last_seen: now,
                failed_at,
                capacity: report.capacity,
                used: report.used,
                remaining: report.remaining,
                blocks: report.blocks.len(),
            },
        );
        let mut delete = self.to_delete.remove(&id).unwrap_or_default();
        let mut reported = HashSet::with_capacity(report.blocks.len());
        for (block, len) in report.blocks {
            reported.insert(block);
            match self.blocks.get_mut(&block) {
                Some(info) if info.len == len => {
                    info.nodes.insert(id.clone());
                }
                _ if self.pending.contains(&block) => {}
                _ => delete.push(block),
            }
        }
        for (block, info) in &mut self.blocks {
            if !reported.contains(block) {
                info.nodes.remove(&id);
            }
        }
        delete.sort_unstable();
        delete.dedup();
        HeartbeatReply { delete }
    }

    /// Marks a datanode as failing (a write or read to it broke).
    pub fn mark_failed(&mut self, id: &str) {
        if let Some(d) = self.datanodes.get_mut(id) {
            d.failed_at = Some(Instant::now());
        }
    }

    /// Chooses up to `n` datanodes for a new replica, least used first, none in `exclude`.
    pub fn choose_targets(&self, n: usize, exclude: &BTreeSet<String>) -> Vec<Datanode> {
        let now = Instant::now();
        let mut fresh: Vec<&Datanode> = self
            .datanodes
            .values()
            .filter(|d| self.is_fresh(d, now) && !exclude.contains(&d.id))
            .collect();
        fresh.sort_by_key(|d| (d.used, d.id.clone()));
        fresh.into_iter().take(n).cloned().collect()
    }

    /// Starts tracking a block being written.
    pub fn begin(&mut self, id: u64) {
        self.pending.insert(id);
    }

    /// Forgets a write that failed (its replicas become orphans, deleted at the next report).
    pub fn abandon(&mut self, ids: &[u64]) {
        for id in ids {
            self.pending.remove(id);
        }
    }

    /// Records the blocks of a committed file with the datanodes that stored them.
    pub fn commit(&mut self, blocks: &[(Block, Vec<String>)], replication: u16) {
        for (block, nodes) in blocks {
            self.pending.remove(&block.id);
            let info = self.blocks.entry(block.id).or_insert_with(|| BlockInfo {
                len: block.len,
                replication,
                nodes: BTreeSet::new(),
            });
            info.nodes.extend(nodes.iter().cloned());
        }
    }

    /// Forgets blocks no file refers to and queues their replicas for deletion.
    pub fn free(&mut self, blocks: &[Block]) {
        for block in blocks {
            if let Some(info) = self.blocks.remove(&block.id) {
                for node in info.nodes {
                    self.to_delete.entry(node).or_default().push(block.id);
                }
            }
        }
    }

    /// Changes the replication wanted for blocks.
    pub fn set_replication(&mut self, blocks: &[Block], replication: u16) {
        for block in blocks {
            if let Some(info) = self.blocks.get_mut(&block.id) {
                info.replication = replication;
            }
        }
    }

    /// The live datanodes holding a block, fresh ones first, as (storage id, address).
    pub fn replicas(&self, block: u64) -> Vec<(String, String)> {
        let now = Instant::now();
        let Some(info) = self.blocks.get(&block) else {
            return Vec::new();
        };
        let mut nodes: Vec<&Datanode> = info
            .nodes
            .iter()
            .filter_map(|id| self.datanodes.get(id))
            .filter(|d| now.duration_since(d.last_seen) < self.liveness.dead_after)
            .collect();
        nodes.sort_by_key(|d| !self.is_fresh(d, now));
        nodes
            .into_iter()
            .map(|d| (d.id.clone(), d.addr.clone()))
            .collect()
    }

    /// Blocks with fewer live replicas than wanted and a datanode to copy them to:
    /// (block, length, source address, target). At most `limit` of them.
    pub fn under_replicated(&self, limit: usize) -> Vec<(u64, u64, String, Datanode)> {
        let now = Instant::now();
        let mut out = Vec::new();
        for (id, info) in &self.blocks {
            if out.len() >= limit {
                break;
            }
            let live: BTreeSet<String> = info
                .nodes
                .iter()
                .filter(|n| self.is_alive(n, now))
                .cloned()
                .collect();
            if live.is_empty() || live.len() >= usize::from(info.replication) {
                continue;
            }
            let Some(source) = self.replicas(*id).into_iter().next() else {
                continue;
            };
            if let Some(target) = self.choose_targets(1, &live).into_iter().next() {
                out.push((*id, info.len, source.1, target));
            }
        }
        out
    }

    /// Drops replicas beyond what a block wants (a dead datanode came back after its blocks were
    /// copied elsewhere): the most used datanodes lose theirs at their next heartbeat. Returns
    /// how many were dropped.
    pub fn trim_over_replicated(&mut self) -> usize {
        let now = Instant::now();
        let mut dropped = 0;
        let mut deletions: Vec<(String, u64)> = Vec::new();
        for (id, info) in &self.blocks {
            let mut live: Vec<&Datanode> = info
                .nodes
                .iter()
                .filter(|n| self.is_alive(n, now))
                .filter_map(|n| self.datanodes.get(n))
                .collect();
            let wanted = usize::from(info.replication);
            if live.len() <= wanted {
                continue;
            }
            live.sort_by_key(|d| std::cmp::Reverse((d.used, d.id.clone())));
            let extra = live.len() - wanted;
            deletions.extend(live.into_iter().take(extra).map(|d| (d.id.clone(), *id)));
        }
        for (node, block) in deletions {
            if let Some(info) = self.blocks.get_mut(&block) {
                info.nodes.remove(&node);
            }
            self.to_delete.entry(node).or_default().push(block);
            dropped += 1;
        }
        dropped
    }

    /// Records a replica copied by re-replication.
    pub fn add_replica(&mut self, block: u64, node: &str) {
        if let Some(info) = self.blocks.get_mut(&block) {
            info.nodes.insert(node.to_string());
        } else {
            // The file went away during the copy: the new replica is an orphan.
            self.to_delete
                .entry(node.to_string())
                .or_default()
                .push(block);
        }
    }

    /// All datanodes, with whether each is alive.
    pub fn datanodes(&self) -> Vec<(Datanode, bool)> {
        let now = Instant::now();
        let mut all: Vec<(Datanode, bool)> = self
            .datanodes
            .values()
            .map(|d| (d.clone(), self.is_alive(&d.id, now)))
            .collect();
        all.sort_by(|a, b| a.0.addr.cmp(&b.0.addr));
        all
    }

    /// Counts for the status page: (blocks, blocks with fewer live replicas than wanted,
    /// blocks with no live replica).
    pub fn block_counts(&self) -> (usize, usize, usize) {
        let now = Instant::now();
        let mut under = 0;
        let mut missing = 0;
        for info in self.blocks.values() {
            let live = info.nodes.iter().filter(|n| self.is_alive(n, now)).count();
            if live == 0 {
                missing += 1;
            } else if live < usize::from(info.replication) {
                under += 1;
            }
        }
        (self.blocks.len(), under, missing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn beat(id: &str, blocks: Vec<(u64, u64)>) -> Heartbeat {
        Heartbeat {
            storage_id: id.into(),
            hostname: None,
            http_port: 1,
            capacity: 100,
            used: 0,
            remaining: 100,
            blocks,
        }
    }

    fn liveness() -> Liveness {
        Liveness {
            heartbeat: Duration::from_secs(3),
            dead_after: Duration::from_secs(30),
        }
    }

    #[test]
    fn reports_fill_locations_and_orphans_are_deleted() {
        let b = Block { id: 5, len: 10 };
        let mut map = BlockMap::new(liveness(), vec![(b, 2)]);
        map.begin(6);
        let now = Instant::now();
        let reply = map.heartbeat(beat("a", vec![(5, 10), (6, 3), (7, 1)]), "h:1".into(), now);
        assert_eq!(reply.delete, vec![7], "pending 6 kept, unknown 7 deleted");
        assert_eq!(map.replicas(5).len(), 1);
        // A replica of the wrong length is not a replica.
        let reply = map.heartbeat(beat("b", vec![(5, 9)]), "h:2".into(), now);
        assert_eq!(reply.delete, vec![5]);
        let under = map.under_replicated(10);
        assert_eq!(under.len(), 1);
        assert_eq!(under[0].3.id, "b");
        map.free(&[b]);
        let reply = map.heartbeat(beat("a", vec![(5, 10)]), "h:1".into(), now);
        assert_eq!(reply.delete, vec![5]);
    }

    #[test]
    fn extra_replicas_are_dropped() {
        let b = Block { id: 5, len: 10 };
        let mut map = BlockMap::new(liveness(), vec![(b, 2)]);
        let now = Instant::now();
        for (node, addr) in [("a", "h:1"), ("b", "h:2"), ("c", "h:3")] {
            map.heartbeat(beat(node, vec![(5, 10)]), addr.into(), now);
        }
        assert_eq!(map.replicas(5).len(), 3);
        assert_eq!(map.trim_over_replicated(), 1);
        assert_eq!(map.replicas(5).len(), 2);
        assert_eq!(map.trim_over_replicated(), 0);
        let deleted: usize = ["a", "b", "c"]
            .iter()
            .map(|n| map.heartbeat(beat(n, vec![]), "h".into(), now).delete.len())
            .sum();
        assert_eq!(deleted, 1, "one datanode is told to delete its copy");
    }

    #[test]
    fn safe_mode_lasts_until_the_blocks_are_reported() {
        let mut empty = BlockMap::new(liveness(), vec![]);
        assert!(!empty.in_safe_mode());
        let b = Block { id: 5, len: 10 };
        let mut map = BlockMap::new(liveness(), vec![(b, 2)]);
        assert!(map.in_safe_mode());
        map.heartbeat(beat("a", vec![(5, 10)]), "h:1".into(), Instant::now());
        assert!(!map.in_safe_mode());
        map.heartbeat(beat("a", vec![]), "h:1".into(), Instant::now());
        assert!(
            !map.in_safe_mode(),
            "once left, safe mode does not come back"
        );
    }

    #[test]
    fn a_failed_node_is_not_chosen_until_it_heartbeats() {
        let mut map = BlockMap::new(liveness(), vec![]);
        map.heartbeat(beat("a", vec![]), "h:1".into(), Instant::now());
        map.heartbeat(beat("b", vec![]), "h:2".into(), Instant::now());
        map.mark_failed("a");
        let t = map.choose_targets(2, &BTreeSet::new());
        assert_eq!(t.len(), 1);
        map.heartbeat(beat("a", vec![]), "h:1".into(), Instant::now());
        assert_eq!(map.choose_targets(2, &BTreeSet::new()).len(), 2);
    }
}
