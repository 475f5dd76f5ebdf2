"""aiokafka against the broker: idempotent producer, group consumer; every message back
exactly once, in order per partition. Prints OK."""
import asyncio
import sys

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

bootstrap = sys.argv[1]
N = 3000

async def main():
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        batch = [await producer.send("ak", key=b"k%d" % i, value=b"v%d" % i,
                                     headers=[("seq", str(i).encode())]) for i in range(N)]
        await asyncio.gather(*batch)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer("ak", bootstrap_servers=bootstrap, group_id="ak-group",
                                auto_offset_reset="earliest")
    await consumer.start()
    seen, last = {}, {}
    try:
        while len(seen) < N:
            got = await asyncio.wait_for(consumer.getmany(timeout_ms=1000), 30)
            for tp, messages in got.items():
                for m in messages:
                    i = int(m.key[1:])
                    assert m.value == b"v%d" % i
                    assert list(m.headers) == [("seq", str(i).encode())], m.headers
                    assert last.get(tp.partition, -1) < m.offset
                    last[tp.partition] = m.offset
                    seen[i] = seen.get(i, 0) + 1
    finally:
        await consumer.stop()
    assert len(seen) == N and all(n == 1 for n in seen.values())
    print("OK", len(seen))

asyncio.run(main())
