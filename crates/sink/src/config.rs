//! `hdfs-sink.properties`: Kafka Connect's HDFS connector keys, in Java's properties format.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

/// Largest properties file we read.
const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// A configuration error, naming the key or line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A key is missing or has a bad value.
    #[error("{key}: {message}")]
    Key {
        /// The key.
        key: String,
        /// What is wrong.
        message: String,
    },
}

fn key_err(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Key {
        key: key.to_string(),
        message: message.into(),
    }
}

/// How records become lines of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The value, as is, one per line (`.txt`).
    Raw,
    /// One JSON object per line: topic, partition, offset, timestamp, key, value (`.json`).
    Json,
}

impl Format {
    /// The file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Raw => "txt",
            Format::Json => "json",
        }
    }
}

/// Where the sink finds Kafka.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Brokers {
    /// `bootstrap.servers`.
    Bootstrap(String),
    /// `zookeeper.connect`: the brokers registered there.
    ZooKeeper(String),
}

/// The sink's settings.
#[derive(Debug, Clone)]
pub struct SinkConfig {
    /// `topics`: what to copy.
    pub topics: Vec<String>,
    /// `topics.dir`: the HDFS directory holding one directory per topic (default `/topics`).
    pub topics_dir: String,
    /// `flush.size`: records per file.
    pub flush_size: usize,
    /// `rotate.interval.ms`: a file with fewer records is committed once this old (wall clock).
    pub rotate_interval: Option<Duration>,
    /// `format`: `raw` or `json`.
    pub format: Format,
    /// `group.id` (default `connect-<name>`).
    pub group_id: String,
    /// Kafka.
    pub brokers: Brokers,
    /// `hdfs.url`: the WebHDFS endpoint (`http://`, `webhdfs://`, or `hdfs://` mapped to the
    /// namenode's HTTP port `hdfs.http.port`, default 50070).
    pub webhdfs_url: String,
    /// `hdfs.user` (default `root`): the user files belong to.
    pub hdfs_user: String,
    /// `consumer.session.timeout.ms` (or `session.timeout.ms`; default 10 s, Kafka 2's): how
    /// long the group waits for a sink that died before giving its partitions to a new one.
    pub session_timeout: Duration,
}

/// Parses Java properties: `key=value`, `key: value` or `key value`; `#` and `!` comments;
/// a trailing `\` continues a line.
pub fn parse_properties(text: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut pending = String::new();
    for line in text.lines() {
        let line = line.trim_start();
        if pending.is_empty() && (line.is_empty() || line.starts_with('#') || line.starts_with('!'))
        {
            continue;
        }
        if let Some(cont) = line.strip_suffix('\\') {
            pending.push_str(cont);
            continue;
        }
        pending.push_str(line);
        let entry = std::mem::take(&mut pending);
        let split = entry.find(['=', ':', ' ', '\t']);
        let (k, v) = match split {
            Some(i) => (
                entry.get(..i).unwrap_or(""),
                entry.get(i + 1..).unwrap_or(""),
            ),
            None => (entry.as_str(), ""),
        };
        let v = v.trim_start().trim_start_matches(['=', ':']).trim();
        out.insert(k.trim().to_string(), v.to_string());
    }
    out
}

impl SinkConfig {
    /// Reads a properties file.
    pub fn load(path: &Path) -> Result<SinkConfig, ConfigError> {
        let read_err = |source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        };
        let len = std::fs::metadata(path).map_err(read_err)?.len();
        if len > MAX_CONFIG_BYTES {
            return Err(key_err("(file)", format!("{len} bytes is too large")));
        }
        let text = std::fs::read_to_string(path).map_err(read_err)?;
        SinkConfig::from_properties(&parse_properties(&text))
    }

    /// Builds the settings from parsed properties.
    pub fn from_properties(p: &HashMap<String, String>) -> Result<SinkConfig, ConfigError> {
        let get = |k: &str| p.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        let topics: Vec<String> = get("topics")
            .ok_or_else(|| key_err("topics", "required"))?
            .split(',')
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect();
        for t in &topics {
            let ok = t.len() <= 249
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
                && t != "."
                && t != "..";
            if !ok {
                return Err(key_err(
                    "topics",
                    format!("{t:?} is not a valid topic name"),
                ));
            }
        }
        let number = |k: &str, default: u64| -> Result<u64, ConfigError> {
            match get(k) {
                None => Ok(default),
                Some(v) => v
                    .parse()
                    .map_err(|_| key_err(k, format!("{v:?} is not a number"))),
            }
        };
        let flush_size = number("flush.size", 1000)?;
        if flush_size == 0 || flush_size > 10_000_000 {
            return Err(key_err("flush.size", "must be 1..=10000000"));
        }
        let rotate = number("rotate.interval.ms", 0)?;
        let session_key = if get("consumer.session.timeout.ms").is_some() {
            "consumer.session.timeout.ms"
        } else {
            "session.timeout.ms"
        };
        let session = number(session_key, 10_000)?;
        if !(1000..=3_600_000).contains(&session) {
            return Err(key_err(session_key, "must be 1000..=3600000"));
        }
        let format = match get("format").unwrap_or("raw").to_ascii_lowercase().as_str() {
            "raw" | "string" | "text" => Format::Raw,
            "json" => Format::Json,
            other => {
                return Err(key_err(
                    "format",
                    format!("{other:?}: expected raw or json"),
                ));
            }
        };
        let name = get("name").unwrap_or("hdfs-sink");
        let brokers = match (get("bootstrap.servers"), get("zookeeper.connect")) {
            (Some(b), _) => Brokers::Bootstrap(b.to_string()),
            (None, Some(z)) => Brokers::ZooKeeper(z.to_string()),
            (None, None) => {
                return Err(key_err(
                    "bootstrap.servers",
                    "required (or zookeeper.connect)",
                ));
            }
        };
        let topics_dir = get("topics.dir").unwrap_or("/topics").trim_end_matches('/');
        webhdfs_client::path::HdfsPath::parse(if topics_dir.is_empty() {
            "/"
        } else {
            topics_dir
        })
        .map_err(|e| key_err("topics.dir", e.to_string()))?;
        let http_port = number("hdfs.http.port", 50070)?;
        let webhdfs_url = webhdfs_url(
            get("hdfs.url").ok_or_else(|| key_err("hdfs.url", "required"))?,
            http_port,
        )?;
        Ok(SinkConfig {
            topics,
            topics_dir: topics_dir.to_string(),
            flush_size: usize::try_from(flush_size).unwrap_or(usize::MAX),
            rotate_interval: (rotate > 0).then(|| Duration::from_millis(rotate)),
            format,
            group_id: get("group.id").map_or_else(|| format!("connect-{name}"), str::to_string),
            brokers,
            webhdfs_url,
            hdfs_user: get("hdfs.user").unwrap_or("root").to_string(),
            session_timeout: Duration::from_millis(session),
        })
    }
}

/// The WebHDFS base URL for `hdfs.url`.
fn webhdfs_url(raw: &str, http_port: u64) -> Result<String, ConfigError> {
    let (scheme, rest) = raw
        .split_once("://")
        .ok_or_else(|| key_err("hdfs.url", format!("{raw:?}: expected scheme://host:port")))?;
    let authority = rest.split('/').next().unwrap_or("");
    if authority.is_empty() {
        return Err(key_err("hdfs.url", format!("{raw:?}: no host")));
    }
    match scheme {
        "http" | "webhdfs" => Ok(format!("http://{authority}")),
        "hdfs" => {
            let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
            Ok(format!("http://{host}:{http_port}"))
        }
        other => Err(key_err(
            "hdfs.url",
            format!("scheme {other:?} not supported"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_connect_keys() {
        let p = parse_properties(
            "# HDFS sink\nname=tp3-sink\ntopics = Hello-Kafka, other\ntopics.dir=/topics/\n\
             flush.size=3\nrotate.interval.ms: 5000\nformat=JSON\nzookeeper.connect=zk:2181\n\
             hdfs.url=hdfs://hadoop-master:9000\n",
        );
        let c = SinkConfig::from_properties(&p).unwrap();
        assert_eq!(c.topics, ["Hello-Kafka", "other"]);
        assert_eq!(c.topics_dir, "/topics");
        assert_eq!(c.flush_size, 3);
        assert_eq!(c.rotate_interval, Some(Duration::from_millis(5000)));
        assert_eq!(c.format, Format::Json);
        assert_eq!(c.group_id, "connect-tp3-sink");
        assert_eq!(c.brokers, Brokers::ZooKeeper("zk:2181".into()));
        assert_eq!(c.webhdfs_url, "http://hadoop-master:50070");
    }

    #[test]
    fn bad_values_name_their_key() {
        let base = "topics=t\nbootstrap.servers=b:9092\nhdfs.url=webhdfs://nn:50070\n";
        for (extra, key) in [
            ("flush.size=0", "flush.size"),
            ("format=avro", "format"),
            ("topics=../x", "topics"),
            ("hdfs.url=ftp://x", "hdfs.url"),
            ("topics.dir=/a/../b", "topics.dir"),
        ] {
            let p = parse_properties(&format!("{base}{extra}\n"));
            let err = SinkConfig::from_properties(&p).unwrap_err().to_string();
            assert!(err.starts_with(key), "{extra}: {err}");
        }
        let p = parse_properties("topics=t\nhdfs.url=http://nn:1\n");
        assert!(SinkConfig::from_properties(&p).is_err());
    }
}
