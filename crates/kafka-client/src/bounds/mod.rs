//! Checks a message body's array counts before the codec sees it.
//!
//! The `kafka-protocol` decoder reserves `count × element size` for an array as soon as it
//! reads the count, before reading any element. A 70-byte frame announcing two billion entries
//! would make it ask the allocator for hundreds of gigabytes, and an allocation failure aborts
//! the process. Every array element takes at least one byte on the wire, so a count larger
//! than the bytes left in the frame cannot be honest: this walker, driven by a compact
//! description of a message (field order and the versions each field exists in, from Kafka's
//! message specs), refuses such a body first. Strings, byte fields and tagged fields are only
//! skipped (the codec bounds them itself).
//!
//! The client describes every response it decodes (`responses`); the broker describes the
//! requests it serves with the same [`Field`]s and calls [`walk`].

mod responses;

pub(crate) use responses::check_response;

/// What one field is on the wire.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// int8.
    I8,
    /// int16.
    I16,
    /// int32.
    I32,
    /// int64.
    I64,
    /// A boolean (one byte).
    Bool,
    /// A UUID (16 bytes).
    Uuid,
    /// A (nullable) string.
    Str,
    /// (Nullable) bytes, record batches included.
    Bytes,
    /// An array of int32.
    Ints,
    /// An array of strings.
    Strs,
    /// An array of structs.
    Structs(&'static [Field]),
}

/// A field and the versions it is present in.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    kind: Kind,
    min: i16,
    max: i16,
}

/// Present in every version.
pub const fn all(kind: Kind) -> Field {
    between(0, i16::MAX, kind)
}

/// Present from version `min` on.
pub const fn from(min: i16, kind: Kind) -> Field {
    between(min, i16::MAX, kind)
}

/// Present up to version `max`.
pub const fn until(max: i16, kind: Kind) -> Field {
    between(0, max, kind)
}

/// Present in versions `min..=max`.
pub const fn between(min: i16, max: i16, kind: Kind) -> Field {
    Field { kind, min, max }
}

/// Walks a body described by `fields` at `version` (`flexible`: compact lengths and tagged
/// fields, i.e. the request header is v2 at this version), refusing an array count above the
/// bytes left or a body that ends before its fields do. Returns the bytes walked.
pub fn walk(fields: &[Field], version: i16, flexible: bool, body: &[u8]) -> Result<usize, String> {
    let mut w = Walker {
        buf: body,
        pos: 0,
        version,
        flexible,
    };
    w.structure(fields)?;
    Ok(w.pos)
}

struct Walker<'a> {
    buf: &'a [u8],
    pos: usize,
    version: i16,
    flexible: bool,
}

impl Walker<'_> {
    fn left(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    fn skip(&mut self, n: usize) -> Result<(), String> {
        if n > self.left() {
            return Err(format!(
                "a field of {n} bytes at byte {} runs past the end ({} left)",
                self.pos,
                self.left()
            ));
        }
        self.pos += n;
        Ok(())
    }

    fn int(&mut self, n: usize) -> Result<i64, String> {
        let bytes = self
            .buf
            .get(self.pos..self.pos.saturating_add(n))
            .ok_or_else(|| format!("the body ends inside a field at byte {}", self.pos))?;
        self.pos += n;
        let shift = 64 - 8 * u32::try_from(n).unwrap_or(8);
        Ok(bytes
            .iter()
            .fold(0i64, |acc, b| (acc << 8) | i64::from(*b))
            .wrapping_shl(shift)
            .wrapping_shr(shift))
    }

    fn uvarint(&mut self) -> Result<u64, String> {
        let mut value = 0u64;
        for i in 0..5 {
            let b = *self
                .buf
                .get(self.pos)
                .ok_or_else(|| format!("the body ends inside a varint at byte {}", self.pos))?;
            self.pos += 1;
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(format!("a varint longer than 5 bytes at byte {}", self.pos))
    }

    /// A length or count: int16/int32 in classic versions, unsigned varint + 1 in flexible
    /// ones; null (-1 / 0) counts as zero.
    fn length(&mut self, classic_width: usize) -> Result<usize, String> {
        if self.flexible {
            Ok(usize::try_from(self.uvarint()?.saturating_sub(1)).unwrap_or(usize::MAX))
        } else {
            let n = self.int(classic_width)?;
            Ok(usize::try_from(n.max(0)).unwrap_or(usize::MAX))
        }
    }

    fn count(&mut self) -> Result<usize, String> {
        let at = self.pos;
        let n = self.length(4)?;
        if n > self.left() {
            return Err(format!(
                "an array at byte {at} announces {n} elements with {} bytes left",
                self.left()
            ));
        }
        Ok(n)
    }

    fn structure(&mut self, fields: &[Field]) -> Result<(), String> {
        for f in fields {
            if (f.min..=f.max).contains(&self.version) {
                self.field(f.kind)?;
            }
        }
        if self.flexible {
            self.tagged_fields()?;
        }
        Ok(())
    }

    fn tagged_fields(&mut self) -> Result<(), String> {
        let n = self.uvarint()?;
        for _ in 0..n {
            self.uvarint()?;
            let size = usize::try_from(self.uvarint()?).unwrap_or(usize::MAX);
            self.skip(size)?;
        }
        Ok(())
    }

    fn field(&mut self, kind: Kind) -> Result<(), String> {
        use Kind::*;
        match kind {
            I8 | Bool => self.skip(1),
            I16 => self.skip(2),
            I32 => self.skip(4),
            I64 => self.skip(8),
            Uuid => self.skip(16),
            Str => {
                let n = self.length(2)?;
                self.skip(n)
            }
            Bytes => {
                let n = self.length(4)?;
                self.skip(n)
            }
            Ints => {
                let n = self.count()?;
                self.skip(n.saturating_mul(4))
            }
            Strs => {
                for _ in 0..self.count()? {
                    self.field(Str)?;
                }
                Ok(())
            }
            Structs(fields) => {
                for _ in 0..self.count()? {
                    self.structure(fields)?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOPICS: &[Field] = &[all(Kind::Structs(&[all(Kind::Str)]))];

    #[test]
    fn a_huge_array_count_in_a_tiny_body_is_refused() {
        let err = walk(TOPICS, 1, false, &[0x7f, 0xff, 0xff, 0xff]).unwrap_err();
        assert!(err.contains("2147483647 elements"), "{err}");
        assert!(walk(TOPICS, 9, true, &[0xff, 0xff, 0xff, 0xff, 0x0f]).is_err());
    }

    #[test]
    fn a_body_that_ends_early_is_refused_and_a_whole_one_walked() {
        // One topic named "ab" (classic): count 1, length 2, "ab".
        let body = [0, 0, 0, 1, 0, 2, b'a', b'b'];
        assert_eq!(walk(TOPICS, 0, false, &body), Ok(8));
        assert!(walk(TOPICS, 0, false, &body[..7]).is_err());
        // Flexible: compact count 2 (=1 element), compact string 3 (=2 bytes), two empty
        // tagged-field sections.
        let body = [2, 3, b'a', b'b', 0, 0];
        assert_eq!(walk(TOPICS, 9, true, &body), Ok(6));
    }
}
