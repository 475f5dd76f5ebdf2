//! Probes: application-level readiness tests of a service, run from the host. A coordinator is
//! ready when it answers `ruok` with `imok`, a broker when it answers a Metadata request from a
//! real Kafka client (rdkafka, independent of our own code), an HTTP service when it answers 2xx.

pub(crate) mod kafka;
pub(crate) mod report;
pub(crate) mod wordcount;
pub(crate) mod zookeeper;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde::Serialize;

use crate::spec::ProbeSpec;

/// The outcome of one check, as every report format shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct CheckResult {
    /// The lab it ran against.
    pub(crate) lab: String,
    /// What was checked.
    pub(crate) name: String,
    /// The node it is about (`-` for the whole lab).
    pub(crate) node: String,
    /// Whether it passed.
    pub(crate) passed: bool,
    /// How long it took, in milliseconds.
    pub(crate) millis: u128,
    /// What was seen: the evidence when it passed, the reason when it failed.
    pub(crate) detail: String,
    /// What it is worth (built-in checks are worth 0).
    pub(crate) points: u32,
}

/// How long one probe attempt may take.
const ATTEMPT: Duration = Duration::from_secs(3);

/// Runs one probe attempt against `addr`; `Err` says what was seen instead.
pub(crate) async fn probe(spec: &ProbeSpec, addr: SocketAddr) -> Result<(), String> {
    let spec = spec.clone();
    tokio::task::spawn_blocking(move || match spec {
        ProbeSpec::Tcp(_) => connect(addr).map(drop),
        ProbeSpec::Ruok(_) => ruok(addr),
        ProbeSpec::Kafka(_) => kafka_metadata(addr),
        ProbeSpec::Http { path, .. } => http_get(addr, &path),
    })
    .await
    .map_err(|e| format!("probe task failed: {e}"))?
}

/// A short human name of a probe, for progress lines.
pub(crate) fn describe(spec: &ProbeSpec) -> String {
    match spec {
        ProbeSpec::Tcp(p) => format!("tcp {p}"),
        ProbeSpec::Ruok(p) => format!("ruok → imok on {p}"),
        ProbeSpec::Kafka(p) => format!("Kafka Metadata on {p}"),
        ProbeSpec::Http { port, path } => format!("GET {path} on {port}"),
    }
}

fn connect(addr: SocketAddr) -> Result<TcpStream, String> {
    let stream =
        TcpStream::connect_timeout(&addr, ATTEMPT).map_err(|e| format!("connect {addr}: {e}"))?;
    stream
        .set_read_timeout(Some(ATTEMPT))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(ATTEMPT))
        .map_err(|e| e.to_string())?;
    Ok(stream)
}

fn read_all(mut stream: TcpStream, addr: SocketAddr, limit: usize) -> Result<Vec<u8>, String> {
    let mut buf = Vec::new();
    (&mut stream)
        .take(limit as u64)
        .read_to_end(&mut buf)
        .map_err(|e| format!("read from {addr}: {e}"))?;
    Ok(buf)
}

fn ruok(addr: SocketAddr) -> Result<(), String> {
    let mut stream = connect(addr)?;
    stream
        .write_all(b"ruok")
        .map_err(|e| format!("write to {addr}: {e}"))?;
    let answer = read_all(stream, addr, 64)?;
    if answer == b"imok" {
        Ok(())
    } else {
        Err(format!(
            "ruok on {addr} answered {:?}, expected \"imok\"",
            String::from_utf8_lossy(&answer)
        ))
    }
}

fn http_get(addr: SocketAddr, path: &str) -> Result<(), String> {
    http_body(addr, path).map(drop)
}

/// The body of a 2xx answer to `GET path` (at most 1 MiB).
pub(crate) fn http_body(addr: SocketAddr, path: &str) -> Result<String, String> {
    let mut stream = connect(addr)?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("write to {addr}: {e}"))?;
    let answer = read_all(stream, addr, 1 << 20)?;
    let text = String::from_utf8_lossy(&answer);
    let status = text.lines().next().unwrap_or_default();
    match status.split_whitespace().nth(1) {
        Some(code) if code.starts_with('2') => Ok(text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default()),
        _ => Err(format!("GET {path} on {addr} answered {status:?}")),
    }
}

fn kafka_metadata(addr: SocketAddr) -> Result<(), String> {
    if kafka::metadata(addr)?.brokers.is_empty() {
        return Err(format!("Metadata from {addr} lists no broker"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn serve_once(reply: &'static [u8]) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 512];
            let _ = s.read(&mut buf);
            s.write_all(reply).unwrap();
        });
        addr
    }

    #[tokio::test]
    async fn ruok_wants_imok() {
        assert_eq!(
            probe(&ProbeSpec::Ruok(0), serve_once(b"imok")).await,
            Ok(())
        );
        let err = probe(&ProbeSpec::Ruok(0), serve_once(b"nope"))
            .await
            .unwrap_err();
        assert!(err.contains("expected \"imok\""), "{err}");
    }

    #[tokio::test]
    async fn http_wants_2xx() {
        let ok = ProbeSpec::Http {
            port: 0,
            path: "/".into(),
        };
        assert_eq!(
            probe(&ok, serve_once(b"HTTP/1.1 200 OK\r\n\r\n")).await,
            Ok(())
        );
        let err = probe(&ok, serve_once(b"HTTP/1.1 503 Unavailable\r\n\r\n"))
            .await
            .unwrap_err();
        assert!(err.contains("503"), "{err}");
    }

    #[tokio::test]
    async fn a_connection_closed_without_an_answer_names_the_address() {
        // What Docker's port proxy does when nothing listens behind a published port: it takes
        // the connection, then closes it.
        let http = ProbeSpec::Http {
            port: 0,
            path: "/".into(),
        };
        for spec in [ProbeSpec::Ruok(0), http] {
            let addr = serve_once(b"");
            let err = probe(&spec, addr).await.unwrap_err();
            assert!(err.contains(&addr.to_string()), "{err}");
        }
    }

    #[tokio::test]
    async fn nothing_listening_is_a_failure() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        assert!(probe(&ProbeSpec::Tcp(0), addr).await.is_err());
    }
}
