//! Response frames: size prefix, response header, body, as a list of byte chunks written with
//! one vectored write.
//!
//! Fetched record sets are not copied into the encoded frame: `kafka-protocol` only encodes
//! into one contiguous buffer, so each large record set is first swapped for a 16-byte marker
//! unique to the response, the (now small) response is encoded, and the frame is then cut at
//! each marker, whose place takes the record set's own length prefix and the record set itself
//! (a reference-counted [`Bytes`], the very buffer the log read). A marker that is not found
//! exactly once, in order, makes the response be encoded the ordinary way, record sets copied.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, FetchResponse, ResponseHeader, ResponseKind};
use kafka_protocol::protocol::Encodable;

/// Record sets below this size are copied into the frame: a separate chunk is not worth it.
const BY_REFERENCE_FROM: usize = 16 * 1024;

/// Length of a marker that stands for a record set while the response is encoded.
const MARKER_LEN: usize = 16;

/// Leading bytes all markers of one response have in common: they differ only in the low 32
/// bits, their index among the response's record sets.
const SHARED_PREFIX: usize = 12;

/// A response that cannot be encoded (a field out of its protocol range).
#[derive(Debug, thiserror::Error)]
#[error("cannot encode {api_key:?} v{version}: {reason}")]
pub(crate) struct EncodeError {
    api_key: ApiKey,
    version: i16,
    reason: String,
}

/// Encodes a response frame as chunks whose concatenation is the frame.
pub(crate) fn encode(
    api_key: ApiKey,
    version: i16,
    correlation_id: i32,
    mut body: ResponseKind,
) -> Result<Vec<Bytes>, EncodeError> {
    let fail = |reason: String| EncodeError {
        api_key,
        version,
        reason,
    };
    let flexible = api_key.response_header_version(version) >= 1;
    let taken = match &mut body {
        ResponseKind::Fetch(fetch) => swap_in_markers(fetch),
        _ => Vec::new(),
    };
    let frame = encode_contiguous(api_key, version, correlation_id, &body).map_err(fail)?;
    if taken.is_empty() {
        return Ok(vec![frame.freeze()]);
    }
    if let Some(chunks) = splice(frame, &taken, flexible) {
        return Ok(chunks);
    }
    if let ResponseKind::Fetch(fetch) = &mut body {
        restore(fetch, taken);
    }
    encode_contiguous(api_key, version, correlation_id, &body)
        .map(|frame| vec![frame.freeze()])
        .map_err(fail)
}

/// Size prefix, response header (in the API's header version), then the body, in one buffer.
fn encode_contiguous(
    api_key: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &ResponseKind,
) -> Result<BytesMut, String> {
    let mut header = ResponseHeader::default();
    header.correlation_id = correlation_id;
    let header_version = api_key.response_header_version(version);
    let mut out = BytesMut::with_capacity(256);
    out.put_i32(0);
    header
        .encode(&mut out, header_version)
        .and_then(|()| body.encode(&mut out, version))
        .map_err(|e| format!("{e:#}"))?;
    let size = out.len() - 4;
    set_size_prefix(&mut out, size)?;
    Ok(out)
}

/// Writes the frame's size (the bytes after the 4-byte prefix) into its first 4 bytes.
fn set_size_prefix(frame: &mut BytesMut, size: usize) -> Result<(), String> {
    let size = i32::try_from(size).map_err(|_| format!("a response of {size} bytes"))?;
    if let Some(prefix) = frame.get_mut(..4) {
        prefix.copy_from_slice(&size.to_be_bytes());
    }
    Ok(())
}

/// A record set taken out of a fetch response, and the marker now in its place.
struct Taken {
    marker: [u8; MARKER_LEN],
    records: Bytes,
}

/// A marker base no other response of this process uses: a random value drawn once, its top
/// half changed by a counter (drawing fresh randomness for each fetch cost a system call on
/// the fetch path). The marker's uniqueness in the frame is checked anyway ([`splice`]).
fn marker_base() -> u128 {
    static RANDOM: OnceLock<u128> = OnceLock::new();
    static RESPONSES: AtomicU64 = AtomicU64::new(0);
    let random = *RANDOM.get_or_init(|| uuid::Uuid::new_v4().as_u128());
    random ^ (u128::from(RESPONSES.fetch_add(1, Ordering::Relaxed)) << 64)
}

/// Replaces each large record set with a fresh marker, in encoding order.
fn swap_in_markers(fetch: &mut FetchResponse) -> Vec<Taken> {
    let base = marker_base();
    let mut taken = Vec::new();
    for data in fetch
        .responses
        .iter_mut()
        .flat_map(|t| t.partitions.iter_mut())
    {
        if data
            .records
            .as_ref()
            .is_some_and(|r| r.len() >= BY_REFERENCE_FROM)
        {
            let marker = (base ^ taken.len() as u128).to_be_bytes();
            let records = data
                .records
                .replace(Bytes::copy_from_slice(&marker))
                .unwrap_or_default();
            taken.push(Taken { marker, records });
        }
    }
    taken
}

/// Puts the record sets back in place of their markers, in the same order.
fn restore(fetch: &mut FetchResponse, taken: Vec<Taken>) {
    let mut taken = taken.into_iter().peekable();
    for data in fetch
        .responses
        .iter_mut()
        .flat_map(|t| t.partitions.iter_mut())
    {
        let next_marker = taken.peek().map(|t| t.marker);
        if next_marker.is_some_and(|m| data.records.as_deref() == Some(&m[..]))
            && let Some(t) = taken.next()
        {
            data.records = Some(t.records);
        }
    }
}

/// Cuts `frame` at each marker and puts the record set (and its length prefix) in its place.
/// None when a marker is not found exactly once and in order.
fn splice(mut frame: BytesMut, taken: &[Taken], flexible: bool) -> Option<Vec<Bytes>> {
    let positions = find_markers(&frame, taken)?;
    // The marker's own length prefix: an INT32, or an unsigned varint of length + 1 (always one
    // byte for 16) in flexible versions.
    let marker_prefix = if flexible { 1 } else { 4 };
    let mut prefixes = Vec::with_capacity(taken.len());
    for t in taken {
        let len = i32::try_from(t.records.len()).ok()?;
        prefixes.push(if flexible {
            unsigned_varint(len.unsigned_abs() + 1)
        } else {
            Bytes::copy_from_slice(&len.to_be_bytes())
        });
    }
    let grown: usize = taken
        .iter()
        .zip(&prefixes)
        .map(|(t, p)| p.len() + t.records.len())
        .sum();
    let size = frame.len() - 4 + grown - taken.len() * (marker_prefix + MARKER_LEN);
    set_size_prefix(&mut frame, size).ok()?;
    let mut frame = frame.freeze();
    let mut chunks = Vec::with_capacity(3 * taken.len() + 1);
    let mut cursor = 0;
    for ((t, prefix), at) in taken.iter().zip(prefixes).zip(positions) {
        let head = at.checked_sub(marker_prefix)?.checked_sub(cursor)?;
        chunks.push(frame.split_to(head));
        let _ = frame.split_to(marker_prefix + MARKER_LEN);
        cursor = at + MARKER_LEN;
        chunks.push(prefix);
        chunks.push(t.records.clone());
    }
    chunks.push(frame);
    Some(chunks)
}

/// Where each marker stands in `frame`, in one pass over it: None unless each is found exactly
/// once and in order. The markers of one response share their first [`SHARED_PREFIX`] bytes
/// (they differ by their index only), so that prefix is what is searched for.
fn find_markers(frame: &[u8], taken: &[Taken]) -> Option<Vec<usize>> {
    let prefix = taken.first()?.marker.get(..SHARED_PREFIX)?;
    let mut positions = vec![None; taken.len()];
    for at in memchr::memmem::find_iter(frame, prefix) {
        let Some(window) = frame.get(at..at + MARKER_LEN) else {
            continue;
        };
        let Some(i) = taken.iter().position(|t| t.marker[..] == *window) else {
            continue;
        };
        match positions.get_mut(i) {
            Some(slot @ None) => *slot = Some(at),
            _ => return None,
        }
    }
    let positions: Vec<usize> = positions.into_iter().collect::<Option<_>>()?;
    positions
        .windows(2)
        .all(|pair| pair.first() < pair.last())
        .then_some(positions)
}

/// The protocol's unsigned varint: 7 bits per byte, low bits first, high bit set on all but
/// the last byte.
fn unsigned_varint(mut value: u32) -> Bytes {
    let mut out = BytesMut::with_capacity(5);
    while value >= 0x80 {
        out.put_u8((value & 0x7f) as u8 | 0x80);
        value >>= 7;
    }
    out.put_u8(value as u8);
    out.freeze()
}

#[cfg(test)]
mod tests {
    use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
    use kafka_protocol::messages::{FetchResponse, TopicName};
    use kafka_protocol::protocol::StrBytes;

    use super::*;

    /// A fetch response with small and large record sets over two topics.
    fn fetch_response() -> FetchResponse {
        let mut response = FetchResponse::default();
        for (name, sizes) in [("a", [100, 20_000]), ("b", [70_000, 0])] {
            let mut topic = FetchableTopicResponse::default();
            topic.topic = TopicName(StrBytes::from_static_str(name));
            for (i, size) in sizes.into_iter().enumerate() {
                let mut data = PartitionData::default();
                data.partition_index = i as i32;
                data.high_watermark = 42;
                data.records = Some(Bytes::from(vec![i as u8 + 1; size]));
                topic.partitions.push(data);
            }
            response.responses.push(topic);
        }
        response
    }

    #[test]
    fn spliced_frames_equal_the_contiguous_encoding_in_every_version() {
        for version in 4..=12 {
            let body = ResponseKind::Fetch(fetch_response());
            let expected = encode_contiguous(ApiKey::Fetch, version, 7, &body).unwrap();
            let chunks = encode(ApiKey::Fetch, version, 7, body).unwrap();
            assert_eq!(chunks.len(), 7, "v{version}: two record sets by reference");
            assert_eq!(chunks.concat(), expected.as_ref(), "v{version}");
        }
    }

    #[test]
    fn a_marker_found_twice_is_refused() {
        let mut fetch = fetch_response();
        let taken = swap_in_markers(&mut fetch);
        fetch.responses[1].partitions[1].records = Some(Bytes::copy_from_slice(&taken[0].marker));
        let body = ResponseKind::Fetch(fetch);
        let frame = encode_contiguous(ApiKey::Fetch, 12, 7, &body).unwrap();
        assert!(splice(frame, &taken, true).is_none());
    }

    #[test]
    fn restoring_puts_the_record_sets_back() {
        let mut fetch = fetch_response();
        let taken = swap_in_markers(&mut fetch);
        assert_eq!(taken.len(), 2);
        assert_ne!(fetch, fetch_response());
        restore(&mut fetch, taken);
        assert_eq!(fetch, fetch_response());
    }
}
