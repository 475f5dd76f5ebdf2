//! Znode path rules, as ZooKeeper's `PathUtils.validatePath` applies them: absolute, no empty,
//! `.` or `..` segment, no trailing slash, no control or private-use characters.

/// Checks a path; `sequential` allows the trailing slash a sequential create may end with
/// (its suffix is appended before the node is made). Returns why the path is refused.
pub fn validate(path: &str, sequential: bool) -> Result<(), &'static str> {
    if sequential {
        // ZooKeeper checks a sequential path as if its suffix were already there.
        return validate_complete(&format!("{path}1"));
    }
    validate_complete(path)
}

fn validate_complete(path: &str) -> Result<(), &'static str> {
    if path.is_empty() {
        return Err("path length must be > 0");
    }
    if !path.starts_with('/') {
        return Err("path must start with / character");
    }
    if path.len() == 1 {
        return Ok(());
    }
    if path.ends_with('/') {
        return Err("path must not end with / character");
    }
    for segment in path.split('/').skip(1) {
        match segment {
            "" => return Err("empty node name specified"),
            "." | ".." => return Err("relative paths not allowed"),
            _ => {}
        }
    }
    if path.chars().any(forbidden) {
        return Err("invalid character in path");
    }
    Ok(())
}

fn forbidden(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{e000}'..='\u{f8ff}')
        || c >= '\u{fff0}'
}

/// The parent of a valid path other than `/`.
pub fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => path.get(..i).unwrap_or("/"),
    }
}

/// The last segment of a valid path.
pub fn name(path: &str) -> &str {
    path.rfind('/')
        .and_then(|i| path.get(i + 1..))
        .unwrap_or("")
}

/// Joins a parent path and a child name.
pub fn child(parent: &str, name: &str) -> String {
    if parent == "/" {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    }
}

/// True when `path` is `ancestor` or below it.
pub fn is_within(path: &str, ancestor: &str) -> bool {
    ancestor == "/"
        || path == ancestor
        || (path.starts_with(ancestor) && path.as_bytes().get(ancestor.len()) == Some(&b'/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zookeeper_path_rules() {
        for ok in ["/", "/a", "/a/b", "/a.b", "/a/...", "/é"] {
            assert_eq!(validate(ok, false), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "a",
            "/a/",
            "//a",
            "/a//b",
            "/a/./b",
            "/a/..",
            "/a\u{1}",
            "/\u{e000}",
            "/😀",
        ] {
            assert!(validate(bad, false).is_err(), "{bad:?}");
        }
        assert_eq!(validate("/a/", true), Ok(()));
        assert!(validate("/a//", true).is_err());
    }

    #[test]
    fn parents_names_and_ancestry() {
        assert_eq!(parent("/a"), "/");
        assert_eq!(parent("/a/b"), "/a");
        assert_eq!(name("/a/b"), "b");
        assert_eq!(child("/", "a"), "/a");
        assert_eq!(child("/a", "b"), "/a/b");
        assert!(is_within("/a/b", "/a"));
        assert!(!is_within("/ab", "/a"));
        assert!(is_within("/x", "/"));
    }
}
