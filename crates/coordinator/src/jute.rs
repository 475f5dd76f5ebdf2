//! The jute encoding ZooKeeper uses on the wire: big-endian integers, length-prefixed buffers
//! and strings (-1 = null), length-prefixed vectors. I/O-free, and every length is checked
//! against the bytes actually present before anything is allocated.

use thiserror::Error;

/// Why a jute record could not be decoded.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum DecodeError {
    /// The record ended before a field did.
    #[error("record truncated while reading {0}")]
    Truncated(&'static str),
    /// A length prefix was negative (other than -1 for null) or larger than what remains.
    #[error("bad length {len} for {what}")]
    BadLength {
        /// The field being read.
        what: &'static str,
        /// The length prefix found.
        len: i32,
    },
    /// A string field was not UTF-8.
    #[error("{0} is not valid UTF-8")]
    NotUtf8(&'static str),
    /// A field had a value the protocol does not allow.
    #[error("invalid {0}")]
    Invalid(&'static str),
}

/// Reads jute fields from a byte slice, front to back.
#[derive(Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over one record's bytes.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if n > self.buf.len() {
            return Err(DecodeError::Truncated(what));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let bytes = self.take(N, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    /// A 32-bit signed integer.
    pub fn int(&mut self, what: &'static str) -> Result<i32, DecodeError> {
        Ok(i32::from_be_bytes(self.array(what)?))
    }

    /// A 64-bit signed integer.
    pub fn long(&mut self, what: &'static str) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(self.array(what)?))
    }

    /// A one-byte boolean.
    pub fn boolean(&mut self, what: &'static str) -> Result<bool, DecodeError> {
        let [b] = self.array::<1>(what)?;
        Ok(b != 0)
    }

    /// A length prefix: -1 is null (`None`), other negatives and lengths beyond the record
    /// are errors.
    fn len(&mut self, what: &'static str, unit: usize) -> Result<Option<usize>, DecodeError> {
        let len = self.int(what)?;
        if len == -1 {
            return Ok(None);
        }
        let n = usize::try_from(len).map_err(|_| DecodeError::BadLength { what, len })?;
        if n.checked_mul(unit)
            .is_none_or(|bytes| bytes > self.buf.len())
        {
            return Err(DecodeError::BadLength { what, len });
        }
        Ok(Some(n))
    }

    /// A byte buffer; null reads as empty.
    pub fn buffer(&mut self, what: &'static str) -> Result<&'a [u8], DecodeError> {
        match self.len(what, 1)? {
            None => Ok(&[]),
            Some(n) => self.take(n, what),
        }
    }

    /// A UTF-8 string; null reads as empty.
    pub fn string(&mut self, what: &'static str) -> Result<String, DecodeError> {
        let bytes = self.buffer(what)?;
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| DecodeError::NotUtf8(what))
    }

    /// A vector of elements, each read by `item`; null reads as empty. Every element takes at
    /// least `min_item` bytes, which bounds the count before allocating.
    pub fn vector<T>(
        &mut self,
        what: &'static str,
        min_item: usize,
        mut item: impl FnMut(&mut Self) -> Result<T, DecodeError>,
    ) -> Result<Vec<T>, DecodeError> {
        let n = self.len(what, min_item.max(1))?.unwrap_or(0);
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(item(self)?);
        }
        Ok(out)
    }

    /// A vector of strings.
    pub fn strings(&mut self, what: &'static str) -> Result<Vec<String>, DecodeError> {
        self.vector(what, 4, |r| r.string(what))
    }
}

/// Appends jute fields to a byte vector.
#[derive(Debug, Default)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Self {
        Writer::default()
    }

    /// A writer that appends to `buf` (reusing its allocation).
    pub fn append_to(buf: Vec<u8>) -> Self {
        Writer { buf }
    }

    /// A writer that starts with a 4-byte frame length placeholder, filled by [`Writer::finish_frame`].
    pub fn frame() -> Self {
        Writer { buf: vec![0; 4] }
    }

    /// Fills the frame length placeholder and returns the frame.
    pub fn finish_frame(mut self) -> Vec<u8> {
        let len = i32::try_from(self.buf.len().saturating_sub(4)).unwrap_or(i32::MAX);
        if let Some(head) = self.buf.get_mut(..4) {
            head.copy_from_slice(&len.to_be_bytes());
        }
        self.buf
    }

    /// The bytes written.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// The bytes written so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Appends bytes already encoded.
    pub fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(bytes);
        self
    }

    /// A 32-bit signed integer.
    pub fn int(&mut self, v: i32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// A 64-bit signed integer.
    pub fn long(&mut self, v: i64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// A one-byte boolean.
    pub fn boolean(&mut self, v: bool) -> &mut Self {
        self.buf.push(u8::from(v));
        self
    }

    /// A length-prefixed byte buffer.
    pub fn buffer(&mut self, v: &[u8]) -> &mut Self {
        self.int(i32::try_from(v.len()).unwrap_or(i32::MAX));
        self.buf.extend_from_slice(v);
        self
    }

    /// A length-prefixed UTF-8 string.
    pub fn string(&mut self, v: &str) -> &mut Self {
        self.buffer(v.as_bytes())
    }

    /// A vector of strings.
    pub fn strings<S: AsRef<str>>(&mut self, v: &[S]) -> &mut Self {
        self.int(i32::try_from(v.len()).unwrap_or(i32::MAX));
        for s in v {
            self.string(s.as_ref());
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_of_every_field_kind() {
        let mut w = Writer::new();
        w.int(-7)
            .long(1 << 40)
            .boolean(true)
            .buffer(b"ab")
            .string("zé");
        w.strings(&["x", "yz"]);
        let bytes = w.into_bytes();
        let mut r = Reader::new(&bytes);
        assert_eq!(r.int("i"), Ok(-7));
        assert_eq!(r.long("l"), Ok(1 << 40));
        assert_eq!(r.boolean("b"), Ok(true));
        assert_eq!(r.buffer("buf"), Ok(&b"ab"[..]));
        assert_eq!(r.string("s").as_deref(), Ok("zé"));
        assert_eq!(r.strings("v"), Ok(vec!["x".to_owned(), "yz".to_owned()]));
        assert_eq!(r.remaining(), 0);
    }

    #[test]
    fn null_buffer_and_vector_read_as_empty() {
        let bytes = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        let mut r = Reader::new(&bytes);
        assert_eq!(r.buffer("b"), Ok(&[][..]));
        assert_eq!(r.strings("v"), Ok(vec![]));
    }

    #[test]
    fn lengths_beyond_the_record_are_refused_before_allocating() {
        let bytes = [0x7f, 0xff, 0xff, 0xff, 1, 2];
        assert!(matches!(
            Reader::new(&bytes).buffer("b"),
            Err(DecodeError::BadLength { .. })
        ));
        assert!(matches!(
            Reader::new(&bytes).strings("v"),
            Err(DecodeError::BadLength { .. })
        ));
        let negative = [0xff, 0xff, 0xff, 0xfe];
        assert!(matches!(
            Reader::new(&negative).buffer("b"),
            Err(DecodeError::BadLength { .. })
        ));
    }

    #[test]
    fn frames_carry_their_length() {
        let mut w = Writer::frame();
        w.int(5);
        assert_eq!(w.finish_frame(), vec![0, 0, 0, 4, 0, 0, 0, 5]);
    }
}
