//! The TP's `SimpleProducer.java` with rdkafka: ten records key = value = i to the topic given.
//!
//! `simple_producer Hello-Kafka`; the broker is `localhost:9092` as in the TP, and
//! `KAFKA_BOOTSTRAP_SERVERS` overrides it.

use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

fn main() -> Result<(), KafkaError> {
    // Verifier que le topic est donne en argument
    let Some(topic_name) = std::env::args().nth(1) else {
        println!("Entrer le nom du topic");
        return Ok(());
    };
    let bootstrap =
        std::env::var("KAFKA_BOOTSTRAP_SERVERS").unwrap_or_else(|_| "localhost:9092".into());
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("acks", "all")
        .set("retries", "0")
        .set("batch.size", "16384")
        .set("queue.buffering.max.kbytes", "32768") // buffer.memory
        .create()?;
    for i in 0..10 {
        let text = i.to_string();
        let record = BaseRecord::to(&topic_name).key(&text).payload(&text);
        producer.send(record).map_err(|(e, _)| e)?;
    }
    // close(): wait until every record is acknowledged.
    producer.flush(Duration::from_secs(30))?;
    println!("Message envoye avec succes");
    Ok(())
}
