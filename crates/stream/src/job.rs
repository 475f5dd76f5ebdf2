//! The running job: consumers feed the pipeline, each batch that ends is written to every output,
//! then its offsets are committed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use kafka_client::{Client, ClientConfig, OffsetReset};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::clock::{BatchClock, Millis, now_millis};
use crate::consume::{Arrival, CommitRequest, ConsumerSettings, consume};
use crate::discovery::brokers_from_zookeeper;
use crate::output::Outputs;
use crate::output::topic::TopicOutput;
use crate::output::webhdfs::HdfsOutput;
use crate::pipeline::{Offsets, Pipeline};
use crate::window::Window;

/// How the job finds the Kafka cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Brokers {
    /// The TP's `<zkQuorum>`: brokers are read from `/brokers/ids` in ZooKeeper.
    ZooKeeper(String),
    /// `--bootstrap-server host:port[,…]`.
    Bootstrap(String),
}

/// Everything the job needs to know (the TP's four arguments and our flags).
#[derive(Debug, Clone)]
pub struct JobConfig {
    /// Where the brokers are.
    pub brokers: Brokers,
    /// The consumer group (`<group>`).
    pub group: String,
    /// The topics (`<topics>`, comma-separated in the TP).
    pub topics: Vec<String>,
    /// How many consumers join the group (`<numThreads>`).
    pub consumers: usize,
    /// The batch interval in ms (the TP's `new Duration(2000)`).
    pub interval_ms: Millis,
    /// `(window, slide)` in ms for windowed counts, `None` for per-batch counts.
    pub window: Option<(Millis, Millis)>,
    /// The hash-partition count of Spark's print order (`local[N]`'s N).
    pub partitions: u32,
    /// Where a partition without a committed offset starts (Spark's receiver: the end).
    pub reset: OffsetReset,
    /// `--output-topic`.
    pub output_topic: Option<String>,
    /// `--hdfs-dir` and the HDFS user name.
    pub hdfs: Option<(String, String)>,
}

/// Counters a caller (the benchmark, a test) can watch while the job runs.
#[derive(Debug, Default)]
pub struct JobStats {
    /// Batches written to every output.
    pub batches: AtomicU64,
    /// Words in those batches.
    pub words: AtomicU64,
    /// Records taken from Kafka.
    pub records: AtomicU64,
}

impl JobConfig {
    fn window(&self) -> Result<Window, Error> {
        match self.window {
            None => Ok(Window::per_batch(self.interval_ms)),
            Some((length, slide)) => Window::new(self.interval_ms, length, slide),
        }
    }
}

/// Resolves the bootstrap servers (reading ZooKeeper when given a quorum).
pub async fn bootstrap_servers(brokers: &Brokers) -> Result<String, Error> {
    match brokers {
        Brokers::Bootstrap(list) => Ok(list.clone()),
        Brokers::ZooKeeper(quorum) => {
            let list = brokers_from_zookeeper(quorum).await?;
            tracing::info!("brokers registered in ZooKeeper at {quorum}: {list}");
            Ok(list)
        }
    }
}

/// Runs the job until `cancel`, printing each batch to `printed`. A batch's offsets are committed
/// only after it is written to every output.
pub async fn run(
    config: JobConfig,
    printed: Box<dyn std::io::Write + Send + Sync>,
    stats: Arc<JobStats>,
    cancel: CancellationToken,
) -> Result<(), Error> {
    if config.consumers == 0 {
        return Err(Error::Config("<numThreads> must be at least 1".into()));
    }
    if config.topics.is_empty() {
        return Err(Error::Config("<topics> names no topic".into()));
    }
    let clock = BatchClock::new(config.interval_ms)?;
    let window = config.window()?;
    let bootstrap = bootstrap_servers(&config.brokers).await?;
    let client = Client::connect(&bootstrap, ClientConfig::default())
        .await
        .map_err(|source| Error::Kafka {
            what: format!("connect to {bootstrap}"),
            source,
        })?;
    let topic = match &config.output_topic {
        Some(t) => Some(TopicOutput::new(client.clone(), t.clone()).await?),
        None => None,
    };
    let hdfs = match &config.hdfs {
        Some((url, user)) => Some(HdfsOutput::new(url, user.clone()).await?),
        None => None,
    };
    let outputs = Outputs {
        printed,
        topic,
        hdfs,
    };

    if !wait_for_topics(&client, &config.topics, &cancel).await? {
        return Ok(());
    }
    // A few polls in flight per consumer: enough to keep them busy, bounded in memory.
    let (to_job, mut arrivals) = mpsc::channel::<Arrival>(2 * config.consumers);
    let mut committers = Vec::with_capacity(config.consumers);
    let stop_consumers = cancel.child_token();
    let mut consumers = JoinSet::new();
    let settings = ConsumerSettings {
        group: config.group.clone(),
        topics: config.topics.clone(),
        reset: config.reset,
    };
    for index in 0..config.consumers {
        // Each consumer has its own connections, as separate Kafka consumers do: a client's
        // connection serves one request at a time, and one member's long-polling JoinGroup
        // must not hold back the others'.
        let own = Client::connect(&bootstrap, ClientConfig::default())
            .await
            .map_err(|source| Error::Kafka {
                what: format!("connect to {bootstrap}"),
                source,
            })?;
        let (commit_tx, commit_rx) = mpsc::channel::<CommitRequest>(1);
        committers.push(commit_tx);
        consumers.spawn(consume(
            index,
            own,
            settings.clone(),
            to_job.clone(),
            commit_rx,
            stop_consumers.clone(),
        ));
    }
    drop(to_job);

    let mut job = Running {
        pipeline: Pipeline::new(clock, window, config.partitions, now_millis()),
        outputs,
        committers,
        stats: &stats,
        cancel: &cancel,
    };
    let result = loop {
        let wait =
            Duration::from_millis(job.pipeline.next_batch_end().saturating_sub(now_millis()));
        tokio::select! {
            () = cancel.cancelled() => break Ok(()),
            done = consumers.join_next(), if !consumers.is_empty() => {
                // A consumer only ends early on a fatal error (it cannot join the group).
                match done {
                    Some(Ok(Err(e))) => break Err(e),
                    Some(Err(e)) => break Err(Error::Config(format!("a consumer task failed: {e}"))),
                    _ => {}
                }
            }
            arrival = arrivals.recv() => {
                let Some(arrival) = arrival else { break Ok(()) };
                for r in &arrival.records {
                    let tp = kafka_client::TopicPartition::new(r.topic.clone(), r.partition);
                    if job.pipeline.record(&tp, r.offset, r.value.as_deref(), arrival.at) {
                        stats.records.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            () = tokio::time::sleep(wait) => {}
        }
        if let Err(e) = write_due_batches(&mut job).await {
            break Err(e);
        }
    };
    stop_consumers.cancel();
    while consumers.join_next().await.is_some() {}
    result
}

/// Waits until every topic exists (asking the broker to create it, as Kafka's consumers do when
/// `auto.create.topics.enable` allows), so the group assigns its partitions. Returns false when
/// cancelled first.
async fn wait_for_topics(
    client: &Client,
    topics: &[String],
    cancel: &CancellationToken,
) -> Result<bool, Error> {
    for topic in topics {
        let mut said = false;
        loop {
            match client.topic(topic, true).await {
                Ok(t) if !t.partitions.is_empty() => break,
                Ok(_) | Err(kafka_client::Error::UnknownTopic(_)) => {}
                Err(e) if e.is_retriable() => {}
                Err(source) => {
                    return Err(Error::Kafka {
                        what: format!("look up topic {topic}"),
                        source,
                    });
                }
            }
            if !said {
                tracing::info!("waiting for topic {topic} to be created");
                said = true;
            }
            client.invalidate(topic);
            tokio::select! {
                () = cancel.cancelled() => return Ok(false),
                () = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
        }
    }
    Ok(true)
}

/// Writes every batch that has ended, committing after each one.
async fn write_due_batches(job: &mut Running<'_>) -> Result<(), Error> {
    while let Some(output) = job.pipeline.poll_output(now_millis()) {
        job.outputs.write(&output).await?;
        let words: u64 = output.counts.iter().map(|(_, n)| n).sum();
        job.stats.words.fetch_add(words, Ordering::Relaxed);
        job.stats.batches.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(
            time = output.time,
            words,
            delay_ms = now_millis().saturating_sub(output.time),
            "batch written"
        );
        let offsets = job.pipeline.output_written(output.ticket);
        if !offsets.is_empty() {
            commit_until_done(job, &offsets).await?;
        }
    }
    Ok(())
}

/// How long a commit is retried before the job gives up (and a restart redoes the batch).
const COMMIT_PATIENCE: Duration = Duration::from_secs(60);

/// Commits `offsets`, retrying (a rebalance in progress, the coordinator moving) until it
/// succeeds, the job stops, or [`COMMIT_PATIENCE`] runs out: the next batch is not written before
/// this one is committed, so a kill can redo at most the one batch whose commit was under way.
async fn commit_until_done(job: &Running<'_>, offsets: &Offsets) -> Result<(), Error> {
    let started = std::time::Instant::now();
    let mut attempt = 0u32;
    loop {
        let outcome = commit_through_consumers(&job.committers, offsets).await;
        match outcome {
            Ok(()) => {
                tracing::debug!(?offsets, "committed");
                return Ok(());
            }
            Err(e) if started.elapsed() >= COMMIT_PATIENCE => {
                return Err(Error::Commit(format!(
                    "gave up committing after {COMMIT_PATIENCE:?}: {e}"
                )));
            }
            Err(e) => {
                attempt += 1;
                if attempt == 1 || attempt.is_multiple_of(25) {
                    tracing::warn!("{e}; retrying the commit (attempt {attempt})");
                }
            }
        }
        tokio::select! {
            () = job.cancel.cancelled() => return Ok(()),
            () = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
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

/// What the loop of a running job works with.
struct Running<'a> {
    pipeline: Pipeline,
    outputs: Outputs,
    /// One commit channel per consumer.
    committers: Vec<mpsc::Sender<CommitRequest>>,
    stats: &'a JobStats,
    cancel: &'a CancellationToken,
}

/// Runs the job on stdout until Ctrl-C or SIGTERM (what `labnode` and `spark-submit` do).
pub async fn run_until_signal(config: JobConfig) -> Result<(), Error> {
    let cancel = CancellationToken::new();
    let on_signal = cancel.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("stopping: signal received");
        on_signal.cancel();
    });
    run(
        config,
        Box::new(std::io::stdout()),
        Arc::new(JobStats::default()),
        cancel,
    )
    .await
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = ctrl_c.await;
        }
    }
}
