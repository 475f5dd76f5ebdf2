//! The coordinator's state machine: sessions, the data tree and watches, driven by decoded
//! requests and explicit times, with no I/O. Each call returns a [`Step`]: the transactions to
//! log and the frames to send (notifications before the reply that caused them). The server
//! logs the transactions and releases the frames once the log is durable.

mod reads;
mod writes;

use std::collections::HashMap;

use crate::jute::DecodeError;
use crate::proto::{self, ConnectRequest, Envelope, EventType, Request};
use crate::session::Sessions;
use crate::tree::DataTree;
use crate::txn::{Change, Txn, TxnKind};
use crate::watch::{ConnId, Watches};

/// What the server tells the machine about its configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Smallest session timeout granted (ms).
    pub min_session_ms: i32,
    /// Largest session timeout granted (ms).
    pub max_session_ms: i32,
}

/// Something to do on a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Out {
    /// Send a frame.
    Frame(ConnId, Vec<u8>),
    /// Close the connection (after what was queued before).
    Close(ConnId),
}

/// The result of one call into the machine.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Step {
    /// Transactions to make durable, in order.
    pub txns: Vec<Txn>,
    /// What to send, in order.
    pub out: Vec<Out>,
}

/// Figures for the four-letter words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Last zxid applied.
    pub zxid: i64,
    /// Nodes in the tree.
    pub nodes: usize,
    /// Live sessions.
    pub sessions: usize,
    /// Watches set.
    pub watches: usize,
    /// Ephemeral nodes.
    pub ephemerals: usize,
    /// Approximate bytes of paths and data.
    pub data_size: usize,
}

/// Sessions, tree and watches.
#[derive(Debug)]
pub struct Machine {
    tree: DataTree,
    sessions: Sessions,
    watches: Watches,
    conns: HashMap<ConnId, i64>,
    zxid: i64,
    next_session: i64,
    secret: u64,
    limits: Limits,
}

impl Machine {
    /// An empty machine. `now_ms` (wall clock) seeds session ids as ZooKeeper does, `secret`
    /// seeds session passwords.
    pub fn new(limits: Limits, now_ms: u64, secret: u64) -> Machine {
        Machine {
            tree: DataTree::new(),
            sessions: Sessions::default(),
            watches: Watches::default(),
            conns: HashMap::new(),
            zxid: 0,
            next_session: first_session_id(now_ms),
            secret,
            limits,
        }
    }

    /// The last zxid applied.
    pub fn zxid(&self) -> i64 {
        self.zxid
    }

    /// The data tree (read-only).
    pub fn tree(&self) -> &DataTree {
        &self.tree
    }

    /// The session a connection serves, if it completed its handshake.
    pub fn session_of(&self, conn: ConnId) -> Option<i64> {
        self.conns.get(&conn).copied()
    }

    /// Figures for the four-letter words.
    pub fn summary(&self) -> Summary {
        Summary {
            zxid: self.zxid,
            nodes: self.tree.len(),
            sessions: self.sessions.len(),
            watches: self.watches.count(),
            ephemerals: self.tree.ephemeral_count(),
            data_size: self.tree.approximate_size(),
        }
    }

    fn negotiate(&self, requested: i32) -> i32 {
        requested.clamp(
            self.limits.min_session_ms,
            self.limits.max_session_ms.max(self.limits.min_session_ms),
        )
    }

    fn password(&self, session: i64) -> Vec<u8> {
        let mut x = self.secret ^ (session as u64);
        let mut out = Vec::with_capacity(16);
        for _ in 0..2 {
            x = splitmix64(x);
            out.extend_from_slice(&x.to_be_bytes());
        }
        out
    }

    /// Handles a connection's first frame: a new session, a resumed one, or a refusal.
    pub fn connect(&mut self, conn: ConnId, req: &ConnectRequest, now: u64, time: i64) -> Step {
        let mut step = Step::default();
        if req.last_zxid_seen > self.zxid {
            // The client has seen a newer state than ours: ZooKeeper refuses it.
            step.out.push(Out::Close(conn));
            return step;
        }
        if req.session_id == 0 {
            let session = self.next_session;
            self.next_session = self.next_session.wrapping_add(1);
            let timeout_ms = self.negotiate(req.timeout_ms);
            let passwd = self.password(session);
            let txn = self.next_txn(
                time,
                TxnKind::CreateSession {
                    session,
                    timeout_ms,
                    passwd: passwd.clone(),
                },
            );
            self.apply(&txn, now);
            self.bind(conn, session, &mut step);
            step.txns.push(txn);
            step.out.push(Out::Frame(
                conn,
                proto::connect_response(timeout_ms, session, &passwd),
            ));
            return step;
        }
        let valid = self
            .sessions
            .get(req.session_id)
            .is_some_and(|s| !s.closing && s.passwd == req.passwd);
        if !valid {
            step.out
                .push(Out::Frame(conn, proto::connect_response(0, 0, &[0; 16])));
            step.out.push(Out::Close(conn));
            return step;
        }
        self.bind(conn, req.session_id, &mut step);
        self.sessions.touch(req.session_id, now);
        let (timeout, passwd) = self
            .sessions
            .get(req.session_id)
            .map(|s| (s.timeout_ms, s.passwd.clone()))
            .unwrap_or_default();
        step.out.push(Out::Frame(
            conn,
            proto::connect_response(timeout, req.session_id, &passwd),
        ));
        step
    }

    /// Attaches a connection to a session, closing the connection that served it before.
    fn bind(&mut self, conn: ConnId, session: i64, step: &mut Step) {
        if let Some(s) = self.sessions.get_mut(session)
            && let Some(old) = s.conn.replace(conn)
            && old != conn
        {
            self.conns.remove(&old);
            self.watches.remove_conn(old);
            step.out.push(Out::Close(old));
        }
        self.conns.insert(conn, session);
    }

    /// A connection went away: its watches go, its session stays until it expires.
    pub fn disconnected(&mut self, conn: ConnId) {
        self.watches.remove_conn(conn);
        if let Some(session) = self.conns.remove(&conn)
            && let Some(s) = self.sessions.get_mut(session)
            && s.conn == Some(conn)
        {
            s.conn = None;
        }
    }

    /// Handles one request frame body from a connected client. A frame that does not decode
    /// is an error: the caller closes that connection.
    pub fn request(
        &mut self,
        conn: ConnId,
        body: &[u8],
        now: u64,
        time: i64,
    ) -> Result<Step, DecodeError> {
        let env = Envelope::decode(body)?;
        let mut step = Step::default();
        let Some(session) = self.conns.get(&conn).copied() else {
            step.out.push(Out::Close(conn));
            return Ok(step);
        };
        if self.sessions.get(session).is_none_or(|s| s.closing) {
            step.out.push(Out::Close(conn));
            return Ok(step);
        }
        self.sessions.touch(session, now);
        let Envelope { xid, op, request } = env;
        match request {
            Request::Write(write) => self.write(conn, session, xid, &write, time, &mut step),
            Request::Multi(ops) => self.multi(conn, session, xid, &ops, time, &mut step),
            Request::SetAcl { path, acl, version } => {
                self.set_acl(conn, xid, &path, acl, version, time, &mut step);
            }
            Request::CloseSession => {
                let _ = self.close_session(session, time, &mut step);
                step.out
                    .push(Out::Frame(conn, reply_header(xid, self.zxid, 0)));
                step.out.push(Out::Close(conn));
            }
            Request::Unimplemented(_) => {
                step.out.push(Out::Frame(
                    conn,
                    reply_header(xid, self.zxid, proto::Code::Unimplemented.wire()),
                ));
            }
            read => {
                let frame = self.read(conn, session, xid, op, read, &mut step);
                step.out.push(Out::Frame(conn, frame));
            }
        }
        Ok(step)
    }

    /// Expires sessions whose deadline passed: their ephemerals are deleted (firing watches)
    /// and their connection, if any, is closed.
    pub fn tick(&mut self, now: u64, time: i64) -> Step {
        let mut step = Step::default();
        for session in self.sessions.expired(now) {
            tracing::info!(session = format_args!("0x{session:x}"), "session expired");
            if let Some(conn) = self.close_session(session, time, &mut step) {
                step.out.push(Out::Close(conn));
            }
        }
        step
    }

    /// Ends a session (its ephemerals go, their watches fire); returns the connection that
    /// served it, for the caller to close after anything it still has to send.
    fn close_session(&mut self, session: i64, time: i64, step: &mut Step) -> Option<ConnId> {
        let conn = self.sessions.get_mut(session).and_then(|s| {
            s.closing = true;
            s.conn
        });
        let txn = self.next_txn(time, TxnKind::CloseSession { session });
        let events = self.apply(&txn, 0);
        self.notify(&events, step);
        step.txns.push(txn);
        conn
    }

    fn next_txn(&mut self, time: i64, kind: TxnKind) -> Txn {
        Txn {
            zxid: self.zxid.wrapping_add(1),
            time,
            kind,
        }
    }

    /// Applies a transaction (live or replayed) and returns the watch events it fires.
    fn apply(&mut self, txn: &Txn, now: u64) -> Vec<(String, EventType)> {
        self.zxid = self.zxid.max(txn.zxid);
        let mut events = Vec::new();
        match &txn.kind {
            TxnKind::CreateSession {
                session,
                timeout_ms,
                passwd,
            } => {
                self.sessions
                    .insert(*session, *timeout_ms, passwd.clone(), now);
                if *session >= self.next_session {
                    self.next_session = session.wrapping_add(1);
                }
            }
            TxnKind::CloseSession { session } => {
                for path in self.tree.ephemerals_of(*session) {
                    let change = Change::Delete { path };
                    if let Err(code) = apply_change(&mut self.tree, &change, txn, &mut events) {
                        tracing::warn!(?change, ?code, "ephemeral delete failed");
                    }
                }
                if let Some(s) = self.sessions.remove(*session)
                    && let Some(conn) = s.conn
                {
                    self.conns.remove(&conn);
                }
            }
            TxnKind::Changes(changes) => {
                for change in changes {
                    if let Err(code) = apply_change(&mut self.tree, change, txn, &mut events) {
                        tracing::warn!(?change, ?code, "replayed change did not apply");
                    }
                }
            }
        }
        events
    }

    /// Replays a logged transaction at startup (no replies, no watches).
    pub fn replay(&mut self, txn: &Txn) {
        if txn.zxid > self.zxid {
            self.apply(txn, 0);
        }
    }

    /// After a restart every restored session gets a full timeout from now, as ZooKeeper does.
    pub fn restart_clocks(&mut self, now: u64) {
        let ids: Vec<i64> = self.sessions.iter().map(|(id, _)| *id).collect();
        for id in ids {
            self.sessions.touch(id, now);
        }
    }

    /// Turns watch events into notification frames, queued before whatever follows.
    fn notify(&mut self, events: &[(String, EventType)], step: &mut Step) {
        for (path, event) in events {
            for conn in self.watches.trigger(path, *event) {
                step.out
                    .push(Out::Frame(conn, proto::notification(*event, path)));
            }
        }
    }
}

/// Applies one change to the tree, recording the watch events it fires.
fn apply_change(
    tree: &mut DataTree,
    change: &Change,
    txn: &Txn,
    events: &mut Vec<(String, EventType)>,
) -> Result<Option<proto::Stat>, proto::Code> {
    match change {
        Change::Create {
            path,
            data,
            acl,
            owner,
        } => {
            let stat = tree.create(path, data.clone(), acl.clone(), *owner, txn.zxid, txn.time)?;
            events.push((path.clone(), EventType::NodeCreated));
            events.push((
                crate::path::parent(path).to_owned(),
                EventType::NodeChildrenChanged,
            ));
            Ok(Some(stat))
        }
        Change::Delete { path } => {
            tree.delete(path, txn.zxid)?;
            events.push((path.clone(), EventType::NodeDeleted));
            events.push((
                crate::path::parent(path).to_owned(),
                EventType::NodeChildrenChanged,
            ));
            Ok(None)
        }
        Change::SetData { path, data } => {
            let stat = tree.set_data(path, data.clone(), txn.zxid, txn.time)?;
            events.push((path.clone(), EventType::NodeDataChanged));
            Ok(Some(stat))
        }
        Change::SetAcl { path, acl } => tree.set_acl(path, acl.clone()).map(Some),
    }
}

/// A reply frame with a header only.
fn reply_header(xid: i32, zxid: i64, err: i32) -> Vec<u8> {
    proto::reply(xid, zxid, err).finish_frame()
}

/// ZooKeeper's first session id: the time in the middle bits, the server id (0) on top.
fn first_session_id(now_ms: u64) -> i64 {
    ((now_ms << 24) >> 8) as i64
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Snapshot support: the machine's durable state in and out.
impl Machine {
    /// A copy of the durable state: zxid, sessions and nodes.
    pub fn durable_state(&self) -> crate::snapshot::State {
        crate::snapshot::State {
            zxid: self.zxid,
            sessions: self.sessions.clone(),
            tree: self.tree.clone(),
        }
    }

    /// Replaces the durable state with a loaded snapshot.
    pub fn load(&mut self, loaded: crate::snapshot::Loaded) {
        self.zxid = loaded.zxid;
        self.tree = loaded.tree;
        self.sessions = loaded.sessions;
        if let Some(max) = self.sessions.max_id()
            && max >= self.next_session
        {
            self.next_session = max.wrapping_add(1);
        }
    }
}

#[cfg(test)]
mod tests;
