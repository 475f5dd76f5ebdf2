//! A Kafka-wire-compatible broker: topics, partitions, replication, consumer groups.
//!
//! [`BrokerServer`] binds the listeners of a [`config::BrokerConfig`] (Kafka's own
//! `server.properties`) and serves real Kafka clients: requests are framed by [`frame`],
//! decoded with the `kafka-protocol` crate, and routed through one table (`api`) to one handler
//! per API. Record batches stay opaque bytes from the producer's request to the partition log
//! ([`log`]) and back out in fetch responses.

mod api;
mod bounds;
mod broker;
pub mod cluster;
pub mod config;
mod connection;
pub mod frame;
mod groups;
pub mod log;
mod producers;
mod response;
mod server;
mod session;
mod topics;

pub use broker::StartError;
pub use server::BrokerServer;
