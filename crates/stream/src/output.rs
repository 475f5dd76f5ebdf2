//! Where a batch goes once counted: the printed text (stdout, for `>> out`), and optionally a
//! Kafka topic and a file per batch in HDFS. The job commits offsets only after all of them.

pub mod topic;
pub mod webhdfs;

use std::io::Write;

use crate::Error;
use crate::pipeline::Output;
use crate::print::render_batch;

/// Every destination of the job's batches.
pub struct Outputs {
    /// The `DStream.print()` text goes here (stdout in the job).
    pub printed: Box<dyn Write + Send + Sync>,
    /// The counts as records (key word, value count), when `--output-topic` is set.
    pub topic: Option<topic::TopicOutput>,
    /// One file per batch, when `--hdfs-dir` is set.
    pub hdfs: Option<webhdfs::HdfsOutput>,
}

impl std::fmt::Debug for Outputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outputs")
            .field("topic", &self.topic)
            .field("hdfs", &self.hdfs)
            .finish_non_exhaustive()
    }
}

impl Outputs {
    /// Writes one batch everywhere; returns once each destination has it (the printed text
    /// flushed, the records acknowledged, the HDFS file in place).
    pub async fn write(&mut self, output: &Output) -> Result<(), Error> {
        // One write of the whole batch, so a kill leaves whole batches in `out`.
        let text = render_batch(output.time, &output.counts);
        self.printed.write_all(text.as_bytes())?;
        self.printed.flush()?;
        if let Some(topic) = &mut self.topic {
            topic.send(output).await?;
        }
        if let Some(hdfs) = &self.hdfs {
            hdfs.write(output).await?;
        }
        Ok(())
    }
}
