//! Reads and session-level requests that change nothing durable: exists, getData,
//! getChildren(2), getACL, sync, ping, getEphemerals, getAllChildrenNumber, addWatch,
//! setWatches(2) and auth. Watches are left as ZooKeeper leaves them.

use super::writes::{allowed, valid_path};
use super::{Machine, Out, Step};
use crate::proto::{self, Code, EventType, Request, SetWatches, op, perm, write_acls, xid};
use crate::tree::Node;
use crate::watch::{ConnId, Kind};

impl Machine {
    /// Answers a read; returns the reply frame (notifications it fires go to `step` first).
    pub(super) fn read(
        &mut self,
        conn: ConnId,
        session: i64,
        req_xid: i32,
        op_code: i32,
        request: Request,
        step: &mut Step,
    ) -> Vec<u8> {
        let reply_xid = if op_code == op::PING {
            xid::PING
        } else {
            req_xid
        };
        match self.answer(conn, session, request, step) {
            Ok(w) => {
                let mut frame = proto::reply(reply_xid, self.zxid, 0);
                frame_append(&mut frame, &w);
                frame.finish_frame()
            }
            Err(code) => proto::reply(reply_xid, self.zxid, code.wire()).finish_frame(),
        }
    }

    fn answer(
        &mut self,
        conn: ConnId,
        session: i64,
        request: Request,
        step: &mut Step,
    ) -> Result<crate::jute::Writer, Code> {
        let mut w = crate::jute::Writer::new();
        match request {
            Request::Exists { path, watch } => {
                valid_path(&path, false)?;
                if watch {
                    self.watches.add(Kind::Data, &path, conn);
                }
                let node = self.tree.get(&path).ok_or(Code::NoNode)?;
                node.stat().write(&mut w);
            }
            Request::GetData { path, watch } => {
                valid_path(&path, false)?;
                let node = self.readable(&path)?;
                w.buffer(&node.data);
                node.stat().write(&mut w);
                if watch {
                    self.watches.add(Kind::Data, &path, conn);
                }
            }
            Request::GetChildren {
                path,
                watch,
                with_stat,
            } => {
                valid_path(&path, false)?;
                let node = self.readable(&path)?;
                let children: Vec<&String> = node.children.iter().collect();
                w.strings(&children);
                if with_stat {
                    node.stat().write(&mut w);
                }
                if watch {
                    self.watches.add(Kind::Child, &path, conn);
                }
            }
            Request::GetAcl { path } => {
                valid_path(&path, false)?;
                let node = self.tree.get(&path).ok_or(Code::NoNode)?;
                write_acls(&mut w, &node.acl);
                node.stat().write(&mut w);
            }
            Request::Sync { path } => {
                valid_path(&path, false)?;
                w.string(&path);
            }
            Request::Ping | Request::Auth => {}
            Request::GetEphemerals { prefix } => {
                valid_path(&prefix, false)?;
                let list: Vec<String> = self
                    .tree
                    .ephemerals_of(session)
                    .into_iter()
                    .filter(|p| prefix == "/" || p.starts_with(&prefix))
                    .collect();
                w.strings(&list);
            }
            Request::GetAllChildrenNumber { path } => {
                valid_path(&path, false)?;
                self.readable(&path)?;
                w.int(i32::try_from(self.tree.descendants(&path)).unwrap_or(i32::MAX));
            }
            Request::AddWatch { path, mode } => {
                valid_path(&path, false)?;
                let kind = match mode {
                    0 => Kind::Persistent,
                    1 => Kind::Recursive,
                    _ => return Err(Code::BadArguments),
                };
                self.watches.add(kind, &path, conn);
                // ZooKeeper answers addWatch with an ErrorResponse body.
                w.int(0);
            }
            Request::SetWatches(sw) => self.set_watches(conn, &sw, step),
            Request::Write(_)
            | Request::Multi(_)
            | Request::SetAcl { .. }
            | Request::CloseSession
            | Request::Unimplemented(_) => return Err(Code::Unimplemented),
        }
        Ok(w)
    }

    fn readable(&self, path: &str) -> Result<&Node, Code> {
        let node = self.tree.get(path).ok_or(Code::NoNode)?;
        allowed(node, perm::READ)?;
        Ok(node)
    }

    /// Re-registers a reconnecting client's watches; what changed since `relative_zxid` fires
    /// at once.
    fn set_watches(&mut self, conn: ConnId, sw: &SetWatches, step: &mut Step) {
        let rel = sw.relative_zxid;
        let fire = |event: EventType, path: &str, step: &mut Step| {
            step.out
                .push(Out::Frame(conn, proto::notification(event, path)));
        };
        for path in &sw.data {
            match self.tree.get(path) {
                None => fire(EventType::NodeDeleted, path, step),
                Some(n) if n.mzxid > rel => fire(EventType::NodeDataChanged, path, step),
                Some(_) => self.watches.add(Kind::Data, path, conn),
            }
        }
        for path in &sw.exist {
            match self.tree.get(path) {
                Some(_) => fire(EventType::NodeCreated, path, step),
                None => self.watches.add(Kind::Data, path, conn),
            }
        }
        for path in &sw.child {
            match self.tree.get(path) {
                None => fire(EventType::NodeDeleted, path, step),
                Some(n) if n.pzxid > rel => fire(EventType::NodeChildrenChanged, path, step),
                Some(_) => self.watches.add(Kind::Child, path, conn),
            }
        }
        for path in &sw.persistent {
            self.watches.add(Kind::Persistent, path, conn);
        }
        for path in &sw.recursive {
            self.watches.add(Kind::Recursive, path, conn);
        }
    }
}

fn frame_append(frame: &mut crate::jute::Writer, body: &crate::jute::Writer) {
    frame.raw(body.as_bytes());
}
