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

pub mod clock;
pub mod counts;
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
}
