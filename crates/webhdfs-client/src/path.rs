//! HDFS paths as they arrive from the network: percent-decoded once, then checked component by
//! component, so that nothing a client sends can name anything but a node of the namespace.

use std::fmt;

/// Longest path we accept, in bytes (Hadoop's `dfs.namenode.fs-limits.max-path-length`... is
/// per component; this bounds the whole).
pub const MAX_PATH_BYTES: usize = 8000;
/// Longest component, in bytes (Hadoop's `dfs.namenode.fs-limits.max-component-length`).
pub const MAX_COMPONENT_BYTES: usize = 255;
/// Deepest path we accept (keeps every recursive walk of the tree shallow).
pub const MAX_DEPTH: usize = 200;

/// Why a path was refused; the message is what the client reads in its RemoteException.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid path name {path}: {reason}")]
pub struct PathError {
    path: String,
    reason: &'static str,
}

/// An absolute, normalised HDFS path: its components, none empty, `.`, `..`, or holding `/`
/// or NUL. The root has no components.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HdfsPath {
    parts: Vec<String>,
}

impl HdfsPath {
    /// The root directory.
    pub fn root() -> HdfsPath {
        HdfsPath { parts: Vec::new() }
    }

    /// Parses a percent-encoded path as found in a URL (after `/webhdfs/v1`). An encoded slash
    /// (`%2F`) is refused rather than taken as a separator, so no component can smuggle one.
    pub fn from_url(encoded: &str) -> Result<HdfsPath, PathError> {
        let err = |reason| PathError {
            path: encoded.chars().take(200).collect(),
            reason,
        };
        if encoded.len() > MAX_PATH_BYTES * 3 {
            return Err(err("too long"));
        }
        let mut parts = Vec::new();
        for raw in encoded.split('/') {
            let bytes: Vec<u8> = percent_encoding::percent_decode_str(raw).collect();
            let part = String::from_utf8(bytes).map_err(|_| err("not UTF-8"))?;
            if part.contains('/') {
                return Err(err("an encoded '/' inside a component"));
            }
            parts.push(part);
        }
        HdfsPath::from_parts(parts).map_err(err)
    }

    /// Parses a plain path (a `destination=` parameter, a command-line argument).
    pub fn parse(plain: &str) -> Result<HdfsPath, PathError> {
        let err = |reason| PathError {
            path: plain.chars().take(200).collect(),
            reason,
        };
        if !plain.starts_with('/') {
            return Err(err("not absolute"));
        }
        HdfsPath::from_parts(plain.split('/').map(str::to_string)).map_err(err)
    }

    fn from_parts(raw: impl IntoIterator<Item = String>) -> Result<HdfsPath, &'static str> {
        let mut parts = Vec::new();
        let mut total = 0usize;
        for part in raw {
            if part.is_empty() {
                continue; // leading slash, `//`, trailing slash
            }
            if part == "." || part == ".." {
                return Err("'.' and '..' are not allowed");
            }
            if part.contains('\0') {
                return Err("NUL byte");
            }
            if part.contains(':') {
                return Err("':' is not allowed in HDFS names");
            }
            if part.len() > MAX_COMPONENT_BYTES {
                return Err("a component is longer than 255 bytes");
            }
            total += part.len() + 1;
            if total > MAX_PATH_BYTES {
                return Err("too long");
            }
            parts.push(part);
            if parts.len() > MAX_DEPTH {
                return Err("too deep");
            }
        }
        Ok(HdfsPath { parts })
    }

    /// The components, root first.
    pub fn parts(&self) -> &[String] {
        &self.parts
    }

    /// True for `/`.
    pub fn is_root(&self) -> bool {
        self.parts.is_empty()
    }

    /// The last component (`""` for the root).
    pub fn name(&self) -> &str {
        self.parts.last().map(String::as_str).unwrap_or("")
    }

    /// The parent directory (the root is its own parent).
    pub fn parent(&self) -> HdfsPath {
        let mut parts = self.parts.clone();
        parts.pop();
        HdfsPath { parts }
    }

    /// This path with one more component (already checked by the caller's own parse).
    pub fn child(&self, name: &str) -> HdfsPath {
        let mut parts = self.parts.clone();
        parts.push(name.to_string());
        HdfsPath { parts }
    }

    /// True when `self` is `other` or lies under it.
    pub fn starts_with(&self, other: &HdfsPath) -> bool {
        self.parts.starts_with(&other.parts)
    }

    /// The path percent-encoded for a URL (what a client puts after `/webhdfs/v1`).
    pub fn to_url(&self) -> String {
        if self.parts.is_empty() {
            return "/".to_string();
        }
        let mut out = String::new();
        for p in &self.parts {
            out.push('/');
            out.extend(percent_encoding::utf8_percent_encode(p, COMPONENT));
        }
        out
    }
}

/// What we escape in a path component for a URL: everything but unreserved characters.
const COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'=')
    .remove(b'+');

impl fmt::Display for HdfsPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.parts.is_empty() {
            return f.write_str("/");
        }
        for p in &self.parts {
            write!(f, "/{p}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_slashes_and_decodes_once() {
        let p = HdfsPath::from_url("/topics//t%20x/partition%3D0/").unwrap();
        assert_eq!(p.to_string(), "/topics/t x/partition=0");
        assert_eq!(HdfsPath::from_url("/").unwrap(), HdfsPath::root());
        let p = HdfsPath::from_url("/a/%2541").unwrap();
        assert_eq!(p.name(), "%41");
    }

    #[test]
    fn refuses_escapes_out_of_the_tree() {
        for bad in [
            "/a/../b",
            "/a/%2e%2e/b",
            "/..",
            "/a%2Fb",
            "/a%2f..%2fb",
            "/a/%00",
            "/a/%ff",
            "/./x",
        ] {
            assert!(HdfsPath::from_url(bad).is_err(), "{bad} accepted");
        }
        assert!(HdfsPath::parse("relative/x").is_err());
        assert!(HdfsPath::from_url(&"/a".repeat(MAX_DEPTH + 1)).is_err());
        assert!(HdfsPath::from_url(&format!("/{}", "x".repeat(256))).is_err());
    }

    #[test]
    fn random_input_never_panics_nor_escapes() {
        // A tiny xorshift generator: deterministic, no dependency.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let alphabet = b"/.%2fF0e9aA:\0x~+ ";
        for _ in 0..20_000 {
            let mut s = String::new();
            for _ in 0..(x % 40) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let i = usize::try_from(x % alphabet.len() as u64).unwrap();
                s.push(char::from(alphabet[i]));
            }
            if let Ok(p) = HdfsPath::from_url(&s) {
                for part in p.parts() {
                    assert!(part != "." && part != ".." && !part.is_empty(), "{s:?}");
                    assert!(!part.contains('/') && !part.contains('\0'), "{s:?}");
                }
            }
        }
    }

    #[test]
    fn url_form_round_trips() {
        let p = HdfsPath::parse("/t/partition=0/t+0+0000000000+0000000009.txt").unwrap();
        assert_eq!(HdfsPath::from_url(&p.to_url()).unwrap(), p);
        let odd = HdfsPath::parse("/é ü/%/?#").unwrap();
        assert_eq!(HdfsPath::from_url(&odd.to_url()).unwrap(), odd);
    }
}
