//! One TCP connection to one broker: ApiVersions on connect, then one request at a time.
//!
//! Requests on a connection are serialised (a lock around the socket), which keeps the
//! correlation logic trivial; callers that must not wait behind a long-poll Fetch (heartbeats)
//! open a connection of their own with [`Connection::open`].

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{ApiVersionsRequest, ProduceRequest};
use kafka_protocol::protocol::Request;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

use crate::error::{Error, Result, check};
use crate::versions::{BrokerVersions, api_name, ours};
use crate::wire;

/// Settings shared by every connection of a client.
#[derive(Debug, Clone)]
pub struct ConnectionConfig {
    /// Sent in every request header; brokers show it in consumer-group descriptions.
    pub client_id: String,
    /// How long to wait for a TCP connection.
    pub connect_timeout: Duration,
    /// How long to wait for an answer, on top of any wait the request itself asks for.
    pub request_timeout: Duration,
    /// The largest response frame accepted.
    pub max_response_bytes: usize,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        ConnectionConfig {
            client_id: "labnode".into(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_response_bytes: 100 * 1024 * 1024,
        }
    }
}

/// A connection to one broker, with the API versions it advertised.
#[derive(Debug)]
pub struct Connection {
    addr: String,
    config: ConnectionConfig,
    versions: BrokerVersions,
    stream: Mutex<TcpStream>,
    next_correlation_id: AtomicI32,
    broken: AtomicBool,
}

impl Connection {
    /// Connects to `addr` (`host:port`) and asks which API versions it speaks.
    pub async fn open(addr: &str, config: &ConnectionConfig) -> Result<Connection> {
        let connect = TcpStream::connect(addr);
        let stream = match tokio::time::timeout(config.connect_timeout, connect).await {
            Ok(Ok(s)) => s,
            Ok(Err(source)) => {
                return Err(Error::Connect {
                    addr: addr.to_owned(),
                    source,
                });
            }
            Err(_) => {
                return Err(Error::Connect {
                    addr: addr.to_owned(),
                    source: std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"),
                });
            }
        };
        let _ = stream.set_nodelay(true);
        let mut conn = Connection {
            addr: addr.to_owned(),
            config: config.clone(),
            versions: BrokerVersions::default(),
            stream: Mutex::new(stream),
            next_correlation_id: AtomicI32::new(1),
            broken: AtomicBool::new(false),
        };
        let response = conn
            .call_version(&ApiVersionsRequest::default(), 0, None)
            .await?;
        check(response.error_code, || format!("ApiVersions from {addr}"))?;
        for api in &response.api_keys {
            conn.versions
                .insert(api.api_key, api.min_version, api.max_version);
        }
        tracing::debug!(addr, apis = response.api_keys.len(), "connected");
        Ok(conn)
    }

    /// The broker's `host:port`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// False once an I/O error or a malformed frame made this connection unusable.
    pub fn is_usable(&self) -> bool {
        !self.broken.load(Ordering::Relaxed)
    }

    /// The version of `R` both this client and the broker speak (the highest such).
    pub fn version<R: Request>(&self) -> Result<i16> {
        self.versions
            .pick(R::KEY)
            .ok_or_else(|| Error::UnsupportedVersion {
                addr: self.addr.clone(),
                api: api_name(R::KEY),
                ours: ours(R::KEY)
                    .map(|(a, b)| format!("{a}..{b}"))
                    .unwrap_or_else(|| "none".into()),
            })
    }

    /// Sends `request` built for `version` (from [`Connection::version`]) and waits for its answer.
    pub async fn call<R: Request>(&self, request: &R, version: i16) -> Result<R::Response> {
        self.call_version(request, version, None).await
    }

    /// Like [`Connection::call`] for a request that itself waits up to `wait` (a long-poll Fetch,
    /// a JoinGroup), so the timeout is that wait plus the request timeout.
    pub async fn call_waiting<R: Request>(
        &self,
        request: &R,
        version: i16,
        wait: Duration,
    ) -> Result<R::Response> {
        self.call_version(request, version, Some(wait)).await
    }

    /// Sends a Produce with acks=0: the broker sends nothing back.
    pub async fn send_without_response(
        &self,
        request: &ProduceRequest,
        version: i16,
    ) -> Result<()> {
        let id = self.next_correlation_id.fetch_add(1, Ordering::Relaxed);
        let frame = wire::encode_request(request, version, id, &self.config.client_id)?;
        let mut stream = self.stream.lock().await;
        self.io(
            ProduceRequest::KEY,
            Duration::ZERO,
            stream.write_all(&frame),
        )
        .await
    }

    async fn call_version<R: Request>(
        &self,
        request: &R,
        version: i16,
        wait: Option<Duration>,
    ) -> Result<R::Response> {
        let id = self.next_correlation_id.fetch_add(1, Ordering::Relaxed);
        let frame = wire::encode_request(request, version, id, &self.config.client_id)?;
        let extra = wait.unwrap_or(Duration::ZERO);
        let body = {
            let mut stream = self.stream.lock().await;
            self.io(R::KEY, extra, stream.write_all(&frame)).await?;
            let mut prefix = [0u8; 4];
            self.io(R::KEY, extra, stream.read_exact(&mut prefix))
                .await?;
            let len = wire::frame_len(prefix, self.config.max_response_bytes, &self.addr)
                .inspect_err(|_| self.broken.store(true, Ordering::Relaxed))?;
            let mut body = BytesMut::zeroed(len);
            self.io(R::KEY, extra, stream.read_exact(&mut body)).await?;
            Bytes::from(body)
        };
        wire::decode_response::<R>(body, version, id, &self.addr)
            .inspect_err(|_| self.broken.store(true, Ordering::Relaxed))
    }

    /// Runs one socket operation under the request timeout, marking the connection broken on failure.
    async fn io<T>(
        &self,
        key: i16,
        extra: Duration,
        op: impl Future<Output = std::io::Result<T>>,
    ) -> Result<()> {
        let after = self.config.request_timeout + extra;
        let result = match tokio::time::timeout(after, op).await {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(source)) => Err(Error::Io {
                addr: self.addr.clone(),
                source,
            }),
            Err(_) => Err(Error::Timeout {
                addr: self.addr.clone(),
                api: api_name(key),
                after,
            }),
        };
        self.broken.store(true, Ordering::Relaxed);
        result
    }
}
