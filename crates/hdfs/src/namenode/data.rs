//! Moving bytes between clients and datanodes: a file is written block by block, each block
//! streamed to `replication` datanodes at once (a datanode that fails mid-block is dropped and
//! the block lives on with the others; re-replication restores the count later); a read walks
//! the blocks of a range, switching replica where one fails.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::NameNode;
use crate::error::FsError;
use crate::namespace::Block;
use crate::protocol::{self, BLOCKS_PATH};

/// Batches (about 1 MiB each) in flight per datanode stream, and chunks per read stream.
const CHANNEL_DEPTH: usize = 8;
/// Blocks whose datanodes may still be finishing (syncing, with `dfs.datanode.synconclose`)
/// while the next block streams: the stream only waits for a block once more are behind it.
const MAX_CLOSING: usize = 2;
/// How long one datanode may hold up a write before it is dropped from the block.
const SEND_TIMEOUT: Duration = Duration::from_secs(60);
/// Most blocks one file may have (Hadoop's `dfs.namenode.fs-limits.max-blocks-per-file`).
const MAX_BLOCKS_PER_FILE: usize = 100_000;

type Chunk = Result<Bytes, std::io::Error>;

/// A block written to its datanodes: the block and the datanodes that stored it.
type Stored = (Block, Vec<String>);

fn channel_stream(rx: mpsc::Receiver<Vec<Bytes>>) -> impl futures_util::Stream<Item = Chunk> {
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (b, rx)) })
        .flat_map(|batch| futures_util::stream::iter(batch.into_iter().map(Ok)))
}

/// One datanode receiving the block being written.
#[derive(Debug)]
struct Target {
    node: String,
    tx: mpsc::Sender<Vec<Bytes>>,
    task: JoinHandle<Result<u64, String>>,
}

/// The block being written.
#[derive(Debug)]
struct OpenBlock {
    id: u64,
    len: u64,
    targets: Vec<Target>,
    /// Pieces not yet sent to the targets.
    pending: Vec<Bytes>,
}

/// A full block whose datanodes are finishing it.
#[derive(Debug)]
struct Closing {
    id: u64,
    task: JoinHandle<Result<Stored, FsError>>,
}

/// Writes a file's bytes as blocks; the caller commits the result to the namespace.
///
/// Each block streams to its `replication` datanodes at once (a copy of every batch to each).
/// A full block is closed in the background: the next block starts streaming while the
/// datanodes of the previous one finish and answer.
#[derive(Debug)]
pub(super) struct FileWriter {
    nn: Arc<NameNode>,
    replication: usize,
    blocksize: u64,
    done: Vec<Stored>,
    closing: std::collections::VecDeque<Closing>,
    current: Option<OpenBlock>,
}

impl FileWriter {
    /// A writer of blocks of `blocksize`, each on `replication` datanodes.
    pub(super) fn new(nn: Arc<NameNode>, replication: u16, blocksize: u64) -> FileWriter {
        FileWriter {
            nn,
            replication: usize::from(replication),
            blocksize,
            done: Vec::new(),
            closing: std::collections::VecDeque::new(),
            current: None,
        }
    }

    /// Writes the next bytes of the file, given as a batch of pieces.
    pub(super) async fn write(&mut self, batch: Vec<Bytes>) -> Result<(), FsError> {
        for mut piece in batch {
            while !piece.is_empty() {
                let mut block = match self.current.take() {
                    Some(b) => b,
                    None => self.open_block().await?,
                };
                let room = usize::try_from(self.blocksize - block.len).unwrap_or(usize::MAX);
                let part = if piece.len() > room {
                    piece.split_to(room)
                } else {
                    std::mem::take(&mut piece)
                };
                block.len += part.len() as u64;
                block.pending.push(part);
                if block.len == self.blocksize {
                    self.send(&mut block).await?;
                    self.close_block(block).await?;
                } else {
                    self.current = Some(block);
                }
            }
        }
        if let Some(mut block) = self.current.take() {
            self.send(&mut block).await?;
            self.current = Some(block);
        }
        Ok(())
    }

    /// Sends the block's pending pieces to each of its datanodes; a datanode that fails or
    /// stalls is dropped from the block.
    async fn send(&self, block: &mut OpenBlock) -> Result<(), FsError> {
        if block.pending.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut block.pending);
        let mut alive = Vec::with_capacity(block.targets.len());
        for t in block.targets.drain(..) {
            let sent = tokio::time::timeout(SEND_TIMEOUT, t.tx.send(batch.clone())).await;
            if matches!(sent, Ok(Ok(()))) {
                alive.push(t);
            } else {
                let why = finish_target(t.task).await.err().unwrap_or_default();
                tracing::warn!(block = block.id, node = %t.node, "datanode dropped from the write: {why}");
                self.nn.block_map().mark_failed(&t.node);
            }
        }
        block.targets = alive;
        if block.targets.is_empty() {
            self.nn.block_map().abandon(&[block.id]);
            return Err(FsError::Io(format!(
                "All datanodes failed while writing block blk_{}",
                block.id
            )));
        }
        Ok(())
    }

    async fn open_block(&mut self) -> Result<OpenBlock, FsError> {
        // Called with no block open: every block so far is done or closing.
        if self.done.len() + self.closing.len() >= MAX_BLOCKS_PER_FILE {
            return Err(FsError::Limit(format!(
                "File has reached the limit on maximum number of blocks ({MAX_BLOCKS_PER_FILE})"
            )));
        }
        let id = self.nn.new_block_id().await?;
        let nodes = self
            .nn
            .block_map()
            .choose_targets(self.replication, &Default::default());
        if nodes.is_empty() {
            self.nn.block_map().abandon(&[id]);
            return Err(FsError::Io(format!(
                "File could only be written to 0 of the 1 minReplication nodes. \
                 There are 0 datanode(s) running (block blk_{id})"
            )));
        }
        let targets = nodes
            .into_iter()
            .map(|node| {
                let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
                let url = format!("http://{}{BLOCKS_PATH}/{id}", node.addr);
                let request = self
                    .nn
                    .http
                    .put(url)
                    .body(reqwest::Body::wrap_stream(channel_stream(rx)));
                let task = tokio::spawn(async move {
                    let resp = request.send().await.map_err(|e| e.to_string())?;
                    if !resp.status().is_success() {
                        return Err(format!("datanode answered {}", resp.status()));
                    }
                    let stored: protocol::Stored = resp.json().await.map_err(|e| e.to_string())?;
                    Ok(stored.len)
                });
                Target {
                    node: node.id,
                    tx,
                    task,
                }
            })
            .collect();
        Ok(OpenBlock {
            id,
            len: 0,
            targets,
            pending: Vec::new(),
        })
    }

    /// Ends a block's streams and lets its datanodes finish in the background; waits for the
    /// oldest closing block once too many are behind.
    async fn close_block(&mut self, block: OpenBlock) -> Result<(), FsError> {
        let id = block.id;
        let task = tokio::spawn(finish_block(self.nn.clone(), block));
        self.closing.push_back(Closing { id, task });
        while self.closing.len() > MAX_CLOSING {
            self.settle_oldest().await?;
        }
        Ok(())
    }

    /// Waits for the oldest closing block.
    async fn settle_oldest(&mut self) -> Result<(), FsError> {
        if let Some(c) = self.closing.pop_front() {
            let stored = c
                .task
                .await
                .map_err(|e| FsError::Io(format!("block task failed: {e}")))??;
            self.done.push(stored);
        }
        Ok(())
    }

    /// Ends the last block; returns every block with the datanodes holding it. On failure
    /// every block of the write is given up.
    pub(super) async fn finish(mut self) -> Result<Vec<Stored>, FsError> {
        match self.settle_all().await {
            Ok(()) => Ok(std::mem::take(&mut self.done)),
            Err(e) => {
                self.abort();
                Err(e)
            }
        }
    }

    async fn settle_all(&mut self) -> Result<(), FsError> {
        if let Some(block) = self.current.take() {
            self.close_block(block).await?;
        }
        while !self.closing.is_empty() {
            self.settle_oldest().await?;
        }
        Ok(())
    }

    /// Gives up: the blocks written become orphans, deleted at the next block reports.
    pub(super) fn abort(mut self) {
        let mut ids: Vec<u64> = self.done.iter().map(|(b, _)| b.id).collect();
        ids.extend(self.closing.iter().map(|c| c.id));
        if let Some(block) = self.current.take() {
            ids.push(block.id);
            for t in block.targets {
                t.task.abort();
            }
        }
        self.nn.block_map().abandon(&ids);
    }
}

/// Ends a full block's streams (all at once, so its datanodes finish side by side) and waits
/// for their answers.
async fn finish_block(nn: Arc<NameNode>, block: OpenBlock) -> Result<Stored, FsError> {
    // Taking the node and task apart drops each stream's sender: the end of the block.
    let (nodes, tasks): (Vec<String>, Vec<_>) =
        block.targets.into_iter().map(|t| (t.node, t.task)).unzip();
    let answers = futures_util::future::join_all(tasks.into_iter().map(finish_target)).await;
    let mut stored = Vec::new();
    for (node, answer) in nodes.into_iter().zip(answers) {
        match answer {
            Ok(len) if len == block.len => stored.push(node),
            Ok(len) => tracing::warn!(block = block.id, %node, len, "short block"),
            Err(e) => {
                tracing::warn!(block = block.id, %node, "block not stored: {e}");
                nn.block_map().mark_failed(&node);
            }
        }
    }
    if stored.is_empty() {
        nn.block_map().abandon(&[block.id]);
        return Err(FsError::Io(format!(
            "Could not store block blk_{} on any datanode",
            block.id
        )));
    }
    Ok((
        Block {
            id: block.id,
            len: block.len,
        },
        stored,
    ))
}

async fn finish_target(task: JoinHandle<Result<u64, String>>) -> Result<u64, String> {
    task.await.map_err(|e| e.to_string())?
}

/// Streams `length` bytes from `offset` of a file made of `blocks`; a failing replica is
/// replaced by the next one, from where it stopped. An error item ends the stream when no
/// replica is left.
pub(super) fn read(
    nn: Arc<NameNode>,
    blocks: Vec<Block>,
    offset: u64,
    length: u64,
) -> mpsc::Receiver<Chunk> {
    let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
    tokio::spawn(async move {
        let end = offset.saturating_add(length);
        let mut start = 0u64;
        for block in blocks {
            let block_end = start + block.len;
            if block_end > offset && start < end {
                let from = offset.max(start) - start;
                let to = end.min(block_end) - start;
                if let Err(e) = read_block(&nn, block.id, from, to - from, &tx).await {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            }
            start = block_end;
            if start >= end {
                break;
            }
        }
    });
    rx
}

/// Sends `len` bytes of a block from `from`, trying each live replica in turn.
async fn read_block(
    nn: &NameNode,
    id: u64,
    mut from: u64,
    mut len: u64,
    tx: &mpsc::Sender<Chunk>,
) -> std::io::Result<()> {
    let replicas = nn.block_map().replicas(id);
    for (node, addr) in replicas {
        if len == 0 {
            break;
        }
        let url = format!("http://{addr}{BLOCKS_PATH}/{id}?offset={from}&length={len}");
        let resp = match nn.http.get(url).send().await {
            Ok(r) if r.status().is_success() => r,
            Ok(r) => {
                tracing::warn!(block = id, %addr, status = %r.status(), "replica refused");
                continue;
            }
            Err(e) => {
                tracing::warn!(block = id, %addr, "replica unreachable: {e}");
                nn.block_map().mark_failed(&node);
                continue;
            }
        };
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(chunk) => {
                    let n = (chunk.len() as u64).min(len);
                    let chunk = chunk.slice(..usize::try_from(n).unwrap_or(usize::MAX));
                    from += n;
                    len -= n;
                    if tx.send(Ok(chunk)).await.is_err() {
                        return Ok(()); // the client went away
                    }
                }
                Err(e) => {
                    tracing::warn!(block = id, %addr, "replica failed mid-read: {e}");
                    nn.block_map().mark_failed(&node);
                    break;
                }
            }
        }
    }
    if len == 0 {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "Could not obtain block: blk_{id} (no live replica)"
        )))
    }
}

/// Copies a block from one datanode to another (re-replication).
pub(super) async fn copy_block(
    http: &reqwest::Client,
    id: u64,
    len: u64,
    from: &str,
    to: &str,
) -> anyhow::Result<()> {
    let source = http
        .get(format!("http://{from}{BLOCKS_PATH}/{id}"))
        .send()
        .await?
        .error_for_status()?;
    let stored: protocol::Stored = http
        .put(format!("http://{to}{BLOCKS_PATH}/{id}"))
        .body(reqwest::Body::wrap_stream(source.bytes_stream()))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    anyhow::ensure!(stored.len == len, "copied {} bytes of {len}", stored.len);
    Ok(())
}
