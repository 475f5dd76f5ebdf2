"""Creates a topic and produces N values `msg-000000`… with kafka-python, slowly enough for the
test to kill things meanwhile. Prints `done` at the end.

Usage: sink_produce.py BOOTSTRAP TOPIC PARTITIONS N SECONDS
"""
import sys
import time

from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic

bootstrap, topic, partitions, n, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
admin = KafkaAdminClient(bootstrap_servers=bootstrap)
admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
admin.close()
producer = KafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
batch = 50
for i in range(n):
    producer.send(topic, value=b"msg-%06d" % i)
    if i % batch == batch - 1:
        producer.flush()
        time.sleep(seconds * batch / n)
producer.flush()
producer.close()
print("done", flush=True)
