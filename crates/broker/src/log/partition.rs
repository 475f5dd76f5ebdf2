//! [`PartitionLog`]: one partition's directory of segments, its offsets and checkpoints.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::batch::{self, BatchHeader, Batches};
use super::checkpoint;
use super::config::{LogConfig, TimestampType};
use super::epoch::LeaderEpochCache;
use super::error::{IoContext, LogError};
use super::records;
use super::segment::{BatchMeta, Segment};

/// The partition's offsets checkpoint (high watermark, log start, recovery point).
const OFFSETS_CHECKPOINT: &str = "partition-offsets-checkpoint";
/// A flush also writes a changed high watermark at most this often.
const HIGH_WATERMARK_CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);

/// What an append stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    /// Offset of the first record appended.
    pub first_offset: i64,
    /// Offset of the last record appended.
    pub last_offset: i64,
    /// The broker's append time for `LogAppendTime` topics, -1 otherwise (as in ProduceResponse).
    pub log_append_time: i64,
    /// Largest timestamp among the appended batches.
    pub max_timestamp: i64,
    /// Number of batches appended.
    pub batch_count: usize,
    /// Bytes appended.
    pub bytes: usize,
}

/// What a read returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadResult {
    /// Whole record batches as stored (empty when nothing is available yet).
    pub records: Bytes,
    /// The log's first offset when read.
    pub log_start_offset: i64,
    /// The log's end offset when read.
    pub log_end_offset: i64,
    /// The high watermark when read.
    pub high_watermark: i64,
}

/// One partition's log: a directory of segments (see the module documentation).
#[derive(Debug)]
pub struct PartitionLog {
    dir: PathBuf,
    config: LogConfig,
    /// Older segments, ordered by base offset; only retention and truncation change them.
    sealed: Vec<Segment>,
    /// The segment appends go to (the newest).
    active: Segment,
    log_start_offset: i64,
    high_watermark: i64,
    /// Offsets below this are fsynced; recovery scans only segments beyond it.
    recovery_point: i64,
    /// The values last written to the offsets checkpoint.
    checkpointed: Offsets,
    /// When the offsets checkpoint was last written.
    checkpointed_at: Instant,
    epochs: LeaderEpochCache,
    /// Set by `close` and `delete`, so `Drop` has nothing left to do.
    closed: bool,
}

/// The offsets kept in the partition's offsets checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Offsets {
    high_watermark: i64,
    log_start_offset: i64,
    recovery_point: i64,
    /// Written by a clean close only: the log ended exactly here with everything fsynced, so
    /// the next open may trust the active segment too. Removed (durably) when opened.
    clean_end: Option<i64>,
}

/// What recovery found in a partition directory.
#[derive(Debug)]
struct Recovered {
    /// The segments kept, oldest first.
    segments: Vec<Segment>,
    /// Leader epochs seen in scanned batches, with the first offset of each.
    epochs: Vec<(i32, i64)>,
    /// Whether any segment was scanned (its data and rebuilt indexes are then flushed).
    scanned: bool,
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl PartitionLog {
    /// Opens the log in `dir`, creating the directory and a first segment when missing, and
    /// recovering after a crash: segments past the recovery point are scanned batch by batch
    /// (length, CRC32C, offsets), a torn or corrupt tail is truncated, and indexes that are
    /// missing or inconsistent are rebuilt.
    pub fn open(dir: &Path, config: LogConfig) -> Result<PartitionLog, LogError> {
        config.validate()?;
        std::fs::create_dir_all(dir).io("create directory", dir)?;
        let now = now_ms();
        let saved = read_offsets_checkpoint(dir);
        let recovery_point = saved.map_or(i64::MIN, |s| s.recovery_point);
        let Recovered {
            mut segments,
            epochs: scanned_epochs,
            scanned,
        } = recover_segments(
            dir,
            recovery_point,
            saved.and_then(|s| s.clean_end),
            config.index_interval_bytes,
            now,
        )?;
        let active = match segments.pop() {
            Some(active) => active,
            None => {
                let start = saved.map_or(0, |s| s.log_start_offset.max(0));
                Segment::create(dir, start, now)?
            }
        };
        let mut sealed = segments;
        for segment in &mut sealed {
            segment.seal()?;
        }
        let first_base = sealed.first().unwrap_or(&active).base_offset();
        let log_end = active.next_offset();
        let log_start_offset = saved
            .map_or(first_base, |s| s.log_start_offset)
            .clamp(first_base, log_end);
        let high_watermark = saved
            .map_or(0, |s| s.high_watermark)
            .clamp(log_start_offset, log_end);

        let mut log = PartitionLog {
            dir: dir.to_path_buf(),
            config,
            sealed,
            active,
            log_start_offset,
            high_watermark,
            recovery_point: recovery_point.clamp(log_start_offset, log_end),
            checkpointed: saved.unwrap_or(Offsets {
                high_watermark: -1,
                log_start_offset: -1,
                recovery_point: -1,
                clean_end: None,
            }),
            checkpointed_at: Instant::now(),
            epochs: LeaderEpochCache::load(dir),
            closed: false,
        };
        // Entries past the recovered end (a torn tail) go before the scanned epochs are learnt.
        let mut epochs_changed = log.epochs.truncate_from_end(log_end + 1);
        for (epoch, start) in scanned_epochs {
            epochs_changed |= log.epochs.assign(epoch, start);
        }
        epochs_changed |= log.epochs.truncate_from_start(log_start_offset);
        if epochs_changed {
            log.epochs.save()?;
        }
        if scanned {
            // Recovered data is made durable once, so the next start need not scan it again.
            log.flush()?;
        }
        if saved.is_some_and(|s| s.clean_end.is_some()) {
            // A clean-close mark must not outlive this open: later changes are not covered.
            log.checkpoint()?;
        }
        Ok(log)
    }

    /// The partition's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The configuration in force.
    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    /// Replaces the configuration (a topic config change); takes effect from the next append.
    pub fn set_config(&mut self, config: LogConfig) -> Result<(), LogError> {
        config.validate()?;
        self.config = config;
        Ok(())
    }

    /// Appends producer batches as the leader, stamping the log's wall clock; see
    /// [`append_at`](Self::append_at).
    pub fn append(&mut self, batches: &[u8], leader_epoch: i32) -> Result<AppendInfo, LogError> {
        self.append_at(batches, leader_epoch, now_ms())
    }

    /// Appends record batches exactly as a producer sent them (one or more v2 batches): each
    /// batch's framing, size and CRC32C are checked (all before anything is written), offsets
    /// are assigned by rewriting `baseOffset`, `partitionLeaderEpoch` becomes `leader_epoch`,
    /// and for `LogAppendTime` topics `maxTimestamp` becomes `now_ms`. Records are never
    /// decoded. The log rolls first if the active segment is full or old.
    pub fn append_at(
        &mut self,
        batches: &[u8],
        leader_epoch: i32,
        now_ms: i64,
    ) -> Result<AppendInfo, LogError> {
        self.check_append_size(batches)?;
        let log_append = self.config.timestamp_type == TimestampType::LogAppendTime;
        let first_offset = self.log_end_offset();
        let mut next = first_offset;
        let mut bytes = batches.to_vec();
        let mut metas = Vec::new();
        for item in Batches::new(batches, self.config.max_message_bytes, true) {
            let (position, header, _) =
                item.map_err(|(position, source)| LogError::InvalidBatch { position, source })?;
            let last = next
                .checked_add(i64::from(header.last_offset_delta))
                .ok_or_else(|| LogError::OffsetOverflow(format!("offset {next} + batch")))?;
            let end = position + header.size() as usize;
            let stored = bytes.get_mut(position..end).unwrap_or_default();
            batch::set_offset_and_epoch(stored, next, leader_epoch);
            let max_timestamp = if log_append {
                batch::set_log_append_time(stored, header.attributes, now_ms);
                now_ms
            } else {
                header.max_timestamp
            };
            metas.push(BatchMeta {
                position: position as u64,
                size: header.size(),
                last_offset: last,
                max_timestamp,
            });
            next = last + 1;
        }
        let info = self.write(&bytes, &metas, now_ms)?;
        if self.epochs.assign(leader_epoch, first_offset) {
            self.epochs.save()?;
        }
        Ok(AppendInfo {
            log_append_time: if log_append { now_ms } else { -1 },
            ..info
        })
    }

    /// Appends batches that already carry their offsets (a follower copying its leader): each
    /// is checked (framing, CRC32C) and must continue the log exactly. Leader epochs found in
    /// the batches enter the epoch cache.
    pub fn append_as_follower(&mut self, batches: &[u8]) -> Result<AppendInfo, LogError> {
        self.check_append_size(batches)?;
        let mut next = self.log_end_offset();
        let mut metas = Vec::new();
        let mut epochs = Vec::new();
        for item in Batches::new(batches, self.config.max_message_bytes, true) {
            let (position, header, _) =
                item.map_err(|(position, source)| LogError::InvalidBatch { position, source })?;
            if header.base_offset != next {
                return Err(LogError::NonContiguous {
                    expected: next,
                    found: header.base_offset,
                });
            }
            epochs.push((header.partition_leader_epoch, header.base_offset));
            metas.push(BatchMeta {
                position: position as u64,
                size: header.size(),
                last_offset: header.last_offset(),
                max_timestamp: header.max_timestamp,
            });
            next = header
                .last_offset()
                .checked_add(1)
                .ok_or_else(|| LogError::OffsetOverflow(format!("batch at {next}")))?;
        }
        let info = self.write(batches, &metas, now_ms())?;
        let mut changed = false;
        for (epoch, start) in epochs {
            changed |= self.epochs.assign(epoch, start);
        }
        if changed {
            self.epochs.save()?;
        }
        Ok(info)
    }

    /// Rejects an empty append or one larger than a segment.
    fn check_append_size(&self, batches: &[u8]) -> Result<(), LogError> {
        if batches.is_empty() {
            return Err(LogError::EmptyAppend);
        }
        if batches.len() as u64 > self.config.segment_bytes {
            return Err(LogError::RecordListTooLarge {
                size: batches.len() as u64,
                max: self.config.segment_bytes,
            });
        }
        Ok(())
    }

    /// Writes validated batches to the active segment, rolling first when due.
    fn write(
        &mut self,
        bytes: &[u8],
        metas: &[BatchMeta],
        now_ms: i64,
    ) -> Result<AppendInfo, LogError> {
        let Some(last) = metas.last() else {
            return Err(LogError::EmptyAppend);
        };
        let max_timestamp = metas.iter().map(|m| m.max_timestamp).max().unwrap_or(-1);
        let base = self.log_end_offset();
        if last.last_offset - base > i64::from(i32::MAX) {
            return Err(LogError::OffsetOverflow(format!(
                "one append spans offsets {base}..={}, more than a segment can index",
                last.last_offset
            )));
        }
        let roll = self.active.should_roll(
            bytes.len() as u64,
            max_timestamp,
            last.last_offset,
            self.config.segment_bytes,
            self.config.segment_ms,
            now_ms,
        );
        if roll {
            self.roll(now_ms)?;
        }
        let interval = self.config.index_interval_bytes;
        self.active.append(bytes, metas, interval, now_ms)?;
        Ok(AppendInfo {
            first_offset: base,
            last_offset: last.last_offset,
            log_append_time: -1,
            max_timestamp,
            batch_count: metas.len(),
            bytes: bytes.len(),
        })
    }

    /// Seals the active segment and starts a new one at the log end.
    fn roll(&mut self, now_ms: i64) -> Result<(), LogError> {
        self.active.seal()?;
        let base = self.log_end_offset();
        let segment = Segment::create(&self.dir, base, now_ms)?;
        tracing::debug!(dir = %self.dir.display(), base, "rolled a new segment");
        self.sealed
            .push(std::mem::replace(&mut self.active, segment));
        Ok(())
    }

    /// Every segment, oldest first.
    fn segments(&self) -> impl Iterator<Item = &Segment> {
        self.segments_from(i64::MIN)
    }

    /// The segments from the one that holds `offset` on (all of them for an earlier offset).
    fn segments_from(&self, offset: i64) -> SegmentIter<'_> {
        let starting_at_or_before = self.sealed.partition_point(|s| s.base_offset() <= offset)
            + usize::from(self.active.base_offset() <= offset);
        let first = starting_at_or_before.saturating_sub(1);
        self.sealed
            .iter()
            .chain(std::iter::once(&self.active))
            .skip(first)
    }

    /// Reads whole batches starting with the one that contains `offset`: at most `max_bytes`,
    /// but always the first batch whole if it lies below `upper_bound` (the high watermark for
    /// consumers, the log end for followers); batches reaching `upper_bound` are left out.
    /// Reads stay within one segment, as in Kafka. An offset outside
    /// `[log_start_offset, log_end_offset]` is [`LogError::OffsetOutOfRange`].
    pub fn read(
        &self,
        offset: i64,
        max_bytes: usize,
        upper_bound: i64,
    ) -> Result<ReadResult, LogError> {
        let log_end = self.log_end_offset();
        if offset < self.log_start_offset || offset > log_end {
            return Err(self.out_of_range(offset));
        }
        let mut records = Bytes::new();
        if offset < upper_bound.min(log_end) {
            for segment in self.segments_from(offset) {
                if let Some(found) = segment.read(offset, max_bytes, upper_bound)? {
                    records = found;
                    break;
                }
            }
        }
        Ok(ReadResult {
            records,
            log_start_offset: self.log_start_offset,
            log_end_offset: log_end,
            high_watermark: self.high_watermark,
        })
    }

    fn out_of_range(&self, offset: i64) -> LogError {
        LogError::OffsetOutOfRange {
            offset,
            log_start_offset: self.log_start_offset,
            log_end_offset: self.log_end_offset(),
        }
    }

    /// The first offset a consumer can read.
    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }

    /// The offset the next appended record gets.
    pub fn log_end_offset(&self) -> i64 {
        self.active.next_offset()
    }

    /// The offset up to which records are committed (visible to consumers).
    pub fn high_watermark(&self) -> i64 {
        self.high_watermark
    }

    /// Moves the high watermark (clamped to `[log_start_offset, log_end_offset]`). It is
    /// persisted by [`checkpoint`](Self::checkpoint), by [`flush`](Self::flush) (at most once a
    /// second) and on close; on open it is clamped to the recovered log, so a stale value is
    /// safe.
    pub fn set_high_watermark(&mut self, high_watermark: i64) {
        self.high_watermark = high_watermark.clamp(self.log_start_offset, self.log_end_offset());
    }

    /// The newest leader epoch seen, if any.
    pub fn latest_epoch(&self) -> Option<i32> {
        self.epochs.latest_epoch()
    }

    /// Records that `epoch` starts at the current log end (a new leader before its first
    /// append, as Kafka does on becoming leader).
    pub fn assign_epoch(&mut self, epoch: i32) -> Result<(), LogError> {
        if self.epochs.assign(epoch, self.log_end_offset()) {
            self.epochs.save()?;
        }
        Ok(())
    }

    /// OffsetForLeaderEpoch: the largest known epoch ≤ `epoch` and its end offset (where the
    /// next epoch starts, or the log end for the latest); None when `epoch` is unknown and
    /// newer than all (UNDEFINED_EPOCH).
    pub fn leader_epoch_end_offset(&self, epoch: i32) -> Option<(i32, i64)> {
        self.epochs.end_offset_for(epoch, self.log_end_offset())
    }

    /// ListOffsets by timestamp: the first record (in offset order, from the log start) whose
    /// timestamp is at least `timestamp`, as `(offset, timestamp)`; None when there is none.
    /// Batches are located by the time index and their headers; inside the one batch found,
    /// records are streamed (decompressing as needed) with bounded memory.
    pub fn offset_for_timestamp(&self, timestamp: i64) -> Result<Option<(i64, i64)>, LogError> {
        for segment in self.segments() {
            let mut from = self.log_start_offset;
            while let Some((position, header)) = segment.find_by_timestamp(timestamp, from)? {
                if let Some(found) =
                    self.first_record_at_or_after(segment, position, &header, timestamp, from)?
                {
                    return Ok(Some(found));
                }
                // Only records below the log start matched: go on after this batch.
                from = header.next_offset();
            }
        }
        Ok(None)
    }

    /// ListOffsets MAX_TIMESTAMP: the record with the largest timestamp (the first one if
    /// several share it), as `(offset, timestamp)`; None for a log without timestamps.
    pub fn max_timestamp(&self) -> Result<Option<(i64, i64)>, LogError> {
        let max = self.segments().map(Segment::max_timestamp).max();
        match max {
            Some(max) if max >= 0 => self.offset_for_timestamp(max),
            _ => Ok(None),
        }
    }

    /// The headers of the stored batches from the one containing `offset` to the log end,
    /// reading only the 61 header bytes of each batch, never the records: cheap enough to
    /// rebuild per-producer state on start.
    pub fn batch_headers(&self, offset: i64) -> BatchHeaders<'_> {
        let mut segments = self.segments_from(offset);
        BatchHeaders {
            current: segments.next(),
            segments,
            next: Next::Find(offset),
        }
    }

    /// The first record of the batch at `position` with a timestamp ≥ `timestamp` and an
    /// offset ≥ `from`.
    fn first_record_at_or_after(
        &self,
        segment: &Segment,
        position: u64,
        header: &BatchHeader,
        timestamp: i64,
        from: i64,
    ) -> Result<Option<(i64, i64)>, LogError> {
        let bytes = segment.read_batch(position, header)?;
        records::first_at_or_after(&bytes, header, timestamp, from).map_err(|reason| {
            LogError::Corrupt {
                path: self.dir.clone(),
                position,
                reason: format!("batch at offset {}: {reason}", header.base_offset),
            }
        })
    }

    /// Follower truncation: removes every record at or after `offset`. The whole batch that
    /// contains `offset` goes, so the log end may land below `offset`. An `offset` below the
    /// log start empties the log and restarts it at `offset`.
    pub fn truncate_to(&mut self, offset: i64) -> Result<(), LogError> {
        if offset >= self.log_end_offset() {
            return Ok(());
        }
        if offset < self.log_start_offset {
            return self.truncate_fully_and_start_at(offset);
        }
        while self.active.base_offset() >= offset {
            let Some(previous) = self.sealed.pop() else {
                break;
            };
            std::mem::replace(&mut self.active, previous).delete()?;
        }
        let interval = self.config.index_interval_bytes;
        self.active.truncate_to(offset, interval)?;
        self.after_truncation()
    }

    /// Deletes every segment and starts an empty log at `offset`.
    pub fn truncate_fully_and_start_at(&mut self, offset: i64) -> Result<(), LogError> {
        for segment in self.sealed.drain(..) {
            segment.delete()?;
        }
        if self.active.base_offset() == offset {
            self.active.clear()?;
        } else {
            let fresh = Segment::create(&self.dir, offset, now_ms())?;
            std::mem::replace(&mut self.active, fresh).delete()?;
        }
        self.log_start_offset = offset;
        self.after_truncation()
    }

    /// Brings offsets, epochs and checkpoints in line with a shortened log.
    fn after_truncation(&mut self) -> Result<(), LogError> {
        let log_end = self.log_end_offset();
        self.log_start_offset = self.log_start_offset.min(log_end);
        self.high_watermark = self.high_watermark.clamp(self.log_start_offset, log_end);
        self.recovery_point = self.recovery_point.min(log_end);
        if self.epochs.truncate_from_end(log_end) {
            self.epochs.save()?;
        }
        self.checkpoint()
    }

    /// DeleteRecords: moves the log start to `offset` (at most the high watermark) and deletes
    /// the segments entirely before it. Returns the new log start offset.
    pub fn delete_records_before(&mut self, offset: i64) -> Result<i64, LogError> {
        if offset > self.high_watermark || offset < 0 {
            return Err(self.out_of_range(offset));
        }
        if offset > self.log_start_offset {
            self.log_start_offset = offset;
            self.delete_segments_while(|_, next_base| next_base <= offset)?;
            if self.epochs.truncate_from_start(offset) {
                self.epochs.save()?;
            }
            self.checkpoint()?;
        }
        Ok(self.log_start_offset)
    }

    /// Deletes old segments by time (`retention_ms`: the segment's newest record is older than
    /// `now_ms - retention_ms`) and size (`retention_bytes`: while the log without its oldest
    /// segment is still at least that big). The active segment, and any segment holding
    /// records at or above the high watermark, are never deleted. Returns how many went.
    pub fn enforce_retention(&mut self, now_ms: i64) -> Result<usize, LogError> {
        let mut removed = 0;
        if let Some(ms) = self.config.retention_ms {
            let limit = now_ms.saturating_sub(ms.min(i64::MAX as u64) as i64);
            removed += self.delete_segments_while(|s, _| s.retention_timestamp() < limit)?;
        }
        if let Some(bytes) = self.config.retention_bytes {
            let mut total = self.size_bytes();
            removed += self.delete_segments_while(|s, _| {
                let delete = total - s.size() >= bytes;
                if delete {
                    total -= s.size();
                }
                delete
            })?;
        }
        if removed > 0 {
            self.checkpoint()?;
        }
        Ok(removed)
    }

    /// Deletes the oldest sealed segments while `doomed(segment, next segment's base)` holds,
    /// never the active one nor one reaching the high watermark; advances the log start.
    fn delete_segments_while(
        &mut self,
        mut doomed: impl FnMut(&Segment, i64) -> bool,
    ) -> Result<usize, LogError> {
        let mut removed = 0;
        while let Some(oldest) = self.sealed.first() {
            let next_base = self.sealed.get(1).unwrap_or(&self.active).base_offset();
            if next_base > self.high_watermark || !doomed(oldest, next_base) {
                break;
            }
            let segment = self.sealed.remove(0);
            tracing::info!(dir = %self.dir.display(), base = segment.base_offset(), "deleting segment");
            segment.delete()?;
            removed += 1;
            self.log_start_offset = self.log_start_offset.max(next_base);
        }
        if removed > 0 && self.epochs.truncate_from_start(self.log_start_offset) {
            self.epochs.save()?;
        }
        Ok(removed)
    }

    /// Total bytes of all segments.
    pub fn size_bytes(&self) -> u64 {
        self.segments().map(Segment::size).sum()
    }

    /// Number of segments.
    pub fn segment_count(&self) -> usize {
        self.sealed.len() + 1
    }

    /// Makes everything appended so far durable (fdatasync of the log files with unsynced
    /// data, and of sealed segments' indexes); the log end becomes the recovery point. Never
    /// called by `append`: when to pay for it (acks=all, an interval, shutdown) is the
    /// caller's choice. Usually one fdatasync: the offsets checkpoint is rewritten only when
    /// that changes what recovery trusts (a newly sealed segment became durable, or the log
    /// start moved, or the high watermark changed and was last written over a second ago),
    /// since recovery scans the whole active segment anyway.
    pub fn flush(&mut self) -> Result<(), LogError> {
        for segment in self
            .sealed
            .iter_mut()
            .chain(std::iter::once(&mut self.active))
        {
            segment.flush(true)?;
        }
        self.recovery_point = self.log_end_offset();
        let saved = self.checkpointed;
        let trusts_more = saved.recovery_point < self.active.base_offset();
        let hw_due = saved.high_watermark != self.high_watermark
            && self.checkpointed_at.elapsed() >= HIGH_WATERMARK_CHECKPOINT_INTERVAL;
        if trusts_more || hw_due || saved.log_start_offset != self.log_start_offset {
            self.checkpoint()?;
        }
        Ok(())
    }

    /// Writes the offsets checkpoint (high watermark, log start, recovery point) if any of them
    /// changed since it was last written (a small file replaced by rename, no fsync unless
    /// the log start moved).
    pub fn checkpoint(&mut self) -> Result<(), LogError> {
        self.write_checkpoint(None)
    }

    /// Writes the offsets checkpoint if it changed; `clean_end` marks a clean close.
    fn write_checkpoint(&mut self, clean_end: Option<i64>) -> Result<(), LogError> {
        let current = Offsets {
            high_watermark: self.high_watermark,
            log_start_offset: self.log_start_offset,
            recovery_point: self.recovery_point,
            clean_end,
        };
        if current == self.checkpointed {
            return Ok(());
        }
        // Buffered index entries go out first so a trusted segment's indexes match its log.
        for segment in self
            .sealed
            .iter_mut()
            .chain(std::iter::once(&mut self.active))
        {
            segment.flush(false)?;
        }
        let mut entries = vec![
            ("high-watermark", current.high_watermark),
            ("log-start-offset", current.log_start_offset),
            ("recovery-point", current.recovery_point),
        ];
        entries.extend(clean_end.map(|end| ("clean-end", end)));
        checkpoint::write(
            &self.dir.join(OFFSETS_CHECKPOINT),
            &entries,
            // Losing a high watermark or recovery point costs a longer recovery; losing a
            // log start would bring deleted records back, and a stale clean mark could make
            // recovery trust changed data.
            current.log_start_offset != self.checkpointed.log_start_offset
                || (self.checkpointed.clean_end.is_some() && clean_end.is_none()),
        )?;
        self.checkpointed = current;
        self.checkpointed_at = Instant::now();
        Ok(())
    }

    /// A clean stop that reports errors (dropping the log does the same, logging them):
    /// flushes everything and writes the offsets checkpoint with a clean-close mark, so the
    /// next open trusts the active segment instead of scanning it.
    pub fn close(mut self) -> Result<(), LogError> {
        self.closed = true;
        self.close_cleanly()
    }

    fn close_cleanly(&mut self) -> Result<(), LogError> {
        self.flush()?;
        let end = self.log_end_offset();
        self.write_checkpoint(Some(end))
    }

    /// Removes the whole partition directory (DeleteTopics).
    pub fn delete(mut self) -> Result<(), LogError> {
        self.closed = true;
        std::fs::remove_dir_all(&self.dir).io("remove directory", &self.dir)
    }
}

impl Drop for PartitionLog {
    /// A clean stop: everything is flushed and checkpointed (high watermark included), so the
    /// next open trusts all but the last segment.
    fn drop(&mut self) {
        if self.closed {
            return;
        }
        if let Err(e) = self.close_cleanly() {
            tracing::warn!(dir = %self.dir.display(), "flush on close failed: {e}");
        }
    }
}

/// Iterator returned by [`PartitionLog::batch_headers`]; stops after the first error.
#[derive(Debug)]
pub struct BatchHeaders<'a> {
    segments: SegmentIter<'a>,
    current: Option<&'a Segment>,
    next: Next,
}

/// The segments of a log from some point on, oldest first.
type SegmentIter<'a> =
    std::iter::Skip<std::iter::Chain<std::slice::Iter<'a, Segment>, std::iter::Once<&'a Segment>>>;

/// Where [`BatchHeaders`] continues in the current segment.
#[derive(Debug, Clone, Copy)]
enum Next {
    /// Look up the batch containing this offset.
    Find(i64),
    /// Read the header at this byte position.
    At(u64),
    /// Finished (or failed).
    Done,
}

impl Iterator for BatchHeaders<'_> {
    type Item = Result<BatchHeader, LogError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let segment = self.current?;
            let found = match self.next {
                Next::Done => return None,
                Next::Find(offset) => segment.find_batch(offset),
                Next::At(position) if position >= segment.size() => Ok(None),
                Next::At(position) => segment.header_at(position).map(|h| Some((position, h))),
            };
            match found {
                Ok(Some((position, header))) => {
                    self.next = Next::At(position + header.size());
                    return Some(Ok(header));
                }
                Ok(None) => {
                    self.current = self.segments.next();
                    if let Next::At(_) = self.next {
                        self.next = Next::At(0);
                    }
                }
                Err(e) => {
                    self.next = Next::Done;
                    return Some(Err(e));
                }
            }
        }
    }
}

/// Base offsets of the segments in `dir`, ascending. Stray index files and temporary files
/// left by an interrupted write are removed.
fn list_segments(dir: &Path) -> Result<Vec<i64>, LogError> {
    let mut logs = Vec::new();
    let mut others = Vec::new();
    for entry in std::fs::read_dir(dir).io("list", dir)? {
        let path = entry.io("list", dir)?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if name == format!("{OFFSETS_CHECKPOINT}.tmp")
            || name == format!("{}.tmp", super::epoch::FILE_NAME)
        {
            super::index::remove_if_exists(&path)?;
            continue;
        }
        let Some((stem, extension)) = name.split_once('.') else {
            continue;
        };
        if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(base) = stem.parse::<i64>() else {
            continue;
        };
        match extension {
            "log" => logs.push(base),
            "index" | "timeindex" => others.push((base, path)),
            _ => {}
        }
    }
    logs.sort_unstable();
    for (base, path) in others {
        if logs.binary_search(&base).is_err() {
            super::index::remove_if_exists(&path)?;
        }
    }
    Ok(logs)
}

/// Opens the segments in `dir`. Those wholly before `recovery_point` (fsynced) keep their
/// index files if consistent; the others are scanned and repaired. A scanned segment that
/// ends early (corruption) ends the log: later segments are deleted.
fn recover_segments(
    dir: &Path,
    recovery_point: i64,
    clean_end: Option<i64>,
    index_interval: u64,
    now: i64,
) -> Result<Recovered, LogError> {
    let bases = list_segments(dir)?;
    let mut recovered = Recovered {
        segments: Vec::with_capacity(bases.len().max(1)),
        epochs: Vec::new(),
        scanned: false,
    };
    for (i, &base) in bases.iter().enumerate() {
        let mut segment = Segment::open(dir, base, now)?;
        let next_base = bases.get(i + 1).copied();
        let trusted = match (next_base, clean_end) {
            (Some(next), _) if next <= recovery_point => segment.load(next)?,
            (None, Some(end)) if end <= recovery_point => segment.load_active(end)?,
            _ => false,
        };
        if trusted {
            recovered.segments.push(segment);
            continue;
        }
        recovered.scanned = true;
        let epochs = &mut recovered.epochs;
        let truncated = segment.recover(index_interval, |h| {
            if epochs
                .last()
                .is_none_or(|&(e, _)| e != h.partition_leader_epoch)
            {
                epochs.push((h.partition_leader_epoch, h.base_offset));
            }
        })?;
        let ends_early = next_base.is_some_and(|next| segment.next_offset() < next);
        recovered.segments.push(segment);
        if truncated > 0 && ends_early {
            // Data after a corrupt batch cannot be trusted to follow on.
            for &later in bases.get(i + 1..).unwrap_or_default() {
                tracing::warn!(dir = %dir.display(), base = later, "recovery: deleting segment after a corrupt one");
                Segment::open(dir, later, now)?.delete()?;
            }
            break;
        }
    }
    Ok(recovered)
}

/// The saved offsets, if a valid checkpoint exists.
fn read_offsets_checkpoint(dir: &Path) -> Option<Offsets> {
    let path = dir.join(OFFSETS_CHECKPOINT);
    let entries = match checkpoint::read(&path) {
        Ok(entries) => entries?,
        Err(e) => {
            tracing::warn!("ignoring the offsets checkpoint, recovering every segment: {e}");
            return None;
        }
    };
    let get = |key: &str| entries.iter().find(|(k, _)| k == key).map(|(_, v)| *v);
    Some(Offsets {
        high_watermark: get("high-watermark")?,
        log_start_offset: get("log-start-offset")?,
        recovery_point: get("recovery-point")?,
        clean_end: get("clean-end"),
    })
}
