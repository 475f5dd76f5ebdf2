//! Finding the brokers a tool talks to: `--bootstrap-server`/`--broker-list` name them; the old
//! `--zookeeper HOST:PORT` form reads them from ZooKeeper's `/brokers/ids/N` registrations, as
//! Kafka's ZooKeeper-era tools did.
//!
//! Fallback (documented in `--help`): a broker started without `zookeeper.connect` runs
//! standalone and registers nowhere. When ZooKeeper is unreachable or lists no broker, the tools
//! use the first listener of `$KAFKA_HOME/config/server.properties` (or `localhost:9092`) and say
//! so on stderr, so the TP's `--zookeeper localhost:2181` commands keep working on one node.

use anyhow::{Context, bail};
use kafka_client::zookeeper::{ZooKeeperError, bootstrap_from_zookeeper};
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
    match bootstrap_from_zookeeper(zk).await {
        Ok(list) => Ok(list),
        Err(e) => {
            let local = local_broker();
            let why = match e {
                ZooKeeperError::NoBroker { .. } => {
                    format!("no broker is registered in ZooKeeper at {zk}")
                }
                e => e.to_string(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_of_the_flags_is_required() {
        let err = Brokers::from_flags(None, None, "bootstrap-server").unwrap_err();
        assert!(err.to_string().contains("bootstrap-server"));
        let b = Brokers::from_flags(Some("a:1".into()), Some("z:2".into()), "x").unwrap();
        assert_eq!(b, Brokers::Bootstrap("a:1".into()));
    }
}
