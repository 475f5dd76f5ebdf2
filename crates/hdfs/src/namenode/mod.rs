//! The namenode: the namespace (journaled), the block map (from heartbeats), WebHDFS and the
//! status page on `dfs.namenode.http-address`, and the datanode protocol plus WebHDFS again on
//! the RPC address of `fs.defaultFS`.
//!
//! Data goes through the namenode: step one of CREATE, APPEND and OPEN redirects (307) to the
//! namenode itself, at the very host and port the client used, and step two streams the bytes
//! between the client and the datanodes. So a host client that only reaches the published
//! namenode port (`localhost:50070`) works, redirects included, as does a client in the lab.

pub mod blockmap;
mod data;
mod status;
mod webhdfs;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use tokio_util::sync::CancellationToken;

use crate::config::{HadoopConfig, resolve};
use crate::error::FsError;
use crate::journal::Journal;
use crate::namespace::{Applied, Namespace, Op};
use crate::protocol::{HEARTBEAT_PATH, Heartbeat, MAX_HEARTBEAT_BYTES};

use blockmap::BlockMap;
pub use blockmap::Liveness;

/// Settings of a namenode, from the Hadoop configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Default replicas per block.
    pub replication: u16,
    /// Default block size.
    pub blocksize: u64,
    /// Largest file one write may produce.
    pub max_file_size: u64,
    /// Heartbeat and dead-node intervals.
    pub liveness: Liveness,
    /// `host:port` of fs.defaultFS, given in redirects as `namenoderpcaddress`.
    pub rpc_address: String,
}

/// The namespace and its journal, changed together under one lock.
#[derive(Debug)]
struct Fs {
    ns: Namespace,
    journal: Journal,
}

/// A running namenode's shared state.
#[derive(Debug)]
pub struct NameNode {
    settings: Settings,
    fs: Arc<Mutex<Fs>>,
    blocks: Mutex<BlockMap>,
    http: reqwest::Client,
    started: Instant,
}

/// Milliseconds since the epoch (Hadoop's times).
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

impl NameNode {
    /// Opens the name directory and builds the namenode (no listener yet).
    pub fn open(config: &HadoopConfig) -> anyhow::Result<Arc<NameNode>> {
        let owner = std::env::var("HADOOP_USER_NAME")
            .or_else(|_| std::env::var("USER"))
            .unwrap_or_else(|_| "root".into());
        let (journal, ns) =
            Journal::open(&config.name_dir()?, &owner, config.max_directory_items()?)?;
        let liveness = Liveness {
            heartbeat: config.heartbeat_interval()?,
            dead_after: config.dead_node_interval()?,
        };
        let (rpc_host, rpc_port) = config.default_fs()?;
        let settings = Settings {
            replication: config.replication()?,
            blocksize: config.blocksize()?,
            max_file_size: config.max_file_size()?,
            liveness,
            rpc_address: format!("{rpc_host}:{rpc_port}"),
        };
        let blocks = BlockMap::new(liveness, ns.all_blocks());
        tracing::info!(txid = journal.txid(), "namespace loaded");
        Ok(Arc::new(NameNode {
            settings,
            fs: Arc::new(Mutex::new(Fs { ns, journal })),
            blocks: Mutex::new(blocks),
            http: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(10))
                .build()?,
            started: Instant::now(),
        }))
    }

    fn block_map(&self) -> std::sync::MutexGuard<'_, BlockMap> {
        self.blocks.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads the namespace under its lock.
    fn read<T>(&self, f: impl FnOnce(&Namespace) -> T) -> T {
        let fs = self.fs.lock().unwrap_or_else(|e| e.into_inner());
        f(&fs.ns)
    }

    /// Applies an op and journals it (off the async threads: the journal syncs to disk), then
    /// lets the block map forget freed blocks.
    async fn apply(&self, op: Op) -> Result<Applied, FsError> {
        let fs = self.fs.clone();
        let result = tokio::task::spawn_blocking(move || {
            let mut fs = fs.lock().unwrap_or_else(|e| e.into_inner());
            let result = fs.ns.apply(&op);
            if result.as_ref().map_or(true, |a| a.changed) {
                let Fs { ns, journal } = &mut *fs;
                if let Err(e) = journal.append(&op, ns) {
                    // Memory is now ahead of disk: stop, and let the restart replay the journal.
                    tracing::error!("journal write failed, stopping the namenode: {e}");
                    std::process::exit(70);
                }
            }
            result
        })
        .await
        .map_err(|e| FsError::Io(format!("namespace task failed: {e}")))??;
        if !result.freed.is_empty() {
            self.block_map().free(&result.freed);
        }
        Ok(result)
    }

    /// Hands out a new block id, reserving a batch in the journal when needed.
    async fn new_block_id(&self) -> Result<u64, FsError> {
        let (id, reserve) = {
            let mut fs = self.fs.lock().unwrap_or_else(|e| e.into_inner());
            fs.ns.next_block_id()
        };
        if let Some(upto) = reserve {
            self.apply(Op::ReserveBlockIds { upto }).await?;
        }
        self.block_map().begin(id);
        Ok(id)
    }

    /// Re-replicates blocks of dead datanodes and drops extra replicas, forever (one round per
    /// heartbeat period).
    async fn replication_loop(self: Arc<NameNode>, shutdown: CancellationToken) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(self.settings.liveness.heartbeat) => {}
                _ = shutdown.cancelled() => return,
            }
            let trimmed = self.block_map().trim_over_replicated();
            if trimmed > 0 {
                tracing::info!(trimmed, "extra replicas dropped");
            }
            let work = self.block_map().under_replicated(16);
            for (block, len, source, target) in work {
                match data::copy_block(&self.http, block, len, &source, &target.addr).await {
                    Ok(()) => {
                        tracing::info!(block, from = %source, to = %target.addr, "re-replicated");
                        self.block_map().add_replica(block, &target.id);
                    }
                    Err(e) => {
                        tracing::warn!(block, to = %target.addr, "re-replication failed: {e}");
                        self.block_map().mark_failed(&target.id);
                    }
                }
            }
        }
    }
}

/// Runs a namenode until `shutdown`.
pub async fn run(config: HadoopConfig, shutdown: CancellationToken) -> anyhow::Result<()> {
    let nn = NameNode::open(&config)?;
    let (http_host, http_port) = config.namenode_http_address()?;
    let http = tokio::net::TcpListener::bind(resolve(&http_host, http_port).await?).await?;
    let (rpc_host, rpc_port) = config.default_fs()?;
    let rpc_bind = config
        .get("dfs.namenode.rpc-bind-host")
        .map(str::to_string)
        .unwrap_or(rpc_host);
    let rpc = tokio::net::TcpListener::bind(resolve(&rpc_bind, rpc_port).await?).await?;
    tracing::info!(http = %http.local_addr()?, rpc = %rpc.local_addr()?, "NameNode up");
    serve(nn, http, rpc, shutdown).await
}

/// Serves a namenode on bound listeners (tests bind port 0).
pub async fn serve(
    nn: Arc<NameNode>,
    http: tokio::net::TcpListener,
    rpc: tokio::net::TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    tokio::spawn(nn.clone().replication_loop(shutdown.clone()));
    let web = Router::new()
        .route("/", get(status::page))
        .route("/dfshealth.html", get(status::page))
        .route("/webhdfs/v1", any(webhdfs::handle))
        .route("/webhdfs/v1/", any(webhdfs::handle))
        .route("/webhdfs/v1/{*path}", any(webhdfs::handle));
    let internal = web.clone().route(HEARTBEAT_PATH, post(heartbeat));
    let http_app = web.with_state(nn.clone());
    let rpc_app = internal.with_state(nn);
    let a = axum::serve(
        http,
        http_app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown.clone().cancelled_owned());
    let b = axum::serve(
        rpc,
        rpc_app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown.cancelled_owned());
    tokio::try_join!(a.into_future(), b.into_future())?;
    Ok(())
}

/// A datanode's heartbeat: record it, answer with the blocks to delete.
async fn heartbeat(
    State(nn): State<Arc<NameNode>>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    body: Body,
) -> Response {
    let bytes = match axum::body::to_bytes(body, MAX_HEARTBEAT_BYTES).await {
        Ok(b) => b,
        Err(e) => return (StatusCode::PAYLOAD_TOO_LARGE, e.to_string()).into_response(),
    };
    let report: Heartbeat = match serde_json::from_slice(&bytes) {
        Ok(r) => r,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let host = report
        .hostname
        .clone()
        .unwrap_or_else(|| peer.ip().to_string());
    let addr = if host.contains(':') {
        format!("[{host}]:{}", report.http_port)
    } else {
        format!("{host}:{}", report.http_port)
    };
    let reply = nn.block_map().heartbeat(report, addr, Instant::now());
    match serde_json::to_vec(&reply) {
        Ok(json) => (StatusCode::OK, json).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}
