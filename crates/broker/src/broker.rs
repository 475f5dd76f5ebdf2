//! The broker's shared state: configuration, identity, topics, groups and producer ids. One
//! `Arc<Broker>` is shared by every connection.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::cluster::Cluster;
use crate::config::BrokerConfig;
use crate::groups::Groups;
use crate::groups::group::Timing;
use crate::producers::ProducerIds;
use crate::topics::Topics;

/// A listener as clients see it: the address Metadata gives those who came in through it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AdvertisedListener {
    /// The listener's name.
    pub(crate) name: String,
    /// The advertised host.
    pub(crate) host: String,
    /// The advertised port (the bound one when the configuration said 0).
    pub(crate) port: u16,
}

/// Everything a request handler may need.
#[derive(Debug)]
pub(crate) struct Broker {
    /// The configuration read at start.
    pub(crate) config: BrokerConfig,
    /// The cluster id, kept in `meta.properties` of the first log dir.
    pub(crate) cluster_id: String,
    /// One entry per configured listener, in configuration order.
    pub(crate) listeners: Vec<AdvertisedListener>,
    /// Topics and their partitions.
    pub(crate) topics: Topics,
    /// Consumer groups and their committed offsets.
    pub(crate) groups: Groups,
    /// Producer id allocation (InitProducerId).
    pub(crate) producer_ids: ProducerIds,
    /// Bumped after every append, so long-polling fetches wake up.
    pub(crate) appended: watch::Sender<u64>,
    /// The cluster this broker belongs to (`zookeeper.connect`); None standalone.
    pub(crate) cluster: Option<Arc<Cluster>>,
}

/// Why the broker could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A file in a log dir could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A partition log could not be opened.
    #[error("{0}")]
    Log(String),
    /// The broker could not join its cluster (ZooKeeper unreachable, broker.id taken).
    #[error("{0}")]
    Cluster(String),
    /// A listener could not be bound.
    #[error("cannot bind listener {name} on {addr}: {source}")]
    Bind {
        /// The listener's name.
        name: String,
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
}

impl Broker {
    /// Opens the state kept in the log dirs (topics, offsets, producer ids, cluster id).
    pub(crate) fn open(
        config: BrokerConfig,
        listeners: Vec<AdvertisedListener>,
    ) -> Result<Broker, StartError> {
        let state_dir = config.state_dir().to_path_buf();
        let io = |path: &Path| {
            let path = path.display().to_string();
            move |source| StartError::Io { path, source }
        };
        std::fs::create_dir_all(&state_dir).map_err(io(&state_dir))?;
        let cluster_id = read_or_create_meta(&state_dir, config.broker_id)?;
        let topics = Topics::open(&config)?;
        let groups = Groups::open(
            &state_dir,
            Timing {
                initial_rebalance_delay: config.group_initial_rebalance_delay,
                min_session_timeout: config.group_min_session_timeout,
                max_session_timeout: config.group_max_session_timeout,
            },
        )
        .map_err(io(&state_dir))?;
        let producer_ids =
            ProducerIds::open(&state_dir, topics.max_producer_id()).map_err(io(&state_dir))?;
        Ok(Broker {
            cluster: Cluster::from_config(&config),
            config,
            cluster_id,
            listeners,
            topics,
            groups,
            producer_ids,
            appended: watch::Sender::new(0),
        })
    }

    /// Wakes every fetch waiting for new data.
    pub(crate) fn notify_appended(&self) {
        self.appended.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// How often background work (retention, group timers) runs.
    pub(crate) fn group_tick() -> Duration {
        Duration::from_millis(100)
    }
}

/// Kafka's `meta.properties`: the cluster id and broker id this log dir belongs to.
fn read_or_create_meta(dir: &Path, broker_id: i32) -> Result<String, StartError> {
    let path = dir.join("meta.properties");
    if let Ok(text) = std::fs::read_to_string(&path)
        && let Some(id) = text
            .lines()
            .find_map(|l| l.strip_prefix("cluster.id="))
            .map(str::trim)
            .filter(|id| !id.is_empty())
    {
        return Ok(id.to_string());
    }
    let id = uuid::Uuid::new_v4().simple().to_string();
    let text = format!("version=0\nbroker.id={broker_id}\ncluster.id={id}\n");
    std::fs::write(&path, text).map_err(|source| StartError::Io {
        path: path.display().to_string(),
        source,
    })?;
    Ok(id)
}
