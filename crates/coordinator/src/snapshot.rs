//! Snapshots: the whole durable state (zxid, sessions, nodes) as one jute record, written
//! after the log covers its zxid; a restart loads the newest valid one and replays the log
//! after it. I/O-free.

use std::collections::HashMap;

use crate::jute::{DecodeError, Reader, Writer};
use crate::path;
use crate::proto::{read_acls, write_acls};
use crate::session::Sessions;
use crate::tree::{DataTree, Node};

const MAGIC: i32 = 0x5a4b_534e; // "ZKSN"

/// The state to snapshot: a copy of the machine's (the tree's copy costs nothing until
/// either side changes), encoded by the thread that writes it.
#[derive(Debug)]
pub struct State {
    /// Last applied zxid.
    pub zxid: i64,
    /// Live sessions.
    pub sessions: Sessions,
    /// The tree.
    pub tree: DataTree,
}

/// A decoded snapshot.
#[derive(Debug)]
pub struct Loaded {
    /// Its zxid.
    pub zxid: i64,
    /// Its sessions (deadlines to be restarted).
    pub sessions: Sessions,
    /// Its tree.
    pub tree: DataTree,
}

impl State {
    /// Encodes the state.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.int(MAGIC).long(self.zxid);
        w.int(i32::try_from(self.sessions.len()).unwrap_or(i32::MAX));
        for (id, s) in self.sessions.iter() {
            w.long(*id).int(s.timeout_ms).buffer(&s.passwd);
        }
        w.int(i32::try_from(self.tree.len()).unwrap_or(i32::MAX));
        for (p, n) in self.tree.iter() {
            w.string(p).buffer(&n.data);
            write_acls(&mut w, &n.acl);
            w.long(n.czxid)
                .long(n.mzxid)
                .long(n.ctime)
                .long(n.mtime)
                .int(n.version)
                .int(n.creates)
                .int(n.aversion)
                .long(n.ephemeral_owner)
                .long(n.pzxid);
        }
        w.into_bytes()
    }
}

/// Decodes a snapshot written by [`State::encode`].
pub fn decode(bytes: &[u8]) -> Result<Loaded, DecodeError> {
    let mut r = Reader::new(bytes);
    if r.int("magic")? != MAGIC {
        return Err(DecodeError::Invalid("snapshot magic"));
    }
    let zxid = r.long("zxid")?;
    let mut sessions = Sessions::default();
    for (id, timeout, passwd) in r.vector("sessions", 16, |r| {
        Ok((
            r.long("session")?,
            r.int("timeout")?,
            r.buffer("passwd")?.to_vec(),
        ))
    })? {
        sessions.insert(id, timeout, passwd, 0);
    }
    let list = r.vector("nodes", 60, |r| {
        let p = r.string("path")?;
        let node = Node {
            data: r.buffer("data")?.to_vec(),
            acl: read_acls(r)?,
            czxid: r.long("czxid")?,
            mzxid: r.long("mzxid")?,
            ctime: r.long("ctime")?,
            mtime: r.long("mtime")?,
            version: r.int("version")?,
            creates: r.int("creates")?,
            aversion: r.int("aversion")?,
            ephemeral_owner: r.long("owner")?,
            pzxid: r.long("pzxid")?,
            children: Default::default(),
        };
        Ok((p, node))
    })?;
    let mut nodes: HashMap<String, Node> = list.into_iter().collect();
    let paths: Vec<String> = nodes.keys().filter(|p| *p != "/").cloned().collect();
    for p in paths {
        let parent = path::parent(&p).to_owned();
        let node = nodes
            .get_mut(&parent)
            .ok_or(DecodeError::Invalid("snapshot node without parent"))?;
        node.children.insert(path::name(&p).to_owned());
    }
    if !nodes.contains_key("/") {
        return Err(DecodeError::Invalid("snapshot without root"));
    }
    Ok(Loaded {
        zxid,
        sessions,
        tree: DataTree::from_nodes(nodes),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{Acl, perm};

    #[test]
    fn a_snapshot_round_trips() {
        let mut tree = DataTree::new();
        tree.create("/a", b"x".to_vec(), vec![Acl::world(perm::ALL)], 0, 1, 5)
            .unwrap();
        tree.create("/a/e", vec![], vec![Acl::world(perm::ALL)], 9, 2, 6)
            .unwrap();
        let mut sessions = Sessions::default();
        sessions.insert(9, 4000, vec![3; 16], 0);
        let bytes = State {
            zxid: 2,
            sessions,
            tree: tree.clone(),
        }
        .encode();
        let loaded = decode(&bytes).unwrap();
        assert_eq!(loaded.zxid, 2);
        assert_eq!(loaded.tree, tree);
        assert_eq!(loaded.sessions.get(9).unwrap().passwd, vec![3; 16]);
        assert!(decode(&bytes[..bytes.len() - 1]).is_err());
    }

    /// The core hands the snapshot thread a copy and goes on changing its tree: the copy
    /// must stay the tree of the snapshot's zxid.
    #[test]
    fn a_state_taken_stays_as_it_was_while_the_tree_changes() {
        let mut tree = DataTree::new();
        tree.create("/a", b"x".to_vec(), vec![Acl::world(perm::ALL)], 0, 1, 5)
            .unwrap();
        let state = State {
            zxid: 1,
            sessions: Sessions::default(),
            tree: tree.clone(),
        };
        tree.create("/a/b", vec![], vec![Acl::world(perm::ALL)], 0, 2, 6)
            .unwrap();
        tree.set_data("/a", b"y".to_vec(), 3, 7).unwrap();
        let loaded = decode(&state.encode()).unwrap();
        assert!(loaded.tree.get("/a/b").is_none());
        let a = loaded.tree.get("/a").unwrap();
        assert_eq!(
            (a.data.as_slice(), a.version, a.children.len()),
            (&b"x"[..], 0, 0)
        );
    }
}
