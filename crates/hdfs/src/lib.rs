//! A WebHDFS-compatible store: a namenode that keeps the namespace (journaled and
//! checkpointed) and answers WebHDFS, and datanodes that keep the blocks.

pub mod client;
pub mod config;
pub mod error;
pub mod journal;
pub mod namespace;
pub mod path;
pub mod datanode;
pub mod namenode;
pub mod protocol;
