//! `kafka-console-producer.sh`: each line of standard input becomes one message (optionally
//! `key<separator>value` with `--property parse.key=true`). Lines are sent as soon as they are
//! read; lines that arrive together (a pipe) go out together, in one batch per partition.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::bail;
use kafka_client::{Acks, Compression, Producer, ProducerConfig, ProducerRecord};
use tokio::sync::mpsc;

use super::brokers::Brokers;
use super::props;

/// Options of `kafka-console-producer.sh`, as Kafka's.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The broker list (host:port[,host:port]), the older name of --bootstrap-server.
    #[arg(long)]
    broker_list: Option<String>,
    /// The Kafka server to connect to.
    #[arg(long)]
    bootstrap_server: Option<String>,
    /// The topic to produce messages to.
    #[arg(long)]
    topic: String,
    /// Reader properties: parse.key=true, key.separator=<sep>, ignore.error=true.
    #[arg(long)]
    property: Vec<String>,
    /// Producer properties: acks=…, compression.type=…, enable.idempotence=….
    #[arg(long)]
    producer_property: Vec<String>,
    /// A file of producer properties (overridden by --producer-property).
    #[arg(long = "producer.config")]
    producer_config: Option<std::path::PathBuf>,
    /// Required acks: 0, 1 or -1/all.
    #[arg(long)]
    request_required_acks: Option<String>,
    /// none, gzip, snappy, lz4 or zstd.
    #[arg(long)]
    compression_codec: Option<String>,
    /// Wait for each line's acknowledgement before reading the next.
    #[arg(long)]
    sync: bool,
}

/// How lines become records.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LineReader {
    parse_key: bool,
    key_separator: String,
    ignore_error: bool,
}

impl LineReader {
    fn from_properties(props: &std::collections::BTreeMap<String, String>) -> Self {
        let flag = |k: &str| {
            props
                .get(k)
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
        };
        LineReader {
            parse_key: flag("parse.key"),
            key_separator: props
                .get("key.separator")
                .cloned()
                .unwrap_or_else(|| "\t".into()),
            ignore_error: flag("ignore.error"),
        }
    }

    /// The record for line number `n` (1-based, for the error message).
    fn record(&self, topic: &str, line: &str, n: u64) -> anyhow::Result<ProducerRecord> {
        if !self.parse_key {
            return Ok(ProducerRecord::new(topic, line.to_owned()));
        }
        match line.split_once(self.key_separator.as_str()) {
            Some((k, v)) => Ok(ProducerRecord::new(topic, v.to_owned()).with_key(k.to_owned())),
            None if self.ignore_error => Ok(ProducerRecord::new(topic, line.to_owned())),
            None => bail!("No key separator found on line number {n}: '{line}'"),
        }
    }
}

fn producer_config(args: &Args) -> anyhow::Result<ProducerConfig> {
    let props = props::client_settings(
        args.producer_config.as_deref(),
        &args.producer_property,
        "--producer-property",
    )?;
    let acks = args
        .request_required_acks
        .as_deref()
        .or(props.get("acks").map(String::as_str))
        .unwrap_or("-1");
    let acks = match acks.trim() {
        "0" => Acks::None,
        "1" => Acks::Leader,
        "-1" | "all" => Acks::All,
        other => bail!(
            "Invalid value {other} for configuration acks: String must be one of: all, -1, 0, 1"
        ),
    };
    let codec = args
        .compression_codec
        .as_deref()
        .or(props.get("compression.type").map(String::as_str))
        .unwrap_or("none");
    let compression = match codec.trim() {
        "none" => Compression::None,
        "gzip" => Compression::Gzip,
        "snappy" => Compression::Snappy,
        "lz4" => Compression::Lz4,
        "zstd" => Compression::Zstd,
        other => bail!("Invalid value {other} for configuration compression.type"),
    };
    let idempotent = props
        .get("enable.idempotence")
        .is_some_and(|v| v.trim() == "true");
    Ok(ProducerConfig {
        acks,
        compression,
        idempotent,
        ..ProducerConfig::default()
    })
}

/// Runs `kafka-console-producer.sh`.
pub(crate) async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let reader = LineReader::from_properties(&props::parse_pairs(&args.property, "--property")?);
    let config = producer_config(&args)?;
    let brokers = Brokers::from_flags(
        args.bootstrap_server.clone().or(args.broker_list.clone()),
        None,
        "bootstrap-server] or [broker-list",
    )?;
    let client = brokers.connect("console-producer").await?;
    let mut producer = Producer::new(client, config).await?;

    let interactive = std::io::stdin().is_terminal();
    let (tx, mut rx) = mpsc::channel::<std::io::Result<String>>(1024);
    std::thread::spawn(move || read_lines(&tx, interactive));

    let mut failed = false;
    let mut line_no = 0u64;
    while let Some(first) = rx.recv().await {
        let mut lines = vec![first];
        while !args.sync
            && let Ok(more) = rx.try_recv()
        {
            lines.push(more);
        }
        for line in lines {
            line_no += 1;
            let record = line
                .map_err(anyhow::Error::from)
                .and_then(|l| reader.record(&args.topic, &l, line_no));
            match record {
                Ok(r) => {
                    let size = r.value.as_ref().map_or(0, |v| v.len());
                    if let Err(e) = producer.send(r).await {
                        report_send_error(&args.topic, size, &e);
                        failed = true;
                    }
                }
                Err(e) => {
                    eprintln!("ERROR {e:#} (kafka.tools.ConsoleProducer$)");
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
        if let Err(e) = producer.flush().await {
            report_send_error(&args.topic, 0, &e);
            failed = true;
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn report_send_error(topic: &str, size: usize, e: &kafka_client::Error) {
    eprintln!(
        "ERROR Error when sending message to topic {topic} with value: {size} bytes with error: {e} (org.apache.kafka.clients.producer.internals.ErrorLoggingCallback)"
    );
}

/// Reads stdin line by line into `tx` (a thread: stdin has no async reader that stops cleanly),
/// prompting with `>` on a terminal as Kafka's console producer does.
fn read_lines(tx: &mpsc::Sender<std::io::Result<String>>, interactive: bool) {
    let stdin = std::io::stdin();
    let mut lock = stdin.lock();
    loop {
        if interactive {
            print!(">");
            let _ = std::io::stdout().flush();
        }
        let mut line = String::new();
        match lock.read_line(&mut line) {
            Ok(0) => return,
            Ok(_) => {
                let trimmed = line.strip_suffix('\n').unwrap_or(&line);
                let trimmed = trimmed.strip_suffix('\r').unwrap_or(trimmed);
                if tx.blocking_send(Ok(trimmed.to_owned())).is_err() {
                    return;
                }
            }
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(pairs: &[&str]) -> LineReader {
        let pairs: Vec<String> = pairs.iter().map(|s| s.to_string()).collect();
        LineReader::from_properties(&props::parse_pairs(&pairs, "--property").unwrap())
    }

    #[test]
    fn a_line_is_a_value_by_default() {
        let r = reader(&[]).record("t", "a:b", 1).unwrap();
        assert_eq!(r.key, None);
        assert_eq!(r.value.as_deref(), Some(&b"a:b"[..]));
    }

    #[test]
    fn parse_key_splits_at_the_first_separator() {
        let r = reader(&["parse.key=true", "key.separator=:"])
            .record("t", "k:v:w", 1)
            .unwrap();
        assert_eq!(r.key.as_deref(), Some(&b"k"[..]));
        assert_eq!(r.value.as_deref(), Some(&b"v:w"[..]));
        let tab = reader(&["parse.key=true"]).record("t", "k\tv", 1).unwrap();
        assert_eq!(tab.key.as_deref(), Some(&b"k"[..]));
    }

    #[test]
    fn a_line_without_separator_is_an_error_naming_it() {
        let err = reader(&["parse.key=true", "key.separator=:"])
            .record("t", "novalue", 3)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "No key separator found on line number 3: 'novalue'"
        );
        let ok =
            reader(&["parse.key=true", "key.separator=:", "ignore.error=true"]).record("t", "x", 1);
        assert!(ok.is_ok());
    }
}
