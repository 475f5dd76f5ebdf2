//! `lab check`: the lab's checks (built-in and the spec's declarative ones) against a running
//! lab, reported as a table, JSON or JUnit XML; exit code 0 only when every check passes.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};

use super::{DEFAULT_SPEC, LabArg, Runtimes, lab_name, nodes, runtimes, templates_dir};
use crate::checks::report::{self, Format};
use crate::checks::{self, CheckResult, kafka, wordcount, zookeeper};
use crate::plan::{self, Flavor, NodePlan, Plan};
use crate::runtime::{Io, NodeState, Runtime};
use crate::spec::{self, CheckSpec, Kind, Spec};

/// The topic the round-trip checks write to.
const CHECK_TOPIC: &str = "lab-check";

/// How long a consumer group may take to commit a partition it was assigned and that holds
/// messages before the groups check calls it a failure (longer than the sink's default
/// rotation and the stream's batch interval).
const COMMIT_GRACE: std::time::Duration = std::time::Duration::from_secs(8);

/// `lab check`.
pub(super) async fn check(
    lab: &LabArg,
    spec_path: Option<&Path>,
    all: bool,
    format: Format,
    output: Option<&PathBuf>,
) -> anyhow::Result<ExitCode> {
    let mut results = Vec::new();
    let mut found = false;
    for rt in runtimes(lab).await? {
        let labs: Vec<String> = match (&rt, all) {
            (_, false) => vec![match (&lab.name, spec_path) {
                (Some(name), _) => name.clone(),
                (None, Some(path)) => spec::load(path)?.name,
                (None, None) => lab_name(lab),
            }],
            (Runtimes::Docker(d), true) => lab_names(d.list(None).await?),
            (Runtimes::Process(p), true) => lab_names(p.list(None).await?),
        };
        for name in labs {
            let ran = match &rt {
                Runtimes::Docker(d) => run_lab(d, spec_path, &name).await?,
                Runtimes::Process(p) => run_lab(p, spec_path, &name).await?,
            };
            if let Some(r) = ran {
                found = true;
                results.extend(r);
            }
        }
    }
    if !found {
        bail!("no lab to check: bring one up with `lab up` (or name it with --name)");
    }
    let text = report::render(&results, format);
    match output {
        Some(path) => {
            std::fs::write(path, &text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            let failed = results.iter().filter(|r| !r.passed).count();
            eprintln!(
                "{} passed, {failed} failed; report in {}",
                results.len() - failed,
                path.display()
            );
        }
        None => print!("{text}"),
    }
    Ok(if results.iter().all(|r| r.passed) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn lab_names(states: Vec<NodeState>) -> Vec<String> {
    let mut names: Vec<String> = states.into_iter().map(|s| s.lab).collect();
    names.sort();
    names.dedup();
    names
}

/// Runs every check of one lab in one runtime; `None` when the lab is not there. The spec is
/// `spec_path` when given, else the one the lab was brought up from (if it is still there),
/// else the default.
async fn run_lab<R: Runtime>(
    rt: &R,
    spec_path: Option<&Path>,
    lab: &str,
) -> anyhow::Result<Option<Vec<CheckResult>>> {
    let states = rt.list(Some(lab)).await?;
    let Some(first) = states.first() else {
        return Ok(None);
    };
    let spec_path = spec_path
        .map(Path::to_owned)
        .or_else(|| first.spec.clone().filter(|p| p.is_file()))
        .unwrap_or_else(|| DEFAULT_SPEC.into());
    let spec = spec::load(&spec_path)?;
    let templates = templates_dir(&spec_path);
    let flavor = match rt.name() {
        "docker" => Flavor::Docker,
        _ => Flavor::Process {
            base_dir: crate::runtime::process::ProcessRuntime::new()?.lab_dir(lab),
        },
    };
    let plan = plan::build(&spec, &templates, lab, &flavor, first.port_offset)?;
    let checker = Checker {
        rt,
        plan: &plan,
        states: &states,
        results: Vec::new(),
    };
    Ok(Some(checker.run(&spec).await))
}

struct Checker<'a, R: Runtime> {
    rt: &'a R,
    plan: &'a Plan,
    states: &'a [NodeState],
    results: Vec<CheckResult>,
}

impl<R: Runtime> Checker<'_, R> {
    async fn record<F: Future<Output = Result<String, String>>>(
        &mut self,
        name: String,
        node: &str,
        points: u32,
        check: F,
    ) {
        let start = Instant::now();
        let (passed, detail) = match check.await {
            Ok(d) => (true, d),
            Err(d) => (false, d),
        };
        self.results.push(CheckResult {
            lab: self.plan.lab.clone(),
            name,
            node: node.to_owned(),
            passed,
            millis: start.elapsed().as_millis(),
            detail,
            points,
        });
    }

    fn state(&self, node: &str) -> Option<&NodeState> {
        self.states.iter().find(|s| s.node == node)
    }

    /// Where the host reaches each service of a kind (its probe port): node, service, address.
    fn endpoints(&self, kind: Kind) -> Vec<(String, String, Option<SocketAddr>)> {
        let mut out = Vec::new();
        for node in &self.plan.nodes {
            for s in node.services.iter().filter(|s| s.kind == kind) {
                let addr = s.probe.as_ref().and_then(|p| {
                    let state = self.state(&node.name)?;
                    self.rt.endpoint(state, node, p.port())
                });
                out.push((node.name.clone(), s.name.clone(), addr));
            }
        }
        out
    }

    async fn run(mut self, spec: &Spec) -> Vec<CheckResult> {
        let rt = self.rt;
        let plan = self.plan;
        for node in &plan.nodes {
            let state = self.state(&node.name).cloned();
            let expected = nodes::expected_jps(node);
            self.record("services (jps)".into(), &node.name, 0, async {
                let state = state
                    .filter(NodeState::running)
                    .ok_or("node is not running")?;
                let mut actual: Vec<String> = nodes::jps(rt, &state)
                    .await
                    .into_iter()
                    .map(|e| e.name)
                    .collect();
                actual.sort();
                if actual == expected {
                    Ok(if actual.is_empty() {
                        "no services expected, none running".into()
                    } else {
                        actual.join(", ")
                    })
                } else {
                    Err(format!(
                        "expected [{}], jps shows [{}]",
                        expected.join(", "),
                        actual.join(", ")
                    ))
                }
            })
            .await;
        }
        // Services whose probe failed, with why: the checks through them fail at once with that
        // reason instead of each waiting for its own timeout.
        let mut silent: BTreeMap<String, String> = BTreeMap::new();
        for node in &plan.nodes {
            for service in &node.services {
                let Some(probe) = &service.probe else {
                    continue;
                };
                let state = self.state(&node.name).cloned();
                self.record(
                    format!("{} ({})", service.name, checks::describe(probe)),
                    &node.name,
                    0,
                    async {
                        let state = state.ok_or("node is not there")?;
                        let addr = rt
                            .endpoint(&state, node, probe.port())
                            .ok_or("no address for the probe port")?;
                        checks::probe(probe, addr)
                            .await
                            .map(|()| format!("answered on {addr}"))
                    },
                )
                .await;
                if let Some(failed) = self.results.last().filter(|r| !r.passed) {
                    silent.insert(service.name.clone(), failed.detail.clone());
                }
            }
        }
        let brokers = self.endpoints(Kind::Broker);
        // Ask a broker that answered its probe, if any does.
        let bootstrap = brokers
            .iter()
            .filter(|(_, service, _)| !silent.contains_key(service))
            .chain(&brokers)
            .find_map(|(node, _, addr)| Some((node.clone(), (*addr)?)));
        if let Some((node, addr)) = bootstrap.clone() {
            let want = brokers.len();
            self.record(
                "brokers registered".into(),
                &node,
                0,
                blocking(move || {
                    let info = kafka::metadata(addr)?;
                    if info.brokers.len() >= want {
                        Ok(format!("broker ids {:?}", info.brokers))
                    } else {
                        Err(format!(
                            "{want} brokers expected, Metadata lists {:?}",
                            info.brokers
                        ))
                    }
                }),
            )
            .await;
        }
        let coordinator = self.endpoints(Kind::Coordinator).into_iter().next();
        if let (Some((node, _, addr)), false) = (coordinator, brokers.is_empty()) {
            self.record("controller elected (ZooKeeper)".into(), &node, 0, async {
                zookeeper::controller(addr.ok_or("no host address for the coordinator")?).await
            })
            .await;
        }
        for (node, service, addr) in brokers {
            let probe_failed = silent.get(&service).cloned();
            self.record(
                format!("produce/consume via {service}"),
                &node,
                0,
                blocking(move || {
                    if let Some(why) = probe_failed {
                        return Err(format!("the broker does not answer: {why}"));
                    }
                    kafka::round_trip(addr.ok_or("no host address for this broker")?, CHECK_TOPIC)
                }),
            )
            .await;
        }
        let bootstrap = bootstrap.map(|(_, addr)| addr);
        if let Some(addr) = bootstrap {
            self.kafka_state(addr).await;
        }
        self.hdfs_health().await;
        self.wordcount().await;
        if let Some(addr) = bootstrap {
            self.sink_lag(addr).await;
        }
        for check in &spec.checks {
            self.declared(check, bootstrap).await;
        }
        self.results
    }

    /// Topics (a leader and a full ISR for every partition) and consumer groups (committed
    /// offsets and lag), through the first broker the host reaches.
    async fn kafka_state(&mut self, addr: SocketAddr) {
        self.record(
            "topics (partitions, leaders, ISR)".into(),
            "-",
            0,
            blocking(move || kafka::topics(addr)),
        )
        .await;
        self.record(
            "consumer groups (committed offsets, lag)".into(),
            "-",
            0,
            blocking(move || {
                let mut groups = kafka::group_lags(addr)?;
                // A consumer commits after it processed (the sink after a file's RENAME, the
                // stream after a batch): a partition uncommitted now may be committed soon.
                if groups.iter().any(|g| !g.uncommitted.is_empty()) {
                    std::thread::sleep(COMMIT_GRACE);
                    groups = kafka::group_lags(addr)?;
                }
                let shown = if groups.is_empty() {
                    "no consumer groups".to_owned()
                } else {
                    groups
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ")
                };
                if groups.iter().any(|g| !g.uncommitted.is_empty()) {
                    Err(shown)
                } else {
                    Ok(shown)
                }
            }),
        )
        .await;
    }

    /// The streaming wordcount: each stream service is running and its log shows recent
    /// `Time: … ms` batch headers.
    async fn wordcount(&mut self) {
        let rt = self.rt;
        for node in &self.plan.nodes {
            for service in node.services.iter().filter(|s| s.kind == Kind::Stream) {
                let state = self.state(&node.name).cloned();
                self.record(
                    format!("wordcount batches ({} log)", service.name),
                    &node.name,
                    0,
                    async {
                        let state = state
                            .filter(NodeState::running)
                            .ok_or("node is not running")?;
                        let running = nodes::jps(rt, &state)
                            .await
                            .iter()
                            .any(|e| e.name == nodes::jps_name(Kind::Stream));
                        let mut log = Vec::new();
                        rt.logs(
                            &state.object,
                            Some(&service.name),
                            false,
                            Some(2000),
                            &mut log,
                        )
                        .await
                        .map_err(|e| format!("{e:#}"))?;
                        let now = std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
                        let seen = wordcount::verdict(&String::from_utf8_lossy(&log), now);
                        match seen {
                            Ok(detail) if running => Ok(detail),
                            Ok(detail) | Err(detail) if !running => Err(format!(
                                "{} is not running (jps); its log: {detail}",
                                service.name
                            )),
                            other => other,
                        }
                    },
                )
                .await;
            }
        }
    }

    /// Each sink's consumer group (its config's `group.id`) against its topics' end offsets.
    async fn sink_lag(&mut self, addr: SocketAddr) {
        for node in &self.plan.nodes {
            for service in node.services.iter().filter(|s| s.kind == Kind::Sink) {
                let config = sink_config(node, &service.command);
                self.record(
                    format!("sink lag ({})", service.name),
                    &node.name,
                    0,
                    blocking(move || {
                        let (group, topics) = config?;
                        kafka::topic_lag(addr, &group, &topics)
                    }),
                )
                .await;
            }
        }
    }

    /// HDFS health from the namenode's status page: safe mode off, every datanode live.
    async fn hdfs_health(&mut self) {
        let datanodes = self
            .plan
            .nodes
            .iter()
            .flat_map(|n| &n.services)
            .filter(|s| s.kind == Kind::Datanode)
            .count();
        let Some((node, _, addr)) = self.endpoints(Kind::Namenode).into_iter().next() else {
            return;
        };
        self.record(
            "HDFS health (live datanodes, safe mode)".into(),
            &node,
            0,
            blocking(move || {
                let page = checks::http_body(
                    addr.ok_or("no address for the namenode")?,
                    "/dfshealth.html",
                )?;
                let text = regex::Regex::new("<[^>]*>")
                    .map_err(|e| e.to_string())?
                    .replace_all(&page, " ");
                let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
                let live = regex::Regex::new(r"Live Nodes (\d+)")
                    .map_err(|e| e.to_string())?
                    .captures(&text)
                    .and_then(|c| c.get(1)?.as_str().parse::<usize>().ok())
                    .ok_or("the status page shows no `Live Nodes` count")?;
                if text.contains("Safe mode is ON") {
                    Err(format!(
                        "the namenode is in safe mode ({live} live datanodes)"
                    ))
                } else if live < datanodes {
                    Err(format!("{live} live datanodes, the spec runs {datanodes}"))
                } else {
                    Ok(format!("{live} live datanodes, safe mode off"))
                }
            }),
        )
        .await;
    }

    async fn declared(&mut self, check: &CheckSpec, bootstrap: Option<std::net::SocketAddr>) {
        let rt = self.rt;
        let node = [
            check.file.as_ref().map(|f| f.node.clone()),
            check.command.as_ref().map(|c| c.node.clone()),
            check.hdfs.as_ref().map(|h| h.node.clone()),
        ]
        .into_iter()
        .flatten()
        .next()
        .unwrap_or_else(|| "-".to_owned());
        let object = self.state(&node).map(|s| s.object.clone());
        let root = self
            .plan
            .nodes
            .iter()
            .find(|n| n.name == node)
            .map(|n| n.root.clone())
            .unwrap_or_default();
        let not_up = format!("node `{node}` is not up");
        let exec = |cmd: Vec<String>| {
            let object = object.clone();
            let not_up = not_up.clone();
            async move {
                let object = object.ok_or(not_up)?;
                let out = rt
                    .exec(&object, &cmd, Io::Capture)
                    .await
                    .map_err(|e| format!("{e:#}"))?;
                if out.code != 0 {
                    return Err(format!(
                        "`{}` exited with {}: {}",
                        cmd.join(" "),
                        out.code,
                        String::from_utf8_lossy(&out.stderr).trim()
                    ));
                }
                Ok(String::from_utf8_lossy(&out.stdout).into_owned())
            }
        };
        let name = check.name.clone();
        let node_name = self.state(&node).map_or("-".to_owned(), |s| s.node.clone());
        if let Some(t) = check.topic.clone() {
            self.record(
                name,
                &node_name,
                check.points,
                blocking(move || {
                    let info = kafka::metadata(bootstrap.ok_or("no broker to ask")?)?;
                    let topic = info
                        .topics
                        .iter()
                        .find(|x| x.name == t.name)
                        .ok_or(format!("no topic `{}`", t.name))?;
                    if let Some(p) = t.partitions
                        && topic.replicas.len() != p
                    {
                        return Err(format!(
                            "`{}` has {} partitions, expected {p}",
                            t.name,
                            topic.replicas.len()
                        ));
                    }
                    if let Some(r) = t.replication
                        && topic.replicas.iter().any(|n| *n != r)
                    {
                        return Err(format!(
                            "`{}` has replicas {:?} per partition, expected {r}",
                            t.name, topic.replicas
                        ));
                    }
                    Ok(format!(
                        "`{}`: {} partition(s), replicas {:?}",
                        t.name,
                        topic.replicas.len(),
                        topic.replicas
                    ))
                }),
            )
            .await;
        } else if let Some(m) = check.messages.clone() {
            self.record(
                name,
                &node_name,
                check.points,
                blocking(move || {
                    let (count, keys) =
                        kafka::messages(bootstrap.ok_or("no broker to ask")?, &m.topic)?;
                    let missing: Vec<&String> =
                        m.keys.iter().filter(|k| !keys.contains(*k)).collect();
                    if count < m.min {
                        Err(format!(
                            "`{}` holds {count} messages, expected at least {}",
                            m.topic, m.min
                        ))
                    } else if !missing.is_empty() {
                        Err(format!("`{}`: no message with key(s) {missing:?}", m.topic))
                    } else {
                        Ok(format!("`{}` holds {count} messages", m.topic))
                    }
                }),
            )
            .await;
        } else if let Some(f) = check.file.clone() {
            let cmd = vec!["cat".to_owned(), format!("{root}{}", f.path)];
            self.record(name, &node_name, check.points, async move {
                let text = exec(cmd).await?;
                if text.contains(&f.contains) {
                    Ok(format!("{} contains {:?}", f.path, f.contains))
                } else {
                    Err(format!("{} does not contain {:?}", f.path, f.contains))
                }
            })
            .await;
        } else if let Some(c) = check.command.clone() {
            self.record(name, &node_name, check.points, async move {
                let re = regex::Regex::new(&c.matches).map_err(|e| e.to_string())?;
                let text = exec(c.run.clone()).await?;
                if re.is_match(&text) {
                    Ok(format!("output matches /{}/", c.matches))
                } else {
                    let shown: String = text.chars().take(200).collect();
                    Err(format!("output does not match /{}/: {shown:?}", c.matches))
                }
            })
            .await;
        } else if let Some(h) = check.hdfs.clone() {
            let cmd = vec!["hdfs".into(), "dfs".into(), "-ls".into(), h.path.clone()];
            self.record(name, &node_name, check.points, async move {
                let text = exec(cmd).await?;
                let files = text.lines().filter(|l| l.starts_with('-')).count();
                if files >= h.min_files {
                    Ok(format!("{files} file(s) under {}", h.path))
                } else {
                    Err(format!(
                        "{files} file(s) under {}, expected at least {}",
                        h.path, h.min_files
                    ))
                }
            })
            .await;
        }
    }
}

/// The `group.id` and `topics` of a sink, read from the config file its command names
/// (`--config FILE`, rendered by the plan).
fn sink_config(node: &NodePlan, command: &[String]) -> Result<(String, Vec<String>), String> {
    let path = command
        .iter()
        .skip_while(|a| *a != "--config")
        .nth(1)
        .ok_or("the sink's command names no --config file")?;
    let file = node
        .files
        .iter()
        .find(|f| f.path == *path || path.ends_with(&f.path))
        .ok_or(format!(
            "the sink's config {path} is not among the node's files"
        ))?;
    let value = |key: &str| {
        file.contents.lines().find_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.trim() == key).then(|| v.trim().to_owned())
        })
    };
    let group = value("group.id").ok_or(format!("{path} sets no group.id"))?;
    let topics = value("topics")
        .ok_or(format!("{path} sets no topics"))?
        .split(',')
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect();
    Ok((group, topics))
}

/// Runs a blocking check (rdkafka) off the async threads.
async fn blocking(
    f: impl FnOnce() -> Result<String, String> + Send + 'static,
) -> Result<String, String> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| format!("check task failed: {e}"))?
}
