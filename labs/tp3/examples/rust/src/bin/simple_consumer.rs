//! The TP's `SimpleConsumer.java` with rdkafka: group `test`, auto-commit every second, prints
//! every record of the topic given until Ctrl-C.
//!
//! `simple_consumer Hello-Kafka`; the broker is `localhost:9092` as in the TP, and
//! `KAFKA_BOOTSTRAP_SERVERS` overrides it.

use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;

/// A key or value as Java's StringDeserializer shows it ("null" when absent).
fn text(bytes: Option<&[u8]>) -> String {
    bytes.map_or_else(
        || "null".into(),
        |b| String::from_utf8_lossy(b).into_owned(),
    )
}

fn main() -> Result<(), KafkaError> {
    let Some(topic_name) = std::env::args().nth(1) else {
        println!("Entrer le nom du topic");
        return Ok(());
    };
    let bootstrap =
        std::env::var("KAFKA_BOOTSTRAP_SERVERS").unwrap_or_else(|_| "localhost:9092".into());
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("group.id", "test")
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", "1000")
        .set("session.timeout.ms", "30000")
        .create()?;
    // Kafka Consumer va souscrire a la liste de topics ici
    consumer.subscribe(&[&topic_name])?;
    // Afficher le nom du topic
    println!("Souscris au topic {topic_name}");
    loop {
        match consumer.poll(Duration::from_millis(100)) {
            None => {}
            Some(Ok(record)) => {
                // Afficher l'offset, clef et valeur des enregistrements du consommateur
                println!(
                    "offset = {}, key = {}, value = {}",
                    record.offset(),
                    text(record.key()),
                    text(record.payload())
                );
            }
            Some(Err(e)) => eprintln!("{e}"),
        }
    }
}
