//! kill -9 during a write storm, then a restart on the same data: every write a client saw
//! acknowledged is there, the zxid counter goes on, and sessions come back with their
//! ephemerals, which live until those sessions expire. Clients: the zookeeper-client crate.

// Test helpers outside #[test] functions: a panic there is the test failing, as intended.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use zookeeper_client as zk;

/// Paths and data of the writes a client saw acknowledged.
type Acked = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

fn options() -> zk::CreateOptions<'static> {
    zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all())
}

async fn client(port: u16, timeout: Duration) -> zk::Client {
    zk::Client::connector()
        .with_session_timeout(timeout)
        .connect(&format!("127.0.0.1:{port}"))
        .await
        .expect("connect")
}

#[test]
fn every_acknowledged_write_survives_kill_9() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    // Small snapCount: snapshots (and log rolls) happen during the storm too.
    let (server, port) = support::start_coordinator("snapCount=300");
    let acked: Acked = Arc::default();
    // A session whose ephemeral must outlive the restart, on a runtime of its own that is
    // dropped just before the kill: the client never closes the session nor comes back.
    let owner_rt = tokio::runtime::Runtime::new().unwrap();
    owner_rt.block_on(async {
        let owner = client(port, Duration::from_secs(8)).await;
        owner
            .create(
                "/storm-eph",
                b"e",
                &zk::CreateMode::Ephemeral.with_acls(zk::Acls::anyone_all()),
            )
            .await
            .unwrap();
        std::mem::forget(owner);
    });
    let last_zxid = rt.block_on(async {
        let c = client(port, Duration::from_secs(10)).await;
        c.create("/storm", b"", &options()).await.unwrap();
        let mut writers = Vec::new();
        for w in 0..8 {
            let acked = Arc::clone(&acked);
            let c = client(port, Duration::from_secs(10)).await;
            writers.push(tokio::spawn(async move {
                for n in 0.. {
                    let path = format!("/storm/w{w}-{n}");
                    let data = format!("{w}:{n}").into_bytes();
                    match c.create(&path, &data, &options()).await {
                        Ok(_) => acked.lock().unwrap().push((path, data)),
                        Err(_) => break,
                    }
                }
            }));
        }
        // Let the storm run until a good number of writes are acknowledged, then kill -9.
        let start = Instant::now();
        while acked.lock().unwrap().len() < 1500 && start.elapsed() < Duration::from_secs(60) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let (_, stat) = c.get_data("/storm").await.unwrap();
        stat.pzxid
    });
    owner_rt.shutdown_background();
    let dir = server.kill9();
    let snapshots = std::fs::read_dir(dir.path().join("zookeeper/lab-coordinator"))
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            let name = name.to_string_lossy();
            name.starts_with("snapshot.") && !name.ends_with(".tmp")
        })
        .count();
    assert!(
        snapshots > 0,
        "snapCount=300: snapshots were taken during the storm"
    );
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 1500, "the storm ran: {} writes", acked.len());

    let server = support::restart_coordinator(dir, port);
    rt.block_on(async {
        let c = client(port, Duration::from_secs(10)).await;
        let (eph, stat) = c
            .get_data("/storm-eph")
            .await
            .expect("the ephemeral survived the restart");
        assert_eq!(eph, b"e");
        assert_ne!(stat.ephemeral_owner, 0);
        for (path, data) in &acked {
            let got = c.get_data(path).await;
            assert!(
                matches!(&got, Ok((d, _)) if d == data),
                "{path} acknowledged but {got:?} after restart\n{}",
                server.stderr()
            );
        }
        let (stat, _) = c.create("/after", b"", &options()).await.unwrap();
        assert!(stat.czxid > last_zxid, "the zxid counter goes on");
        // The owner never comes back: its session expires and takes the ephemeral.
        let start = Instant::now();
        while c.check_stat("/storm-eph").await.unwrap().is_some() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the restored session never expired"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
}
