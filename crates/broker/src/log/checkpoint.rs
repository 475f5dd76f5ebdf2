//! Small checkpoint files in Kafka's text layout — a version line (`0`), an entry count, then
//! one `key value` line per entry — written atomically (temporary file, fsync, rename) so a
//! crash leaves either the old or the new content.

use std::fmt::Display;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::error::{IoContext, LogError};

/// Checkpoints are a few lines; anything bigger is not one of ours.
const MAX_CHECKPOINT_BYTES: u64 = 1024 * 1024;

/// Reads the `key value` entries of a checkpoint; None when the file does not exist.
/// A malformed file is an error naming the file and the line.
pub(crate) fn read(path: &Path) -> Result<Option<Vec<(String, i64)>>, LogError> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).io("open", path),
    };
    let mut text = String::new();
    file.take(MAX_CHECKPOINT_BYTES + 1)
        .read_to_string(&mut text)
        .io("read", path)?;
    let corrupt = |reason: String| LogError::Corrupt {
        path: path.to_path_buf(),
        position: 0,
        reason,
    };
    if text.len() as u64 > MAX_CHECKPOINT_BYTES {
        return Err(corrupt("checkpoint larger than 1 MiB".into()));
    }
    let mut lines = text.lines();
    if lines.next() != Some("0") {
        return Err(corrupt("unknown checkpoint version (expected 0)".into()));
    }
    let count: usize = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(|| corrupt("missing entry count".into()))?;
    let mut entries = Vec::new();
    for (i, line) in lines.enumerate() {
        let mut words = line.split_whitespace();
        let (Some(key), Some(value), None) = (words.next(), words.next(), words.next()) else {
            return Err(corrupt(format!("line {}: expected `key value`", i + 3)));
        };
        let value = value
            .parse()
            .map_err(|_| corrupt(format!("line {}: {value:?} is not an integer", i + 3)))?;
        entries.push((key.to_string(), value));
    }
    if entries.len() != count {
        return Err(corrupt(format!(
            "{} entries, the header says {count}",
            entries.len()
        )));
    }
    Ok(Some(entries))
}

/// Replaces the checkpoint at `path` with `entries`, atomically; with `durable`, the new
/// content is fsynced before it replaces the old (otherwise a power loss may leave the old
/// content or an unreadable file, which readers treat as missing).
pub(crate) fn write<K: Display>(
    path: &Path,
    entries: &[(K, i64)],
    durable: bool,
) -> Result<(), LogError> {
    let mut text = format!("0\n{}\n", entries.len());
    for (key, value) in entries {
        text.push_str(&format!("{key} {value}\n"));
    }
    let mut tmp = PathBuf::from(path);
    tmp.as_mut_os_string().push(".tmp");
    let mut file = File::create(&tmp).io("create", &tmp)?;
    file.write_all(text.as_bytes()).io("write", &tmp)?;
    if durable {
        file.sync_all().io("sync", &tmp)?;
    }
    std::fs::rename(&tmp, path).io("rename", path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_malformed_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cp");
        assert!(read(&path).unwrap().is_none());
        write(
            &path,
            &[("high-watermark", 42), ("log-start-offset", -1)],
            true,
        )
        .unwrap();
        assert_eq!(
            read(&path).unwrap().unwrap(),
            vec![
                ("high-watermark".to_string(), 42),
                ("log-start-offset".to_string(), -1)
            ]
        );
        for bad in ["", "1\n0\n", "0\n2\na 1\n", "0\n1\na b\n", "0\n1\na 1 2\n"] {
            std::fs::write(&path, bad).unwrap();
            assert!(
                matches!(read(&path), Err(LogError::Corrupt { .. })),
                "{bad:?}"
            );
        }
    }
}
