//! `kafka-console-consumer.sh`: prints a topic's messages on stdout, formatted like Kafka's
//! `DefaultMessageFormatter`, until Ctrl-C, `--max-messages` or `--timeout-ms`; then
//! "Processed a total of N messages" on stderr.
//!
//! Without `--group` it joins a fresh group `console-consumer-<n>` without committing (as
//! Kafka's does); with `--group` it commits, so a restarted consumer resumes. `--partition`
//! reads one partition without a group.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::bail;
use kafka_client::{
    Consumer, ConsumerConfig, ConsumerRecord, GroupConfig, GroupConsumer, OffsetReset,
    TopicPartition,
};

use super::brokers::Brokers;
use super::props;

/// Options of `kafka-console-consumer.sh`, as Kafka's.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The Kafka server to connect to.
    #[arg(long)]
    bootstrap_server: Option<String>,
    /// The ZooKeeper where brokers register (the pre-2.0 form).
    #[arg(long)]
    zookeeper: Option<String>,
    /// The topic to consume.
    #[arg(long)]
    topic: String,
    /// Start with the earliest message when the group has no committed offset.
    #[arg(long)]
    from_beginning: bool,
    /// The consumer group id.
    #[arg(long)]
    group: Option<String>,
    /// Exit after this many messages.
    #[arg(long)]
    max_messages: Option<u64>,
    /// Exit when no message arrived for this long.
    #[arg(long)]
    timeout_ms: Option<u64>,
    /// Read only this partition (no group).
    #[arg(long)]
    partition: Option<i32>,
    /// With --partition: an offset, `earliest` or `latest` (default).
    #[arg(long)]
    offset: Option<String>,
    /// Formatter properties: print.key, print.partition, print.offset, print.timestamp,
    /// print.headers, print.value, key.separator, line.separator, headers.separator, null.literal.
    #[arg(long)]
    property: Vec<String>,
    /// Consumer properties: group.id, auto.offset.reset, client.id.
    #[arg(long)]
    consumer_property: Vec<String>,
    /// A file of consumer properties (overridden by --consumer-property).
    #[arg(long = "consumer.config")]
    consumer_config: Option<std::path::PathBuf>,
}

/// Kafka's `DefaultMessageFormatter`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Formatter {
    timestamp: bool,
    partition: bool,
    offset: bool,
    headers: bool,
    key: bool,
    value: bool,
    key_separator: String,
    line_separator: String,
    headers_separator: String,
    null_literal: String,
}

impl Formatter {
    fn from_properties(p: &BTreeMap<String, String>) -> Self {
        let flag = |k: &str, default: bool| {
            p.get(k)
                .map_or(default, |v| v.trim().eq_ignore_ascii_case("true"))
        };
        let text = |k: &str, default: &str| p.get(k).cloned().unwrap_or_else(|| default.into());
        Formatter {
            timestamp: flag("print.timestamp", false),
            partition: flag("print.partition", false),
            offset: flag("print.offset", false),
            headers: flag("print.headers", false),
            key: flag("print.key", false),
            value: flag("print.value", true),
            key_separator: text("key.separator", "\t"),
            line_separator: text("line.separator", "\n"),
            headers_separator: text("headers.separator", ","),
            null_literal: text("null.literal", "null"),
        }
    }

    /// Writes one record: the enabled columns separated by `key.separator`, then the value and
    /// `line.separator` (or the line separator right after the last column when values are off).
    fn write(&self, r: &ConsumerRecord, out: &mut Vec<u8>) {
        let mut columns: Vec<Vec<u8>> = Vec::new();
        if self.timestamp {
            let kind = if r.log_append_time {
                "LogAppendTime"
            } else {
                "CreateTime"
            };
            columns.push(format!("{kind}:{}", r.timestamp).into_bytes());
        }
        if self.partition {
            columns.push(format!("Partition:{}", r.partition).into_bytes());
        }
        if self.offset {
            columns.push(format!("Offset:{}", r.offset).into_bytes());
        }
        if self.headers {
            if r.headers.is_empty() {
                columns.push(b"NO_HEADERS".to_vec());
            } else {
                let mut h = Vec::new();
                for (i, (k, v)) in r.headers.iter().enumerate() {
                    if i > 0 {
                        h.extend_from_slice(self.headers_separator.as_bytes());
                    }
                    h.extend_from_slice(k.as_bytes());
                    h.push(b':');
                    h.extend_from_slice(v.as_deref().unwrap_or(self.null_literal.as_bytes()));
                }
                columns.push(h);
            }
        }
        if self.key {
            columns.push(
                r.key
                    .as_deref()
                    .unwrap_or(self.null_literal.as_bytes())
                    .to_vec(),
            );
        }
        if self.value {
            columns.push(
                r.value
                    .as_deref()
                    .unwrap_or(self.null_literal.as_bytes())
                    .to_vec(),
            );
        }
        for (i, c) in columns.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(self.key_separator.as_bytes());
            }
            out.extend_from_slice(c);
        }
        if !columns.is_empty() {
            out.extend_from_slice(self.line_separator.as_bytes());
        }
    }
}

/// The two ways of reading: as a group member, or one partition on its own.
#[derive(Debug)]
enum Source {
    Group(Box<GroupConsumer>),
    Partition(Consumer),
}

impl Source {
    async fn poll(&mut self) -> kafka_client::Result<Vec<ConsumerRecord>> {
        match self {
            Source::Group(g) => g.poll().await,
            Source::Partition(c) => c.poll().await,
        }
    }

    async fn close(self) {
        if let Source::Group(g) = self
            && let Err(e) = g.close().await
        {
            tracing::warn!("leaving the group: {e}");
        }
    }
}

/// A group id for a consumer without `--group`, unique enough on one machine.
fn generated_group_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "console-consumer-{}",
        (nanos ^ std::process::id()) % 100_000
    )
}

/// Runs `kafka-console-consumer.sh`.
pub(crate) async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let formatter = Formatter::from_properties(&props::parse_pairs(&args.property, "--property")?);
    let consumer_props = props::client_settings(
        args.consumer_config.as_deref(),
        &args.consumer_property,
        "--consumer-property",
    )?;
    let brokers = Brokers::from_flags(
        args.bootstrap_server.clone(),
        args.zookeeper.clone(),
        "bootstrap-server] or [zookeeper",
    )?;
    let reset = match consumer_props.get("auto.offset.reset").map(String::as_str) {
        _ if args.from_beginning => OffsetReset::Earliest,
        Some("earliest") => OffsetReset::Earliest,
        Some("none") => OffsetReset::None,
        Some("latest") | None => OffsetReset::Latest,
        Some(other) => bail!("Invalid value {other} for configuration auto.offset.reset"),
    };
    let consumer_config = ConsumerConfig {
        auto_offset_reset: reset,
        ..ConsumerConfig::default()
    };
    let group = args
        .group
        .clone()
        .or_else(|| consumer_props.get("group.id").cloned());
    let client_id = consumer_props
        .get("client.id")
        .cloned()
        .unwrap_or_else(|| "console-consumer".into());
    let client = brokers.connect(&client_id).await?;
    client.topic(&args.topic, true).await?;

    let mut source = if let Some(partition) = args.partition {
        if group.is_some() {
            bail!("Options group and partition cannot be specified together.");
        }
        let tp = TopicPartition::new(args.topic.clone(), partition);
        let (reset, start) = match args.offset.as_deref() {
            None | Some("latest") => (OffsetReset::Latest, None),
            Some("earliest") => (OffsetReset::Earliest, None),
            Some(n) => match n.parse::<i64>() {
                Ok(n) if n >= 0 => (OffsetReset::Latest, Some(n)),
                _ => bail!(
                    "The provided offset value '{n}' is incorrect. Valid values are 'earliest', 'latest', or a non-negative long."
                ),
            },
        };
        let mut c = Consumer::new(
            client,
            ConsumerConfig {
                auto_offset_reset: reset,
                ..consumer_config
            },
        );
        c.assign([(tp, start)]);
        Source::Partition(c)
    } else {
        if args.offset.is_some() {
            bail!("The partition is required when offset is specified.");
        }
        let mut config = GroupConfig::new(group.clone().unwrap_or_else(generated_group_id));
        config.consumer = consumer_config;
        if group.is_none() {
            config.auto_commit = None;
        }
        let g = GroupConsumer::subscribe(client, config, vec![args.topic.clone()]).await?;
        Source::Group(Box::new(g))
    };

    let (processed, interrupted) = consume(&mut source, &args, &formatter).await;
    source.close().await;
    eprintln!("Processed a total of {processed} messages");
    Ok(if interrupted {
        ExitCode::from(130)
    } else {
        ExitCode::SUCCESS
    })
}

/// The loop: poll, print, stop on max-messages, timeout, Ctrl-C or a closed stdout.
/// Returns the count printed and whether Ctrl-C stopped it.
async fn consume(source: &mut Source, args: &Args, formatter: &Formatter) -> (u64, bool) {
    let mut processed = 0u64;
    let mut last_message = Instant::now();
    let timeout = args.timeout_ms.map(Duration::from_millis);
    let mut stdout = std::io::stdout();
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        if args.max_messages.is_some_and(|m| processed >= m) {
            return (processed, false);
        }
        if let Some(t) = timeout
            && last_message.elapsed() > t
        {
            eprintln!(
                "ERROR Error processing message, terminating consumer process:  (kafka.tools.ConsoleConsumer$)"
            );
            eprintln!("org.apache.kafka.common.errors.TimeoutException");
            return (processed, false);
        }
        let records = tokio::select! {
            _ = &mut ctrl_c => return (processed, true),
            r = source.poll() => r,
        };
        let records = match records {
            Ok(r) => r,
            Err(e) => {
                eprintln!(
                    "ERROR Error processing message, terminating consumer process: {e} (kafka.tools.ConsoleConsumer$)"
                );
                return (processed, false);
            }
        };
        if !records.is_empty() {
            last_message = Instant::now();
        }
        let mut out = Vec::new();
        for r in &records {
            if args.max_messages.is_some_and(|m| processed >= m) {
                break;
            }
            formatter.write(r, &mut out);
            processed += 1;
        }
        if stdout
            .write_all(&out)
            .and_then(|()| stdout.flush())
            .is_err()
        {
            eprintln!("Unable to write to standard out, closing consumer.");
            return (processed, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> ConsumerRecord {
        ConsumerRecord {
            topic: "t".into(),
            partition: 2,
            offset: 41,
            timestamp: 1000,
            log_append_time: false,
            key: Some(b"9".to_vec().into()),
            value: Some(b"nine".to_vec().into()),
            headers: vec![],
        }
    }

    fn format(pairs: &[&str], r: &ConsumerRecord) -> String {
        let pairs: Vec<String> = pairs.iter().map(|s| s.to_string()).collect();
        let f = Formatter::from_properties(&props::parse_pairs(&pairs, "--property").unwrap());
        let mut out = Vec::new();
        f.write(r, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_value_alone_by_default() {
        assert_eq!(format(&[], &record()), "nine\n");
    }

    #[test]
    fn columns_come_in_kafkas_order() {
        let all = [
            "print.timestamp=true",
            "print.partition=true",
            "print.offset=true",
            "print.headers=true",
            "print.key=true",
        ];
        assert_eq!(
            format(&all, &record()),
            "CreateTime:1000\tPartition:2\tOffset:41\tNO_HEADERS\t9\tnine\n"
        );
        assert_eq!(
            format(&["print.key=true", "key.separator=:"], &record()),
            "9:nine\n"
        );
    }

    #[test]
    fn nulls_and_headers_are_spelled_out() {
        let mut r = record();
        r.key = None;
        r.headers = vec![("a".into(), Some(b"1".to_vec().into())), ("b".into(), None)];
        assert_eq!(
            format(&["print.key=true", "print.headers=true"], &r),
            "a:1,b:null\tnull\tnine\n"
        );
        assert_eq!(
            format(&["print.key=true", "print.value=false"], &r),
            "null\n"
        );
    }
}
