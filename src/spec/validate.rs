//! The validation pass over a parsed spec: what serde cannot see (duplicates, dangling
//! references, dependency cycles, undeclared ports). A problem carries the scalar it is about,
//! which [`Problem::locate`] finds in the source text for the `file:line:column` of the error.

use std::collections::{BTreeMap, BTreeSet};

use super::{MountSpec, Spec};

/// Where tools are mounted in a node; mounts of the spec stay out of it.
pub(crate) const TOOLS_ROOT: &str = "/opt/lab";

/// One validation failure.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Problem {
    /// What is wrong.
    pub(crate) message: String,
    /// The key whose value is at fault (`name`, `after`, `port`, …).
    key: &'static str,
    /// The offending value as written.
    value: String,
    /// Which occurrence of `key: value` is meant (0-based), e.g. 1 for the second duplicate.
    nth: usize,
}

impl Problem {
    fn new(key: &'static str, value: impl ToString, nth: usize, message: String) -> Problem {
        Problem {
            message,
            key,
            value: value.to_string(),
            nth,
        }
    }

    /// The 1-based line and column of the value this problem is about (1:1 if not found).
    pub(crate) fn locate(&self, source: &str) -> (usize, usize) {
        let key = format!("{}:", self.key);
        let mut seen = 0;
        let mut in_block_list = false;
        for (i, line) in source.lines().enumerate() {
            let item = line.trim_start().strip_prefix("- ");
            let has_key = line.contains(&key);
            let relevant = has_key || (in_block_list && item.is_some());
            if has_key {
                in_block_list = line.trim_end().ends_with(&key);
            } else if item.is_none() {
                in_block_list = false;
            }
            if !relevant {
                continue;
            }
            for col in scalar_positions(line, &self.value) {
                if seen == self.nth {
                    return (i + 1, col + 1);
                }
                seen += 1;
            }
        }
        (1, 1)
    }
}

/// Byte columns where `value` appears in `line` as a whole scalar (not inside a longer word).
fn scalar_positions(line: &str, value: &str) -> Vec<usize> {
    let is_word = |c: char| c.is_alphanumeric() || c == '-' || c == '_' || c == '.';
    line.match_indices(value)
        .filter(|(i, _)| {
            let before = line.get(..*i).and_then(|s| s.chars().last());
            let after = line.get(i + value.len()..).and_then(|s| s.chars().next());
            !before.is_some_and(is_word) && !after.is_some_and(is_word)
        })
        .map(|(i, _)| i)
        .collect()
}

/// Checks a parsed spec; the first problem found is returned.
pub(crate) fn validate(spec: &Spec) -> Result<(), Problem> {
    if !is_name(&spec.name) {
        return Err(Problem::new(
            "name",
            &spec.name,
            0,
            bad_name("lab", &spec.name),
        ));
    }
    let mut node_names = BTreeMap::new();
    let mut service_names: BTreeMap<&str, usize> = BTreeMap::new();
    let mut published: BTreeMap<u16, &str> = BTreeMap::new();
    for node in &spec.nodes {
        if !is_name(&node.name) {
            return Err(Problem::new(
                "name",
                &node.name,
                0,
                bad_name("node", &node.name),
            ));
        }
        let seen = node_names.entry(node.name.as_str()).or_insert(0);
        *seen += 1;
        if *seen > 1 {
            return Err(Problem::new(
                "name",
                &node.name,
                1,
                format!(
                    "duplicate node name `{}`: node names must be unique",
                    node.name
                ),
            ));
        }
        let mut ports = BTreeSet::new();
        for port in &node.ports {
            if !ports.insert(port.port) {
                return Err(Problem::new(
                    "port",
                    port.port,
                    1,
                    format!(
                        "port {} is declared twice in node `{}`",
                        port.port, node.name
                    ),
                ));
            }
            if let Some(host) = port.publish
                && let Some(other) = published.insert(host, &node.name)
            {
                return Err(Problem::new(
                    "publish",
                    host,
                    1,
                    format!(
                        "host port {host} is published twice (nodes `{other}` and `{}`)",
                        node.name
                    ),
                ));
            }
        }
        if let Some(path) = second_of(node.files.iter().map(|f| f.path.as_str())) {
            return Err(Problem::new(
                "path",
                path,
                1,
                format!("file `{path}` is rendered twice into node `{}`", node.name),
            ));
        }
        if let Some(tool) = second_of(&node.tools) {
            return Err(Problem::new(
                "tools",
                tool.name(),
                1,
                format!(
                    "tool `{}` is listed twice in node `{}`",
                    tool.name(),
                    node.name
                ),
            ));
        }
        let mut mount_paths = BTreeSet::new();
        for mount in &node.mounts {
            if let Some(why) = bad_mount_path(&mount.path, &spec.volumes) {
                return Err(Problem::new(
                    "path",
                    &mount.path,
                    0,
                    format!("mount path `{}`: {why}", mount.path),
                ));
            }
            if !mount_paths.insert(mount.path.as_str()) {
                let path = &mount.path;
                return Err(Problem::new(
                    "path",
                    path,
                    1,
                    format!("`{path}` is mounted twice into node `{}`", node.name),
                ));
            }
            if mount.source.is_empty() {
                return Err(Problem::new(
                    "path",
                    &mount.path,
                    0,
                    format!(
                        "mount `{}` has an empty source: expected a host directory",
                        mount.path
                    ),
                ));
            }
        }
        for service in &node.services {
            if !is_name(&service.name) {
                return Err(Problem::new(
                    "name",
                    &service.name,
                    0,
                    bad_name("service", &service.name),
                ));
            }
            let seen = service_names.entry(service.name.as_str()).or_insert(0);
            *seen += 1;
            if *seen > 1 {
                return Err(Problem::new(
                    "name",
                    &service.name,
                    1,
                    format!(
                        "duplicate service name `{}`: service names are unique in a lab",
                        service.name
                    ),
                ));
            }
            if service.command.is_empty() {
                return Err(Problem::new(
                    "name",
                    &service.name,
                    0,
                    format!(
                        "service `{}` has an empty command: expected at least a program name",
                        service.name
                    ),
                ));
            }
            if let Some(probe) = &service.probe
                && !ports.contains(&probe.port())
            {
                return Err(Problem::new(
                    "name",
                    &service.name,
                    0,
                    format!(
                        "the probe of service `{}` uses port {}, which node `{}` does not declare under `ports`",
                        service.name,
                        probe.port(),
                        node.name
                    ),
                ));
            }
        }
    }
    let all: BTreeSet<&str> = service_names.keys().copied().collect();
    for node in &spec.nodes {
        for service in &node.services {
            for dep in &service.after {
                if !all.contains(dep.as_str()) {
                    return Err(Problem::new(
                        "after",
                        dep,
                        0,
                        format!(
                            "service `{}` starts after `{dep}`, which no node defines (expected one of: {})",
                            service.name,
                            all.iter().copied().collect::<Vec<_>>().join(", ")
                        ),
                    ));
                }
            }
        }
    }
    let nodes: BTreeSet<&str> = spec.nodes.iter().map(|n| n.name.as_str()).collect();
    for check in &spec.checks {
        let tests = [
            check.topic.is_some(),
            check.messages.is_some(),
            check.file.is_some(),
            check.command.is_some(),
            check.hdfs.is_some(),
        ];
        if tests.iter().filter(|t| **t).count() != 1 {
            return Err(Problem::new(
                "name",
                &check.name,
                0,
                format!(
                    "check `{}` must have exactly one test: expected one of `topic`, `messages`, `file`, `command`, `hdfs`",
                    check.name
                ),
            ));
        }
        let node = [
            check.file.as_ref().map(|f| &f.node),
            check.command.as_ref().map(|c| &c.node),
            check.hdfs.as_ref().map(|h| &h.node),
        ]
        .into_iter()
        .flatten()
        .next();
        if let Some(node) = node
            && !nodes.contains(node.as_str())
        {
            return Err(Problem::new(
                "node",
                node,
                0,
                format!(
                    "check `{}` runs in node `{node}`, which the spec does not define",
                    check.name
                ),
            ));
        }
        if let Some(c) = &check.command
            && let Err(e) = regex::Regex::new(&c.matches)
        {
            return Err(Problem::new(
                "matches",
                &check.name,
                0,
                format!(
                    "check `{}`: `matches` is not a valid regular expression: {e}",
                    check.name
                ),
            ));
        }
    }
    if let Some(cycle) = find_cycle(spec) {
        let closing = cycle.last().cloned().unwrap_or_default();
        return Err(Problem::new(
            "after",
            &closing,
            0,
            format!("dependency cycle: {}", cycle.join(" → ")),
        ));
    }
    Ok(())
}

/// The first item that repeats an earlier one (the second of a pair), for "listed twice" errors.
fn second_of<T: Ord + Copy>(items: impl IntoIterator<Item = T>) -> Option<T> {
    let mut seen = BTreeSet::new();
    items.into_iter().find(|&item| !seen.insert(item))
}

/// Why a mount's node path is refused, if it is: it must be absolute and plain (no `.`, `..`
/// or empty parts), neither `/` nor a kept volume, and outside the tools' directory.
fn bad_mount_path(path: &str, volumes: &[String]) -> Option<&'static str> {
    let Some(rest) = path.strip_prefix('/') else {
        return Some("expected an absolute path");
    };
    if rest.is_empty()
        || rest
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..")
    {
        return Some("expected a plain absolute path below `/` (no `.`, `..` or `//`)");
    }
    if volumes.iter().any(|v| v.trim_end_matches('/') == path) {
        return Some("it is a kept volume: mount below it instead");
    }
    if path == TOOLS_ROOT || path.starts_with(&format!("{TOOLS_ROOT}/")) {
        return Some("/opt/lab is where `tools` go");
    }
    None
}

/// Where a mount's source is on the host: relative to the spec file's directory.
pub(crate) fn mount_source(spec: &Spec, mount: &MountSpec) -> std::path::PathBuf {
    spec.dir.join(&mount.source)
}

/// Checks that every mount's source is a host directory (a loaded spec knows its directory).
pub(crate) fn sources(spec: &Spec) -> Result<(), Problem> {
    for node in &spec.nodes {
        for mount in &node.mounts {
            let source = mount_source(spec, mount);
            if !source.is_dir() {
                return Err(Problem::new(
                    "source",
                    &mount.source,
                    0,
                    format!(
                        "mount source `{}` ({}) is not a directory: expected one, relative to the spec file",
                        mount.source,
                        source.display()
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Names become container names, hostnames and file names: keep them DNS-safe.
fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 48
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn bad_name(what: &str, name: &str) -> String {
    format!("invalid {what} name `{name}`: expected lowercase letters, digits and `-` (at most 48)")
}

/// A dependency cycle among services (`after` edges), as the list of names around it.
fn find_cycle(spec: &Spec) -> Option<Vec<String>> {
    let edges: BTreeMap<&str, Vec<&str>> = spec
        .nodes
        .iter()
        .flat_map(|n| &n.services)
        .map(|s| {
            (
                s.name.as_str(),
                s.after.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    // 0 = unvisited, 1 = on the current path, 2 = done.
    let mut state: BTreeMap<&str, u8> = BTreeMap::new();
    let mut path: Vec<&str> = Vec::new();
    fn visit<'a>(
        n: &'a str,
        edges: &BTreeMap<&'a str, Vec<&'a str>>,
        state: &mut BTreeMap<&'a str, u8>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        match state.get(n) {
            Some(2) => return None,
            Some(1) => {
                let start = path.iter().position(|p| *p == n).unwrap_or(0);
                let mut cycle: Vec<String> = path
                    .get(start..)
                    .unwrap_or_default()
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                cycle.push(n.to_owned());
                return Some(cycle);
            }
            _ => {}
        }
        state.insert(n, 1);
        path.push(n);
        for dep in edges.get(n).map(Vec::as_slice).unwrap_or_default() {
            if let Some(c) = visit(dep, edges, state, path) {
                return Some(c);
            }
        }
        path.pop();
        state.insert(n, 2);
        None
    }
    edges
        .keys()
        .find_map(|n| visit(n, &edges, &mut state, &mut path))
}

#[cfg(test)]
mod tests {
    use crate::spec::{Located, SpecError, parse};

    fn error_of(source: &str) -> Located {
        match parse("t.yaml", source) {
            Err(SpecError::Invalid(l)) => l,
            other => panic!("expected an invalid spec, got {other:?}"),
        }
    }

    const TWO_SERVICES: &str = "name: x
nodes:
  - name: a
    ports:
      - port: 1
    services:
      - name: s1
        kind: coordinator
        command: [x]
        after: [s2]
      - name: s2
        kind: broker
        command: [y]
        after:
          - s1
";

    #[test]
    fn a_cycle_is_reported_with_its_path() {
        let err = error_of(TWO_SERVICES);
        assert!(
            err.message.contains("dependency cycle: s1 → s2 → s1"),
            "{err}"
        );
        assert_eq!((err.line, err.column), (15, 13), "{err}");
    }

    #[test]
    fn a_dangling_reference_is_located() {
        let src = TWO_SERVICES.replace("          - s1", "          - s9");
        let err = error_of(&src);
        assert!(
            err.message
                .contains("starts after `s9`, which no node defines"),
            "{err}"
        );
        assert_eq!((err.line, err.column), (15, 13), "{err}");
    }

    #[test]
    fn a_duplicate_node_points_at_the_second_one() {
        let err = error_of("name: x\nnodes:\n  - name: a\n  - name: b\n  - name: a\n");
        assert!(err.message.contains("duplicate node name `a`"), "{err}");
        assert_eq!((err.line, err.column), (5, 11), "{err}");
    }

    #[test]
    fn a_duplicate_service_across_nodes_is_an_error() {
        let src = "name: x
nodes:
  - name: a
    services:
      - { name: s, kind: broker, command: [x] }
  - name: b
    services:
      - { name: s, kind: broker, command: [x] }
";
        let err = error_of(src);
        assert!(err.message.contains("duplicate service name `s`"), "{err}");
        assert_eq!(err.line, 8, "{err}");
    }

    #[test]
    fn a_probe_on_an_undeclared_port_is_an_error() {
        let src = "name: x
nodes:
  - name: a
    services:
      - name: s
        kind: coordinator
        command: [x]
        probe: { ruok: 2181 }
";
        let err = error_of(src);
        assert!(
            err.message
                .contains("port 2181, which node `a` does not declare"),
            "{err}"
        );
        assert_eq!(err.line, 5, "{err}");
    }

    #[test]
    fn a_host_port_published_twice_is_an_error() {
        let src = "name: x
nodes:
  - name: a
    ports: [{ port: 1, publish: 80 }]
  - name: b
    ports: [{ port: 2, publish: 80 }]
";
        let err = error_of(src);
        assert!(
            err.message.contains("host port 80 is published twice"),
            "{err}"
        );
        assert_eq!(err.line, 6, "{err}");
    }

    #[test]
    fn a_check_needs_exactly_one_test_and_known_fields() {
        let base = "name: x\nnodes:\n  - name: a\nchecks:\n";
        let err = error_of(&format!("{base}  - name: c\n    points: 2\n"));
        assert!(err.message.contains("exactly one test"), "{err}");
        assert_eq!(err.line, 5, "{err}");
        let err = error_of(&format!(
            "{base}  - name: c\n    topic: {{ name: t, partitons: 1 }}\n"
        ));
        assert!(err.message.contains("unknown field `partitons`"), "{err}");
        assert_eq!(err.line, 6, "{err}");
        let err = error_of(&format!(
            "{base}  - name: c\n    file: {{ node: b, path: /x, contains: y }}\n"
        ));
        assert!(
            err.message
                .contains("node `b`, which the spec does not define"),
            "{err}"
        );
        let err = error_of(&format!("{base}  - name: c\n    colour: red\n"));
        assert!(err.message.contains("unknown field `colour`"), "{err}");
    }

    #[test]
    fn tools_are_a_closed_list_without_repeats() {
        let err = error_of("name: x\nnodes:\n  - name: a\n    tools: [python, python]\n");
        assert!(
            err.message.contains("tool `python` is listed twice"),
            "{err}"
        );
        assert_eq!((err.line, err.column), (4, 21), "{err}");
        let err = error_of("name: x\nnodes:\n  - name: a\n    tools: [java]\n");
        assert!(err.message.contains("unknown variant `java`"), "{err}");
        assert!(err.message.contains("expected `python`"), "{err}");
        assert_eq!(err.line, 4, "{err}");
    }

    #[test]
    fn a_mount_path_must_be_plain_absolute_and_free() {
        let base = "name: x\nvolumes: [/root]\nnodes:\n  - name: a\n    mounts:\n";
        for (path, why) in [
            ("root/examples", "expected an absolute path"),
            ("/root/../etc", "no `.`, `..` or `//`"),
            ("/root", "it is a kept volume"),
            ("/opt/lab/python", "where `tools` go"),
        ] {
            let err = error_of(&format!("{base}      - {{ source: s, path: {path} }}\n"));
            assert!(err.message.contains(why), "{path}: {err}");
            assert_eq!((err.line, err.column), (6, 28), "{path}: {err}");
        }
        let err = error_of(&format!(
            "{base}      - {{ source: s, path: /x }}\n      - {{ source: t, path: /x }}\n"
        ));
        assert!(err.message.contains("`/x` is mounted twice"), "{err}");
        assert_eq!(err.line, 7, "{err}");
        let err = error_of(&format!("{base}      - {{ source: s, paht: /x }}\n"));
        assert!(err.message.contains("unknown field `paht`"), "{err}");
    }

    #[test]
    fn a_loaded_spec_needs_its_mount_sources() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("there")).unwrap();
        let spec = "name: x\nnodes:\n  - name: a\n    mounts:\n      - { source: there, path: /a }\n      - { source: missing, path: /b }\n";
        let path = dir.path().join("lab.yaml");
        std::fs::write(&path, spec).unwrap();
        let err = match crate::spec::load(&path) {
            Err(SpecError::Invalid(l)) => l,
            other => panic!("expected an invalid spec, got {other:?}"),
        };
        assert!(
            err.message.contains("mount source `missing` (")
                && err.message.contains("is not a directory"),
            "{err}"
        );
        assert_eq!((err.line, err.column), (6, 19), "{err}");
        std::fs::create_dir(dir.path().join("missing")).unwrap();
        let spec = crate::spec::load(&path).unwrap();
        assert_eq!(
            super::mount_source(&spec, &spec.nodes[0].mounts[0]),
            dir.path().canonicalize().unwrap().join("there")
        );
    }

    #[test]
    fn an_uppercase_node_name_is_refused() {
        let err = error_of("name: x\nnodes:\n  - name: Master\n");
        assert!(err.message.contains("invalid node name `Master`"), "{err}");
        assert_eq!((err.line, err.column), (3, 11), "{err}");
    }
}
