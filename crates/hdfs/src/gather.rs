//! Gathering the pieces a socket hands over into batches worth one trip (to a disk or to a
//! peer) without copying them: only runs of small pieces are copied together.

use bytes::{Bytes, BytesMut};

/// Bytes a batch holds before it is handed on.
const BATCH_BYTES: usize = 1024 * 1024;
/// Pieces smaller than this are copied into a shared run rather than kept apart, which also
/// bounds the pieces of a batch (≤ 2 × `BATCH_BYTES` / `SMALL`, well under a vectored write's
/// 1024).
const SMALL: usize = 16 * 1024;

/// Pieces gathered so far.
#[derive(Debug, Default)]
pub(crate) struct Gather {
    pieces: Vec<Bytes>,
    small: BytesMut,
    len: usize,
}

impl Gather {
    /// Adds a piece; gives back a full batch when there is one.
    pub(crate) fn push(&mut self, piece: Bytes) -> Option<Vec<Bytes>> {
        self.len += piece.len();
        if piece.len() < SMALL {
            self.small.extend_from_slice(&piece);
        } else {
            self.seal_small();
            self.pieces.push(piece);
        }
        (self.len >= BATCH_BYTES).then(|| self.take())
    }

    /// Everything gathered (possibly nothing), leaving the gatherer empty.
    pub(crate) fn take(&mut self) -> Vec<Bytes> {
        self.seal_small();
        self.len = 0;
        std::mem::take(&mut self.pieces)
    }

    fn seal_small(&mut self) {
        if !self.small.is_empty() {
            self.pieces.push(self.small.split().freeze());
        }
    }
}

/// Writes every byte of `pieces`, in order, with as few system calls as the kernel allows.
pub(crate) fn write_all_vectored(
    out: &mut impl std::io::Write,
    pieces: &[Bytes],
) -> std::io::Result<()> {
    let mut slices: Vec<std::io::IoSlice<'_>> =
        pieces.iter().map(|p| std::io::IoSlice::new(p)).collect();
    let mut rest = &mut slices[..];
    while !rest.is_empty() {
        match out.write_vectored(rest) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => std::io::IoSlice::advance_slices(&mut rest, n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_keep_every_byte_in_order() {
        let mut gather = Gather::default();
        let mut out = Vec::new();
        let mut sent = Vec::new();
        // Large and small pieces mixed, more than one batch in all.
        for i in 0..400usize {
            let len = if i % 3 == 0 { 40 * 1024 } else { 100 + i };
            let piece: Vec<u8> = (0..len).map(|j| (i * 7 + j) as u8).collect();
            sent.extend_from_slice(&piece);
            if let Some(batch) = gather.push(Bytes::from(piece)) {
                assert!(batch.iter().map(Bytes::len).sum::<usize>() >= BATCH_BYTES);
                write_all_vectored(&mut out, &batch).unwrap();
            }
        }
        write_all_vectored(&mut out, &gather.take()).unwrap();
        assert!(gather.take().is_empty());
        assert_eq!(out, sent);
    }
}
