//! `server.properties`, read with Kafka's own keys and meanings, so that the file an Apache
//! broker reads runs ours unchanged (and the other way round).
//!
//! Parsing is strict about values (a bad value is an error naming the key and its line) and
//! lenient about keys (an unknown key is a warning, as Kafka logs for keys it does not use).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

/// What can go wrong while reading a `server.properties` file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A value that does not mean what its key needs.
    #[error("{origin}: invalid value {value:?} for {key}: {reason}")]
    Invalid {
        /// Where the value came from (`file:line` or `--override`).
        origin: String,
        /// The key.
        key: String,
        /// The value as written.
        value: String,
        /// What was expected.
        reason: String,
    },
    /// A line that is not `key=value`.
    #[error("{origin}: {reason}")]
    Syntax {
        /// Where (`file:line` or `--override`).
        origin: String,
        /// What was wrong.
        reason: String,
    },
}

/// One named listener: where the broker binds and what it tells clients that came in through it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// The listener's name (`PLAINTEXT`, `HOST`, …).
    pub name: String,
    /// The host to bind (empty means every interface).
    pub bind_host: String,
    /// The port to bind (0 picks a free one).
    pub bind_port: u16,
    /// The host that Metadata answers give clients of this listener.
    pub advertised_host: String,
    /// The port that Metadata answers give clients of this listener (0: the bound port).
    pub advertised_port: u16,
}

/// Everything the broker reads from `server.properties`.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// `broker.id`.
    pub broker_id: i32,
    /// `listeners`, with `advertised.listeners` folded in.
    pub listeners: Vec<Listener>,
    /// `inter.broker.listener.name`.
    pub inter_broker_listener: String,
    /// `log.dirs` (or `log.dir`); the first one holds the broker's own state files.
    pub log_dirs: Vec<PathBuf>,
    /// `num.partitions`: partitions of an auto-created topic.
    pub num_partitions: i32,
    /// `default.replication.factor`.
    pub default_replication_factor: i16,
    /// `auto.create.topics.enable`.
    pub auto_create_topics: bool,
    /// `delete.topic.enable`.
    pub delete_topic_enable: bool,
    /// `log.segment.bytes`.
    pub segment_bytes: u64,
    /// `log.roll.ms` / `log.roll.hours`.
    pub roll_after: Duration,
    /// `log.retention.ms` / `.minutes` / `.hours`; `None` keeps forever.
    pub retention_time: Option<Duration>,
    /// `log.retention.bytes`; `None` keeps everything.
    pub retention_bytes: Option<u64>,
    /// `log.retention.check.interval.ms`.
    pub retention_check_interval: Duration,
    /// `message.max.bytes`: the largest record batch accepted.
    pub message_max_bytes: i32,
    /// `socket.request.max.bytes`: the largest request frame accepted.
    pub socket_request_max_bytes: i32,
    /// `zookeeper.connect`; without it the broker is a standalone one-node cluster.
    pub zookeeper_connect: Option<String>,
    /// `offsets.topic.replication.factor`.
    pub offsets_topic_replication_factor: i16,
    /// `group.initial.rebalance.delay.ms`.
    pub group_initial_rebalance_delay: Duration,
    /// `group.min.session.timeout.ms`.
    pub group_min_session_timeout: Duration,
    /// `group.max.session.timeout.ms`.
    pub group_max_session_timeout: Duration,
    /// Every key/value as read, for DescribeConfigs.
    pub raw: BTreeMap<String, String>,
    /// Keys we do not know (each already logged as a warning).
    pub unknown_keys: Vec<String>,
}

/// Keys that Kafka knows and we accept without using (their value is still type-checked).
const ACCEPTED_KEYS: &[(&str, Kind)] = &[
    ("num.network.threads", Kind::Int),
    ("num.io.threads", Kind::Int),
    ("socket.send.buffer.bytes", Kind::Int),
    ("socket.receive.buffer.bytes", Kind::Int),
    ("num.recovery.threads.per.data.dir", Kind::Int),
    ("transaction.state.log.replication.factor", Kind::Int),
    ("transaction.state.log.min.isr", Kind::Int),
    ("offsets.topic.num.partitions", Kind::Int),
    ("offsets.retention.minutes", Kind::Int),
    ("log.flush.interval.messages", Kind::Long),
    ("log.flush.interval.ms", Kind::Long),
    ("zookeeper.connection.timeout.ms", Kind::Int),
    ("zookeeper.session.timeout.ms", Kind::Int),
    ("min.insync.replicas", Kind::Int),
    ("unclean.leader.election.enable", Kind::Bool),
    ("log.cleaner.enable", Kind::Bool),
    ("log.index.size.max.bytes", Kind::Int),
    ("log.index.interval.bytes", Kind::Int),
    ("replica.lag.time.max.ms", Kind::Long),
    ("compression.type", Kind::Text),
    ("log.message.timestamp.type", Kind::Text),
    ("controlled.shutdown.enable", Kind::Bool),
    ("group.coordinator.rebalance.protocols", Kind::Text),
    ("auto.leader.rebalance.enable", Kind::Bool),
    ("log.cleanup.policy", Kind::Text),
    ("broker.rack", Kind::Text),
];

/// How a known-but-unused key's value is checked.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Int,
    Long,
    Bool,
    Text,
}

/// A value with where it came from, so errors can point at it.
struct Entry {
    value: String,
    origin: String,
}

/// The key/value pairs of a properties text, before meaning is given to them.
struct Properties {
    entries: BTreeMap<String, Entry>,
    /// Keys already given a meaning (the rest are checked by [`Properties::check_leftovers`]).
    used: Vec<String>,
}

impl BrokerConfig {
    /// Reads `path`, then applies `overrides` (`key=value`, as `kafka-server-start.sh --override`).
    pub fn load(path: &Path, overrides: &[String]) -> Result<BrokerConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut props = Properties::parse(&text, &path.display().to_string())?;
        for (i, o) in overrides.iter().enumerate() {
            props.merge(Properties::parse(o, &format!("--override #{}", i + 1))?);
        }
        BrokerConfig::from_properties(props)
    }

    /// Reads a properties text (`origin` names it in errors).
    pub fn parse(text: &str, origin: &str) -> Result<BrokerConfig, ConfigError> {
        BrokerConfig::from_properties(Properties::parse(text, origin)?)
    }

    /// The directory holding the broker's own state (group offsets, producer ids).
    pub fn state_dir(&self) -> &Path {
        self.log_dirs
            .first()
            .map(PathBuf::as_path)
            .unwrap_or(Path::new("/tmp/kafka-logs"))
    }

    fn from_properties(mut p: Properties) -> Result<BrokerConfig, ConfigError> {
        let broker_id = p.int("broker.id", -1)?.max(p.int("node.id", -1)?).max(0);
        let protocol_map = p.protocol_map()?;
        let listeners = p.listeners(&protocol_map)?;
        let inter_broker_listener = match p.take("inter.broker.listener.name") {
            Some(e) => {
                if !listeners.iter().any(|l| l.name == e.value) {
                    return Err(invalid(
                        &e,
                        "inter.broker.listener.name",
                        "not the name of a listener in `listeners`",
                    ));
                }
                e.value
            }
            None => listeners
                .first()
                .map(|l| l.name.clone())
                .unwrap_or_else(|| "PLAINTEXT".into()),
        };
        let log_dirs: Vec<PathBuf> = match p.take("log.dirs").or_else(|| p.take("log.dir")) {
            Some(e) => e
                .value
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
                .collect(),
            None => vec![PathBuf::from("/tmp/kafka-logs")],
        };
        let roll_after = match p.long("log.roll.ms", -1)? {
            ms if ms > 0 => Duration::from_millis(ms.unsigned_abs()),
            _ => hours(p.long("log.roll.hours", 168)?),
        };
        let retention_ms = p.long("log.retention.ms", 0)?;
        let retention_minutes = p.long("log.retention.minutes", 0)?;
        let retention_hours = p.long("log.retention.hours", 168)?;
        let retention_time = if retention_ms != 0 {
            (retention_ms > 0).then(|| Duration::from_millis(retention_ms.unsigned_abs()))
        } else if retention_minutes != 0 {
            (retention_minutes > 0)
                .then(|| Duration::from_secs(retention_minutes.unsigned_abs() * 60))
        } else {
            (retention_hours > 0).then(|| hours(retention_hours))
        };
        let retention_bytes = p.long("log.retention.bytes", -1)?;
        let config = BrokerConfig {
            broker_id,
            inter_broker_listener,
            log_dirs,
            num_partitions: p.positive_int("num.partitions", 1)?,
            default_replication_factor: p.short("default.replication.factor", 1)?,
            auto_create_topics: p.bool("auto.create.topics.enable", true)?,
            delete_topic_enable: p.bool("delete.topic.enable", true)?,
            segment_bytes: p
                .positive_int("log.segment.bytes", 1 << 30)?
                .unsigned_abs()
                .into(),
            roll_after,
            retention_time,
            retention_bytes: u64::try_from(retention_bytes).ok(),
            retention_check_interval: Duration::from_millis(
                p.positive_long("log.retention.check.interval.ms", 300_000)?
                    .unsigned_abs(),
            ),
            message_max_bytes: p.positive_int("message.max.bytes", 1_048_588)?,
            socket_request_max_bytes: p.positive_int("socket.request.max.bytes", 104_857_600)?,
            zookeeper_connect: p
                .take("zookeeper.connect")
                .map(|e| e.value)
                .filter(|v| !v.is_empty()),
            offsets_topic_replication_factor: p.short("offsets.topic.replication.factor", 3)?,
            group_initial_rebalance_delay: millis(p.int("group.initial.rebalance.delay.ms", 3000)?),
            group_min_session_timeout: millis(p.int("group.min.session.timeout.ms", 6000)?),
            group_max_session_timeout: millis(p.int("group.max.session.timeout.ms", 1_800_000)?),
            listeners,
            raw: p
                .entries
                .iter()
                .map(|(k, e)| (k.clone(), e.value.clone()))
                .collect(),
            unknown_keys: Vec::new(),
        };
        let mut config = config;
        config.unknown_keys = p.check_leftovers()?;
        for key in &config.unknown_keys {
            tracing::warn!("server.properties: unknown key {key} (ignored)");
        }
        Ok(config)
    }
}

fn hours(h: i64) -> Duration {
    Duration::from_secs(h.unsigned_abs().saturating_mul(3600))
}

fn millis(ms: i32) -> Duration {
    Duration::from_millis(ms.unsigned_abs().into())
}

/// What a bad 32-bit (`int`) value should have been.
const INT: &str = "expected a whole number (32-bit)";
/// What a bad 64-bit (`long`) value should have been.
const LONG: &str = "expected a whole number";

fn invalid(e: &Entry, key: &str, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        origin: e.origin.clone(),
        key: key.to_string(),
        value: e.value.clone(),
        reason: reason.to_string(),
    }
}

impl Properties {
    /// Java `.properties` syntax: `key=value`, `key: value` or `key value`; `#`/`!` comments;
    /// a trailing backslash continues the line.
    fn parse(text: &str, origin: &str) -> Result<Properties, ConfigError> {
        let mut entries = BTreeMap::new();
        let mut lines = text.lines().enumerate();
        while let Some((i, line)) = lines.next() {
            let start = i + 1;
            let mut logical = line.trim_start().to_string();
            if logical.is_empty() || logical.starts_with('#') || logical.starts_with('!') {
                continue;
            }
            while ends_with_continuation(&logical) {
                logical.pop();
                match lines.next() {
                    Some((_, next)) => logical.push_str(next.trim_start()),
                    None => break,
                }
            }
            let split = logical
                .find(['=', ':'])
                .or_else(|| logical.find(char::is_whitespace));
            let (key, value) = match split {
                Some(at) => {
                    let (k, rest) = logical.split_at(at);
                    (k.trim(), rest.get(1..).unwrap_or("").trim())
                }
                None => (logical.trim(), ""),
            };
            if key.is_empty() {
                return Err(ConfigError::Syntax {
                    origin: format!("{origin}:{start}"),
                    reason: format!("no key before the separator in {line:?}"),
                });
            }
            entries.insert(
                key.to_string(),
                Entry {
                    value: value.to_string(),
                    origin: if origin.starts_with("--override") {
                        origin.to_string()
                    } else {
                        format!("{origin}:{start}")
                    },
                },
            );
        }
        Ok(Properties {
            entries,
            used: Vec::new(),
        })
    }

    fn merge(&mut self, other: Properties) {
        self.entries.extend(other.entries);
    }

    /// Removes a key from the set still to be checked, keeping it readable for `raw`.
    fn take(&mut self, key: &str) -> Option<Entry> {
        let e = self.entries.get(key)?;
        let copy = Entry {
            value: e.value.clone(),
            origin: e.origin.clone(),
        };
        self.used.push(key.to_string());
        Some(copy)
    }

    /// A number, or `default` when the key is absent; `expected` says what a bad value
    /// should have been.
    fn number<T: FromStr>(
        &mut self,
        key: &str,
        default: T,
        expected: &str,
    ) -> Result<T, ConfigError> {
        match self.take(key) {
            Some(e) => e.value.parse().map_err(|_| invalid(&e, key, expected)),
            None => Ok(default),
        }
    }

    /// A number that must be at least 1 when given (a count, a size, an interval).
    fn positive<T: FromStr + PartialOrd + From<u8>>(
        &mut self,
        key: &str,
        default: T,
        expected: &str,
    ) -> Result<T, ConfigError> {
        let Some(e) = self.take(key) else {
            return Ok(default);
        };
        match e.value.parse::<T>() {
            Ok(v) if v >= T::from(1) => Ok(v),
            Ok(_) => Err(invalid(&e, key, "must be at least 1")),
            Err(_) => Err(invalid(&e, key, expected)),
        }
    }

    fn int(&mut self, key: &str, default: i32) -> Result<i32, ConfigError> {
        self.number(key, default, INT)
    }

    fn positive_int(&mut self, key: &str, default: i32) -> Result<i32, ConfigError> {
        self.positive(key, default, INT)
    }

    fn short(&mut self, key: &str, default: i16) -> Result<i16, ConfigError> {
        match self.take(key) {
            Some(e) => match e.value.parse::<i16>() {
                Ok(v) if v >= 1 || v == -1 => Ok(v),
                _ => Err(invalid(&e, key, "expected a positive whole number or -1")),
            },
            None => Ok(default),
        }
    }

    fn long(&mut self, key: &str, default: i64) -> Result<i64, ConfigError> {
        self.number(key, default, LONG)
    }

    fn positive_long(&mut self, key: &str, default: i64) -> Result<i64, ConfigError> {
        self.positive(key, default, LONG)
    }

    fn bool(&mut self, key: &str, default: bool) -> Result<bool, ConfigError> {
        match self.take(key) {
            Some(e) => match e.value.to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(invalid(&e, key, "expected true or false")),
            },
            None => Ok(default),
        }
    }

    /// `listener.security.protocol.map`: listener name → security protocol.
    fn protocol_map(&mut self) -> Result<BTreeMap<String, String>, ConfigError> {
        let key = "listener.security.protocol.map";
        let Some(e) = self.take(key) else {
            return Ok(["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
                .into_iter()
                .map(|p| (p.to_string(), p.to_string()))
                .collect());
        };
        let mut map = BTreeMap::new();
        for pair in e.value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let Some((name, protocol)) = pair.split_once(':') else {
                return Err(invalid(&e, key, "expected NAME:PROTOCOL pairs"));
            };
            map.insert(name.trim().to_string(), protocol.trim().to_string());
        }
        Ok(map)
    }

    /// `listeners` and `advertised.listeners`, matched by name.
    fn listeners(
        &mut self,
        protocols: &BTreeMap<String, String>,
    ) -> Result<Vec<Listener>, ConfigError> {
        let bound = match self.take("listeners") {
            Some(e) => parse_listener_list(&e, "listeners")?,
            None => vec![("PLAINTEXT".to_string(), String::new(), 9092)],
        };
        let advertised = match self.take("advertised.listeners") {
            Some(e) => {
                let list = parse_listener_list(&e, "advertised.listeners")?;
                for (name, host, _) in &list {
                    if !bound.iter().any(|(n, _, _)| n == name) {
                        return Err(invalid(
                            &e,
                            "advertised.listeners",
                            &format!("listener {name} is not in `listeners`"),
                        ));
                    }
                    if host == "0.0.0.0" {
                        return Err(invalid(
                            &e,
                            "advertised.listeners",
                            "cannot advertise the non-routable address 0.0.0.0",
                        ));
                    }
                }
                list
            }
            None => Vec::new(),
        };
        let mut out = Vec::new();
        for (name, host, port) in bound {
            match protocols.get(&name).map(String::as_str) {
                Some("PLAINTEXT") => {}
                Some(other) => {
                    let e = self.take("listeners").unwrap_or(Entry {
                        value: name.clone(),
                        origin: "listeners".into(),
                    });
                    return Err(invalid(
                        &e,
                        "listeners",
                        &format!("listener {name} uses {other}; only PLAINTEXT is served"),
                    ));
                }
                None => {
                    let e = self.take("listeners").unwrap_or(Entry {
                        value: name.clone(),
                        origin: "listeners".into(),
                    });
                    return Err(invalid(
                        &e,
                        "listeners",
                        &format!("listener {name} has no entry in listener.security.protocol.map"),
                    ));
                }
            }
            let (advertised_host, advertised_port) =
                match advertised.iter().find(|(n, _, _)| *n == name) {
                    Some((_, h, p)) => (h.clone(), *p),
                    None if host.is_empty() || host == "0.0.0.0" => (local_hostname(), port),
                    None => (host.clone(), port),
                };
            out.push(Listener {
                name,
                bind_host: host,
                bind_port: port,
                advertised_host,
                advertised_port,
            });
        }
        Ok(out)
    }

    /// Type-checks the known keys we do not use and returns the unknown ones.
    fn check_leftovers(&mut self) -> Result<Vec<String>, ConfigError> {
        let mut unknown = Vec::new();
        let keys: Vec<String> = self
            .entries
            .keys()
            .filter(|k| !self.used.contains(k))
            .cloned()
            .collect();
        for key in keys {
            match ACCEPTED_KEYS.iter().find(|(k, _)| *k == key) {
                Some((_, Kind::Int)) => {
                    self.int(&key, 0)?;
                }
                Some((_, Kind::Long)) => {
                    self.long(&key, 0)?;
                }
                Some((_, Kind::Bool)) => {
                    self.bool(&key, false)?;
                }
                Some((_, Kind::Text)) => {}
                None => unknown.push(key),
            }
        }
        Ok(unknown)
    }
}

fn ends_with_continuation(line: &str) -> bool {
    line.chars().rev().take_while(|c| *c == '\\').count() % 2 == 1
}

/// `NAME://host:port,…` → (name, host, port); an empty host means every interface.
fn parse_listener_list(e: &Entry, key: &str) -> Result<Vec<(String, String, u16)>, ConfigError> {
    let mut out: Vec<(String, String, u16)> = Vec::new();
    for item in e.value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some((name, addr)) = item.split_once("://") else {
            return Err(invalid(e, key, "expected NAME://host:port entries"));
        };
        let Some((host, port)) = addr.rsplit_once(':') else {
            return Err(invalid(e, key, &format!("{item}: no port")));
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port: u16 = port
            .parse()
            .map_err(|_| invalid(e, key, &format!("{item}: {port:?} is not a port number")))?;
        if out.iter().any(|(n, _, _)| n == name) {
            return Err(invalid(e, key, &format!("listener {name} appears twice")));
        }
        out.push((name.to_string(), host.to_string(), port));
    }
    if out.is_empty() {
        return Err(invalid(e, key, "no listener"));
    }
    Ok(out)
}

/// The host name advertised when a listener binds every interface and none is advertised.
fn local_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tp_file_with_spaces_around_equals() {
        let c = BrokerConfig::parse(
            "# comment\nbroker.id = 1\nlisteners=PLAINTEXT://localhost:9093\nlog.dirs=/tmp/kafka-logs-1\n",
            "server-one.properties",
        )
        .unwrap();
        assert_eq!(c.broker_id, 1);
        assert_eq!(c.listeners.len(), 1);
        assert_eq!(c.listeners[0].advertised_host, "localhost");
        assert_eq!(c.listeners[0].bind_port, 9093);
        assert_eq!(c.log_dirs, vec![PathBuf::from("/tmp/kafka-logs-1")]);
        assert!(c.zookeeper_connect.is_none());
    }

    #[test]
    fn two_named_listeners_with_advertised_addresses() {
        let c = BrokerConfig::parse(
            "listeners=PLAINTEXT://0.0.0.0:9092,HOST://0.0.0.0:29092\n\
             advertised.listeners=PLAINTEXT://hadoop-master:9092,HOST://localhost:9092\n\
             listener.security.protocol.map=PLAINTEXT:PLAINTEXT,HOST:PLAINTEXT\n\
             inter.broker.listener.name=PLAINTEXT\n",
            "s",
        )
        .unwrap();
        assert_eq!(c.listeners[1].name, "HOST");
        assert_eq!(c.listeners[1].bind_port, 29092);
        assert_eq!(c.listeners[1].advertised_host, "localhost");
        assert_eq!(c.listeners[1].advertised_port, 9092);
        assert_eq!(c.listeners[0].advertised_host, "hadoop-master");
    }

    #[test]
    fn a_bad_value_names_the_key_and_line() {
        let err = BrokerConfig::parse("broker.id=0\nnum.partitions=many\n", "server.properties")
            .unwrap_err()
            .to_string();
        assert!(err.contains("server.properties:2"), "{err}");
        assert!(err.contains("num.partitions"), "{err}");
    }

    #[test]
    fn counts_and_intervals_must_be_at_least_one() {
        for (text, key) in [
            ("num.partitions=0\n", "num.partitions"),
            (
                "log.retention.check.interval.ms=-5\n",
                "log.retention.check.interval.ms",
            ),
        ] {
            let err = BrokerConfig::parse(text, "s").unwrap_err().to_string();
            assert!(err.contains(key) && err.contains("at least 1"), "{err}");
        }
        let c = BrokerConfig::parse("log.retention.check.interval.ms=7\n", "s").unwrap();
        assert_eq!(c.retention_check_interval, Duration::from_millis(7));
    }

    #[test]
    fn a_listener_without_protocol_is_an_error() {
        let err = BrokerConfig::parse("listeners=HOST://:9092\n", "s")
            .unwrap_err()
            .to_string();
        assert!(err.contains("listener.security.protocol.map"), "{err}");
    }

    #[test]
    fn unknown_keys_are_kept_as_warnings() {
        let c = BrokerConfig::parse("no.such.key=1\nnum.io.threads=8\n", "s").unwrap();
        assert_eq!(c.unknown_keys, vec!["no.such.key".to_string()]);
    }

    #[test]
    fn known_unused_keys_are_still_type_checked() {
        assert!(BrokerConfig::parse("num.io.threads=eight\n", "s").is_err());
    }

    #[test]
    fn overrides_win_over_the_file() {
        let mut p = Properties::parse("broker.id=0\n", "f").unwrap();
        p.merge(Properties::parse("broker.id=7", "--override #1").unwrap());
        let c = BrokerConfig::from_properties(p).unwrap();
        assert_eq!(c.broker_id, 7);
    }

    #[test]
    fn continuation_lines_join() {
        let c = BrokerConfig::parse("log.dirs=/a,\\\n   /b\n", "s").unwrap();
        assert_eq!(c.log_dirs, vec![PathBuf::from("/a"), PathBuf::from("/b")]);
    }
}
