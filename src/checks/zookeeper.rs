//! ZooKeeper checks through the `zookeeper-client` crate, a client independent of our own: the
//! Kafka cluster's controller as the brokers record it (`/controller`, `/controller_epoch`,
//! `/brokers/ids`, Kafka's ZooKeeper-mode layout).

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

/// How long connecting and each read may take.
const TIMEOUT: Duration = Duration::from_secs(5);

/// `/controller`'s data: `{"version":1,"brokerid":0,"timestamp":"…"}`.
#[derive(Debug, Deserialize)]
struct Controller {
    brokerid: i64,
}

/// The elected controller: a broker registered in `/brokers/ids` holds `/controller`.
pub(crate) async fn controller(addr: SocketAddr) -> Result<String, String> {
    tokio::time::timeout(TIMEOUT, read_controller(addr))
        .await
        .map_err(|_| format!("ZooKeeper at {addr} did not answer in {TIMEOUT:?}"))?
}

async fn read_controller(addr: SocketAddr) -> Result<String, String> {
    let zk = zookeeper_client::Client::connector()
        .with_session_timeout(TIMEOUT)
        .connect(&addr.to_string())
        .await
        .map_err(|e| format!("ZooKeeper at {addr}: connect: {e}"))?;
    let mut ids: Vec<i64> = match zk.list_children("/brokers/ids").await {
        Ok(ids) => ids.iter().filter_map(|id| id.parse().ok()).collect(),
        Err(zookeeper_client::Error::NoNode) => Vec::new(),
        Err(e) => return Err(format!("list /brokers/ids: {e}")),
    };
    ids.sort_unstable();
    let data = match zk.get_data("/controller").await {
        Ok((data, _)) => data,
        Err(zookeeper_client::Error::NoNode) => {
            return Err(format!(
                "no controller: /controller is missing (registered brokers {ids:?})"
            ));
        }
        Err(e) => return Err(format!("read /controller: {e}")),
    };
    let id = serde_json::from_slice::<Controller>(&data)
        .map_err(|e| {
            format!(
                "/controller holds {:?}, not a controller record: {e}",
                String::from_utf8_lossy(&data)
            )
        })?
        .brokerid;
    if !ids.contains(&id) {
        return Err(format!(
            "/controller names broker {id}, which is not registered (registered brokers {ids:?})"
        ));
    }
    let epoch = match zk.get_data("/controller_epoch").await {
        Ok((data, _)) => String::from_utf8_lossy(&data).trim().to_owned(),
        Err(e) => return Err(format!("read /controller_epoch: {e}")),
    };
    Ok(format!(
        "broker {id} is the controller (epoch {epoch}), brokers {ids:?} registered"
    ))
}
