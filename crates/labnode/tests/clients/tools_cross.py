"""Independent clients for the TP tools' tests: kafka-python and kazoo.

  produce BOOTSTRAP TOPIC N         kafka-python writes key=k<i>, value=v<i>; prints {key: partition}
  consume BOOTSTRAP TOPIC N         kafka-python reads N records from the beginning; prints
                                    [[key, value, partition], ...] in arrival order
  register ZK_HOSTPORT ID HOST PORT kazoo writes a Kafka-style /brokers/ids/ID registration
"""
import json
import sys


def produce(bootstrap, topic, n):
    from kafka import KafkaProducer

    p = KafkaProducer(bootstrap_servers=bootstrap)
    futures = {f"k{i}": p.send(topic, key=f"k{i}".encode(), value=f"v{i}".encode()) for i in range(n)}
    p.flush()
    print(json.dumps({k: f.get(timeout=30).partition for k, f in futures.items()}))
    p.close()


def consume(bootstrap, topic, n):
    from kafka import KafkaConsumer

    c = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                      consumer_timeout_ms=20000, group_id=None)
    out = []
    for m in c:
        key = m.key.decode() if m.key is not None else None
        out.append([key, m.value.decode(), m.partition])
        if len(out) >= n:
            break
    c.close()
    print(json.dumps(out))


def register(zk, broker_id, host, port):
    from kazoo.client import KazooClient

    z = KazooClient(hosts=zk)
    z.start(timeout=15)
    data = {
        "listener_security_protocol_map": {"PLAINTEXT": "PLAINTEXT"},
        "endpoints": [f"PLAINTEXT://{host}:{port}"],
        "jmx_port": -1,
        "host": host,
        "timestamp": "0",
        "port": int(port),
        "version": 4,
    }
    z.create(f"/brokers/ids/{broker_id}", json.dumps(data).encode(), makepath=True)
    z.stop()
    print("registered")


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "produce":
        produce(args[0], args[1], int(args[2]))
    elif cmd == "consume":
        consume(args[0], args[1], int(args[2]))
    elif cmd == "register":
        register(args[0], args[1], args[2], args[3])
    else:
        sys.exit(f"unknown command {cmd}")
