//! The datanode: keeps blocks as files named by their numeric id (so no client-supplied name
//! ever reaches the disk), serves them over HTTP to the namenode, and heartbeats to it with a
//! full block report.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path as UrlPath, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::StreamExt;
use tokio::io::AsyncSeekExt;
use tokio_util::sync::CancellationToken;

use crate::config::{HadoopConfig, MAX_BLOCKSIZE, resolve};
use crate::gather::{Gather, write_all_vectored};
use crate::protocol::{BLOCKS_PATH, HEARTBEAT_PATH, Heartbeat, HeartbeatReply, Stored};

/// Chunk size when streaming a block out.
const READ_CHUNK: usize = 256 * 1024;

/// The blocks on this datanode's disk.
#[derive(Debug)]
pub struct Storage {
    dir: PathBuf,
    /// Finalized blocks: id → length.
    blocks: Mutex<HashMap<u64, u64>>,
    storage_id: String,
    /// `dfs.datanode.synconclose`: sync each block to disk before acknowledging it.
    sync_on_close: bool,
}

impl Storage {
    /// Opens the data directory: creates it, drops unfinished writes, lists the blocks.
    /// `sync_on_close` is `dfs.datanode.synconclose`.
    pub fn open(dir: &Path, sync_on_close: bool) -> anyhow::Result<Storage> {
        use anyhow::Context as _;
        let current = dir.join("current");
        let tmp = dir.join("tmp");
        let _ = std::fs::remove_dir_all(&tmp);
        for d in [&current, &tmp] {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
        }
        let id_file = dir.join("storage_id");
        let storage_id = match std::fs::read_to_string(&id_file) {
            Ok(s) if !s.trim().is_empty() && s.len() < 100 => s.trim().to_string(),
            _ => {
                let id = format!("DS-{}", uuid::Uuid::new_v4());
                std::fs::write(&id_file, &id)
                    .with_context(|| format!("writing {}", id_file.display()))?;
                id
            }
        };
        let mut blocks = HashMap::new();
        for entry in
            std::fs::read_dir(&current).with_context(|| format!("listing {}", current.display()))?
        {
            let entry = entry?;
            let meta = entry.metadata()?; // does not follow symlinks: only regular files count
            let id = entry
                .file_name()
                .to_str()
                .and_then(|n| n.strip_prefix("blk_"))
                .and_then(|n| n.parse::<u64>().ok());
            match id {
                Some(id) if meta.is_file() => {
                    blocks.insert(id, meta.len());
                }
                _ => tracing::warn!(path = %entry.path().display(), "not a block; ignored"),
            }
        }
        tracing::info!(blocks = blocks.len(), %storage_id, sync_on_close, "data directory opened");
        Ok(Storage {
            dir: dir.to_path_buf(),
            blocks: Mutex::new(blocks),
            storage_id,
            sync_on_close,
        })
    }

    fn block_path(&self, id: u64) -> PathBuf {
        self.dir.join("current").join(format!("blk_{id}"))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, u64>> {
        self.blocks.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The length of a finalized block.
    pub fn len_of(&self, id: u64) -> Option<u64> {
        self.lock().get(&id).copied()
    }

    /// Writes a block from a stream of chunks: to a temp file first, renamed into place once
    /// complete, so a half-written block never exists under its final name. With
    /// `dfs.datanode.synconclose` the block and its rename are synced to disk before the write
    /// is acknowledged; without it (Hadoop's default) they may still be in the page cache.
    pub async fn write<S, E>(&self, id: u64, mut body: S) -> std::io::Result<u64>
    where
        S: futures_util::Stream<Item = Result<bytes::Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let tmp = self
            .dir
            .join("tmp")
            .join(format!("blk_{id}.{}", uuid::Uuid::new_v4().simple()));
        // One blocking thread owns the file and writes what the network hands over in
        // batches of about 1 MiB, by vectored writes: no copy in between, one trip across
        // threads per batch.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<bytes::Bytes>>(4);
        let path = tmp.clone();
        let sync = self.sync_on_close;
        let disk = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let mut file = std::fs::File::create(&path)?;
            let mut behind = WriteBehind::default();
            while let Some(batch) = rx.blocking_recv() {
                write_all_vectored(&mut file, &batch)?;
                if sync {
                    behind.wrote(&file, batch.iter().map(|b| b.len() as u64).sum());
                }
            }
            if sync {
                file.sync_all()?;
            }
            Ok(())
        });
        let received = async {
            let mut len = 0u64;
            let mut gather = Gather::default();
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| std::io::Error::other(e.to_string()))?;
                len += chunk.len() as u64;
                if len > MAX_BLOCKSIZE {
                    return Err(std::io::Error::other("block larger than the maximum"));
                }
                if let Some(batch) = gather.push(chunk)
                    && tx.send(batch).await.is_err()
                {
                    break; // the disk side failed: its error is reported below
                }
            }
            let _ = tx.send(gather.take()).await;
            Ok(len)
        }
        .await;
        drop(tx);
        let written = disk.await.map_err(std::io::Error::other).and_then(|r| r);
        let result = match (received, written) {
            (Ok(len), Ok(())) => self.finalize(&tmp, id).await.map(|()| len),
            (Err(e), _) | (_, Err(e)) => Err(e),
        };
        match result {
            Ok(len) => {
                self.lock().insert(id, len);
                Ok(len)
            }
            Err(e) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                Err(e)
            }
        }
    }

    /// Moves a complete block into place; with sync on close, syncs the rename too.
    async fn finalize(&self, tmp: &Path, id: u64) -> std::io::Result<()> {
        tokio::fs::rename(tmp, self.block_path(id)).await?;
        if self.sync_on_close {
            let current = self.dir.join("current");
            tokio::task::spawn_blocking(move || std::fs::File::open(current)?.sync_all())
                .await
                .map_err(std::io::Error::other)??;
        }
        Ok(())
    }

    /// Opens a range of a block for reading (never through a symlink).
    pub async fn open_range(
        &self,
        id: u64,
        offset: u64,
        length: u64,
    ) -> std::io::Result<tokio::io::Take<tokio::fs::File>> {
        use tokio::io::AsyncReadExt;
        let path = self.block_path(id);
        let fd = tokio::task::spawn_blocking(move || {
            rustix::fs::open(
                &path,
                rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::NOFOLLOW,
                rustix::fs::Mode::empty(),
            )
        })
        .await
        .map_err(std::io::Error::other)??;
        let mut file = tokio::fs::File::from_std(std::fs::File::from(fd));
        file.seek(std::io::SeekFrom::Start(offset)).await?;
        Ok(file.take(length))
    }

    /// Deletes blocks the namenode no longer wants.
    pub async fn delete(&self, ids: &[u64]) {
        for id in ids {
            self.lock().remove(id);
            if let Err(e) = tokio::fs::remove_file(self.block_path(*id)).await {
                tracing::debug!(id, "delete: {e}");
            }
        }
    }

    /// The heartbeat: identity, space and the full block report.
    pub fn heartbeat(&self, hostname: Option<String>, http_port: u16) -> Heartbeat {
        let blocks: Vec<(u64, u64)> = self.lock().iter().map(|(k, v)| (*k, *v)).collect();
        let used = blocks.iter().map(|(_, l)| l).sum();
        let (capacity, remaining) = match rustix::fs::statvfs(&self.dir) {
            Ok(s) => (
                s.f_blocks.saturating_mul(s.f_frsize),
                s.f_bavail.saturating_mul(s.f_frsize),
            ),
            Err(_) => (0, 0),
        };
        Heartbeat {
            storage_id: self.storage_id.clone(),
            hostname,
            http_port,
            capacity,
            used,
            remaining,
            blocks,
        }
    }
}

/// Starts the disk writing a block's bytes while the rest still arrives, so the sync at its end
/// has little left to wait for (Hadoop's `dfs.datanode.sync.behind.writes`). Each range is
/// handed over one batch late, once whole: on Linux, `POSIX_FADV_DONTNEED` starts the writeback
/// of a range's dirty pages without waiting for it, and only drops the pages already clean, so
/// the block mostly stays cached for the reads that follow.
#[derive(Debug, Default)]
struct WriteBehind {
    /// Bytes already handed to the disk.
    started: u64,
    /// Bytes written to the file.
    written: u64,
}

impl WriteBehind {
    /// Records `len` more bytes written; starts the writeback of the batch before.
    fn wrote(&mut self, file: &std::fs::File, len: u64) {
        let upto = self.written;
        self.written += len;
        if let Some(len) = std::num::NonZeroU64::new(upto - self.started) {
            // Only a hint: the sync at the end of the block is what counts.
            let _ =
                rustix::fs::fadvise(file, self.started, Some(len), rustix::fs::Advice::DontNeed);
            self.started = upto;
        }
    }
}

/// Runs a datanode until `shutdown`: serves blocks and heartbeats to the namenode named by
/// `fs.defaultFS`.
pub async fn run(config: HadoopConfig, shutdown: CancellationToken) -> anyhow::Result<()> {
    let storage = Arc::new(Storage::open(&config.data_dir()?, config.sync_on_close()?)?);
    let (host, port) = config.datanode_http_address()?;
    let listener = tokio::net::TcpListener::bind(resolve(&host, port).await?).await?;
    let http_port = listener.local_addr()?.port();
    tracing::info!(addr = %listener.local_addr()?, "DataNode serving blocks");
    let (nn_host, nn_port) = config.default_fs()?;
    let heartbeat_url = format!("http://{nn_host}:{nn_port}{HEARTBEAT_PATH}");
    let interval = config.heartbeat_interval()?;
    let hostname = config.datanode_hostname();
    let beat_storage = storage.clone();
    let beat_shutdown = shutdown.clone();
    let beats = tokio::spawn(async move {
        let client = reqwest::Client::new();
        let mut registered = false;
        loop {
            let report = beat_storage.heartbeat(hostname.clone(), http_port);
            match send_heartbeat(&client, &heartbeat_url, &report).await {
                Ok(reply) => {
                    if !registered {
                        tracing::info!(url = %heartbeat_url, "registered with the namenode");
                        registered = true;
                    }
                    beat_storage.delete(&reply.delete).await;
                }
                Err(e) => {
                    registered = false;
                    tracing::warn!(url = %heartbeat_url, "heartbeat failed: {e}");
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = beat_shutdown.cancelled() => break,
            }
        }
    });
    let app = Router::new()
        .route(
            &format!("{BLOCKS_PATH}/{{id}}"),
            get(read_block).put(write_block),
        )
        .with_state(storage);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await?;
    beats.abort();
    Ok(())
}

async fn send_heartbeat(
    client: &reqwest::Client,
    url: &str,
    report: &Heartbeat,
) -> anyhow::Result<HeartbeatReply> {
    let resp = client
        .post(url)
        .json(report)
        .timeout(std::time::Duration::from_secs(30))
        .send()
        .await?
        .error_for_status()?;
    Ok(resp.json().await?)
}

fn bad_block_id() -> Response {
    (StatusCode::BAD_REQUEST, "bad block id").into_response()
}

async fn write_block(
    State(storage): State<Arc<Storage>>,
    UrlPath(id): UrlPath<String>,
    body: Body,
) -> Response {
    let Ok(id) = id.parse::<u64>() else {
        return bad_block_id();
    };
    match storage.write(id, body.into_data_stream()).await {
        Ok(len) => match serde_json::to_vec(&Stored { len }) {
            Ok(json) => (StatusCode::OK, json).into_response(),
            Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        },
        Err(e) => {
            tracing::warn!(id, "block write failed: {e}");
            (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()
        }
    }
}

async fn read_block(
    State(storage): State<Arc<Storage>>,
    UrlPath(id): UrlPath<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let Ok(id) = id.parse::<u64>() else {
        return bad_block_id();
    };
    let Some(len) = storage.len_of(id) else {
        return (StatusCode::NOT_FOUND, "no such block").into_response();
    };
    let mut offset = 0u64;
    let mut length = len;
    for (k, v) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let n = v.parse::<u64>().ok();
        match (k.as_ref(), n) {
            ("offset", Some(n)) => offset = n,
            ("length", Some(n)) => length = n,
            _ => return (StatusCode::BAD_REQUEST, "bad offset or length").into_response(),
        }
    }
    if offset > len {
        return (StatusCode::RANGE_NOT_SATISFIABLE, "offset past the end").into_response();
    }
    let length = length.min(len - offset);
    match storage.open_range(id, offset, length).await {
        Ok(reader) => {
            let stream = tokio_util::io::ReaderStream::with_capacity(reader, READ_CHUNK);
            Response::builder()
                .header("content-length", length)
                .body(Body::from_stream(stream))
                .unwrap_or_else(|e| {
                    (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()
                })
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}
