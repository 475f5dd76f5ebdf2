//! Spec + rendered files → a plan: the lab's objects (nodes, ports, files), each node's services
//! in dependency order (coordinator → brokers → namenode → datanodes → sink → stream, refined by
//! `after`), and the probes that tell when the lab is up. A runtime only executes a plan.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::render::{Layout, RenderFailure, Renderer};
use crate::spec::{self, Kind, ProbeSpec, Spec, Tool};

/// The name of the lab the default spec describes; its objects carry bare node names.
pub(crate) const DEFAULT_LAB: &str = "tp3";

/// Where the services file goes in a node (under the node's root); `labnode init` reads it.
pub(crate) const SERVICES_FILE: &str = "/etc/lab/services";

/// Which kind of runtime the plan is laid out for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Flavor {
    /// One container per node on a private network: node names resolve, ports are the spec's.
    Docker,
    /// Local processes on loopback; `base_dir/<node>` is each node's root.
    Process {
        /// The lab's state directory.
        base_dir: PathBuf,
    },
}

/// What to run, everything resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Plan {
    /// The lab's name (default `tp3`).
    pub(crate) lab: String,
    /// The network name.
    pub(crate) network: String,
    /// Added to every published host port.
    pub(crate) port_offset: u16,
    /// Directories kept in per-node volumes.
    pub(crate) volumes: Vec<String>,
    /// The nodes in spec order.
    pub(crate) nodes: Vec<NodePlan>,
    /// A digest of everything above: objects carry it, so a changed spec is noticed.
    pub(crate) hash: String,
    /// The spec file it came from, recorded on the lab's objects so that `lab check` (and
    /// `--all` across labs of different specs) checks each lab against its own spec.
    #[serde(skip)]
    pub(crate) spec_file: PathBuf,
}

/// One node, resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct NodePlan {
    /// The spec's node name: hostname and address on the lab network.
    pub(crate) name: String,
    /// The runtime object's name: `<node>` for the default lab, `<lab>-<node>` otherwise.
    pub(crate) object: String,
    /// Where its file system starts (empty in a container).
    pub(crate) root: String,
    /// Its ports.
    pub(crate) ports: Vec<PortPlan>,
    /// Rendered files (configs and the services file), paths under `root`.
    pub(crate) files: Vec<FilePlan>,
    /// Its services in start order.
    pub(crate) services: Vec<ServicePlan>,
    /// The host tools it gets (`/opt/lab/<tool>`, read-only, on its PATH).
    pub(crate) tools: Vec<Tool>,
    /// Host directories mounted read-only into it.
    pub(crate) mounts: Vec<MountPlan>,
}

/// A host directory mounted read-only into a node.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct MountPlan {
    /// The host directory (absolute for a loaded spec).
    pub(crate) source: PathBuf,
    /// Where it appears in the node.
    pub(crate) path: String,
}

/// A node port, where it is on the lab network and on the host.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct PortPlan {
    /// The port as the spec names it.
    pub(crate) port: u16,
    /// Where it really listens (differs from `port` in the process runtime).
    pub(crate) lab_port: u16,
    /// The host address and port it is published on.
    pub(crate) published: Option<(String, u16)>,
}

/// A file to write into a node.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct FilePlan {
    /// Absolute path (under the node's root).
    pub(crate) path: String,
    /// The contents.
    pub(crate) contents: String,
}

/// A service, resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ServicePlan {
    /// Its name.
    pub(crate) name: String,
    /// Its kind.
    pub(crate) kind: Kind,
    /// The rendered command line.
    pub(crate) command: Vec<String>,
    /// The probe, with the node port it uses.
    pub(crate) probe: Option<ProbeSpec>,
}

/// A planning failure.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PlanError {
    /// A template failed.
    #[error(transparent)]
    Render(#[from] RenderFailure),
    /// A rendered command word holds whitespace (the services file separates words by spaces).
    #[error(
        "command word `{word}` of service `{service}` contains whitespace: expected one word per list item"
    )]
    Word {
        /// The service.
        service: String,
        /// The rendered word.
        word: String,
    },
    /// A shifted host port does not fit in 16 bits.
    #[error("host port {port} + offset {offset} is above 65535: choose a smaller --port-offset")]
    PortOverflow {
        /// The spec's host port.
        port: u16,
        /// The offset.
        offset: u16,
    },
}

/// The container / process-group name of a node.
pub(crate) fn object_name(lab: &str, node: &str) -> String {
    if lab == DEFAULT_LAB {
        node.to_owned()
    } else {
        format!("{lab}-{node}")
    }
}

/// The network name of a lab.
pub(crate) fn network_name(lab: &str, network: &str) -> String {
    if lab == DEFAULT_LAB {
        network.to_owned()
    } else {
        format!("{lab}-{network}")
    }
}

/// Builds the plan of `spec` for lab `lab`, with templates from `templates`.
pub(crate) fn build(
    spec: &Spec,
    templates: &Path,
    lab: &str,
    flavor: &Flavor,
    port_offset: u16,
) -> Result<Plan, PlanError> {
    let layout = layout(spec, flavor, port_offset)?;
    let order = start_order(spec);
    let mut nodes = Vec::new();
    for node in &spec.nodes {
        let renderer = Renderer::new(&layout, lab, &node.name);
        let root = layout.roots.get(&node.name).cloned().unwrap_or_default();
        let ports = node
            .ports
            .iter()
            .map(|p| PortPlan {
                port: p.port,
                lab_port: layout
                    .ports
                    .get(&(node.name.clone(), p.port))
                    .copied()
                    .unwrap_or(p.port),
                published: layout
                    .host_ports
                    .get(&(node.name.clone(), p.port))
                    .map(|h| (p.bind.clone(), *h)),
            })
            .collect();
        let mut files = Vec::new();
        for f in &node.files {
            files.push(FilePlan {
                path: renderer.string(&f.path)?,
                contents: renderer.file(&templates.join(&f.template), &f.vars)?,
            });
        }
        let mut services = Vec::new();
        for name in &order {
            let Some(s) = node.services.iter().find(|s| &s.name == name) else {
                continue;
            };
            let command = s
                .command
                .iter()
                .map(|w| renderer.string(w))
                .collect::<Result<Vec<_>, _>>()?;
            if let Some(word) = command
                .iter()
                .find(|w| w.is_empty() || w.contains(char::is_whitespace))
            {
                return Err(PlanError::Word {
                    service: s.name.clone(),
                    word: word.clone(),
                });
            }
            services.push(ServicePlan {
                name: s.name.clone(),
                kind: s.kind,
                command,
                probe: s.probe.clone(),
            });
        }
        files.push(FilePlan {
            path: format!("{root}{SERVICES_FILE}"),
            contents: services_file(&node.name, &services, &ports_of(&layout, &node.name)),
        });
        nodes.push(NodePlan {
            object: object_name(lab, &node.name),
            name: node.name.clone(),
            root,
            ports,
            files,
            services,
            tools: node.tools.clone(),
            mounts: node
                .mounts
                .iter()
                .map(|m| MountPlan {
                    source: spec::mount_source(spec, m),
                    path: m.path.clone(),
                })
                .collect(),
        });
    }
    let mut plan = Plan {
        lab: lab.to_owned(),
        network: network_name(lab, &spec.network),
        port_offset,
        volumes: spec.volumes.clone(),
        nodes,
        hash: String::new(),
        spec_file: PathBuf::new(),
    };
    let digest = Sha256::digest(serde_json::to_vec(&plan).unwrap_or_default());
    plan.hash = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    Ok(plan)
}

fn ports_of(layout: &Layout, node: &str) -> BTreeMap<u16, u16> {
    layout
        .ports
        .iter()
        .filter(|((n, _), _)| n == node)
        .map(|((_, p), l)| (*p, *l))
        .collect()
}

/// Resolves where every node and port is for this runtime.
fn layout(spec: &Spec, flavor: &Flavor, offset: u16) -> Result<Layout, PlanError> {
    let mut layout = Layout::default();
    let lab_index = (offset / 100).min(20);
    for (i, node) in spec.nodes.iter().enumerate() {
        let (root, addr) = match flavor {
            Flavor::Docker => (String::new(), node.name.clone()),
            Flavor::Process { base_dir } => (
                base_dir.join(&node.name).display().to_string(),
                "127.0.0.1".to_owned(),
            ),
        };
        layout.roots.insert(node.name.clone(), root);
        layout.addrs.insert(node.name.clone(), addr);
        let mut unpublished = 0u16;
        for p in &node.ports {
            let host = match p.publish {
                Some(h) => Some(
                    h.checked_add(offset)
                        .ok_or(PlanError::PortOverflow { port: h, offset })?,
                ),
                None => None,
            };
            let lab_port = match (flavor, host) {
                (Flavor::Docker, _) => p.port,
                (Flavor::Process { .. }, Some(h)) => h,
                // Unpublished ports of process nodes: 41000 + 1000 per lab + 100 per node.
                (Flavor::Process { .. }, None) => {
                    unpublished += 1;
                    let node_index = u16::try_from(i).unwrap_or(u16::MAX).min(9);
                    41000 + lab_index * 1000 + node_index * 100 + unpublished
                }
            };
            layout.ports.insert((node.name.clone(), p.port), lab_port);
            if let Some(h) = host {
                layout.host_ports.insert((node.name.clone(), p.port), h);
            }
        }
    }
    layout.bind = match flavor {
        Flavor::Docker => "0.0.0.0",
        Flavor::Process { .. } => "127.0.0.1",
    }
    .to_owned();
    Ok(layout)
}

/// The lab-wide start order: `after` edges first, then kinds (coordinator → … → stream), then
/// spec order. Validation has already refused cycles and dangling names.
pub(crate) fn start_order(spec: &Spec) -> Vec<String> {
    let all: Vec<(usize, Kind, &str, &[String])> = spec
        .nodes
        .iter()
        .flat_map(|n| &n.services)
        .enumerate()
        .map(|(i, s)| (i, s.kind, s.name.as_str(), s.after.as_slice()))
        .collect();
    let mut done: BTreeSet<&str> = BTreeSet::new();
    let mut order = Vec::new();
    while order.len() < all.len() {
        let next = all
            .iter()
            .filter(|(_, _, name, _)| !done.contains(name))
            .filter(|(_, _, _, after)| after.iter().all(|a| done.contains(a.as_str())))
            .min_by_key(|(i, kind, _, _)| (*kind, *i));
        let Some((_, _, name, _)) = next else { break };
        done.insert(name);
        order.push((*name).to_owned());
    }
    order
}

/// The file `labnode init` reads: one service per line, in start order:
/// `NAME [ready=PORT] -- COMMAND [ARG…]`. `ready` is the port init waits for before it starts
/// the next service.
fn services_file(node: &str, services: &[ServicePlan], ports: &BTreeMap<u16, u16>) -> String {
    let mut out = format!(
        "# Services of node {node}, written by `lab` and read by `labnode init` (PID 1).\n\
         # One per line, in start order: NAME [ready=PORT] -- COMMAND [ARG...]\n"
    );
    for s in services {
        out.push_str(&s.name);
        if let Some(probe) = &s.probe {
            let port = ports.get(&probe.port()).copied().unwrap_or(probe.port());
            out.push_str(&format!(" ready={port}"));
        }
        out.push_str(" --");
        for word in &s.command {
            out.push(' ');
            out.push_str(word);
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec;

    fn root() -> &'static Path {
        Path::new(env!("CARGO_MANIFEST_DIR"))
    }

    fn tp3() -> Spec {
        spec::load(&root().join("labs/tp3.yaml")).unwrap()
    }

    /// Compares with a golden file; `LAB_BLESS=1` rewrites it.
    fn golden(name: &str, actual: &str) {
        let path = root().join("tests/golden").join(name);
        if std::env::var_os("LAB_BLESS").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, actual).unwrap();
        }
        let expected = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (LAB_BLESS=1 writes it)", path.display()));
        assert_eq!(actual, expected, "{name} differs from its golden file");
    }

    fn file<'a>(plan: &'a Plan, node: &str, path: &str) -> &'a str {
        let node = plan.nodes.iter().find(|n| n.name == node).unwrap();
        &node.files.iter().find(|f| f.path == path).unwrap().contents
    }

    #[test]
    fn the_tp3_configs_match_their_golden_files() {
        let plan = build(&tp3(), &root().join("templates"), "tp3", &Flavor::Docker, 0).unwrap();
        for name in [
            "server.properties",
            "server-one.properties",
            "server-two.properties",
            "zookeeper.properties",
        ] {
            golden(
                name,
                file(
                    &plan,
                    "hadoop-master",
                    &format!("/usr/local/kafka/config/{name}"),
                ),
            );
        }
    }

    #[test]
    fn a_second_lab_shifts_its_host_ports_and_names() {
        let plan = build(
            &tp3(),
            &root().join("templates"),
            "tp3-b",
            &Flavor::Docker,
            100,
        )
        .unwrap();
        assert_eq!(plan.network, "tp3-b-hadoop");
        assert_eq!(plan.nodes[0].object, "tp3-b-hadoop-master");
        let conf = file(
            &plan,
            "hadoop-master",
            "/usr/local/kafka/config/server-one.properties",
        );
        assert!(conf.contains("EXTERNAL://localhost:9193"), "{conf}");
        assert!(conf.contains("PLAINTEXT://hadoop-master:9093"), "{conf}");
        let published: Vec<_> = plan.nodes[0]
            .ports
            .iter()
            .filter_map(|p| p.published.clone())
            .collect();
        assert!(
            published.contains(&("127.0.0.1".to_owned(), 2281)),
            "{published:?}"
        );
    }

    #[test]
    fn the_process_runtime_gets_its_own_ports_and_root() {
        let base = PathBuf::from("/state/tp3");
        let plan = build(
            &tp3(),
            &root().join("templates"),
            "tp3",
            &Flavor::Process { base_dir: base },
            0,
        )
        .unwrap();
        let conf = file(
            &plan,
            "hadoop-master",
            "/state/tp3/hadoop-master/usr/local/kafka/config/server.properties",
        );
        assert!(
            conf.contains("log.dirs=/state/tp3/hadoop-master/tmp/kafka-logs"),
            "{conf}"
        );
        assert!(
            conf.contains("listeners=PLAINTEXT://127.0.0.1:41001,EXTERNAL://127.0.0.1:9092"),
            "{conf}"
        );
        assert!(conf.contains("zookeeper.connect=localhost:2181"), "{conf}");
    }

    #[test]
    fn services_start_in_dependency_then_kind_order() {
        let src = "name: x
nodes:
  - name: a
    ports: [{ port: 1 }]
    services:
      - { name: sink, kind: sink, command: [s] }
      - { name: broker, kind: broker, command: [b], after: [zk] }
      - { name: zk, kind: coordinator, command: [z, '{{port 1}}'], probe: { ruok: 1 } }
      - { name: stream, kind: stream, command: [w], after: [sink] }
  - name: b
    services:
      - { name: dn, kind: datanode, command: [d], after: [nn] }
      - { name: nn, kind: namenode, command: [n] }
";
        let spec = spec::parse("t.yaml", src).unwrap();
        assert_eq!(
            start_order(&spec),
            ["zk", "broker", "nn", "dn", "sink", "stream"]
        );
        let plan = build(&spec, &root().join("templates"), "x", &Flavor::Docker, 0).unwrap();
        let services = file(&plan, "a", SERVICES_FILE);
        let lines: Vec<_> = services.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            lines,
            [
                "zk ready=1 -- z 1",
                "broker -- b",
                "sink -- s",
                "stream -- w"
            ]
        );
    }

    #[test]
    fn the_hash_follows_the_content() {
        let t = root().join("templates");
        let a = build(&tp3(), &t, "tp3", &Flavor::Docker, 0).unwrap();
        let b = build(&tp3(), &t, "tp3", &Flavor::Docker, 0).unwrap();
        let c = build(&tp3(), &t, "tp3", &Flavor::Docker, 100).unwrap();
        assert_eq!(a.hash, b.hash);
        assert_ne!(a.hash, c.hash);
    }
}
