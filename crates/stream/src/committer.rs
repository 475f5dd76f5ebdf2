//! The committer: commits the offsets of written batches, in order, without holding up the
//! printing of the next batches.
//!
//! Each written batch's offsets come in over a channel; whatever has queued up is merged (a later
//! batch's offset of a partition replaces an earlier one) and committed by the consumers, each for
//! the partitions it owns (`GroupConsumer::commit_offsets`, between two of its polls). A failed
//! commit (the group rebalancing, the coordinator moving) is retried with what has queued since,
//! for at most [`COMMIT_PATIENCE`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use crate::Error;
use crate::clock::Millis;
use crate::consume::CommitRequest;
use crate::pipeline::Offsets;

/// How long a commit is retried before the job gives up (a restart then redoes the batches).
pub const COMMIT_PATIENCE: Duration = Duration::from_secs(60);

/// The offsets of one written batch.
#[derive(Debug)]
pub struct Written {
    /// The batch time.
    pub time: Millis,
    /// Its offsets (the next to read per partition).
    pub offsets: Offsets,
}

/// Commits what arrives on `written` through the consumers' `committers` until the channel
/// closes and everything received is committed.
pub async fn run_committer(
    mut written: mpsc::UnboundedReceiver<Written>,
    committers: Vec<mpsc::Sender<CommitRequest>>,
) -> Result<(), Error> {
    while let Some(first) = written.recv().await {
        let mut offsets = first.offsets;
        let mut through = first.time;
        let started = Instant::now();
        let mut attempt = 0u32;
        loop {
            while let Ok(more) = written.try_recv() {
                offsets.extend(more.offsets);
                through = more.time;
            }
            match commit_through_consumers(&committers, &offsets).await {
                Ok(()) => {
                    tracing::debug!(through, ?offsets, "committed");
                    break;
                }
                Err(e) if started.elapsed() >= COMMIT_PATIENCE => {
                    return Err(Error::Commit(format!(
                        "gave up committing the batches through {through} ms after \
                         {COMMIT_PATIENCE:?}: {e}"
                    )));
                }
                Err(e) => {
                    attempt += 1;
                    if attempt == 1 || attempt.is_multiple_of(25) {
                        tracing::warn!("{e}; retrying the commit (attempt {attempt})");
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }
    Ok(())
}

/// Asks every consumer to commit its share of `offsets` and checks that every partition was
/// committed by one of them (a partition between owners during a rebalance is not).
async fn commit_through_consumers(
    committers: &[mpsc::Sender<CommitRequest>],
    offsets: &Offsets,
) -> Result<(), Error> {
    let shared = Arc::new(offsets.clone());
    let mut replies = Vec::with_capacity(committers.len());
    for committer in committers {
        let (reply, answer) = oneshot::channel();
        let request = CommitRequest {
            offsets: shared.clone(),
            reply,
        };
        // A consumer that has stopped commits nothing; the coverage check below says so.
        if committer.send(request).await.is_ok() {
            replies.push(answer);
        }
    }
    let mut missing: Offsets = offsets.clone();
    for answer in replies {
        match answer.await {
            Ok(Ok(done)) => {
                for tp in done {
                    missing.remove(&tp);
                }
            }
            Ok(Err(source)) => {
                return Err(Error::Kafka {
                    what: "commit offsets".into(),
                    source,
                });
            }
            Err(_) => {}
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        let names: Vec<String> = missing.keys().map(ToString::to_string).collect();
        Err(Error::Commit(format!(
            "no consumer owns {} right now",
            names.join(", ")
        )))
    }
}
