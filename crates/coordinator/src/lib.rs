//! A ZooKeeper-wire-compatible coordinator.
//!
//! Layers, bottom up: [`jute`] and [`proto`] (the wire codec), [`path`], [`tree`], [`watch`],
//! [`session`] and [`txn`] (state), [`machine`] (the I/O-free state machine driven by requests
//! and explicit times), [`snapshot`] and [`store`] (durability), [`config`], [`fourlw`] and
//! [`server`] (tokio: listener, connections, group commit).

pub mod config;
pub mod fourlw;
pub mod jute;
pub mod machine;
pub mod path;
pub mod proto;
pub mod server;
pub mod session;
pub mod snapshot;
pub mod store;
pub mod tree;
pub mod txn;
pub mod watch;

pub use config::Config;
pub use server::{Server, serve};
