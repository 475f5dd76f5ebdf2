"""kafka-python 2.2 against the broker: admin create/describe/delete, the idempotent producer,
a KafkaConsumer in a group with auto-commit. Prints OK on success; any failure raises."""
import sys
import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic

bootstrap = sys.argv[1]
N = 3000
admin = KafkaAdminClient(bootstrap_servers=bootstrap)
admin.create_topics([NewTopic("kp", num_partitions=3, replication_factor=1,
                              topic_configs={"retention.ms": "3600000"})])
assert "kp" in admin.list_topics()
configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "kp")])
entries = {e[0]: e[1] for e in configs[0].resources[0][4]}
assert entries["retention.ms"] == "3600000", entries
assert entries["cleanup.policy"] == "delete", entries

producer = KafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
for i in range(N):
    producer.send("kp", key=b"k%d" % i, value=b"v%d" % i, headers=[("seq", str(i).encode())])
producer.flush()
producer.close()

def consume(expected):
    consumer = KafkaConsumer("kp", bootstrap_servers=bootstrap, group_id="kp-group",
                             auto_offset_reset="earliest", enable_auto_commit=True,
                             auto_commit_interval_ms=200, consumer_timeout_ms=8000)
    seen, last = {}, {}
    for m in consumer:
        i = int(m.key[1:])
        assert m.value == b"v%d" % i and m.headers == [("seq", str(i).encode())], m
        assert last.get(m.partition, -1) < m.offset, "offsets go backwards"
        last[m.partition] = m.offset
        seen[i] = seen.get(i, 0) + 1
        if len(seen) == expected:
            break
    time.sleep(0.5)  # one more auto-commit interval
    consumer.close()  # commits on close too
    return seen

seen = consume(N)
assert len(seen) == N and all(n == 1 for n in seen.values()), (len(seen), N)
again = consume(0)
assert again == {}, "the group resumed after its committed offsets: %d re-read" % len(again)
groups = [g[0] for g in admin.list_consumer_groups()]
assert "kp-group" in groups, groups
admin.delete_topics(["kp"])
for _ in range(50):
    if "kp" not in admin.list_topics():
        break
    time.sleep(0.1)
assert "kp" not in admin.list_topics()
print("OK", len(seen))
