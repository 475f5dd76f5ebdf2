//! Kafka framing without I/O: a request becomes `length ++ header ++ body`; a response frame's
//! length is checked before anything is allocated, then its header is decoded and its body's
//! array counts checked (`bounds`) before the body is decoded.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};

use crate::error::{Error, Result};
use crate::versions::api_name;

/// Encodes one request frame (with its 4-byte length prefix).
pub(crate) fn encode_request<R: Request>(
    request: &R,
    version: i16,
    correlation_id: i32,
    client_id: &str,
) -> Result<Bytes> {
    let codec_err = |e: anyhow::Error| Error::Codec {
        addr: String::new(),
        api: api_name(R::KEY),
        reason: format!("{e:#}"),
    };
    let header = RequestHeader::default()
        .with_request_api_key(R::KEY)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(StrBytes::from_string(client_id.to_owned())));
    let mut buf = BytesMut::with_capacity(64);
    buf.put_i32(0);
    header
        .encode(&mut buf, R::header_version(version))
        .map_err(codec_err)?;
    request.encode(&mut buf, version).map_err(codec_err)?;
    let len = i32::try_from(buf.len() - 4).map_err(|_| {
        Error::Invalid(format!(
            "{} request of {} bytes is too large",
            api_name(R::KEY),
            buf.len()
        ))
    })?;
    buf.get_mut(0..4)
        .ok_or_else(|| Error::Invalid("frame buffer lost its prefix".into()))?
        .copy_from_slice(&len.to_be_bytes());
    Ok(buf.freeze())
}

/// Checks a response's length prefix against `max` before its body is read.
pub(crate) fn frame_len(prefix: [u8; 4], max: usize, addr: &str) -> Result<usize> {
    let size = i32::from_be_bytes(prefix);
    match usize::try_from(size) {
        Ok(n) if n <= max && n >= 4 => Ok(n),
        _ => Err(Error::FrameSize {
            addr: addr.to_owned(),
            size: i64::from(size),
            max,
        }),
    }
}

/// Decodes a response frame body (without its length prefix): header, correlation check, body.
pub(crate) fn decode_response<R: Request>(
    mut body: Bytes,
    version: i16,
    correlation_id: i32,
    addr: &str,
) -> Result<R::Response> {
    let codec_err = |e: anyhow::Error| Error::Codec {
        addr: addr.to_owned(),
        api: api_name(R::KEY),
        reason: format!("{e:#}"),
    };
    let header_version = <R::Response as HeaderVersion>::header_version(version);
    let header = ResponseHeader::decode(&mut body, header_version).map_err(codec_err)?;
    if header.correlation_id != correlation_id {
        return Err(Error::Codec {
            addr: addr.to_owned(),
            api: api_name(R::KEY),
            reason: format!(
                "correlation id {} where {} was expected",
                header.correlation_id, correlation_id
            ),
        });
    }
    // The codec reserves memory for an array as soon as it reads the count: counts are
    // checked against the bytes left first.
    crate::bounds::check_response(R::KEY, version, &body).map_err(|reason| Error::Codec {
        addr: addr.to_owned(),
        api: api_name(R::KEY),
        reason,
    })?;
    let response = R::Response::decode(&mut body, version).map_err(codec_err)?;
    if body.has_remaining() {
        tracing::debug!(
            api = api_name(R::KEY),
            extra = body.remaining(),
            "response has trailing bytes"
        );
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};

    #[test]
    fn a_request_frame_carries_its_length_and_header() {
        let frame = encode_request(&ApiVersionsRequest::default(), 0, 7, "me").unwrap();
        let mut b = frame.clone();
        let len = b.get_i32();
        assert_eq!(len as usize, frame.len() - 4);
        assert_eq!(b.get_i16(), 18); // ApiVersions
        assert_eq!(b.get_i16(), 0);
        assert_eq!(b.get_i32(), 7);
        assert_eq!(b.get_i16(), 2); // client id length
        assert_eq!(&b[..2], b"me");
    }

    #[test]
    fn lengths_are_bounded_before_allocating() {
        assert_eq!(frame_len(100i32.to_be_bytes(), 1000, "x").unwrap(), 100);
        assert!(frame_len((-1i32).to_be_bytes(), 1000, "x").is_err());
        assert!(frame_len(1001i32.to_be_bytes(), 1000, "x").is_err());
        assert!(frame_len(2i32.to_be_bytes(), 1000, "x").is_err());
    }

    #[test]
    fn a_response_with_the_wrong_correlation_id_is_refused() {
        let mut buf = BytesMut::new();
        buf.put_i32(9); // correlation id
        ApiVersionsResponse::default().encode(&mut buf, 0).unwrap();
        let err = decode_response::<ApiVersionsRequest>(buf.clone().freeze(), 0, 8, "b:1");
        assert!(matches!(err, Err(Error::Codec { .. })));
        let ok = decode_response::<ApiVersionsRequest>(buf.freeze(), 0, 9, "b:1");
        assert!(ok.is_ok());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let garbage = Bytes::from_static(&[0, 0, 0, 1, 0xff, 0xff, 0xff]);
        assert!(decode_response::<ApiVersionsRequest>(garbage, 3, 1, "b:1").is_err());
    }
}
