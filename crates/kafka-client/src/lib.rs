//! Our own Kafka client on the `kafka-protocol` codec, shared by the TP tools, broker
//! replication, the HDFS sink and the streaming job.
//!
//! - [`Client`]: bootstrap servers, a metadata cache, a connection per broker, leader routing.
//! - [`Producer`]: record batches (v2) per partition, acks 0/1/all, optional idempotence.
//! - [`Consumer`]: fetches from partition leaders, decodes batches, tracks positions.
//! - [`GroupConsumer`]: a classic consumer-group member (range assignor, heartbeats, commits)
//!   around a [`Consumer`].
//! - [`Admin`]: topics, partitions, topic configs, consumer-group listings and offsets.
//! - [`Connection`]: one pipelined connection, for requests the types above do not cover
//!   (build them with the `kafka-protocol` messages; [`Connection::version`] picks the version).
//!
//! Every request is built by one I/O-free function (`requests.rs`) tested to encode at every
//! version the client may negotiate; a connection picks the highest version both sides speak.
//!
//! ```no_run
//! use kafka_client::*;
//! # async fn demo() -> Result<()> {
//! let client = Client::connect("localhost:9092", ClientConfig::default()).await?;
//!
//! let mut producer = Producer::new(client.clone(), ProducerConfig::default()).await?;
//! producer.send(ProducerRecord::new("Hello-Kafka", "hello").with_key("k")).await?;
//! producer.flush().await?; // every record acknowledged (acks=all by default)
//!
//! let mut group = GroupConfig::new("test");
//! group.consumer.auto_offset_reset = OffsetReset::Earliest;
//! let mut consumer = GroupConsumer::subscribe(client, group, vec!["Hello-Kafka".into()]).await?;
//! loop {
//!     for r in consumer.poll().await? {
//!         println!("offset = {}, value = {:?}", r.offset, r.value);
//!     }
//!     # break;
//! }
//! consumer.close().await // commits (auto-commit on by default) and leaves the group
//! # }
//! ```

mod admin;
pub mod bounds;
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
pub mod zookeeper;

pub use admin::{Admin, GroupDescription, GroupListing, GroupMemberDescription, NewTopic};
pub use client::{BrokerInfo, Client, ClientConfig, Metadata, PartitionMetadata, TopicMetadata};
pub use connection::{Connection, ConnectionConfig, Pending};
pub use consumer::{Consumer, ConsumerConfig, OffsetReset};
pub use error::{Error, ResponseError, Result};
pub use group::{GroupConfig, GroupConsumer, range_assign};
pub use kafka_protocol::records::Compression;
pub use partitioner::murmur2_partition;
pub use producer::{Acks, Producer, ProducerConfig, RecordMetadata};
pub use records::{ConsumerRecord, ProducerRecord, TopicPartition};
