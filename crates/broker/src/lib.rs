//! A Kafka-wire-compatible broker: topics, partitions, replication, consumer groups.
