//! Cluster administration for the tools: topics (create, delete, add partitions, describe) and
//! consumer groups (list, describe, committed offsets, log-end offsets for the lag).

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_protocol::messages::{
    CreatePartitionsRequest, CreateTopicsRequest, DeleteTopicsRequest, DescribeConfigsRequest,
    DescribeGroupsRequest, ListGroupsRequest,
};

use crate::client::{Client, Metadata};
use crate::consumer::list_offsets;
use crate::error::{Error, Result, check, check_with_message};
use crate::group::{decode_assignment, fetch_offsets};
use crate::records::TopicPartition;
use crate::requests;

/// A topic to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTopic {
    /// Its name.
    pub name: String,
    /// Partition count (-1: the broker's `num.partitions`).
    pub partitions: i32,
    /// Replication factor (-1: the broker's `default.replication.factor`).
    pub replication_factor: i16,
    /// Explicit replica placement per partition (`--replica-assignment`), instead of the two above.
    pub assignment: Vec<Vec<i32>>,
    /// Topic configs (`--config k=v`).
    pub configs: Vec<(String, String)>,
}

/// A consumer group as ListGroups reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupListing {
    /// `group.id`.
    pub group_id: String,
    /// `consumer` for consumer groups.
    pub protocol_type: String,
}

/// One member of a described group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMemberDescription {
    /// The member id.
    pub member_id: String,
    /// The member's `client.id`.
    pub client_id: String,
    /// The member's address as the coordinator saw it (`/127.0.0.1`).
    pub client_host: String,
    /// Its partitions (decoded from the consumer protocol's assignment).
    pub assignment: Vec<TopicPartition>,
}

/// A consumer group as DescribeGroups reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    /// `group.id`.
    pub group_id: String,
    /// `Stable`, `Empty`, `PreparingRebalance`, `Dead`…
    pub state: String,
    /// `consumer` for consumer groups.
    pub protocol_type: String,
    /// The assignor in use (`range`…).
    pub protocol: String,
    /// Its members.
    pub members: Vec<GroupMemberDescription>,
}

/// Administrative operations on a cluster.
#[derive(Debug, Clone)]
pub struct Admin {
    client: Client,
    timeout: Duration,
}

impl Admin {
    /// An admin client over `client`; `timeout` bounds how long the broker may take per change.
    pub fn new(client: Client, timeout: Duration) -> Admin {
        Admin { client, timeout }
    }

    fn timeout_ms(&self) -> i32 {
        i32::try_from(self.timeout.as_millis()).unwrap_or(i32::MAX)
    }

    /// The client underneath.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Every topic and broker.
    pub async fn metadata(&self) -> Result<Metadata> {
        self.client.refresh_metadata(None, false).await
    }

    /// Creates topics; the answer per topic, in the order given.
    pub async fn create_topics(&self, topics: &[NewTopic]) -> Result<Vec<(String, Result<()>)>> {
        let conn = self.client.controller_connection().await?;
        let version = conn.version::<CreateTopicsRequest>()?;
        let request = requests::create_topics(topics, self.timeout_ms());
        let response = conn.call_waiting(&request, version, self.timeout).await?;
        let mut answers: BTreeMap<String, (i16, Option<String>)> = response
            .topics
            .into_iter()
            .map(|t| {
                (
                    t.name.0.to_string(),
                    (t.error_code, t.error_message.map(|m| m.to_string())),
                )
            })
            .collect();
        Ok(topics
            .iter()
            .map(|t| {
                let result = match answers.remove(&t.name) {
                    Some((code, message)) => check_with_message(code, message.as_deref(), || {
                        format!("create topic {}", t.name)
                    }),
                    None => Err(Error::Invalid(format!("no answer about topic {}", t.name))),
                };
                (t.name.clone(), result)
            })
            .collect())
    }

    /// Deletes topics; the answer per topic, in the order given.
    pub async fn delete_topics(&self, topics: &[String]) -> Result<Vec<(String, Result<()>)>> {
        let conn = self.client.controller_connection().await?;
        let version = conn.version::<DeleteTopicsRequest>()?;
        let request = requests::delete_topics(topics, self.timeout_ms());
        let response = conn.call_waiting(&request, version, self.timeout).await?;
        let mut answers: BTreeMap<String, (i16, Option<String>)> = response
            .responses
            .into_iter()
            .filter_map(|r| {
                Some((
                    r.name?.0.to_string(),
                    (r.error_code, r.error_message.map(|m| m.to_string())),
                ))
            })
            .collect();
        for t in topics {
            self.client.invalidate(t);
        }
        Ok(topics
            .iter()
            .map(|t| {
                let result = match answers.remove(t) {
                    Some((code, message)) => {
                        check_with_message(code, message.as_deref(), || format!("delete topic {t}"))
                    }
                    None => Err(Error::Invalid(format!("no answer about topic {t}"))),
                };
                (t.clone(), result)
            })
            .collect())
    }

    /// Raises a topic's partition count to `total`.
    pub async fn create_partitions(&self, topic: &str, total: i32) -> Result<()> {
        let conn = self.client.controller_connection().await?;
        let version = conn.version::<CreatePartitionsRequest>()?;
        let request = requests::create_partitions(topic, total, self.timeout_ms());
        let response = conn.call_waiting(&request, version, self.timeout).await?;
        self.client.invalidate(topic);
        for r in response.results {
            check_with_message(r.error_code, r.error_message.as_deref(), || {
                format!("add partitions to {topic}")
            })?;
        }
        Ok(())
    }

    /// A topic's configs that differ from the defaults (its overrides), in the broker's order;
    /// what `kafka-topics.sh --describe` prints after `Configs:`.
    pub async fn topic_config_overrides(&self, topic: &str) -> Result<Vec<(String, String)>> {
        /// ConfigSource DEFAULT_CONFIG: the value nobody set.
        const DEFAULT_CONFIG: i8 = 5;
        let conn = self.client.any_connection().await?;
        let version = conn.version::<DescribeConfigsRequest>()?;
        let response = conn
            .call(&requests::describe_topic_configs(topic), version)
            .await?;
        let mut out = Vec::new();
        for r in response.results {
            check_with_message(r.error_code, r.error_message.as_deref(), || {
                format!("describe the configs of topic {topic}")
            })?;
            out.extend(
                r.configs
                    .into_iter()
                    .filter(|c| c.config_source != DEFAULT_CONFIG)
                    .map(|c| {
                        let value = if c.is_sensitive {
                            None
                        } else {
                            c.value.map(|v| v.to_string())
                        };
                        (c.name.to_string(), value.unwrap_or_else(|| "null".into()))
                    }),
            );
        }
        Ok(out)
    }

    /// Every group of every broker.
    pub async fn list_groups(&self) -> Result<Vec<GroupListing>> {
        let brokers: Vec<i32> = self
            .client
            .refresh_metadata(Some(&[]), false)
            .await?
            .brokers
            .into_keys()
            .collect();
        let mut out = Vec::new();
        for id in brokers {
            let conn = self.client.broker_connection(id).await?;
            let version = conn.version::<ListGroupsRequest>()?;
            let response = conn.call(&requests::list_groups(), version).await?;
            check(response.error_code, || {
                format!("list groups of broker {id}")
            })?;
            out.extend(response.groups.into_iter().map(|g| GroupListing {
                group_id: g.group_id.0.to_string(),
                protocol_type: g.protocol_type.to_string(),
            }));
        }
        out.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        out.dedup();
        Ok(out)
    }

    /// Describes one group (asking its coordinator).
    pub async fn describe_group(&self, group: &str) -> Result<GroupDescription> {
        let conn = self.client.coordinator_connection(group).await?;
        let version = conn.version::<DescribeGroupsRequest>()?;
        let request = requests::describe_groups(group);
        let response = conn.call(&request, version).await?;
        let g = response
            .groups
            .into_iter()
            .next()
            .ok_or_else(|| Error::Invalid(format!("no description of group {group}")))?;
        check_with_message(g.error_code, g.error_message.as_deref(), || {
            format!("describe group {group}")
        })?;
        let consumer = g.protocol_type.as_str() == "consumer";
        let mut members = Vec::new();
        for m in g.members {
            let assignment = if consumer {
                decode_assignment(m.member_assignment)?
            } else {
                Vec::new()
            };
            members.push(GroupMemberDescription {
                member_id: m.member_id.to_string(),
                client_id: m.client_id.to_string(),
                client_host: m.client_host.to_string(),
                assignment,
            });
        }
        Ok(GroupDescription {
            group_id: group.to_owned(),
            state: g.group_state.to_string(),
            protocol_type: g.protocol_type.to_string(),
            protocol: g.protocol_data.to_string(),
            members,
        })
    }

    /// A group's committed offsets, for every partition it has one for.
    pub async fn group_offsets(&self, group: &str) -> Result<BTreeMap<TopicPartition, i64>> {
        let conn = self.client.coordinator_connection(group).await?;
        fetch_offsets(&conn, group, None).await
    }

    /// The log-end offset (next offset to be written) of each partition.
    pub async fn end_offsets(
        &self,
        partitions: &[TopicPartition],
    ) -> Result<BTreeMap<TopicPartition, i64>> {
        list_offsets(&self.client, partitions, -1).await
    }

    /// The earliest offset still stored of each partition.
    pub async fn beginning_offsets(
        &self,
        partitions: &[TopicPartition],
    ) -> Result<BTreeMap<TopicPartition, i64>> {
        list_offsets(&self.client, partitions, -2).await
    }
}
