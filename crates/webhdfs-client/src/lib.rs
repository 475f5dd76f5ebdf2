//! A WebHDFS client: what `hdfs dfs`, the Kafka sink and the stream job use to talk to any
//! WebHDFS endpoint, ours or Apache's. It is a shared client like `kafka-client`, not a service,
//! so the service crates can use it without depending on each other (DESIGN.md, "Shape").
//!
//! [`path`] holds the HDFS path rules both sides of WebHDFS apply: the client checks and
//! percent-encodes with them, the namenode decodes and validates with them.

mod client;
pub mod path;

pub use client::{ClientError, ContentSummary, FileStatus, WebHdfs};
