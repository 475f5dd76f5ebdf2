//! Our own protocol between namenode and datanodes: JSON over HTTP, on the namenode's RPC port
//! (`fs.defaultFS`) and the datanode's HTTP port. The outside world only ever sees WebHDFS.

use serde::{Deserialize, Serialize};

/// Path of the heartbeat on the namenode's RPC port.
pub const HEARTBEAT_PATH: &str = "/internal/v1/heartbeat";
/// Prefix of a block on a datanode: `/internal/v1/blocks/<id>`.
pub const BLOCKS_PATH: &str = "/internal/v1/blocks";
/// Largest heartbeat body the namenode reads (a full block report).
pub const MAX_HEARTBEAT_BYTES: usize = 64 * 1024 * 1024;

/// A datanode's periodic report: who it is, its space, and every finalized block it holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Heartbeat {
    /// Stable id of the datanode's storage (kept in its data directory).
    pub storage_id: String,
    /// The name it asks to be reached by (`dfs.datanode.hostname`); else the namenode uses the
    /// address the heartbeat came from.
    pub hostname: Option<String>,
    /// Its HTTP port (blocks are read and written there).
    pub http_port: u16,
    /// Bytes of the file system holding the data directory.
    pub capacity: u64,
    /// Bytes of blocks stored.
    pub used: u64,
    /// Bytes still free.
    pub remaining: u64,
    /// Every finalized block: (id, length).
    pub blocks: Vec<(u64, u64)>,
}

/// What the namenode asks of a datanode in return.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HeartbeatReply {
    /// Blocks no file refers to any more: delete them.
    pub delete: Vec<u64>,
}

/// A datanode's answer to a block write.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stored {
    /// Bytes written.
    pub len: u64,
}
