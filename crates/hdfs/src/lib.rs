//! A WebHDFS-compatible store: a namenode that keeps the namespace (journaled and
//! checkpointed) and answers WebHDFS, datanodes that keep the blocks, and `hdfs dfs` (on the
//! `webhdfs-client` crate).

pub mod config;
pub mod datanode;
pub mod error;
mod gather;
pub mod journal;
pub mod namenode;
pub mod namespace;
pub mod protocol;
pub mod shell;

/// The shutdown signal servers take (re-exported so the binary needs no extra dependency).
pub use tokio_util::sync::CancellationToken;
