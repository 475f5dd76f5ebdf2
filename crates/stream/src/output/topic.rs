//! The counts of each batch as Kafka records: key the word, value the count in decimal (the TP:
//! "publier les résultats dans un autre topic Kafka").

use kafka_client::{Client, Producer, ProducerConfig, ProducerRecord};

use crate::Error;
use crate::pipeline::Output;

/// A producer writing every `(word, count)` of a batch to one topic, acks=all.
#[derive(Debug)]
pub struct TopicOutput {
    topic: String,
    producer: Producer,
}

impl TopicOutput {
    /// A producer for `topic` on the job's cluster.
    pub async fn new(client: Client, topic: String) -> Result<TopicOutput, Error> {
        let producer = Producer::new(client, ProducerConfig::default())
            .await
            .map_err(|source| Error::Kafka {
                what: format!("start a producer for {topic}"),
                source,
            })?;
        Ok(TopicOutput { topic, producer })
    }

    /// Sends the batch's counts and waits for their acknowledgement.
    pub async fn send(&mut self, output: &Output) -> Result<(), Error> {
        let kafka = |source| Error::Kafka {
            what: format!("publish the batch of {} ms to {}", output.time, self.topic),
            source,
        };
        for (word, count) in &output.counts {
            let record =
                ProducerRecord::new(self.topic.clone(), count.to_string()).with_key(word.clone());
            self.producer.send(record).await.map_err(kafka)?;
        }
        self.producer.flush().await.map_err(kafka)?;
        Ok(())
    }
}
