//! The Spark Streaming Kafka wordcount, with DStream.print() output.
