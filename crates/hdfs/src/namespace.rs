//! The namenode's namespace: the tree of directories and files, each file a list of blocks.
//!
//! Every change is an [`Op`], a plain value that carries everything it needs (times included),
//! so applying the same ops in the same order always gives the same tree: that is what lets the
//! journal replay them after a crash.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::FsError;
use webhdfs_client::path::HdfsPath;

/// The inode id Hadoop gives the root directory; later inodes count up from it.
pub const ROOT_INODE_ID: u64 = 16385;
/// The first block id Hadoop hands out.
pub const FIRST_BLOCK_ID: u64 = 1_073_741_825;

/// One block of a file: its id and its length in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    /// Unique, never reused (see [`Op::ReserveBlockIds`]).
    pub id: u64,
    /// Bytes in this block.
    pub len: u64,
}

/// What every inode carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// Hadoop's `fileId`.
    pub id: u64,
    /// Permission bits (`0o755`).
    pub perm: u16,
    /// Owner user.
    pub owner: String,
    /// Owner group.
    pub group: String,
    /// Modification time, ms since the epoch.
    pub mtime: u64,
    /// Access time, ms since the epoch.
    pub atime: u64,
}

/// A file: its blocks in order, and how they should be stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct File {
    /// Inode metadata.
    pub meta: Meta,
    /// Replicas wanted per block.
    pub replication: u16,
    /// Block size the file was written with.
    pub blocksize: u64,
    /// The blocks, in file order.
    pub blocks: Vec<Block>,
}

impl File {
    /// The file's length: the sum of its blocks.
    pub fn len(&self) -> u64 {
        self.blocks.iter().map(|b| b.len).sum()
    }

    /// True for an empty file.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A directory: its children by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dir {
    /// Inode metadata.
    pub meta: Meta,
    /// Children, sorted by name as Hadoop lists them.
    pub children: BTreeMap<String, Node>,
}

/// An inode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A directory.
    Dir(Dir),
    /// A file.
    File(File),
}

impl Node {
    /// The inode's metadata.
    pub fn meta(&self) -> &Meta {
        match self {
            Node::Dir(d) => &d.meta,
            Node::File(f) => &f.meta,
        }
    }

    fn meta_mut(&mut self) -> &mut Meta {
        match self {
            Node::Dir(d) => &mut d.meta,
            Node::File(f) => &mut f.meta,
        }
    }

    /// Adds every block under this node to `out`.
    fn collect_blocks(&self, out: &mut Vec<Block>) {
        match self {
            Node::File(f) => out.extend_from_slice(&f.blocks),
            Node::Dir(d) => d.children.values().for_each(|c| c.collect_blocks(out)),
        }
    }
}

/// A change to the namespace: the unit of the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// Create a directory and any missing parents.
    Mkdirs {
        /// The directory.
        path: String,
        /// Permission of every directory created.
        perm: u16,
        /// Owner.
        owner: String,
        /// Group.
        group: String,
        /// Creation time.
        time: u64,
    },
    /// Make a complete file appear (the last step of a CREATE, after its blocks are stored).
    CreateFile {
        /// The file.
        path: String,
        /// Its inode (permission, owner, times).
        perm: u16,
        /// Owner.
        owner: String,
        /// Group.
        group: String,
        /// Creation time.
        time: u64,
        /// Replicas wanted.
        replication: u16,
        /// Block size.
        blocksize: u64,
        /// The stored blocks.
        blocks: Vec<Block>,
        /// Replace an existing file.
        overwrite: bool,
        /// Create missing parent directories (with 755).
        create_parent: bool,
    },
    /// Replace the blocks of an existing file (the last step of an APPEND).
    SetBlocks {
        /// The file.
        path: String,
        /// Its blocks before the append: the op applies only if they still match.
        expected: Vec<Block>,
        /// Its new blocks.
        blocks: Vec<Block>,
        /// Modification time.
        time: u64,
    },
    /// Remove a file or directory.
    Delete {
        /// The target.
        path: String,
        /// Allow removing a non-empty directory.
        recursive: bool,
    },
    /// Move a file or directory (HDFS's rename: into `dst` when it is a directory).
    Rename {
        /// Source.
        src: String,
        /// Destination.
        dst: String,
        /// Modification time of the parents.
        time: u64,
    },
    /// Change permission bits.
    SetPermission {
        /// The target.
        path: String,
        /// New bits.
        perm: u16,
    },
    /// Change owner and/or group.
    SetOwner {
        /// The target.
        path: String,
        /// New owner.
        owner: Option<String>,
        /// New group.
        group: Option<String>,
    },
    /// Change times (`None` keeps one).
    SetTimes {
        /// The target.
        path: String,
        /// New modification time.
        mtime: Option<u64>,
        /// New access time.
        atime: Option<u64>,
    },
    /// Change the replication wanted for a file.
    SetReplication {
        /// The file.
        path: String,
        /// Replicas wanted.
        replication: u16,
    },
    /// Reserve block ids below `upto`, so that ids handed out before a crash are never reused.
    ReserveBlockIds {
        /// First id not reserved.
        upto: u64,
    },
}

/// What applying an op did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// The WebHDFS boolean answer (RENAME, DELETE, MKDIRS, SETREPLICATION).
    pub boolean: bool,
    /// True when the tree changed (and the op must be journaled).
    pub changed: bool,
    /// Blocks no file refers to any more: their replicas can go.
    pub freed: Vec<Block>,
}

/// The namespace tree and its counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    /// The root directory.
    pub root: Dir,
    /// Next inode id.
    pub next_inode: u64,
    /// Next block id to hand out.
    pub next_block: u64,
    /// Block ids below this are reserved in the journal.
    pub reserved_upto: u64,
    /// `dfs.namenode.fs-limits.max-directory-items`.
    pub max_dir_items: usize,
}

impl Namespace {
    /// An empty namespace: just `/`, owned by `owner`.
    pub fn new(owner: &str, max_dir_items: usize) -> Namespace {
        Namespace {
            root: Dir {
                meta: Meta {
                    id: ROOT_INODE_ID,
                    perm: 0o755,
                    owner: owner.to_string(),
                    group: "supergroup".to_string(),
                    mtime: 0,
                    atime: 0,
                },
                children: BTreeMap::new(),
            },
            next_inode: ROOT_INODE_ID + 1,
            next_block: FIRST_BLOCK_ID,
            reserved_upto: FIRST_BLOCK_ID,
            max_dir_items,
        }
    }

    /// Finds a node.
    pub fn get(&self, path: &HdfsPath) -> Result<&Node, FsError> {
        let mut dir = &self.root;
        let Some((last, parents)) = path.parts().split_last() else {
            return Err(FsError::NotFound("/".into())); // callers handle the root first
        };
        for part in parents {
            match dir.children.get(part) {
                Some(Node::Dir(d)) => dir = d,
                Some(Node::File(_)) => return Err(FsError::ParentNotDirectory(path.to_string())),
                None => return Err(FsError::NotFound(path.to_string())),
            }
        }
        dir.children
            .get(last)
            .ok_or_else(|| FsError::NotFound(path.to_string()))
    }

    /// Finds a directory (the root included).
    pub fn dir(&self, path: &HdfsPath) -> Result<&Dir, FsError> {
        if path.is_root() {
            return Ok(&self.root);
        }
        match self.get(path)? {
            Node::Dir(d) => Ok(d),
            Node::File(_) => Err(FsError::ParentNotDirectory(path.to_string())),
        }
    }

    /// The metadata of any node, the root included.
    pub fn meta(&self, path: &HdfsPath) -> Result<&Meta, FsError> {
        if path.is_root() {
            return Ok(&self.root.meta);
        }
        self.get(path).map(Node::meta)
    }

    fn dir_mut(&mut self, path: &HdfsPath) -> Result<&mut Dir, FsError> {
        let mut dir = &mut self.root;
        for part in path.parts() {
            match dir.children.get_mut(part) {
                Some(Node::Dir(d)) => dir = d,
                Some(Node::File(_)) => return Err(FsError::ParentNotDirectory(path.to_string())),
                None => return Err(FsError::NotFound(path.to_string())),
            }
        }
        Ok(dir)
    }

    fn node_mut(&mut self, path: &HdfsPath) -> Result<&mut Node, FsError> {
        let name = path.name().to_string();
        let parent = self.dir_mut(&path.parent())?;
        parent
            .children
            .get_mut(&name)
            .ok_or_else(|| FsError::NotFound(path.to_string()))
    }

    fn meta_mut(&mut self, path: &HdfsPath) -> Result<&mut Meta, FsError> {
        if path.is_root() {
            return Ok(&mut self.root.meta);
        }
        self.node_mut(path).map(Node::meta_mut)
    }

    fn new_meta(&mut self, perm: u16, owner: &str, group: &str, time: u64) -> Meta {
        let id = self.next_inode;
        self.next_inode += 1;
        Meta {
            id,
            perm: perm & 0o1777,
            owner: owner.to_string(),
            group: group.to_string(),
            mtime: time,
            atime: time,
        }
    }

    /// Hands out a fresh block id. Returns `Some(upto)` when the caller must first journal a
    /// [`Op::ReserveBlockIds`] (ids are reserved in batches, one journal write per batch).
    pub fn next_block_id(&mut self) -> (u64, Option<u64>) {
        let id = self.next_block;
        self.next_block += 1;
        if id >= self.reserved_upto {
            (id, Some(id + BLOCK_ID_BATCH))
        } else {
            (id, None)
        }
    }

    /// Applies one op. Ops are deterministic: the same ops in the same order give the same tree,
    /// failures included (a failed op may have created parent directories; the journal keeps
    /// failed ops too, so a replay fails them the same way).
    pub fn apply(&mut self, op: &Op) -> Result<Applied, FsError> {
        match op {
            Op::Mkdirs {
                path,
                perm,
                owner,
                group,
                time,
            } => self.mkdirs(&HdfsPath::parse(path)?, *perm, owner, group, *time),
            Op::CreateFile {
                path,
                perm,
                owner,
                group,
                time,
                replication,
                blocksize,
                blocks,
                overwrite,
                create_parent,
            } => {
                let path = HdfsPath::parse(path)?;
                match self.get(&path) {
                    Ok(Node::File(_)) if *overwrite => {}
                    Ok(_) => return Err(FsError::AlreadyExists(format!("{path} already exists"))),
                    Err(_) => {}
                }
                if *create_parent {
                    self.mkdirs(&path.parent(), 0o755, owner, group, *time)?;
                }
                let meta = self.new_meta(*perm, owner, group, *time);
                let file = File {
                    meta,
                    replication: *replication,
                    blocksize: *blocksize,
                    blocks: blocks.clone(),
                };
                self.create_file(&path, file, *overwrite)
            }
            Op::SetBlocks {
                path,
                expected,
                blocks,
                time,
            } => {
                let path = HdfsPath::parse(path)?;
                let Node::File(f) = self.node_mut(&path)? else {
                    return Err(FsError::WrongType(format!("{path} is not a file")));
                };
                if &f.blocks != expected {
                    return Err(FsError::Io(format!("{path} changed during the append")));
                }
                let freed = f
                    .blocks
                    .iter()
                    .filter(|b| !blocks.contains(b))
                    .copied()
                    .collect();
                f.blocks = blocks.clone();
                f.meta.mtime = *time;
                Ok(Applied {
                    boolean: true,
                    changed: true,
                    freed,
                })
            }
            Op::Delete { path, recursive } => self.delete(&HdfsPath::parse(path)?, *recursive),
            Op::Rename { src, dst, time } => {
                self.rename(&HdfsPath::parse(src)?, &HdfsPath::parse(dst)?, *time)
            }
            Op::SetPermission { path, perm } => {
                self.meta_mut(&HdfsPath::parse(path)?)?.perm = perm & 0o1777;
                Ok(changed())
            }
            Op::SetOwner { path, owner, group } => {
                let meta = self.meta_mut(&HdfsPath::parse(path)?)?;
                if let Some(o) = owner {
                    meta.owner.clone_from(o);
                }
                if let Some(g) = group {
                    meta.group.clone_from(g);
                }
                Ok(changed())
            }
            Op::SetTimes { path, mtime, atime } => {
                let meta = self.meta_mut(&HdfsPath::parse(path)?)?;
                if let Some(m) = mtime {
                    meta.mtime = *m;
                }
                if let Some(a) = atime {
                    meta.atime = *a;
                }
                Ok(changed())
            }
            Op::SetReplication { path, replication } => {
                let path = HdfsPath::parse(path)?;
                match self.node_mut(&path)? {
                    Node::File(f) => {
                        f.replication = *replication;
                        Ok(changed())
                    }
                    Node::Dir(_) => Ok(Applied::default()),
                }
            }
            Op::ReserveBlockIds { upto } => {
                self.reserved_upto = self.reserved_upto.max(*upto);
                Ok(changed())
            }
        }
    }

    fn mkdirs(
        &mut self,
        path: &HdfsPath,
        perm: u16,
        owner: &str,
        group: &str,
        time: u64,
    ) -> Result<Applied, FsError> {
        // Check the whole walk first, so that a failure changes nothing.
        let mut dir = &self.root;
        let mut missing = 0;
        for (i, part) in path.parts().iter().enumerate() {
            match dir.children.get(part) {
                Some(Node::Dir(d)) => dir = d,
                Some(Node::File(_)) if i + 1 == path.parts().len() => {
                    return Err(FsError::AlreadyExists(format!(
                        "Path is not a directory: {path}"
                    )));
                }
                Some(Node::File(_)) => return Err(FsError::ParentNotDirectory(path.to_string())),
                None => {
                    if dir.children.len() >= self.max_dir_items {
                        return Err(too_many_items(path, self.max_dir_items));
                    }
                    missing = path.parts().len() - i;
                    break;
                }
            }
        }
        if missing == 0 {
            return Ok(Applied {
                boolean: true,
                ..Applied::default()
            });
        }
        let mut current = HdfsPath::root();
        for part in path.parts() {
            current = current.child(part);
            let exists = self.dir(&current).is_ok();
            if !exists {
                let meta = self.new_meta(perm, owner, group, time);
                let parent = self.dir_mut(&current.parent())?;
                parent.meta.mtime = time;
                parent.children.insert(
                    part.clone(),
                    Node::Dir(Dir {
                        meta,
                        children: BTreeMap::new(),
                    }),
                );
            }
        }
        Ok(changed())
    }

    fn create_file(
        &mut self,
        path: &HdfsPath,
        file: File,
        overwrite: bool,
    ) -> Result<Applied, FsError> {
        if path.is_root() {
            return Err(FsError::AlreadyExists(
                "/ already exists as a directory".into(),
            ));
        }
        let max = self.max_dir_items;
        let time = file.meta.mtime;
        let parent = self.dir_mut(&path.parent())?;
        let freed = match parent.children.get(path.name()) {
            Some(Node::Dir(_)) => {
                return Err(FsError::AlreadyExists(format!(
                    "{path} already exists as a directory"
                )));
            }
            Some(Node::File(old)) if overwrite => old.blocks.clone(),
            Some(Node::File(_)) => {
                return Err(FsError::AlreadyExists(format!(
                    "{path} for client already exists"
                )));
            }
            None if parent.children.len() >= max => return Err(too_many_items(path, max)),
            None => Vec::new(),
        };
        parent.meta.mtime = time;
        parent
            .children
            .insert(path.name().to_string(), Node::File(file));
        Ok(Applied {
            boolean: true,
            changed: true,
            freed,
        })
    }

    fn delete(&mut self, path: &HdfsPath, recursive: bool) -> Result<Applied, FsError> {
        if path.is_root() {
            return Ok(Applied::default());
        }
        let parent = match self.dir_mut(&path.parent()) {
            Ok(p) => p,
            Err(FsError::NotFound(_)) => return Ok(Applied::default()),
            Err(e) => return Err(e),
        };
        match parent.children.get(path.name()) {
            None => return Ok(Applied::default()),
            Some(Node::Dir(d)) if !recursive && !d.children.is_empty() => {
                return Err(FsError::NotEmpty(path.to_string()));
            }
            Some(_) => {}
        }
        let mut freed = Vec::new();
        if let Some(node) = parent.children.remove(path.name()) {
            node.collect_blocks(&mut freed);
        }
        Ok(Applied {
            boolean: true,
            changed: true,
            freed,
        })
    }

    fn rename(&mut self, src: &HdfsPath, dst: &HdfsPath, time: u64) -> Result<Applied, FsError> {
        let refused = Ok(Applied::default());
        if src.is_root() || self.get(src).is_err() {
            return refused;
        }
        if src == dst {
            return Ok(Applied {
                boolean: true,
                ..Applied::default()
            });
        }
        let dst = match self.dir(dst) {
            Ok(_) => dst.child(src.name()),
            Err(_) => dst.clone(),
        };
        if dst.starts_with(src) || self.get(&dst).is_ok() {
            return refused;
        }
        let max = self.max_dir_items;
        match self.dir(&dst.parent()) {
            Ok(d) if d.children.len() < max => {}
            _ => return refused,
        }
        let src_parent = self.dir_mut(&src.parent())?;
        let Some(node) = src_parent.children.remove(src.name()) else {
            return refused;
        };
        src_parent.meta.mtime = time;
        let dst_parent = self.dir_mut(&dst.parent())?;
        dst_parent.meta.mtime = time;
        dst_parent.children.insert(dst.name().to_string(), node);
        Ok(changed())
    }

    /// Every block of every file (to rebuild the block map after a restart).
    pub fn all_blocks(&self) -> Vec<(Block, u16)> {
        let mut out = Vec::new();
        let mut stack: Vec<&Dir> = vec![&self.root];
        while let Some(dir) = stack.pop() {
            for child in dir.children.values() {
                match child {
                    Node::Dir(d) => stack.push(d),
                    Node::File(f) => out.extend(f.blocks.iter().map(|b| (*b, f.replication))),
                }
            }
        }
        out
    }

    /// Counts under a node: (directories, files, bytes, bytes × replication).
    pub fn summary(node: &Node) -> (u64, u64, u64, u64) {
        match node {
            Node::File(f) => (0, 1, f.len(), f.len() * u64::from(f.replication)),
            Node::Dir(d) => Namespace::dir_summary(d),
        }
    }

    /// Counts under a directory, itself included.
    pub fn dir_summary(dir: &Dir) -> (u64, u64, u64, u64) {
        let mut total = (1, 0, 0, 0);
        for child in dir.children.values() {
            let (d, f, l, s) = Namespace::summary(child);
            total = (total.0 + d, total.1 + f, total.2 + l, total.3 + s);
        }
        total
    }
}

/// How many block ids one [`Op::ReserveBlockIds`] reserves.
const BLOCK_ID_BATCH: u64 = 1000;

fn changed() -> Applied {
    Applied {
        boolean: true,
        changed: true,
        freed: Vec::new(),
    }
}

fn too_many_items(path: &HdfsPath, max: usize) -> FsError {
    FsError::Limit(format!(
        "The directory item limit of {} is exceeded: limit={max}",
        path.parent()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mkdirs(path: &str) -> Op {
        Op::Mkdirs {
            path: path.into(),
            perm: 0o755,
            owner: "u".into(),
            group: "g".into(),
            time: 1,
        }
    }

    fn create(path: &str, blocks: Vec<Block>, overwrite: bool) -> Op {
        Op::CreateFile {
            path: path.into(),
            perm: 0o644,
            owner: "u".into(),
            group: "g".into(),
            time: 2,
            replication: 2,
            blocksize: 10,
            blocks,
            overwrite,
            create_parent: true,
        }
    }

    fn p(s: &str) -> HdfsPath {
        HdfsPath::parse(s).unwrap()
    }

    #[test]
    fn create_rename_delete() {
        let mut ns = Namespace::new("root", 100);
        ns.apply(&mkdirs("/a/b")).unwrap();
        let b = Block { id: 7, len: 5 };
        ns.apply(&create("/a/b/f.tmp", vec![b], false)).unwrap();
        let again = ns.apply(&create("/a/b/f.tmp", vec![], false));
        assert!(matches!(again, Err(FsError::AlreadyExists(_))));
        let r = ns
            .apply(&Op::Rename {
                src: "/a/b/f.tmp".into(),
                dst: "/a/b/f".into(),
                time: 3,
            })
            .unwrap();
        assert!(r.boolean);
        assert!(ns.get(&p("/a/b/f")).is_ok());
        // Into an existing directory, as HDFS does.
        ns.apply(&Op::Rename {
            src: "/a/b/f".into(),
            dst: "/a".into(),
            time: 4,
        })
        .unwrap();
        assert!(ns.get(&p("/a/f")).is_ok());
        let nonempty = ns.apply(&Op::Delete {
            path: "/a".into(),
            recursive: false,
        });
        assert!(matches!(nonempty, Err(FsError::NotEmpty(_))));
        let d = ns
            .apply(&Op::Delete {
                path: "/a".into(),
                recursive: true,
            })
            .unwrap();
        assert_eq!(d.freed, vec![b]);
        let gone = ns
            .apply(&Op::Delete {
                path: "/a".into(),
                recursive: true,
            })
            .unwrap();
        assert!(!gone.boolean);
    }

    #[test]
    fn rename_refuses_what_hdfs_refuses() {
        let mut ns = Namespace::new("root", 100);
        ns.apply(&mkdirs("/d/e")).unwrap();
        ns.apply(&create("/f", vec![], false)).unwrap();
        ns.apply(&create("/g", vec![], false)).unwrap();
        for (src, dst) in [
            ("/missing", "/x"),
            ("/f", "/g"),
            ("/d", "/d/e"),
            ("/f", "/no/such"),
        ] {
            let r = ns
                .apply(&Op::Rename {
                    src: src.into(),
                    dst: dst.into(),
                    time: 1,
                })
                .unwrap();
            assert!(!r.boolean, "{src} -> {dst}");
        }
    }

    #[test]
    fn a_file_in_the_way_is_an_error_and_changes_nothing() {
        let mut ns = Namespace::new("root", 100);
        ns.apply(&create("/f", vec![], false)).unwrap();
        let before = ns.clone();
        assert!(matches!(
            ns.apply(&mkdirs("/f/x/y")),
            Err(FsError::ParentNotDirectory(_))
        ));
        assert!(ns.apply(&create("/f/x", vec![], false)).is_err());
        assert_eq!(ns, before);
    }

    #[test]
    fn directory_item_limit() {
        let mut ns = Namespace::new("root", 2);
        ns.apply(&create("/a", vec![], false)).unwrap();
        ns.apply(&create("/b", vec![], false)).unwrap();
        assert!(matches!(
            ns.apply(&create("/c", vec![], false)),
            Err(FsError::Limit(_))
        ));
    }
}
