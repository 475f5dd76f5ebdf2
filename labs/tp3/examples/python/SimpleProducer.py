"""The TP's SimpleProducer.java, with kafka-python: ten records key=value=i to the topic given.

    python3 SimpleProducer.py Hello-Kafka

The broker is localhost:9092 as in the TP; KAFKA_BOOTSTRAP_SERVERS overrides it
(e.g. hadoop-master:9092 from another node, or localhost:9093 for the second broker).
"""
import os
import sys

from kafka import KafkaProducer


def main():
    # Verifier que le topic est donne en argument
    if len(sys.argv) < 2:
        print("Entrer le nom du topic")
        return
    topic_name = sys.argv[1]

    producer = KafkaProducer(
        bootstrap_servers=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092"),
        acks="all",  # acquittement de toutes les repliques
        retries=0,
        batch_size=16384,
        buffer_memory=33554432,
        key_serializer=str.encode,  # StringSerializer
        value_serializer=str.encode,
    )
    for i in range(10):
        producer.send(topic_name, key=str(i), value=str(i))
    print("Message envoye avec succes")
    producer.flush()  # every record acknowledged (acks=all) before closing
    try:
        producer.close()
    except BrokenPipeError:
        # kafka-python 2.2's close() can race its own sender thread, which closes the client's
        # wake-up socket before close() writes to it. Nothing is lost: flush() above returned
        # only once every record was acknowledged.
        pass


if __name__ == "__main__":
    main()
