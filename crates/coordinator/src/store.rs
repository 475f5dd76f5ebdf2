//! Durable storage: an append-only transaction log (each record length-prefixed and
//! CRC32C-checked; transactions are staged in memory and written and fsync'd in groups by the
//! caller), snapshots written beside it (by [`Snapshots`], which another thread may own),
//! purge of what the retained snapshots make unnecessary, and recovery that truncates a torn
//! tail.
//!
//! The log is preallocated with real zeros in chunks, so that appending does not change the
//! file's size and `fdatasync` has no metadata to commit, only the data; a zero length
//! prefix marks the end of the records.
//!
//! Files live in `<dataDir>/lab-coordinator/snapshot.<zxid hex>` and
//! `<dataLogDir>/lab-coordinator/log.<first zxid hex>`: our own format, so in a directory of
//! its own where Apache's server will never trip on it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::jute::{Reader, Writer};
use crate::snapshot::{self, Loaded};
use crate::txn::Txn;

const SUBDIR: &str = "lab-coordinator";
const LOG_MAGIC: &[u8; 8] = b"LABZKLG1";
/// Bytes of zeros added to the log file each time the records reach its end.
const PREALLOCATE: u64 = 4 << 20;
/// Largest log record accepted on recovery (a record holds one request, bounded by jute.maxbuffer).
const MAX_RECORD: usize = 64 << 20;

/// What a restart finds on disk.
#[derive(Debug, Default)]
pub struct Recovered {
    /// The newest valid snapshot.
    pub snapshot: Option<Loaded>,
    /// Logged transactions after it, in order.
    pub txns: Vec<Txn>,
}

/// The open transaction log, with the records staged for its next write.
#[derive(Debug)]
pub struct Store {
    snapshots: Snapshots,
    log: LogFile,
    /// Framed records not yet written.
    staged: Vec<u8>,
}

/// The snapshot and log directories: writes snapshots and purges old files.
#[derive(Debug, Clone)]
pub struct Snapshots {
    snap_dir: PathBuf,
    log_dir: PathBuf,
}

/// The open log file: where the next record goes and how far zeros were written.
#[derive(Debug)]
struct LogFile {
    file: File,
    end: u64,
    allocated: u64,
}

impl LogFile {
    /// Writes `bytes` at the end of the records, preallocating more zeros first if needed.
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        let new_end = self.end + bytes.len() as u64;
        if new_end > self.allocated {
            let grow = (new_end - self.allocated).max(PREALLOCATE);
            let zeros = vec![0u8; usize::try_from(grow).map_err(io::Error::other)?];
            self.file.write_all_at(&zeros, self.allocated)?;
            self.file.sync_all()?;
            self.allocated += grow;
        }
        self.file.write_all_at(bytes, self.end)?;
        self.end = new_end;
        Ok(())
    }
}

impl Store {
    /// Opens the directories, recovers what they hold, and starts a new log file after it.
    pub fn open(data_dir: &Path, data_log_dir: &Path) -> io::Result<(Store, Recovered)> {
        let snap_dir = data_dir.join(SUBDIR);
        let log_dir = data_log_dir.join(SUBDIR);
        fs::create_dir_all(&snap_dir)?;
        fs::create_dir_all(&log_dir)?;
        let recovered = recover(&snap_dir, &log_dir)?;
        let last = recovered
            .txns
            .last()
            .map(|t| t.zxid)
            .or(recovered.snapshot.as_ref().map(|s| s.zxid))
            .unwrap_or(0);
        let log = new_log(&log_dir, last.saturating_add(1))?;
        Ok((
            Store {
                snapshots: Snapshots { snap_dir, log_dir },
                log,
                staged: Vec::new(),
            },
            recovered,
        ))
    }

    /// Stages a transaction for the next [`Store::write`], framed in memory.
    pub fn stage(&mut self, txn: &Txn) -> io::Result<()> {
        let start = self.staged.len();
        let mut w = Writer::append_to(std::mem::take(&mut self.staged));
        w.raw(&[0; 8]);
        txn.encode(&mut w);
        self.staged = w.into_bytes();
        let payload = self.staged.get(start + 8..).unwrap_or_default();
        let Ok(len) = u32::try_from(payload.len()) else {
            self.staged.truncate(start);
            return Err(io::Error::other("transaction too large"));
        };
        // The length then the CRC, both big-endian.
        let header = ((u64::from(len) << 32) | u64::from(crc32c::crc32c(payload))).to_be_bytes();
        if let Some(frame) = self.staged.get_mut(start..start + 8) {
            frame.copy_from_slice(&header);
        }
        Ok(())
    }

    /// Writes the staged transactions to the log, in one write (not yet synced).
    pub fn write(&mut self) -> io::Result<()> {
        let result = self.log.append(&self.staged);
        self.staged.clear();
        result
    }

    /// Makes everything written durable.
    pub fn sync(&mut self) -> io::Result<()> {
        self.log.file.sync_data()
    }

    /// Ends the log file after `zxid`, which a snapshot will cover, and starts the next one.
    /// Everything staged is written and synced first.
    pub fn roll(&mut self, zxid: i64) -> io::Result<()> {
        self.write()?;
        self.sync()?;
        self.log = new_log(&self.snapshots.log_dir, zxid.saturating_add(1))?;
        Ok(())
    }

    /// The directories, for writing snapshots and purging elsewhere.
    pub fn snapshots(&self) -> Snapshots {
        self.snapshots.clone()
    }
}

impl Snapshots {
    /// Writes a snapshot (to a temp file, fsync'd, renamed). The log must already have been
    /// rolled after its zxid ([`Store::roll`]); until the snapshot is on disk, a restart
    /// replays the older snapshot and the logs after it.
    pub fn write(&self, zxid: i64, state: &[u8]) -> io::Result<()> {
        let name = format!("snapshot.{zxid:x}");
        let tmp = self.snap_dir.join(format!("{name}.tmp"));
        let mut f = File::create(&tmp)?;
        f.write_all(&crc32c::crc32c(state).to_be_bytes())?;
        f.write_all(state)?;
        f.sync_all()?;
        fs::rename(&tmp, self.snap_dir.join(name))?;
        File::open(&self.snap_dir)?.sync_all()?;
        Ok(())
    }

    /// Deletes snapshots beyond the newest `retain`, and logs holding only transactions
    /// older than the oldest snapshot kept.
    pub fn purge(&self, retain: usize) -> io::Result<()> {
        let snaps = numbered(&self.snap_dir, "snapshot.")?;
        if snaps.len() <= retain {
            return Ok(());
        }
        let cut = snaps.len() - retain;
        let oldest_kept = snaps.get(cut).map(|(z, _)| *z).unwrap_or(0);
        for (_, path) in snaps.iter().take(cut) {
            fs::remove_file(path)?;
        }
        let logs = numbered(&self.log_dir, "log.")?;
        for pair in logs.windows(2) {
            if let [(_, path), (next_start, _)] = pair
                && next_start.saturating_sub(1) <= oldest_kept
            {
                fs::remove_file(path)?;
            }
        }
        Ok(())
    }
}

fn new_log(dir: &Path, first_zxid: i64) -> io::Result<LogFile> {
    let path = dir.join(format!("log.{first_zxid:x}"));
    let file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&path)?;
    let mut log = LogFile {
        file,
        end: 0,
        allocated: 0,
    };
    log.append(LOG_MAGIC)?;
    log.file.sync_all()?;
    File::open(dir)?.sync_all()?;
    Ok(log)
}

/// Files `<prefix><hex>` in a directory, sorted by their number.
fn numbered(dir: &Path, prefix: &str) -> io::Result<Vec<(i64, PathBuf)>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(hex) = name.to_str().and_then(|n| n.strip_prefix(prefix)) else {
            continue;
        };
        if let Ok(n) = i64::from_str_radix(hex, 16) {
            out.push((n, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

fn recover(snap_dir: &Path, log_dir: &Path) -> io::Result<Recovered> {
    let mut recovered = Recovered::default();
    for (zxid, path) in numbered(snap_dir, "snapshot.")?.into_iter().rev() {
        match read_snapshot(&path) {
            Ok(loaded) => {
                tracing::info!(zxid = format_args!("0x{zxid:x}"), "loaded snapshot");
                recovered.snapshot = Some(loaded);
                break;
            }
            Err(e) => tracing::warn!(path = %path.display(), "skipping unreadable snapshot: {e}"),
        }
    }
    let after = recovered.snapshot.as_ref().map_or(0, |s| s.zxid);
    let logs = numbered(log_dir, "log.")?;
    let count = logs.len();
    for (i, (_, path)) in logs.into_iter().enumerate() {
        let is_last = i + 1 == count;
        for txn in read_log(&path, is_last)? {
            if txn.zxid > after && recovered.txns.last().is_none_or(|t| t.zxid < txn.zxid) {
                recovered.txns.push(txn);
            }
        }
    }
    Ok(recovered)
}

fn read_snapshot(path: &Path) -> io::Result<Loaded> {
    let bytes = fs::read(path)?;
    let (crc, body) = bytes
        .split_first_chunk::<4>()
        .ok_or_else(|| io::Error::other("snapshot too short"))?;
    if u32::from_be_bytes(*crc) != crc32c::crc32c(body) {
        return Err(io::Error::other("snapshot checksum mismatch"));
    }
    snapshot::decode(body).map_err(io::Error::other)
}

/// Reads a log file's transactions. A torn or corrupt record ends the file: in the last file
/// (a crash during a write) the tail is cut off so new records follow good ones.
fn read_log(path: &Path, is_last: bool) -> io::Result<Vec<Txn>> {
    let mut bytes = Vec::new();
    File::open(path)?.read_to_end(&mut bytes)?;
    let Some(mut rest) = bytes.strip_prefix(LOG_MAGIC.as_slice()) else {
        tracing::warn!(path = %path.display(), "log file without header ignored");
        return Ok(Vec::new());
    };
    let mut txns = Vec::new();
    let mut good = LOG_MAGIC.len();
    loop {
        if rest.is_empty() || rest.starts_with(&[0, 0, 0, 0, 0, 0, 0, 0]) {
            // The end of the file, or the preallocated zeros after the last record.
            break;
        }
        match next_record(rest) {
            Some((txn, used)) => {
                txns.push(txn);
                good += used;
                rest = rest.get(used..).unwrap_or_default();
            }
            None => {
                tracing::warn!(path = %path.display(), offset = good, "log ends in a torn record");
                if is_last {
                    OpenOptions::new()
                        .write(true)
                        .open(path)?
                        .set_len(good as u64)?;
                }
                break;
            }
        }
    }
    Ok(txns)
}

fn next_record(buf: &[u8]) -> Option<(Txn, usize)> {
    let (len, rest) = buf.split_first_chunk::<4>()?;
    let (crc, rest) = rest.split_first_chunk::<4>()?;
    let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
    if len > MAX_RECORD {
        return None;
    }
    let payload = rest.get(..len)?;
    if crc32c::crc32c(payload) != u32::from_be_bytes(*crc) {
        return None;
    }
    let mut r = Reader::new(payload);
    let txn = Txn::decode(&mut r).ok()?;
    Some((txn, len.checked_add(8)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::txn::TxnKind;

    fn temp() -> PathBuf {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "coordinator-store-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&p);
        p
    }

    fn close(zxid: i64) -> Txn {
        Txn {
            zxid,
            time: 0,
            kind: TxnKind::CloseSession { session: zxid },
        }
    }

    #[test]
    fn logged_transactions_come_back_and_a_torn_tail_is_cut() {
        let dir = temp();
        let (mut store, rec) = Store::open(&dir, &dir).unwrap();
        assert!(rec.txns.is_empty());
        store.stage(&close(1)).unwrap();
        store.stage(&close(2)).unwrap();
        store.write().unwrap();
        store.sync().unwrap();
        // A crash in the middle of the third record.
        store.log.append(&[0, 0, 0, 50, 1, 2]).unwrap();
        drop(store);
        let (mut store, rec) = Store::open(&dir, &dir).unwrap();
        assert_eq!(rec.txns, vec![close(1), close(2)]);
        store.stage(&close(3)).unwrap();
        store.write().unwrap();
        store.sync().unwrap();
        drop(store);
        let (_, rec) = Store::open(&dir, &dir).unwrap();
        assert_eq!(rec.txns, vec![close(1), close(2), close(3)]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn snapshots_replace_old_logs_and_purge_keeps_the_newest() {
        let dir = temp();
        let (mut store, _) = Store::open(&dir, &dir).unwrap();
        let tree = crate::tree::DataTree::new();
        let sessions = crate::session::Sessions::default();
        let snapshots = store.snapshots();
        for zxid in 1..=5 {
            store.stage(&close(zxid)).unwrap();
            store.roll(zxid).unwrap();
            let state = snapshot::State {
                zxid,
                sessions: &sessions,
                tree: &tree,
            }
            .encode();
            snapshots.write(zxid, &state).unwrap();
        }
        store.stage(&close(6)).unwrap();
        store.write().unwrap();
        store.sync().unwrap();
        snapshots.purge(3).unwrap();
        assert_eq!(numbered(&snapshots.snap_dir, "snapshot.").unwrap().len(), 3);
        drop(store);
        let (_, rec) = Store::open(&dir, &dir).unwrap();
        assert_eq!(rec.snapshot.map(|s| s.zxid), Some(5));
        assert_eq!(rec.txns, vec![close(6)]);
        fs::remove_dir_all(&dir).unwrap();
    }
}
