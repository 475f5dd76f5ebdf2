//! One segment: a `.log` file of whole record batches starting at `base_offset`, with its sparse
//! `.index` and `.timeindex`. Appends are one `write` of already patched batches; reads are
//! positional (`pread`) from index-located positions, so reads never move a file cursor.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::batch::{BATCH_HEADER_LEN, BatchHeader, check_batch};
use super::error::{IoContext, LogError};
use super::index::{
    Index, OffsetEntry, TimeEntry, before_timestamp, floor_position, remove_if_exists,
};

/// What the log tells a segment about one batch of an append.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BatchMeta {
    /// Byte position of the batch in the appended buffer.
    pub(crate) position: u64,
    /// The batch's size in bytes.
    pub(crate) size: u64,
    /// The offset of its last record.
    pub(crate) last_offset: i64,
    /// Its max timestamp, after any LogAppendTime rewrite.
    pub(crate) max_timestamp: i64,
}

/// The file name of a segment file: the base offset zero-padded to 20 digits, as in Kafka.
pub(crate) fn file_name(base_offset: i64, extension: &str) -> String {
    format!("{base_offset:020}.{extension}")
}

/// One segment of a partition log.
#[derive(Debug)]
pub(crate) struct Segment {
    base_offset: i64,
    log_path: PathBuf,
    log: File,
    /// Bytes of whole, valid batches in the file.
    size: u64,
    /// The offset after the segment's last batch.
    next_offset: i64,
    offsets: Index<OffsetEntry>,
    times: Index<TimeEntry>,
    bytes_since_index: u64,
    /// Largest batch max timestamp, -1 when none.
    max_timestamp: i64,
    offset_of_max_timestamp: i64,
    /// The first batch's max timestamp: segment age for time-based rolling, as in Kafka.
    rolling_timestamp: Option<i64>,
    /// Wall clock when the segment was created or opened (for rolling without timestamps).
    created_ms: i64,
    /// Wall clock of the last append (retention of segments without timestamps).
    last_modified_ms: i64,
    /// Whether data was written since the last fsync.
    unsynced: bool,
    /// Whether a newer segment is active: only then do its index files need an fsync, since
    /// the active segment's indexes are rebuilt by recovery anyway.
    sealed: bool,
}

impl Segment {
    /// Opens (or creates) the log file of the segment at `base_offset` in `dir`; its index
    /// files are opened when first written. The in-memory state is empty: follow with [`load`](Self::load),
    /// [`recover`](Self::recover) or [`clear`](Self::clear).
    pub(crate) fn open(dir: &Path, base_offset: i64, now_ms: i64) -> Result<Self, LogError> {
        let log_path = dir.join(file_name(base_offset, "log"));
        let log = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&log_path)
            .io("open", &log_path)?;
        let last_modified_ms = log
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(now_ms, |d| d.as_millis() as i64);
        Ok(Segment {
            base_offset,
            offsets: Index::new(&dir.join(file_name(base_offset, "index"))),
            times: Index::new(&dir.join(file_name(base_offset, "timeindex"))),
            log_path,
            log,
            size: 0,
            next_offset: base_offset,
            bytes_since_index: 0,
            max_timestamp: -1,
            offset_of_max_timestamp: base_offset,
            rolling_timestamp: None,
            created_ms: now_ms,
            last_modified_ms,
            unsynced: false,
            sealed: false,
        })
    }

    /// Creates an empty segment at `base_offset`, discarding any files already there.
    pub(crate) fn create(dir: &Path, base_offset: i64, now_ms: i64) -> Result<Self, LogError> {
        let mut segment = Segment::open(dir, base_offset, now_ms)?;
        segment.clear()?;
        segment.last_modified_ms = now_ms;
        Ok(segment)
    }

    /// Empties the segment (files and state), keeping its base offset.
    pub(crate) fn clear(&mut self) -> Result<(), LogError> {
        self.log.set_len(0).io("truncate", &self.log_path)?;
        self.reset_state()
    }

    /// Trusts the log file of a segment that ends at `next_offset` (the next segment's base
    /// offset) and loads its index files. Returns false, leaving the caller to
    /// [`recover`](Self::recover), when an index is missing, torn or inconsistent with the log.
    pub(crate) fn load(&mut self, next_offset: i64) -> Result<bool, LogError> {
        self.size = self.log.metadata().io("stat", &self.log_path)?.len();
        self.next_offset = next_offset;
        if !self.offsets.load()? || !self.times.load()? {
            return Ok(false);
        }
        let relative_end = next_offset.saturating_sub(self.base_offset);
        let offsets_ok = self.offsets.entries().windows(2).all(|w| {
            matches!(w, [a, b] if a.relative_offset < b.relative_offset && a.position < b.position)
        }) && self.offsets.last().is_none_or(|e| {
            u64::from(e.position) < self.size && i64::from(e.relative_offset) < relative_end
        });
        let times_ok = self.times.entries().windows(2).all(|w| {
            matches!(w, [a, b] if a.timestamp <= b.timestamp && a.relative_offset <= b.relative_offset)
        }) && self
            .times
            .last()
            .is_none_or(|e| i64::from(e.relative_offset) < relative_end);
        // Without a time entry a non-empty segment's newest timestamp is unknown.
        let complete = self.size == 0 || self.times.last().is_some();
        if !(offsets_ok && times_ok && complete) {
            return Ok(false);
        }
        // Spot check: the last indexed position must hold the batch the entry names.
        if let Some(last) = self.offsets.last() {
            let expected = self.base_offset + i64::from(last.relative_offset);
            match self.header_at(u64::from(last.position)) {
                Ok(header) if header.last_offset() == expected => {}
                _ => return Ok(false),
            }
        }
        if let Some(last) = self.times.last() {
            self.max_timestamp = last.timestamp;
            self.offset_of_max_timestamp = self.base_offset + i64::from(last.relative_offset);
        }
        Ok(true)
    }

    /// Trusts the active segment of a cleanly closed log that ended at `end`: loads the index
    /// files, then walks the batch headers after the last indexed one (no record is read), which
    /// must end exactly at the end of the file and at offset `end`. Returns false, leaving the
    /// caller to [`recover`](Self::recover), on any mismatch.
    pub(crate) fn load_active(&mut self, end: i64) -> Result<bool, LogError> {
        if !self.load(end)? {
            return Ok(false);
        }
        let indexed = self.offsets.last().map_or(0, |e| u64::from(e.position));
        let mut position = indexed;
        let mut next = self.base_offset;
        while position < self.size {
            let Ok(header) = self.header_at(position) else {
                return Ok(false);
            };
            if header.max_timestamp > self.max_timestamp {
                self.max_timestamp = header.max_timestamp;
                self.offset_of_max_timestamp = header.last_offset();
            }
            next = header.next_offset();
            position += header.size();
        }
        if position != self.size
            || (self.size > 0 && next != end)
            || (self.size == 0 && end != self.base_offset)
        {
            return Ok(false);
        }
        self.bytes_since_index = self.size - indexed;
        if self.size > 0 {
            let Ok(first) = self.header_at(0) else {
                return Ok(false);
            };
            self.rolling_timestamp = (first.max_timestamp >= 0).then_some(first.max_timestamp);
        }
        Ok(true)
    }

    /// Scans the whole log file, checking every batch's framing, CRC32C and offsets, rebuilds
    /// both indexes, and truncates the file at the first invalid batch (a torn tail after a
    /// crash). `on_batch` sees every valid batch. Returns the number of bytes cut off.
    pub(crate) fn recover(
        &mut self,
        index_interval: u64,
        mut on_batch: impl FnMut(&BatchHeader),
    ) -> Result<u64, LogError> {
        let file_len = self.log.metadata().io("stat", &self.log_path)?.len();
        self.reset_state()?;
        let mut buf = Vec::new();
        let mut position = 0u64;
        let problem = loop {
            let remaining = file_len - position;
            if remaining == 0 {
                break None;
            }
            let mut header_bytes = [0u8; BATCH_HEADER_LEN];
            if remaining < BATCH_HEADER_LEN as u64 {
                break Some(format!(
                    "{remaining} trailing bytes, less than a batch header"
                ));
            }
            self.log
                .read_exact_at(&mut header_bytes, position)
                .io("read", &self.log_path)?;
            let header = match BatchHeader::parse(&header_bytes) {
                Ok(h) if h.size() < BATCH_HEADER_LEN as u64 => {
                    break Some(format!("invalid batch length {}", h.batch_length));
                }
                Ok(h) if h.size() > remaining => {
                    break Some(format!(
                        "batch at offset {} claims {} bytes, {remaining} remain",
                        h.base_offset,
                        h.size()
                    ));
                }
                Ok(h) => h,
                Err(e) => break Some(e.to_string()),
            };
            // Bounded by the file's own length, checked above.
            buf.resize(header.size() as usize, 0);
            self.log
                .read_exact_at(&mut buf, position)
                .io("read", &self.log_path)?;
            if let Err(e) = check_batch(&buf, u64::MAX, true) {
                break Some(e.to_string());
            }
            if header.base_offset < self.next_offset {
                break Some(format!(
                    "batch offset {} goes back before {}",
                    header.base_offset, self.next_offset
                ));
            }
            if header.last_offset() - self.base_offset > i64::from(i32::MAX) {
                break Some(format!(
                    "batch offset {} is too far from the segment base",
                    header.last_offset()
                ));
            }
            on_batch(&header);
            self.track_batch(
                position,
                &BatchMeta {
                    position: 0,
                    size: header.size(),
                    last_offset: header.last_offset(),
                    max_timestamp: header.max_timestamp,
                },
                index_interval,
            )?;
            position += header.size();
        };
        let truncated = file_len - self.size;
        if let Some(reason) = problem {
            tracing::warn!(
                segment = %self.log_path.display(),
                position = self.size,
                truncated,
                "recovery: {reason}; truncating the segment there"
            );
            self.log.set_len(self.size).io("truncate", &self.log_path)?;
        }
        // The index files were rewritten: the next flush makes them durable.
        self.unsynced = true;
        self.offsets.flush(false)?;
        self.times.flush(false)?;
        Ok(truncated)
    }

    /// Empties the index files and the in-memory state, keeping the log file as it is.
    fn reset_state(&mut self) -> Result<(), LogError> {
        self.offsets.reset()?;
        self.times.reset()?;
        self.size = 0;
        self.next_offset = self.base_offset;
        self.bytes_since_index = 0;
        self.max_timestamp = -1;
        self.offset_of_max_timestamp = self.base_offset;
        self.rolling_timestamp = None;
        Ok(())
    }

    /// Accounts for a batch now stored at file `position`: the offset and time indexes get an
    /// entry every `index_interval` bytes, as in Kafka.
    fn track_batch(
        &mut self,
        file_position: u64,
        batch: &BatchMeta,
        index_interval: u64,
    ) -> Result<(), LogError> {
        if self.size == 0 && batch.max_timestamp >= 0 {
            self.rolling_timestamp = Some(batch.max_timestamp);
        }
        if batch.max_timestamp > self.max_timestamp {
            self.max_timestamp = batch.max_timestamp;
            self.offset_of_max_timestamp = batch.last_offset;
        }
        self.size = file_position + batch.size;
        self.next_offset = batch.last_offset + 1;
        if self.bytes_since_index > index_interval {
            self.bytes_since_index = 0;
            self.offsets.push(OffsetEntry {
                relative_offset: self.relative(batch.last_offset),
                position: file_position as u32,
            })?;
            self.maybe_index_time()?;
        }
        self.bytes_since_index += batch.size;
        Ok(())
    }

    /// Adds a time-index entry when the segment's max timestamp grew since the last one.
    fn maybe_index_time(&mut self) -> Result<(), LogError> {
        let grew = self
            .times
            .last()
            .is_none_or(|e| self.max_timestamp > e.timestamp);
        if grew && self.max_timestamp >= 0 {
            self.times.push(TimeEntry {
                timestamp: self.max_timestamp,
                relative_offset: self.relative(self.offset_of_max_timestamp),
            })?;
        }
        Ok(())
    }

    /// An offset relative to the base offset; callers keep offsets within 32 bits of it.
    fn relative(&self, offset: i64) -> u32 {
        offset
            .saturating_sub(self.base_offset)
            .clamp(0, i64::from(u32::MAX)) as u32
    }

    /// Appends already validated and patched batches with one write.
    pub(crate) fn append(
        &mut self,
        bytes: &[u8],
        batches: &[BatchMeta],
        index_interval: u64,
        now_ms: i64,
    ) -> Result<(), LogError> {
        let start = self.size;
        if let Err(e) = (&self.log).write_all(bytes) {
            // Leave no partial batch behind; if even that fails, recovery will.
            let _ = self.log.set_len(start);
            return Err(e).io("write", &self.log_path);
        }
        self.unsynced = true;
        self.last_modified_ms = now_ms;
        for batch in batches {
            self.track_batch(start + batch.position, batch, index_interval)?;
        }
        Ok(())
    }

    /// Finishes the segment before a newer one becomes active: a final time-index entry, as
    /// Kafka writes, so the newest timestamp is known after a restart.
    pub(crate) fn seal(&mut self) -> Result<(), LogError> {
        self.sealed = true;
        self.maybe_index_time()?;
        self.offsets.release()?;
        self.times.release()
    }

    /// Reads the header of the batch at `position`, checking it lies inside the segment.
    pub(crate) fn header_at(&self, position: u64) -> Result<BatchHeader, LogError> {
        let mut bytes = [0u8; BATCH_HEADER_LEN];
        let corrupt = |reason: String| LogError::Corrupt {
            path: self.log_path.clone(),
            position,
            reason,
        };
        if position + BATCH_HEADER_LEN as u64 > self.size {
            return Err(corrupt("batch header past the end of the segment".into()));
        }
        self.log
            .read_exact_at(&mut bytes, position)
            .io("read", &self.log_path)?;
        let header = BatchHeader::parse(&bytes).map_err(|e| corrupt(e.to_string()))?;
        if header.size() < BATCH_HEADER_LEN as u64 || position + header.size() > self.size {
            return Err(corrupt(format!(
                "invalid batch length {}",
                header.batch_length
            )));
        }
        Ok(header)
    }

    /// The first batch whose last offset is at least `offset`, with its position.
    pub(crate) fn find_batch(&self, offset: i64) -> Result<Option<(u64, BatchHeader)>, LogError> {
        let mut position = u64::from(floor_position(
            self.offsets.entries(),
            self.relative(offset),
        ));
        self.scan_from(&mut position, |h| h.last_offset() >= offset)
    }

    /// Walks batch headers from `position` to the first one `wanted` accepts.
    fn scan_from(
        &self,
        position: &mut u64,
        wanted: impl Fn(&BatchHeader) -> bool,
    ) -> Result<Option<(u64, BatchHeader)>, LogError> {
        while *position < self.size {
            let header = self.header_at(*position)?;
            if wanted(&header) {
                return Ok(Some((*position, header)));
            }
            *position += header.size();
        }
        Ok(None)
    }

    /// Whole batches from the one containing `offset`, at most `max_bytes` (but at least that
    /// first batch), only batches entirely below `upper_bound`. None when the segment holds no
    /// batch at or after `offset`.
    pub(crate) fn read(
        &self,
        offset: i64,
        max_bytes: usize,
        upper_bound: i64,
    ) -> Result<Option<Bytes>, LogError> {
        let Some((start, first)) = self.find_batch(offset)? else {
            return Ok(None);
        };
        if first.last_offset() >= upper_bound {
            return Ok(Some(Bytes::new()));
        }
        let end = if upper_bound >= self.next_offset {
            self.size
        } else {
            self.find_batch(upper_bound)?.map_or(self.size, |(p, _)| p)
        };
        let wanted = end
            .saturating_sub(start)
            .min(max_bytes as u64)
            .max(first.size());
        let mut buf = vec![0u8; wanted as usize];
        self.log
            .read_exact_at(&mut buf, start)
            .io("read", &self.log_path)?;
        // Cut after the last whole batch.
        let mut whole = 0usize;
        while let Some(rest) = buf.get(whole..) {
            match BatchHeader::parse(rest) {
                Ok(h) if h.size() >= BATCH_HEADER_LEN as u64 && h.size() <= rest.len() as u64 => {
                    whole += h.size() as usize;
                }
                _ => break,
            }
        }
        buf.truncate(whole);
        Ok(Some(Bytes::from(buf)))
    }

    /// The first batch with a max timestamp of at least `timestamp` and records at or after
    /// offset `from`, with its position.
    pub(crate) fn find_by_timestamp(
        &self,
        timestamp: i64,
        from: i64,
    ) -> Result<Option<(u64, BatchHeader)>, LogError> {
        if self.max_timestamp < timestamp || self.next_offset <= from {
            return Ok(None);
        }
        let by_time = before_timestamp(self.times.entries(), timestamp)
            .map_or(0, |rel| floor_position(self.offsets.entries(), rel));
        let by_offset = floor_position(self.offsets.entries(), self.relative(from));
        let mut position = u64::from(by_time.max(by_offset));
        self.scan_from(&mut position, |h| {
            h.max_timestamp >= timestamp && h.last_offset() >= from
        })
    }

    /// The bytes of the batch at `position`.
    pub(crate) fn read_batch(
        &self,
        position: u64,
        header: &BatchHeader,
    ) -> Result<Bytes, LogError> {
        let mut buf = vec![0u8; header.size() as usize];
        self.log
            .read_exact_at(&mut buf, position)
            .io("read", &self.log_path)?;
        Ok(Bytes::from(buf))
    }

    /// Removes every batch whose last offset is at least `offset` (the whole batch containing
    /// `offset` goes), then rebuilds the indexes from what is left.
    pub(crate) fn truncate_to(&mut self, offset: i64, index_interval: u64) -> Result<(), LogError> {
        let Some((position, _)) = self.find_batch(offset)? else {
            return Ok(());
        };
        self.log.set_len(position).io("truncate", &self.log_path)?;
        self.unsynced = true;
        self.recover(index_interval, |_| {})?;
        Ok(())
    }

    /// Writes buffered index entries; with `sync`, fsyncs the log if data changed, and the
    /// indexes too once the segment is sealed.
    pub(crate) fn flush(&mut self, sync: bool) -> Result<(), LogError> {
        let sync_indexes = sync && self.unsynced && self.sealed;
        self.offsets.flush(sync_indexes)?;
        self.times.flush(sync_indexes)?;
        if sync && self.unsynced {
            self.log.sync_data().io("sync", &self.log_path)?;
            self.unsynced = false;
        }
        Ok(())
    }

    /// Removes the segment's files.
    pub(crate) fn delete(self) -> Result<(), LogError> {
        let Segment {
            log_path,
            log,
            offsets,
            times,
            ..
        } = self;
        drop(log);
        offsets.delete()?;
        times.delete()?;
        remove_if_exists(&log_path)
    }

    /// Whether the segment must roll before taking `bytes` more bytes whose newest timestamp
    /// is `max_timestamp` and last offset `last_offset` (size, age, or 32-bit relative offsets).
    pub(crate) fn should_roll(
        &self,
        bytes: u64,
        max_timestamp: i64,
        last_offset: i64,
        segment_bytes: u64,
        segment_ms: u64,
        now_ms: i64,
    ) -> bool {
        if self.size == 0 {
            return false;
        }
        let age = match self.rolling_timestamp {
            Some(first) => max_timestamp.saturating_sub(first),
            None => now_ms.saturating_sub(self.created_ms),
        };
        self.size + bytes > segment_bytes
            || age > segment_ms.min(i64::MAX as u64) as i64
            || last_offset.saturating_sub(self.base_offset) > i64::from(i32::MAX)
    }

    /// The segment's first offset.
    pub(crate) fn base_offset(&self) -> i64 {
        self.base_offset
    }

    /// The offset after its last batch.
    pub(crate) fn next_offset(&self) -> i64 {
        self.next_offset
    }

    /// Its size in bytes.
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// Its largest batch max timestamp, -1 when none.
    pub(crate) fn max_timestamp(&self) -> i64 {
        self.max_timestamp
    }

    /// The timestamp retention judges the segment by: its newest record, or its last
    /// modification when no record carries a timestamp (as Kafka does).
    pub(crate) fn retention_timestamp(&self) -> i64 {
        if self.max_timestamp >= 0 {
            self.max_timestamp
        } else {
            self.last_modified_ms
        }
    }
}
