//! Idempotent-producer ids unique across the cluster: each broker reserves blocks of 1000 ids
//! in `/latest_producer_id_block` (Kafka's znode and JSON), conditionally on the znode's
//! version, so two brokers never hand out the same id.

use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use zookeeper_client as zk;

use super::session::persistent;
use crate::broker::Broker;

/// Kafka's znode.
const PATH: &str = "/latest_producer_id_block";
/// Ids per block.
const BLOCK: i64 = 1000;

/// `/latest_producer_id_block` (Kafka writes the bounds as strings).
#[derive(Debug, Serialize, Deserialize)]
struct Block {
    version: i32,
    broker: i32,
    block_start: String,
    block_end: String,
}

/// The block this broker is handing out: (next, end inclusive).
#[derive(Debug, Default)]
pub(crate) struct Reserved(Mutex<Option<(i64, i64)>>);

/// A fresh producer id: from the cluster's blocks in cluster mode, else the broker's own.
pub(crate) async fn allocate(broker: &Broker) -> std::io::Result<i64> {
    let Some(cluster) = &broker.cluster else {
        return broker.producer_ids.allocate();
    };
    if let Some(id) = take(&cluster.producer_ids) {
        return Ok(id);
    }
    let client = cluster
        .zk()
        .ok_or_else(|| std::io::Error::other("no ZooKeeper session"))?;
    let (start, end) = reserve(&client, cluster.me)
        .await
        .map_err(|e| std::io::Error::other(format!("{PATH}: {e}")))?;
    let mut r = cluster
        .producer_ids
        .0
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    *r = Some((start + 1, end));
    Ok(start)
}

fn take(reserved: &Reserved) -> Option<i64> {
    let mut r = reserved
        .0
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let (next, end) = r.as_mut()?;
    if *next > *end {
        return None;
    }
    let id = *next;
    *next += 1;
    Some(id)
}

/// Reserves the block after the latest one.
async fn reserve(client: &zk::Client, me: i32) -> Result<(i64, i64), zk::Error> {
    loop {
        let (start, version) = match client.get_data(PATH).await {
            Ok((data, stat)) => {
                let last = serde_json::from_slice::<Block>(&data)
                    .ok()
                    .and_then(|b| b.block_end.parse::<i64>().ok())
                    .unwrap_or(-1);
                (last + 1, Some(stat.version))
            }
            Err(zk::Error::NoNode) => (0, None),
            Err(e) => return Err(e),
        };
        let end = start + BLOCK - 1;
        let block = Block {
            version: 1,
            broker: me,
            block_start: start.to_string(),
            block_end: end.to_string(),
        };
        let data = serde_json::to_vec(&block).unwrap_or_default();
        let written = match version {
            Some(v) => client.set_data(PATH, &data, Some(v)).await.map(|_| ()),
            None => client.create(PATH, &data, &persistent()).await.map(|_| ()),
        };
        match written {
            Ok(()) => return Ok((start, end)),
            Err(zk::Error::BadVersion | zk::Error::NodeExists) => continue,
            Err(e) => return Err(e),
        }
    }
}
