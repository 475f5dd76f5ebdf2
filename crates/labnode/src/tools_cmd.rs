//! Commands for the TP's Kafka tools (kafka-topics.sh, console producer/consumer, consumer groups,
//! start-kafka-zookeeper.sh), on our own Kafka client. Their flags, output, messages and exit
//! codes follow Apache Kafka's tools, so the TP's commands work as written.

mod brokers;
mod consumer;
mod groups;
mod producer;
mod props;
mod start;
mod topics;

use std::process::ExitCode;

use clap::Subcommand;

/// The commands of this group.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create, delete, describe, or change a topic.
    #[command(name = "kafka-topics.sh")]
    Topics(topics::Args),
    /// Read lines from standard input and publish each as a message.
    #[command(name = "kafka-console-producer.sh")]
    ConsoleProducer(producer::Args),
    /// Print the messages of a topic on standard output.
    #[command(name = "kafka-console-consumer.sh")]
    ConsoleConsumer(consumer::Args),
    /// List consumer groups, describe them with their offsets and lag.
    #[command(name = "kafka-consumer-groups.sh")]
    ConsumerGroups(groups::Args),
    /// Start ZooKeeper (our coordinator) then Kafka (our broker) in the background, with the
    /// configuration files of $KAFKA_HOME/config; says what already runs.
    #[command(name = "start-kafka-zookeeper.sh")]
    StartKafkaZookeeper(start::Args),
}

impl Command {
    /// Runs the command and returns the process exit code.
    pub(crate) fn run(self) -> anyhow::Result<ExitCode> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        runtime.block_on(async move {
            match self {
                Command::Topics(a) => topics::run(a).await,
                Command::ConsoleProducer(a) => producer::run(a).await,
                Command::ConsoleConsumer(a) => consumer::run(a).await,
                Command::ConsumerGroups(a) => groups::run(a).await,
                Command::StartKafkaZookeeper(a) => start::run(a).await,
            }
        })
    }
}

/// `$KAFKA_HOME`, `/usr/local/kafka` when unset (the TP's layout).
fn kafka_home() -> std::path::PathBuf {
    std::env::var_os("KAFKA_HOME")
        .filter(|v| !v.is_empty())
        .map_or_else(|| "/usr/local/kafka".into(), std::path::PathBuf::from)
}
