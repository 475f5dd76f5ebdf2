//! Where a plan runs. A small trait with runtime-neutral types (create, start, exec, status,
//! logs, stop, remove, list by label), so that the Docker runtime and the process runtime are
//! two implementations of the same eight verbs, and `lab up`/`down` are written once.

pub(crate) mod docker;
pub(crate) mod image;
pub(crate) mod process;
pub(crate) mod tools;

use std::io::Write;
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::plan::{NodePlan, Plan};

/// Label keys every object carries (containers, networks, volumes; environment of processes).
pub(crate) mod labels {
    /// The lab's name.
    pub(crate) const LAB: &str = "lab.name";
    /// The spec's node name.
    pub(crate) const NODE: &str = "lab.node";
    /// The plan's hash: a changed spec makes `lab up` recreate the node.
    pub(crate) const HASH: &str = "lab.spec-hash";
    /// The host port offset the lab was brought up with (reused by the next `lab up`).
    pub(crate) const OFFSET: &str = "lab.port-offset";
    /// The spec file the lab was brought up from (what `lab check` checks it against).
    pub(crate) const SPEC: &str = "lab.spec";
}

/// A node as a runtime sees it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct NodeState {
    /// The object name (container name, or the process group's name).
    pub(crate) object: String,
    /// The lab it belongs to.
    pub(crate) lab: String,
    /// The spec's node name.
    pub(crate) node: String,
    /// The plan hash it was created from.
    pub(crate) hash: String,
    /// The host port offset it was created with.
    pub(crate) port_offset: u16,
    /// The spec file it was created from, when recorded.
    pub(crate) spec: Option<std::path::PathBuf>,
    /// `running`, `exited`, `created`, …
    pub(crate) state: String,
    /// Its address on the lab network, when running.
    pub(crate) address: Option<String>,
    /// Its published ports: node port → host address and port.
    pub(crate) ports: Vec<PublishedPort>,
}

impl NodeState {
    /// True when the node is up.
    pub(crate) fn running(&self) -> bool {
        self.state == "running"
    }
}

/// A node port published on the host.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct PublishedPort {
    /// The port inside the node.
    pub(crate) port: u16,
    /// The host address it binds to.
    pub(crate) host_ip: String,
    /// The host port.
    pub(crate) host_port: u16,
}

/// How an exec'd command talks to the user.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Io {
    /// Output captured and returned.
    Capture,
    /// Output streamed to our stdout/stderr, our stdin forwarded.
    Inherit,
    /// An interactive terminal (`lab shell`).
    Terminal,
}

/// The result of an exec.
#[derive(Debug, Clone, Default)]
pub(crate) struct ExecOutput {
    /// The command's exit code.
    pub(crate) code: i64,
    /// Its standard output (with [`Io::Capture`]).
    pub(crate) stdout: Vec<u8>,
    /// Its standard error (with [`Io::Capture`]).
    pub(crate) stderr: Vec<u8>,
}

/// The verbs `lab` needs from a runtime.
pub(crate) trait Runtime {
    /// What a user calls this runtime in messages.
    fn name(&self) -> &'static str;
    /// What, beside the plan, a node was made from (the image's and tools' digests): part of
    /// its hash label.
    async fn revision(&self, plan: &Plan) -> anyhow::Result<String>;
    /// Everything the nodes share (the image, the network); idempotent. Says what it did.
    async fn prepare(&self, plan: &Plan) -> anyhow::Result<String>;
    /// Creates a node with its files, not started.
    async fn create(&self, plan: &Plan, node: &NodePlan) -> anyhow::Result<()>;
    /// Starts a created or stopped node; on a running node, starts the services stopped on purpose.
    async fn start(&self, object: &str) -> anyhow::Result<()>;
    /// Runs a command in a running node.
    async fn exec(&self, object: &str, cmd: &[String], io: Io) -> anyhow::Result<ExecOutput>;
    /// The node's state, or `None` if it does not exist.
    async fn status(&self, object: &str) -> anyhow::Result<Option<NodeState>>;
    /// Writes a node's log (init's output, or one service's log) to `out`.
    async fn logs(
        &self,
        object: &str,
        service: Option<&str>,
        follow: bool,
        tail: Option<usize>,
        out: &mut (dyn Write + Send),
    ) -> anyhow::Result<()>;
    /// Stops a node (its init stops the services in reverse order).
    async fn stop(&self, object: &str) -> anyhow::Result<()>;
    /// Removes a node, its data volumes too with `volumes`.
    async fn remove(&self, object: &str, volumes: bool) -> anyhow::Result<()>;
    /// Every node carrying the label of lab `lab` (every lab's with `None`).
    async fn list(&self, lab: Option<&str>) -> anyhow::Result<Vec<NodeState>>;
    /// Removes what the nodes of `lab` shared (network; volumes with `volumes`). Idempotent.
    async fn remove_shared(&self, lab: &str, volumes: bool) -> anyhow::Result<Vec<String>>;
    /// Where the host reaches `port` of a node (published port, or the node's own address).
    fn endpoint(&self, state: &NodeState, node: &NodePlan, port: u16) -> Option<SocketAddr>;
}
