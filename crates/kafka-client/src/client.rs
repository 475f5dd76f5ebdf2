//! The cluster as a client sees it: bootstrap servers, a metadata cache (brokers, topics,
//! partition leaders) and one pooled connection per broker address.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex as StdMutex};

use kafka_protocol::messages::{FindCoordinatorRequest, MetadataRequest, MetadataResponse};
use tokio::sync::Mutex;

use crate::connection::{Connection, ConnectionConfig};
use crate::error::{Error, ResponseError, Result, check_with_message};
use crate::requests;

/// Settings of a [`Client`].
#[derive(Debug, Clone, Default)]
pub struct ClientConfig {
    /// Settings of each connection.
    pub connection: ConnectionConfig,
}

/// A broker as the metadata describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerInfo {
    /// `broker.id`.
    pub id: i32,
    /// Advertised host.
    pub host: String,
    /// Advertised port.
    pub port: i32,
    /// Rack, if configured.
    pub rack: Option<String>,
}

impl BrokerInfo {
    /// `host:port`.
    pub fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// One partition of a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionMetadata {
    /// The partition index.
    pub partition: i32,
    /// The leader's broker id, -1 when there is none.
    pub leader: i32,
    /// The leader epoch (-1 when unknown).
    pub leader_epoch: i32,
    /// Replica broker ids.
    pub replicas: Vec<i32>,
    /// In-sync replica broker ids.
    pub isr: Vec<i32>,
    /// Offline replica broker ids.
    pub offline: Vec<i32>,
    /// The partition's error code (0 when fine).
    pub error_code: i16,
}

/// One topic as the metadata describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMetadata {
    /// The topic's name.
    pub name: String,
    /// The topic's id, as text (all zeros when the broker predates topic ids).
    pub topic_id: String,
    /// True for `__consumer_offsets` and the like.
    pub is_internal: bool,
    /// Partitions sorted by index.
    pub partitions: Vec<PartitionMetadata>,
    /// The topic's error code (0 when fine, 3 when it does not exist).
    pub error_code: i16,
}

/// A snapshot of the cluster's metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    /// The cluster id, when the broker sends one.
    pub cluster_id: Option<String>,
    /// The controller's broker id (-1 when unknown).
    pub controller_id: i32,
    /// Live brokers by id.
    pub brokers: BTreeMap<i32, BrokerInfo>,
    /// Topics by name (only those asked for, or all after a full refresh).
    pub topics: BTreeMap<String, TopicMetadata>,
}

impl Metadata {
    fn from_response(r: MetadataResponse) -> Metadata {
        let brokers = r
            .brokers
            .into_iter()
            .map(|b| {
                let info = BrokerInfo {
                    id: b.node_id.0,
                    host: b.host.to_string(),
                    port: b.port,
                    rack: b.rack.map(|r| r.to_string()),
                };
                (info.id, info)
            })
            .collect();
        let topics = r
            .topics
            .into_iter()
            .filter_map(|t| {
                let name = t.name?.0.to_string();
                let mut partitions: Vec<PartitionMetadata> = t
                    .partitions
                    .into_iter()
                    .map(|p| PartitionMetadata {
                        partition: p.partition_index,
                        leader: p.leader_id.0,
                        leader_epoch: p.leader_epoch,
                        replicas: p.replica_nodes.iter().map(|b| b.0).collect(),
                        isr: p.isr_nodes.iter().map(|b| b.0).collect(),
                        offline: p.offline_replicas.iter().map(|b| b.0).collect(),
                        error_code: p.error_code,
                    })
                    .collect();
                partitions.sort_by_key(|p| p.partition);
                let topic = TopicMetadata {
                    name: name.clone(),
                    topic_id: t.topic_id.to_string(),
                    is_internal: t.is_internal,
                    partitions,
                    error_code: t.error_code,
                };
                Some((name, topic))
            })
            .collect();
        Metadata {
            cluster_id: r.cluster_id.map(|c| c.to_string()),
            controller_id: r.controller_id.0,
            brokers,
            topics,
        }
    }
}

#[derive(Debug)]
struct Inner {
    config: ClientConfig,
    bootstrap: Vec<String>,
    metadata: StdMutex<Metadata>,
    connections: Mutex<HashMap<String, Arc<Connection>>>,
}

/// A handle on a Kafka cluster, cheap to clone and shared by producers, consumers and admin.
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl Client {
    /// Connects to the first answering server of `bootstrap` (`host:port[,host:port…]`) and
    /// reads the cluster's brokers.
    pub async fn connect(bootstrap: &str, config: ClientConfig) -> Result<Client> {
        let servers: Vec<String> = bootstrap
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if servers.is_empty() {
            return Err(Error::Invalid("no bootstrap server given".into()));
        }
        if let Some(bad) = servers.iter().find(|s| !s.contains(':')) {
            return Err(Error::Invalid(format!(
                "bootstrap server '{bad}' is not host:port"
            )));
        }
        let client = Client {
            inner: Arc::new(Inner {
                config,
                bootstrap: servers,
                metadata: StdMutex::new(Metadata::default()),
                connections: Mutex::new(HashMap::new()),
            }),
        };
        client.refresh_metadata(Some(&[]), false).await?;
        Ok(client)
    }

    /// The client's settings.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// The last metadata read (brokers and the topics asked for so far).
    pub fn metadata(&self) -> Metadata {
        self.inner
            .metadata
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default()
    }

    /// A pooled connection to `addr`, opened if needed (or if the previous one broke).
    pub async fn connection(&self, addr: &str) -> Result<Arc<Connection>> {
        if let Some(c) = self.pooled(addr).await {
            return Ok(c);
        }
        // Connect without holding the pool, so a dead broker does not hold up the live ones.
        let conn = Arc::new(Connection::open(addr, &self.inner.config.connection).await?);
        let mut pool = self.inner.connections.lock().await;
        match pool.get(addr) {
            // Another task connected meanwhile: share its connection, drop ours.
            Some(c) if c.is_usable() => Ok(c.clone()),
            _ => {
                pool.insert(addr.to_owned(), conn.clone());
                Ok(conn)
            }
        }
    }

    async fn pooled(&self, addr: &str) -> Option<Arc<Connection>> {
        let pool = self.inner.connections.lock().await;
        pool.get(addr).filter(|c| c.is_usable()).cloned()
    }

    /// A connection to the broker with this id.
    pub async fn broker_connection(&self, id: i32) -> Result<Arc<Connection>> {
        let addr = self
            .metadata()
            .brokers
            .get(&id)
            .map(BrokerInfo::addr)
            .ok_or_else(|| Error::Invalid(format!("broker {id} is not in the metadata")))?;
        self.connection(&addr).await
    }

    /// A connection to any live broker: a known one first, else a bootstrap server.
    pub async fn any_connection(&self) -> Result<Arc<Connection>> {
        let mut candidates: Vec<String> = self
            .metadata()
            .brokers
            .values()
            .map(BrokerInfo::addr)
            .collect();
        candidates.extend(self.inner.bootstrap.iter().cloned());
        let mut last = None;
        for addr in candidates {
            match self.connection(&addr).await {
                Ok(c) => return Ok(c),
                Err(e) => last = Some(e),
            }
        }
        Err(Error::NoBroker {
            bootstrap: self.inner.bootstrap.join(","),
            last: Box::new(last.unwrap_or_else(|| Error::Invalid("no broker known".into()))),
        })
    }

    /// A connection to the controller (where topic changes go), or any broker if unknown.
    pub async fn controller_connection(&self) -> Result<Arc<Connection>> {
        let id = self.metadata().controller_id;
        if id >= 0
            && let Ok(c) = self.broker_connection(id).await
        {
            return Ok(c);
        }
        self.any_connection().await
    }

    /// Reads metadata for `topics` (`None`: all topics; `Some(&[])`: brokers only), merges it into
    /// the cache and returns the answer. `auto_create` lets the broker create missing topics.
    pub async fn refresh_metadata(
        &self,
        topics: Option<&[String]>,
        auto_create: bool,
    ) -> Result<Metadata> {
        let conn = self.any_connection().await?;
        let version = conn.version::<MetadataRequest>()?;
        let request = requests::metadata(topics, auto_create, version);
        let response = conn.call(&request, version).await?;
        let fresh = Metadata::from_response(response);
        if let Ok(mut cache) = self.inner.metadata.lock() {
            cache.cluster_id = fresh.cluster_id.clone();
            cache.controller_id = fresh.controller_id;
            cache.brokers = fresh.brokers.clone();
            if topics.is_none() {
                cache.topics.clear();
            }
            for (name, t) in &fresh.topics {
                if t.error_code == 0 {
                    cache.topics.insert(name.clone(), t.clone());
                } else {
                    cache.topics.remove(name);
                }
            }
        }
        Ok(fresh)
    }

    /// A topic's metadata, from the cache or freshly read; an error if it does not exist.
    pub async fn topic(&self, name: &str, auto_create: bool) -> Result<TopicMetadata> {
        let cached = self
            .inner
            .metadata
            .lock()
            .ok()
            .and_then(|m| m.topics.get(name).cloned());
        if let Some(t) = cached {
            return Ok(t);
        }
        let fresh = self
            .refresh_metadata(Some(&[name.to_owned()]), auto_create)
            .await?;
        let topic = fresh
            .topics
            .get(name)
            .ok_or_else(|| Error::UnknownTopic(name.to_owned()))?;
        if topic.error_code == ResponseError::UnknownTopicOrPartition.code() {
            return Err(Error::UnknownTopic(name.to_owned()));
        }
        check_with_message(topic.error_code, None, || {
            format!("metadata of topic {name}")
        })?;
        Ok(topic.clone())
    }

    /// Forgets the cached metadata of `topic`, so the next lookup asks the cluster.
    pub fn invalidate(&self, topic: &str) {
        if let Ok(mut cache) = self.inner.metadata.lock() {
            cache.topics.remove(topic);
        }
    }

    /// The leader's id of a partition, from the cache.
    pub async fn leader(&self, topic: &str, partition: i32) -> Result<i32> {
        let t = self.topic(topic, false).await?;
        t.partitions
            .iter()
            .find(|p| p.partition == partition)
            .map(|p| p.leader)
            .filter(|&l| l >= 0)
            .ok_or_else(|| Error::NoLeader {
                topic: topic.to_owned(),
                partition,
            })
    }

    /// A connection to the leader of a partition.
    pub async fn leader_connection(&self, topic: &str, partition: i32) -> Result<Arc<Connection>> {
        let leader = self.leader(topic, partition).await?;
        self.broker_connection(leader).await
    }

    /// The coordinator of consumer group `group` (FindCoordinator).
    pub async fn coordinator(&self, group: &str) -> Result<BrokerInfo> {
        let conn = self.any_connection().await?;
        let version = conn.version::<FindCoordinatorRequest>()?;
        let request = requests::find_coordinator(group);
        let r = conn.call(&request, version).await?;
        check_with_message(r.error_code, r.error_message.as_deref(), || {
            format!("find the coordinator of group {group}")
        })?;
        Ok(BrokerInfo {
            id: r.node_id.0,
            host: r.host.to_string(),
            port: r.port,
            rack: None,
        })
    }

    /// The `host:port` of the coordinator of consumer group `group`.
    pub async fn coordinator_addr(&self, group: &str) -> Result<String> {
        Ok(self.coordinator(group).await?.addr())
    }

    /// A pooled connection to the coordinator of consumer group `group`.
    pub async fn coordinator_connection(&self, group: &str) -> Result<Arc<Connection>> {
        let addr = self.coordinator_addr(group).await?;
        self.connection(&addr).await
    }
}
