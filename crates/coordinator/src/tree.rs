//! The data tree: znodes by path, their metadata, and each session's ephemerals. Pure state
//! with no I/O; every change is applied through the same methods during service and replay,
//! so a restart rebuilds exactly the tree clients saw. Nodes, child lists and the ephemerals
//! index are persistent collections ([`imbl`]): a copy of the tree costs nothing until either
//! side changes, so a snapshot is encoded and written off the core while it goes on serving.

use std::collections::HashMap;

use crate::path;
use crate::proto::{Acl, Code, Stat, perm};

/// One znode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The node's data.
    pub data: Vec<u8>,
    /// Its ACL.
    pub acl: Vec<Acl>,
    /// Creating zxid.
    pub czxid: i64,
    /// Last modifying zxid.
    pub mzxid: i64,
    /// Creation time (ms since the epoch).
    pub ctime: i64,
    /// Last modification time.
    pub mtime: i64,
    /// Data version.
    pub version: i32,
    /// Children created so far: ZooKeeper stores this, appends it to sequential names, and
    /// reports `2 * creates - children` as the cversion.
    pub creates: i32,
    /// ACL version.
    pub aversion: i32,
    /// Owning session of an ephemeral node, 0 otherwise.
    pub ephemeral_owner: i64,
    /// Last zxid that changed the children.
    pub pzxid: i64,
    /// Child names.
    pub children: imbl::OrdSet<String>,
}

impl Node {
    fn new(data: Vec<u8>, acl: Vec<Acl>, owner: i64, zxid: i64, time: i64) -> Node {
        Node {
            data,
            acl,
            czxid: zxid,
            mzxid: zxid,
            ctime: time,
            mtime: time,
            version: 0,
            creates: 0,
            aversion: 0,
            ephemeral_owner: owner,
            pzxid: zxid,
            children: imbl::OrdSet::new(),
        }
    }

    /// The Stat clients see.
    pub fn stat(&self) -> Stat {
        let num_children = i32::try_from(self.children.len()).unwrap_or(i32::MAX);
        Stat {
            czxid: self.czxid,
            mzxid: self.mzxid,
            ctime: self.ctime,
            mtime: self.mtime,
            version: self.version,
            cversion: self.creates.saturating_mul(2).saturating_sub(num_children),
            aversion: self.aversion,
            ephemeral_owner: self.ephemeral_owner,
            data_length: i32::try_from(self.data.len()).unwrap_or(i32::MAX),
            num_children,
            pzxid: self.pzxid,
        }
    }

    /// Whether `world:anyone` may do `wanted` here. Only `world:anyone` entries are
    /// enforced: an ACL naming other identities is not checked (no authentication is served).
    pub fn allows(&self, wanted: i32) -> bool {
        let mut world = None;
        for acl in &self.acl {
            if acl.scheme == "world" && acl.id == "anyone" {
                world = Some(world.unwrap_or(0) | acl.perms);
            } else {
                return true;
            }
        }
        world.is_none_or(|perms| perms & wanted == wanted)
    }
}

/// All znodes and the ephemerals index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataTree {
    nodes: imbl::HashMap<String, Node>,
    ephemerals: imbl::HashMap<i64, imbl::OrdSet<String>>,
}

impl Default for DataTree {
    fn default() -> Self {
        DataTree::new()
    }
}

impl DataTree {
    /// A fresh tree: `/`, `/zookeeper`, `/zookeeper/quota` and `/zookeeper/config`, as
    /// ZooKeeper starts.
    pub fn new() -> DataTree {
        let mut tree = DataTree {
            nodes: imbl::HashMap::new(),
            ephemerals: imbl::HashMap::new(),
        };
        let all = vec![Acl::world(perm::ALL)];
        let mut root = Node::new(vec![], all.clone(), 0, 0, 0);
        root.children.insert("zookeeper".into());
        let mut zk = Node::new(vec![], all.clone(), 0, 0, 0);
        zk.children.insert("quota".into());
        zk.children.insert("config".into());
        tree.nodes.insert("/".into(), root);
        tree.nodes.insert("/zookeeper".into(), zk);
        tree.nodes
            .insert("/zookeeper/quota".into(), Node::new(vec![], all, 0, 0, 0));
        tree.nodes.insert(
            "/zookeeper/config".into(),
            Node::new(vec![], vec![Acl::world(perm::READ)], 0, 0, 0),
        );
        tree
    }

    /// The node at `path`.
    pub fn get(&self, path: &str) -> Option<&Node> {
        self.nodes.get(path)
    }

    /// How many nodes the tree holds.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when the tree holds no node at all (never, once built).
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// How many ephemeral nodes exist.
    pub fn ephemeral_count(&self) -> usize {
        self.ephemerals.values().map(imbl::OrdSet::len).sum()
    }

    /// Total bytes of data and paths (mntr's approximate data size).
    pub fn approximate_size(&self) -> usize {
        self.nodes.iter().map(|(p, n)| p.len() + n.data.len()).sum()
    }

    /// Ephemeral paths of a session, sorted.
    pub fn ephemerals_of(&self, session: i64) -> Vec<String> {
        self.ephemerals
            .get(&session)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// How many nodes lie below `path` (`/` counts every node but itself).
    pub fn descendants(&self, path: &str) -> usize {
        if path == "/" {
            return self.nodes.len().saturating_sub(1);
        }
        self.nodes
            .keys()
            .filter(|p| *p != path && path::is_within(p, path))
            .count()
    }

    /// The checks a create must pass: parent exists and is not ephemeral, node absent.
    pub fn check_create(&self, path: &str) -> Result<&Node, Code> {
        let parent = self.nodes.get(path::parent(path)).ok_or(Code::NoNode)?;
        if self.nodes.contains_key(path) {
            return Err(Code::NodeExists);
        }
        if parent.ephemeral_owner != 0 {
            return Err(Code::NoChildrenForEphemerals);
        }
        Ok(parent)
    }

    /// Makes a node. The caller has resolved any sequential suffix.
    pub fn create(
        &mut self,
        path: &str,
        data: Vec<u8>,
        acl: Vec<Acl>,
        owner: i64,
        zxid: i64,
        time: i64,
    ) -> Result<Stat, Code> {
        self.check_create(path)?;
        if path == "/" {
            return Err(Code::NodeExists);
        }
        let parent = self.nodes.get_mut(path::parent(path)).ok_or(Code::NoNode)?;
        parent.children.insert(path::name(path).to_owned());
        parent.creates = parent.creates.saturating_add(1);
        parent.pzxid = zxid;
        let node = Node::new(data, acl, owner, zxid, time);
        let stat = node.stat();
        self.nodes.insert(path.to_owned(), node);
        if owner != 0 {
            self.ephemerals
                .entry(owner)
                .or_default()
                .insert(path.to_owned());
        }
        Ok(stat)
    }

    /// Removes a childless node.
    pub fn delete(&mut self, path: &str, zxid: i64) -> Result<Node, Code> {
        let node = self.nodes.get(path).ok_or(Code::NoNode)?;
        if !node.children.is_empty() {
            return Err(Code::NotEmpty);
        }
        if path == "/" || path::is_within(path, "/zookeeper") {
            return Err(Code::BadArguments);
        }
        let node = self.nodes.remove(path).ok_or(Code::NoNode)?;
        if let Some(parent) = self.nodes.get_mut(path::parent(path)) {
            parent.children.remove(path::name(path));
            parent.pzxid = parent.pzxid.max(zxid);
        }
        if node.ephemeral_owner != 0
            && let Some(set) = self.ephemerals.get_mut(&node.ephemeral_owner)
        {
            set.remove(path);
            if set.is_empty() {
                self.ephemerals.remove(&node.ephemeral_owner);
            }
        }
        Ok(node)
    }

    /// Replaces a node's data, bumping its version.
    pub fn set_data(
        &mut self,
        path: &str,
        data: Vec<u8>,
        zxid: i64,
        time: i64,
    ) -> Result<Stat, Code> {
        let node = self.nodes.get_mut(path).ok_or(Code::NoNode)?;
        node.data = data;
        node.version = node.version.wrapping_add(1);
        node.mzxid = zxid;
        node.mtime = time;
        Ok(node.stat())
    }

    /// Replaces a node's ACL, bumping its aversion.
    pub fn set_acl(&mut self, path: &str, acl: Vec<Acl>) -> Result<Stat, Code> {
        let node = self.nodes.get_mut(path).ok_or(Code::NoNode)?;
        node.acl = acl;
        node.aversion = node.aversion.wrapping_add(1);
        Ok(node.stat())
    }

    /// Every (path, node) pair, for snapshots.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Node)> {
        self.nodes.iter()
    }

    /// Rebuilds a tree from a snapshot's nodes, recomputing the ephemerals index.
    pub fn from_nodes(nodes: HashMap<String, Node>) -> DataTree {
        let nodes: imbl::HashMap<String, Node> = nodes.into_iter().collect();
        let mut ephemerals: imbl::HashMap<i64, imbl::OrdSet<String>> = imbl::HashMap::new();
        for (path, node) in &nodes {
            if node.ephemeral_owner != 0 {
                ephemerals
                    .entry(node.ephemeral_owner)
                    .or_default()
                    .insert(path.clone());
            }
        }
        DataTree { nodes, ephemerals }
    }

    /// Saves what an operation on `path` may change (the node and its parent), so a failed
    /// `multi` can put it back.
    pub fn save(&self, path: &str) -> Vec<(String, Option<Node>)> {
        let parent = path::parent(path);
        let mut saved = vec![(path.to_owned(), self.nodes.get(path).cloned())];
        if parent != path {
            saved.push((parent.to_owned(), self.nodes.get(parent).cloned()));
        }
        saved
    }

    /// Puts back what [`DataTree::save`] saved.
    pub fn restore(&mut self, saved: Vec<(String, Option<Node>)>) {
        for (path, node) in saved {
            if let Some(old) = self.nodes.remove(&path)
                && old.ephemeral_owner != 0
                && let Some(set) = self.ephemerals.get_mut(&old.ephemeral_owner)
            {
                set.remove(&path);
            }
            if let Some(node) = node {
                if node.ephemeral_owner != 0 {
                    self.ephemerals
                        .entry(node.ephemeral_owner)
                        .or_default()
                        .insert(path.clone());
                }
                self.nodes.insert(path, node);
            }
        }
        self.ephemerals.retain(|_, set| !set.is_empty());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open() -> Vec<Acl> {
        vec![Acl::world(perm::ALL)]
    }

    #[test]
    fn a_fresh_tree_looks_like_zookeepers() {
        let tree = DataTree::new();
        assert_eq!(tree.len(), 4);
        assert_eq!(tree.get("/").unwrap().stat().num_children, 1);
        assert_eq!(tree.get("/zookeeper").unwrap().stat().cversion, -2);
        assert_eq!(tree.descendants("/"), 3);
    }

    #[test]
    fn cversion_counts_creates_and_deletes_like_zookeeper() {
        let mut t = DataTree::new();
        t.create("/q", vec![], open(), 0, 1, 0).unwrap();
        t.create("/q/b", vec![], open(), 0, 2, 0).unwrap();
        assert_eq!(t.get("/q").unwrap().stat().cversion, 1);
        t.delete("/q/b", 3).unwrap();
        assert_eq!(t.get("/q").unwrap().stat().cversion, 2);
        // The next sequential suffix is the stored create count: 1, as ZooKeeper gives.
        assert_eq!(t.get("/q").unwrap().creates, 1);
        t.create("/q/c0000000001", vec![], open(), 0, 4, 0).unwrap();
        assert_eq!(t.get("/q").unwrap().stat().cversion, 3);
        assert_eq!(t.get("/q").unwrap().pzxid, 4);
    }

    #[test]
    fn create_and_delete_rules() {
        let mut t = DataTree::new();
        assert_eq!(t.create("/a/b", vec![], open(), 0, 1, 0), Err(Code::NoNode));
        t.create("/e", vec![], open(), 7, 1, 0).unwrap();
        assert_eq!(
            t.create("/e/x", vec![], open(), 0, 2, 0),
            Err(Code::NoChildrenForEphemerals)
        );
        assert_eq!(
            t.create("/e", vec![], open(), 0, 2, 0),
            Err(Code::NodeExists)
        );
        assert_eq!(t.ephemerals_of(7), vec!["/e".to_owned()]);
        t.create("/p", vec![], open(), 0, 3, 0).unwrap();
        t.create("/p/c", vec![], open(), 0, 4, 0).unwrap();
        assert_eq!(t.delete("/p", 5).map(|_| ()), Err(Code::NotEmpty));
        t.delete("/e", 6).unwrap();
        assert!(t.ephemerals_of(7).is_empty());
        assert_eq!(t.descendants("/p"), 1);
    }

    #[test]
    fn set_data_bumps_version_and_save_restore_undoes() {
        let mut t = DataTree::new();
        t.create("/a", b"1".to_vec(), open(), 0, 1, 10).unwrap();
        let before = t.clone();
        let saved = t.save("/a");
        let stat = t.set_data("/a", b"22".to_vec(), 2, 20).unwrap();
        assert_eq!((stat.version, stat.data_length, stat.mzxid), (1, 2, 2));
        t.restore(saved);
        assert_eq!(t, before);
        let saved = t.save("/a/x");
        t.create("/a/x", vec![], open(), 9, 3, 0).unwrap();
        t.restore(saved);
        assert_eq!(t, before);
    }

    #[test]
    fn only_world_anyone_is_enforced() {
        let mut node = Node::new(vec![], vec![Acl::world(perm::READ)], 0, 0, 0);
        assert!(node.allows(perm::READ));
        assert!(!node.allows(perm::WRITE));
        node.acl.push(Acl {
            perms: perm::ALL,
            scheme: "digest".into(),
            id: "u:x".into(),
        });
        assert!(node.allows(perm::WRITE));
    }
}
