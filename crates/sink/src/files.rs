//! The layout the sink writes, Kafka Connect's: committed files
//! `<topics.dir>/<topic>/partition=<p>/<topic>+<p>+<start>+<end>.<ext>` (offsets zero-padded
//! to 10, end inclusive), temp files under `<topics.dir>/+tmp/`, and each record's line.

use kafka_client::ConsumerRecord;
use serde_json::json;

use crate::config::Format;

/// The directory of one partition's committed files.
pub fn partition_dir(topics_dir: &str, topic: &str, partition: i32) -> String {
    format!("{topics_dir}/{topic}/partition={partition}")
}

/// The directory of one partition's temp files.
pub fn temp_dir(topics_dir: &str, topic: &str, partition: i32) -> String {
    format!("{topics_dir}/+tmp/{topic}/partition={partition}")
}

/// A committed file's name.
pub fn committed_name(topic: &str, partition: i32, start: i64, end: i64, format: Format) -> String {
    format!(
        "{topic}+{partition}+{start:010}+{end:010}.{}",
        format.extension()
    )
}

/// The (start, end) offsets of a committed file of this topic and partition, from its name.
pub fn parse_committed(name: &str, topic: &str, partition: i32) -> Option<(i64, i64)> {
    let rest = name.strip_prefix(topic)?.strip_prefix('+')?;
    let rest = rest
        .strip_prefix(&partition.to_string())?
        .strip_prefix('+')?;
    let (offsets, _ext) = rest.rsplit_once('.')?;
    let (start, end) = offsets.split_once('+')?;
    let (start, end) = (start.parse().ok()?, end.parse().ok()?);
    (0 <= start && start <= end).then_some((start, end))
}

/// Appends one record's line to `out`.
pub fn encode(format: Format, record: &ConsumerRecord, out: &mut Vec<u8>) {
    match format {
        Format::Raw => {
            if let Some(v) = &record.value {
                out.extend_from_slice(v);
            }
        }
        Format::Json => {
            let text = |b: &Option<bytes::Bytes>| {
                b.as_ref().map(|b| String::from_utf8_lossy(b).into_owned())
            };
            let line = json!({
                "topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
                "timestamp": record.timestamp,
                "key": text(&record.key),
                "value": text(&record.value),
            });
            out.extend_from_slice(line.to_string().as_bytes());
        }
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let n = committed_name("Hello-Kafka", 0, 0, 9, Format::Raw);
        assert_eq!(n, "Hello-Kafka+0+0000000000+0000000009.txt");
        assert_eq!(parse_committed(&n, "Hello-Kafka", 0), Some((0, 9)));
        assert_eq!(parse_committed(&n, "Hello-Kafka", 1), None);
        assert_eq!(parse_committed(&n, "Hello", 0), None);
        assert_eq!(parse_committed("t+0+5+3.txt", "t", 0), None);
        assert_eq!(parse_committed("t+0+x+3.txt", "t", 0), None);
        let big = committed_name("t", 12, 12_345_678_901, 12_345_678_999, Format::Json);
        assert_eq!(
            parse_committed(&big, "t", 12),
            Some((12_345_678_901, 12_345_678_999))
        );
    }

    #[test]
    fn lines() {
        let r = ConsumerRecord {
            topic: "t".into(),
            partition: 1,
            offset: 7,
            timestamp: 99,
            log_append_time: false,
            key: None,
            value: Some(bytes::Bytes::from_static(b"Hello-Kafka")),
            headers: vec![],
        };
        let mut out = Vec::new();
        encode(Format::Raw, &r, &mut out);
        encode(Format::Json, &r, &mut out);
        let text = String::from_utf8(out).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("Hello-Kafka"));
        let v: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
        assert_eq!(v["offset"], 7);
        assert_eq!(v["key"], serde_json::Value::Null);
        assert_eq!(v["value"], "Hello-Kafka");
    }
}
