//! Finding the Kafka brokers from the ZooKeeper quorum, as the TP's receiver did
//! (`KafkaUtils.createStream(jssc, "localhost:2181", …)`).
//!
//! Brokers register themselves under `/brokers/ids/<id>` as JSON (Kafka 3.x's ZooKeeper layout):
//! `{"host":"h","port":9092,"endpoints":["PLAINTEXT://h:9092", …], …}`. Every endpoint of every
//! broker becomes a bootstrap server, in order: the Kafka client uses the first that answers, so
//! a lab node reaches `hadoop-master:9092` and the host falls back to the `localhost` listener.

use std::time::Duration;

use serde::Deserialize;

use crate::Error;

/// How long the quorum may take to answer before we give up with a clear error.
const ZOOKEEPER_TIMEOUT: Duration = Duration::from_secs(15);

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

/// The `host:port` addresses of one broker registration (`/brokers/ids/<id>`'s data).
pub fn registration_addresses(json: &[u8]) -> Result<Vec<String>, String> {
    let reg: Registration =
        serde_json::from_slice(json).map_err(|e| format!("not a broker registration: {e}"))?;
    let mut out = Vec::new();
    for endpoint in &reg.endpoints {
        let Some((_, address)) = endpoint.split_once("://") else {
            return Err(format!("endpoint {endpoint:?} is not LISTENER://host:port"));
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
        return Err("no endpoint and no host/port".into());
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

/// Reads the registered brokers from the ZooKeeper `quorum` (`host:port[,host:port…][/chroot]`)
/// and returns them as a Kafka bootstrap list.
pub async fn brokers_from_zookeeper(quorum: &str) -> Result<String, Error> {
    let zk_err = |what: &str, e: &dyn std::fmt::Display| {
        Error::Discovery(format!("ZooKeeper at {quorum}: {what}: {e}"))
    };
    let connect = zookeeper_client::Client::connector()
        .with_session_timeout(Duration::from_secs(10))
        .connect(quorum);
    let zk = tokio::time::timeout(ZOOKEEPER_TIMEOUT, connect)
        .await
        .map_err(|e| zk_err("connect", &e))?
        .map_err(|e| zk_err("connect", &e))?;
    let ids = match zk.list_children("/brokers/ids").await {
        Ok(ids) => ids,
        Err(zookeeper_client::Error::NoNode) => Vec::new(),
        Err(e) => return Err(zk_err("list /brokers/ids", &e)),
    };
    let mut per_broker = Vec::new();
    for id in &ids {
        let path = format!("/brokers/ids/{id}");
        match zk.get_data(&path).await {
            Ok((data, _)) => per_broker.push(
                registration_addresses(&data)
                    .map_err(|reason| Error::Discovery(format!("{path} at {quorum}: {reason}")))?,
            ),
            // The broker left between the listing and the read.
            Err(zookeeper_client::Error::NoNode) => continue,
            Err(e) => return Err(zk_err(&format!("read {path}"), &e)),
        }
    }
    if per_broker.is_empty() {
        return Err(Error::Discovery(format!(
            "no Kafka broker is registered in ZooKeeper at {quorum} (/brokers/ids is empty); \
             is the broker started with zookeeper.connect={quorum}?"
        )));
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
        assert!(
            registration_addresses(b"not json")
                .unwrap_err()
                .contains("not a broker")
        );
        assert!(
            registration_addresses(br#"{"endpoints":["h:1"]}"#)
                .unwrap_err()
                .contains("h:1")
        );
        assert!(
            registration_addresses(br#"{"version":5}"#)
                .unwrap_err()
                .contains("no endpoint")
        );
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
