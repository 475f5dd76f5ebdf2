//! Hadoop's own configuration files (`core-site.xml`, `hdfs-site.xml`), read the way Hadoop
//! reads them, so the same directory configures Apache's daemons or ours.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Largest configuration file we read (a Hadoop site file is a few kilobytes).
const MAX_CONFIG_BYTES: u64 = 4 * 1024 * 1024;

/// What can go wrong reading the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file is not the XML Hadoop expects.
    #[error("{path}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the position when the XML parser gives one.
        message: String,
    },
    /// A key has a value we cannot use.
    #[error("{key} = {value:?}: {message}")]
    Value {
        /// The property name.
        key: String,
        /// Its value.
        value: String,
        /// What is wrong with it.
        message: String,
    },
}

/// The merged properties of `core-site.xml` and `hdfs-site.xml` (the latter wins), with typed
/// accessors for the keys the store uses and Hadoop's defaults for the ones left out.
#[derive(Debug, Clone, Default)]
pub struct HadoopConfig {
    props: HashMap<String, String>,
}

impl HadoopConfig {
    /// Reads `core-site.xml` and `hdfs-site.xml` from `dir`; a missing file is an empty one.
    pub fn load(dir: &Path) -> Result<HadoopConfig, ConfigError> {
        let mut config = HadoopConfig::default();
        for name in ["core-site.xml", "hdfs-site.xml"] {
            let path = dir.join(name);
            if path.is_file() {
                config.merge_file(&path)?;
            }
        }
        Ok(config)
    }

    /// Builds a configuration from key/value pairs (tests and tools).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> HadoopConfig {
        HadoopConfig {
            props: pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn merge_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let read_err = |source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        };
        let len = std::fs::metadata(path).map_err(read_err)?.len();
        if len > MAX_CONFIG_BYTES {
            return Err(ConfigError::Syntax {
                path: path.to_path_buf(),
                message: format!("{len} bytes, larger than the {MAX_CONFIG_BYTES} we accept"),
            });
        }
        let text = std::fs::read_to_string(path).map_err(read_err)?;
        self.merge_xml(&text)
            .map_err(|message| ConfigError::Syntax {
                path: path.to_path_buf(),
                message,
            })
    }

    /// Merges the `<property><name/><value/></property>` entries of one site file.
    fn merge_xml(&mut self, text: &str) -> Result<(), String> {
        let doc = roxmltree::Document::parse(text).map_err(|e| e.to_string())?;
        let root = doc.root_element();
        if root.tag_name().name() != "configuration" {
            return Err(format!(
                "the root element is <{}>, expected <configuration>",
                root.tag_name().name()
            ));
        }
        for prop in root.children().filter(|n| n.has_tag_name("property")) {
            let field = |tag: &str| {
                prop.children()
                    .find(|n| n.has_tag_name(tag))
                    .map(|n| n.text().unwrap_or("").trim().to_string())
            };
            let Some(name) = field("name") else {
                let pos = doc.text_pos_at(prop.range().start);
                return Err(format!("{pos}: a <property> without <name>"));
            };
            self.props.insert(name, field("value").unwrap_or_default());
        }
        Ok(())
    }

    /// The raw value of a key.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.props.get(key).map(String::as_str)
    }

    fn value_err(&self, key: &str, message: &str) -> ConfigError {
        ConfigError::Value {
            key: key.to_string(),
            value: self.get(key).unwrap_or("").to_string(),
            message: message.to_string(),
        }
    }

    /// An unsigned number, with Hadoop's size suffixes (`k`, `m`, `g`, `t`) when `sized`.
    fn number(&self, key: &str, default: u64, sized: bool) -> Result<u64, ConfigError> {
        let Some(raw) = self.get(key) else {
            return Ok(default);
        };
        let raw = raw.trim().to_ascii_lowercase();
        let (digits, factor) = match raw.char_indices().last() {
            Some((i, c)) if sized && "kmgtp".contains(c) => {
                let power = "kmgtp".find(c).unwrap_or(0) as u32 + 1;
                (raw.get(..i).unwrap_or(""), 1024u64.pow(power))
            }
            _ => (raw.as_str(), 1),
        };
        digits
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(factor))
            .ok_or_else(|| self.value_err(key, "not a non-negative number"))
    }

    /// `fs.defaultFS`: the namenode's RPC address (`hdfs://host:port`), default `hdfs://localhost:9000`.
    pub fn default_fs(&self) -> Result<(String, u16), ConfigError> {
        let key = "fs.defaultFS";
        let raw = self
            .get(key)
            .or_else(|| self.get("fs.default.name"))
            .unwrap_or("hdfs://localhost:9000");
        let rest = raw
            .strip_prefix("hdfs://")
            .or_else(|| raw.strip_prefix("webhdfs://"))
            .ok_or_else(|| self.value_err(key, "expected hdfs://host:port"))?;
        let authority = rest.split('/').next().unwrap_or("");
        split_host_port(authority, 8020).ok_or_else(|| self.value_err(key, "bad host:port"))
    }

    /// `dfs.namenode.http-address`: where WebHDFS and the status page listen.
    pub fn namenode_http_address(&self) -> Result<(String, u16), ConfigError> {
        self.host_port("dfs.namenode.http-address", "0.0.0.0:50070")
    }

    /// `dfs.datanode.http.address`: where a datanode serves its blocks.
    pub fn datanode_http_address(&self) -> Result<(String, u16), ConfigError> {
        self.host_port("dfs.datanode.http.address", "0.0.0.0:50075")
    }

    fn host_port(&self, key: &str, default: &str) -> Result<(String, u16), ConfigError> {
        let raw = self.get(key).unwrap_or(default);
        split_host_port(raw.trim(), 0)
            .filter(|(_, port)| *port != 0 || raw.trim().ends_with(":0"))
            .ok_or_else(|| self.value_err(key, "expected host:port"))
    }

    /// `dfs.replication`: how many datanodes hold each block (Hadoop's default 3; the TP sets 2).
    pub fn replication(&self) -> Result<u16, ConfigError> {
        let n = self.number("dfs.replication", 3, false)?;
        u16::try_from(n)
            .ok()
            .filter(|n| (1..=512).contains(n))
            .ok_or_else(|| self.value_err("dfs.replication", "must be 1..=512"))
    }

    /// `dfs.blocksize`: the size files are split at (default 128 MiB).
    pub fn blocksize(&self) -> Result<u64, ConfigError> {
        let n = self.number("dfs.blocksize", 128 * 1024 * 1024, true)?;
        if !(MIN_BLOCKSIZE..=MAX_BLOCKSIZE).contains(&n) {
            return Err(self.value_err(
                "dfs.blocksize",
                &format!("must be between {MIN_BLOCKSIZE} and {MAX_BLOCKSIZE}"),
            ));
        }
        Ok(n)
    }

    /// `dfs.namenode.name.dir`: where the namespace image and journal live.
    pub fn name_dir(&self) -> Result<PathBuf, ConfigError> {
        self.dir("dfs.namenode.name.dir", "/tmp/hadoop/dfs/name")
    }

    /// `dfs.datanode.data.dir`: where a datanode keeps its blocks.
    pub fn data_dir(&self) -> Result<PathBuf, ConfigError> {
        self.dir("dfs.datanode.data.dir", "/tmp/hadoop/dfs/data")
    }

    /// A directory key: the first of a comma-separated list, `file://` stripped.
    fn dir(&self, key: &str, default: &str) -> Result<PathBuf, ConfigError> {
        let raw = self.get(key).unwrap_or(default);
        let first = raw.split(',').next().unwrap_or("").trim();
        let path = first.strip_prefix("file://").unwrap_or(first);
        if path.is_empty() {
            return Err(self.value_err(key, "empty directory"));
        }
        Ok(PathBuf::from(path))
    }

    /// `dfs.heartbeat.interval` (seconds, default 3): how often datanodes report.
    pub fn heartbeat_interval(&self) -> Result<Duration, ConfigError> {
        let s = self.number("dfs.heartbeat.interval", 3, false)?;
        Ok(Duration::from_secs(s.clamp(1, 3600)))
    }

    /// When a silent datanode is declared dead, with Hadoop's formula:
    /// 2 × `dfs.namenode.heartbeat.recheck-interval` (ms) + 10 × the heartbeat interval.
    pub fn dead_node_interval(&self) -> Result<Duration, ConfigError> {
        let recheck = self.number("dfs.namenode.heartbeat.recheck-interval", 300_000, false)?;
        let heartbeat = self.heartbeat_interval()?;
        Ok(Duration::from_millis(recheck.saturating_mul(2)) + heartbeat * 10)
    }

    /// `dfs.datanode.synconclose` (default false, as in Hadoop): whether a datanode syncs a
    /// block to disk when it is finalized. Off, a finalized block may still sit in the page
    /// cache, and a power loss can lose it even after the client was told it is stored.
    pub fn sync_on_close(&self) -> Result<bool, ConfigError> {
        self.boolean("dfs.datanode.synconclose", false)
    }

    /// A boolean key: `true` or `false`, in any case.
    fn boolean(&self, key: &str, default: bool) -> Result<bool, ConfigError> {
        match self.get(key).map(str::trim) {
            None | Some("") => Ok(default),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(_) => Err(self.value_err(key, "must be true or false")),
        }
    }

    /// `dfs.webhdfs.max-file-size` (our own key): the largest file one CREATE or APPEND may
    /// produce, default 64 GiB.
    pub fn max_file_size(&self) -> Result<u64, ConfigError> {
        self.number("dfs.webhdfs.max-file-size", 64 * 1024 * 1024 * 1024, true)
    }

    /// `dfs.namenode.fs-limits.max-directory-items` (default 1048576).
    pub fn max_directory_items(&self) -> Result<usize, ConfigError> {
        let n = self.number(
            "dfs.namenode.fs-limits.max-directory-items",
            1_048_576,
            false,
        )?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    /// `dfs.datanode.hostname`: the name a datanode asks to be reached by (else its address as
    /// the namenode sees it).
    pub fn datanode_hostname(&self) -> Option<String> {
        self.get("dfs.datanode.hostname")
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .map(str::to_string)
    }
}

/// The smallest block size we accept (Hadoop's `dfs.namenode.fs-limits.min-block-size` is 1 MiB;
/// we allow smaller so that tests can split small files).
pub const MIN_BLOCKSIZE: u64 = 4096;
/// The largest block size we accept.
pub const MAX_BLOCKSIZE: u64 = 2 * 1024 * 1024 * 1024;

/// Splits `host:port` (or `[v6]:port`, or `host` with a default port).
pub fn split_host_port(s: &str, default_port: u16) -> Option<(String, u16)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, tail) = rest.split_once(']')?;
        let port = match tail.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if tail.is_empty() => default_port,
            None => return None,
        };
        return Some((host.to_string(), port));
    }
    match s.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && !host.contains(':') => {
            Some((host.to_string(), port.parse().ok()?))
        }
        None if !s.is_empty() => Some((s.to_string(), default_port)),
        _ => None,
    }
}

/// Resolves `host:port` to socket addresses to bind or connect to.
pub async fn resolve(host: &str, port: u16) -> std::io::Result<SocketAddr> {
    tokio::net::lookup_host((host, port))
        .await?
        .next()
        .ok_or_else(|| std::io::Error::other(format!("{host} resolves to no address")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_site_file_and_its_defaults() {
        let mut c = HadoopConfig::default();
        c.merge_xml(
            r#"<?xml version="1.0"?><configuration>
            <property><name>dfs.replication</name><value> 2 </value></property>
            <property><name>dfs.blocksize</name><value>1m</value></property>
            <property><name>fs.defaultFS</name><value>hdfs://hadoop-master:9000/</value></property>
            </configuration>"#,
        )
        .unwrap();
        assert_eq!(c.replication().unwrap(), 2);
        assert_eq!(c.blocksize().unwrap(), 1024 * 1024);
        assert_eq!(c.default_fs().unwrap(), ("hadoop-master".into(), 9000));
        assert!(
            !c.sync_on_close().unwrap(),
            "Hadoop's default: no sync on close"
        );
        let c = HadoopConfig::from_pairs([("dfs.datanode.synconclose", "TRUE")]);
        assert!(c.sync_on_close().unwrap());
        assert_eq!(
            c.namenode_http_address().unwrap(),
            ("0.0.0.0".into(), 50070)
        );
    }

    #[test]
    fn bad_values_name_the_key() {
        let c = HadoopConfig::from_pairs([("dfs.replication", "zero")]);
        let err = c.replication().unwrap_err().to_string();
        assert!(err.contains("dfs.replication"), "{err}");
        let c = HadoopConfig::from_pairs([("dfs.blocksize", "99999999999999999999t")]);
        assert!(c.blocksize().is_err());
        let c = HadoopConfig::from_pairs([("dfs.datanode.synconclose", "yes")]);
        let err = c.sync_on_close().unwrap_err().to_string();
        assert!(err.contains("dfs.datanode.synconclose"), "{err}");
    }

    #[test]
    fn broken_xml_is_an_error_with_a_position() {
        let mut c = HadoopConfig::default();
        let err = c
            .merge_xml("<configuration>\n<property></configuration>")
            .unwrap_err();
        assert!(err.contains("2:"), "{err}");
    }
}
