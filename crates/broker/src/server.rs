//! The broker server: binds every listener, accepts connections and serves them until the
//! shutdown token fires, then waits (bounded) for connections to finish and flushes the logs.
//! Shaped like mini-redis's `server.rs`: a listener plus a shutdown signal; tests bind port 0.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::broker::{AdvertisedListener, Broker, StartError};
use crate::config::BrokerConfig;
use crate::connection;
use crate::session::Session;

/// A broker whose listeners are bound, ready to [`run`](BrokerServer::run).
#[derive(Debug)]
pub struct BrokerServer {
    broker: Arc<Broker>,
    sockets: Vec<TcpListener>,
}

impl BrokerServer {
    /// Binds the configured listeners and opens the state in the log dirs (recovering the
    /// partition logs). A listener configured with port 0 gets a free port, which is also the
    /// port it advertises unless `advertised.listeners` says otherwise.
    pub async fn bind(config: BrokerConfig) -> Result<BrokerServer, StartError> {
        let mut sockets = Vec::new();
        let mut advertised = Vec::new();
        for l in &config.listeners {
            let host = if l.bind_host.is_empty() {
                "0.0.0.0"
            } else {
                l.bind_host.as_str()
            };
            let addr = format!("{host}:{}", l.bind_port);
            let socket = TcpListener::bind(&addr)
                .await
                .map_err(|source| StartError::Bind {
                    name: l.name.clone(),
                    addr: addr.clone(),
                    source,
                })?;
            let bound = socket.local_addr().map_err(|source| StartError::Bind {
                name: l.name.clone(),
                addr,
                source,
            })?;
            advertised.push(AdvertisedListener {
                name: l.name.clone(),
                host: l.advertised_host.clone(),
                port: if l.advertised_port == 0 {
                    bound.port()
                } else {
                    l.advertised_port
                },
            });
            sockets.push(socket);
        }
        // Opening recovers the logs: blocking file work, done once before serving.
        let broker = Broker::open(config, advertised)?;
        crate::cluster::join(&broker).await?;
        Ok(BrokerServer {
            broker: Arc::new(broker),
            sockets,
        })
    }

    /// The bound address of each listener, by name (in configuration order).
    pub fn local_addrs(&self) -> Vec<(String, SocketAddr)> {
        self.broker
            .listeners
            .iter()
            .zip(&self.sockets)
            .filter_map(|(l, s)| Some((l.name.clone(), s.local_addr().ok()?)))
            .collect()
    }

    /// Serves until the `shutdown` future completes (a signal, a cancelled token, …).
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        let token = CancellationToken::new();
        self.serve(token.clone(), async move {
            shutdown.await;
            token.cancel();
        })
        .await;
    }

    async fn serve(self, shutdown: CancellationToken, stop: impl std::future::Future<Output = ()>) {
        let tracker = TaskTracker::new();
        for (index, socket) in self.sockets.into_iter().enumerate() {
            let broker = Arc::clone(&self.broker);
            let shutdown = shutdown.clone();
            let tasks = tracker.clone();
            tracker.spawn(accept_loop(socket, index, broker, shutdown, tasks));
        }
        tracker.spawn(background(Arc::clone(&self.broker), shutdown.clone()));
        tracker.spawn(crate::cluster::run(
            Arc::clone(&self.broker),
            shutdown.clone(),
        ));
        for l in &self.broker.listeners {
            tracing::info!("listener {} advertised as {}:{}", l.name, l.host, l.port);
        }
        tracing::info!(
            "[KafkaServer id={}] started (cluster {})",
            self.broker.config.broker_id,
            self.broker.cluster_id
        );
        stop.await;
        tracker.close();
        if tokio::time::timeout(Duration::from_secs(10), tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("some connections did not finish within 10 s; closing anyway");
        }
        self.broker.topics.flush_all();
        tracing::info!(
            "[KafkaServer id={}] shut down completed",
            self.broker.config.broker_id
        );
    }
}

async fn accept_loop(
    socket: TcpListener,
    listener: usize,
    broker: Arc<Broker>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
) {
    loop {
        let accepted = tokio::select! {
            a = socket.accept() => a,
            () = shutdown.cancelled() => return,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors and the like: wait a little rather than spin.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let session = Arc::new(Session {
            broker: Arc::clone(&broker),
            listener,
            peer,
            client_id: OnceLock::new(),
        });
        let shutdown = shutdown.clone();
        tasks.spawn(async move {
            if let Err(e) = connection::serve(stream, session, shutdown).await {
                tracing::warn!("closing connection from {peer}: {e}");
            }
        });
    }
}

/// Group timers every tick; log retention every `log.retention.check.interval.ms`.
async fn background(broker: Arc<Broker>, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(Broker::group_tick());
    let mut last_retention = Instant::now();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shutdown.cancelled() => return,
        }
        broker.groups.tick(Instant::now());
        if last_retention.elapsed() >= broker.config.retention_check_interval {
            last_retention = Instant::now();
            let b = Arc::clone(&broker);
            let _ = tokio::task::spawn_blocking(move || b.topics.enforce_retention()).await;
        }
    }
}
