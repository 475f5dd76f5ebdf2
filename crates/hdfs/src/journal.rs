//! The namenode's durable state, as in Hadoop: an image of the namespace (`fsimage`) plus a
//! journal of the ops since (`edits`). Each op is written and synced before its reply goes out;
//! a checkpoint writes a new image beside the old one, renames it into place, then empties the
//! journal. Ops carry transaction ids, so a crash between those two steps replays nothing twice,
//! and a torn last line (kill -9 in the middle of a write) is cut off on start.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::namespace::{Dir, Meta, Namespace, Node, Op};
use webhdfs_client::path::HdfsPath;

/// Longest journal or image line we read (a file of 100 000 blocks is about 4 MB).
const MAX_LINE_BYTES: u64 = 64 * 1024 * 1024;
/// Ops between two checkpoints.
const CHECKPOINT_EVERY: u64 = 10_000;

/// What can go wrong with the name directory.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// An I/O error on a file of the name directory.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The image is damaged (it is only ever replaced whole, so this is not a crash).
    #[error("{path}: damaged image at line {line}: {message}")]
    Image {
        /// The file.
        path: PathBuf,
        /// The line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// The first line of an image.
#[derive(Debug, Serialize, Deserialize)]
struct ImageHeader {
    version: u32,
    txid: u64,
    next_inode: u64,
    next_block: u64,
    reserved_upto: u64,
    root: Meta,
}

/// Every other line of an image, parents before children.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum ImageEntry {
    Dir {
        path: String,
        meta: Meta,
    },
    File {
        path: String,
        file: crate::namespace::File,
    },
}

/// One journal line.
#[derive(Debug, Serialize, Deserialize)]
struct Record {
    txid: u64,
    op: Op,
}

/// The open name directory: the journal being appended to.
#[derive(Debug)]
pub struct Journal {
    dir: PathBuf,
    edits: File,
    txid: u64,
    since_checkpoint: u64,
}

impl Journal {
    /// Opens (or creates) the name directory and rebuilds the namespace from image + journal.
    pub fn open(
        dir: &Path,
        owner: &str,
        max_dir_items: usize,
    ) -> Result<(Journal, Namespace), JournalError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| JournalError::Io { path, source }
        };
        let current = dir.join("current");
        std::fs::create_dir_all(&current).map_err(io(&current))?;
        let image_path = current.join("fsimage.json");
        let (mut ns, image_txid) = if image_path.is_file() {
            load_image(&image_path, max_dir_items)?
        } else {
            (Namespace::new(owner, max_dir_items), 0)
        };
        let edits_path = current.join("edits.log");
        let mut edits = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&edits_path)
            .map_err(io(&edits_path))?;
        let (txid, replayed) = replay(&mut edits, &edits_path, &mut ns, image_txid)?;
        // Ids handed out before the restart may be on datanodes: never hand them out again.
        ns.next_block = ns.next_block.max(ns.reserved_upto);
        let mut journal = Journal {
            dir: current,
            edits,
            txid,
            since_checkpoint: replayed,
        };
        if replayed > 0 {
            tracing::info!(replayed, txid, "journal replayed; checkpointing");
            journal.checkpoint(&ns)?;
        }
        Ok((journal, ns))
    }

    /// Appends an op and syncs it to disk.
    pub fn append(&mut self, op: &Op, ns: &Namespace) -> Result<(), JournalError> {
        let path = self.dir.join("edits.log");
        let record = Record {
            txid: self.txid + 1,
            op: op.clone(),
        };
        let mut line = serde_json::to_vec(&record).map_err(|e| JournalError::Io {
            path: path.clone(),
            source: e.into(),
        })?;
        line.push(b'\n');
        let io = |source| JournalError::Io {
            path: path.clone(),
            source,
        };
        self.edits.write_all(&line).map_err(io)?;
        self.edits.sync_data().map_err(io)?;
        self.txid += 1;
        self.since_checkpoint += 1;
        if self.since_checkpoint >= CHECKPOINT_EVERY {
            self.checkpoint(ns)?;
        }
        Ok(())
    }

    /// The last transaction id written.
    pub fn txid(&self) -> u64 {
        self.txid
    }

    /// Writes a new image of `ns` and empties the journal.
    pub fn checkpoint(&mut self, ns: &Namespace) -> Result<(), JournalError> {
        let final_path = self.dir.join("fsimage.json");
        let tmp = self.dir.join("fsimage.json.ckpt");
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| JournalError::Io { path, source }
        };
        let file = File::create(&tmp).map_err(io(&tmp))?;
        let mut out = BufWriter::new(file);
        write_image(&mut out, ns, self.txid).map_err(io(&tmp))?;
        let file = out.into_inner().map_err(|e| io(&tmp)(e.into_error()))?;
        file.sync_all().map_err(io(&tmp))?;
        std::fs::rename(&tmp, &final_path).map_err(io(&final_path))?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io(&self.dir))?;
        let edits_path = self.dir.join("edits.log");
        self.edits.set_len(0).map_err(io(&edits_path))?;
        self.edits.sync_all().map_err(io(&edits_path))?;
        self.since_checkpoint = 0;
        Ok(())
    }
}

fn write_image(out: &mut impl Write, ns: &Namespace, txid: u64) -> std::io::Result<()> {
    let header = ImageHeader {
        version: 1,
        txid,
        next_inode: ns.next_inode,
        next_block: ns.next_block,
        reserved_upto: ns.reserved_upto,
        root: ns.root.meta.clone(),
    };
    serde_json::to_writer(&mut *out, &header)?;
    out.write_all(b"\n")?;
    let mut stack: Vec<(HdfsPath, &Dir)> = vec![(HdfsPath::root(), &ns.root)];
    while let Some((path, dir)) = stack.pop() {
        for (name, child) in &dir.children {
            let child_path = path.child(name);
            let entry = match child {
                Node::Dir(d) => {
                    stack.push((child_path.clone(), d));
                    ImageEntry::Dir {
                        path: child_path.to_string(),
                        meta: d.meta.clone(),
                    }
                }
                Node::File(f) => ImageEntry::File {
                    path: child_path.to_string(),
                    file: f.clone(),
                },
            };
            serde_json::to_writer(&mut *out, &entry)?;
            out.write_all(b"\n")?;
        }
    }
    out.flush()
}

fn load_image(path: &Path, max_dir_items: usize) -> Result<(Namespace, u64), JournalError> {
    let bad = |line: usize, message: String| JournalError::Image {
        path: path.to_path_buf(),
        line,
        message,
    };
    let file = File::open(path).map_err(|source| JournalError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut reader = BufReader::new(file);
    let mut lines = 0usize;
    let mut next_line = |reader: &mut BufReader<File>| -> Result<Option<Vec<u8>>, JournalError> {
        lines += 1;
        read_line(reader).map_err(|e| bad(lines, e.to_string()))
    };
    let first = next_line(&mut reader)?.ok_or_else(|| bad(1, "empty".into()))?;
    let header: ImageHeader = serde_json::from_slice(&first).map_err(|e| bad(1, e.to_string()))?;
    let mut ns = Namespace::new(&header.root.owner, max_dir_items);
    ns.root = Dir {
        meta: header.root,
        children: BTreeMap::new(),
    };
    ns.next_inode = header.next_inode;
    ns.next_block = header.next_block;
    ns.reserved_upto = header.reserved_upto;
    let mut line_no = 1;
    while let Some(line) = next_line(&mut reader)? {
        line_no += 1;
        let entry: ImageEntry =
            serde_json::from_slice(&line).map_err(|e| bad(line_no, e.to_string()))?;
        let (path, node) = match entry {
            ImageEntry::Dir { path, meta } => (
                path,
                Node::Dir(Dir {
                    meta,
                    children: BTreeMap::new(),
                }),
            ),
            ImageEntry::File { path, file } => (path, Node::File(file)),
        };
        let path = HdfsPath::parse(&path).map_err(|e| bad(line_no, e.to_string()))?;
        insert(&mut ns.root, path.parts(), node).map_err(|m| bad(line_no, m.into()))?;
    }
    Ok((ns, header.txid))
}

/// Puts `node` at `parts` under `dir`; its parent must already be there.
fn insert(dir: &mut Dir, parts: &[String], node: Node) -> Result<(), &'static str> {
    match parts {
        [] => Err("an entry for the root"),
        [name] => {
            dir.children.insert(name.clone(), node);
            Ok(())
        }
        [first, rest @ ..] => match dir.children.get_mut(first) {
            Some(Node::Dir(d)) => insert(d, rest, node),
            _ => Err("an entry before its parent directory"),
        },
    }
}

/// Replays the journal on top of the image; cuts a torn tail off. Returns the last txid and
/// how many ops were replayed.
fn replay(
    edits: &mut File,
    path: &Path,
    ns: &mut Namespace,
    image_txid: u64,
) -> Result<(u64, u64), JournalError> {
    let io = |source| JournalError::Io {
        path: path.to_path_buf(),
        source,
    };
    edits.seek(SeekFrom::Start(0)).map_err(io)?;
    let mut reader = BufReader::new(&mut *edits);
    let mut good_len = 0u64;
    let mut txid = image_txid;
    let mut replayed = 0;
    loop {
        let line = match read_line(&mut reader) {
            Ok(Some(line)) if line.ends_with(b"\n") => line,
            Ok(None) => break,
            Ok(Some(_)) | Err(_) => {
                tracing::warn!(at = good_len, "torn journal tail cut off");
                break;
            }
        };
        let Ok(record) = serde_json::from_slice::<Record>(&line) else {
            tracing::warn!(
                at = good_len,
                "unreadable journal record; the rest is cut off"
            );
            break;
        };
        good_len += line.len() as u64;
        if record.txid <= txid {
            continue; // already in the image
        }
        if let Err(e) = ns.apply(&record.op) {
            tracing::debug!(txid = record.txid, "replayed op failed as it did live: {e}");
        }
        txid = record.txid;
        replayed += 1;
    }
    drop(reader);
    edits.set_len(good_len).map_err(io)?;
    Ok((txid, replayed))
}

/// Reads one line (newline kept), at most [`MAX_LINE_BYTES`].
fn read_line(reader: &mut impl BufRead) -> std::io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    reader
        .take(MAX_LINE_BYTES + 1)
        .read_until(b'\n', &mut line)?;
    if line.is_empty() {
        return Ok(None);
    }
    if line.len() as u64 > MAX_LINE_BYTES {
        return Err(std::io::Error::other("line too long"));
    }
    Ok(Some(line))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::namespace::Block;

    fn tmpdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("hdfs-journal-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn op_create(path: &str) -> Op {
        Op::CreateFile {
            path: path.into(),
            perm: 0o644,
            owner: "u".into(),
            group: "g".into(),
            time: 5,
            replication: 2,
            blocksize: 4096,
            blocks: vec![Block { id: 9, len: 3 }],
            overwrite: false,
            create_parent: true,
        }
    }

    fn run(journal: &mut Journal, ns: &mut Namespace, op: Op) {
        ns.apply(&op).unwrap();
        journal.append(&op, ns).unwrap();
    }

    #[test]
    fn survives_restart_checkpoint_and_torn_tail() {
        let dir = tmpdir("restart");
        let (mut j, mut ns) = Journal::open(&dir, "root", 100).unwrap();
        run(&mut j, &mut ns, op_create("/a/b/f"));
        run(
            &mut j,
            &mut ns,
            Op::ReserveBlockIds {
                upto: crate::namespace::FIRST_BLOCK_ID + 5000,
            },
        );
        drop(j);
        // A torn tail, as kill -9 mid-write leaves it.
        let edits = dir.join("current/edits.log");
        let mut f = OpenOptions::new().append(true).open(&edits).unwrap();
        f.write_all(br#"{"txid":3,"op":{"op":"delete","pa"#)
            .unwrap();
        drop(f);
        let (mut j, mut ns2) = Journal::open(&dir, "root", 100).unwrap();
        assert_eq!(ns2.root, ns.root);
        assert_eq!(ns2.next_block, crate::namespace::FIRST_BLOCK_ID + 5000);
        run(&mut j, &mut ns2, op_create("/c"));
        j.checkpoint(&ns2).unwrap();
        run(
            &mut j,
            &mut ns2,
            Op::Rename {
                src: "/c".into(),
                dst: "/d".into(),
                time: 6,
            },
        );
        drop(j);
        let (_, ns3) = Journal::open(&dir, "root", 100).unwrap();
        assert_eq!(ns3, ns2);
        assert!(ns3.get(&HdfsPath::parse("/d").unwrap()).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_crash_between_image_and_truncate_replays_nothing_twice() {
        let dir = tmpdir("twice");
        let (mut j, mut ns) = Journal::open(&dir, "root", 100).unwrap();
        run(&mut j, &mut ns, op_create("/f"));
        let edits = dir.join("current/edits.log");
        let saved = std::fs::read(&edits).unwrap();
        j.checkpoint(&ns).unwrap();
        drop(j);
        std::fs::write(&edits, saved).unwrap(); // as if the truncate never happened
        let (_, ns2) = Journal::open(&dir, "root", 100).unwrap();
        assert_eq!(ns2, ns);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
