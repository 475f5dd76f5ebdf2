//! Writes: checks in ZooKeeper's order (path, ACL validity, existence, permission, version),
//! then the change, its transaction, the notifications and the reply. A `multi` applies its
//! ops one by one and puts the tree back if any fails.

use super::{Machine, Out, Step, apply_change, reply_header};
use crate::jute::Writer;
use crate::path;
use crate::proto::{self, Acl, Code, CreateMode, EventType, Stat, WriteOp, op, perm};
use crate::tree::Node;
use crate::txn::{Change, Txn, TxnKind};
use crate::watch::ConnId;

/// What a successful write answers.
enum Done {
    Created(String, Stat),
    Stat(Stat),
    Nothing,
}

impl Machine {
    pub(super) fn write(
        &mut self,
        conn: ConnId,
        session: i64,
        xid: i32,
        write: &WriteOp,
        time: i64,
        step: &mut Step,
    ) {
        let txn_zxid = self.zxid.wrapping_add(1);
        let mut changes = Vec::new();
        let mut events = Vec::new();
        let probe = Txn {
            zxid: txn_zxid,
            time,
            kind: TxnKind::Changes(Vec::new()),
        };
        match self.apply_op(session, write, &probe, &mut changes, &mut events) {
            Ok(done) => {
                self.zxid = txn_zxid;
                self.notify(&events, step);
                let mut w = proto::reply(xid, txn_zxid, 0);
                write_done(&mut w, write, &done);
                step.out.push(Out::Frame(conn, w.finish_frame()));
                step.txns.push(Txn {
                    kind: TxnKind::Changes(changes),
                    ..probe
                });
            }
            Err(code) => {
                step.out
                    .push(Out::Frame(conn, reply_header(xid, self.zxid, code.wire())));
            }
        }
    }

    pub(super) fn multi(
        &mut self,
        conn: ConnId,
        session: i64,
        xid: i32,
        ops: &[WriteOp],
        time: i64,
        step: &mut Step,
    ) {
        let txn_zxid = self.zxid.wrapping_add(1);
        let probe = Txn {
            zxid: txn_zxid,
            time,
            kind: TxnKind::Changes(Vec::new()),
        };
        let mut changes = Vec::new();
        let mut events = Vec::new();
        let mut undo = Vec::new();
        let mut results = Vec::with_capacity(ops.len());
        let mut failed = None;
        for (i, write) in ops.iter().enumerate() {
            undo.push(self.tree.save(target(write)));
            match self.apply_op(session, write, &probe, &mut changes, &mut events) {
                Ok(done) => results.push(done),
                Err(code) => {
                    failed = Some((i, code));
                    break;
                }
            }
        }
        let mut w;
        if let Some((at, code)) = failed {
            for saved in undo.into_iter().rev() {
                self.tree.restore(saved);
            }
            w = proto::reply(xid, self.zxid, 0);
            for i in 0..ops.len() {
                let err = match i.cmp(&at) {
                    std::cmp::Ordering::Less => Code::Ok,
                    std::cmp::Ordering::Equal => code,
                    std::cmp::Ordering::Greater => Code::RuntimeInconsistency,
                };
                w.int(op::ERROR)
                    .boolean(false)
                    .int(err.wire())
                    .int(err.wire());
            }
        } else {
            self.zxid = txn_zxid;
            self.notify(&events, step);
            w = proto::reply(xid, txn_zxid, 0);
            for (write, done) in ops.iter().zip(&results) {
                w.int(write.op()).boolean(false).int(0);
                write_done(&mut w, write, done);
            }
            step.txns.push(Txn {
                kind: TxnKind::Changes(changes),
                ..probe
            });
        }
        w.int(-1).boolean(true).int(-1);
        step.out.push(Out::Frame(conn, w.finish_frame()));
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn set_acl(
        &mut self,
        conn: ConnId,
        xid: i32,
        target: &str,
        acl: Vec<Acl>,
        version: i32,
        time: i64,
        step: &mut Step,
    ) {
        let checked = (|| {
            valid_path(target, false)?;
            valid_acl(&acl)?;
            let node = self.tree.get(target).ok_or(Code::NoNode)?;
            allowed(node, perm::ADMIN)?;
            version_matches(version, node.aversion)
        })();
        let result = checked.and_then(|()| {
            let txn = Txn {
                zxid: self.zxid.wrapping_add(1),
                time,
                kind: TxnKind::Changes(vec![Change::SetAcl {
                    path: target.to_owned(),
                    acl,
                }]),
            };
            if let TxnKind::Changes(changes) = &txn.kind {
                for change in changes {
                    apply_change(&mut self.tree, change, &txn, &mut Vec::new())?;
                }
            }
            Ok(txn)
        });
        match result {
            Ok(txn) => {
                self.zxid = txn.zxid;
                let stat = self.tree.get(target).map(Node::stat).unwrap_or_default();
                let mut w = proto::reply(xid, txn.zxid, 0);
                stat.write(&mut w);
                step.out.push(Out::Frame(conn, w.finish_frame()));
                step.txns.push(txn);
            }
            Err(code) => step
                .out
                .push(Out::Frame(conn, reply_header(xid, self.zxid, code.wire()))),
        }
    }

    /// Checks one write and applies it to the tree, collecting its change and events.
    fn apply_op(
        &mut self,
        session: i64,
        write: &WriteOp,
        txn: &Txn,
        changes: &mut Vec<Change>,
        events: &mut Vec<(String, EventType)>,
    ) -> Result<Done, Code> {
        let change = match write {
            WriteOp::Create {
                path: p,
                data,
                acl,
                flags,
                ..
            } => {
                let mode = CreateMode::from_flags(*flags).ok_or(Code::BadArguments)?;
                valid_path(p, mode.sequential)?;
                valid_acl(acl)?;
                let parent = self.tree.get(path::parent(p)).ok_or(Code::NoNode)?;
                allowed(parent, perm::CREATE)?;
                let final_path = if mode.sequential {
                    format!("{p}{:010}", parent.creates)
                } else {
                    p.clone()
                };
                valid_path(&final_path, false)?;
                self.tree.check_create(&final_path)?;
                Change::Create {
                    path: final_path,
                    data: data.clone(),
                    acl: acl.clone(),
                    owner: if mode.ephemeral { session } else { 0 },
                }
            }
            WriteOp::Delete { path: p, version } => {
                valid_path(p, false)?;
                let parent = self.tree.get(path::parent(p)).ok_or(Code::NoNode)?;
                let node = self.tree.get(p).ok_or(Code::NoNode)?;
                allowed(parent, perm::DELETE)?;
                version_matches(*version, node.version)?;
                if !node.children.is_empty() {
                    return Err(Code::NotEmpty);
                }
                Change::Delete { path: p.clone() }
            }
            WriteOp::SetData {
                path: p,
                data,
                version,
            } => {
                valid_path(p, false)?;
                let node = self.tree.get(p).ok_or(Code::NoNode)?;
                allowed(node, perm::WRITE)?;
                version_matches(*version, node.version)?;
                Change::SetData {
                    path: p.clone(),
                    data: data.clone(),
                }
            }
            WriteOp::Check { path: p, version } => {
                valid_path(p, false)?;
                let node = self.tree.get(p).ok_or(Code::NoNode)?;
                allowed(node, perm::READ)?;
                version_matches(*version, node.version)?;
                return Ok(Done::Nothing);
            }
        };
        let stat = apply_change(&mut self.tree, &change, txn, events)?;
        let done = match (&change, stat) {
            (Change::Create { path, .. }, Some(stat)) => Done::Created(path.clone(), stat),
            (_, Some(stat)) => Done::Stat(stat),
            (_, None) => Done::Nothing,
        };
        changes.push(change);
        Ok(done)
    }
}

/// The path a write touches (what a failed multi must restore).
fn target(write: &WriteOp) -> &str {
    match write {
        WriteOp::Create { path, .. }
        | WriteOp::Delete { path, .. }
        | WriteOp::SetData { path, .. }
        | WriteOp::Check { path, .. } => path,
    }
}

/// Appends what a successful write answers: create → path, create2 → path and Stat,
/// setData → Stat, delete and check → nothing.
fn write_done(w: &mut Writer, write: &WriteOp, done: &Done) {
    match (write, done) {
        (WriteOp::Create { with_stat, .. }, Done::Created(path, stat)) => {
            w.string(path);
            if *with_stat {
                stat.write(w);
            }
        }
        (WriteOp::SetData { .. }, Done::Stat(stat)) => stat.write(w),
        _ => {}
    }
}

pub(super) fn valid_path(p: &str, sequential: bool) -> Result<(), Code> {
    path::validate(p, sequential).map_err(|_| Code::BadArguments)
}

fn version_matches(expected: i32, actual: i32) -> Result<(), Code> {
    if expected == -1 || expected == actual {
        Ok(())
    } else {
        Err(Code::BadVersion)
    }
}

pub(super) fn allowed(node: &Node, wanted: i32) -> Result<(), Code> {
    if node.allows(wanted) {
        Ok(())
    } else {
        Err(Code::NoAuth)
    }
}

/// An ACL ZooKeeper would accept without authentication: non-empty, known schemes,
/// `world` only as `anyone`, no `auth` entries (this session has no authenticated identity).
fn valid_acl(acl: &[Acl]) -> Result<(), Code> {
    if acl.is_empty() {
        return Err(Code::InvalidAcl);
    }
    for entry in acl {
        let ok = match entry.scheme.as_str() {
            "world" => entry.id == "anyone",
            "digest" => entry.id.contains(':'),
            "ip" | "sasl" | "x509" | "super" => !entry.id.is_empty(),
            _ => false,
        };
        if !ok {
            return Err(Code::InvalidAcl);
        }
    }
    Ok(())
}
