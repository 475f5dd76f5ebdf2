//! Our own Kafka client on the kafka-protocol codec, shared by the TP tools, replication, the sink and the stream job.
