//! A malformed response from a broker is an error on that connection, never an abort: a tiny
//! fake broker on a real socket answers with array counts of two billion in a few bytes, which
//! the codec alone would try to reserve hundreds of gigabytes for.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::time::Duration;

use kafka_client::{Connection, ConnectionConfig, Error};
use kafka_protocol::messages::MetadataRequest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Reads one request frame and returns its correlation id.
async fn read_request(stream: &mut TcpStream) -> i32 {
    let len = stream.read_i32().await.unwrap();
    let mut frame = vec![0; usize::try_from(len).unwrap()];
    stream.read_exact(&mut frame).await.unwrap();
    // api_key (2), api_version (2), correlation_id (4).
    i32::from_be_bytes(frame[4..8].try_into().unwrap())
}

/// Writes one response frame: the correlation id (header v0), then `body`.
async fn answer(stream: &mut TcpStream, correlation_id: i32, body: &[u8]) {
    let len = i32::try_from(4 + body.len()).unwrap();
    stream.write_i32(len).await.unwrap();
    stream.write_i32(correlation_id).await.unwrap();
    stream.write_all(body).await.unwrap();
}

/// ApiVersions v0: no error, then an api_keys count of i32::MAX and nothing else.
const HUGE_API_VERSIONS: &[u8] = &[0, 0, 0x7f, 0xff, 0xff, 0xff];

/// ApiVersions v0 advertising Metadata v1 only.
const METADATA_V1_ONLY: &[u8] = &[0, 0, 0, 0, 0, 1, 0, 3, 0, 1, 0, 1];

/// Metadata v1: no brokers, controller 1, then a topics count of i32::MAX.
const HUGE_METADATA: &[u8] = &[0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 0xff, 0xff, 0xff];

fn config() -> ConnectionConfig {
    ConnectionConfig {
        request_timeout: Duration::from_secs(10),
        ..ConnectionConfig::default()
    }
}

#[tokio::test]
async fn a_huge_array_count_in_the_first_response_is_an_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let id = read_request(&mut stream).await;
        answer(&mut stream, id, HUGE_API_VERSIONS).await;
        stream
    });
    let err = Connection::open(&addr, &config()).await.unwrap_err();
    assert!(matches!(err, Error::Codec { .. }), "{err}");
    assert!(err.to_string().contains("2147483647 elements"), "{err}");
    drop(server.await.unwrap());
}

#[tokio::test]
async fn a_huge_array_count_in_a_later_response_fails_that_connection_only() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let server = tokio::spawn(async move {
        let mut held = Vec::new();
        for huge in [true, false] {
            let (mut stream, _) = listener.accept().await.unwrap();
            let id = read_request(&mut stream).await;
            answer(&mut stream, id, METADATA_V1_ONLY).await;
            let id = read_request(&mut stream).await;
            let body: &[u8] = if huge {
                HUGE_METADATA
            } else {
                &[0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]
            };
            answer(&mut stream, id, body).await;
            held.push(stream);
        }
        held
    });
    let bad = Connection::open(&addr, &config()).await.unwrap();
    let err = bad.call(&MetadataRequest::default(), 1).await.unwrap_err();
    assert!(err.to_string().contains("2147483647 elements"), "{err}");
    assert!(!bad.is_usable(), "the connection that carried it is closed");
    // The process lives on, and a well-formed answer on another connection is decoded.
    let good = Connection::open(&addr, &config()).await.unwrap();
    let metadata = good.call(&MetadataRequest::default(), 1).await.unwrap();
    assert_eq!(metadata.controller_id.0, 1);
    assert!(metadata.topics.is_empty());
    drop(server.await.unwrap());
}
