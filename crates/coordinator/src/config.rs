//! The coordinator's configuration, read from ZooKeeper's own `zoo.cfg` /
//! `zookeeper.properties` keys. A bad value is an error naming its key; keys of features this
//! server does not have (quorum, admin server, …) are accepted and ignored with a warning.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// Why a configuration was refused.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A key had a value it cannot take.
    #[error("invalid value {value:?} for {key}: {why}")]
    BadValue {
        /// The key.
        key: String,
        /// Its value.
        value: String,
        /// What was expected.
        why: String,
    },
    /// A required key is missing.
    #[error("{0} is not set")]
    Missing(&'static str),
}

/// The settings the coordinator uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The basic time unit in ms (`tickTime`).
    pub tick_ms: u32,
    /// Where snapshots go (`dataDir`).
    pub data_dir: PathBuf,
    /// Where the transaction log goes (`dataLogDir`, default `dataDir`).
    pub data_log_dir: PathBuf,
    /// The client port (`clientPort`).
    pub client_port: u16,
    /// The address to bind (`clientPortAddress`, default all).
    pub client_address: IpAddr,
    /// Connections allowed from one address, 0 for no limit (`maxClientCnxns`).
    pub max_client_cnxns: u32,
    /// Smallest session timeout (`minSessionTimeout`, default 2 ticks).
    pub min_session_ms: u32,
    /// Largest session timeout (`maxSessionTimeout`, default 20 ticks).
    pub max_session_ms: u32,
    /// Snapshots (and their logs) kept by purge (`autopurge.snapRetainCount`, at least 3).
    pub snap_retain_count: u32,
    /// Hours between purges, 0 for never (`autopurge.purgeInterval`).
    pub purge_interval_hours: u32,
    /// Transactions between snapshots (`snapCount`).
    pub snap_count: u64,
    /// Enabled four-letter words (`4lw.commands.whitelist`; ZooKeeper's default is `srvr`).
    pub four_letter_words: BTreeSet<String>,
    /// Largest frame accepted (`jute.maxbuffer`).
    pub max_buffer: usize,
    /// Whether the log is fsync'd before replies (`forceSync`).
    pub force_sync: bool,
}

/// Every four-letter word this server answers.
pub const ALL_WORDS: [&str; 7] = ["ruok", "stat", "srvr", "mntr", "conf", "cons", "envi"];

impl Config {
    /// Reads a properties file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::parse(&text)
    }

    /// Parses properties text (`key=value`, `key: value` or `key value`; `#`/`!` comments).
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let mut tick_ms: u32 = 3000;
        let mut data_dir = None;
        let mut data_log_dir = None;
        let mut client_port = None;
        let mut client_address: IpAddr = IpAddr::from([0, 0, 0, 0]);
        let mut max_client_cnxns = 60;
        let mut min_session = None;
        let mut max_session = None;
        let mut snap_retain_count: u32 = 3;
        let mut purge_interval_hours = 0;
        let mut snap_count = 100_000;
        let mut words: BTreeSet<String> = ["srvr".to_owned()].into();
        let mut max_buffer = 0xfffff;
        let mut force_sync = true;
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
                continue;
            }
            let split = line.find(['=', ':', ' ', '\t']).unwrap_or(line.len());
            let key = line.get(..split).unwrap_or(line).trim();
            let rest = line.get(split..).unwrap_or("").trim_start();
            let value = rest.strip_prefix(['=', ':']).unwrap_or(rest).trim();
            match key {
                "tickTime" => tick_ms = number(key, value, 1)?,
                "dataDir" => data_dir = Some(PathBuf::from(value)),
                "dataLogDir" => data_log_dir = Some(PathBuf::from(value)),
                "clientPort" => client_port = Some(number(key, value, 0)?),
                "clientPortAddress" => {
                    client_address = value
                        .parse()
                        .map_err(|_| bad(key, value, "an IP address"))?;
                }
                "maxClientCnxns" => max_client_cnxns = number(key, value, 0)?,
                "minSessionTimeout" => min_session = timeout(key, value)?,
                "maxSessionTimeout" => max_session = timeout(key, value)?,
                "autopurge.snapRetainCount" => snap_retain_count = number(key, value, 1)?,
                "autopurge.purgeInterval" => purge_interval_hours = number(key, value, 0)?,
                "snapCount" => snap_count = number(key, value, 2)?,
                "4lw.commands.whitelist" => words = word_list(key, value)?,
                "jute.maxbuffer" => max_buffer = number(key, value, 1024)?,
                "forceSync" => {
                    force_sync = match value {
                        "yes" | "true" => true,
                        "no" | "false" => false,
                        _ => return Err(bad(key, value, "yes or no")),
                    }
                }
                other => tracing::warn!(key = other, "configuration key ignored by this server"),
            }
        }
        let data_dir = data_dir.ok_or(ConfigError::Missing("dataDir"))?;
        let client_port = client_port.ok_or(ConfigError::Missing("clientPort"))?;
        let min_session_ms = min_session.unwrap_or(tick_ms.saturating_mul(2));
        let max_session_ms = max_session.unwrap_or(tick_ms.saturating_mul(20));
        if min_session_ms > max_session_ms {
            return Err(bad(
                "minSessionTimeout",
                &min_session_ms.to_string(),
                "must not be larger than maxSessionTimeout",
            ));
        }
        Ok(Config {
            tick_ms,
            data_log_dir: data_log_dir.unwrap_or_else(|| data_dir.clone()),
            data_dir,
            client_port,
            client_address,
            max_client_cnxns,
            min_session_ms,
            max_session_ms,
            snap_retain_count: snap_retain_count.max(3),
            purge_interval_hours,
            snap_count,
            four_letter_words: words,
            max_buffer,
            force_sync,
        })
    }
}

fn bad(key: &str, value: &str, why: &str) -> ConfigError {
    ConfigError::BadValue {
        key: key.to_owned(),
        value: value.to_owned(),
        why: why.to_owned(),
    }
}

fn number<T>(key: &str, value: &str, min: T) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let n: T = value
        .parse()
        .map_err(|_| bad(key, value, "a whole number"))?;
    if n < min {
        return Err(bad(key, value, &format!("must be at least {min}")));
    }
    Ok(n)
}

/// A session timeout bound; -1 means "the default", as in ZooKeeper.
fn timeout(key: &str, value: &str) -> Result<Option<u32>, ConfigError> {
    if value == "-1" {
        return Ok(None);
    }
    number(key, value, 1).map(Some)
}

fn word_list(key: &str, value: &str) -> Result<BTreeSet<String>, ConfigError> {
    let mut words = BTreeSet::new();
    for w in value.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        if w == "*" {
            words.extend(ALL_WORDS.iter().map(|w| (*w).to_owned()));
        } else if w.len() == 4 && w.chars().all(|c| c.is_ascii_lowercase()) {
            words.insert(w.to_owned());
        } else {
            return Err(bad(key, value, "comma-separated four-letter words or *"));
        }
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafkas_zookeeper_properties() {
        let c = Config::parse(
            "# the directory\ndataDir=/tmp/zookeeper\nclientPort=2181\nmaxClientCnxns=0\n\
             admin.enableServer=false\n",
        )
        .unwrap();
        assert_eq!(c.client_port, 2181);
        assert_eq!(c.tick_ms, 3000);
        assert_eq!((c.min_session_ms, c.max_session_ms), (6000, 60000));
        assert_eq!(c.data_log_dir, PathBuf::from("/tmp/zookeeper"));
        assert_eq!(c.four_letter_words, ["srvr".to_owned()].into());
    }

    #[test]
    fn every_key_is_read() {
        let c = Config::parse(
            "tickTime 2000\ndataDir: /d\ndataLogDir=/l\nclientPort=1\nclientPortAddress=127.0.0.1\n\
             minSessionTimeout=-1\nmaxSessionTimeout=9000\nautopurge.snapRetainCount=5\n\
             autopurge.purgeInterval=1\n4lw.commands.whitelist=ruok, stat\njute.maxbuffer=4096\n\
             snapCount=10\nforceSync=no\n",
        )
        .unwrap();
        assert_eq!(c.tick_ms, 2000);
        assert_eq!(c.data_dir, PathBuf::from("/d"));
        assert_eq!(c.min_session_ms, 4000);
        assert_eq!(c.max_session_ms, 9000);
        assert_eq!(c.snap_retain_count, 5);
        assert_eq!(c.four_letter_words.len(), 2);
        assert_eq!(c.max_buffer, 4096);
        assert!(!c.force_sync);
        let all = Config::parse("dataDir=/d\nclientPort=1\n4lw.commands.whitelist=*\n").unwrap();
        assert_eq!(all.four_letter_words.len(), ALL_WORDS.len());
    }

    #[test]
    fn a_bad_value_names_its_key() {
        let err = Config::parse("dataDir=/d\nclientPort=abc\n").unwrap_err();
        assert!(err.to_string().contains("clientPort"), "{err}");
        let err = Config::parse("dataDir=/d\nclientPort=1\ntickTime=0\n").unwrap_err();
        assert!(err.to_string().contains("tickTime"), "{err}");
        let err = Config::parse("clientPort=1\n").unwrap_err();
        assert!(err.to_string().contains("dataDir"), "{err}");
    }
}
