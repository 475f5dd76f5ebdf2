//! Our own Kafka client on the `kafka-protocol` codec, shared by the TP tools, broker
//! replication, the HDFS sink and the streaming job.
//!
//! - [`Client`]: bootstrap servers, a metadata cache, a connection per broker, leader routing.
//! - [`Producer`]: record batches (v2) per partition, acks 0/1/all, optional idempotence.
//! - [`Consumer`]: fetches from partition leaders, decodes batches, tracks positions.
//! - [`GroupConsumer`]: a classic consumer-group member (range assignor, heartbeats, commits)
//!   around a [`Consumer`].
//! - [`Admin`]: topics, partitions, consumer-group listings and offsets.

mod admin;
mod client;
mod connection;
mod consumer;
mod error;
mod group;
mod partitioner;
mod producer;
mod records;
mod requests;
mod versions;
mod wire;

pub use admin::{Admin, GroupDescription, GroupListing, GroupMemberDescription, NewTopic};
pub use client::{BrokerInfo, Client, ClientConfig, Metadata, PartitionMetadata, TopicMetadata};
pub use connection::{Connection, ConnectionConfig};
pub use consumer::{Consumer, ConsumerConfig, OffsetReset};
pub use error::{Error, ResponseError, Result};
pub use group::{GroupConfig, GroupConsumer, range_assign};
pub use kafka_protocol::records::Compression;
pub use partitioner::murmur2_partition;
pub use producer::{Acks, Producer, ProducerConfig, RecordMetadata};
pub use records::{ConsumerRecord, ProducerRecord, TopicPartition};
