//! The broker's ZooKeeper session and its ephemeral registration at `/brokers/ids/N`.
//!
//! A registration left by this broker's previous process (killed before its session expired)
//! disappears within the session timeout, so a restart waits that long for it; one that is
//! still there afterwards belongs to a live broker, and the start is refused with its address.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use zookeeper_client as zk;

use super::Cluster;
use super::znodes::{self, Endpoint, Registration};
use crate::broker::Broker;

/// Why the broker could not join the cluster.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SessionError {
    /// ZooKeeper did not answer.
    #[error("cannot connect to ZooKeeper at {connect}: {source}")]
    Connect {
        /// `zookeeper.connect`.
        connect: String,
        /// Why.
        source: zk::Error,
    },
    /// Another live broker holds the id.
    #[error(
        "broker.id {id} is already registered at {path} by a live broker ({holder}, ZooKeeper \
         session 0x{session:x}); give this broker another broker.id"
    )]
    DuplicateId {
        /// The id.
        id: i32,
        /// The znode.
        path: String,
        /// The holder's endpoints.
        holder: String,
        /// The holder's session.
        session: i64,
    },
    /// A ZooKeeper operation failed.
    #[error("ZooKeeper {op} {path}: {source}")]
    Zk {
        /// The operation.
        op: &'static str,
        /// The znode.
        path: String,
        /// Why.
        source: zk::Error,
    },
}

/// Options for persistent znodes (open ACL, as Kafka without security).
pub(crate) fn persistent() -> zk::CreateOptions<'static> {
    zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all())
}

/// Options for ephemeral znodes.
pub(crate) fn ephemeral() -> zk::CreateOptions<'static> {
    zk::CreateMode::Ephemeral.with_acls(zk::Acls::anyone_all())
}

/// Creates `path` unless it exists.
pub(crate) async fn ensure(client: &zk::Client, path: &str, data: &[u8]) -> Result<(), zk::Error> {
    match client.create(path, data, &persistent()).await {
        Ok(_) | Err(zk::Error::NodeExists) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Connects a new session, creates Kafka's persistent parents and registers this broker.
pub(crate) async fn start(cluster: &Cluster, broker: &Broker) -> Result<(), SessionError> {
    let connector = zk::Client::connector()
        .with_session_timeout(cluster.session_timeout)
        .with_connection_timeout(Duration::from_secs(10));
    let client = tokio::time::timeout(Duration::from_secs(15), connector.connect(&cluster.connect))
        .await
        .unwrap_or(Err(zk::Error::Timeout))
        .map_err(|source| SessionError::Connect {
            connect: cluster.connect.clone(),
            source,
        })?;
    for path in znodes::PARENTS {
        ensure(&client, path, b"")
            .await
            .map_err(|source| SessionError::Zk {
                op: "create",
                path: (*path).to_string(),
                source,
            })?;
    }
    let id = cluster_id(&client, &broker.cluster_id)
        .await
        .map_err(|source| SessionError::Zk {
            op: "read or create",
            path: znodes::CLUSTER_ID.to_string(),
            source,
        })?;
    let _ = cluster.cluster_id.set(id);
    register(cluster, broker, &client).await?;
    tracing::info!(
        "registered broker {} at {} (ZooKeeper session 0x{:x})",
        cluster.me,
        znodes::broker_path(cluster.me),
        client.session_id().0
    );
    cluster.set_zk(Some(client));
    Ok(())
}

/// The id in `/cluster/id` (`{"version":"1","id":".."}`), created from `ours` when absent.
async fn cluster_id(client: &zk::Client, ours: &str) -> Result<String, zk::Error> {
    #[derive(serde::Serialize, serde::Deserialize)]
    struct ClusterId {
        version: String,
        id: String,
    }
    ensure(client, "/cluster", b"").await?;
    let mine = ClusterId {
        version: "1".into(),
        id: ours.to_string(),
    };
    let data = serde_json::to_vec(&mine).unwrap_or_default();
    match client
        .create(znodes::CLUSTER_ID, &data, &persistent())
        .await
    {
        Ok(_) => return Ok(mine.id),
        Err(zk::Error::NodeExists) => {}
        Err(e) => return Err(e),
    }
    let (data, _) = client.get_data(znodes::CLUSTER_ID).await?;
    Ok(serde_json::from_slice::<ClusterId>(&data).map_or(mine.id, |c| c.id))
}

/// Writes `/brokers/ids/N`, waiting up to the session timeout for a stale registration to go.
async fn register(
    cluster: &Cluster,
    broker: &Broker,
    client: &zk::Client,
) -> Result<(), SessionError> {
    let path = znodes::broker_path(cluster.me);
    let endpoints: Vec<Endpoint> = broker
        .listeners
        .iter()
        .map(|l| Endpoint {
            listener: l.name.clone(),
            host: l.host.clone(),
            port: l.port,
        })
        .collect();
    let registration = Registration::new(&endpoints, protocol_map(broker));
    let data = serde_json::to_vec(&registration).unwrap_or_default();
    let deadline = Instant::now() + cluster.session_timeout + Duration::from_secs(2);
    let mut warned = false;
    loop {
        match client.create(&path, &data, &ephemeral()).await {
            Ok(_) => return Ok(()),
            Err(zk::Error::NodeExists) => {}
            Err(source) => {
                return Err(SessionError::Zk {
                    op: "create",
                    path,
                    source,
                });
            }
        }
        let holder = match client.get_data(&path).await {
            Ok((bytes, stat)) => Some((bytes, stat.ephemeral_owner)),
            Err(zk::Error::NoNode) => None,
            Err(source) => {
                return Err(SessionError::Zk {
                    op: "read",
                    path,
                    source,
                });
            }
        };
        let Some((bytes, session)) = holder else {
            continue;
        };
        if Instant::now() >= deadline {
            let holder = serde_json::from_slice::<Registration>(&bytes)
                .map(|r| r.endpoints.join(","))
                .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned());
            return Err(SessionError::DuplicateId {
                id: cluster.me,
                path,
                holder,
                session,
            });
        }
        if !warned {
            tracing::warn!(
                "{path} is held by ZooKeeper session 0x{session:x}; waiting up to {:?} for it \
                 to expire (a previous run of this broker) before refusing the duplicate id",
                cluster.session_timeout
            );
            warned = true;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// `listener.security.protocol.map`, else each listener mapped to itself when it is a security
/// protocol's name, PLAINTEXT otherwise.
fn protocol_map(broker: &Broker) -> BTreeMap<String, String> {
    let configured: BTreeMap<String, String> = broker
        .config
        .raw
        .get("listener.security.protocol.map")
        .map(|m| {
            m.split(',')
                .filter_map(|pair| pair.split_once(':'))
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .collect()
        })
        .unwrap_or_default();
    broker
        .listeners
        .iter()
        .map(|l| {
            let protocol =
                configured
                    .get(&l.name)
                    .cloned()
                    .unwrap_or_else(|| match l.name.as_str() {
                        "SSL" | "SASL_PLAINTEXT" | "SASL_SSL" => l.name.clone(),
                        _ => "PLAINTEXT".to_string(),
                    });
            (l.name.clone(), protocol)
        })
        .collect()
}

/// True while the session is usable (connected or reconnecting, not expired or closed).
pub(crate) fn alive(cluster: &Cluster) -> bool {
    cluster.zk().is_some_and(|c| {
        !matches!(
            c.state(),
            zk::SessionState::Expired | zk::SessionState::Closed | zk::SessionState::AuthFailed
        )
    })
}

/// Drops the session's client, which closes the session (its ephemerals go at once).
pub(crate) fn close(cluster: &Cluster) {
    cluster.set_zk(None);
}
