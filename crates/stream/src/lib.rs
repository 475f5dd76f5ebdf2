//! The TP's Spark Streaming Kafka wordcount (`SparkKafkaWordCount`), without Spark.
//!
//! It reads a Kafka topic as a member of a consumer group, cuts the stream into micro-batches on
//! multiples of the batch interval, counts the words of each batch (split as Java's
//! `split(" ")`), and prints each batch exactly as Spark's `DStream.print()` does, so the TP's
//! `>> out` file looks the same. It can also publish the counts to a topic and store each batch
//! in HDFS through WebHDFS, and count over sliding windows like `reduceByKeyAndWindow`.
//!
//! The core is I/O-free and tested on its own: [`split`], [`spark_order`], [`counts`],
//! [`clock`], [`window`], [`print`] and the commit-after-output state machine [`pipeline`].
//! The commands, the output order and what a restart guarantees are in the crate's README.md.

pub mod clock;
pub mod committer;
pub mod consume;
pub mod counts;
pub mod job;
pub mod output;
pub mod pipeline;
pub mod print;
pub mod spark_order;
pub mod split;
pub mod window;

/// What can go wrong in the streaming job.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting is out of range (the message names it and its value).
    #[error("{0}")]
    Config(String),
    /// The brokers could not be found from the ZooKeeper quorum.
    #[error("{0}")]
    Discovery(#[from] kafka_client::zookeeper::ZooKeeperError),
    /// Talking to Kafka failed (`what` says which step).
    #[error("{what}: {source}")]
    Kafka {
        /// The step that failed.
        what: String,
        /// The client's error.
        source: kafka_client::Error,
    },
    /// The coordinator refused a commit.
    #[error("{0}")]
    Commit(String),
    /// Writing a batch to HDFS failed.
    #[error("WebHDFS: {0}")]
    Hdfs(String),
    /// Writing the printed batches failed (stdout closed, disk full).
    #[error("writing the batch output: {0}")]
    Output(#[from] std::io::Error),
}
