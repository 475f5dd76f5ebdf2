//! Transactions: the changes a write makes, resolved (sequential names chosen, owners set), in
//! the form written to the transaction log and replayed on restart. Encoded with jute.

use crate::jute::{DecodeError, Reader, Writer};
use crate::proto::{Acl, read_acls, write_acls};

/// One change to the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A node is made.
    Create {
        /// Final path (with any sequential suffix).
        path: String,
        /// Data.
        data: Vec<u8>,
        /// ACL.
        acl: Vec<Acl>,
        /// Owning session for an ephemeral node, 0 otherwise.
        owner: i64,
    },
    /// A node is removed.
    Delete {
        /// Path.
        path: String,
    },
    /// A node's data is replaced.
    SetData {
        /// Path.
        path: String,
        /// New data.
        data: Vec<u8>,
    },
    /// A node's ACL is replaced.
    SetAcl {
        /// Path.
        path: String,
        /// New ACL.
        acl: Vec<Acl>,
    },
}

/// What a transaction does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnKind {
    /// A session begins.
    CreateSession {
        /// Session id.
        session: i64,
        /// Negotiated timeout.
        timeout_ms: i32,
        /// Its password.
        passwd: Vec<u8>,
    },
    /// A session ends (closed or expired); its ephemerals go with it.
    CloseSession {
        /// Session id.
        session: i64,
    },
    /// Changes applied atomically (one for a plain write, several for a multi).
    Changes(Vec<Change>),
}

/// A transaction with its zxid and time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Txn {
    /// Its zxid.
    pub zxid: i64,
    /// When it happened (ms since the epoch).
    pub time: i64,
    /// What it does.
    pub kind: TxnKind,
}

const CREATE_SESSION: i32 = 1;
const CLOSE_SESSION: i32 = 2;
const CHANGES: i32 = 3;

const CREATE: i32 = 1;
const DELETE: i32 = 2;
const SET_DATA: i32 = 3;
const SET_ACL: i32 = 4;

impl Txn {
    /// Encodes the transaction.
    pub fn encode(&self, w: &mut Writer) {
        w.long(self.zxid).long(self.time);
        match &self.kind {
            TxnKind::CreateSession {
                session,
                timeout_ms,
                passwd,
            } => {
                w.int(CREATE_SESSION)
                    .long(*session)
                    .int(*timeout_ms)
                    .buffer(passwd);
            }
            TxnKind::CloseSession { session } => {
                w.int(CLOSE_SESSION).long(*session);
            }
            TxnKind::Changes(changes) => {
                w.int(CHANGES)
                    .int(i32::try_from(changes.len()).unwrap_or(i32::MAX));
                for change in changes {
                    change.encode(w);
                }
            }
        }
    }

    /// Decodes a transaction written by [`Txn::encode`].
    pub fn decode(r: &mut Reader<'_>) -> Result<Txn, DecodeError> {
        let zxid = r.long("zxid")?;
        let time = r.long("time")?;
        let kind = match r.int("txn type")? {
            CREATE_SESSION => TxnKind::CreateSession {
                session: r.long("session")?,
                timeout_ms: r.int("timeout")?,
                passwd: r.buffer("passwd")?.to_vec(),
            },
            CLOSE_SESSION => TxnKind::CloseSession {
                session: r.long("session")?,
            },
            CHANGES => TxnKind::Changes(r.vector("changes", 8, Change::decode)?),
            _ => return Err(DecodeError::Invalid("txn type")),
        };
        Ok(Txn { zxid, time, kind })
    }
}

impl Change {
    fn encode(&self, w: &mut Writer) {
        match self {
            Change::Create {
                path,
                data,
                acl,
                owner,
            } => {
                w.int(CREATE).string(path).buffer(data);
                write_acls(w, acl);
                w.long(*owner);
            }
            Change::Delete { path } => {
                w.int(DELETE).string(path);
            }
            Change::SetData { path, data } => {
                w.int(SET_DATA).string(path).buffer(data);
            }
            Change::SetAcl { path, acl } => {
                w.int(SET_ACL).string(path);
                write_acls(w, acl);
            }
        }
    }

    fn decode(r: &mut Reader<'_>) -> Result<Change, DecodeError> {
        Ok(match r.int("change type")? {
            CREATE => Change::Create {
                path: r.string("path")?,
                data: r.buffer("data")?.to_vec(),
                acl: read_acls(r)?,
                owner: r.long("owner")?,
            },
            DELETE => Change::Delete {
                path: r.string("path")?,
            },
            SET_DATA => Change::SetData {
                path: r.string("path")?,
                data: r.buffer("data")?.to_vec(),
            },
            SET_ACL => Change::SetAcl {
                path: r.string("path")?,
                acl: read_acls(r)?,
            },
            _ => return Err(DecodeError::Invalid("change type")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::perm;

    #[test]
    fn every_kind_round_trips() {
        let txns = [
            Txn {
                zxid: 1,
                time: 2,
                kind: TxnKind::CreateSession {
                    session: 3,
                    timeout_ms: 4000,
                    passwd: vec![1; 16],
                },
            },
            Txn {
                zxid: 2,
                time: 3,
                kind: TxnKind::Changes(vec![
                    Change::Create {
                        path: "/a".into(),
                        data: b"x".to_vec(),
                        acl: vec![Acl::world(perm::ALL)],
                        owner: 3,
                    },
                    Change::SetData {
                        path: "/a".into(),
                        data: vec![],
                    },
                    Change::SetAcl {
                        path: "/a".into(),
                        acl: vec![],
                    },
                    Change::Delete { path: "/a".into() },
                ]),
            },
            Txn {
                zxid: 3,
                time: 4,
                kind: TxnKind::CloseSession { session: 3 },
            },
        ];
        for txn in txns {
            let mut w = Writer::new();
            txn.encode(&mut w);
            let bytes = w.into_bytes();
            let mut r = Reader::new(&bytes);
            assert_eq!(Txn::decode(&mut r), Ok(txn));
            assert_eq!(r.remaining(), 0);
        }
    }
}
