//! The Kafka to HDFS sink, in Kafka Connect's style: `topics`, `topics.dir`, `flush.size`,
//! `rotate.interval.ms`, `format`; files
//! `<topics.dir>/<topic>/partition=<p>/<topic>+<p>+<start>+<end>.<ext>` committed by one atomic
//! RENAME each, exactly once across crashes of the sink, the namenode or a datanode.

pub mod config;
pub mod files;
pub mod partition;
pub mod run;

pub use config::SinkConfig;
pub use run::run;
