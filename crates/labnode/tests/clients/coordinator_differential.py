"""One scripted sequence of ZooKeeper operations through kazoo, printed as one JSON line per
step with zxids and times left out, so the outputs of two servers can be compared line by line.

Usage: coordinator_differential.py HOST:PORT"""
import json
import sys
import threading
import time

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException
from kazoo.security import ACL, Id, OPEN_ACL_UNSAFE, READ_ACL_UNSAFE

HOSTS = sys.argv[1]
zk = KazooClient(hosts=HOSTS, timeout=10)
zk.start(timeout=10)
other = KazooClient(hosts=HOSTS, timeout=10)
other.start(timeout=10)
SELF = zk.client_id[0]
OTHER = other.client_id[0]
events = []
lock = threading.Lock()


def stat(s):
    if s is None:
        return None
    owner = {0: 0, SELF: "self", OTHER: "other"}.get(s.ephemeralOwner, "unknown")
    return {"version": s.version, "cversion": s.cversion, "aversion": s.aversion,
            "owner": owner, "dataLength": s.dataLength, "numChildren": s.numChildren}


def norm(value):
    if hasattr(value, "czxid"):
        return stat(value)
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(v, str) for v in value) and isinstance(value, list):
            return sorted(value)
        return [norm(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, Exception):
        return type(value).__name__
    if isinstance(value, ACL):
        return [value.perms, value.id.scheme, value.id.id]
    return value


def step(name, fn):
    try:
        result = norm(fn())
    except (KazooException, ValueError) as e:
        result = "error:" + type(e).__name__
    print(json.dumps({"step": name, "result": result}, sort_keys=True), flush=True)


def watcher(tag):
    def on(event):
        with lock:
            events.append([tag, event.type, event.path])
    return on


def drain(name):
    # Notifications reach a client before the reply of the write that fired them; a sync
    # round trip on each client makes sure every event sent so far has been delivered.
    zk.sync("/")
    if other.connected:
        other.sync("/")
    time.sleep(0.2)
    with lock:
        got = sorted(events)
        events.clear()
    print(json.dumps({"step": name, "events": got}, sort_keys=True), flush=True)


step("ls /zookeeper", lambda: zk.get_children("/zookeeper"))
step("get /zookeeper/config acl", lambda: zk.get_acls("/zookeeper/config")[0])
step("stat /", lambda: zk.exists("/"))
step("create /d", lambda: zk.create("/d", b"root-data"))
step("create /d again", lambda: zk.create("/d"))
step("create /missing/child", lambda: zk.create("/missing/child"))
step("create bad path", lambda: zk.create("/d//x"))
step("create trailing slash", lambda: zk.create("/d/"))
step("create dot segment", lambda: zk.create("/d/./x"))
step("create empty acl", lambda: zk.create("/d/noacl", acl=[]))
step("create2 /d/a", lambda: zk.create("/d/a", b"x", include_data=True))
step("seq 1", lambda: zk.create("/d/s-", sequence=True))
step("seq 2", lambda: zk.create("/d/s-", b"v", sequence=True))
step("delete /d/a", lambda: zk.delete("/d/a"))
step("seq after delete", lambda: zk.create("/d/s-", sequence=True))
step("seq trailing slash", lambda: zk.create("/d/", sequence=True))
step("stat /d", lambda: zk.exists("/d"))
step("children /d", lambda: zk.get_children("/d"))
step("children2 /d", lambda: zk.get_children("/d", include_data=True))
step("ephemeral", lambda: other.create("/d/eph", b"e", ephemeral=True))
step("ephemeral stat", lambda: zk.exists("/d/eph"))
step("child of ephemeral", lambda: zk.create("/d/eph/c"))
step("ephemeral sequential", lambda: zk.create("/d/es-", ephemeral=True, sequence=True))
step("set", lambda: zk.set("/d", b"v2"))
step("set bad version", lambda: zk.set("/d", b"v3", version=7))
step("set good version", lambda: zk.set("/d", b"v3", version=1))
step("get", lambda: zk.get("/d"))
step("get missing", lambda: zk.get("/nope"))
step("exists missing", lambda: zk.exists("/nope"))
step("delete non-empty", lambda: zk.delete("/d"))
step("delete bad version", lambda: zk.delete("/d/s-0000000000", version=3))
step("delete missing", lambda: zk.delete("/d/nope"))
step("children missing", lambda: zk.get_children("/nope"))
step("read-only node", lambda: zk.create("/ro", b"r", acl=READ_ACL_UNSAFE))
step("set read-only", lambda: zk.set("/ro", b"w"))
step("create under read-only", lambda: zk.create("/ro/c"))
step("get read-only", lambda: zk.get("/ro"))
step("get acls", lambda: zk.get_acls("/ro"))
step("set acls bad version", lambda: zk.set_acls("/ro", OPEN_ACL_UNSAFE, version=5))
step("set acls", lambda: zk.set_acls("/ro", OPEN_ACL_UNSAFE, version=0))
step("set after acl change", lambda: zk.set("/ro", b"w"))
step("digest acl", lambda: zk.create("/dg", acl=[ACL(31, Id("digest", "u:hash"))]))
step("bad world acl", lambda: zk.create("/bw", acl=[ACL(31, Id("world", "someone"))]))
step("sync", lambda: zk.sync("/d"))


def txn(ops):
    def run():
        t = zk.transaction()
        for op in ops:
            op(t)
        return t.commit()
    return run


step("multi ok", txn([lambda t: t.create("/m", b"1"), lambda t: t.create("/m/a"),
                      lambda t: t.set_data("/m", b"2"), lambda t: t.check("/m", 1),
                      lambda t: t.delete("/m/a")]))
step("multi stat", lambda: zk.exists("/m"))
step("multi fail", txn([lambda t: t.create("/m/b"), lambda t: t.create("/m/c"),
                        lambda t: t.check("/m", 0), lambda t: t.delete("/m"),
                        lambda t: t.set_data("/nope", b"")]))
step("multi fail left nothing", lambda: zk.get_children("/m"))
step("multi first fails", txn([lambda t: t.delete("/nope"), lambda t: t.create("/m/z")]))
step("multi duplicate", txn([lambda t: t.create("/m/q"), lambda t: t.create("/m/q")]))
step("multi seq", txn([lambda t: t.create("/m/s-", sequence=True),
                       lambda t: t.create("/m/s-", sequence=True)]))

zk.create("/w", b"0")
zk.get("/w", watch=watcher("data"))
zk.exists("/w/new", watch=watcher("exist"))
zk.get_children("/w", watch=watcher("child"))
other.set("/w", b"1")
drain("after set")
other.create("/w/new")
drain("after create")
zk.get_children("/w", watch=watcher("child"))
zk.get("/w/new", watch=watcher("data"))
zk.exists("/w/new", watch=watcher("exist"))
other.delete("/w/new")
drain("after delete")
other.set("/w", b"2")
drain("one-shot: nothing after a second set")
zk.exists("/d/eph", watch=watcher("eph"))
other.stop()
other.close()
drain("ephemeral gone with its session")
step("after session close", lambda: zk.get_children("/d"))
zk.stop()
zk.close()
