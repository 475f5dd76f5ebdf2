//! The coordinator's wire behaviour checked byte by byte on a real socket against a real
//! `labnode coordinator`: connect with and without the readOnly byte, timeout negotiation,
//! notification-before-reply, reconnect and setWatches, bad input, four-letter words, the
//! configuration and the start/stop scripts. Frames are written by hand here (not with the
//! coordinator's own codec) so the two cannot share a mistake.

// Test helpers outside #[test] functions: a panic there is the test failing, as intended.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

fn int(v: i32) -> Vec<u8> {
    v.to_be_bytes().to_vec()
}

fn long(v: i64) -> Vec<u8> {
    v.to_be_bytes().to_vec()
}

fn string(s: &str) -> Vec<u8> {
    let mut out = int(s.len() as i32);
    out.extend_from_slice(s.as_bytes());
    out
}

fn open_acl() -> Vec<u8> {
    [int(1), int(31), string("world"), string("anyone")].concat()
}

/// A client connection speaking raw frames.
struct Raw {
    s: TcpStream,
    session: i64,
    passwd: Vec<u8>,
    timeout: i32,
}

impl Raw {
    fn tcp(port: u16) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        s
    }

    fn send_frame(s: &mut TcpStream, body: &[u8]) {
        let mut frame = int(body.len() as i32);
        frame.extend_from_slice(body);
        s.write_all(&frame).unwrap();
    }

    /// Reads one frame; `None` when the server closed the connection (a read timeout is a
    /// failure: the server kept it open).
    fn read_frame(s: &mut TcpStream) -> Option<Vec<u8>> {
        let mut len = [0u8; 4];
        if let Err(e) = s.read_exact(&mut len) {
            assert!(
                !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ),
                "no frame and no close after the read timeout"
            );
            return None;
        }
        let mut body = vec![0; i32::from_be_bytes(len) as usize];
        s.read_exact(&mut body).ok()?;
        Some(body)
    }

    fn handshake(
        port: u16,
        timeout: i32,
        session: i64,
        passwd: &[u8],
        read_only_byte: bool,
    ) -> (TcpStream, Vec<u8>) {
        let mut s = Raw::tcp(port);
        let mut body = [
            int(0),
            long(0),
            int(timeout),
            long(session),
            int(passwd.len() as i32),
            passwd.to_vec(),
        ]
        .concat();
        if read_only_byte {
            body.push(0);
        }
        Raw::send_frame(&mut s, &body);
        let reply = Raw::read_frame(&mut s).expect("a connect response");
        (s, reply)
    }

    fn connect(port: u16, timeout: i32) -> Raw {
        let (s, reply) = Raw::handshake(port, timeout, 0, &[0; 16], true);
        let timeout = i32::from_be_bytes(reply[4..8].try_into().unwrap());
        let session = i64::from_be_bytes(reply[8..16].try_into().unwrap());
        let passwd = reply[20..36].to_vec();
        Raw {
            s,
            session,
            passwd,
            timeout,
        }
    }

    fn send(&mut self, xid: i32, op: i32, body: &[u8]) {
        Raw::send_frame(&mut self.s, &[int(xid), int(op), body.to_vec()].concat());
    }

    /// Next frame as (xid, zxid, err, body).
    fn recv(&mut self) -> Option<(i32, i64, i32, Vec<u8>)> {
        let f = Raw::read_frame(&mut self.s)?;
        Some((
            i32::from_be_bytes(f[0..4].try_into().unwrap()),
            i64::from_be_bytes(f[4..12].try_into().unwrap()),
            i32::from_be_bytes(f[12..16].try_into().unwrap()),
            f[16..].to_vec(),
        ))
    }

    fn call(&mut self, xid: i32, op: i32, body: &[u8]) -> (i32, i64, i32, Vec<u8>) {
        self.send(xid, op, body);
        self.recv().expect("a reply")
    }

    fn create(&mut self, xid: i32, path: &str, data: &[u8], flags: i32) -> i32 {
        let body = [
            string(path),
            int(data.len() as i32),
            data.to_vec(),
            open_acl(),
            int(flags),
        ]
        .concat();
        self.call(xid, 1, &body).2
    }
}

fn exists(c: &mut Raw, xid: i32, path: &str, watch: bool) -> i32 {
    c.call(xid, 3, &[string(path), vec![u8::from(watch)]].concat())
        .2
}

#[test]
fn connect_with_and_without_the_read_only_byte_and_clamped_timeouts() {
    let (_server, port) = support::start_coordinator("");
    // tickTime=500: timeouts are clamped to 2..20 ticks.
    let (_, short) = Raw::handshake(port, 100, 0, &[0; 16], false);
    assert_eq!(short.len(), 37, "ConnectResponse with its readOnly byte");
    assert_eq!(i32::from_be_bytes(short[4..8].try_into().unwrap()), 1000);
    let long_one = Raw::connect(port, 600_000);
    assert_eq!(long_one.timeout, 10_000);
    let mid = Raw::connect(port, 4321);
    assert_eq!(mid.timeout, 4321);
    assert_ne!(mid.session, long_one.session);
}

#[test]
fn the_notification_precedes_the_reply_on_the_wire() {
    let (_server, port) = support::start_coordinator("");
    let mut c = Raw::connect(port, 10_000);
    assert_eq!(c.create(1, "/n", b"a", 0), 0);
    let (_, _, err, _) = c.call(2, 4, &[string("/n"), vec![1]].concat());
    assert_eq!(err, 0);
    c.send(
        3,
        5,
        &[string("/n"), int(1), b"b".to_vec(), int(-1)].concat(),
    );
    let (xid, _, _, body) = c.recv().unwrap();
    assert_eq!(xid, -1, "the notification comes first");
    assert_eq!(
        body,
        [int(3), int(3), string("/n")].concat(),
        "NodeDataChanged, SyncConnected, /n"
    );
    let (xid, zxid, err, _) = c.recv().unwrap();
    assert_eq!((xid, err), (3, 0), "then the setData reply");
    assert!(zxid > 0);
    // Pings are answered with xid -2.
    let (xid, _, err, _) = c.call(-2, 11, &[]);
    assert_eq!((xid, err), (-2, 0));
}

#[test]
fn reconnect_keeps_the_session_and_set_watches_catches_up() {
    let (_server, port) = support::start_coordinator("");
    let mut a = Raw::connect(port, 10_000);
    let mut b = Raw::connect(port, 10_000);
    assert_eq!(a.create(1, "/w", b"0", 0), 0);
    assert_eq!(a.create(2, "/eph", b"", 1), 0);
    let (_, seen_zxid, _, _) = a.call(3, 4, &[string("/w"), vec![1]].concat());
    let (session, passwd) = (a.session, a.passwd.clone());
    drop(a); // the connection drops without closeSession
    let (_, _, err, _) = b.call(
        1,
        5,
        &[string("/w"), int(1), b"1".to_vec(), int(-1)].concat(),
    );
    assert_eq!(err, 0);

    // A wrong password gets timeout 0 and the connection closed.
    let (mut s, reply) = Raw::handshake(port, 10_000, session, &[7; 16], true);
    assert_eq!(&reply[4..16], &[0u8; 12], "timeout 0, session 0");
    assert!(Raw::read_frame(&mut s).is_none());

    let (s, reply) = Raw::handshake(port, 10_000, session, &passwd, true);
    assert_eq!(
        i64::from_be_bytes(reply[8..16].try_into().unwrap()),
        session
    );
    let mut a = Raw {
        s,
        session,
        passwd,
        timeout: 10_000,
    };
    assert_eq!(
        exists(&mut b, 2, "/eph", false),
        0,
        "the ephemeral lives on"
    );
    // setWatches (xid -8): the data watch on /w fires at once, before the reply.
    let body = [long(seen_zxid), int(1), string("/w"), int(0), int(0)].concat();
    a.send(-8, 101, &body);
    let (xid, _, _, event) = a.recv().unwrap();
    assert_eq!(xid, -1);
    assert_eq!(event, [int(3), int(3), string("/w")].concat());
    let (xid, _, err, _) = a.recv().unwrap();
    assert_eq!((xid, err), (-8, 0));
    // setWatches2 (op 105) re-registers a persistent recursive watch.
    let body = [
        long(seen_zxid),
        int(0),
        int(0),
        int(0),
        int(0),
        int(1),
        string("/w"),
    ]
    .concat();
    let (xid, _, err, _) = a.call(-8, 105, &body);
    assert_eq!((xid, err), (-8, 0));
    assert_eq!(b.create(3, "/w/c", b"", 0), 0);
    let (xid, _, _, event) = a.recv().unwrap();
    assert_eq!(xid, -1);
    assert_eq!(
        event,
        [int(1), int(3), string("/w/c")].concat(),
        "NodeCreated below /w"
    );
    // closeSession takes the ephemeral with it.
    let (_, _, err, _) = a.call(9, -11, &[]);
    assert_eq!(err, 0);
    assert!(a.recv().is_none(), "closed after closeSession");
    assert_eq!(exists(&mut b, 4, "/eph", false), -101);
}

#[test]
fn an_expired_session_loses_its_ephemerals() {
    let (_server, port) = support::start_coordinator("");
    let mut owner = Raw::connect(port, 1000);
    let mut watcher = Raw::connect(port, 10_000);
    assert_eq!(owner.create(1, "/short", b"", 1), 0);
    assert_eq!(exists(&mut watcher, 1, "/short", true), 0);
    // The owner stays connected but never pings: the session expires, the node goes and the
    // watcher hears NodeDeleted.
    let (xid, _, _, event) = watcher.recv().unwrap();
    assert_eq!(xid, -1);
    assert_eq!(event, [int(2), int(3), string("/short")].concat());
    assert!(
        owner.recv().is_none(),
        "the expired session's connection is closed"
    );
    let (s, reply) = Raw::handshake(port, 1000, owner.session, &owner.passwd, true);
    drop(s);
    assert_eq!(
        &reply[4..8],
        &[0u8; 4],
        "reconnecting to an expired session: timeout 0"
    );
}

#[test]
fn bad_input_closes_only_its_connection() {
    let (server, port) = support::start_coordinator("jute.maxbuffer=4096");
    let mut good = Raw::connect(port, 10_000);
    assert_eq!(good.create(1, "/keep", b"v", 0), 0);

    // A create whose ACL vector claims more entries than the frame holds.
    let mut bad = Raw::connect(port, 10_000);
    bad.send(1, 1, &[string("/x"), int(0), int(1_000_000)].concat());
    assert!(bad.recv().is_none(), "malformed frame: connection closed");

    // A negative frame length, and one beyond jute.maxbuffer.
    for len in [-5i32, 1 << 20] {
        let mut c = Raw::connect(port, 10_000);
        c.s.write_all(&int(len)).unwrap();
        assert!(c.recv().is_none(), "length {len}: connection closed");
    }
    // Data larger than jute.maxbuffer is refused; the node is unchanged.
    let mut big = Raw::connect(port, 10_000);
    big.send(
        1,
        5,
        &[string("/keep"), int(8192), vec![b'x'; 8192], int(-1)].concat(),
    );
    assert!(big.recv().is_none());
    // A garbage first frame.
    let mut s = Raw::tcp(port);
    Raw::send_frame(&mut s, &[1, 2, 3]);
    assert!(Raw::read_frame(&mut s).is_none());

    let (_, _, err, body) = good.call(2, 4, &[string("/keep"), vec![0]].concat());
    assert_eq!(err, 0, "the other connection still works");
    assert_eq!(&body[..5], &[0, 0, 0, 1, b'v']);
    assert!(server.stderr().contains("closing"), "bad input is logged");
}

/// The `recved=` count `cons` shows for the connection from local port `local`.
fn requests_received(port: u16, local: u16) -> usize {
    let cons = support::four_letter_word(port, "cons");
    let line = cons
        .lines()
        .find(|l| l.contains(&format!(":{local}[")))
        .unwrap_or_else(|| panic!("no connection from port {local} in {cons:?}"));
    let count = line.split("recved=").nth(1).unwrap();
    count[..count.find(',').unwrap()].parse().unwrap()
}

#[test]
fn pipelined_writes_and_reads_are_answered_in_request_order() {
    // Replies to writes leave from the log thread once their group is on the disk, replies to
    // reads from the core: with several connections writing at once (groups of many), each
    // connection still gets its replies in the order of its requests, each read seeing the
    // writes before it.
    let (_server, port) = support::start_coordinator("");
    let mut clients: Vec<Raw> = (0..4).map(|_| Raw::connect(port, 30_000)).collect();
    for (i, c) in clients.iter_mut().enumerate() {
        assert_eq!(c.create(1, &format!("/p{i}"), b"0", 0), 0);
    }
    let rounds = 300;
    for (i, c) in clients.iter_mut().enumerate() {
        let path = format!("/p{i}");
        let mut burst = Vec::new();
        for n in 0..rounds {
            let data = n.to_string();
            let set = [
                int(2 + 2 * n),
                int(5),
                string(&path),
                int(data.len() as i32),
                data.into_bytes(),
                int(-1),
            ]
            .concat();
            let get = [int(3 + 2 * n), int(4), string(&path), vec![0]].concat();
            for body in [set, get] {
                burst.extend_from_slice(&int(body.len() as i32));
                burst.extend_from_slice(&body);
            }
        }
        c.s.write_all(&burst).unwrap();
    }
    for c in &mut clients {
        let mut last_zxid = 0;
        for n in 0..rounds {
            let (xid, zxid, err, _) = c.recv().expect("a setData reply");
            assert_eq!((xid, err), (2 + 2 * n, 0), "setData {n}");
            assert!(
                zxid > last_zxid,
                "setData {n}: zxid {zxid} after {last_zxid}"
            );
            last_zxid = zxid;
            let (xid, zxid, err, body) = c.recv().expect("a getData reply");
            assert_eq!((xid, err), (3 + 2 * n, 0), "getData {n}");
            assert!(
                zxid >= last_zxid,
                "getData {n}: zxid {zxid} before {last_zxid}"
            );
            let len = usize::try_from(i32::from_be_bytes(body[0..4].try_into().unwrap())).unwrap();
            assert_eq!(
                body[4..4 + len],
                *n.to_string().as_bytes(),
                "getData {n} sees its write"
            );
        }
    }
}

#[test]
fn every_close_session_is_answered_while_others_write() {
    // Sessions that end while others write: each closeSession's reply leaves with a group of
    // the log, and the connection must not be closed before it is written.
    let (_server, port) = support::start_coordinator("");
    for round in 0..8 {
        let threads: Vec<_> = (0..16)
            .map(|i| {
                std::thread::spawn(move || {
                    let mut c = Raw::connect(port, 30_000);
                    for n in 0..(i * 7) % 23 {
                        let path = format!("/r{round}-{i}-{n}");
                        assert_eq!(c.create(n + 1, &path, b"x", 0), 0);
                    }
                    c.send(1000, -11, &[]);
                    let (xid, _, err, _) = c.recv().expect("the closeSession reply");
                    assert_eq!((xid, err), (1000, 0));
                    assert!(c.recv().is_none(), "the connection closes after the reply");
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    }
}

#[test]
fn a_client_that_does_not_read_its_replies_is_not_read_without_bound() {
    let (_server, port) = support::start_coordinator("");
    let mut c = Raw::connect(port, 30_000);
    assert_eq!(c.create(1, "/big", &vec![b'x'; 64 << 10], 0), 0);
    // 3,000 getData of 64 KiB each, sent at once and not read: their replies (~190 MiB) cannot
    // all sit in socket buffers, so the server must stop reading at its outstanding limit.
    let asked = 3000;
    let request = [string("/big"), vec![0]].concat();
    let mut burst = Vec::new();
    for xid in 0..asked {
        let body = [int(xid + 2), int(4), request.clone()].concat();
        burst.extend_from_slice(&int(body.len() as i32));
        burst.extend_from_slice(&body);
    }
    c.s.write_all(&burst).unwrap();
    let local = c.s.local_addr().unwrap().port();
    // Wait until the server has read all it is going to read.
    let mut seen = requests_received(port, local);
    loop {
        std::thread::sleep(Duration::from_millis(300));
        let now = requests_received(port, local);
        if now == seen {
            break;
        }
        seen = now;
    }
    assert!(
        seen < 1500,
        "the server read {seen} requests of a client that reads no replies (limit 1000)"
    );
    // Reading the replies lets the rest in: every request answered, in order.
    for xid in 0..asked {
        let (got, _, err, body) = c.recv().expect("a reply");
        assert_eq!((got, err, body.len()), (xid + 2, 0, 4 + (64 << 10) + 68));
    }
    assert_eq!(requests_received(port, local), asked as usize + 2);
}

#[test]
fn a_client_that_does_not_read_its_notifications_is_closed() {
    let (server, port) = support::start_coordinator("");
    let path = format!("/{}", "n".repeat(64 << 10));
    let mut writer = Raw::connect(port, 30_000);
    assert_eq!(writer.create(1, &path, b"0", 0), 0);
    // A persistent recursive watch on / (addWatch, mode 1), then silence: every write below
    // sends this client a notification of ~64 KiB that it never reads.
    let mut silent = Raw::connect(port, 30_000);
    let (_, _, err, _) = silent.call(1, 106, &[string("/"), int(1)].concat());
    assert_eq!(err, 0, "addWatch");
    // 2,000 notifications (~128 MiB) cannot all wait in socket buffers: past 64 MiB unread
    // the server closes the connection instead of holding them.
    let (writes, burst) = (2000_i32, 250);
    let set = [string(&path), int(1), b"1".to_vec(), int(-1)].concat();
    for start in (0..writes).step_by(burst as usize) {
        let mut bytes = Vec::new();
        for xid in start..start + burst {
            let body = [int(xid + 2), int(5), set.clone()].concat();
            bytes.extend_from_slice(&int(body.len() as i32));
            bytes.extend_from_slice(&body);
        }
        writer.s.write_all(&bytes).unwrap();
        for xid in start..start + burst {
            let (got, _, err, _) = writer.recv().expect("a setData reply");
            assert_eq!((got, err), (xid + 2, 0));
        }
    }
    let mut notified = 0;
    while let Some(frame) = Raw::read_frame(&mut silent.s) {
        assert_eq!(
            frame[0..4],
            int(-1),
            "only notifications after the addWatch reply"
        );
        notified += 1;
    }
    assert!(
        notified < writes,
        "the connection closed after {notified} of {writes} notifications"
    );
    assert!(
        server
            .stderr()
            .contains("does not read its watch notifications"),
        "the reason is logged"
    );
    let (_, _, err, _) = writer.call(9999, 4, &[string(&path), vec![0]].concat());
    assert_eq!(err, 0, "the writer's connection still works");
}

#[test]
fn paths_are_validated_and_unknown_operations_unimplemented() {
    let (_server, port) = support::start_coordinator("");
    let mut c = Raw::connect(port, 10_000);
    for (i, bad) in ["a", "/a/", "//a", "/a/../b", "/a/.", "/a\u{1}"]
        .iter()
        .enumerate()
    {
        assert_eq!(
            c.create(i as i32, bad, b"", 0),
            -8,
            "{bad:?} is BADARGUMENTS"
        );
    }
    assert_eq!(c.create(10, "/", b"", 0), -110, "the root exists");
    assert_eq!(
        c.create(11, "/nope/", b"", 2),
        -101,
        "sequential under a missing parent"
    );
    assert_eq!(c.create(12, "/p", b"", 0), 0);
    let (_, _, err, body) = c.call(13, 1, &[string("/p/"), int(0), open_acl(), int(2)].concat());
    assert_eq!(err, 0, "a sequential path may end with /");
    assert_eq!(body, string("/p/0000000000"));
    assert_eq!(exists(&mut c, 14, "/p//x", false), -8);
    for op in [16, 17, 18, 19, 20, 21, 22, 107] {
        let (_, _, err, _) = c.call(20 + op, op, &string("/p"));
        assert_eq!(err, -6, "op {op} is UNIMPLEMENTED");
    }
    // getAllChildrenNumber and getEphemerals.
    assert_eq!(c.create(30, "/p/e", b"", 1), 0);
    let (_, _, err, body) = c.call(31, 104, &string("/p"));
    assert_eq!((err, body), (0, int(2)));
    let (_, _, err, body) = c.call(32, 103, &string("/p"));
    assert_eq!((err, body), (0, [int(1), string("/p/e")].concat()));
}

#[test]
fn four_letter_words_honour_the_whitelist() {
    let (_server, port) = support::start_coordinator("");
    assert_eq!(support::four_letter_word(port, "ruok"), "imok");
    let srvr = support::four_letter_word(port, "srvr");
    assert!(
        srvr.starts_with("Zookeeper version: ") && srvr.contains("Mode: standalone\n"),
        "{srvr}"
    );
    assert!(support::four_letter_word(port, "stat").contains("Clients:\n"));
    let mntr = support::four_letter_word(port, "mntr");
    assert!(
        mntr.contains("zk_server_state\tstandalone\n") && mntr.contains("zk_znode_count\t4\n"),
        "{mntr}"
    );
    assert!(support::four_letter_word(port, "conf").contains(&format!("clientPort={port}\n")));
    assert!(support::four_letter_word(port, "envi").starts_with("Environment:\n"));
    let _client = Raw::connect(port, 10_000);
    let cons = support::four_letter_word(port, "cons");
    assert!(
        cons.starts_with(" /127.0.0.1:") && cons.ends_with(")\n\n"),
        "{cons:?}"
    );

    let port2 = support::free_port();
    let dir = support::tempdir::Dir::new();
    let cfg = support::write_coordinator_config(dir.path(), port2, "");
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("4lw.commands.whitelist=*", "4lw.commands.whitelist=ruok");
    std::fs::write(&cfg, text).unwrap();
    let _limited = support::restart_coordinator(dir, port2);
    assert_eq!(support::four_letter_word(port2, "ruok"), "imok");
    assert_eq!(
        support::four_letter_word(port2, "srvr"),
        "srvr is not executed because it is not in the whitelist.\n"
    );
}

#[test]
fn a_bad_configuration_value_names_its_key() {
    let dir = support::tempdir::Dir::new();
    let cfg = dir.path().join("zookeeper.properties");
    std::fs::write(
        &cfg,
        format!("dataDir={}\nclientPort=21x\n", dir.path().display()),
    )
    .unwrap();
    let out = Command::new(support::labnode())
        .args(["coordinator", "--config", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("clientPort") && err.contains("21x"), "{err}");
}

/// `labnode coordinator` becomes the coordinator's own binary (same pid), under the command
/// line it was given, so jps names it as before.
#[test]
fn the_coordinator_runs_from_its_own_binary_under_labnodes_command_line() {
    let started = start_in_node(&["coordinator", "--config"], "coordinator-exe");
    let (pid, cfg) = (started.process.child.id(), &started.cfg);
    let proc = std::path::PathBuf::from(format!("/proc/{pid}"));
    let exe = std::fs::read_link(proc.join("exe")).unwrap();
    assert_eq!(
        exe.file_name().and_then(|n| n.to_str()),
        Some("labnode-coordinator")
    );
    let cmdline = std::fs::read(proc.join("cmdline")).unwrap();
    let want = format!("labnode\0coordinator\0--config\0{}\0", cfg.display());
    assert_eq!(String::from_utf8_lossy(&cmdline), want);
    let jps = Command::new(support::labnode())
        .arg("jps")
        .env("LAB_NODE", &started.node)
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&jps.stdout);
    assert!(
        listed.contains(&format!("{pid} QuorumPeerMain")),
        "{listed}"
    );
}

/// A labnode installed without the coordinator's binary says which file is missing.
#[test]
fn a_labnode_without_the_coordinator_binary_names_it() {
    let dir = support::tempdir::Dir::new();
    let alone = dir.path().join("labnode");
    std::fs::copy(support::labnode(), &alone).unwrap();
    let out = Command::new(&alone)
        .args(["coordinator", "--config", "zoo.cfg"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    let missing = dir.path().join("labnode-coordinator");
    assert!(
        err.contains(&format!("{} is missing", missing.display())),
        "{err}"
    );
}

/// A coordinator started as a node's service, ready on its port.
struct InNode {
    process: support::Process,
    cfg: std::path::PathBuf,
    /// Its `LAB_NODE`, which scopes jps and the stop script to it.
    node: String,
    port: u16,
}

/// Writes a coordinator configuration, starts `labnode <command> <config>` as the node
/// `<tag>-<this pid>` (`LAB_NODE`), and waits for its port.
fn start_in_node(command: &[&str], tag: &str) -> InNode {
    let dir = support::tempdir::Dir::new();
    let port = support::free_port();
    let cfg = support::write_coordinator_config(dir.path(), port, "");
    let node = format!("{tag}-{}", std::process::id());
    let mut args = command.to_vec();
    args.push(cfg.to_str().unwrap());
    let process = support::Process::start_in_node(dir, &args, &node);
    support::wait_for_port(([127, 0, 0, 1], port).into(), Duration::from_secs(30));
    InNode {
        process,
        cfg,
        node,
        port,
    }
}

#[test]
fn start_and_stop_scripts() {
    // LAB_NODE scopes zookeeper-server-stop.sh to this test's coordinator only.
    let mut started = start_in_node(&["zookeeper-server-start.sh"], "coordinator-test");
    assert_eq!(support::four_letter_word(started.port, "ruok"), "imok");
    let out = Command::new(support::labnode())
        .arg("zookeeper-server-stop.sh")
        .env("LAB_NODE", &started.node)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let start = Instant::now();
    loop {
        if let Some(status) = started.process.child.try_wait().unwrap() {
            assert!(status.success(), "SIGTERM is a clean stop: {status}");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "still running after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = Command::new(support::labnode())
        .arg("zookeeper-server-stop.sh")
        .env("LAB_NODE", &started.node)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("No zookeeper server to stop"));
}

/// The zookeeper-client crate (its `tokio` feature): CRUD, a one-shot and a persistent
/// recursive watch, ephemerals, getAllChildrenNumber, getEphemerals, a multi.
#[test]
fn zookeeper_client_crate() {
    use zookeeper_client as zk;
    let (_server, port) = support::start_coordinator("");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let c = zk::Client::connect(&format!("127.0.0.1:{port}"))
            .await
            .unwrap();
        let open = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
        let (_, watcher) = c.check_and_watch_stat("/zc").await.unwrap();
        let (stat, _) = c.create("/zc", b"v", &open).await.unwrap();
        assert_eq!(stat.version, 0);
        let event = watcher.changed().await;
        assert_eq!(
            (event.event_type, event.path.as_str()),
            (zk::EventType::NodeCreated, "/zc")
        );
        let mut recursive = c
            .watch("/zc", zk::AddWatchMode::PersistentRecursive)
            .await
            .unwrap();
        let seq = zk::CreateMode::PersistentSequential.with_acls(zk::Acls::anyone_all());
        let (_, n) = c.create("/zc/s-", b"", &seq).await.unwrap();
        assert_eq!(n.into_i64(), 0);
        let event = recursive.changed().await;
        assert_eq!(
            (event.event_type, event.path.as_str()),
            (zk::EventType::NodeCreated, "/zc/s-0000000000")
        );
        let stat = c.set_data("/zc", b"w", Some(0)).await.unwrap();
        assert_eq!(stat.version, 1);
        let event = recursive.changed().await;
        assert_eq!(event.event_type, zk::EventType::NodeDataChanged);
        assert!(matches!(
            c.set_data("/zc", b"x", Some(0)).await,
            Err(zk::Error::BadVersion)
        ));
        let eph = zk::CreateMode::Ephemeral.with_acls(zk::Acls::anyone_all());
        c.create("/zc/e", b"", &eph).await.unwrap();
        assert_eq!(
            c.list_ephemerals("/zc").await.unwrap(),
            vec!["/zc/e".to_owned()]
        );
        assert_eq!(c.count_descendants_number("/zc").await.unwrap(), 2);
        let mut children = c.list_children("/zc").await.unwrap();
        children.sort();
        assert_eq!(children, ["e", "s-0000000000"]);
        let mut multi = c.new_multi_writer();
        multi.add_check_version("/zc", 1).unwrap();
        multi.add_create("/zc/m", b"m", &open).unwrap();
        multi.add_delete("/zc/s-0000000000", None).unwrap();
        let results = multi.commit().await.unwrap();
        assert_eq!(results.len(), 3);
        assert_eq!(c.get_data("/zc/m").await.unwrap().0, b"m");
        let (acl, _) = c.get_acl("/zc").await.unwrap();
        assert_eq!(acl.len(), 1);
        c.sync("/zc").await.unwrap();
        c.delete("/zc/m", None).await.unwrap();
        assert!(matches!(
            c.delete("/zc", None).await,
            Err(zk::Error::NotEmpty)
        ));
    });
}

#[test]
fn max_client_cnxns_limits_connections_per_address() {
    let (_server, port) = support::start_coordinator("maxClientCnxns=2");
    let _a = Raw::connect(port, 10_000);
    let _b = Raw::connect(port, 10_000);
    let mut third = Raw::tcp(port);
    let body = [int(0), long(0), int(10_000), long(0), int(16), vec![0; 16]].concat();
    Raw::send_frame(&mut third, &body);
    assert!(
        Raw::read_frame(&mut third).is_none(),
        "the third connection is refused"
    );
    drop(_a);
    std::thread::sleep(Duration::from_millis(200));
    let again = Raw::connect(port, 10_000);
    assert_ne!(
        again.session, 0,
        "a slot freed by a closed connection is reusable"
    );
}
