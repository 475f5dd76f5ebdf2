"""confluent-kafka (librdkafka) against the broker: idempotent producer with keys and headers,
a group consumer; every message back exactly once, in order per partition. Prints OK."""
import sys

from confluent_kafka import Consumer, Producer

bootstrap = sys.argv[1]
N = 5000
producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5})
errors = []
for i in range(N):
    producer.produce("ck", key=b"k%d" % i, value=b"v%d" % i, headers=[("seq", str(i).encode())],
                     on_delivery=lambda err, msg: err and errors.append(err))
    producer.poll(0)
assert producer.flush(30) == 0 and not errors, errors

consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "ck-group",
                     "auto.offset.reset": "earliest"})
consumer.subscribe(["ck"])
seen, last = {}, {}
while len(seen) < N:
    m = consumer.poll(30)
    assert m is not None, "only %d of %d messages" % (len(seen), N)
    assert m.error() is None, m.error()
    i = int(m.key()[1:])
    assert m.value() == b"v%d" % i and m.headers() == [("seq", str(i).encode())]
    assert last.get(m.partition(), -1) < m.offset()
    last[m.partition()] = m.offset()
    seen[i] = seen.get(i, 0) + 1
consumer.close()
assert all(n == 1 for n in seen.values())
print("OK", len(seen))
