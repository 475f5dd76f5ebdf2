//! `spark-submit`, for the TP's command line only:
//!
//! ```text
//! spark-submit --class tn.insat.tp3.SparkKafkaWordCount --master local[2] \
//!     stream-kafka-spark-1-jar-with-dependencies.jar localhost:2181 test Hello-Kafka 1 >> out
//! ```
//!
//! There is no JVM in a lab node: the jar is not opened. The class the TP builds,
//! `tn.insat.tp3.SparkKafkaWordCount`, runs as our built-in job with the same arguments and the
//! same output; any other class is refused with an error saying so. `--master local`,
//! `local[N]` and `local[*]` set the hash partitions of the output order (N, as Spark's default
//! parallelism); cluster masters are refused. Spark's other resource options (`--name`,
//! `--conf`, `--driver-memory`, …) are accepted and ignored, with a note on stderr.

use anyhow::{Context, bail};
use clap::Args;
use stream::job::{Brokers, JobConfig};

use super::tp_job;

/// The one application class this `spark-submit` can run.
pub(crate) const TP_CLASS: &str = "tn.insat.tp3.SparkKafkaWordCount";

/// Spark's options that take a value and change nothing here.
const IGNORED_WITH_VALUE: &[&str] = &[
    "--name",
    "--conf",
    "--deploy-mode",
    "--driver-memory",
    "--executor-memory",
    "--executor-cores",
    "--num-executors",
    "--total-executor-cores",
    "--driver-cores",
    "--jars",
    "--packages",
    "--files",
    "--properties-file",
    "--driver-java-options",
    "--queue",
];

/// Spark's flags that change nothing here.
const IGNORED_FLAGS: &[&str] = &["--verbose", "--supervise"];

/// The raw command line, parsed as spark-submit does (options, the jar, the app's arguments).
#[derive(Debug, Args)]
pub(crate) struct SubmitArgs {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    args: Vec<String>,
}

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
struct Submission {
    class: Option<String>,
    master: Option<String>,
    jar: String,
    app_args: Vec<String>,
}

/// Splits spark-submit's command line: options (both `--opt value` and `--opt=value`) up to the
/// jar; everything after the jar belongs to the application.
fn parse(args: &[String]) -> anyhow::Result<Submission> {
    let mut class = None;
    let mut master = None;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        if arg == "--help" || arg == "-h" {
            bail!("usage: {USAGE}");
        }
        if !arg.starts_with('-') {
            return Ok(Submission {
                class,
                master,
                jar: arg.clone(),
                app_args: rest.cloned().collect(),
            });
        }
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n, Some(v.to_owned())),
            None => (arg.as_str(), None),
        };
        if IGNORED_FLAGS.contains(&name) {
            continue;
        }
        let value = match inline {
            Some(v) => v,
            None => rest
                .next()
                .cloned()
                .with_context(|| format!("{name} needs a value"))?,
        };
        match name {
            "--class" => class = Some(value),
            "--master" => master = Some(value),
            n if IGNORED_WITH_VALUE.contains(&n) => {
                tracing::info!("spark-submit: {n} {value} has no effect here");
            }
            other => bail!("spark-submit: unrecognized option {other}; usage: {USAGE}"),
        }
    }
    bail!("spark-submit: no application jar given; usage: {USAGE}")
}

const USAGE: &str = "spark-submit --class tn.insat.tp3.SparkKafkaWordCount --master local[2] \
                     <jar> <zkQuorum> <group> <topics> <numThreads>";

/// The hash-partition count of `--master` (Spark's default parallelism in local mode).
fn local_parallelism(master: &str) -> anyhow::Result<u32> {
    let cores = || std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = match master {
        "local" => 1,
        "local[*]" => cores(),
        m => {
            let inner = m
                .strip_prefix("local[")
                .and_then(|s| s.strip_suffix(']'))
                .with_context(|| {
                    format!(
                        "--master {m}: only local masters run here (local, local[N], local[*]); \
                         the lab has no Spark cluster"
                    )
                })?;
            // local[N,F] also gives the number of task failures allowed.
            let n = inner.split(',').next().unwrap_or(inner);
            if n == "*" {
                cores()
            } else {
                n.parse::<usize>()
                    .ok()
                    .filter(|n| *n > 0)
                    .with_context(|| {
                        format!("--master {m}: the thread count must be a positive integer or *")
                    })?
            }
        }
    };
    Ok(u32::try_from(threads).unwrap_or(u32::MAX))
}

impl SubmitArgs {
    /// Checks the submission and turns it into the job's settings.
    pub(crate) fn into_config(self) -> anyhow::Result<JobConfig> {
        let submission = parse(&self.args)?;
        match submission.class.as_deref() {
            Some(TP_CLASS) => {}
            Some(other) => bail!(
                "spark-submit: class {other} is not available: this lab runs only the TP's \
                 {TP_CLASS} (built in; the jar is not loaded)"
            ),
            None => bail!("spark-submit: --class is required (this lab runs {TP_CLASS})"),
        }
        // Spark's own default master is local[*].
        let partitions = local_parallelism(submission.master.as_deref().unwrap_or("local[*]"))?;
        tracing::info!(
            "spark-submit: running the built-in {TP_CLASS} (the jar {} is not loaded)",
            submission.jar
        );
        let [zk, group, topics, threads, extra @ ..] = submission.app_args.as_slice() else {
            bail!("Usage: SparkKafkaWordCount <zkQuorum> <group> <topics> <numThreads>");
        };
        if !extra.is_empty() {
            tracing::info!(
                "spark-submit: extra arguments {extra:?} are ignored, as the TP's job does"
            );
        }
        let mut config = tp_job(Brokers::ZooKeeper(zk.clone()), group, topics, threads)?;
        config.partitions = partitions;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn submit(line: &str) -> anyhow::Result<JobConfig> {
        SubmitArgs {
            args: line.split_whitespace().map(str::to_owned).collect(),
        }
        .into_config()
    }

    #[test]
    fn the_tp_command_line_runs_the_wordcount() {
        let c = submit(
            "--class tn.insat.tp3.SparkKafkaWordCount --master local[2] \
             stream-kafka-spark-1-jar-with-dependencies.jar localhost:2181 test Hello-Kafka 1",
        )
        .unwrap();
        assert_eq!(c.brokers, Brokers::ZooKeeper("localhost:2181".into()));
        assert_eq!(
            (c.group.as_str(), c.consumers, c.partitions),
            ("test", 1, 2)
        );
        assert_eq!(c.topics, ["Hello-Kafka"]);
    }

    #[test]
    fn another_class_is_refused_by_name() {
        let e = submit("--class org.apache.spark.examples.SparkPi --master local[2] x.jar 10")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("org.apache.spark.examples.SparkPi is not available"),
            "{e}"
        );
        assert!(e.contains(TP_CLASS), "{e}");
    }

    #[test]
    fn masters_set_the_output_partitions() {
        assert_eq!(local_parallelism("local").unwrap(), 1);
        assert_eq!(local_parallelism("local[4]").unwrap(), 4);
        assert_eq!(local_parallelism("local[3,2]").unwrap(), 3);
        assert!(local_parallelism("local[*]").unwrap() >= 1);
        let e = local_parallelism("spark://master:7077")
            .unwrap_err()
            .to_string();
        assert!(e.contains("only local masters"), "{e}");
        assert!(local_parallelism("local[0]").is_err());
    }

    #[test]
    fn options_take_both_forms_and_unknown_ones_are_named() {
        let c = submit(
            "--verbose --name wc --conf spark.x=1 --class=tn.insat.tp3.SparkKafkaWordCount \
             --master=local[3] app.jar zk:2181 g t 2",
        )
        .unwrap();
        assert_eq!((c.partitions, c.consumers), (3, 2));
        let e = submit("--bogus 1 app.jar").unwrap_err().to_string();
        assert!(e.contains("unrecognized option --bogus"), "{e}");
        let e = submit("--class tn.insat.tp3.SparkKafkaWordCount app.jar zk g").unwrap_err();
        assert!(e.to_string().contains("Usage: SparkKafkaWordCount"), "{e}");
        let e = submit("--class tn.insat.tp3.SparkKafkaWordCount").unwrap_err();
        assert!(e.to_string().contains("no application jar"), "{e}");
        for help in ["--help", "-h"] {
            let e = submit(help).unwrap_err().to_string();
            assert!(e.starts_with("usage: spark-submit --class"), "{e}");
        }
    }
}
