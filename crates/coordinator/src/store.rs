//! Durable storage: an append-only transaction log (each record length-prefixed and
//! CRC32C-checked; transactions are staged in memory and written in groups by the caller or,
//! through a [`LogWriter`], by a thread of its own, each group in one `pwritev2` with
//! `RWF_DSYNC`, which returns once it is on the disk), snapshots
//! written beside it (by [`Snapshots`], which another thread may own), purge of what the
//! retained snapshots make unnecessary, and recovery that truncates a torn tail and skips a
//! damaged snapshot.
//!
//! The log is preallocated with real zeros in chunks, so that appending does not change the
//! file's size and the sync has no metadata to commit, only the data; a zero length prefix
//! marks the end of the records. The next chunk is written by a thread of its own once half of
//! the last one is used, so no append waits for it. Where the file system allows, the log is
//! opened with `O_DIRECT`: a write goes to the disk as whole blocks without the page cache's
//! copy and writeback, the block holding the end of the records rewritten each time.
//!
//! Files live in `<dataDir>/lab-coordinator/snapshot.<zxid hex>` and
//! `<dataLogDir>/lab-coordinator/log.<first zxid hex>`: our own format, so in a directory of
//! its own where Apache's server will never trip on it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use rustix::io::ReadWriteFlags;

use crate::jute::{Reader, Writer};
use crate::snapshot::{self, Loaded};
use crate::txn::Txn;

const SUBDIR: &str = "lab-coordinator";
const LOG_MAGIC: &[u8; 8] = b"LABZKLG1";
/// Bytes of zeros added to the log file at a time.
const PREALLOCATE: u64 = 4 << 20;
/// The unit of `O_DIRECT` writes: offsets, lengths and memory are multiples of it (the page
/// and file system block size, a multiple of any disk's sector).
const BLOCK: usize = 4096;
/// Bytes of zeros written per call when the log grows: a multiple of [`BLOCK`].
const ZEROS: usize = 64 << 10;
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
    log: LogWriter,
    /// Framed records not yet written.
    staged: Vec<u8>,
}

/// The open log file, shared so that a group can be written by a thread other than the one
/// staging the next: whoever holds it appends, one group at a time, in the order they lock it.
#[derive(Debug, Clone)]
pub struct LogWriter(Arc<Mutex<LogFile>>);

/// The log file held by one writer: taken before the writer lets the next group be formed,
/// so that a group taken earlier is also written earlier.
#[derive(Debug)]
pub struct HeldLog<'a>(std::sync::MutexGuard<'a, LogFile>);

impl LogWriter {
    /// Holds the log file until the returned handle is dropped.
    pub fn hold(&self) -> io::Result<HeldLog<'_>> {
        self.0
            .lock()
            .map(HeldLog)
            .map_err(|_| io::Error::other("a write of the log panicked"))
    }
}

impl HeldLog<'_> {
    /// Writes a group of framed records ([`Store::take_staged`]) at the end of the log, on the
    /// disk when it returns if `durable`.
    pub fn append(&mut self, bytes: &[u8], durable: bool) -> io::Result<()> {
        self.0.append(bytes, durable)
    }
}

/// The snapshot and log directories: writes snapshots and purges old files.
#[derive(Debug, Clone)]
pub struct Snapshots {
    snap_dir: PathBuf,
    log_dir: PathBuf,
}

/// The open log file: where the next record goes, how far zeros were written, and the zeros
/// being added ahead of the records.
#[derive(Debug)]
struct LogFile {
    file: File,
    /// Whether the file was opened with `O_DIRECT` (written in whole blocks).
    direct: bool,
    end: u64,
    allocated: u64,
    /// The thread adding the next chunk of zeros past `allocated`: the new end once done.
    growing: Option<JoinHandle<io::Result<u64>>>,
    /// With `direct`: the records of the block `end` falls in, rewritten with the next write.
    tail: Vec<u8>,
    /// With `direct`: memory for the blocks of a write, aligned in place.
    scratch: Vec<u8>,
}

impl LogFile {
    /// Creates an empty log file at `path`, writing around the page cache if `direct`.
    fn create(path: &Path, direct: bool) -> io::Result<LogFile> {
        use std::os::unix::fs::OpenOptionsExt;
        let mut options = OpenOptions::new();
        options.create(true).truncate(true).read(true).write(true);
        if direct {
            options.custom_flags(rustix::fs::OFlags::DIRECT.bits() as i32);
        }
        Ok(LogFile {
            file: options.open(path)?,
            direct,
            end: 0,
            allocated: 0,
            growing: None,
            tail: Vec::new(),
            scratch: Vec::new(),
        })
    }

    /// Writes `bytes` at the end of the records, made durable before it returns if `durable`
    /// (`RWF_DSYNC`: the write and its flush in one call). Zeros are added first if the
    /// records would pass them, and ahead of time, off this path, once half of them are used.
    fn append(&mut self, bytes: &[u8], durable: bool) -> io::Result<()> {
        let new_end = self.end + bytes.len() as u64;
        self.reserve(new_end)?;
        let flags = if durable {
            ReadWriteFlags::DSYNC
        } else {
            ReadWriteFlags::empty()
        };
        if self.direct {
            self.write_blocks(bytes, flags)?;
        } else {
            write_all_at(&self.file, bytes, self.end, flags)?;
        }
        self.end = new_end;
        self.grow_ahead();
        Ok(())
    }

    /// Makes sure zeros (durably) cover the file up to `end`.
    fn reserve(&mut self, end: u64) -> io::Result<()> {
        if end > self.allocated
            && let Some(growing) = self.growing.take()
        {
            self.allocated = growing
                .join()
                .map_err(|_| io::Error::other("the log's preallocation thread panicked"))??;
        }
        if end > self.allocated {
            let grow = (end - self.allocated).max(PREALLOCATE);
            self.allocated = add_zeros(&self.file, self.allocated, grow)?;
        }
        Ok(())
    }

    /// Starts adding the next chunk of zeros on a thread of its own once half of the last one
    /// is used, so that appends do not wait for it. Without a thread, [`LogFile::reserve`]
    /// adds them when needed.
    fn grow_ahead(&mut self) {
        if self.growing.is_some() || self.end + PREALLOCATE / 2 < self.allocated {
            return;
        }
        let Ok(file) = self.file.try_clone() else {
            return;
        };
        let from = self.allocated;
        self.growing = std::thread::Builder::new()
            .name("coordinator-log-grow".into())
            .spawn(move || add_zeros(&file, from, PREALLOCATE))
            .ok();
    }

    /// With `direct`: writes the tail block's records and `bytes` as whole blocks, padded
    /// with zeros, from the start of the tail block. The records already there are rewritten
    /// unchanged, so a torn write cannot damage them.
    fn write_blocks(&mut self, bytes: &[u8], flags: ReadWriteFlags) -> io::Result<()> {
        let start = self.end - self.tail.len() as u64;
        let len = self.tail.len() + bytes.len();
        let blocks = aligned(&mut self.scratch, len.next_multiple_of(BLOCK));
        blocks.fill(0);
        let records = blocks.get_mut(..len).unwrap_or_default();
        let (old, new) = records.split_at_mut(self.tail.len().min(records.len()));
        old.copy_from_slice(&self.tail);
        new.copy_from_slice(bytes);
        write_all_at(&self.file, blocks, start, flags)?;
        let last = len - len % BLOCK;
        self.tail.clear();
        self.tail
            .extend_from_slice(blocks.get(last..len).unwrap_or_default());
        Ok(())
    }
}

/// Writes `len` bytes of zeros (rounded up to whole blocks) at `from` and syncs the file with
/// its new size: the new end. The zeros go out [`ZEROS`] at a time, so the memory they take is
/// small and the same whatever the chunk (an allocator may keep what a big buffer freed).
fn add_zeros(file: &File, from: u64, len: u64) -> io::Result<u64> {
    let end = from + len.next_multiple_of(BLOCK as u64);
    let mut memory = Vec::new();
    let zeros = aligned(&mut memory, ZEROS);
    for at in (from..end).step_by(ZEROS) {
        // At most ZEROS: the cast cannot truncate.
        let n = (end - at).min(ZEROS as u64) as usize;
        write_all_at(
            file,
            zeros.get(..n).unwrap_or_default(),
            at,
            ReadWriteFlags::empty(),
        )?;
    }
    file.sync_all()?;
    Ok(end)
}

/// `len` bytes of `memory` starting on a [`BLOCK`] boundary, as `O_DIRECT` needs (zeros the
/// first time).
fn aligned(memory: &mut Vec<u8>, len: usize) -> &mut [u8] {
    if memory.len() < len + BLOCK {
        memory.resize(len + BLOCK, 0);
    }
    let skip = memory.as_ptr().align_offset(BLOCK).min(BLOCK);
    memory.get_mut(skip..skip + len).unwrap_or_default()
}

/// Writes all of `bytes` at `offset` (`pwritev2` with `flags`).
fn write_all_at(
    file: &File,
    mut bytes: &[u8],
    mut offset: u64,
    flags: ReadWriteFlags,
) -> io::Result<()> {
    while !bytes.is_empty() {
        let n = rustix::io::pwritev2(file, &[io::IoSlice::new(bytes)], offset, flags)?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        bytes = bytes.get(n..).unwrap_or_default();
        offset += n as u64;
    }
    Ok(())
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
                log: LogWriter(Arc::new(Mutex::new(log))),
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

    /// Writes the staged transactions to the log in one write, on the disk when it returns
    /// if `durable`.
    pub fn write(&mut self, durable: bool) -> io::Result<()> {
        let result = self
            .log
            .hold()
            .and_then(|mut log| log.append(&self.staged, durable));
        self.staged.clear();
        result
    }

    /// Hands over the staged records, for a [`LogWriter`] to write as one group; staging
    /// starts again empty.
    pub fn take_staged(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.staged)
    }

    /// The shared handle to the log, for a thread that writes groups.
    pub fn log_writer(&self) -> LogWriter {
        self.log.clone()
    }

    /// Ends the log file after `zxid`, which a snapshot will cover, and starts the next one.
    /// `earlier` (records taken from staging before and not yet written), then everything
    /// staged, are written and made durable first; a group a [`LogWriter`] holder is writing
    /// is waited for.
    pub fn roll(&mut self, zxid: i64, earlier: &[u8]) -> io::Result<()> {
        let mut log = self.log.hold()?;
        let mut records = earlier.to_vec();
        records.append(&mut self.staged);
        log.append(&records, true)?;
        *log.0 = new_log(&self.snapshots.log_dir, zxid.saturating_add(1))?;
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

/// Starts a log file, written around the page cache (`O_DIRECT`) where the file system
/// allows it.
fn new_log(dir: &Path, first_zxid: i64) -> io::Result<LogFile> {
    let path = dir.join(format!("log.{first_zxid:x}"));
    let log = match start_log(&path, true) {
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::INVAL.raw_os_error()) => {
            tracing::info!(path = %path.display(), "no O_DIRECT here, writing the log through the page cache");
            start_log(&path, false)?
        }
        other => other?,
    };
    File::open(dir)?.sync_all()?;
    Ok(log)
}

/// Creates a log file holding its header, on the disk with its first zeros.
fn start_log(path: &Path, direct: bool) -> io::Result<LogFile> {
    let mut log = LogFile::create(path, direct)?;
    log.append(LOG_MAGIC, true)?;
    log.file.sync_all()?;
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
        store.write(true).unwrap();
        // A crash in the middle of the third record.
        store
            .log
            .hold()
            .unwrap()
            .append(&[0, 0, 0, 50, 1, 2], true)
            .unwrap();
        drop(store);
        let (mut store, rec) = Store::open(&dir, &dir).unwrap();
        assert_eq!(rec.txns, vec![close(1), close(2)]);
        store.stage(&close(3)).unwrap();
        store.write(true).unwrap();
        drop(store);
        let (_, rec) = Store::open(&dir, &dir).unwrap();
        assert_eq!(rec.txns, vec![close(1), close(2), close(3)]);
        fs::remove_dir_all(&dir).unwrap();
    }

    fn session(zxid: i64, passwd_len: usize) -> Txn {
        Txn {
            zxid,
            time: 0,
            kind: TxnKind::CreateSession {
                session: zxid,
                timeout_ms: 4000,
                passwd: vec![u8::try_from(zxid % 251).unwrap(); passwd_len],
            },
        }
    }

    /// Writes records of odd sizes in groups of 1 to 7, durable or not, past a few chunks of
    /// preallocated zeros (groups end inside blocks, on their edges, and span several), then
    /// reads the file back.
    fn groups_come_back(direct: bool) {
        let dir = temp();
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log.1");
        let log = match start_log(&path, direct) {
            Err(e)
                if direct && e.raw_os_error() == Some(rustix::io::Errno::INVAL.raw_os_error()) =>
            {
                eprintln!(
                    "no O_DIRECT in {}: only the page cache path is tested",
                    dir.display()
                );
                return;
            }
            other => other.unwrap(),
        };
        let mut store = Store {
            snapshots: Snapshots {
                snap_dir: dir.clone(),
                log_dir: dir.clone(),
            },
            log: LogWriter(Arc::new(Mutex::new(log))),
            staged: Vec::new(),
        };
        let mut written = Vec::new();
        let mut zxid = 0;
        while store.log.hold().unwrap().0.end < 3 * PREALLOCATE {
            for _ in 0..=(zxid % 7) {
                zxid += 1;
                let txn = session(zxid, usize::try_from(zxid * 37 % 9000).unwrap());
                store.stage(&txn).unwrap();
                written.push(txn);
            }
            store.write(zxid % 2 == 0).unwrap();
        }
        assert_eq!(store.log.hold().unwrap().0.direct, direct);
        drop(store);
        assert_eq!(read_log(&path, true).unwrap(), written);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn groups_of_any_size_across_blocks_and_chunks_come_back() {
        groups_come_back(true);
        groups_come_back(false);
    }

    #[test]
    fn snapshots_replace_old_logs_and_purge_keeps_the_newest() {
        let dir = temp();
        let (mut store, _) = Store::open(&dir, &dir).unwrap();
        let snapshots = snapshot_each_then_log_one(&mut store, 5);
        snapshots.purge(3).unwrap();
        assert_eq!(numbered(&snapshots.snap_dir, "snapshot.").unwrap().len(), 3);
        drop(store);
        let (_, rec) = Store::open(&dir, &dir).unwrap();
        assert_eq!(rec.snapshot.map(|s| s.zxid), Some(5));
        assert_eq!(rec.txns, vec![close(6)]);
        fs::remove_dir_all(&dir).unwrap();
    }

    /// Logs transactions 1 to `last`, each followed by a roll of the log and a snapshot (of an
    /// empty tree without sessions) at its zxid, then transaction `last + 1`, in the log only.
    fn snapshot_each_then_log_one(store: &mut Store, last: i64) -> Snapshots {
        let snapshots = store.snapshots();
        for zxid in 1..=last {
            store.stage(&close(zxid)).unwrap();
            store.roll(zxid, &[]).unwrap();
            let state = snapshot::State {
                zxid,
                sessions: crate::session::Sessions::default(),
                tree: crate::tree::DataTree::new(),
            };
            snapshots.write(zxid, &state.encode()).unwrap();
        }
        store.stage(&close(last + 1)).unwrap();
        store.write(true).unwrap();
        snapshots
    }

    #[test]
    fn a_damaged_snapshot_gives_way_to_the_one_before_and_the_logs_since() {
        let dir = temp();
        let (mut store, _) = Store::open(&dir, &dir).unwrap();
        let snapshots = snapshot_each_then_log_one(&mut store, 2);
        drop(store);
        // The newest snapshot cut short (a damaged disk): its checksum fails.
        let newest = snapshots.snap_dir.join("snapshot.2");
        let len = fs::metadata(&newest).unwrap().len();
        let file = OpenOptions::new().write(true).open(&newest).unwrap();
        file.set_len(len / 2).unwrap();
        let (_, rec) = Store::open(&dir, &dir).unwrap();
        assert_eq!(rec.snapshot.map(|s| s.zxid), Some(1));
        assert_eq!(rec.txns, vec![close(2), close(3)]);
        fs::remove_dir_all(&dir).unwrap();
    }
}
