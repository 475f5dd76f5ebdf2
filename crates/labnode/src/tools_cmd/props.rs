//! Java-style `key=value` settings: `--property k=v` flags and `.properties` files (only what the
//! tools read from them: the broker's listeners, ZooKeeper's client port).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail};

/// Parses `--property`/`--consumer-property` values (`key=value`, value may contain `=`).
pub(super) fn parse_pairs(
    pairs: &[String],
    flag: &str,
) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for p in pairs {
        let Some((k, v)) = p.split_once('=') else {
            bail!("Invalid {flag} '{p}': expected key=value");
        };
        out.insert(k.trim().to_owned(), v.to_owned());
    }
    Ok(out)
}

/// Client settings from an optional `--*.config` file, overridden by `--*-property` pairs.
pub(super) fn client_settings(
    file: Option<&Path>,
    pairs: &[String],
    flag: &str,
) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = match file {
        Some(f) => read_file(f)?,
        None => BTreeMap::new(),
    };
    out.extend(parse_pairs(pairs, flag)?);
    Ok(out)
}

/// Reads a `.properties` file: `key=value`, `key: value` or `key value`; `#`/`!` comments.
/// (Line continuations and escapes are not needed for the files the lab writes.)
pub(super) fn read_file(path: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(parse_text(&text))
}

fn parse_text(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        let split = line
            .find(['=', ':'])
            .or_else(|| line.find(char::is_whitespace));
        let (k, v) = match split {
            Some(i) => (
                line.get(..i).unwrap_or(line),
                line.get(i + 1..).unwrap_or(""),
            ),
            None => (line, ""),
        };
        out.insert(k.trim().to_owned(), v.trim().to_owned());
    }
    out
}

/// The address a local client reaches the first listener of a `server.properties` on:
/// `PLAINTEXT://:9092` and `PLAINTEXT://0.0.0.0:9092` become `localhost:9092`.
pub(super) fn broker_address(server: &BTreeMap<String, String>) -> String {
    if let Some(listeners) = server.get("listeners").filter(|l| !l.trim().is_empty())
        && let Some(first) = listeners.split(',').next()
        && let Some((_, hostport)) = first.trim().split_once("://")
        && let Some((host, port)) = hostport.rsplit_once(':')
    {
        let host = match host {
            "" | "0.0.0.0" | "[::]" | "::" => "localhost",
            h => h,
        };
        return format!("{host}:{port}");
    }
    let port = server.get("port").map_or("9092", String::as_str);
    format!("localhost:{port}")
}

/// ZooKeeper's client address from a `zookeeper.properties` (`clientPort`, default 2181).
pub(super) fn zookeeper_address(zk: &BTreeMap<String, String>) -> String {
    let host = zk
        .get("clientPortAddress")
        .filter(|h| !h.is_empty() && h.as_str() != "0.0.0.0")
        .map_or("localhost", String::as_str);
    let port = zk.get("clientPort").map_or("2181", String::as_str);
    format!("{host}:{port}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_files_parse_like_javas() {
        let p = parse_text(
            "# c\nbroker.id = 1\nlisteners=PLAINTEXT://localhost:9093\nlog.dirs /tmp/k\n! x\nzk:host:2181\n",
        );
        assert_eq!(p["broker.id"], "1");
        assert_eq!(p["listeners"], "PLAINTEXT://localhost:9093");
        assert_eq!(p["log.dirs"], "/tmp/k");
        assert_eq!(p["zk"], "host:2181");
    }

    #[test]
    fn listeners_become_a_local_address() {
        let mut p = BTreeMap::new();
        assert_eq!(broker_address(&p), "localhost:9092");
        p.insert("listeners".into(), "PLAINTEXT://:9094,OUTSIDE://x:1".into());
        assert_eq!(broker_address(&p), "localhost:9094");
        p.insert("listeners".into(), "PLAINTEXT://hadoop-master:9092".into());
        assert_eq!(broker_address(&p), "hadoop-master:9092");
        let zk = BTreeMap::from([("clientPort".to_string(), "2182".to_string())]);
        assert_eq!(zookeeper_address(&zk), "localhost:2182");
    }

    #[test]
    fn pairs_need_an_equals_sign() {
        let p = parse_pairs(
            &["print.key=true".into(), "key.separator==".into()],
            "--property",
        )
        .unwrap();
        assert_eq!(p["key.separator"], "=");
        let err = parse_pairs(&["print.key".into()], "--property").unwrap_err();
        assert!(err.to_string().contains("print.key"));
    }
}
