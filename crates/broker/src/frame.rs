//! Kafka's request framing: a big-endian `i32` size, then that many bytes.
//!
//! Two steps, as mini-redis does: look at what is buffered without allocating, then cut the
//! frame out. "Not yet complete" means read more; a size that is negative or above
//! `socket.request.max.bytes` is an error, found before anything is allocated for it.

use bytes::{Buf, Bytes, BytesMut};

/// A frame size that cannot be accepted; the connection that sent it is closed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    /// The size prefix is negative.
    #[error("negative frame size {0}")]
    Negative(i32),
    /// The size prefix is above `socket.request.max.bytes`.
    #[error("frame of {size} bytes is larger than socket.request.max.bytes ({max})")]
    TooLarge {
        /// The announced size.
        size: i32,
        /// The configured maximum.
        max: i32,
    },
}

/// Cuts the next complete frame out of `buf`, returning its body (size prefix removed).
///
/// `Ok(None)` means the frame is not complete yet; `buf` then has room reserved for the rest
/// (at most `max` bytes, already checked).
pub fn take_frame(buf: &mut BytesMut, max: i32) -> Result<Option<Bytes>, FrameError> {
    let Some(prefix) = buf.get(..4) else {
        return Ok(None);
    };
    let size = i32::from_be_bytes([
        prefix.first().copied().unwrap_or(0),
        prefix.get(1).copied().unwrap_or(0),
        prefix.get(2).copied().unwrap_or(0),
        prefix.get(3).copied().unwrap_or(0),
    ]);
    if size < 0 {
        return Err(FrameError::Negative(size));
    }
    if size > max {
        return Err(FrameError::TooLarge { size, max });
    }
    let body_len = size.unsigned_abs() as usize;
    let total = body_len.saturating_add(4);
    if buf.len() < total {
        buf.reserve(total - buf.len());
        return Ok(None);
    }
    buf.advance(4);
    Ok(Some(buf.split_to(body_len).freeze()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_frame_asks_for_more() {
        let mut b = BytesMut::from(&[0u8, 0, 0, 5, 1, 2][..]);
        assert_eq!(take_frame(&mut b, 100), Ok(None));
        b.extend_from_slice(&[3, 4, 5, 9]);
        assert_eq!(
            take_frame(&mut b, 100).unwrap().unwrap().as_ref(),
            &[1, 2, 3, 4, 5]
        );
        assert_eq!(b.as_ref(), &[9]);
    }

    #[test]
    fn negative_and_oversized_sizes_are_errors_before_allocation() {
        let mut b = BytesMut::from(&(-1i32).to_be_bytes()[..]);
        assert_eq!(take_frame(&mut b, 100), Err(FrameError::Negative(-1)));
        let mut b = BytesMut::from(&i32::MAX.to_be_bytes()[..]);
        assert!(matches!(
            take_frame(&mut b, 100),
            Err(FrameError::TooLarge { .. })
        ));
        assert!(b.capacity() < 1024);
    }

    #[test]
    fn an_empty_frame_is_a_frame() {
        let mut b = BytesMut::from(&[0u8, 0, 0, 0][..]);
        assert_eq!(take_frame(&mut b, 100).unwrap().unwrap().len(), 0);
    }
}
