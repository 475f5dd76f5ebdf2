//! The machine driven by encoded requests, as a client would send them, with explicit times.

use super::*;
use crate::jute::{Reader, Writer};
use crate::proto::{Acl, Code, op, perm};

const LIMITS: Limits = Limits {
    min_session_ms: 4000,
    max_session_ms: 40000,
};

fn machine() -> Machine {
    Machine::new(LIMITS, 1_000_000, 42)
}

fn connect(m: &mut Machine, conn: ConnId, timeout: i32) -> i64 {
    let req = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        timeout_ms: timeout,
        session_id: 0,
        passwd: vec![0; 16],
        read_only: false,
    };
    let step = m.connect(conn, &req, 0, 0);
    assert_eq!(step.txns.len(), 1);
    m.session_of(conn).unwrap()
}

fn create(xid: i32, path: &str, flags: i32) -> Vec<u8> {
    let mut w = Writer::new();
    w.int(xid).int(op::CREATE).string(path).buffer(b"d");
    crate::proto::write_acls(&mut w, &[Acl::world(perm::ALL)]);
    w.int(flags);
    w.into_bytes()
}

fn path_req(xid: i32, op_code: i32, path: &str) -> Writer {
    let mut w = Writer::new();
    w.int(xid).int(op_code).string(path);
    w
}

/// (xid, err, body) of each frame sent to `conn`.
fn frames(step: &Step, conn: ConnId) -> Vec<(i32, i32, Vec<u8>)> {
    step.out
        .iter()
        .filter_map(|o| match o {
            Out::Frame(c, f) if *c == conn => {
                let mut r = Reader::new(f.get(4..).unwrap());
                let xid = r.int("xid").unwrap();
                let _zxid = r.long("zxid").unwrap();
                let err = r.int("err").unwrap();
                Some((xid, err, f.get(20..).unwrap().to_vec()))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn session_timeouts_are_clamped() {
    let mut m = machine();
    connect(&mut m, 1, 100);
    let s = m.session_of(1).unwrap();
    assert_eq!(m.sessions.get(s).unwrap().timeout_ms, 4000);
    connect(&mut m, 2, 1_000_000);
    let s = m.session_of(2).unwrap();
    assert_eq!(m.sessions.get(s).unwrap().timeout_ms, 40000);
}

#[test]
fn sequential_names_use_the_parents_create_count() {
    let mut m = machine();
    connect(&mut m, 1, 10000);
    m.request(1, &create(1, "/q", 0), 0, 0).unwrap();
    let step = m.request(1, &create(2, "/q/n-", 2), 0, 0).unwrap();
    let (_, err, body) = frames(&step, 1).remove(0);
    assert_eq!(err, 0);
    assert_eq!(Reader::new(&body).string("p").unwrap(), "/q/n-0000000000");
    let step = m.request(1, &create(3, "/q/n-", 2), 0, 0).unwrap();
    let (_, _, body) = frames(&step, 1).remove(0);
    assert_eq!(Reader::new(&body).string("p").unwrap(), "/q/n-0000000001");
}

#[test]
fn a_notification_goes_out_before_the_reply_that_fired_it() {
    let mut m = machine();
    connect(&mut m, 1, 10000);
    m.request(1, &create(1, "/w", 0), 0, 0).unwrap();
    let mut get = path_req(2, op::GET_DATA, "/w");
    get.boolean(true);
    m.request(1, &get.into_bytes(), 0, 0).unwrap();
    let mut set = path_req(3, op::SET_DATA, "/w");
    set.buffer(b"new").int(-1);
    let step = m.request(1, &set.into_bytes(), 0, 0).unwrap();
    let sent = frames(&step, 1);
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].0, -1, "notification first");
    let mut r = Reader::new(&sent[0].2);
    assert_eq!(r.int("type").unwrap(), EventType::NodeDataChanged as i32);
    assert_eq!(sent[1].0, 3, "then the reply");
    // One-shot: a second write fires nothing.
    let mut set = path_req(4, op::SET_DATA, "/w");
    set.buffer(b"again").int(-1);
    let step = m.request(1, &set.into_bytes(), 0, 0).unwrap();
    assert_eq!(frames(&step, 1).len(), 1);
}

#[test]
fn a_failed_multi_changes_nothing_and_reports_zookeepers_layout() {
    let mut m = machine();
    connect(&mut m, 1, 10000);
    let zxid = m.zxid();
    let mut w = Writer::new();
    w.int(9).int(op::MULTI);
    w.int(op::CREATE)
        .boolean(false)
        .int(-1)
        .string("/m")
        .buffer(b"");
    w.int(1)
        .int(perm::ALL)
        .string("world")
        .string("anyone")
        .int(0);
    w.int(op::CHECK).boolean(false).int(-1).string("/m").int(5);
    w.int(op::DELETE)
        .boolean(false)
        .int(-1)
        .string("/m")
        .int(-1);
    w.int(-1).boolean(true).int(-1);
    let step = m.request(1, &w.into_bytes(), 0, 0).unwrap();
    assert!(step.txns.is_empty());
    assert_eq!(m.zxid(), zxid);
    assert!(m.tree().get("/m").is_none());
    let (_, err, body) = frames(&step, 1).remove(0);
    assert_eq!(err, 0);
    let mut r = Reader::new(&body);
    let mut codes = Vec::new();
    loop {
        let t = r.int("t").unwrap();
        let done = r.boolean("d").unwrap();
        let e = r.int("e").unwrap();
        if done {
            break;
        }
        assert_eq!(t, -1);
        assert_eq!(r.int("err").unwrap(), e);
        codes.push(e);
    }
    assert_eq!(
        codes,
        vec![
            0,
            Code::BadVersion.wire(),
            Code::RuntimeInconsistency.wire()
        ]
    );
}

#[test]
fn expiry_deletes_ephemerals_and_fires_watches() {
    let mut m = machine();
    let owner = connect(&mut m, 1, 4000);
    connect(&mut m, 2, 40000);
    m.request(1, &create(1, "/e", 1), 0, 0).unwrap();
    let mut exists = path_req(1, op::EXISTS, "/e");
    exists.boolean(true);
    m.request(2, &exists.into_bytes(), 0, 0).unwrap();
    assert!(m.tick(3999, 0).txns.is_empty());
    let step = m.tick(4000, 0);
    assert_eq!(step.txns.len(), 1);
    assert!(m.tree().get("/e").is_none());
    assert!(m.sessions.get(owner).is_none());
    let sent = frames(&step, 2);
    assert_eq!(sent.len(), 1);
    assert_eq!(
        Reader::new(&sent[0].2).int("t").unwrap(),
        EventType::NodeDeleted as i32
    );
    assert!(
        step.out.contains(&Out::Close(1)),
        "the expired session's connection is closed"
    );
}

#[test]
fn reconnect_needs_the_password_and_replay_rebuilds_the_state() {
    let mut m = machine();
    let session = connect(&mut m, 1, 10000);
    let mut log = Vec::new();
    log.extend(m.request(1, &create(1, "/r", 0), 0, 0).unwrap().txns);
    log.extend(m.request(1, &create(2, "/r/e", 1), 0, 0).unwrap().txns);
    let passwd = m.sessions.get(session).unwrap().passwd.clone();
    let mut req = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: m.zxid(),
        timeout_ms: 10000,
        session_id: session,
        passwd: vec![9; 16],
        read_only: false,
    };
    let step = m.connect(2, &req, 0, 0);
    assert!(step.out.contains(&Out::Close(2)), "wrong password refused");
    req.passwd = passwd;
    let step = m.connect(3, &req, 0, 0);
    assert!(
        step.out.contains(&Out::Close(1)),
        "the old connection is closed"
    );
    assert_eq!(m.session_of(3), Some(session));

    let mut fresh = machine();
    let mut whole = vec![Txn {
        zxid: 1,
        time: 0,
        kind: TxnKind::CreateSession {
            session,
            timeout_ms: 10000,
            passwd: vec![],
        },
    }];
    whole.extend(log);
    for txn in &whole {
        fresh.replay(txn);
    }
    assert_eq!(fresh.tree(), m.tree());
    assert_eq!(fresh.zxid(), m.zxid());
}

#[test]
fn bad_paths_are_bad_arguments_and_unknown_ops_unimplemented() {
    let mut m = machine();
    connect(&mut m, 1, 10000);
    let step = m.request(1, &create(1, "no-slash", 0), 0, 0).unwrap();
    assert_eq!(frames(&step, 1)[0].1, Code::BadArguments.wire());
    let mut w = Writer::new();
    w.int(5).int(22);
    let step = m.request(1, &w.into_bytes(), 0, 0).unwrap();
    assert_eq!(frames(&step, 1)[0].1, Code::Unimplemented.wire());
    assert!(
        m.request(1, &[0, 0, 0, 1, 0, 0], 0, 0).is_err(),
        "truncated frame"
    );
}

/// Decoding never panics: random bytes and mutations of valid requests only give errors.
#[test]
fn the_decoders_survive_random_and_mutated_input() {
    let mut seed = 0x1234_5678_9abc_def0_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut multi = Writer::new();
    multi.int(9).int(op::MULTI);
    multi
        .int(op::DELETE)
        .boolean(false)
        .int(-1)
        .string("/m")
        .int(-1);
    multi.int(-1).boolean(true).int(-1);
    let seeds = [
        create(1, "/a", 0),
        multi.into_bytes(),
        path_req(1, op::GET_DATA, "/a").into_bytes(),
    ];
    let mut m = machine();
    connect(&mut m, 1, 10000);
    for i in 0..20_000 {
        let mut bytes = if i % 2 == 0 {
            let len = (next() % 64) as usize;
            (0..len).map(|_| next() as u8).collect::<Vec<u8>>()
        } else {
            seeds[(next() % 3) as usize].clone()
        };
        for _ in 0..(next() % 4) {
            if !bytes.is_empty() {
                let at = (next() as usize) % bytes.len();
                bytes[at] = next() as u8;
            }
        }
        let _ = Envelope::decode(&bytes);
        let _ = ConnectRequest::decode(&bytes);
        let _ = m.request(1, &bytes, 0, 0);
    }
}
