//! One client connection: frames in, requests decoded and served one after the other, responses
//! out in request order (clients pipeline requests and match answers by order and correlation
//! id). Responses are gathered and written together when no complete frame is left to serve.

use std::collections::VecDeque;
use std::io::IoSlice;
use std::sync::Arc;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind, ResponseKind};
use kafka_protocol::protocol::Decodable;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use crate::api;
use crate::frame::{FrameError, take_frame};
use crate::response;
use crate::session::Session;

/// Why a connection is closed by the broker (logged, never a panic).
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectionError {
    /// The size prefix was refused.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The request could not be understood.
    #[error("malformed request: {0}")]
    Malformed(String),
    /// A version or API that is not served and cannot be answered with an error.
    #[error("{0}")]
    Unsupported(String),
    /// The socket failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Serves `stream` until the client leaves, sends something malformed, or `shutdown` fires.
pub(crate) async fn serve(
    mut stream: TcpStream,
    session: Arc<Session>,
    shutdown: CancellationToken,
) -> Result<(), ConnectionError> {
    let max = session.broker.config.socket_request_max_bytes;
    let mut input = BytesMut::with_capacity(8 * 1024);
    let mut output = Outbox::default();
    loop {
        while let Some(frame) = take_frame(&mut input, max)? {
            let served = tokio::select! {
                r = serve_request(&session, frame) => r?,
                () = shutdown.cancelled() => return Ok(()),
            };
            for chunk in served.into_iter().flatten() {
                output.push(chunk);
            }
            if output.len > 1 << 20 {
                output.write_to(&mut stream).await?;
            }
        }
        output.write_to(&mut stream).await?;
        let read = tokio::select! {
            r = stream.read_buf(&mut input) => r?,
            () = shutdown.cancelled() => return Ok(()),
        };
        if read == 0 {
            if input.is_empty() {
                return Ok(());
            }
            return Err(ConnectionError::Malformed(format!(
                "connection closed inside a frame ({} bytes buffered)",
                input.len()
            )));
        }
    }
}

/// Decodes and serves one frame; returns the encoded response frame (as chunks), or `None`
/// when the request gets no answer (Produce with acks=0).
async fn serve_request(
    session: &Arc<Session>,
    mut frame: Bytes,
) -> Result<Option<Vec<Bytes>>, ConnectionError> {
    let (key, version) = peek_key_and_version(&frame)?;
    let api_key = ApiKey::try_from(key)
        .map_err(|()| ConnectionError::Unsupported(format!("unknown API key {key}")))?;
    let header = RequestHeader::decode(&mut frame, api_key.request_header_version(version))
        .map_err(|e| ConnectionError::Malformed(format!("{api_key:?} v{version} header: {e:#}")))?;
    session.client_id.get_or_init(|| {
        header
            .client_id
            .as_ref()
            .map(|c| c.to_string())
            .unwrap_or_default()
    });
    let route = api::route(api_key).filter(|r| r.serves(version));
    let (route, codec) = match route {
        Some(r) if api_key.valid_versions().min <= version => (r, version),
        _ if api_key == ApiKey::ApiVersions => {
            // Kafka answers an ApiVersions it cannot serve with a v0 error listing what it has.
            let body = ResponseKind::ApiVersions(api::unsupported_version_response());
            return encode_response(api_key, 0, header.correlation_id, body).map(Some);
        }
        _ => {
            return Err(ConnectionError::Unsupported(format!(
                "{api_key:?} v{version} is not served (client {:?})",
                header.client_id.as_deref().unwrap_or("")
            )));
        }
    };
    crate::bounds::check(api_key, version, &frame)
        .map_err(|e| ConnectionError::Malformed(format!("{api_key:?} v{version}: {e}")))?;
    let request = RequestKind::decode(api_key, &mut frame, codec)
        .map_err(|e| ConnectionError::Malformed(format!("{e:#}")))?;
    let silent = matches!(&request, RequestKind::Produce(p) if p.acks == 0);
    let response = route
        .handle(Arc::clone(session), version, request)
        .await
        .ok_or_else(|| ConnectionError::Malformed(format!("{api_key:?} routed wrongly")))?;
    if silent {
        return Ok(None);
    }
    encode_response(api_key, version, header.correlation_id, response).map(Some)
}

fn encode_response(
    api_key: ApiKey,
    version: i16,
    correlation_id: i32,
    body: ResponseKind,
) -> Result<Vec<Bytes>, ConnectionError> {
    response::encode(api_key, version, correlation_id, body)
        .map_err(|e| ConnectionError::Malformed(e.to_string()))
}

/// The API key and version at the start of a request, read without trusting the frame's length.
fn peek_key_and_version(frame: &[u8]) -> Result<(i16, i16), ConnectionError> {
    match frame.get(..4) {
        Some(&[k0, k1, v0, v1]) => Ok((i16::from_be_bytes([k0, k1]), i16::from_be_bytes([v0, v1]))),
        _ => Err(ConnectionError::Malformed(format!(
            "a request of {} bytes has no header",
            frame.len()
        ))),
    }
}

/// Responses waiting to be written: small chunks are gathered into one buffer, large ones (fetched
/// record sets) are kept as they are; all go out with vectored writes.
#[derive(Debug, Default)]
struct Outbox {
    /// Chunks in write order; `small` comes after them.
    chunks: VecDeque<Bytes>,
    /// Small chunks copied together since the last large one.
    small: BytesMut,
    /// Bytes waiting in total.
    len: usize,
}

impl Outbox {
    /// Chunks below this size are copied into `small`.
    const COPY_BELOW: usize = 4096;

    /// Queues `chunk` after everything already queued.
    fn push(&mut self, chunk: Bytes) {
        self.len += chunk.len();
        if chunk.len() < Self::COPY_BELOW {
            self.small.put_slice(&chunk);
        } else {
            self.seal_small();
            self.chunks.push_back(chunk);
        }
    }

    /// Moves what `small` gathered into the chunk queue.
    fn seal_small(&mut self) {
        if !self.small.is_empty() {
            self.chunks.push_back(self.small.split().freeze());
        }
    }

    /// Writes everything queued, up to 64 chunks per system call.
    async fn write_to(&mut self, stream: &mut TcpStream) -> std::io::Result<()> {
        self.seal_small();
        while !self.chunks.is_empty() {
            let mut slices = [IoSlice::new(&[]); 64];
            for (slice, chunk) in slices.iter_mut().zip(&self.chunks) {
                *slice = IoSlice::new(chunk);
            }
            let count = self.chunks.len().min(slices.len());
            let mut written = stream
                .write_vectored(slices.get(..count).unwrap_or(&[]))
                .await?;
            if written == 0 {
                return Err(std::io::ErrorKind::WriteZero.into());
            }
            self.len -= written;
            while let Some(front) = self.chunks.front_mut() {
                if front.len() > written {
                    front.advance(written);
                    break;
                }
                written -= front.len();
                self.chunks.pop_front();
            }
        }
        Ok(())
    }
}
