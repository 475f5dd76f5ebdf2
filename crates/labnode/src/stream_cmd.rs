//! Commands of the streaming wordcount, the TP's `SparkKafkaWordCount` without Spark:
//! `labnode stream wordcount`, the same job under the node command `spark-kafka-wordcount`, and
//! `spark-submit`, which accepts the TP's exact command line and runs the built-in job for its
//! class (see `stream_cmd/spark_submit.rs`).

mod spark_submit;

use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use kafka_client::OffsetReset;
use stream::job::{Brokers, JobConfig};

/// The commands of this group.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Streaming jobs.
    #[command(subcommand)]
    Stream(StreamCommand),
    /// The TP's Spark Streaming Kafka wordcount:
    /// `spark-kafka-wordcount <zkQuorum> <group> <topics> <numThreads>`.
    #[command(name = "spark-kafka-wordcount")]
    SparkKafkaWordcount(WordcountArgs),
    /// Runs the TP's `spark-submit --class tn.insat.tp3.SparkKafkaWordCount --master local[2]
    /// <jar> <zkQuorum> <group> <topics> <numThreads>` with the built-in job for that class
    /// (the jar is not loaded; any other class is refused).
    #[command(name = "spark-submit", disable_help_flag = true)]
    SparkSubmit(spark_submit::SubmitArgs),
}

/// `labnode stream …`.
#[derive(Debug, Subcommand)]
pub(crate) enum StreamCommand {
    /// Counts the words of a Kafka topic per micro-batch and prints each batch as Spark's
    /// `DStream.print()` does (stdout; logs go to stderr).
    Wordcount(WordcountArgs),
}

/// The TP's four arguments and our flags.
#[derive(Debug, Args)]
pub(crate) struct WordcountArgs {
    /// `<zkQuorum> <group> <topics> <numThreads>` as in the TP (`localhost:2181 test Hello-Kafka
    /// 1`); with `--bootstrap-server`, `<group> <topics> <numThreads>`. Topics are
    /// comma-separated; numThreads consumers join the group.
    #[arg(value_names = ["zkQuorum", "group", "topics", "numThreads"], num_args = 3..=4, required = true)]
    args: Vec<String>,
    /// Kafka brokers to bootstrap from instead of reading them from ZooKeeper.
    #[arg(long, value_name = "HOST:PORT[,…]")]
    bootstrap_server: Option<String>,
    /// Batch interval in milliseconds (the TP's job uses 2 s).
    #[arg(long, default_value_t = 2000, value_name = "MS")]
    interval_ms: u64,
    /// Count over a sliding window of this length (ms, a multiple of the interval), like
    /// `reduceByKeyAndWindow`.
    #[arg(long, value_name = "MS")]
    window_ms: Option<u64>,
    /// The window's slide (ms, a multiple of the interval; default: the interval).
    #[arg(long, value_name = "MS", requires = "window_ms")]
    slide_ms: Option<u64>,
    /// Also publish each batch's counts to this topic (key: the word, value: the count).
    #[arg(long, value_name = "TOPIC")]
    output_topic: Option<String>,
    /// Also write each batch to `<dir>/wordcounts-<time>.txt` in HDFS through WebHDFS
    /// (`webhdfs://namenode:9870/dir` or `http://…`).
    #[arg(long, value_name = "URL")]
    hdfs_dir: Option<String>,
    /// The HDFS user of `--hdfs-dir` (default: $HADOOP_USER_NAME, else root).
    #[arg(long, value_name = "USER")]
    hdfs_user: Option<String>,
    /// Start partitions without a committed offset at their beginning (default: their end, as
    /// Spark's Kafka receiver does).
    #[arg(long)]
    from_beginning: bool,
    /// Hash partitions of Spark's output order (N of `--master local[N]`).
    #[arg(long, default_value_t = 2, value_name = "N")]
    partitions: u32,
}

impl Command {
    /// Runs the command and returns the process exit code.
    pub(crate) fn run(self) -> anyhow::Result<ExitCode> {
        let config = match self {
            Command::Stream(StreamCommand::Wordcount(args))
            | Command::SparkKafkaWordcount(args) => args.into_config()?,
            Command::SparkSubmit(submit) => submit.into_config()?,
        };
        run_job(config)
    }
}

impl WordcountArgs {
    /// Checks the arguments and turns them into the job's settings.
    fn into_config(self) -> anyhow::Result<JobConfig> {
        let (brokers, rest) = match (&self.bootstrap_server, self.args.as_slice()) {
            (None, [zk, rest @ ..]) if rest.len() == 3 => (Brokers::ZooKeeper(zk.clone()), rest),
            (None, _) => bail!(
                "expected <zkQuorum> <group> <topics> <numThreads> (or --bootstrap-server with \
                 <group> <topics> <numThreads>), got {} argument(s)",
                self.args.len()
            ),
            (Some(b), rest) if rest.len() == 3 => (Brokers::Bootstrap(b.clone()), rest),
            (Some(_), _) => bail!(
                "with --bootstrap-server, give <group> <topics> <numThreads> (no zkQuorum), got \
                 {} argument(s)",
                self.args.len()
            ),
        };
        let [group, topics, threads] = rest else {
            bail!("expected <group> <topics> <numThreads>");
        };
        let mut config = tp_job(brokers, group, topics, threads)?;
        config.interval_ms = self.interval_ms;
        config.window = self
            .window_ms
            .map(|length| (length, self.slide_ms.unwrap_or(self.interval_ms)));
        config.partitions = self.partitions.max(1);
        config.reset = if self.from_beginning {
            OffsetReset::Earliest
        } else {
            OffsetReset::Latest
        };
        config.output_topic = self.output_topic;
        let user = self
            .hdfs_user
            .or_else(|| std::env::var("HADOOP_USER_NAME").ok())
            .unwrap_or_else(|| "root".to_owned());
        config.hdfs = self.hdfs_dir.map(|dir| (dir, user));
        Ok(config)
    }
}

/// The TP job's settings from its four arguments, with the TP's defaults (2 s batches,
/// `local[2]`, start at the end of the topics).
fn tp_job(brokers: Brokers, group: &str, topics: &str, threads: &str) -> anyhow::Result<JobConfig> {
    let consumers: usize = threads
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .with_context(|| format!("<numThreads> must be a positive integer, got {threads:?}"))?;
    let topics: Vec<String> = topics
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    if topics.is_empty() {
        bail!("<topics> names no topic");
    }
    if group.is_empty() {
        bail!("<group> is empty");
    }
    Ok(JobConfig {
        brokers,
        group: group.to_owned(),
        topics,
        consumers,
        interval_ms: 2000,
        window: None,
        partitions: 2,
        reset: OffsetReset::Latest,
        output_topic: None,
        hdfs: None,
    })
}

/// Runs the job on a Tokio runtime until Ctrl-C or SIGTERM; logs go to stderr.
fn run_job(config: JobConfig) -> anyhow::Result<ExitCode> {
    crate::logging::init();
    tracing::info!(
        "SparkKafkaWordCount: group {}, topics {}, {} consumer(s), batches of {} ms",
        config.group,
        config.topics.join(","),
        config.consumers,
        config.interval_ms
    );
    let runtime = tokio::runtime::Runtime::new().context("start the async runtime")?;
    runtime.block_on(stream::job::run_until_signal(config))?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        command: Command,
    }

    fn config(args: &[&str]) -> anyhow::Result<JobConfig> {
        let cli = Cli::try_parse_from(args)?;
        match cli.command {
            Command::Stream(StreamCommand::Wordcount(a)) | Command::SparkKafkaWordcount(a) => {
                a.into_config()
            }
            Command::SparkSubmit(s) => s.into_config(),
        }
    }

    #[test]
    fn the_tp_arguments_read_zookeeper() {
        let c = config(&[
            "x",
            "spark-kafka-wordcount",
            "localhost:2181",
            "test",
            "Hello-Kafka",
            "1",
        ])
        .unwrap();
        assert_eq!(c.brokers, Brokers::ZooKeeper("localhost:2181".into()));
        assert_eq!(
            (c.group.as_str(), c.topics.as_slice()),
            ("test", &["Hello-Kafka".to_owned()][..])
        );
        assert_eq!((c.consumers, c.interval_ms, c.partitions), (1, 2000, 2));
        assert_eq!(c.reset, OffsetReset::Latest);
    }

    #[test]
    fn flags_set_the_bootstrap_window_and_outputs() {
        let c = config(&[
            "x",
            "stream",
            "wordcount",
            "--bootstrap-server",
            "b:9092",
            "g",
            "t1,t2",
            "3",
            "--interval-ms",
            "500",
            "--window-ms",
            "1500",
            "--output-topic",
            "counts",
            "--hdfs-dir",
            "webhdfs://nn:9870/wc",
            "--hdfs-user",
            "student",
            "--from-beginning",
        ])
        .unwrap();
        assert_eq!(c.brokers, Brokers::Bootstrap("b:9092".into()));
        assert_eq!(c.topics, ["t1", "t2"]);
        assert_eq!(
            (c.consumers, c.interval_ms, c.window),
            (3, 500, Some((1500, 500)))
        );
        assert_eq!(c.output_topic.as_deref(), Some("counts"));
        assert_eq!(
            c.hdfs,
            Some(("webhdfs://nn:9870/wc".into(), "student".into()))
        );
        assert_eq!(c.reset, OffsetReset::Earliest);
    }

    #[test]
    fn wrong_arguments_are_named() {
        let e = config(&["x", "stream", "wordcount", "zk:2181", "g", "t", "many"]).unwrap_err();
        assert!(e.to_string().contains("\"many\""), "{e}");
        let e = config(&["x", "stream", "wordcount", "zk:2181", "g", "t", "0"]).unwrap_err();
        assert!(e.to_string().contains("positive"), "{e}");
        let e = config(&[
            "x",
            "stream",
            "wordcount",
            "--bootstrap-server",
            "b:1",
            "zk",
            "g",
            "t",
            "1",
        ])
        .unwrap_err();
        assert!(e.to_string().contains("no zkQuorum"), "{e}");
        let e = config(&["x", "stream", "wordcount", "zk:2181", "g", ",", "1"]).unwrap_err();
        assert!(e.to_string().contains("<topics>"), "{e}");
    }
}
