//! `lab up` and `lab down`, written once for every runtime, in explicit stages that stop at the
//! first failure: read → plan → preflight → image and network → nodes → probes → summary.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::progress::{Progress, Step};
use super::{LabArg, RuntimeKind, Runtimes, lab_name, nodes, runtimes, templates_dir};
use crate::checks;
use crate::plan::{self, DEFAULT_LAB, Flavor, NodePlan, Plan};
use crate::ports;
use crate::runtime::docker::DockerRuntime;
use crate::runtime::process::ProcessRuntime;
use crate::runtime::{NodeState, Runtime};
use crate::spec::{self, Spec};

/// `lab up`.
pub(super) async fn up(
    spec_path: &Path,
    lab: &LabArg,
    port_offset: Option<u16>,
    timeout: u64,
) -> anyhow::Result<ExitCode> {
    let spec = spec::load(spec_path)?;
    let name = lab.name.clone().unwrap_or_else(|| spec.name.clone());
    let progress = Progress::new();
    let deadline = Duration::from_secs(timeout);
    let plan = match lab.runtime.unwrap_or(RuntimeKind::Docker) {
        RuntimeKind::Docker => {
            let docker = DockerRuntime::connect().await?;
            let plan = up_on(
                &docker,
                &spec,
                spec_path,
                &name,
                &Flavor::Docker,
                port_offset,
                deadline,
                &progress,
            )
            .await?;
            nodes::print_status(&docker, &plan.lab).await?;
            plan
        }
        RuntimeKind::Process => {
            let process = ProcessRuntime::new()?;
            let flavor = Flavor::Process {
                base_dir: process.lab_dir(&name),
            };
            let plan = up_on(
                &process,
                &spec,
                spec_path,
                &name,
                &flavor,
                port_offset,
                deadline,
                &progress,
            )
            .await?;
            nodes::print_status(&process, &plan.lab).await?;
            plan
        }
    };
    eprintln!("lab `{}` is up ({} nodes).", plan.lab, plan.nodes.len());
    Ok(ExitCode::SUCCESS)
}

/// What `up` does to one node.
#[derive(Debug, PartialEq)]
enum Action {
    /// Up to date and running.
    Keep,
    /// Up to date, stopped.
    Start,
    /// Missing.
    Create,
    /// Built from another spec: removed (volumes kept) and created again.
    Recreate,
}

#[allow(clippy::too_many_arguments)]
async fn up_on<R: Runtime>(
    rt: &R,
    spec: &Spec,
    spec_path: &Path,
    lab: &str,
    flavor: &Flavor,
    port_offset: Option<u16>,
    deadline: Duration,
    progress: &Progress,
) -> anyhow::Result<Plan> {
    // Plan.
    let existing = rt.list(Some(lab)).await?;
    let offset = match (port_offset, existing.first()) {
        (Some(o), _) => o,
        (None, Some(node)) => node.port_offset,
        (None, None) if lab == DEFAULT_LAB => 0,
        (None, None) => free_offset(rt, spec).await?,
    };
    let mut plan = plan::build(spec, &templates_dir(spec_path), lab, flavor, offset)?;
    plan.spec_file = std::fs::canonicalize(spec_path).unwrap_or_else(|_| spec_path.to_owned());
    let revision = rt.revision(&plan).await?;
    if !revision.is_empty() {
        plan.hash = format!("{}-{revision}", plan.hash);
    }
    let stale: Vec<&str> = existing
        .iter()
        .filter(|s| !plan.nodes.iter().any(|n| n.object == s.object))
        .map(|s| s.object.as_str())
        .collect();
    if !stale.is_empty() {
        bail!(
            "lab `{lab}` has nodes this spec does not describe ({}): remove them first with `lab down --name {lab}`",
            stale.join(", ")
        );
    }
    let actions: Vec<(&NodePlan, Action)> = plan
        .nodes
        .iter()
        .map(|n| {
            let action = match existing.iter().find(|s| s.object == n.object) {
                None => Action::Create,
                Some(s) if s.hash != plan.hash => Action::Recreate,
                Some(s) if s.running() => Action::Keep,
                Some(_) => Action::Start,
            };
            (n, action)
        })
        .collect();

    // Nodes built from another spec go first, so that their ports are free for the preflight.
    for (node, action) in &actions {
        if *action == Action::Recreate {
            let step = progress.step(format!("{}: spec changed, recreating", node.object));
            rt.remove(&node.object, false).await?;
            step.done("removed (volumes kept)");
        }
    }

    // Preflight: every host port the new nodes publish must be free.
    let mut taken = Vec::new();
    for (node, action) in &actions {
        if *action == Action::Keep {
            continue;
        }
        for p in &node.ports {
            let (bind, port) = match &p.published {
                Some((bind, host)) => (bind.as_str(), *host),
                None if matches!(flavor, Flavor::Process { .. }) => ("127.0.0.1", p.lab_port),
                None => continue,
            };
            if !ports::is_free(bind, port) {
                taken.push(format!(
                    "{bind}:{port} (node {}, port {}) is held by {}",
                    node.name,
                    p.port,
                    holder(rt, port).await
                ));
            }
        }
    }
    if !taken.is_empty() {
        bail!(
            "host ports are taken:\n  {}\nStop what holds them, or bring this lab up under another name with shifted ports \
             (`lab up --name tp3-b`, or `--port-offset N`).",
            taken.join("\n  ")
        );
    }

    // Image and network.
    let step = progress.step(format!("{} runtime", rt.name()));
    match rt.prepare(&plan).await {
        Ok(what) => step.done(what),
        Err(e) => {
            step.fail("failed");
            return Err(e);
        }
    }

    // Nodes.
    for (node, action) in &actions {
        let step = progress.step(node.object.clone());
        let result = async {
            match action {
                Action::Create | Action::Recreate => rt.create(&plan, node).await?,
                Action::Start | Action::Keep => {}
            }
            rt.start(&node.object).await?;
            anyhow::Ok(if *action == Action::Keep {
                "already up"
            } else {
                "started"
            })
        }
        .await;
        match result {
            Ok(what) => step.done(what),
            Err(e) => {
                step.fail("failed");
                return Err(e);
            }
        }
    }

    // Probes, then the services that have none.
    wait_for_probes(rt, &plan, deadline, progress).await?;
    wait_for_unprobed(rt, &plan, deadline, progress).await?;
    Ok(plan)
}

/// Services without a probe (the sink, the stream) are up when jps lists them: waits until each
/// node's jps report shows at least every service its spec runs, so `lab check` right after
/// `lab up` sees the whole lab.
async fn wait_for_unprobed<R: Runtime>(
    rt: &R,
    plan: &Plan,
    deadline: Duration,
    progress: &Progress,
) -> anyhow::Result<()> {
    let start = Instant::now();
    for node in plan
        .nodes
        .iter()
        .filter(|n| n.services.iter().any(|s| s.probe.is_none()))
    {
        let want = nodes::expected_jps(node);
        let step = progress.step(format!("{}: services in jps", node.name));
        loop {
            let state = rt.status(&node.object).await?.filter(NodeState::running);
            let seen: Vec<String> = match &state {
                Some(state) => nodes::jps(rt, state)
                    .await
                    .into_iter()
                    .map(|e| e.name)
                    .collect(),
                None => Vec::new(),
            };
            let missing = missing_from(&want, &seen);
            if missing.is_empty() {
                step.done(want.join(", "));
                break;
            }
            if start.elapsed() >= deadline {
                step.fail(format!("missing {}", missing.join(", ")));
                bail!(
                    "on {}, jps does not show {} within {}s (it shows [{}]); `lab logs {} <service>` says why",
                    node.name,
                    missing.join(", "),
                    deadline.as_secs(),
                    seen.join(", "),
                    node.name
                );
            }
            step.set(format!("waiting for {}", missing.join(", ")));
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    Ok(())
}

/// The names of `want` that `seen` lacks, counting repeats (three `Kafka` need three).
fn missing_from(want: &[String], seen: &[String]) -> Vec<String> {
    let mut left: Vec<&String> = seen.iter().collect();
    want.iter()
        .filter(|w| match left.iter().position(|s| s == w) {
            Some(i) => {
                left.swap_remove(i);
                false
            }
            None => true,
        })
        .cloned()
        .collect()
}

/// Who holds a host port, for the error message.
async fn holder<R: Runtime>(rt: &R, port: u16) -> String {
    let process = ports::holder(port);
    let container = if rt.name() == "docker" {
        match DockerRuntime::connect().await {
            Ok(d) => d.container_on_port(port).await,
            Err(_) => None,
        }
    } else {
        None
    };
    match (container, process) {
        (Some(c), _) => format!("container {c}"),
        (None, Some(p)) => p,
        (None, None) => "an unknown holder".to_owned(),
    }
}

/// The first multiple of 100 whose shifted host ports are all free and used by no other lab.
async fn free_offset<R: Runtime>(rt: &R, spec: &Spec) -> anyhow::Result<u16> {
    let used: Vec<u16> = rt.list(None).await?.iter().map(|s| s.port_offset).collect();
    let published: Vec<(String, u16)> = spec
        .nodes
        .iter()
        .flat_map(|n| &n.ports)
        .filter_map(|p| Some((p.bind.clone(), p.publish?)))
        .collect();
    for k in 1..=50u16 {
        let offset = k * 100;
        if used.contains(&offset) {
            continue;
        }
        let free = published.iter().all(|(bind, port)| {
            port.checked_add(offset)
                .is_some_and(|p| ports::is_free(bind, p))
        });
        if free {
            return Ok(offset);
        }
    }
    bail!("no free host port range found (tried offsets 100 to 5000): pass --port-offset")
}

/// Waits until every service's probe passes; on failure, names the probe and shows the last
/// lines of that service's log.
async fn wait_for_probes<R: Runtime>(
    rt: &R,
    plan: &Plan,
    deadline: Duration,
    progress: &Progress,
) -> anyhow::Result<()> {
    let start = Instant::now();
    for node in &plan.nodes {
        for service in &node.services {
            let Some(probe) = &service.probe else {
                continue;
            };
            let step = progress.step(format!(
                "{}: {} ({})",
                node.name,
                service.name,
                checks::describe(probe)
            ));
            match wait_one(rt, node, &service.name, probe, start, deadline, &step).await {
                Ok(()) => step.done("ready"),
                Err(reason) => {
                    step.fail(reason.clone());
                    let mut log = Vec::new();
                    let _ = rt
                        .logs(&node.object, Some(&service.name), false, Some(20), &mut log)
                        .await;
                    bail!(
                        "service `{}` on {} is not ready: {reason}\nlast lines of its log (lab logs {} {}):\n{}",
                        service.name,
                        node.name,
                        node.name,
                        service.name,
                        String::from_utf8_lossy(&log)
                    );
                }
            }
        }
    }
    Ok(())
}

/// Polls one probe; gives up at the deadline, or early when the service keeps crashing.
async fn wait_one<R: Runtime>(
    rt: &R,
    node: &NodePlan,
    service: &str,
    probe: &spec::ProbeSpec,
    start: Instant,
    deadline: Duration,
    step: &Step,
) -> Result<(), String> {
    let mut last = String::from("not probed yet");
    let mut polls = 0u32;
    while start.elapsed() < deadline {
        let state: Option<NodeState> = rt
            .status(&node.object)
            .await
            .map_err(|e| format!("{e:#}"))?;
        let Some(state) = state.filter(NodeState::running) else {
            return Err(format!("node {} is not running", node.object));
        };
        if let Some(addr) = rt.endpoint(&state, node, probe.port()) {
            match checks::probe(probe, addr).await {
                Ok(()) => return Ok(()),
                Err(e) => last = e,
            }
        }
        step.set(last.clone());
        polls += 1;
        if polls.is_multiple_of(8) && starts(rt, &node.object, service).await >= 4 {
            return Err(format!(
                "it died during start and was restarted 3 times ({last})"
            ));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Err(format!(
        "no success within {}s (last: {last})",
        deadline.as_secs()
    ))
}

/// How many times init started `service` (init marks each start in the service's log).
async fn starts<R: Runtime>(rt: &R, object: &str, service: &str) -> usize {
    let mut log = Vec::new();
    if rt
        .logs(object, Some(service), false, None, &mut log)
        .await
        .is_err()
    {
        return 0;
    }
    String::from_utf8_lossy(&log)
        .matches("=== init: starting")
        .count()
}

/// `lab down`: removes everything labelled with the lab's name, in every runtime where it exists.
pub(super) async fn down(lab: &LabArg, volumes: bool) -> anyhow::Result<ExitCode> {
    let name = lab_name(lab);
    let progress = Progress::new();
    let mut removed_any = false;
    for rt in runtimes(lab).await? {
        let removed = match &rt {
            Runtimes::Docker(d) => down_on(d, &name, volumes, &progress).await?,
            Runtimes::Process(p) => down_on(p, &name, volumes, &progress).await?,
        };
        removed_any |= removed;
    }
    if !removed_any {
        eprintln!("lab `{name}`: nothing to remove");
    }
    Ok(ExitCode::SUCCESS)
}

async fn down_on<R: Runtime>(
    rt: &R,
    lab: &str,
    volumes: bool,
    progress: &Progress,
) -> anyhow::Result<bool> {
    let nodes = rt
        .list(Some(lab))
        .await
        .context("cannot list the lab's nodes")?;
    // Reverse order: the slaves before the master that serves them.
    for node in nodes.iter().rev() {
        let step = progress.step(format!("{}: removing {}", rt.name(), node.object));
        rt.remove(&node.object, volumes).await?;
        step.done(if volumes {
            "removed with its volumes"
        } else {
            "removed (volumes kept)"
        });
    }
    let shared = rt.remove_shared(lab, volumes).await?;
    for what in &shared {
        progress.note(&format!("✔ {}: removed {what}", rt.name()));
    }
    Ok(!nodes.is_empty() || !shared.is_empty())
}

#[cfg(test)]
mod tests {
    use super::missing_from;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn missing_services_count_repeats_and_ignore_extras() {
        let want = names(&["HdfsSink", "Kafka", "Kafka", "Kafka"]);
        assert_eq!(
            missing_from(&want, &names(&["Kafka", "Jps", "Kafka"])),
            names(&["HdfsSink", "Kafka"])
        );
        assert!(
            missing_from(
                &want,
                &names(&["Kafka", "HdfsSink", "Kafka", "Kafka", "Kafka"])
            )
            .is_empty()
        );
    }
}
