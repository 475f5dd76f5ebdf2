"""The TP's SimpleConsumer.java, with kafka-python: group "test", auto-commit every second,
prints every record of the topic given until Ctrl-C.

    python3 SimpleConsumer.py Hello-Kafka

The broker is localhost:9092 as in the TP; KAFKA_BOOTSTRAP_SERVERS overrides it.
"""
import os
import signal
import sys

from kafka import KafkaConsumer


def main():
    if len(sys.argv) < 2:
        print("Entrer le nom du topic")
        return
    topic_name = sys.argv[1]

    consumer = KafkaConsumer(
        bootstrap_servers=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092"),
        group_id="test",
        enable_auto_commit=True,
        auto_commit_interval_ms=1000,
        session_timeout_ms=30000,
        key_deserializer=lambda b: b.decode() if b is not None else None,  # StringDeserializer
        value_deserializer=lambda b: b.decode() if b is not None else None,
    )
    # `kill` stops it as Ctrl-C does: it leaves its group at once, so the next consumer of
    # group "test" gets the partition without waiting for the session timeout.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    # Kafka Consumer va souscrire a la liste de topics ici
    consumer.subscribe([topic_name])
    # Afficher le nom du topic
    print("Souscris au topic " + topic_name, flush=True)
    try:
        while True:
            records = consumer.poll(timeout_ms=100)
            for batch in records.values():
                for record in batch:
                    # Afficher l'offset, clef et valeur des enregistrements du consommateur
                    print("offset = %d, key = %s, value = %s" % (record.offset, record.key, record.value),
                          flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()


if __name__ == "__main__":
    main()
