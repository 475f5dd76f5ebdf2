//! ZooKeeper watches that wake the cluster loop as soon as the state it reads changes, instead
//! of it noticing on its next poll: a broker's registration going (the controller elects new
//! leaders), a partition's state changing (the new leader and the followers take their roles),
//! topics and the controller coming and going.
//!
//! Every read of the loop goes through [`Watches`], which leaves a one-shot watch on the znode
//! unless one from an earlier read is still pending (ZooKeeper keeps one per znode and session
//! anyway; this keeps the client from piling up waiters). A watch that fires, or the session's
//! end, wakes the loop, whose next read arms the watch again.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;
use zookeeper_client as zk;

/// What a watch looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    /// The znode's data (and its deletion, or its creation while absent).
    Data,
    /// The znode's children.
    Children,
}

/// A pending watch: the session that set it, what and where.
type Armed = (i64, Kind, String);

/// The pending watches and the wake-up they trigger.
#[derive(Debug, Default)]
pub(crate) struct Watches {
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    armed: Mutex<HashSet<Armed>>,
    wake: Notify,
}

impl Shared {
    fn armed(&self) -> MutexGuard<'_, HashSet<Armed>> {
        self.armed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Watches {
    /// Waits until a watch fired (since the last wait).
    pub(crate) async fn changed(&self) {
        self.shared.wake.notified().await;
    }

    /// The data of `path` (None when absent), watching its change, deletion or creation.
    pub(crate) async fn data(
        &self,
        client: &zk::Client,
        path: &str,
    ) -> Result<Option<Vec<u8>>, zk::Error> {
        Ok(self.data_and_stat(client, path).await?.map(|(d, _)| d))
    }

    /// The data and stat of `path` (None when absent), watching its change, deletion or
    /// creation.
    pub(crate) async fn data_and_stat(
        &self,
        client: &zk::Client,
        path: &str,
    ) -> Result<Option<(Vec<u8>, zk::Stat)>, zk::Error> {
        let Some(key) = self.arm(client, Kind::Data, path) else {
            return absent_as_none(client.get_data(path).await);
        };
        match client.get_and_watch_data(path).await {
            Ok((data, stat, watcher)) => {
                self.wait_in_background(key, watcher);
                Ok(Some((data, stat)))
            }
            Err(zk::Error::NoNode) => {
                // No watch is left on an absent znode's data: watch for its creation instead.
                match client.check_and_watch_stat(path).await {
                    Ok((None, watcher)) => {
                        self.wait_in_background(key, watcher);
                        Ok(None)
                    }
                    Ok((Some(_), watcher)) => {
                        // Created meanwhile: the watch fires on its next change; read it now.
                        self.wait_in_background(key, watcher);
                        absent_as_none(client.get_data(path).await)
                    }
                    Err(e) => {
                        self.disarm(&key);
                        Err(e)
                    }
                }
            }
            Err(e) => {
                self.disarm(&key);
                Err(e)
            }
        }
    }

    /// The children of `path` (none when it is absent), watching them.
    pub(crate) async fn children(
        &self,
        client: &zk::Client,
        path: &str,
    ) -> Result<Vec<String>, zk::Error> {
        let Some(key) = self.arm(client, Kind::Children, path) else {
            return absent_as_none(client.list_children(path).await).map(Option::unwrap_or_default);
        };
        match client.list_and_watch_children(path).await {
            Ok((children, watcher)) => {
                self.wait_in_background(key, watcher);
                Ok(children)
            }
            Err(e) => {
                self.disarm(&key);
                match e {
                    zk::Error::NoNode => Ok(Vec::new()),
                    e => Err(e),
                }
            }
        }
    }

    /// Marks a watch on `path` as pending; None when one already is.
    fn arm(&self, client: &zk::Client, kind: Kind, path: &str) -> Option<Armed> {
        let key = (client.session_id().0, kind, path.to_string());
        self.shared.armed().insert(key.clone()).then_some(key)
    }

    fn disarm(&self, key: &Armed) {
        self.shared.armed().remove(key);
    }

    /// Waits for `watcher` in a task that then disarms `key` and wakes the loop.
    fn wait_in_background(&self, key: Armed, watcher: zk::OneshotWatcher) {
        let shared = Arc::clone(&self.shared);
        tokio::spawn(async move {
            let event = watcher.changed().await;
            tracing::debug!("ZooKeeper watch on {}: {:?}", key.2, event.event_type);
            shared.armed().remove(&key);
            shared.wake.notify_one();
        });
    }
}

/// A read's result with an absent znode as None.
fn absent_as_none<T>(r: Result<T, zk::Error>) -> Result<Option<T>, zk::Error> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(zk::Error::NoNode) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::cluster::session::persistent;

    /// A coordinator on a free port (stopped when the token drops) and a client of it.
    async fn server(dir: &std::path::Path) -> (zk::Client, tokio_util::sync::DropGuard) {
        let config = coordinator::Config::parse(&format!(
            "tickTime=500\ndataDir={}\nclientPort=0\nclientPortAddress=127.0.0.1\n",
            dir.display()
        ))
        .unwrap();
        let server = coordinator::Server::bind(config).await.unwrap();
        let addr = server.local_addr().unwrap();
        let stop = tokio_util::sync::CancellationToken::new();
        tokio::spawn(server.run(stop.clone()));
        let client = zk::Client::connect(&addr.to_string()).await.unwrap();
        (client, stop.drop_guard())
    }

    /// Waits for the wake-up (bounded, so a missing one fails instead of hanging).
    async fn woken(watches: &Watches) {
        tokio::time::timeout(Duration::from_secs(10), watches.changed())
            .await
            .expect("a fired watch wakes the loop");
    }

    /// How many watches are pending.
    fn pending(watches: &Watches) -> usize {
        watches.shared.armed().len()
    }

    #[tokio::test]
    async fn a_change_to_a_read_znode_wakes_the_loop_once_per_read() {
        let dir = tempfile::tempdir().unwrap();
        let (client, _stop) = server(dir.path()).await;
        let other = client.clone();
        let watches = Watches::default();
        other.create("/a", b"1", &persistent()).await.unwrap();
        assert_eq!(
            watches.data(&client, "/a").await.unwrap(),
            Some(b"1".to_vec())
        );
        // A second read while the watch is pending leaves no second waiter.
        assert_eq!(
            watches.data(&client, "/a").await.unwrap(),
            Some(b"1".to_vec())
        );
        assert_eq!(pending(&watches), 1);
        other.set_data("/a", b"2", None).await.unwrap();
        woken(&watches).await;
        assert_eq!(pending(&watches), 0, "fired: the next read arms it again");
        other.set_data("/a", b"3", None).await.unwrap();
        // Read again, it is watched again, deletion included.
        assert_eq!(
            watches.data(&client, "/a").await.unwrap(),
            Some(b"3".to_vec())
        );
        other.delete("/a", None).await.unwrap();
        woken(&watches).await;
    }

    #[tokio::test]
    async fn an_absent_znode_wakes_the_loop_when_created_and_children_when_they_change() {
        let dir = tempfile::tempdir().unwrap();
        let (client, _stop) = server(dir.path()).await;
        let watches = Watches::default();
        assert_eq!(watches.data(&client, "/late").await.unwrap(), None);
        assert_eq!(pending(&watches), 1, "watched for its creation");
        client.create("/late", b"x", &persistent()).await.unwrap();
        woken(&watches).await;
        assert!(watches.children(&client, "/late").await.unwrap().is_empty());
        client.create("/late/c", b"", &persistent()).await.unwrap();
        woken(&watches).await;
        assert_eq!(watches.children(&client, "/late").await.unwrap(), vec!["c"]);
    }
}
