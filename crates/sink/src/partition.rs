//! One partition's files: records gathered in memory, committed as one HDFS file by a CREATE of
//! a temp file then one RENAME into place. What HDFS holds is the truth: on (re)start a
//! partition resumes after the largest end offset among its committed files, and records
//! below it (re-delivered because consumer offsets are committed only after the rename) are
//! skipped. Hence each record lands in HDFS exactly once, whatever is killed when.

use std::time::{Duration, Instant};

use kafka_client::ConsumerRecord;
use webhdfs_client::{ClientError, WebHdfs};

use crate::config::SinkConfig;
use crate::files::{committed_name, encode, parse_committed, partition_dir, temp_dir};

/// The records of a partition not yet in HDFS.
#[derive(Debug)]
pub struct PartitionFiles {
    topic: String,
    partition: i32,
    /// The offset after the last one in HDFS (`None`: nothing stored yet).
    next: Option<i64>,
    /// First and last offsets buffered.
    range: Option<(i64, i64)>,
    count: usize,
    buf: Vec<u8>,
    opened: Instant,
}

impl PartitionFiles {
    /// Reads what HDFS already holds for this partition and clears temp files a crash left.
    pub async fn recover(
        hdfs: &WebHdfs,
        config: &SinkConfig,
        topic: &str,
        partition: i32,
    ) -> Result<PartitionFiles, ClientError> {
        let dir = partition_dir(&config.topics_dir, topic, partition);
        hdfs.mkdirs(&dir).await?;
        let next = hdfs
            .list(&dir)
            .await?
            .iter()
            .filter_map(|s| parse_committed(&s.path_suffix, topic, partition))
            .map(|(_, end)| end + 1)
            .max();
        hdfs.delete(&temp_dir(&config.topics_dir, topic, partition), true)
            .await?;
        tracing::info!(topic, partition, ?next, "partition recovered from HDFS");
        Ok(PartitionFiles {
            topic: topic.to_string(),
            partition,
            next,
            range: None,
            count: 0,
            buf: Vec::new(),
            opened: Instant::now(),
        })
    }

    /// Buffers a record unless HDFS already has it; true when the file is full.
    pub fn push(&mut self, config: &SinkConfig, record: &ConsumerRecord) -> bool {
        let expected = self.range.map(|(_, last)| last + 1).or(self.next);
        match expected {
            Some(e) if record.offset < e => return false, // already stored or buffered
            Some(e) if record.offset > e => {
                tracing::warn!(topic = %self.topic, partition = self.partition, expected = e,
                    got = record.offset, "offsets skipped (compacted or deleted records)");
            }
            _ => {}
        }
        if self.range.is_none() {
            self.opened = Instant::now();
        }
        let start = self.range.map_or(record.offset, |(s, _)| s);
        self.range = Some((start, record.offset));
        self.count += 1;
        encode(config.format, record, &mut self.buf);
        self.count >= config.flush_size
    }

    /// True when a partial file is older than `rotate.interval.ms`.
    pub fn due(&self, rotate: Option<Duration>) -> bool {
        self.count > 0 && rotate.is_some_and(|r| self.opened.elapsed() >= r)
    }

    /// True when records are buffered.
    pub fn is_dirty(&self) -> bool {
        self.count > 0
    }

    /// Writes the buffered records as one committed file. Returns the offset to commit to
    /// Kafka (the one after the file's last), or `None` when nothing was buffered. On error
    /// the records stay buffered and the call can be repeated.
    pub async fn commit(
        &mut self,
        hdfs: &WebHdfs,
        config: &SinkConfig,
    ) -> Result<Option<i64>, ClientError> {
        let Some((start, end)) = self.range else {
            return Ok(None);
        };
        let ext = config.format.extension();
        let tmp = format!(
            "{}/{}_tmp.{ext}",
            temp_dir(&config.topics_dir, &self.topic, self.partition),
            uuid::Uuid::new_v4().simple()
        );
        hdfs.create(&tmp, self.buf.clone(), true).await?;
        let name = committed_name(&self.topic, self.partition, start, end, config.format);
        let path = format!(
            "{}/{name}",
            partition_dir(&config.topics_dir, &self.topic, self.partition)
        );
        if !hdfs.rename(&tmp, &path).await? {
            // Refused: is it there already (a retry after a lost answer)? Else a real failure.
            if hdfs.status(&path).await?.is_none() {
                return Err(ClientError::Protocol(format!(
                    "RENAME {tmp} -> {path} refused"
                )));
            }
            let _ = hdfs.delete(&tmp, false).await;
        }
        tracing::info!(file = %path, records = self.count, "committed");
        self.next = Some(end + 1);
        self.range = None;
        self.count = 0;
        self.buf.clear();
        Ok(Some(end + 1))
    }
}
