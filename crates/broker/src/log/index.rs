//! Sparse segment indexes in Kafka's file formats: `.index` maps a relative offset to a byte
//! position (8-byte entries), `.timeindex` maps a timestamp to a relative offset (12-byte
//! entries). Entries live in memory (a few bytes per `index.interval.bytes` of log) and are
//! appended to the file through a buffer; the file is rebuilt from the log whenever it is
//! missing or inconsistent, so it never has to be fsynced before the log itself.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use super::error::{IoContext, LogError};

/// One fixed-size entry of an index file.
pub(crate) trait IndexEntry: Copy {
    /// Bytes per entry in the file.
    const SIZE: usize;
    /// Appends the entry's big-endian bytes.
    fn encode(&self, out: &mut Vec<u8>);
    /// Reads an entry from exactly `SIZE` bytes.
    fn decode(bytes: &[u8]) -> Option<Self>;
}

/// `.index` entry: the last offset of an indexed batch (relative to the segment's base offset)
/// and the byte position where that batch starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OffsetEntry {
    pub(crate) relative_offset: u32,
    pub(crate) position: u32,
}

impl IndexEntry for OffsetEntry {
    const SIZE: usize = 8;
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.relative_offset.to_be_bytes());
        out.extend_from_slice(&self.position.to_be_bytes());
    }
    fn decode(bytes: &[u8]) -> Option<Self> {
        let (offset, rest) = bytes.split_first_chunk::<4>()?;
        let (position, _) = rest.split_first_chunk::<4>()?;
        Some(OffsetEntry {
            relative_offset: u32::from_be_bytes(*offset),
            position: u32::from_be_bytes(*position),
        })
    }
}

/// `.timeindex` entry: the largest timestamp seen so far in the segment and the (relative)
/// offset of the record that carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeEntry {
    pub(crate) timestamp: i64,
    pub(crate) relative_offset: u32,
}

impl IndexEntry for TimeEntry {
    const SIZE: usize = 12;
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.relative_offset.to_be_bytes());
    }
    fn decode(bytes: &[u8]) -> Option<Self> {
        let (timestamp, rest) = bytes.split_first_chunk::<8>()?;
        let (offset, _) = rest.split_first_chunk::<4>()?;
        Some(TimeEntry {
            timestamp: i64::from_be_bytes(*timestamp),
            relative_offset: u32::from_be_bytes(*offset),
        })
    }
}

/// An index: its entries in memory plus the file they are appended to. The file handle is
/// opened on the first write and released when the segment is sealed, so an old segment
/// holds one descriptor (its log), not three.
#[derive(Debug)]
pub(crate) struct Index<E: IndexEntry> {
    path: PathBuf,
    file: Option<BufWriter<File>>,
    entries: Vec<E>,
    scratch: Vec<u8>,
}

impl<E: IndexEntry> Index<E> {
    /// An index backed by `path`, with no entries loaded: the segment then either
    /// [`load`](Self::load)s them or rebuilds them from the log. Nothing is opened yet.
    pub(crate) fn new(path: &Path) -> Self {
        Index {
            path: path.to_path_buf(),
            file: None,
            entries: Vec::new(),
            scratch: Vec::with_capacity(E::SIZE),
        }
    }

    /// The append handle, opened (and the file created) on first use.
    fn writer(&mut self) -> Result<&mut BufWriter<File>, LogError> {
        match &mut self.file {
            Some(writer) => Ok(writer),
            slot => {
                let file = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.path)
                    .io("open", &self.path)?;
                Ok(slot.insert(BufWriter::with_capacity(4096, file)))
            }
        }
    }

    /// Reads the file's entries into memory; false (nothing loaded) when the file is missing
    /// or its length is not a whole number of entries, so the caller rebuilds it.
    pub(crate) fn load(&mut self) -> Result<bool, LogError> {
        self.flush(false)?;
        let mut bytes = Vec::new();
        match File::open(&self.path) {
            Ok(mut file) => file.read_to_end(&mut bytes).io("read", &self.path)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e).io("open", &self.path),
        };
        if bytes.len() % E::SIZE != 0 {
            return Ok(false);
        }
        match bytes.chunks_exact(E::SIZE).map(E::decode).collect() {
            Some(entries) => {
                self.entries = entries;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Empties the index, in memory and in the file (creating it if missing).
    pub(crate) fn reset(&mut self) -> Result<(), LogError> {
        self.entries.clear();
        let path = self.path.clone();
        let writer = self.writer()?;
        writer.flush().io("write", &path)?;
        writer.get_ref().set_len(0).io("truncate", &path)
    }

    /// The entries, in file order.
    pub(crate) fn entries(&self) -> &[E] {
        &self.entries
    }

    /// The last entry, if any.
    pub(crate) fn last(&self) -> Option<&E> {
        self.entries.last()
    }

    /// Appends an entry (buffered).
    pub(crate) fn push(&mut self, entry: E) -> Result<(), LogError> {
        let mut bytes = std::mem::take(&mut self.scratch);
        bytes.clear();
        entry.encode(&mut bytes);
        let path = self.path.clone();
        let written = self.writer()?.write_all(&bytes).io("write", &path);
        self.scratch = bytes;
        written?;
        self.entries.push(entry);
        Ok(())
    }

    /// Writes buffered entries to the file; with `sync`, also to disk.
    pub(crate) fn flush(&mut self, sync: bool) -> Result<(), LogError> {
        if let Some(writer) = &mut self.file {
            writer.flush().io("write", &self.path)?;
            if sync {
                writer.get_ref().sync_data().io("sync", &self.path)?;
            }
        } else if sync {
            match File::open(&self.path) {
                Ok(file) => file.sync_data().io("sync", &self.path)?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).io("open", &self.path),
            }
        }
        Ok(())
    }

    /// Writes buffered entries and closes the file handle (reopened if written again).
    pub(crate) fn release(&mut self) -> Result<(), LogError> {
        self.flush(false)?;
        self.file = None;
        Ok(())
    }

    /// Removes the file.
    pub(crate) fn delete(mut self) -> Result<(), LogError> {
        self.file = None;
        remove_if_exists(&self.path)
    }
}

/// Removes a file, treating "already gone" as success.
pub(crate) fn remove_if_exists(path: &Path) -> Result<(), LogError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e).io("remove", path),
        _ => Ok(()),
    }
}

/// Byte position to start scanning from to find `relative_offset`: the position of the last
/// indexed batch whose last offset is at most `relative_offset`, or 0.
pub(crate) fn floor_position(entries: &[OffsetEntry], relative_offset: u32) -> u32 {
    let i = entries.partition_point(|e| e.relative_offset <= relative_offset);
    i.checked_sub(1)
        .and_then(|i| entries.get(i))
        .map_or(0, |e| e.position)
}

/// The offset to start a timestamp search from: that of the last entry whose timestamp is
/// strictly below `timestamp` (every record before it is older), or None.
pub(crate) fn before_timestamp(entries: &[TimeEntry], timestamp: i64) -> Option<u32> {
    let i = entries.partition_point(|e| e.timestamp < timestamp);
    i.checked_sub(1)
        .and_then(|i| entries.get(i))
        .map(|e| e.relative_offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_through_the_file_and_truncate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.index");
        let mut index = Index::<OffsetEntry>::new(&path);
        for i in 0..10u32 {
            index
                .push(OffsetEntry {
                    relative_offset: i * 10,
                    position: i * 100,
                })
                .unwrap();
        }
        let mut reopened = Index::<OffsetEntry>::new(&path);
        assert!(reopened.load().unwrap());
        assert!(reopened.entries().is_empty(), "still buffered");
        index.flush(false).unwrap();
        assert!(reopened.load().unwrap());
        assert_eq!(reopened.entries(), index.entries());
        index.release().unwrap();
        index
            .push(OffsetEntry {
                relative_offset: 200,
                position: 2000,
            })
            .unwrap();
        index.flush(true).unwrap();
        assert!(reopened.load().unwrap());
        assert_eq!(
            reopened.entries().len(),
            11,
            "appends after a release reopen the file"
        );
        index.reset().unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
    }

    #[test]
    fn a_torn_index_file_does_not_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.timeindex");
        std::fs::write(&path, [0u8; 13]).unwrap();
        let mut index = Index::<TimeEntry>::new(&path);
        assert!(!index.load().unwrap());
        assert!(index.entries().is_empty());
        let mut missing = Index::<TimeEntry>::new(&dir.path().join("none.timeindex"));
        assert!(!missing.load().unwrap());
    }

    #[test]
    fn lookups_find_the_floor_entry() {
        let entries = [
            OffsetEntry {
                relative_offset: 9,
                position: 100,
            },
            OffsetEntry {
                relative_offset: 19,
                position: 200,
            },
        ];
        assert_eq!(floor_position(&entries, 0), 0);
        assert_eq!(floor_position(&entries, 9), 100);
        assert_eq!(floor_position(&entries, 18), 100);
        assert_eq!(floor_position(&entries, 19), 200);
        assert_eq!(floor_position(&[], 5), 0);
        let times = [
            TimeEntry {
                timestamp: 10,
                relative_offset: 1,
            },
            TimeEntry {
                timestamp: 20,
                relative_offset: 5,
            },
        ];
        assert_eq!(before_timestamp(&times, 10), None);
        assert_eq!(before_timestamp(&times, 11), Some(1));
        assert_eq!(before_timestamp(&times, 99), Some(5));
    }
}
