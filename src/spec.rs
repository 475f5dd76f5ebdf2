//! The lab spec: the YAML model under `labs/`, read strictly (unknown fields are errors), then
//! checked by a separate validation pass (duplicates, dangling references, dependency cycles)
//! before anything touches a runtime. Every error names `file:line:column`.

mod validate;

pub(crate) use validate::{TOOLS_ROOT, mount_source};

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A lab spec as written in `labs/<lab>.yaml`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct Spec {
    /// The default lab name (`lab up --name` overrides it).
    pub(crate) name: String,
    /// The lab network's name for the default lab (`<lab>-<network>` for any other lab).
    #[serde(default = "default_network")]
    pub(crate) network: String,
    /// Directories kept in a named volume per node, so that `lab down` keeps the data.
    #[serde(default)]
    pub(crate) volumes: Vec<String>,
    /// The nodes, in the order they are shown.
    pub(crate) nodes: Vec<NodeSpec>,
    /// Checks for instructors and graders (`lab check`), next to the built-in ones.
    #[serde(default)]
    pub(crate) checks: Vec<CheckSpec>,
    /// The directory of the spec file, which mount sources are relative to (absolute once
    /// [`load`]ed; empty for a spec only [`parse`]d).
    #[serde(skip)]
    pub(crate) dir: PathBuf,
}

/// A declarative check: a name, its points, and exactly one test.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct CheckSpec {
    /// What a student sees in the report.
    pub(crate) name: String,
    /// What the check is worth.
    #[serde(default = "one")]
    pub(crate) points: u32,
    /// A topic exists (with so many partitions / replicas).
    #[serde(default)]
    pub(crate) topic: Option<TopicCheck>,
    /// A topic holds at least `min` messages (with these keys).
    #[serde(default)]
    pub(crate) messages: Option<MessagesCheck>,
    /// A file in a node contains a text.
    #[serde(default)]
    pub(crate) file: Option<FileCheck>,
    /// A command's output in a node matches a regular expression.
    #[serde(default)]
    pub(crate) command: Option<CommandCheck>,
    /// An HDFS directory holds at least `min_files` files (`hdfs dfs -ls` in a node).
    #[serde(default)]
    pub(crate) hdfs: Option<HdfsCheck>,
}

fn one() -> u32 {
    1
}

/// `topic: { name, partitions, replication }`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct TopicCheck {
    /// The topic.
    pub(crate) name: String,
    /// Expected partition count.
    #[serde(default)]
    pub(crate) partitions: Option<usize>,
    /// Expected replicas per partition.
    #[serde(default)]
    pub(crate) replication: Option<usize>,
}

/// `messages: { topic, min, keys }`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct MessagesCheck {
    /// The topic.
    pub(crate) topic: String,
    /// At least this many messages.
    #[serde(default = "one_usize")]
    pub(crate) min: usize,
    /// Keys that must all be present.
    #[serde(default)]
    pub(crate) keys: Vec<String>,
}

fn one_usize() -> usize {
    1
}

/// `file: { node, path, contains }`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileCheck {
    /// The node.
    pub(crate) node: String,
    /// The file's path in the node.
    pub(crate) path: String,
    /// Text it must contain.
    pub(crate) contains: String,
}

/// `command: { node, run, matches }`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct CommandCheck {
    /// The node.
    pub(crate) node: String,
    /// The command and its arguments.
    pub(crate) run: Vec<String>,
    /// A regular expression its standard output must match.
    pub(crate) matches: String,
}

/// `hdfs: { node, path, min_files }`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct HdfsCheck {
    /// The node to run `hdfs dfs -ls` in.
    pub(crate) node: String,
    /// The HDFS directory.
    pub(crate) path: String,
    /// At least this many files.
    #[serde(default = "one_usize")]
    pub(crate) min_files: usize,
}

fn default_network() -> String {
    "hadoop".to_owned()
}

/// One node: a container, or a group of local processes in the process runtime.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct NodeSpec {
    /// The node name, also its hostname and its address on the lab network.
    pub(crate) name: String,
    /// Every port a service of this node listens on, published to the host or not.
    #[serde(default)]
    pub(crate) ports: Vec<PortSpec>,
    /// Config files rendered from `templates/` into the node.
    #[serde(default)]
    pub(crate) files: Vec<FileSpec>,
    /// The long-running programs of this node.
    #[serde(default)]
    pub(crate) services: Vec<ServiceSpec>,
    /// Host tools mounted read-only into the node, on its PATH (`tools: [python]`).
    #[serde(default)]
    pub(crate) tools: Vec<Tool>,
    /// Host directories mounted read-only into the node.
    #[serde(default)]
    pub(crate) mounts: Vec<MountSpec>,
}

/// A tool the host lends a node: a directory of its own, mounted read-only under `/opt/lab`.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Tool {
    /// `python3`: the host's Python 3 with kafka-python, its loader and libraries beside it.
    Python,
}

impl Tool {
    /// The tool's name, as the spec writes it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Tool::Python => "python",
        }
    }
}

/// `{ source: tp3/examples, path: /root/examples }`: a host directory, read-only in the node.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct MountSpec {
    /// The host directory, relative to the spec file's directory (or absolute).
    pub(crate) source: String,
    /// Where it appears in the node (absolute).
    pub(crate) path: String,
}

/// A port a service listens on inside the node.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct PortSpec {
    /// The port inside the node.
    pub(crate) port: u16,
    /// The host port it is published on (shifted for a second lab), if any.
    #[serde(default)]
    pub(crate) publish: Option<u16>,
    /// The host address the published port binds to.
    #[serde(default = "default_bind")]
    pub(crate) bind: String,
}

fn default_bind() -> String {
    "127.0.0.1".to_owned()
}

/// A config file rendered from a handlebars template.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileSpec {
    /// The template's file name under `templates/`.
    pub(crate) template: String,
    /// Where the file goes in the node (itself a template: `{{kafka_home}}/config/…`).
    pub(crate) path: String,
    /// Values the template reads, next to the lab-wide ones.
    #[serde(default)]
    pub(crate) vars: BTreeMap<String, serde_json::Value>,
}

/// The kinds of service, which set the default start order and what `jps` calls them.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Kind {
    /// ZooKeeper-compatible coordinator (`QuorumPeerMain`).
    Coordinator,
    /// Kafka-compatible broker (`Kafka`).
    Broker,
    /// HDFS namenode (`NameNode`).
    Namenode,
    /// HDFS datanode (`DataNode`).
    Datanode,
    /// Kafka → HDFS sink (`HdfsSink`).
    Sink,
    /// The streaming wordcount (`StreamingWordCount`).
    Stream,
}

/// One long-running program of a node.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct ServiceSpec {
    /// The service name, unique in the lab (`lab logs NODE SERVICE`).
    pub(crate) name: String,
    /// What the service is.
    pub(crate) kind: Kind,
    /// The command line, each word a template (`{{kafka_home}}/config/server.properties`).
    pub(crate) command: Vec<String>,
    /// Services (of any node) that must be up before this one starts.
    #[serde(default)]
    pub(crate) after: Vec<String>,
    /// The readiness probe, written `probe: { ruok: 2181 }`.
    #[serde(default, with = "serde_yaml::with::singleton_map")]
    pub(crate) probe: Option<ProbeSpec>,
}

/// An application-level readiness test, never just "the process started".
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub(crate) enum ProbeSpec {
    /// ZooKeeper four-letter word `ruok` answered `imok` on this port.
    Ruok(u16),
    /// A Kafka Metadata request answered on this port (a real client, from the host).
    Kafka(u16),
    /// An HTTP GET on `port` answered 2xx at `path`.
    Http {
        /// The port inside the node.
        port: u16,
        /// The request path.
        path: String,
    },
    /// Something accepts TCP connections on this port.
    Tcp(u16),
}

impl ProbeSpec {
    /// The node-side port the probe talks to.
    pub(crate) fn port(&self) -> u16 {
        match self {
            ProbeSpec::Ruok(p) | ProbeSpec::Kafka(p) | ProbeSpec::Tcp(p) => *p,
            ProbeSpec::Http { port, .. } => *port,
        }
    }
}

/// A spec error, located in its file.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SpecError {
    /// The file could not be read.
    #[error("cannot read lab spec {path}: {source}")]
    Read {
        /// The spec file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The YAML is malformed or does not match the model.
    #[error("{0}")]
    Invalid(Located),
}

/// A message at `file:line:column`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Located {
    /// The spec file.
    pub(crate) file: String,
    /// 1-based line.
    pub(crate) line: usize,
    /// 1-based column.
    pub(crate) column: usize,
    /// What is wrong and what was expected.
    pub(crate) message: String,
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

/// Reads, parses and validates a spec file, its mount sources included.
pub(crate) fn load(path: &Path) -> Result<Spec, SpecError> {
    let read_error = |source| SpecError::Read {
        path: path.to_owned(),
        source,
    };
    let source = std::fs::read_to_string(path).map_err(read_error)?;
    let file = path.display().to_string();
    let mut spec = parse(&file, &source)?;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    spec.dir = std::fs::canonicalize(dir.unwrap_or(Path::new("."))).map_err(read_error)?;
    validate::sources(&spec).map_err(|problem| located(&file, &source, problem))?;
    Ok(spec)
}

/// A validation problem, located in the spec text.
fn located(file: &str, source: &str, problem: validate::Problem) -> SpecError {
    let (line, column) = problem.locate(source);
    SpecError::Invalid(Located {
        file: file.to_owned(),
        line,
        column,
        message: problem.message,
    })
}

/// Parses and validates spec text; `file` only names it in errors. Mount sources are not
/// looked for ([`load`] does, knowing the spec's directory).
pub(crate) fn parse(file: &str, source: &str) -> Result<Spec, SpecError> {
    let spec: Spec = serde_yaml::from_str(source).map_err(|err| {
        let (line, column) = err.location().map_or((1, 1), |l| (l.line(), l.column()));
        SpecError::Invalid(Located {
            file: file.to_owned(),
            line,
            column,
            message: strip_location(&err.to_string()),
        })
    })?;
    validate::validate(&spec).map_err(|problem| located(file, source, problem))?;
    Ok(spec)
}

/// yaml_serde appends " at line L column C" to its messages; the location is printed first instead.
fn strip_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message.get(..i).unwrap_or(message).to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(source: &str) -> Located {
        match parse("t.yaml", source) {
            Err(SpecError::Invalid(l)) => l,
            other => panic!("expected an invalid spec, got {other:?}"),
        }
    }

    #[test]
    fn the_default_lab_parses_and_validates() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let spec = load(&root.join("labs/tp3.yaml")).unwrap();
        assert_eq!(spec.name, "tp3");
        let names: Vec<_> = spec.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["hadoop-master", "hadoop-slave1", "hadoop-slave2"]);
    }

    #[test]
    fn an_unknown_field_is_an_error_at_its_location() {
        let err = error_of("name: x\nnodes:\n  - name: a\n    prots: []\n");
        assert_eq!((err.line, err.column), (4, 5), "{err}");
        assert!(err.message.contains("unknown field `prots`"), "{err}");
        assert!(err.message.contains("expected one of"), "{err}");
        assert!(err.to_string().starts_with("t.yaml:4:5: "), "{err}");
    }

    #[test]
    fn a_wrong_type_says_what_was_expected() {
        let err = error_of("name: x\nnodes:\n  - name: a\n    ports:\n      - port: ninety\n");
        assert_eq!(err.line, 5, "{err}");
        assert!(err.message.contains("expected u16"), "{err}");
    }

    #[test]
    fn an_unknown_service_kind_is_an_error() {
        let err = error_of(
            "name: x\nnodes:\n  - name: a\n    services:\n      - name: s\n        kind: spark\n        command: [x]\n",
        );
        assert_eq!(err.line, 6, "{err}");
        assert!(err.message.contains("unknown variant `spark`"), "{err}");
    }

    #[test]
    fn a_missing_field_is_an_error() {
        let err = error_of("nodes: []\n");
        assert!(err.message.contains("missing field `name`"), "{err}");
    }

    #[test]
    fn malformed_yaml_is_an_error_with_its_location() {
        let err = error_of("name: x\nnodes: [\n");
        assert!(err.line >= 2, "{err}");
    }
}
