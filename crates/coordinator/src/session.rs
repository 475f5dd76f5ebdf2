//! Sessions and their expiry, driven by explicit times so it can be tested without clocks:
//! every request touches its session; [`Sessions::expired`] names those whose deadline passed.

use std::collections::HashMap;

use crate::watch::ConnId;

/// One client session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Negotiated timeout.
    pub timeout_ms: i32,
    /// The password a reconnect must present.
    pub passwd: Vec<u8>,
    /// When it expires unless touched (ms, the caller's clock).
    pub deadline: u64,
    /// The connection currently serving it.
    pub conn: Option<ConnId>,
    /// True once a closeSession or expiry has been decided (no more requests).
    pub closing: bool,
}

/// Every live session.
#[derive(Debug, Default, Clone)]
pub struct Sessions {
    map: HashMap<i64, Session>,
}

impl Sessions {
    /// Registers a session, live until `now + timeout`.
    pub fn insert(&mut self, id: i64, timeout_ms: i32, passwd: Vec<u8>, now: u64) {
        let deadline = now.saturating_add(u64::try_from(timeout_ms).unwrap_or(0));
        self.map.insert(
            id,
            Session {
                timeout_ms,
                passwd,
                deadline,
                conn: None,
                closing: false,
            },
        );
    }

    /// The session with this id.
    pub fn get(&self, id: i64) -> Option<&Session> {
        self.map.get(&id)
    }

    /// The session with this id, to change it.
    pub fn get_mut(&mut self, id: i64) -> Option<&mut Session> {
        self.map.get_mut(&id)
    }

    /// Forgets a session.
    pub fn remove(&mut self, id: i64) -> Option<Session> {
        self.map.remove(&id)
    }

    /// Pushes a session's deadline to `now + timeout`.
    pub fn touch(&mut self, id: i64, now: u64) {
        if let Some(s) = self.map.get_mut(&id) {
            s.deadline = now.saturating_add(u64::try_from(s.timeout_ms).unwrap_or(0));
        }
    }

    /// Sessions whose deadline is at or before `now` and not already closing, sorted.
    pub fn expired(&self, now: u64) -> Vec<i64> {
        let mut ids: Vec<i64> = self
            .map
            .iter()
            .filter(|(_, s)| s.deadline <= now && !s.closing)
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        ids
    }

    /// How many sessions are live.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when no session is live.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Every session (for snapshots).
    pub fn iter(&self) -> impl Iterator<Item = (&i64, &Session)> {
        self.map.iter()
    }

    /// The largest session id in use.
    pub fn max_id(&self) -> Option<i64> {
        self.map.keys().copied().max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn touching_postpones_expiry() {
        let mut s = Sessions::default();
        s.insert(1, 4000, vec![], 0);
        s.insert(2, 6000, vec![], 0);
        assert!(s.expired(3999).is_empty());
        s.touch(1, 3000);
        assert_eq!(s.expired(6000), vec![2]);
        assert_eq!(s.expired(7000), vec![1, 2]);
        s.get_mut(1).unwrap().closing = true;
        assert_eq!(s.expired(7000), vec![2]);
    }
}
