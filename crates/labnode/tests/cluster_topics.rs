//! Cluster behaviour seen through real clients: kazoo reads and writes the ZooKeeper layout as
//! Kafka's tools do, kafka-python administers and produces. Covers registration (Kafka 3.x
//! JSON, a duplicate broker.id refused with the holder named), the controller and its
//! takeover, a replication factor above the live brokers, replicas placed by the client, a
//! topic created by writing `/brokers/topics/T`, partition state znodes, producer ids unique
//! across brokers, min.insync.replicas, and deletion.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::Process;

/// Short timeouts so a loss is noticed in seconds.
const EXTRA: &str = "zookeeper.session.timeout.ms=2000\nreplica.lag.time.max.ms=2000";

/// Runs a Python snippet with the test venv (kazoo, kafka-python); `ZK` and `BOOTSTRAP` are
/// set in its globals. Returns its stdout, failing the test with its stderr.
fn python(zk: u16, bootstrap: &str, code: &str) -> Option<String> {
    let py = support::python()?;
    let prelude = format!(
        "import json, time\nZK='127.0.0.1:{zk}'\nBOOTSTRAP='{bootstrap}'\n\
         from kazoo.client import KazooClient\n\
         zk = KazooClient(hosts=ZK); zk.start(timeout=10)\n\
         def until(f, what, t=30):\n    end = time.time() + t\n    while True:\n        \
         v = f()\n        if v: return v\n        \
         assert time.time() < end, 'timed out waiting for ' + what\n        time.sleep(0.1)\n"
    );
    let out = Command::new(py)
        .arg("-c")
        .arg(format!("{prelude}{code}\nzk.stop()\n"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn logs(brokers: &[(Process, u16)]) -> String {
    brokers
        .iter()
        .map(|(p, _)| p.stderr())
        .collect::<Vec<_>>()
        .join("\n-----\n")
}

#[test]
fn registration_controller_topics_and_deletion_through_real_clients() {
    if support::python().is_none() {
        return;
    }
    let (_coordinator, zk) = support::start_coordinator("");
    let mut brokers: Vec<(Process, u16)> = (1..=2)
        .map(|id| support::start_cluster_broker(id, zk, EXTRA))
        .collect();
    let two = format!("127.0.0.1:{},127.0.0.1:{}", brokers[0].1, brokers[1].1);

    // Registration in Kafka 3.x's format; a replication factor of 3 on two brokers is refused
    // with Kafka's message.
    let out = python(
        zk,
        &two,
        r#"
until(lambda: len(zk.get_children('/brokers/ids')) == 2, 'two registrations')
reg = json.loads(zk.get('/brokers/ids/1')[0])
assert reg['version'] == 5 and reg['jmx_port'] == -1, reg
assert reg['endpoints'] == ['PLAINTEXT://127.0.0.1:%d' % reg['port']], reg
assert reg['listener_security_protocol_map'] == {'PLAINTEXT': 'PLAINTEXT'}, reg
assert zk.get('/brokers/ids/1')[1].ephemeralOwner != 0
ctl = json.loads(zk.get('/controller')[0])
assert ctl['version'] == 1 and ctl['brokerid'] in (1, 2), ctl
print('epoch', int(zk.get('/controller_epoch')[0]))
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import InvalidReplicationFactorError
admin = KafkaAdminClient(bootstrap_servers=BOOTSTRAP)
until(lambda: len(admin.describe_cluster()['brokers']) == 2, 'metadata with both brokers')
try:
    admin.create_topics([NewTopic('three', 1, 3)])
    raise SystemExit('RF 3 on 2 brokers was accepted')
except InvalidReplicationFactorError as e:
    assert 'Replication factor: 3 larger than available brokers: 2.' in str(e), e
# Replicas placed by the client: kept as given, partition by partition.
admin.create_topics([NewTopic('placed', -1, -1, replica_assignments={1: [1, 2], 0: [2, 1]})])
placed = json.loads(zk.get('/brokers/topics/placed')[0])['partitions']
assert placed == {'0': [2, 1], '1': [1, 2]}, placed
print('controller', admin.describe_cluster()['controller_id'])
"#,
    )
    .unwrap();
    assert!(out.contains("controller"), "{out}\n{}", logs(&brokers));

    // A second broker with id 1 is refused, naming the live holder.
    let port = support::free_port();
    let dir = support::tempdir::Dir::new();
    support::write_cluster_broker_config(dir.path(), 1, port, zk, EXTRA);
    let config = dir.path().join("server.properties");
    let mut duplicate = Process::start_in(dir, &["broker", "--config", config.to_str().unwrap()]);
    let start = Instant::now();
    let status = loop {
        if let Some(s) = duplicate.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the duplicate exits"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let err = duplicate.stderr();
    assert!(!status.success(), "{err}");
    assert!(
        err.contains("broker.id 1 is already registered at /brokers/ids/1")
            && err.contains(&format!("PLAINTEXT://127.0.0.1:{}", brokers[0].1)),
        "{err}"
    );

    brokers.push(support::start_cluster_broker(3, zk, EXTRA));
    let all = brokers
        .iter()
        .map(|(_, p)| format!("127.0.0.1:{p}"))
        .collect::<Vec<_>>()
        .join(",");

    // A topic written into ZooKeeper as `kafka-topics.sh --zookeeper` does; the controller
    // gives it an id, leaders and ISRs; it carries data.
    let out = python(
        zk,
        &all,
        r#"
until(lambda: len(zk.get_children('/brokers/ids')) == 3, 'three registrations')
zk.create('/brokers/topics/tooled', json.dumps({'version': 2, 'partitions': {'0': [1, 2, 3], '1': [2, 3, 1]}}).encode())
def states():
    try:
        return [json.loads(zk.get('/brokers/topics/tooled/partitions/%d/state' % p)[0]) for p in (0, 1)]
    except Exception:
        return None
s = until(states, 'partition states')
assert [x['leader'] for x in s] == [1, 2], s
assert all(x['version'] == 1 and x['leader_epoch'] == 0 and x['controller_epoch'] >= 1 for x in s), s
assert sorted(s[0]['isr']) == [1, 2, 3], s
assert json.loads(zk.get('/brokers/topics/tooled')[0]).get('topic_id'), 'a topic id was added'
from kafka import KafkaProducer, KafkaConsumer, TopicPartition
p = KafkaProducer(bootstrap_servers=BOOTSTRAP, acks='all')
for i in range(20):
    p.send('tooled', partition=i % 2, value=b'%d' % i).get(timeout=30)
c = KafkaConsumer(bootstrap_servers=BOOTSTRAP, auto_offset_reset='earliest', consumer_timeout_ms=10000)
c.assign([TopicPartition('tooled', 0), TopicPartition('tooled', 1)])
got = sorted(int(m.value) for m in c)
assert got == list(range(20)), got
print('tooled ok')
# Idempotent-producer ids from every broker, all distinct: blocks reserved in ZooKeeper.
from kafka.client_async import KafkaClient
from kafka.protocol.init_producer_id import InitProducerIdRequest
cl = KafkaClient(bootstrap_servers=BOOTSTRAP)
def ask(node):
    until(lambda: cl.poll(timeout_ms=50) is not None and cl.ready(node), 'a connection to %d' % node)
    f = cl.send(node, InitProducerIdRequest[0](transactional_id=None, transaction_timeout_ms=60000))
    cl.poll(future=f, timeout_ms=10000)
    assert f.succeeded() and f.value.error_code == 0, f.value
    return f.value.producer_id
ids = [ask(n) for n in (1, 2, 3) for _ in range(2)]
assert len(set(ids)) == 6, ids
block = json.loads(zk.get('/latest_producer_id_block')[0])
assert block['version'] == 1 and int(block['block_end']) >= max(ids), (block, ids)
print('producer ids', ids)
"#,
    )
    .unwrap();
    assert!(
        out.contains("tooled ok") && out.contains("producer ids"),
        "{out}\n{}",
        logs(&brokers)
    );

    // min.insync.replicas=3 with a broker down: acks=all is refused, acks=1 goes on.
    python(
        zk,
        &all,
        r#"
from kafka.admin import KafkaAdminClient, NewTopic
admin = KafkaAdminClient(bootstrap_servers=BOOTSTRAP)
admin.create_topics([NewTopic('strict', 1, 3, topic_configs={'min.insync.replicas': '3'})])
until(lambda: zk.exists('/brokers/topics/strict/partitions/0/state'), 'state of strict')
"#,
    )
    .unwrap();
    let victim = python(
        zk,
        &all,
        "s = json.loads(zk.get('/brokers/topics/strict/partitions/0/state')[0])\n\
         print([b for b in s['isr'] if b != s['leader']][0])",
    )
    .unwrap();
    let victim: usize = victim.trim().parse().unwrap();
    let (process, port) = brokers.remove(victim - 1);
    let dir = support::stop(process);
    let out = python(
        zk,
        &all,
        r#"
until(lambda: len(json.loads(zk.get('/brokers/topics/strict/partitions/0/state')[0])['isr']) == 2, 'ISR shrink')
from kafka import KafkaProducer
from kafka.errors import NotEnoughReplicasError
p = KafkaProducer(bootstrap_servers=BOOTSTRAP, acks='all', retries=0)
try:
    p.send('strict', b'x').get(timeout=30)
    raise SystemExit('acks=all accepted with 2 of 3 in sync')
except NotEnoughReplicasError:
    print('refused')
KafkaProducer(bootstrap_servers=BOOTSTRAP, acks=1).send('strict', b'y').get(timeout=30)
print('acks=1 ok')
"#,
    )
    .unwrap();
    assert!(
        out.contains("refused") && out.contains("acks=1 ok"),
        "{out}"
    );
    brokers.insert(victim - 1, (support::restart_broker(dir, port), port));

    // The controller's loss: another broker takes over with a higher epoch.
    let controller = python(
        zk,
        &all,
        "until(lambda: len(json.loads(zk.get('/brokers/topics/strict/partitions/0/state')[0])['isr']) == 3, 'ISR expand')\n\
         print(json.loads(zk.get('/controller')[0])['brokerid'], int(zk.get('/controller_epoch')[0]))",
    )
    .unwrap();
    let mut words = controller.split_whitespace();
    let old: usize = words.next().unwrap().parse().unwrap();
    let epoch: i32 = words.next().unwrap().parse().unwrap();
    let (process, _) = brokers.remove(old - 1);
    let _killed = process.kill9();
    let rest = brokers
        .iter()
        .map(|(_, p)| format!("127.0.0.1:{p}"))
        .collect::<Vec<_>>()
        .join(",");
    let out = python(
        zk,
        &rest,
        &format!(
            r#"
def new_controller():
    try:
        c = json.loads(zk.get('/controller')[0])['brokerid']
    except Exception:
        return None
    return c if c != {old} else None
c = until(new_controller, 'a new controller')
assert int(zk.get('/controller_epoch')[0]) > {epoch}
from kafka.admin import KafkaAdminClient
def admin_seeing_it():
    try:
        a = KafkaAdminClient(bootstrap_servers=BOOTSTRAP)
        d = a.describe_cluster()
    except Exception:
        return None
    return a if d['controller_id'] == c and len(d['brokers']) == 2 else None
admin = until(admin_seeing_it, 'metadata with the new controller')
s = json.loads(zk.get('/brokers/topics/tooled/partitions/0/state')[0])
assert s['leader'] != {old} and {old} not in s['isr'], s
# Deletion through the new controller: znodes and logs go.
admin.delete_topics(['tooled'])
until(lambda: not zk.exists('/brokers/topics/tooled'), 'the topic znode gone')
assert not zk.exists('/admin/delete_topics/tooled')
print('takeover ok', c)
"#
        ),
    )
    .unwrap();
    assert!(out.contains("takeover ok"), "{out}\n{}", logs(&brokers));
    let start = Instant::now();
    for (p, _) in &brokers {
        let dir = p.dir.path().join("kafka-logs");
        while dir.join("tooled-0").exists() || dir.join("tooled-1").exists() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "{} still holds the deleted topic's logs",
                dir.display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// CreatePartitions in a cluster: kafka-python grows a 2-replica topic from 1 to 3 partitions;
/// the assignment in ZooKeeper keeps the topic id and continues Kafka's round-robin, the
/// controller elects the new partitions' leaders, and the new partitions take acks=all records.
#[test]
fn create_partitions_extends_the_assignment_in_zookeeper() {
    if support::python().is_none() {
        return;
    }
    let (_coordinator, zk) = support::start_coordinator("");
    let brokers: Vec<(Process, u16)> = (1..=2)
        .map(|id| support::start_cluster_broker(id, zk, EXTRA))
        .collect();
    let two = format!("127.0.0.1:{},127.0.0.1:{}", brokers[0].1, brokers[1].1);
    let out = python(
        zk,
        &two,
        r#"
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewPartitions, NewTopic
from kafka.errors import InvalidPartitionsError
until(lambda: len(zk.get_children('/brokers/ids')) == 2, 'two registrations')
admin = KafkaAdminClient(bootstrap_servers=BOOTSTRAP)
until(lambda: len(admin.describe_cluster()['brokers']) == 2, 'metadata with both brokers')
admin.create_topics([NewTopic('grow', 1, 2)])
before = json.loads(zk.get('/brokers/topics/grow')[0])
admin.create_partitions({'grow': NewPartitions(3)})
after = json.loads(zk.get('/brokers/topics/grow')[0])
assert after['topic_id'] == before['topic_id'], (before, after)
assert after['partitions']['0'] == before['partitions']['0'], (before, after)
assert sorted(after['partitions']) == ['0', '1', '2'], after
leaders = [after['partitions'][p][0] for p in ('0', '1', '2')]
assert leaders[1] != leaders[0] and leaders[2] == leaders[0], after
for p in ('1', '2'):
    assert sorted(after['partitions'][p]) == [1, 2], after
try:
    admin.create_partitions({'grow': NewPartitions(2)})
    raise SystemExit('shrinking was accepted')
except InvalidPartitionsError:
    pass
until(lambda: all(zk.exists('/brokers/topics/grow/partitions/%d/state' % p) for p in (1, 2)), 'new partition states')
producer = KafkaProducer(bootstrap_servers=BOOTSTRAP, acks='all')
for p in (0, 1, 2):
    producer.send('grow', value=b'p%d' % p, partition=p).get(timeout=30)
producer.close()
consumer = KafkaConsumer(bootstrap_servers=BOOTSTRAP, consumer_timeout_ms=8000)
tps = [TopicPartition('grow', p) for p in (0, 1, 2)]
consumer.assign(tps)
consumer.seek_to_beginning(*tps)
got = sorted((m.partition, m.value) for m in consumer)
assert got == [(0, b'p0'), (1, b'p1'), (2, b'p2')], got
print('grown', after['partitions'])
"#,
    )
    .unwrap();
    assert!(out.contains("grown"), "{out}\n{}", logs(&brokers));
}
