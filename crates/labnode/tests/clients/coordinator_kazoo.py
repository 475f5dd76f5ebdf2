"""kazoo against the coordinator: CRUD, watches, ephemeral and sequential nodes, transactions,
and the Lock and Election recipes with several clients.

Usage: coordinator_kazoo.py HOST:PORT. Exits non-zero with a message on the first failure."""
import sys
import threading
import time

from kazoo.client import KazooClient
from kazoo.exceptions import (BadVersionError, NodeExistsError, NoNodeError,
                              NotEmptyError, RolledBackError,
                              RuntimeInconsistency)
from kazoo.protocol.states import EventType

HOSTS = sys.argv[1]
# A root of its own, so the script can run twice against the same server.
R = "/k%d" % int(time.time() * 1000)


def client():
    c = KazooClient(hosts=HOSTS, timeout=10)
    c.start(timeout=10)
    return c


def check(cond, what):
    if not cond:
        print("FAILED:", what)
        sys.exit(1)
    print("ok:", what)


def wait(event, what):
    check(event.wait(10), what)


def crud(zk):
    zk.ensure_path(R + "/crud")
    path = zk.create(R + "/crud/a", b"one")
    check(path == R + "/crud/a", "create returns the path")
    data, stat = zk.get(R + "/crud/a")
    check(data == b"one" and stat.version == 0 and stat.dataLength == 3, "get data and stat")
    stat = zk.set(R + "/crud/a", b"two")
    check(stat.version == 1, "set bumps the version")
    try:
        zk.set(R + "/crud/a", b"x", version=0)
        check(False, "stale version refused")
    except BadVersionError:
        check(True, "stale version refused")
    try:
        zk.create(R + "/crud/a")
        check(False, "duplicate create refused")
    except NodeExistsError:
        check(True, "duplicate create refused")
    zk.create(R + "/crud/a/child")
    try:
        zk.delete(R + "/crud/a")
        check(False, "non-empty delete refused")
    except NotEmptyError:
        check(True, "non-empty delete refused")
    check(zk.get_children(R + "/crud/a") == ["child"], "children listed")
    children, stat = zk.get_children(R + "/crud/a", include_data=True)
    check(stat.numChildren == 1, "getChildren2 stat")
    zk.delete(R + "/crud/a", recursive=True)
    check(zk.exists(R + "/crud/a") is None, "recursive delete")
    try:
        zk.get(R + "/crud/missing")
        check(False, "missing node")
    except NoNodeError:
        check(True, "missing node")
    path, stat = zk.create(R + "/crud/b", b"x", include_data=True)
    check(stat.czxid > 0 and stat.dataLength == 1, "create2 returns a stat")
    acls, stat = zk.get_acls(R + "/crud/b")
    check(acls[0].perms == 31 and acls[0].id.scheme == "world", "ACL stored")
    zk.sync(R + "/crud")
    check(zk.server_version()[0] == 3, "server version from srvr/envi")


def watches(zk, other):
    zk.ensure_path(R + "/w")
    fired = threading.Event()
    seen = []

    def on_data(event):
        seen.append(event)
        fired.set()

    zk.create(R + "/w/d", b"a")
    zk.get(R + "/w/d", watch=on_data)
    other.set(R + "/w/d", b"b")
    wait(fired, "data watch fires on another client's write")
    check(seen[0].type == EventType.CHANGED and seen[0].path == R + "/w/d", "NodeDataChanged event")

    created = threading.Event()
    zk.exists(R + "/w/e", watch=lambda e: created.set() if e.type == EventType.CREATED else None)
    other.create(R + "/w/e")
    wait(created, "exist watch fires on create")

    children = threading.Event()
    zk.get_children(R + "/w", watch=lambda e: children.set())
    other.create(R + "/w/f")
    wait(children, "child watch fires")

    # Kazoo runs watch callbacks on its own thread, so the wire order of notification and
    # reply is checked by the raw-socket test (coordinator_protocol.rs), not here.
    mine = threading.Event()
    zk.get(R + "/w/d", watch=lambda e: mine.set())
    zk.set(R + "/w/d", b"c")
    wait(mine, "own write fires own watch")

    # DataWatch / ChildrenWatch recipes (re-registering one-shot watches).
    values = []
    got_three = threading.Event()

    @zk.DataWatch(R + "/w/d")
    def dw(data, stat):
        values.append(data)
        if data == b"3":
            got_three.set()

    other.set(R + "/w/d", b"3")
    wait(got_three, "DataWatch recipe sees the change")


def ephemeral_sequential(zk, other):
    zk.ensure_path(R + "/seq")
    a = zk.create(R + "/seq/n-", sequence=True)
    b = zk.create(R + "/seq/n-", sequence=True)
    check(a == R + "/seq/n-0000000000" and b == R + "/seq/n-0000000001", "sequential suffixes")
    e = other.create(R + "/seq/e-", ephemeral=True, sequence=True)
    check(e == R + "/seq/e-0000000002", "ephemeral sequential")
    _, stat = zk.get(e)
    check(stat.ephemeralOwner == other.client_id[0], "ephemeral owner is the session")
    gone = threading.Event()
    zk.exists(e, watch=lambda ev: gone.set() if ev.type == EventType.DELETED else None)
    other.stop()
    other.close()
    wait(gone, "closing the session deletes its ephemerals and fires the watch")
    check(zk.exists(e) is None, "ephemeral gone")


def transactions(zk):
    zk.ensure_path(R + "/tx")
    t = zk.transaction()
    t.create(R + "/tx/a", b"1")
    t.create(R + "/tx/b", b"2")
    t.set_data(R + "/tx/a", b"3")
    t.check(R + "/tx", 0)
    results = t.commit()
    check(results[0] == R + "/tx/a" and results[1] == R + "/tx/b", "transaction results")
    check(zk.get(R + "/tx/a")[0] == b"3", "transaction applied")
    t = zk.transaction()
    t.create(R + "/tx/c")
    t.check(R + "/tx/a", 99)
    t.delete(R + "/tx/b")
    results = t.commit()
    check(isinstance(results[0], RolledBackError), "ops before the failure rolled back")
    check(isinstance(results[1], BadVersionError), "the failing op carries its error")
    check(isinstance(results[2], RuntimeInconsistency), "ops after the failure: RUNTIMEINCONSISTENCY, as ZooKeeper")
    check(zk.exists(R + "/tx/c") is None and zk.exists(R + "/tx/b") is not None, "failed transaction changed nothing")


def lock_recipe():
    clients = [client() for _ in range(4)]
    inside = []
    overlap = []
    count = [0]

    def worker(c, i):
        lock = c.Lock(R + "/lock", "worker-%d" % i)
        for _ in range(5):
            with lock:
                inside.append(i)
                if len(inside) > 1:
                    overlap.append(list(inside))
                count[0] += 1
                time.sleep(0.005)
                inside.remove(i)

    threads = [threading.Thread(target=worker, args=(c, i)) for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    check(count[0] == 20 and not overlap, "Lock recipe: 4 clients, mutual exclusion")
    for c in clients:
        c.stop()
        c.close()


def election_recipe():
    clients = [client() for _ in range(3)]
    leaders = []
    elected = threading.Event()
    # The first leader never returns from its term: its session is closed under it.
    hold = threading.Event()

    def lead(name):
        leaders.append(name)
        elected.set()
        hold.wait(30)

    elections = [c.Election(R + "/election", "c%d" % i) for i, c in enumerate(clients)]
    def contend(election, name):
        try:
            election.run(lead, name)
        except Exception:  # the session was closed under this contender at the end
            pass

    threads = [threading.Thread(target=contend, args=(e, "c%d" % i), daemon=True)
               for i, e in enumerate(elections)]
    for t in threads:
        t.start()
    wait(elected, "a leader is elected")
    time.sleep(0.3)
    check(len(leaders) == 1, "exactly one leader")
    contenders = elections[0].contenders()
    check(len(contenders) == 3, "three contenders")
    first = leaders[0]
    idx = int(first[1:])
    elected.clear()
    # The leader's session goes: another takes over.
    clients[idx].stop()
    clients[idx].close()
    deadline = time.time() + 10
    while len(leaders) < 2 and time.time() < deadline:
        time.sleep(0.05)
    check(len(leaders) >= 2 and leaders[1] != first, "a new leader after the first leaves")
    for i, c in enumerate(clients):
        if i != idx:
            c.stop()
            c.close()


def main():
    zk = client()
    other = client()
    crud(zk)
    watches(zk, other)
    ephemeral_sequential(zk, other)
    transactions(zk)
    lock_recipe()
    election_recipe()
    zk.stop()
    zk.close()
    print("ALL OK")


main()
