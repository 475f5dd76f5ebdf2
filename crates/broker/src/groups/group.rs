//! One classic consumer group as a state machine without I/O: JoinGroup/SyncGroup/Heartbeat/
//! LeaveGroup move it between states, and [`Group::tick`] (driven by a timer with the current
//! time) expires sessions and completes rebalances whose deadline passed. Waiting clients get
//! their answer through a oneshot channel when the rebalance they wait for completes.
//!
//! States follow Kafka's: Empty → PreparingRebalance → CompletingRebalance → Stable. The
//! assignment itself is the client's business (client-side assignors): the leader gets every
//! member's metadata and sends back everyone's assignment in its SyncGroup.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::ResponseError;
use tokio::sync::oneshot;

/// The state names DescribeGroups and ListGroups report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GroupState {
    /// No members (offsets may still be stored).
    Empty,
    /// Waiting for members to (re)join.
    PreparingRebalance,
    /// Joined; waiting for the leader's assignment.
    CompletingRebalance,
    /// Everyone has an assignment.
    Stable,
}

impl GroupState {
    /// Kafka's name for the state.
    pub(crate) fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
        }
    }
}

/// What a JoinGroup gets back.
#[derive(Debug, Clone, Default)]
pub(crate) struct JoinOutcome {
    /// 0 or a Kafka error code.
    pub(crate) error: i16,
    pub(crate) generation: i32,
    pub(crate) protocol_type: Option<String>,
    pub(crate) protocol_name: Option<String>,
    pub(crate) leader: String,
    pub(crate) member_id: String,
    /// Every member with its metadata for the chosen protocol: only for the leader.
    pub(crate) members: Vec<(String, Option<String>, Bytes)>,
}

/// What a SyncGroup gets back.
#[derive(Debug, Clone, Default)]
pub(crate) struct SyncOutcome {
    /// 0 or a Kafka error code.
    pub(crate) error: i16,
    pub(crate) protocol_type: Option<String>,
    pub(crate) protocol_name: Option<String>,
    pub(crate) assignment: Bytes,
}

/// A JoinGroup request, in the group's terms.
#[derive(Debug)]
pub(crate) struct JoinRequest {
    pub(crate) member_id: String,
    pub(crate) instance_id: Option<String>,
    pub(crate) client_id: String,
    pub(crate) client_host: String,
    pub(crate) session_timeout: Duration,
    pub(crate) rebalance_timeout: Duration,
    pub(crate) protocol_type: String,
    pub(crate) protocols: Vec<(String, Bytes)>,
}

/// A member as DescribeGroups shows it.
#[derive(Debug, Clone)]
pub(crate) struct MemberView {
    pub(crate) member_id: String,
    pub(crate) instance_id: Option<String>,
    pub(crate) client_id: String,
    pub(crate) client_host: String,
    pub(crate) metadata: Bytes,
    pub(crate) assignment: Bytes,
}

/// Group-wide timing rules from `server.properties`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    pub(crate) initial_rebalance_delay: Duration,
    pub(crate) min_session_timeout: Duration,
    pub(crate) max_session_timeout: Duration,
}

#[derive(Debug)]
struct Member {
    instance_id: Option<String>,
    client_id: String,
    client_host: String,
    session_timeout: Duration,
    rebalance_timeout: Duration,
    protocols: Vec<(String, Bytes)>,
    assignment: Bytes,
    last_seen: Instant,
    join_waiter: Option<oneshot::Sender<JoinOutcome>>,
    sync_waiter: Option<oneshot::Sender<SyncOutcome>>,
}

/// One consumer group's membership (its committed offsets live in the offset store).
#[derive(Debug)]
pub(crate) struct Group {
    state: GroupState,
    generation: i32,
    protocol_type: Option<String>,
    protocol: Option<String>,
    leader: Option<String>,
    members: BTreeMap<String, Member>,
    /// When the current rebalance completes even if some members have not rejoined.
    rebalance_deadline: Option<Instant>,
    /// During the initial delay of a new group: when the delay ends.
    initial_delay_until: Option<Instant>,
    next_member: u64,
    timing: Timing,
}

/// Either an immediate answer or a channel that will carry it.
#[derive(Debug)]
pub(crate) enum Pending<T> {
    /// Answered at once (an error, or an assignment already known).
    Now(T),
    /// Answered when the rebalance completes.
    Later(oneshot::Receiver<T>),
}

impl<T> Pending<T> {
    /// Waits for the answer; `gone` stands in if the group dropped the waiter.
    pub(crate) async fn answer(self, gone: impl FnOnce() -> T) -> T {
        match self {
            Pending::Now(t) => t,
            Pending::Later(rx) => rx.await.unwrap_or_else(|_| gone()),
        }
    }
}

fn code(e: ResponseError) -> i16 {
    e.code()
}

impl Group {
    /// A new, empty group.
    pub(crate) fn new(timing: Timing) -> Group {
        Group {
            state: GroupState::Empty,
            generation: 0,
            protocol_type: None,
            protocol: None,
            leader: None,
            members: BTreeMap::new(),
            rebalance_deadline: None,
            initial_delay_until: None,
            next_member: 0,
            timing,
        }
    }

    /// The current state.
    pub(crate) fn state(&self) -> GroupState {
        self.state
    }

    /// The protocol type (`consumer`) of the group's members, if any.
    pub(crate) fn protocol_type(&self) -> Option<&str> {
        self.protocol_type.as_deref()
    }

    /// The chosen protocol (assignor) of the current generation.
    pub(crate) fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// True when the group has no members.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Members for DescribeGroups.
    pub(crate) fn members(&self) -> Vec<MemberView> {
        self.members
            .iter()
            .map(|(id, m)| MemberView {
                member_id: id.clone(),
                instance_id: m.instance_id.clone(),
                client_id: m.client_id.clone(),
                client_host: m.client_host.clone(),
                metadata: self.metadata_for_protocol(m),
                assignment: m.assignment.clone(),
            })
            .collect()
    }

    fn metadata_for_protocol(&self, m: &Member) -> Bytes {
        m.protocols
            .iter()
            .find(|(n, _)| Some(n.as_str()) == self.protocol.as_deref())
            .map(|(_, b)| b.clone())
            .unwrap_or_default()
    }

    /// JoinGroup: adds or updates the member and answers when the rebalance completes.
    pub(crate) fn join(&mut self, req: JoinRequest, now: Instant) -> Pending<JoinOutcome> {
        let fail = |error: ResponseError, member_id: &str| {
            Pending::Now(JoinOutcome {
                error: code(error),
                generation: -1,
                member_id: member_id.to_string(),
                ..JoinOutcome::default()
            })
        };
        if req.session_timeout < self.timing.min_session_timeout
            || req.session_timeout > self.timing.max_session_timeout
        {
            return fail(ResponseError::InvalidSessionTimeout, &req.member_id);
        }
        if req.protocols.is_empty()
            || req.protocol_type.is_empty()
            || (!self.members.is_empty()
                && (self.protocol_type.as_deref() != Some(req.protocol_type.as_str())
                    || !self.shares_a_protocol(&req.protocols)))
        {
            return fail(ResponseError::InconsistentGroupProtocol, &req.member_id);
        }
        let member_id = if req.member_id.is_empty() {
            let by_instance = req.instance_id.as_ref().and_then(|iid| {
                self.members
                    .iter()
                    .find(|(_, m)| m.instance_id.as_ref() == Some(iid))
                    .map(|(id, _)| id.clone())
            });
            match by_instance {
                Some(id) => id,
                None => {
                    self.next_member += 1;
                    format!("{}-{}-{}", req.client_id, self.generation, self.next_member)
                }
            }
        } else if self.members.contains_key(&req.member_id) {
            req.member_id.clone()
        } else {
            return fail(ResponseError::UnknownMemberId, &req.member_id);
        };
        let (tx, rx) = oneshot::channel();
        let existing = self.members.remove(&member_id);
        let member = Member {
            instance_id: req.instance_id,
            client_id: req.client_id,
            client_host: req.client_host,
            session_timeout: req.session_timeout,
            rebalance_timeout: req.rebalance_timeout,
            protocols: req.protocols,
            assignment: existing
                .as_ref()
                .map(|m| m.assignment.clone())
                .unwrap_or_default(),
            last_seen: now,
            join_waiter: Some(tx),
            sync_waiter: None,
        };
        let is_new = existing.is_none();
        self.members.insert(member_id, member);
        if self.members.len() == 1 {
            // The first member sets the group's type (kept while the group is empty, as Kafka).
            self.protocol_type = Some(req.protocol_type);
        }
        match self.state {
            GroupState::PreparingRebalance => {
                if is_new && let Some(until) = self.initial_delay_until {
                    // Kafka's delayed initial join: each newcomer extends the wait a little.
                    let cap = self.rebalance_deadline.unwrap_or(until);
                    self.initial_delay_until =
                        Some((now + self.timing.initial_rebalance_delay).min(cap));
                }
            }
            GroupState::Empty => {
                self.prepare_rebalance(now);
                if !self.timing.initial_rebalance_delay.is_zero() {
                    self.initial_delay_until = Some(now + self.timing.initial_rebalance_delay);
                }
            }
            GroupState::CompletingRebalance | GroupState::Stable => self.prepare_rebalance(now),
        }
        self.try_complete_join(now);
        Pending::Later(rx)
    }

    fn shares_a_protocol(&self, protocols: &[(String, Bytes)]) -> bool {
        protocols.iter().any(|(name, _)| {
            self.members
                .values()
                .all(|m| m.protocols.iter().any(|(n, _)| n == name))
        })
    }

    /// Starts a rebalance: everyone must rejoin; those waiting for an assignment are told so.
    fn prepare_rebalance(&mut self, now: Instant) {
        let timeout = self
            .members
            .values()
            .map(|m| m.rebalance_timeout)
            .max()
            .unwrap_or_default();
        self.state = GroupState::PreparingRebalance;
        self.rebalance_deadline = Some(now + timeout);
        for m in self.members.values_mut() {
            if let Some(w) = m.sync_waiter.take() {
                let _ = w.send(SyncOutcome {
                    error: code(ResponseError::RebalanceInProgress),
                    ..SyncOutcome::default()
                });
            }
        }
    }

    /// Completes the rebalance when every member has rejoined (after the initial delay), or
    /// when the deadline passed (members that did not rejoin are dropped).
    fn try_complete_join(&mut self, now: Instant) {
        if self.state != GroupState::PreparingRebalance {
            return;
        }
        let deadline_passed = self.rebalance_deadline.is_some_and(|d| now >= d);
        let delaying = self.initial_delay_until.is_some_and(|d| now < d);
        let all_joined = self.members.values().all(|m| m.join_waiter.is_some());
        if !(deadline_passed || (all_joined && !delaying)) {
            return;
        }
        self.members.retain(|_, m| m.join_waiter.is_some());
        self.initial_delay_until = None;
        self.rebalance_deadline = None;
        self.generation += 1;
        if self.members.is_empty() {
            self.state = GroupState::Empty;
            self.protocol = None;
            self.leader = None;
            return;
        }
        let leader = match &self.leader {
            Some(l) if self.members.contains_key(l) => l.clone(),
            _ => self.members.keys().next().cloned().unwrap_or_default(),
        };
        self.protocol = self.choose_protocol(&leader);
        self.leader = Some(leader.clone());
        self.state = GroupState::CompletingRebalance;
        let everyone: Vec<(String, Option<String>, Bytes)> = self
            .members
            .iter()
            .map(|(id, m)| {
                (
                    id.clone(),
                    m.instance_id.clone(),
                    self.metadata_for_protocol(m),
                )
            })
            .collect();
        for (id, m) in &mut self.members {
            m.last_seen = now;
            if let Some(w) = m.join_waiter.take() {
                let _ = w.send(JoinOutcome {
                    error: 0,
                    generation: self.generation,
                    protocol_type: self.protocol_type.clone(),
                    protocol_name: self.protocol.clone(),
                    leader: leader.clone(),
                    member_id: id.clone(),
                    members: if *id == leader {
                        everyone.clone()
                    } else {
                        Vec::new()
                    },
                });
            }
        }
    }

    /// The first protocol of the leader's preference list that every member supports.
    fn choose_protocol(&self, leader: &str) -> Option<String> {
        let prefs = &self.members.get(leader)?.protocols;
        prefs
            .iter()
            .map(|(n, _)| n)
            .find(|name| {
                self.members
                    .values()
                    .all(|m| m.protocols.iter().any(|(n, _)| n == *name))
            })
            .cloned()
    }

    fn check_member(&self, member_id: &str, generation: i32) -> Result<(), i16> {
        if !self.members.contains_key(member_id) {
            return Err(code(ResponseError::UnknownMemberId));
        }
        if generation != self.generation {
            return Err(code(ResponseError::IllegalGeneration));
        }
        Ok(())
    }

    /// SyncGroup: the leader hands out assignments; everyone gets theirs.
    pub(crate) fn sync(
        &mut self,
        member_id: &str,
        generation: i32,
        assignments: Vec<(String, Bytes)>,
        now: Instant,
    ) -> Pending<SyncOutcome> {
        let fail = |error: i16| {
            Pending::Now(SyncOutcome {
                error,
                ..SyncOutcome::default()
            })
        };
        if let Err(e) = self.check_member(member_id, generation) {
            return fail(e);
        }
        let outcome = |g: &Group, assignment: Bytes| SyncOutcome {
            error: 0,
            protocol_type: g.protocol_type.clone(),
            protocol_name: g.protocol.clone(),
            assignment,
        };
        match self.state {
            GroupState::Empty | GroupState::PreparingRebalance => {
                fail(code(ResponseError::RebalanceInProgress))
            }
            GroupState::Stable => {
                let assignment = self
                    .members
                    .get(member_id)
                    .map(|m| m.assignment.clone())
                    .unwrap_or_default();
                Pending::Now(outcome(self, assignment))
            }
            GroupState::CompletingRebalance => {
                let (tx, rx) = oneshot::channel();
                if let Some(m) = self.members.get_mut(member_id) {
                    m.last_seen = now;
                    m.sync_waiter = Some(tx);
                }
                if self.leader.as_deref() == Some(member_id) {
                    for m in self.members.values_mut() {
                        m.assignment = Bytes::new();
                    }
                    for (id, a) in assignments {
                        if let Some(m) = self.members.get_mut(&id) {
                            m.assignment = a;
                        }
                    }
                    self.state = GroupState::Stable;
                    let out: Vec<(Option<oneshot::Sender<SyncOutcome>>, SyncOutcome)> = self
                        .members
                        .values_mut()
                        .map(|m| (m.sync_waiter.take(), m.assignment.clone()))
                        .collect::<Vec<_>>()
                        .into_iter()
                        .map(|(w, a)| (w, outcome(self, a)))
                        .collect();
                    for (w, o) in out {
                        if let Some(w) = w {
                            let _ = w.send(o);
                        }
                    }
                }
                Pending::Later(rx)
            }
        }
    }

    /// Heartbeat: keeps the session alive; tells the member when it must rejoin.
    pub(crate) fn heartbeat(&mut self, member_id: &str, generation: i32, now: Instant) -> i16 {
        if let Err(e) = self.check_member(member_id, generation) {
            // A member that is rejoining is still known; only its generation is old.
            if self.state == GroupState::PreparingRebalance
                && e == code(ResponseError::IllegalGeneration)
            {
                self.touch(member_id, now);
                return code(ResponseError::RebalanceInProgress);
            }
            return e;
        }
        self.touch(member_id, now);
        match self.state {
            GroupState::PreparingRebalance => code(ResponseError::RebalanceInProgress),
            _ => 0,
        }
    }

    fn touch(&mut self, member_id: &str, now: Instant) {
        if let Some(m) = self.members.get_mut(member_id) {
            m.last_seen = now;
        }
    }

    /// LeaveGroup for one member (by id, or by static instance id when the id is empty).
    pub(crate) fn leave(
        &mut self,
        member_id: &str,
        instance_id: Option<&str>,
        now: Instant,
    ) -> i16 {
        let id = if member_id.is_empty() {
            self.members
                .iter()
                .find(|(_, m)| m.instance_id.as_deref() == instance_id && instance_id.is_some())
                .map(|(id, _)| id.clone())
        } else {
            Some(member_id.to_string())
        };
        match id.and_then(|id| self.members.remove(&id)) {
            Some(m) => {
                if let Some(w) = m.join_waiter {
                    let _ = w.send(JoinOutcome {
                        error: code(ResponseError::UnknownMemberId),
                        generation: -1,
                        ..JoinOutcome::default()
                    });
                }
                self.members_changed(now);
                0
            }
            None => code(ResponseError::UnknownMemberId),
        }
    }

    fn members_changed(&mut self, now: Instant) {
        match self.state {
            GroupState::Stable | GroupState::CompletingRebalance => {
                if self.members.is_empty() {
                    self.state = GroupState::Empty;
                    self.generation += 1;
                    self.protocol = None;
                    self.leader = None;
                } else {
                    self.prepare_rebalance(now);
                }
            }
            GroupState::PreparingRebalance => self.try_complete_join(now),
            GroupState::Empty => {}
        }
    }

    /// May a member of `generation` commit offsets? (`generation < 0`: a simple, group-less
    /// commit, allowed when the group has no members.)
    pub(crate) fn check_commit(&mut self, member_id: &str, generation: i32, now: Instant) -> i16 {
        if generation < 0 && member_id.is_empty() {
            return if self.members.is_empty() {
                0
            } else {
                code(ResponseError::IllegalGeneration)
            };
        }
        if let Err(e) = self.check_member(member_id, generation) {
            return e;
        }
        self.touch(member_id, now);
        match self.state {
            GroupState::CompletingRebalance => code(ResponseError::RebalanceInProgress),
            _ => 0,
        }
    }

    /// Expires members whose session ran out and completes rebalances whose time came.
    pub(crate) fn tick(&mut self, now: Instant) {
        let expired: Vec<String> = self
            .members
            .iter()
            .filter(|(_, m)| {
                m.join_waiter.is_none()
                    && m.sync_waiter.is_none()
                    && now.saturating_duration_since(m.last_seen) > m.session_timeout
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in &expired {
            tracing::info!("group member {id} left: session timed out");
            self.members.remove(id);
        }
        if !expired.is_empty() {
            self.members_changed(now);
        }
        self.try_complete_join(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing(delay_ms: u64) -> Timing {
        Timing {
            initial_rebalance_delay: Duration::from_millis(delay_ms),
            min_session_timeout: Duration::from_millis(100),
            max_session_timeout: Duration::from_secs(600),
        }
    }

    fn join_req(member_id: &str, client: &str) -> JoinRequest {
        JoinRequest {
            member_id: member_id.into(),
            instance_id: None,
            client_id: client.into(),
            client_host: "/127.0.0.1".into(),
            session_timeout: Duration::from_secs(10),
            rebalance_timeout: Duration::from_secs(30),
            protocol_type: "consumer".into(),
            protocols: vec![("range".into(), Bytes::from_static(b"meta"))],
        }
    }

    fn joined(p: Pending<JoinOutcome>) -> JoinOutcome {
        match p {
            Pending::Later(mut rx) => rx.try_recv().expect("join completed"),
            Pending::Now(o) => o,
        }
    }

    fn later<T>(p: Pending<T>) -> oneshot::Receiver<T> {
        match p {
            Pending::Later(rx) => rx,
            Pending::Now(_) => panic!("answered at once"),
        }
    }

    #[test]
    fn a_single_member_becomes_leader_then_stable() {
        let now = Instant::now();
        let mut g = Group::new(timing(0));
        let j = joined(g.join(join_req("", "c1"), now));
        assert_eq!(j.error, 0);
        assert_eq!(j.generation, 1);
        assert_eq!(j.leader, j.member_id);
        assert_eq!(j.members.len(), 1);
        assert_eq!(j.protocol_name.as_deref(), Some("range"));
        let s = g.sync(
            &j.member_id,
            1,
            vec![(j.member_id.clone(), Bytes::from_static(b"a"))],
            now,
        );
        let s = later(s).try_recv().unwrap();
        assert_eq!(s.assignment.as_ref(), b"a");
        assert_eq!(g.state(), GroupState::Stable);
        assert_eq!(g.heartbeat(&j.member_id, 1, now), 0);
    }

    #[test]
    fn the_initial_delay_waits_for_more_members() {
        let now = Instant::now();
        let mut g = Group::new(timing(3000));
        let mut first = later(g.join(join_req("", "c1"), now));
        assert!(first.try_recv().is_err(), "still delaying");
        let mut second = later(g.join(join_req("", "c2"), now + Duration::from_millis(100)));
        g.tick(now + Duration::from_millis(3200));
        let a = first.try_recv().unwrap();
        let b = second.try_recv().unwrap();
        assert_eq!(a.generation, 1);
        assert_eq!(b.generation, 1);
        assert_eq!(
            a.members.len() + b.members.len(),
            2,
            "only the leader sees members"
        );
    }

    #[test]
    fn a_second_member_triggers_a_rebalance_seen_by_heartbeat() {
        let now = Instant::now();
        let mut g = Group::new(timing(0));
        let a = joined(g.join(join_req("", "c1"), now));
        let _ = g.sync(&a.member_id, 1, vec![], now);
        let mut b = later(g.join(join_req("", "c2"), now));
        assert_eq!(
            g.heartbeat(&a.member_id, 1, now),
            code(ResponseError::RebalanceInProgress)
        );
        let a2 = joined(g.join(join_req(&a.member_id, "c1"), now));
        let b2 = b.try_recv().unwrap();
        assert_eq!(a2.generation, 2);
        assert_eq!(b2.generation, 2);
        assert_eq!(a2.leader, a.member_id, "the leader stays");
    }

    #[test]
    fn an_expired_member_is_removed_and_the_group_rebalances() {
        let now = Instant::now();
        let mut g = Group::new(timing(0));
        let a = joined(g.join(join_req("", "c1"), now));
        let _ = g.sync(&a.member_id, 1, vec![], now);
        g.tick(now + Duration::from_secs(11));
        assert!(g.is_empty());
        assert_eq!(g.state(), GroupState::Empty);
        assert_eq!(
            g.heartbeat(&a.member_id, 1, now),
            code(ResponseError::UnknownMemberId)
        );
    }

    #[test]
    fn wrong_generation_and_unknown_members_are_refused() {
        let now = Instant::now();
        let mut g = Group::new(timing(0));
        let a = joined(g.join(join_req("", "c1"), now));
        assert_eq!(
            g.heartbeat(&a.member_id, 7, now),
            code(ResponseError::IllegalGeneration)
        );
        assert_eq!(
            g.heartbeat("nobody", 1, now),
            code(ResponseError::UnknownMemberId)
        );
        assert_eq!(
            joined(g.join(join_req("nobody", "c"), now)).error,
            code(ResponseError::UnknownMemberId)
        );
    }

    #[test]
    fn leaving_empties_the_group() {
        let now = Instant::now();
        let mut g = Group::new(timing(0));
        let a = joined(g.join(join_req("", "c1"), now));
        let _ = g.sync(&a.member_id, 1, vec![], now);
        assert_eq!(g.leave(&a.member_id, None, now), 0);
        assert_eq!(g.state(), GroupState::Empty);
        assert_eq!(g.check_commit("", -1, now), 0);
    }
}
