//! Committed consumer-group offsets, kept in memory and in an append-only journal in the
//! broker's state directory (`__consumer_offsets.jsonl`), so a restarted broker (even after
//! kill -9) hands consumers back what they committed.
//!
//! Each commit appends one JSON line; on start the journal is replayed (the last line for a
//! partition wins; a torn last line is skipped with a warning) and rewritten compacted.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// One committed position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Committed {
    pub(crate) offset: i64,
    pub(crate) leader_epoch: i32,
    pub(crate) metadata: Option<String>,
}

/// One journal line.
#[derive(Debug, Serialize, Deserialize)]
struct Line {
    group: String,
    topic: String,
    partition: i32,
    #[serde(flatten)]
    committed: Committed,
}

type GroupOffsets = BTreeMap<(String, i32), Committed>;

/// Offsets of every group, durable through the journal.
#[derive(Debug)]
pub(crate) struct OffsetStore {
    path: PathBuf,
    state: Mutex<(HashMap<String, GroupOffsets>, File)>,
}

impl OffsetStore {
    /// Opens (and compacts) the journal in `dir`.
    pub(crate) fn open(dir: &Path) -> std::io::Result<OffsetStore> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("__consumer_offsets.jsonl");
        let mut groups: HashMap<String, GroupOffsets> = HashMap::new();
        if let Ok(f) = File::open(&path) {
            for (n, line) in BufReader::new(f).lines().enumerate() {
                let line = line?;
                match serde_json::from_str::<Line>(&line) {
                    Ok(l) => {
                        let g = groups.entry(l.group).or_default();
                        if l.committed.offset < 0 {
                            g.remove(&(l.topic, l.partition));
                        } else {
                            g.insert((l.topic, l.partition), l.committed);
                        }
                    }
                    Err(e) => tracing::warn!("{}:{}: skipped ({e})", path.display(), n + 1),
                }
            }
        }
        let tmp = dir.join("__consumer_offsets.jsonl.tmp");
        {
            let mut out = std::io::BufWriter::new(File::create(&tmp)?);
            for (group, offsets) in &groups {
                for ((topic, partition), c) in offsets {
                    write_line(&mut out, group, topic, *partition, c)?;
                }
            }
            out.flush()?;
        }
        std::fs::rename(&tmp, &path)?;
        let file = OpenOptions::new().append(true).open(&path)?;
        Ok(OffsetStore {
            path,
            state: Mutex::new((groups, file)),
        })
    }

    /// Records commits of `group`; written to the journal before returning.
    pub(crate) fn commit(
        &self,
        group: &str,
        commits: Vec<(String, i32, Committed)>,
    ) -> std::io::Result<()> {
        let mut guard = self.state.lock().map_err(|_| poisoned())?;
        let (groups, file) = &mut *guard;
        let mut buf = Vec::new();
        for (topic, partition, c) in &commits {
            write_line(&mut buf, group, topic, *partition, c)?;
        }
        file.write_all(&buf)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", self.path.display())))?;
        let g = groups.entry(group.to_string()).or_default();
        for (topic, partition, c) in commits {
            g.insert((topic, partition), c);
        }
        Ok(())
    }

    /// The committed offset of one partition.
    pub(crate) fn fetch(&self, group: &str, topic: &str, partition: i32) -> Option<Committed> {
        let guard = self.state.lock().ok()?;
        guard
            .0
            .get(group)?
            .get(&(topic.to_string(), partition))
            .cloned()
    }

    /// Every committed partition of a group.
    pub(crate) fn all(&self, group: &str) -> Vec<(String, i32, Committed)> {
        let Ok(guard) = self.state.lock() else {
            return Vec::new();
        };
        guard
            .0
            .get(group)
            .map(|g| {
                g.iter()
                    .map(|((t, p), c)| (t.clone(), *p, c.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Names of the groups with committed offsets.
    pub(crate) fn groups(&self) -> Vec<String> {
        self.state
            .lock()
            .map(|g| g.0.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Forgets a deleted topic's offsets (a tombstone line per partition).
    pub(crate) fn forget_topic(&self, topic: &str) -> std::io::Result<()> {
        let mut guard = self.state.lock().map_err(|_| poisoned())?;
        let (groups, file) = &mut *guard;
        let mut buf = Vec::new();
        for (group, offsets) in groups.iter_mut() {
            let gone: Vec<(String, i32)> = offsets
                .keys()
                .filter(|(t, _)| t == topic)
                .cloned()
                .collect();
            for key in gone {
                let tombstone = Committed {
                    offset: -1,
                    leader_epoch: -1,
                    metadata: None,
                };
                write_line(&mut buf, group, &key.0, key.1, &tombstone)?;
                offsets.remove(&key);
            }
        }
        file.write_all(&buf)
    }
}

fn poisoned() -> std::io::Error {
    std::io::Error::other("offset store lock poisoned")
}

fn write_line(
    out: &mut impl Write,
    group: &str,
    topic: &str,
    partition: i32,
    c: &Committed,
) -> std::io::Result<()> {
    let line = Line {
        group: group.to_string(),
        topic: topic.to_string(),
        partition,
        committed: c.clone(),
    };
    serde_json::to_writer(&mut *out, &line)?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(offset: i64) -> Committed {
        Committed {
            offset,
            leader_epoch: 0,
            metadata: Some(String::new()),
        }
    }

    #[test]
    fn commits_survive_a_reopen_and_a_torn_tail() {
        let dir = std::env::temp_dir().join(format!("offsets-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        {
            let s = OffsetStore::open(&dir).unwrap();
            s.commit("g", vec![("t".into(), 0, c(5))]).unwrap();
            s.commit("g", vec![("t".into(), 0, c(9)), ("t".into(), 1, c(2))])
                .unwrap();
        }
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.join("__consumer_offsets.jsonl"))
            .unwrap();
        f.write_all(b"{\"group\":\"g\",\"top").unwrap();
        drop(f);
        let s = OffsetStore::open(&dir).unwrap();
        assert_eq!(s.fetch("g", "t", 0), Some(c(9)));
        assert_eq!(s.fetch("g", "t", 1), Some(c(2)));
        assert_eq!(s.fetch("g", "t", 2), None);
        s.forget_topic("t").unwrap();
        drop(s);
        let s = OffsetStore::open(&dir).unwrap();
        assert_eq!(s.fetch("g", "t", 0), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
