//! Finding the Kafka brokers through ZooKeeper, as Kafka's ZooKeeper-era clients did (the TP's
//! `--zookeeper localhost:2181`, `KafkaUtils.createStream(jssc, "localhost:2181", …)`, the sink's
//! `zookeeper.connect`).
//!
//! Brokers register themselves under `/brokers/ids/<id>` as JSON (Kafka 3.x's ZooKeeper layout):
//! `{"host":"h","port":9092,"endpoints":["PLAINTEXT://h:9092", …], …}`. Every endpoint of every
//! broker becomes a bootstrap server, in order: [`crate::Client::connect`] uses the first that
//! answers, so a lab node reaches `hadoop-master:9092` and the host falls back to the
//! `localhost` listener.

use std::time::Duration;

use serde::Deserialize;

/// How long connecting to the quorum may take before we give up with a clear error.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The session asked for: long enough for the few reads we make.
const SESSION_TIMEOUT: Duration = Duration::from_secs(6);

/// Why the brokers could not be read from ZooKeeper.
#[derive(Debug, thiserror::Error)]
pub enum ZooKeeperError {
    /// The quorum did not answer in time.
    #[error("ZooKeeper at {quorum}: connect: timed out after {CONNECT_TIMEOUT:?}")]
    Timeout {
        /// The quorum asked.
        quorum: String,
    },
    /// The quorum answered with an error.
    #[error("ZooKeeper at {quorum}: {what}: {source}")]
    ZooKeeper {
        /// The quorum asked.
        quorum: String,
        /// The step that failed (`connect`, `list /brokers/ids`, `read /brokers/ids/0`).
        what: String,
        /// The client's error.
        source: zookeeper_client::Error,
    },
    /// Brokers are registered, but none of their registrations gives an address.
    #[error("ZooKeeper at {quorum}: no usable broker registration: {reasons}")]
    Registration {
        /// The quorum asked.
        quorum: String,
        /// Each registration's path and what is wrong with it.
        reasons: String,
    },
    /// `/brokers/ids` is empty or missing.
    #[error(
        "no Kafka broker is registered in ZooKeeper at {quorum} (/brokers/ids is empty); \
         is the broker started with zookeeper.connect={quorum}?"
    )]
    NoBroker {
        /// The quorum asked.
        quorum: String,
    },
}

/// A `/brokers/ids/<id>` node whose data is not a broker registration we can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadRegistration(String);

/// The fields of a broker registration we use.
#[derive(Debug, Deserialize)]
struct Registration {
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    port: Option<i64>,
    #[serde(default)]
    endpoints: Vec<String>,
}

/// The `host:port` addresses of one broker registration (`/brokers/ids/<id>`'s data): its
/// endpoints in order, then its legacy `host`/`port`.
pub fn registration_addresses(json: &[u8]) -> Result<Vec<String>, BadRegistration> {
    let reg: Registration = serde_json::from_slice(json)
        .map_err(|e| BadRegistration(format!("not a broker registration: {e}")))?;
    let mut out = Vec::new();
    for endpoint in &reg.endpoints {
        let Some((_, address)) = endpoint.split_once("://") else {
            return Err(BadRegistration(format!(
                "endpoint {endpoint:?} is not LISTENER://host:port"
            )));
        };
        let address = match address.strip_prefix(':') {
            // An empty host means "every interface"; this machine is the one to ask.
            Some(port) => format!("localhost:{port}"),
            None => address.to_owned(),
        };
        out.push(address);
    }
    if let (Some(host), Some(port)) = (&reg.host, reg.port)
        && !host.is_empty()
        && port > 0
    {
        out.push(format!("{host}:{port}"));
    }
    if out.is_empty() {
        return Err(BadRegistration("no endpoint and no host/port".into()));
    }
    Ok(out)
}

/// Joins every broker's addresses into one bootstrap list, without duplicates.
fn bootstrap_list(per_broker: Vec<Vec<String>>) -> String {
    let mut all: Vec<String> = Vec::new();
    for address in per_broker.into_iter().flatten() {
        if !all.contains(&address) {
            all.push(address);
        }
    }
    all.join(",")
}

/// Reads the brokers registered in the ZooKeeper `quorum` (`host:port[,host:port…][/chroot]`)
/// and returns them as a Kafka bootstrap list for [`crate::Client::connect`]. A registration
/// that gives no address is skipped with a warning; an error when no broker is usable.
pub async fn bootstrap_from_zookeeper(quorum: &str) -> Result<String, ZooKeeperError> {
    let zk_err = |what: &str, source| ZooKeeperError::ZooKeeper {
        quorum: quorum.to_owned(),
        what: what.to_owned(),
        source,
    };
    let connect = zookeeper_client::Client::connector()
        .with_connection_timeout(CONNECT_TIMEOUT)
        .with_session_timeout(SESSION_TIMEOUT)
        .connect(quorum);
    let zk = tokio::time::timeout(CONNECT_TIMEOUT, connect)
        .await
        .map_err(|_| ZooKeeperError::Timeout {
            quorum: quorum.to_owned(),
        })?
        .map_err(|e| zk_err("connect", e))?;
    let ids = match zk.list_children("/brokers/ids").await {
        Ok(ids) => ids,
        Err(zookeeper_client::Error::NoNode) => Vec::new(),
        Err(e) => return Err(zk_err("list /brokers/ids", e)),
    };
    let mut per_broker = Vec::new();
    let mut bad = Vec::new();
    for id in &ids {
        let path = format!("/brokers/ids/{id}");
        match zk.get_data(&path).await {
            Ok((data, _)) => match registration_addresses(&data) {
                Ok(addresses) => per_broker.push(addresses),
                Err(reason) => {
                    tracing::warn!("{path} in ZooKeeper at {quorum}: {reason}; skipped");
                    bad.push(format!("{path}: {reason}"));
                }
            },
            // The broker left between the listing and the read.
            Err(zookeeper_client::Error::NoNode) => continue,
            Err(e) => return Err(zk_err(&format!("read {path}"), e)),
        }
    }
    if per_broker.is_empty() {
        let quorum = quorum.to_owned();
        return Err(if bad.is_empty() {
            ZooKeeperError::NoBroker { quorum }
        } else {
            ZooKeeperError::Registration {
                quorum,
                reasons: bad.join("; "),
            }
        });
    }
    Ok(bootstrap_list(per_broker))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kafka_3_registration_gives_its_endpoints_then_host_port() {
        let json =
            br#"{"listener_security_protocol_map":{"INTERNAL":"PLAINTEXT","EXTERNAL":"PLAINTEXT"},
            "endpoints":["INTERNAL://hadoop-master:9092","EXTERNAL://localhost:29092"],
            "jmx_port":-1,"features":{},"host":"hadoop-master","timestamp":"1520287440000",
            "port":9092,"version":5}"#;
        assert_eq!(
            registration_addresses(json).unwrap(),
            [
                "hadoop-master:9092",
                "localhost:29092",
                "hadoop-master:9092"
            ]
        );
    }

    #[test]
    fn a_plaintext_registration_gives_its_endpoint_first() {
        let json = br#"{"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT"},"endpoints":["PLAINTEXT://hadoop-master:9092"],"jmx_port":-1,"host":"hadoop-master","timestamp":"1","port":9092,"version":4}"#;
        assert_eq!(
            registration_addresses(json)
                .unwrap()
                .first()
                .map(String::as_str),
            Some("hadoop-master:9092")
        );
    }

    #[test]
    fn an_old_registration_with_host_and_port_only_works() {
        let json = br#"{"host":"broker1","port":9093,"version":1}"#;
        assert_eq!(registration_addresses(json).unwrap(), ["broker1:9093"]);
    }

    #[test]
    fn an_empty_endpoint_host_means_localhost() {
        let json = br#"{"endpoints":["PLAINTEXT://:9092"],"host":null,"port":-1}"#;
        assert_eq!(registration_addresses(json).unwrap(), ["localhost:9092"]);
    }

    #[test]
    fn bad_registrations_are_named() {
        let reason = |json: &[u8]| registration_addresses(json).unwrap_err().to_string();
        assert!(reason(b"not json").contains("not a broker"));
        assert!(reason(br#"{"endpoints":["h:1"]}"#).contains("h:1"));
        assert!(reason(br#"{"version":5}"#).contains("no endpoint"));
    }

    #[test]
    fn the_bootstrap_list_has_no_duplicates() {
        let list = bootstrap_list(vec![
            vec!["a:1".into(), "b:2".into(), "a:1".into()],
            vec!["c:3".into(), "b:2".into()],
        ]);
        assert_eq!(list, "a:1,b:2,c:3");
    }
}
