//! One TCP connection to one broker: ApiVersions on connect, then pipelined requests.
//!
//! Any number of tasks may call at once: a request is written under a lock together with its
//! place in the queue of awaited answers, and a reader task hands each response frame to the
//! oldest waiter (Kafka answers in request order on a connection), which decodes it. So a
//! long-poll Fetch does not hold up a commit on the same connection, and a producer can keep
//! several Produce requests in flight.

use std::collections::VecDeque;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{ApiVersionsRequest, ProduceRequest};
use kafka_protocol::protocol::Request;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{Mutex, oneshot};

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

/// A request written and not answered yet.
#[derive(Debug)]
struct Waiter {
    correlation_id: i32,
    reply: oneshot::Sender<Result<Bytes>>,
}

/// What the writers and the reader task share.
#[derive(Debug)]
struct Shared {
    addr: String,
    waiters: StdMutex<VecDeque<Waiter>>,
    broken: AtomicBool,
}

impl Shared {
    /// Marks the connection unusable and fails every waiter with `why`.
    fn fail(&self, why: &str) {
        self.broken.store(true, Ordering::Relaxed);
        let waiters = self
            .waiters
            .lock()
            .map(|mut w| std::mem::take(&mut *w))
            .unwrap_or_default();
        for w in waiters {
            let _ = w.reply.send(Err(Error::Io {
                addr: self.addr.clone(),
                source: std::io::Error::other(why.to_owned()),
            }));
        }
    }
}

/// The writing side: the socket and the next correlation id, taken together under one lock.
#[derive(Debug)]
struct Writer {
    stream: OwnedWriteHalf,
    next_correlation_id: i32,
}

/// A connection to one broker, with the API versions it advertised.
#[derive(Debug)]
pub struct Connection {
    config: ConnectionConfig,
    versions: BrokerVersions,
    writer: Mutex<Writer>,
    shared: Arc<Shared>,
    reader: tokio::task::JoinHandle<()>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.reader.abort();
    }
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
        let (read, write) = stream.into_split();
        let shared = Arc::new(Shared {
            addr: addr.to_owned(),
            waiters: StdMutex::new(VecDeque::new()),
            broken: AtomicBool::new(false),
        });
        let reader = tokio::spawn(read_responses(
            read,
            shared.clone(),
            config.max_response_bytes,
        ));
        let mut conn = Connection {
            config: config.clone(),
            versions: BrokerVersions::default(),
            writer: Mutex::new(Writer {
                stream: write,
                next_correlation_id: 1,
            }),
            shared,
            reader,
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
        &self.shared.addr
    }

    /// False once an I/O error, a timeout or a malformed frame made this connection unusable.
    pub fn is_usable(&self) -> bool {
        !self.shared.broken.load(Ordering::Relaxed)
    }

    /// The version of `R` both this client and the broker speak (the highest such).
    pub fn version<R: Request>(&self) -> Result<i16> {
        self.versions
            .pick(R::KEY)
            .ok_or_else(|| Error::UnsupportedVersion {
                addr: self.shared.addr.clone(),
                api: api_name(R::KEY),
                ours: ours(R::KEY)
                    .map(|(a, b)| format!("{a}..{b}"))
                    .unwrap_or_else(|| "none".into()),
            })
    }

    /// Sends `request` built for `version` (from [`Connection::version`]) and waits for its answer.
    /// The answer's array counts are checked before it is decoded ([`crate::bounds`]), so only
    /// APIs whose responses are described there are decoded; any other answer is an error.
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
        let mut writer = self.writer.lock().await;
        let id = writer.next_correlation_id;
        writer.next_correlation_id = id.wrapping_add(1);
        let frame = wire::encode_request(request, version, id, &self.config.client_id)?;
        self.write(&mut writer, &frame, ProduceRequest::KEY).await
    }

    async fn call_version<R: Request>(
        &self,
        request: &R,
        version: i16,
        wait: Option<Duration>,
    ) -> Result<R::Response> {
        self.send(request, version, wait.unwrap_or(Duration::ZERO))
            .await?
            .response()
            .await
    }

    /// Writes `request` now and returns its answer to await later: requests sent one after the
    /// other reach the broker, and are answered, in that order (`wait` as in
    /// [`Connection::call_waiting`]).
    pub async fn send<R: Request>(
        &self,
        request: &R,
        version: i16,
        wait: Duration,
    ) -> Result<Pending<R>> {
        let (reply, answer) = oneshot::channel();
        let mut writer = self.writer.lock().await;
        if !self.is_usable() {
            return Err(Error::Io {
                addr: self.shared.addr.clone(),
                source: std::io::Error::other("connection already failed"),
            });
        }
        let id = writer.next_correlation_id;
        writer.next_correlation_id = id.wrapping_add(1);
        let frame = wire::encode_request(request, version, id, &self.config.client_id)?;
        if let Ok(mut waiters) = self.shared.waiters.lock() {
            waiters.push_back(Waiter {
                correlation_id: id,
                reply,
            });
        }
        self.write(&mut writer, &frame, R::KEY).await?;
        Ok(Pending {
            answer,
            correlation_id: id,
            version,
            after: self.config.request_timeout + wait,
            shared: self.shared.clone(),
            request: PhantomData,
        })
    }

    /// Writes a whole frame under the request timeout; a failure fails the connection.
    async fn write(&self, writer: &mut Writer, frame: &[u8], key: i16) -> Result<()> {
        let after = self.config.request_timeout;
        match tokio::time::timeout(after, writer.stream.write_all(frame)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(source)) => {
                self.shared.fail(&source.to_string());
                Err(Error::Io {
                    addr: self.shared.addr.clone(),
                    source,
                })
            }
            Err(_) => {
                self.shared.fail("write timed out");
                Err(Error::Timeout {
                    addr: self.shared.addr.clone(),
                    api: api_name(key),
                    after,
                })
            }
        }
    }
}

/// A request written to a broker whose answer is still to be read ([`Connection::send`]).
#[derive(Debug)]
pub struct Pending<R> {
    answer: oneshot::Receiver<Result<Bytes>>,
    correlation_id: i32,
    version: i16,
    after: Duration,
    shared: Arc<Shared>,
    request: PhantomData<fn() -> R>,
}

impl<R: Request> Pending<R> {
    /// Waits for the answer (up to the request timeout plus the request's own wait).
    pub async fn response(self) -> Result<R::Response> {
        let body = match tokio::time::timeout(self.after, self.answer).await {
            Ok(Ok(body)) => body?,
            Ok(Err(_)) => {
                return Err(Error::Io {
                    addr: self.shared.addr.clone(),
                    source: std::io::Error::other("connection closed"),
                });
            }
            Err(_) => {
                // The answer may still come; the connection is not trusted any more.
                self.shared.broken.store(true, Ordering::Relaxed);
                return Err(Error::Timeout {
                    addr: self.shared.addr.clone(),
                    api: api_name(R::KEY),
                    after: self.after,
                });
            }
        };
        wire::decode_response::<R>(body, self.version, self.correlation_id, &self.shared.addr)
            .inspect_err(|_| self.shared.fail("malformed response"))
    }
}

/// The reader task: each response frame (length checked before allocating) goes to the oldest
/// waiter, whose correlation id it must carry; any failure fails the connection and every waiter.
async fn read_responses(mut read: OwnedReadHalf, shared: Arc<Shared>, max: usize) {
    let why = loop {
        let mut prefix = [0u8; 4];
        if let Err(e) = read.read_exact(&mut prefix).await {
            break format!("connection lost: {e}");
        }
        let len = match wire::frame_len(prefix, max, &shared.addr) {
            Ok(n) => n,
            Err(e) => break e.to_string(),
        };
        let mut body = BytesMut::zeroed(len);
        if let Err(e) = read.read_exact(&mut body).await {
            break format!("connection lost: {e}");
        }
        let body = body.freeze();
        let correlation_id = body
            .get(0..4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(i32::from_be_bytes);
        let waiter = shared.waiters.lock().ok().and_then(|mut w| w.pop_front());
        match waiter {
            Some(w) if Some(w.correlation_id) == correlation_id => {
                let _ = w.reply.send(Ok(body));
            }
            Some(w) => {
                let _ = w.reply.send(Err(Error::Codec {
                    addr: shared.addr.clone(),
                    api: "response",
                    reason: format!(
                        "correlation id {correlation_id:?} where {} was expected",
                        w.correlation_id
                    ),
                }));
                break "responses out of order".to_owned();
            }
            None => break "a response nobody asked for".to_owned(),
        }
    };
    tracing::debug!(addr = %shared.addr, "{why}");
    shared.fail(&why);
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::{Buf, BufMut};
    use kafka_protocol::messages::api_versions_response::ApiVersion;
    use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
    use kafka_protocol::messages::metadata_response::MetadataResponseTopic;
    use kafka_protocol::messages::{
        ApiKey, ApiVersionsResponse, MetadataRequest, MetadataResponse, ResponseHeader, TopicName,
    };
    use kafka_protocol::protocol::{
        Decodable, Encodable, HeaderVersion, StrBytes, decode_request_header_from_buffer,
    };
    use tokio::net::TcpListener;

    /// A minimal broker on a real socket: ApiVersions, then Metadata answered in order, echoing
    /// the topics asked for, the first answer held back so later requests queue behind it.
    /// `swap` answers the first two Metadata requests in the wrong order.
    async fn tiny_broker(swap: bool) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut held: Option<Vec<u8>> = None;
            let mut n = 0;
            loop {
                let mut len = [0u8; 4];
                if s.read_exact(&mut len).await.is_err() {
                    return;
                }
                let mut body = BytesMut::zeroed(i32::from_be_bytes(len) as usize);
                s.read_exact(&mut body).await.unwrap();
                let mut body = body.freeze();
                let header = decode_request_header_from_buffer(&mut body).unwrap();
                let v = header.request_api_version;
                let mut out = BytesMut::new();
                out.put_i32(0);
                if header.request_api_key == ApiKey::ApiVersions as i16 {
                    ResponseHeader::default()
                        .with_correlation_id(header.correlation_id)
                        .encode(&mut out, 0)
                        .unwrap();
                    ApiVersionsResponse::default()
                        .with_api_keys(vec![
                            ApiVersion::default()
                                .with_api_key(ApiKey::Metadata as i16)
                                .with_min_version(1)
                                .with_max_version(1),
                        ])
                        .encode(&mut out, 0)
                        .unwrap();
                } else {
                    let req = MetadataRequest::decode(&mut body, v).unwrap();
                    assert!(!body.has_remaining());
                    ResponseHeader::default()
                        .with_correlation_id(header.correlation_id)
                        .encode(&mut out, MetadataResponse::header_version(v))
                        .unwrap();
                    let topics = req
                        .topics
                        .unwrap_or_default()
                        .into_iter()
                        .map(|t| MetadataResponseTopic::default().with_name(t.name))
                        .collect();
                    MetadataResponse::default()
                        .with_topics(topics)
                        .encode(&mut out, v)
                        .unwrap();
                }
                let size = (out.len() - 4) as i32;
                out[0..4].copy_from_slice(&size.to_be_bytes());
                n += 1;
                if n == 2 {
                    held = Some(out.to_vec()); // the first Metadata answer waits
                    continue;
                }
                if n == 3 && swap {
                    s.write_all(&out).await.unwrap();
                    s.write_all(&held.take().unwrap()).await.unwrap();
                    continue;
                }
                if let Some(first) = held.take() {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    s.write_all(&first).await.unwrap();
                }
                s.write_all(&out).await.unwrap();
            }
        });
        addr
    }

    fn ask(topic: &str) -> MetadataRequest {
        MetadataRequest::default().with_topics(Some(vec![
            MetadataRequestTopic::default()
                .with_name(Some(TopicName(StrBytes::from_string(topic.into())))),
        ]))
    }

    fn names(r: &MetadataResponse) -> Vec<String> {
        r.topics
            .iter()
            .filter_map(|t| t.name.as_ref().map(|n| n.0.to_string()))
            .collect()
    }

    #[tokio::test]
    async fn concurrent_requests_each_get_their_own_answer() {
        let addr = tiny_broker(false).await;
        let conn = Connection::open(&addr, &ConnectionConfig::default())
            .await
            .unwrap();
        let (a, b) = (ask("a"), ask("b"));
        let (ra, rb) = tokio::join!(conn.call(&a, 1), conn.call(&b, 1));
        assert_eq!(names(&ra.unwrap()), ["a"]);
        assert_eq!(names(&rb.unwrap()), ["b"]);
        assert!(conn.is_usable());
    }

    #[tokio::test]
    async fn answers_out_of_order_fail_the_connection_not_the_caller_silently() {
        let addr = tiny_broker(true).await;
        let conn = Connection::open(&addr, &ConnectionConfig::default())
            .await
            .unwrap();
        let (a, b) = (ask("a"), ask("b"));
        let (ra, rb) = tokio::join!(conn.call(&a, 1), conn.call(&b, 1));
        assert!(ra.is_err() && rb.is_err(), "{ra:?} {rb:?}");
        assert!(!conn.is_usable());
    }
}
