//! The Kafka to HDFS sink, in Kafka Connect's style.
