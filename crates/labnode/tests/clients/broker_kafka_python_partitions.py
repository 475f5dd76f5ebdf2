"""kafka-python 2.2's KafkaAdminClient.create_partitions against the broker: a topic grows from
1 to 3 partitions and the new partition takes records; validate_only changes nothing; shrinking
and unknown topics are Kafka's errors. Prints OK on success; any failure raises."""
import sys

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewPartitions, NewTopic
from kafka.errors import InvalidPartitionsError, UnknownTopicOrPartitionError

bootstrap = sys.argv[1]
admin = KafkaAdminClient(bootstrap_servers=bootstrap)
admin.create_topics([NewTopic("grow", num_partitions=1, replication_factor=1)])


def partition_count():
    [topic] = admin.describe_topics(["grow"])
    assert topic["error_code"] == 0, topic
    return len(topic["partitions"])


admin.create_partitions({"grow": NewPartitions(3)})
assert partition_count() == 3, partition_count()

admin.create_partitions({"grow": NewPartitions(5)}, validate_only=True)
assert partition_count() == 3, "validate_only must not grow the topic"

for count in (3, 2):
    try:
        admin.create_partitions({"grow": NewPartitions(count)})
        raise AssertionError("growing to %d partitions should fail" % count)
    except InvalidPartitionsError:
        pass

try:
    admin.create_partitions({"no-such-topic": NewPartitions(2)})
    raise AssertionError("an unknown topic should fail")
except UnknownTopicOrPartitionError:
    pass

producer = KafkaProducer(bootstrap_servers=bootstrap)
producer.send("grow", value=b"in the new partition", partition=2).get(timeout=10)
producer.close()
consumer = KafkaConsumer(bootstrap_servers=bootstrap, consumer_timeout_ms=8000)
tp = TopicPartition("grow", 2)
consumer.assign([tp])
consumer.seek_to_beginning(tp)
values = [m.value for m in consumer]
consumer.close()
assert values == [b"in the new partition"], values
admin.close()
print("OK")
