//! ZooKeeper's client protocol records (`zookeeper.jute`), its operation codes (`ZooDefs.OpCode`)
//! and error codes (`KeeperException.Code`): decoding of what clients send, encoding of what the
//! server answers. I/O-free.

use crate::jute::{DecodeError, Reader, Writer};

/// Operation codes of request headers.
#[allow(missing_docs)]
pub mod op {
    pub const NOTIFICATION: i32 = 0;
    pub const CREATE: i32 = 1;
    pub const DELETE: i32 = 2;
    pub const EXISTS: i32 = 3;
    pub const GET_DATA: i32 = 4;
    pub const SET_DATA: i32 = 5;
    pub const GET_ACL: i32 = 6;
    pub const SET_ACL: i32 = 7;
    pub const GET_CHILDREN: i32 = 8;
    pub const SYNC: i32 = 9;
    pub const PING: i32 = 11;
    pub const GET_CHILDREN2: i32 = 12;
    pub const CHECK: i32 = 13;
    pub const MULTI: i32 = 14;
    pub const CREATE2: i32 = 15;
    pub const AUTH: i32 = 100;
    pub const SET_WATCHES: i32 = 101;
    pub const GET_EPHEMERALS: i32 = 103;
    pub const GET_ALL_CHILDREN_NUMBER: i32 = 104;
    pub const SET_WATCHES2: i32 = 105;
    pub const ADD_WATCH: i32 = 106;
    pub const CLOSE_SESSION: i32 = -11;
    pub const ERROR: i32 = -1;
}

/// Special xids: notifications carry -1, pings -2.
pub mod xid {
    /// A watch notification.
    pub const NOTIFICATION: i32 = -1;
    /// A ping and its reply.
    pub const PING: i32 = -2;
}

/// Error codes of reply headers (`KeeperException.Code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Code {
    Ok = 0,
    SystemError = -1,
    RuntimeInconsistency = -2,
    MarshallingError = -5,
    Unimplemented = -6,
    BadArguments = -8,
    NoNode = -101,
    NoAuth = -102,
    BadVersion = -103,
    NoChildrenForEphemerals = -108,
    NodeExists = -110,
    NotEmpty = -111,
    SessionExpired = -112,
    InvalidAcl = -114,
}

impl Code {
    /// The number sent on the wire.
    pub fn wire(self) -> i32 {
        self as i32
    }
}

/// Watch event types (`Watcher.Event.EventType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum EventType {
    NodeCreated = 1,
    NodeDeleted = 2,
    NodeDataChanged = 3,
    NodeChildrenChanged = 4,
}

/// Client state in notifications: SyncConnected.
pub const STATE_SYNC_CONNECTED: i32 = 3;

/// Permission bits of an ACL entry.
pub mod perm {
    /// Read data and list children.
    pub const READ: i32 = 1;
    /// Set data.
    pub const WRITE: i32 = 2;
    /// Create children.
    pub const CREATE: i32 = 4;
    /// Delete children.
    pub const DELETE: i32 = 8;
    /// Set ACLs.
    pub const ADMIN: i32 = 16;
    /// Everything.
    pub const ALL: i32 = 31;
}

/// One ACL entry: permissions granted to an identity (`scheme:id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acl {
    /// Permission bits ([`perm`]).
    pub perms: i32,
    /// The scheme: world, digest, ip, auth, …
    pub scheme: String,
    /// The identity within the scheme.
    pub id: String,
}

impl Acl {
    /// `world:anyone` with the given permissions.
    pub fn world(perms: i32) -> Acl {
        Acl {
            perms,
            scheme: "world".into(),
            id: "anyone".into(),
        }
    }

    fn read(r: &mut Reader<'_>) -> Result<Acl, DecodeError> {
        Ok(Acl {
            perms: r.int("acl perms")?,
            scheme: r.string("acl scheme")?,
            id: r.string("acl id")?,
        })
    }

    fn write(&self, w: &mut Writer) {
        w.int(self.perms).string(&self.scheme).string(&self.id);
    }
}

/// Reads a vector of ACL entries.
pub fn read_acls(r: &mut Reader<'_>) -> Result<Vec<Acl>, DecodeError> {
    r.vector("acl", 12, Acl::read)
}

/// Writes a vector of ACL entries.
pub fn write_acls(w: &mut Writer, acls: &[Acl]) {
    w.int(i32::try_from(acls.len()).unwrap_or(i32::MAX));
    for acl in acls {
        acl.write(w);
    }
}

/// A znode's metadata as clients see it (`data.Stat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct Stat {
    pub czxid: i64,
    pub mzxid: i64,
    pub ctime: i64,
    pub mtime: i64,
    pub version: i32,
    pub cversion: i32,
    pub aversion: i32,
    pub ephemeral_owner: i64,
    pub data_length: i32,
    pub num_children: i32,
    pub pzxid: i64,
}

impl Stat {
    /// Appends the 68-byte jute form.
    pub fn write(&self, w: &mut Writer) {
        w.long(self.czxid)
            .long(self.mzxid)
            .long(self.ctime)
            .long(self.mtime)
            .int(self.version)
            .int(self.cversion)
            .int(self.aversion)
            .long(self.ephemeral_owner)
            .int(self.data_length)
            .int(self.num_children)
            .long(self.pzxid);
    }
}

/// The first record of a connection (`ConnectRequest`, plus the optional `readOnly` byte).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectRequest {
    /// Protocol version (0).
    pub protocol_version: i32,
    /// The last zxid the client saw (0 for a new session).
    pub last_zxid_seen: i64,
    /// Requested session timeout in milliseconds.
    pub timeout_ms: i32,
    /// 0 for a new session, or the session to resume.
    pub session_id: i64,
    /// The session password (empty or 16 bytes).
    pub passwd: Vec<u8>,
    /// Whether a read-only server is acceptable (absent in 44-byte requests).
    pub read_only: bool,
}

impl ConnectRequest {
    /// Decodes the body of the first frame.
    pub fn decode(body: &[u8]) -> Result<ConnectRequest, DecodeError> {
        let mut r = Reader::new(body);
        let req = ConnectRequest {
            protocol_version: r.int("protocolVersion")?,
            last_zxid_seen: r.long("lastZxidSeen")?,
            timeout_ms: r.int("timeOut")?,
            session_id: r.long("sessionId")?,
            passwd: r.buffer("passwd")?.to_vec(),
            read_only: if r.remaining() > 0 {
                r.boolean("readOnly")?
            } else {
                false
            },
        };
        Ok(req)
    }
}

/// Encodes a `ConnectResponse` frame (with the trailing readOnly byte, as ZooKeeper sends it).
pub fn connect_response(timeout_ms: i32, session_id: i64, passwd: &[u8]) -> Vec<u8> {
    let mut w = Writer::frame();
    w.int(0)
        .int(timeout_ms)
        .long(session_id)
        .buffer(passwd)
        .boolean(false);
    w.finish_frame()
}

/// How a node is created (`CreateMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreateMode {
    /// Deleted when its session ends.
    pub ephemeral: bool,
    /// Gets the parent's cversion appended as `%010d`.
    pub sequential: bool,
}

impl CreateMode {
    /// The modes this server serves (0–3); containers and TTL nodes are not.
    pub fn from_flags(flags: i32) -> Option<CreateMode> {
        match flags {
            0..=3 => Some(CreateMode {
                ephemeral: flags & 1 != 0,
                sequential: flags & 2 != 0,
            }),
            _ => None,
        }
    }
}

/// A write that may appear alone or inside a `multi`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOp {
    /// create (op 1) or create2 (op 15, answered with the Stat too).
    Create {
        /// Where.
        path: String,
        /// Initial data.
        data: Vec<u8>,
        /// Initial ACL.
        acl: Vec<Acl>,
        /// CreateMode flags.
        flags: i32,
        /// True for create2.
        with_stat: bool,
    },
    /// delete (op 2).
    Delete {
        /// What.
        path: String,
        /// Expected version, -1 for any.
        version: i32,
    },
    /// setData (op 5).
    SetData {
        /// What.
        path: String,
        /// New data.
        data: Vec<u8>,
        /// Expected version, -1 for any.
        version: i32,
    },
    /// check (op 13), only inside multi.
    Check {
        /// What.
        path: String,
        /// Expected version, -1 for any.
        version: i32,
    },
}

impl WriteOp {
    /// The operation code this write answers with.
    pub fn op(&self) -> i32 {
        match self {
            WriteOp::Create {
                with_stat: false, ..
            } => op::CREATE,
            WriteOp::Create {
                with_stat: true, ..
            } => op::CREATE2,
            WriteOp::Delete { .. } => op::DELETE,
            WriteOp::SetData { .. } => op::SET_DATA,
            WriteOp::Check { .. } => op::CHECK,
        }
    }

    fn decode(op_code: i32, r: &mut Reader<'_>) -> Result<Option<WriteOp>, DecodeError> {
        Ok(Some(match op_code {
            op::CREATE | op::CREATE2 => WriteOp::Create {
                path: r.string("path")?,
                data: r.buffer("data")?.to_vec(),
                acl: read_acls(r)?,
                flags: r.int("flags")?,
                with_stat: op_code == op::CREATE2,
            },
            op::DELETE => WriteOp::Delete {
                path: r.string("path")?,
                version: r.int("version")?,
            },
            op::SET_DATA => WriteOp::SetData {
                path: r.string("path")?,
                data: r.buffer("data")?.to_vec(),
                version: r.int("version")?,
            },
            op::CHECK => WriteOp::Check {
                path: r.string("path")?,
                version: r.int("version")?,
            },
            _ => return Ok(None),
        }))
    }
}

/// Watches a client re-registers after reconnecting (`SetWatches`/`SetWatches2`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SetWatches {
    /// The last zxid the client saw: changes after it fire at once.
    pub relative_zxid: i64,
    /// Data watches.
    pub data: Vec<String>,
    /// Exist watches.
    pub exist: Vec<String>,
    /// Child watches.
    pub child: Vec<String>,
    /// Persistent watches (SetWatches2 only).
    pub persistent: Vec<String>,
    /// Persistent recursive watches (SetWatches2 only).
    pub recursive: Vec<String>,
}

/// A decoded client request (after the `RequestHeader`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// A single write.
    Write(WriteOp),
    /// exists (op 3).
    Exists {
        /// What.
        path: String,
        /// Leave a watch.
        watch: bool,
    },
    /// getData (op 4).
    GetData {
        /// What.
        path: String,
        /// Leave a watch.
        watch: bool,
    },
    /// getACL (op 6).
    GetAcl {
        /// What.
        path: String,
    },
    /// setACL (op 7).
    SetAcl {
        /// What.
        path: String,
        /// The new ACL.
        acl: Vec<Acl>,
        /// Expected aversion, -1 for any.
        version: i32,
    },
    /// getChildren (op 8) and getChildren2 (op 12, with the Stat).
    GetChildren {
        /// What.
        path: String,
        /// Leave a watch.
        watch: bool,
        /// True for getChildren2.
        with_stat: bool,
    },
    /// sync (op 9).
    Sync {
        /// Echoed back.
        path: String,
    },
    /// ping (op 11).
    Ping,
    /// multi (op 14).
    Multi(Vec<WriteOp>),
    /// closeSession (op -11).
    CloseSession,
    /// auth (op 100); accepted, not enforced.
    Auth,
    /// setWatches (op 101) and setWatches2 (op 105).
    SetWatches(SetWatches),
    /// getEphemerals (op 103).
    GetEphemerals {
        /// Path prefix (`/` for all).
        prefix: String,
    },
    /// getAllChildrenNumber (op 104).
    GetAllChildrenNumber {
        /// What.
        path: String,
    },
    /// addWatch (op 106).
    AddWatch {
        /// Where.
        path: String,
        /// 0 persistent, 1 persistent recursive.
        mode: i32,
    },
    /// Anything this server does not serve: answered UNIMPLEMENTED.
    Unimplemented(i32),
}

/// A request header and its decoded body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The client's request id, echoed in the reply.
    pub xid: i32,
    /// The operation code.
    pub op: i32,
    /// The request.
    pub request: Request,
}

impl Envelope {
    /// Decodes one request frame's body (without its length prefix).
    pub fn decode(body: &[u8]) -> Result<Envelope, DecodeError> {
        let mut r = Reader::new(body);
        let xid = r.int("xid")?;
        let op_code = r.int("type")?;
        let request = Request::decode(op_code, &mut r)?;
        Ok(Envelope {
            xid,
            op: op_code,
            request,
        })
    }
}

impl Request {
    fn decode(op_code: i32, r: &mut Reader<'_>) -> Result<Request, DecodeError> {
        if let Some(write) = WriteOp::decode(op_code, r)? {
            return if matches!(write, WriteOp::Check { .. }) {
                Ok(Request::Unimplemented(op_code))
            } else {
                Ok(Request::Write(write))
            };
        }
        Ok(match op_code {
            op::EXISTS => Request::Exists {
                path: r.string("path")?,
                watch: r.boolean("watch")?,
            },
            op::GET_DATA => Request::GetData {
                path: r.string("path")?,
                watch: r.boolean("watch")?,
            },
            op::GET_ACL => Request::GetAcl {
                path: r.string("path")?,
            },
            op::SET_ACL => Request::SetAcl {
                path: r.string("path")?,
                acl: read_acls(r)?,
                version: r.int("version")?,
            },
            op::GET_CHILDREN | op::GET_CHILDREN2 => Request::GetChildren {
                path: r.string("path")?,
                watch: r.boolean("watch")?,
                with_stat: op_code == op::GET_CHILDREN2,
            },
            op::SYNC => Request::Sync {
                path: r.string("path")?,
            },
            op::PING => Request::Ping,
            op::MULTI => Request::Multi(decode_multi(r)?),
            op::CLOSE_SESSION => Request::CloseSession,
            op::AUTH => Request::Auth,
            op::SET_WATCHES | op::SET_WATCHES2 => {
                let mut sw = SetWatches {
                    relative_zxid: r.long("relativeZxid")?,
                    data: r.strings("dataWatches")?,
                    exist: r.strings("existWatches")?,
                    child: r.strings("childWatches")?,
                    ..SetWatches::default()
                };
                if op_code == op::SET_WATCHES2 {
                    sw.persistent = r.strings("persistentWatches")?;
                    sw.recursive = r.strings("persistentRecursiveWatches")?;
                }
                Request::SetWatches(sw)
            }
            op::GET_EPHEMERALS => Request::GetEphemerals {
                prefix: r.string("prefixPath")?,
            },
            op::GET_ALL_CHILDREN_NUMBER => Request::GetAllChildrenNumber {
                path: r.string("path")?,
            },
            op::ADD_WATCH => Request::AddWatch {
                path: r.string("path")?,
                mode: r.int("mode")?,
            },
            other => Request::Unimplemented(other),
        })
    }
}

/// Reads the ops of a `multi`: `MultiHeader`s each followed by an op, until one with `done`.
fn decode_multi(r: &mut Reader<'_>) -> Result<Vec<WriteOp>, DecodeError> {
    let mut ops = Vec::new();
    loop {
        let op_code = r.int("multi type")?;
        let done = r.boolean("multi done")?;
        let _err = r.int("multi err")?;
        if done {
            return Ok(ops);
        }
        match WriteOp::decode(op_code, r)? {
            Some(op) => ops.push(op),
            None => return Err(DecodeError::Invalid("operation inside multi")),
        }
    }
}

/// Starts a reply frame: length placeholder and `ReplyHeader`.
pub fn reply(xid: i32, zxid: i64, err: i32) -> Writer {
    let mut w = Writer::frame();
    w.int(xid).long(zxid).int(err);
    w
}

/// A watch notification frame: `xid -1`, zxid -1 (as ZooKeeper 3.8 sends them) and a
/// `WatcherEvent`.
pub fn notification(event: EventType, path: &str) -> Vec<u8> {
    let mut w = reply(xid::NOTIFICATION, -1, 0);
    w.int(event as i32).int(STATE_SYNC_CONNECTED).string(path);
    w.finish_frame()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What kazoo 2.11 sends first (timeout 10000 ms, new session), captured on the wire
    /// (without its length prefix, 45).
    const KAZOO_CONNECT: [u8; 45] = [
        0, 0, 0, 0, // protocolVersion
        0, 0, 0, 0, 0, 0, 0, 0, // lastZxidSeen
        0, 0, 0x27, 0x10, // timeOut 10000
        0, 0, 0, 0, 0, 0, 0, 0, // sessionId
        0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // passwd
        0, // readOnly
    ];

    #[test]
    fn connect_with_and_without_the_read_only_byte() {
        let req = ConnectRequest::decode(&KAZOO_CONNECT).unwrap();
        assert_eq!(req.timeout_ms, 10_000);
        assert_eq!(req.passwd, vec![0; 16]);
        let short = ConnectRequest::decode(&KAZOO_CONNECT[..44]).unwrap();
        assert_eq!(short, req);
    }

    #[test]
    fn connect_response_golden_bytes() {
        let frame = connect_response(4000, 0x0100_0000_0000_0001, &[7; 16]);
        let mut expected = vec![0, 0, 0, 37, 0, 0, 0, 0, 0, 0, 0x0f, 0xa0];
        expected.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 16]);
        expected.extend_from_slice(&[7; 16]);
        expected.push(0);
        assert_eq!(frame, expected);
    }

    /// zkCli.sh 3.8 `create /golden x`, captured between it and Apache ZooKeeper.
    const ZKCLI_CREATE: [u8; 59] = [
        0, 0, 0, 55, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 7, 47, 103, 111, 108, 100, 101, 110, 0, 0, 0,
        1, 120, 0, 0, 0, 1, 0, 0, 0, 31, 0, 0, 0, 5, 119, 111, 114, 108, 100, 0, 0, 0, 6, 97, 110,
        121, 111, 110, 101, 0, 0, 0, 0,
    ];

    /// zkCli.sh 3.8 `get -w /golden`, captured likewise.
    const ZKCLI_GET_WATCH: [u8; 24] = [
        0, 0, 0, 20, 0, 0, 0, 2, 0, 0, 0, 4, 0, 0, 0, 7, 47, 103, 111, 108, 100, 101, 110, 1,
    ];

    /// What Apache ZooKeeper 3.8 sent zkCli when `set /golden y` fired that watch.
    const ZOOKEEPER_NOTIFICATION: [u8; 39] = [
        0, 0, 0, 35, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 0, 0, 0, 0, 0, 0,
        0, 3, 0, 0, 0, 3, 0, 0, 0, 7, 47, 103, 111, 108, 100, 101, 110,
    ];

    #[test]
    fn zkcli_requests_golden_bytes() {
        let env = Envelope::decode(&ZKCLI_CREATE[4..]).unwrap();
        assert_eq!(env.xid, 1);
        assert_eq!(
            env.request,
            Request::Write(WriteOp::Create {
                path: "/golden".into(),
                data: b"x".to_vec(),
                acl: vec![Acl::world(perm::ALL)],
                flags: 0,
                with_stat: false,
            })
        );
        let env = Envelope::decode(&ZKCLI_GET_WATCH[4..]).unwrap();
        assert_eq!(
            env.request,
            Request::GetData {
                path: "/golden".into(),
                watch: true
            }
        );
    }

    #[test]
    fn multi_reads_until_done() {
        let mut w = Writer::new();
        w.int(7).int(op::MULTI);
        w.int(op::CHECK).boolean(false).int(-1).string("/a").int(3);
        w.int(op::DELETE)
            .boolean(false)
            .int(-1)
            .string("/a")
            .int(-1);
        w.int(-1).boolean(true).int(-1);
        let env = Envelope::decode(&w.into_bytes()).unwrap();
        let Request::Multi(ops) = env.request else {
            panic!("not a multi")
        };
        assert_eq!(ops.len(), 2);
        assert_eq!(
            ops[0],
            WriteOp::Check {
                path: "/a".into(),
                version: 3
            }
        );
    }

    #[test]
    fn notification_golden_bytes() {
        let frame = notification(EventType::NodeDataChanged, "/golden");
        assert_eq!(frame, ZOOKEEPER_NOTIFICATION);
    }

    #[test]
    fn unknown_ops_are_unimplemented() {
        let body = [0, 0, 0, 9, 0, 0, 0, 22];
        assert_eq!(
            Envelope::decode(&body).unwrap().request,
            Request::Unimplemented(22)
        );
    }
}
