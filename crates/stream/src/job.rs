//! The running job: consumers feed the pipeline, each batch that ends is written to every output,
//! then its offsets are committed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use kafka_client::zookeeper::bootstrap_from_zookeeper;
use kafka_client::{Client, ClientConfig, OffsetReset};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::clock::{BatchClock, Millis, now_millis};
use crate::committer::{Written, run_committer};
use crate::consume::{Arrival, CommitRequest, ConsumerSettings, consume};
use crate::output::Outputs;
use crate::output::topic::TopicOutput;
use crate::output::webhdfs::HdfsOutput;
use crate::pipeline::Pipeline;
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

/// How long the job waits for the quorum to answer and a broker to register.
const DISCOVERY_PATIENCE: Duration = Duration::from_secs(30);

/// Resolves the bootstrap servers (reading ZooKeeper when given a quorum, until a broker has
/// registered or [`DISCOVERY_PATIENCE`] has passed).
pub async fn bootstrap_servers(brokers: &Brokers) -> Result<String, Error> {
    match brokers {
        Brokers::Bootstrap(list) => Ok(list.clone()),
        Brokers::ZooKeeper(quorum) => {
            // In a lab that is starting, the quorum or the brokers may come up after the job.
            let deadline = std::time::Instant::now() + DISCOVERY_PATIENCE;
            let mut said = false;
            loop {
                match bootstrap_from_zookeeper(quorum).await {
                    Ok(list) => {
                        tracing::info!("brokers registered in ZooKeeper at {quorum}: {list}");
                        return Ok(list);
                    }
                    Err(e) if std::time::Instant::now() >= deadline => return Err(e.into()),
                    Err(e) => {
                        if !said {
                            tracing::info!("{e}; trying again for {DISCOVERY_PATIENCE:?}");
                            said = true;
                        }
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
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
    let mut outputs = Outputs {
        printed,
        topic,
        hdfs,
    };
    let mut pipeline = Pipeline::new(clock, window, config.partitions, now_millis());
    let mut waiting = Waiting {
        pipeline: &mut pipeline,
        outputs: &mut outputs,
        stats: &stats,
    };
    if !waiting
        .wait_for_topics(&client, &config.topics, &cancel)
        .await?
    {
        return Ok(());
    }
    // A few polls in flight per consumer: enough to keep them busy, bounded in memory.
    let (to_job, arrivals) = mpsc::channel::<Arrival>(2 * config.consumers);
    let mut committers = Vec::with_capacity(config.consumers);
    // Not a child of `cancel`: the consumers outlive the loop to make the last commits.
    let stop_consumers = CancellationToken::new();
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

    let (to_commit, written) = mpsc::unbounded_channel();
    let mut committer = tokio::spawn(run_committer(written, committers));
    let mut job = Running {
        pipeline,
        outputs,
        to_commit,
        arrivals,
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
            failed = &mut committer => {
                break Err(match failed {
                    Ok(Err(e)) => e,
                    Ok(Ok(())) => Error::Commit("the committer stopped".into()),
                    Err(e) => Error::Commit(format!("the committer failed: {e}")),
                });
            }
            arrival = job.arrivals.recv() => {
                let Some(arrival) = arrival else { break Ok(()) };
                take(&mut job.pipeline, &stats, &arrival);
            }
            () = tokio::time::sleep(wait) => {}
        }
        if let Err(e) = write_due_batches(
            &mut job.pipeline,
            &mut job.outputs,
            &stats,
            Some(&job.to_commit),
        )
        .await
        {
            break Err(e);
        }
    };
    // Let the committer commit what was written (a stopped job then redoes nothing); the
    // consumers keep running, and their queue open, until it is done.
    let Running {
        to_commit,
        arrivals,
        ..
    } = job;
    drop(to_commit);
    if !committer.is_finished() {
        match tokio::time::timeout(Duration::from_secs(10), &mut committer).await {
            Ok(Ok(Err(e))) => tracing::warn!("last commit: {e}"),
            Err(_) => tracing::warn!("last commit not done after 10 s; a restart redoes it"),
            _ => {}
        }
    }
    stop_consumers.cancel();
    drop(arrivals);
    while consumers.join_next().await.is_some() {}
    result
}

/// The job before its topics exist: batches still end on time and print empty, as Spark's
/// receiver-based stream prints a header every interval whether or not its topic exists yet.
struct Waiting<'a> {
    pipeline: &'a mut Pipeline,
    outputs: &'a mut Outputs,
    stats: &'a JobStats,
}

impl Waiting<'_> {
    /// Waits until every topic exists, so the group assigns its partitions, writing the empty
    /// batches that end meanwhile. It never creates a topic, as the TP's receiver did not: the
    /// lab starts this job before the student's `kafka-topics.sh --create … Hello-Kafka`, which
    /// must still succeed. Returns false when cancelled first.
    async fn wait_for_topics(
        &mut self,
        client: &Client,
        topics: &[String],
        cancel: &CancellationToken,
    ) -> Result<bool, Error> {
        for topic in topics {
            let mut said = false;
            loop {
                match client.topic(topic, false).await {
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
                let next_look = now_millis() + TOPIC_LOOKUP_MS;
                while now_millis() < next_look {
                    let until = self.pipeline.next_batch_end().min(next_look);
                    let wait = Duration::from_millis(until.saturating_sub(now_millis()));
                    tokio::select! {
                        () = cancel.cancelled() => return Ok(false),
                        () = tokio::time::sleep(wait) => {}
                    }
                    write_due_batches(self.pipeline, self.outputs, self.stats, None).await?;
                }
            }
        }
        Ok(true)
    }
}

/// How often a missing topic is looked up again.
const TOPIC_LOOKUP_MS: Millis = 500;

/// Writes every batch that has ended, then hands its offsets to the committer (none before the
/// consumers run).
async fn write_due_batches(
    pipeline: &mut Pipeline,
    outputs: &mut Outputs,
    stats: &JobStats,
    to_commit: Option<&mpsc::UnboundedSender<Written>>,
) -> Result<(), Error> {
    while let Some(output) = pipeline.poll_output(now_millis()) {
        outputs.write(&output).await?;
        let words: u64 = output.counts.iter().map(|(_, n)| n).sum();
        stats.words.fetch_add(words, Ordering::Relaxed);
        stats.batches.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(
            time = output.time,
            words,
            delay_ms = now_millis().saturating_sub(output.time),
            "batch written"
        );
        let offsets = pipeline.output_written(output.ticket);
        if let (false, Some(to_commit)) = (offsets.is_empty(), to_commit) {
            // The committer only stops on a fatal error, which the job's loop reports.
            let _ = to_commit.send(Written {
                time: output.time,
                offsets,
            });
        }
    }
    Ok(())
}

/// Hands one poll's records to the pipeline.
fn take(pipeline: &mut Pipeline, stats: &JobStats, arrival: &Arrival) {
    for r in &arrival.records {
        let tp = kafka_client::TopicPartition::new(r.topic.clone(), r.partition);
        if pipeline.record(&tp, r.offset, r.value.as_deref(), arrival.at) {
            stats.records.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// What the loop of a running job works with.
struct Running {
    pipeline: Pipeline,
    outputs: Outputs,
    /// Where written batches' offsets go to be committed.
    to_commit: mpsc::UnboundedSender<Written>,
    /// What the consumers read.
    arrivals: mpsc::Receiver<Arrival>,
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
