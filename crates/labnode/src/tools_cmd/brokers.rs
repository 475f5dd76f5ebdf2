//! Finding the brokers a tool talks to: `--bootstrap-server`/`--broker-list` name them; the old
//! `--zookeeper HOST:PORT` form reads them from ZooKeeper's `/brokers/ids/N` registrations, as
//! Kafka's ZooKeeper-era tools did.
//!
//! Fallback (documented in `--help`): a broker started without `zookeeper.connect` runs
//! standalone and registers nowhere. When ZooKeeper is unreachable or lists no broker, the tools
//! use the first listener of `$KAFKA_HOME/config/server.properties` (or `localhost:9092`) and say
//! so on stderr, so the TP's `--zookeeper localhost:2181` commands keep working on one node.

use std::time::Duration;

use anyhow::{Context, bail};
use kafka_client::{Client, ClientConfig, ConnectionConfig};

use super::{kafka_home, props};

/// Where the brokers are, as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Brokers {
    /// `--bootstrap-server` / `--broker-list`: `host:port[,host:port…]`.
    Bootstrap(String),
    /// `--zookeeper host:port[/chroot]`.
    ZooKeeper(String),
}

impl Brokers {
    /// From the two kinds of flags; an error naming the flags when neither is given.
    pub(super) fn from_flags(
        bootstrap: Option<String>,
        zookeeper: Option<String>,
        flags: &str,
    ) -> anyhow::Result<Brokers> {
        match (bootstrap, zookeeper) {
            (Some(b), _) => Ok(Brokers::Bootstrap(b)),
            (None, Some(z)) => Ok(Brokers::ZooKeeper(z)),
            (None, None) => bail!("Missing required argument \"[{flags}]\""),
        }
    }

    /// True for the `--zookeeper` form (some tools print ZooKeeper-era messages then).
    pub(super) fn is_zookeeper(&self) -> bool {
        matches!(self, Brokers::ZooKeeper(_))
    }

    /// Connects a client, as `client_id`.
    pub(super) async fn connect(&self, client_id: &str) -> anyhow::Result<Client> {
        let config = ClientConfig {
            connection: ConnectionConfig {
                client_id: client_id.to_owned(),
                ..ConnectionConfig::default()
            },
        };
        let bootstrap = match self {
            Brokers::Bootstrap(b) => b.clone(),
            Brokers::ZooKeeper(zk) => from_zookeeper(zk).await?,
        };
        Client::connect(&bootstrap, config)
            .await
            .with_context(|| format!("cannot reach a Kafka broker at {bootstrap}"))
    }
}

/// The brokers registered in ZooKeeper, or the local broker of `server.properties` when none is.
async fn from_zookeeper(zk: &str) -> anyhow::Result<String> {
    match registered_brokers(zk).await {
        Ok(list) if !list.is_empty() => Ok(list.join(",")),
        outcome => {
            let local = local_broker();
            let why = match outcome {
                Err(e) => format!("ZooKeeper at {zk} is not reachable ({e:#})"),
                Ok(_) => format!("no broker is registered in ZooKeeper at {zk}"),
            };
            eprintln!("WARN {why}; using the standalone broker at {local}");
            Ok(local)
        }
    }
}

/// The first listener of `$KAFKA_HOME/config/server.properties`, else `localhost:9092`.
fn local_broker() -> String {
    let path = kafka_home().join("config/server.properties");
    props::read_file(&path)
        .map(|p| props::broker_address(&p))
        .unwrap_or_else(|_| "localhost:9092".into())
}

/// Reads `/brokers/ids/*` and returns each broker's `host:port`.
async fn registered_brokers(zk: &str) -> anyhow::Result<Vec<String>> {
    let connector = zookeeper_client::Client::connector()
        .with_connection_timeout(Duration::from_secs(3))
        .with_session_timeout(Duration::from_secs(6));
    let client = tokio::time::timeout(Duration::from_secs(5), connector.connect(zk))
        .await
        .context("timed out")??;
    let ids = match client.list_children("/brokers/ids").await {
        Ok(ids) => ids,
        Err(zookeeper_client::Error::NoNode) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let mut out = Vec::new();
    for id in ids {
        let (data, _) = client.get_data(&format!("/brokers/ids/{id}")).await?;
        match registration_address(&data) {
            Some(addr) => out.push(addr),
            None => eprintln!("WARN broker {id}'s registration in ZooKeeper has no address"),
        }
    }
    Ok(out)
}

/// `host:port` from a broker's registration JSON: its first PLAINTEXT endpoint, else host/port.
fn registration_address(json: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(json).ok()?;
    let endpoints = v.get("endpoints").and_then(|e| e.as_array());
    let from_endpoint = endpoints.and_then(|eps| {
        eps.iter()
            .filter_map(|e| e.as_str())
            .filter_map(|e| e.split_once("://").map(|(_, hp)| hp.to_owned()))
            .next()
    });
    from_endpoint.or_else(|| {
        let host = v.get("host")?.as_str()?;
        let port = v.get("port")?.as_i64()?;
        Some(format!("{host}:{port}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kafka_registration_gives_its_endpoint() {
        let json = br#"{"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT"},"endpoints":["PLAINTEXT://hadoop-master:9092"],"jmx_port":-1,"host":"hadoop-master","timestamp":"1","port":9092,"version":4}"#;
        assert_eq!(
            registration_address(json).as_deref(),
            Some("hadoop-master:9092")
        );
        let old = br#"{"host":"h","port":9093,"version":1}"#;
        assert_eq!(registration_address(old).as_deref(), Some("h:9093"));
        assert_eq!(registration_address(b"not json"), None);
    }

    #[test]
    fn one_of_the_flags_is_required() {
        let err = Brokers::from_flags(None, None, "bootstrap-server").unwrap_err();
        assert!(err.to_string().contains("bootstrap-server"));
        let b = Brokers::from_flags(Some("a:1".into()), Some("z:2".into()), "x").unwrap();
        assert_eq!(b, Brokers::Bootstrap("a:1".into()));
    }
}
