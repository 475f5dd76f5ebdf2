//! Watches: one-shot data/exist and child watches, persistent and persistent-recursive ones,
//! each owned by a connection. Triggering returns who to notify; sending is the caller's job.

use std::collections::{HashMap, HashSet};

use crate::path;
use crate::proto::EventType;

/// Identifies a client connection.
pub type ConnId = u64;

/// Which table a watch lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// getData/exists watches (one-shot).
    Data,
    /// getChildren watches (one-shot).
    Child,
    /// addWatch mode 0: stays, fires for the path itself.
    Persistent,
    /// addWatch mode 1: stays, fires for the path and everything below (but not for
    /// children-changed events).
    Recursive,
}

/// Every watch of every connection.
#[derive(Debug, Default)]
pub struct Watches {
    data: HashMap<String, HashSet<ConnId>>,
    child: HashMap<String, HashSet<ConnId>>,
    persistent: HashMap<String, HashSet<ConnId>>,
    recursive: HashMap<String, HashSet<ConnId>>,
}

impl Watches {
    fn table(&mut self, kind: Kind) -> &mut HashMap<String, HashSet<ConnId>> {
        match kind {
            Kind::Data => &mut self.data,
            Kind::Child => &mut self.child,
            Kind::Persistent => &mut self.persistent,
            Kind::Recursive => &mut self.recursive,
        }
    }

    /// Leaves a watch.
    pub fn add(&mut self, kind: Kind, path: &str, conn: ConnId) {
        self.table(kind)
            .entry(path.to_owned())
            .or_default()
            .insert(conn);
    }

    /// Drops every watch of a closed connection.
    pub fn remove_conn(&mut self, conn: ConnId) {
        for kind in [Kind::Data, Kind::Child, Kind::Persistent, Kind::Recursive] {
            let table = self.table(kind);
            table.retain(|_, set| {
                set.remove(&conn);
                !set.is_empty()
            });
        }
    }

    /// How many watches are set (mntr's zk_watch_count).
    pub fn count(&self) -> usize {
        [&self.data, &self.child, &self.persistent, &self.recursive]
            .iter()
            .flat_map(|t| t.values())
            .map(HashSet::len)
            .sum()
    }

    /// The connections to notify of `event` on `path`, each once; one-shot watches are
    /// consumed.
    pub fn trigger(&mut self, path: &str, event: EventType) -> Vec<ConnId> {
        let mut out: Vec<ConnId> = Vec::new();
        let take = |set: Option<HashSet<ConnId>>, out: &mut Vec<ConnId>| {
            for c in set.into_iter().flatten() {
                if !out.contains(&c) {
                    out.push(c);
                }
            }
        };
        match event {
            EventType::NodeCreated | EventType::NodeDataChanged => {
                take(self.data.remove(path), &mut out);
            }
            EventType::NodeDeleted => {
                take(self.data.remove(path), &mut out);
                take(self.child.remove(path), &mut out);
            }
            EventType::NodeChildrenChanged => {
                take(self.child.remove(path), &mut out);
            }
        }
        take(self.persistent.get(path).cloned(), &mut out);
        if event != EventType::NodeChildrenChanged {
            for (root, set) in &self.recursive {
                if path::is_within(path, root) {
                    take(Some(set.clone()), &mut out);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_shot_watches_fire_once() {
        let mut w = Watches::default();
        w.add(Kind::Data, "/a", 1);
        assert_eq!(w.trigger("/a", EventType::NodeDataChanged), vec![1]);
        assert!(w.trigger("/a", EventType::NodeDataChanged).is_empty());
    }

    #[test]
    fn delete_notifies_a_connection_once_for_data_and_child_watches() {
        let mut w = Watches::default();
        w.add(Kind::Data, "/a", 1);
        w.add(Kind::Child, "/a", 1);
        w.add(Kind::Child, "/a", 2);
        let mut got = w.trigger("/a", EventType::NodeDeleted);
        got.sort_unstable();
        assert_eq!(got, vec![1, 2]);
        assert_eq!(w.count(), 0);
    }

    #[test]
    fn persistent_and_recursive_watches_stay() {
        let mut w = Watches::default();
        w.add(Kind::Persistent, "/a", 1);
        w.add(Kind::Recursive, "/a", 2);
        assert_eq!(w.trigger("/a/b", EventType::NodeCreated), vec![2]);
        assert_eq!(w.trigger("/a", EventType::NodeChildrenChanged), vec![1]);
        assert_eq!(w.trigger("/a/b", EventType::NodeCreated), vec![2]);
        let mut got = w.trigger("/a", EventType::NodeDataChanged);
        got.sort_unstable();
        assert_eq!(got, vec![1, 2]);
        w.remove_conn(2);
        assert_eq!(w.count(), 1);
    }
}
