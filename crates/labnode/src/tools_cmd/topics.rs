//! `kafka-topics.sh`: --create, --list, --describe, --delete, --alter --partitions, through
//! `--bootstrap-server` or the TP's `--zookeeper` (see [`super::brokers`]).
//!
//! Messages and exit codes are Kafka's: success prints what Kafka prints ("Created topic T."),
//! a failure prints `Error while executing topic command : <reason>` on stdout, a log line on
//! stderr, and exits with 1.

use std::process::ExitCode;
use std::time::Duration;

use kafka_client::{Admin, Error as KafkaError, NewTopic, ResponseError, TopicMetadata};

use super::brokers::Brokers;

/// Options of `kafka-topics.sh`, as Kafka's.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "With --zookeeper, the brokers are those registered in ZooKeeper; a \
standalone broker (no zookeeper.connect) is found through $KAFKA_HOME/config/server.properties."
)]
pub(crate) struct Args {
    /// Create a new topic.
    #[arg(long)]
    create: bool,
    /// List all available topics.
    #[arg(long)]
    list: bool,
    /// List details for the given topics.
    #[arg(long)]
    describe: bool,
    /// Delete a topic.
    #[arg(long)]
    delete: bool,
    /// Alter the number of partitions of the topic.
    #[arg(long)]
    alter: bool,
    /// The Kafka server to connect to (host:port[,host:port]).
    #[arg(long, value_name = "server to connect to")]
    bootstrap_server: Option<String>,
    /// The ZooKeeper where brokers register (host:port), the pre-2.2 form.
    #[arg(long, value_name = "urls")]
    zookeeper: Option<String>,
    /// The topic to create, alter, describe or delete.
    #[arg(long)]
    topic: Option<String>,
    /// The number of partitions for the topic being created or altered.
    #[arg(long, value_name = "# of partitions")]
    partitions: Option<i32>,
    /// The replication factor for each partition in the topic being created.
    #[arg(long, value_name = "replication factor")]
    replication_factor: Option<i32>,
    /// Manual partition-to-broker assignments: `b1:b2,b3:b4` (one list per partition).
    #[arg(long)]
    replica_assignment: Option<String>,
    /// A topic configuration override for the topic being created (name=value).
    #[arg(long, value_name = "name=value")]
    config: Vec<String>,
    /// When creating, do nothing if the topic already exists.
    #[arg(long)]
    if_not_exists: bool,
    /// When altering, describing or deleting, do nothing if the topic does not exist.
    #[arg(long)]
    if_exists: bool,
    /// Leave internal topics (`__consumer_offsets`) out of --list and --describe.
    #[arg(long)]
    exclude_internal: bool,
}

/// A failure reported the way Kafka's TopicCommand reports it.
#[derive(Debug)]
struct TopicError {
    /// The Java exception class Kafka would name in its log line.
    class: &'static str,
    message: String,
}

impl TopicError {
    fn new(class: &'static str, message: impl Into<String>) -> Self {
        TopicError {
            class,
            message: message.into(),
        }
    }

    fn illegal(message: impl Into<String>) -> Self {
        TopicError::new("java.lang.IllegalArgumentException", message)
    }
}

impl From<KafkaError> for TopicError {
    fn from(e: KafkaError) -> Self {
        TopicError::new("org.apache.kafka.common.KafkaException", e.to_string())
    }
}

impl From<anyhow::Error> for TopicError {
    fn from(e: anyhow::Error) -> Self {
        TopicError::new("org.apache.kafka.common.KafkaException", format!("{e:#}"))
    }
}

/// Runs `kafka-topics.sh`.
pub(crate) async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let actions = [
        args.create,
        args.list,
        args.describe,
        args.delete,
        args.alter,
    ];
    if actions.iter().filter(|a| **a).count() != 1 {
        eprintln!(
            "Command must include exactly one action: --list, --describe, --create, --alter or --delete"
        );
        return Ok(ExitCode::FAILURE);
    }
    match execute(&args).await {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            println!("Error while executing topic command : {}", e.message);
            eprintln!(
                "ERROR {}: {} (kafka.admin.TopicCommand$)",
                e.class, e.message
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

async fn execute(args: &Args) -> Result<(), TopicError> {
    let brokers = Brokers::from_flags(
        args.bootstrap_server.clone(),
        args.zookeeper.clone(),
        "bootstrap-server] or [zookeeper",
    )
    .map_err(|e| TopicError::illegal(e.to_string()))?;
    let client = brokers.connect("kafka-topics").await?;
    let admin = Admin::new(client, Duration::from_secs(30));
    if args.create {
        create(&admin, args).await
    } else if args.list {
        for name in topic_names(&admin, args).await? {
            println!("{name}");
        }
        Ok(())
    } else if args.describe {
        describe(&admin, args).await
    } else if args.delete {
        delete(&admin, args, brokers.is_zookeeper()).await
    } else {
        alter(&admin, args, brokers.is_zookeeper()).await
    }
}

fn required_topic(args: &Args) -> Result<&str, TopicError> {
    args.topic
        .as_deref()
        .ok_or_else(|| TopicError::illegal("Missing required argument \"[topic]\""))
}

async fn create(admin: &Admin, args: &Args) -> Result<(), TopicError> {
    let name = required_topic(args)?;
    if let Some(rf) = args.replication_factor
        && !(1..=i32::from(i16::MAX)).contains(&rf)
    {
        return Err(TopicError::illegal(
            "The replication factor must be between 1 and 32767 inclusive",
        ));
    }
    if args.partitions.is_some_and(|p| p < 1) {
        return Err(TopicError::illegal("The partitions must be greater than 0"));
    }
    if name.contains('.') && name.contains('_') {
        println!(
            "WARNING: Due to limitations in metric names, topics with a period ('.') or underscore ('_') could collide. To avoid issues it is best to use either, but not both."
        );
    }
    let assignment = match &args.replica_assignment {
        Some(text) => parse_replica_assignment(text)?,
        None => Vec::new(),
    };
    let configs = args
        .config
        .iter()
        .map(|c| {
            c.split_once('=')
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .ok_or_else(|| {
                    TopicError::illegal(
                        "requirement failed: Invalid topic config: all configs to be added must be in the format \"key=val\".",
                    )
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let topic = NewTopic {
        name: name.to_owned(),
        partitions: args.partitions.unwrap_or(-1),
        replication_factor: args
            .replication_factor
            .and_then(|r| i16::try_from(r).ok())
            .unwrap_or(-1),
        assignment,
        configs,
    };
    let results = admin.create_topics(std::slice::from_ref(&topic)).await?;
    let brokers = admin.client().metadata().brokers.len();
    for (name, result) in results {
        match result {
            Ok(()) => println!("Created topic {name}."),
            Err(e)
                if e.response_error() == Some(ResponseError::TopicAlreadyExists)
                    && args.if_not_exists => {}
            Err(e) => return Err(create_error(&name, args.replication_factor, brokers, e)),
        }
    }
    Ok(())
}

/// Kafka's wording for a failed creation.
fn create_error(topic: &str, rf: Option<i32>, brokers: usize, e: KafkaError) -> TopicError {
    let broker_message = match &e {
        KafkaError::Broker {
            message: Some(m), ..
        } if !m.is_empty() => Some(m.clone()),
        _ => None,
    };
    match e.response_error() {
        Some(ResponseError::TopicAlreadyExists) => TopicError::new(
            "org.apache.kafka.common.errors.TopicExistsException",
            format!("Topic '{topic}' already exists."),
        ),
        Some(ResponseError::InvalidReplicationFactor) => TopicError::new(
            "org.apache.kafka.common.errors.InvalidReplicationFactorException",
            broker_message.unwrap_or_else(|| {
                format!(
                    "Replication factor: {} larger than available brokers: {brokers}.",
                    rf.unwrap_or(-1)
                )
            }),
        ),
        Some(ResponseError::InvalidTopicException) => TopicError::new(
            "org.apache.kafka.common.errors.InvalidTopicException",
            broker_message.unwrap_or_else(|| format!("Topic name \"{topic}\" is illegal")),
        ),
        Some(ResponseError::InvalidPartitions) => TopicError::new(
            "org.apache.kafka.common.errors.InvalidPartitionsException",
            broker_message.unwrap_or_else(|| "Number of partitions must be larger than 0.".into()),
        ),
        _ => TopicError::from(e),
    }
}

/// `1:2,2:3` → partition 0 on brokers 1 and 2, partition 1 on 2 and 3.
fn parse_replica_assignment(text: &str) -> Result<Vec<Vec<i32>>, TopicError> {
    let mut out: Vec<Vec<i32>> = Vec::new();
    for (i, part) in text.split(',').enumerate() {
        let brokers = part
            .split(':')
            .map(|b| b.trim().parse::<i32>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TopicError::illegal(format!("For input string: \"{part}\": {e}")))?;
        let mut seen = brokers.clone();
        seen.sort_unstable();
        seen.dedup();
        if seen.len() != brokers.len() {
            return Err(TopicError::new(
                "kafka.common.AdminCommandFailedException",
                format!("Partition replica lists may not contain duplicate entries: {part}"),
            ));
        }
        if let Some(first) = out.first()
            && first.len() != brokers.len()
        {
            return Err(TopicError::new(
                "kafka.admin.AdminOperationException",
                format!("Partition {i} has different replication factor: {part}"),
            ));
        }
        out.push(brokers);
    }
    Ok(out)
}

/// The topics --list, --describe, --delete and --alter act on: all (sorted), or those --topic
/// names. As in Kafka, --topic is a regular expression matching whole names (`Hello-.*`), so a
/// plain name matches itself.
async fn topic_names(admin: &Admin, args: &Args) -> Result<Vec<String>, TopicError> {
    let wanted = match args.topic.as_deref() {
        Some(t) => Some(regex::Regex::new(&format!("^(?:{t})$")).map_err(|e| {
            TopicError::illegal(format!(
                "--topic {t} is not a valid regular expression: {e}"
            ))
        })?),
        None => None,
    };
    let metadata = admin.metadata().await?;
    Ok(metadata
        .topics
        .values()
        .filter(|t| !(args.exclude_internal && t.is_internal))
        .filter(|t| wanted.as_ref().is_none_or(|w| w.is_match(&t.name)))
        .map(|t| t.name.clone())
        .collect())
}

/// The error when --topic names a topic that does not exist (unless --if-exists).
fn ensure_exists(args: &Args, found: &[String]) -> Result<(), TopicError> {
    match &args.topic {
        Some(t) if found.is_empty() && !args.if_exists => Err(TopicError::illegal(format!(
            "Topic '{t}' does not exist as expected"
        ))),
        _ => Ok(()),
    }
}

async fn describe(admin: &Admin, args: &Args) -> Result<(), TopicError> {
    let names = topic_names(admin, args).await?;
    ensure_exists(args, &names)?;
    let metadata = admin.client().metadata();
    for name in names {
        if let Some(t) = metadata.topics.get(&name) {
            // A broker without DescribeConfigs still gets its topics described, configs empty.
            let configs = match admin.topic_config_overrides(&name).await {
                Ok(c) => c,
                Err(KafkaError::UnsupportedVersion { .. }) => Vec::new(),
                Err(e) => return Err(e.into()),
            };
            for line in describe_lines(t, &configs) {
                println!("{line}");
            }
        }
    }
    Ok(())
}

/// Kafka's description of a topic: a summary line (with its config overrides), then a line
/// per partition.
fn describe_lines(t: &TopicMetadata, configs: &[(String, String)]) -> Vec<String> {
    let join = |ids: &[i32]| {
        ids.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
    };
    let rf = t.partitions.first().map_or(0, |p| p.replicas.len());
    let configs = configs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    let mut lines = vec![format!(
        "Topic: {}\tPartitionCount: {}\tReplicationFactor: {}\tConfigs: {configs}",
        t.name,
        t.partitions.len(),
        rf
    )];
    for p in &t.partitions {
        let leader = if p.leader >= 0 {
            p.leader.to_string()
        } else {
            "none".into()
        };
        lines.push(format!(
            "\tTopic: {}\tPartition: {}\tLeader: {}\tReplicas: {}\tIsr: {}",
            t.name,
            p.partition,
            leader,
            join(&p.replicas),
            join(&p.isr)
        ));
    }
    lines
}

async fn delete(admin: &Admin, args: &Args, zookeeper_form: bool) -> Result<(), TopicError> {
    required_topic(args)?;
    let names = topic_names(admin, args).await?;
    ensure_exists(args, &names)?;
    if let Some(internal) = names.iter().find(|n| {
        admin
            .client()
            .metadata()
            .topics
            .get(*n)
            .is_some_and(|t| t.is_internal)
    }) {
        return Err(TopicError::new(
            "kafka.admin.AdminOperationException",
            format!(
                "Topic {internal} is a kafka internal topic and is not allowed to be marked for deletion."
            ),
        ));
    }
    for (name, result) in admin.delete_topics(&names).await? {
        result?;
        if zookeeper_form {
            println!("Topic {name} is marked for deletion.");
            println!("Note: This will have no impact if delete.topic.enable is not set to true.");
        }
    }
    Ok(())
}

async fn alter(admin: &Admin, args: &Args, zookeeper_form: bool) -> Result<(), TopicError> {
    required_topic(args)?;
    if !args.config.is_empty() {
        return Err(TopicError::illegal(
            "changing topic configs with --alter is not supported by this kafka-topics.sh",
        ));
    }
    let Some(partitions) = args.partitions else {
        return Err(TopicError::illegal(
            "Missing required argument \"[partitions]\"",
        ));
    };
    let names = topic_names(admin, args).await?;
    ensure_exists(args, &names)?;
    for name in names {
        if zookeeper_form {
            println!(
                "WARNING: If partitions are increased for a topic that has a key, the partition logic or ordering of the messages will be affected"
            );
        }
        admin
            .create_partitions(&name, partitions)
            .await
            .map_err(|e| match e.response_error() {
                Some(ResponseError::InvalidPartitions) => TopicError::new(
                    "org.apache.kafka.common.errors.InvalidPartitionsException",
                    match &e {
                        KafkaError::Broker {
                            message: Some(m), ..
                        } if !m.is_empty() => m.clone(),
                        _ => format!(
                            "The number of partitions of topic {name} cannot become {partitions}."
                        ),
                    },
                ),
                _ => TopicError::from(e),
            })?;
        if zookeeper_form {
            println!("Adding partitions succeeded!");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_client::PartitionMetadata;

    #[test]
    fn a_topic_is_described_like_kafka_does() {
        let t = TopicMetadata {
            name: "Hello-Kafka".into(),
            topic_id: String::new(),
            is_internal: false,
            error_code: 0,
            partitions: vec![PartitionMetadata {
                partition: 0,
                leader: 0,
                leader_epoch: 0,
                replicas: vec![0, 1],
                isr: vec![0],
                offline: vec![],
                error_code: 0,
            }],
        };
        assert_eq!(
            describe_lines(&t, &[("retention.ms".into(), "1000".into())]),
            vec![
                "Topic: Hello-Kafka\tPartitionCount: 1\tReplicationFactor: 2\tConfigs: retention.ms=1000"
                    .to_string(),
                "\tTopic: Hello-Kafka\tPartition: 0\tLeader: 0\tReplicas: 0,1\tIsr: 0".to_string(),
            ]
        );
    }

    #[test]
    fn creation_errors_use_kafkas_words() {
        let exists = KafkaError::Broker {
            context: "create topic T".into(),
            error: ResponseError::TopicAlreadyExists,
            message: None,
        };
        assert_eq!(
            create_error("T", Some(1), 1, exists).message,
            "Topic 'T' already exists."
        );
        let rf = KafkaError::Broker {
            context: "create topic T".into(),
            error: ResponseError::InvalidReplicationFactor,
            message: None,
        };
        assert_eq!(
            create_error("T", Some(3), 1, rf).message,
            "Replication factor: 3 larger than available brokers: 1."
        );
    }

    #[test]
    fn replica_assignments_parse_and_are_checked() {
        assert_eq!(
            parse_replica_assignment("0:1,1:2").unwrap(),
            vec![vec![0, 1], vec![1, 2]]
        );
        assert!(parse_replica_assignment("0:0").is_err());
        assert!(parse_replica_assignment("0:1,2").is_err());
        assert!(parse_replica_assignment("a").is_err());
    }
}
