//! `lab status`, `exec`, `shell`, `logs`: commands on the nodes of a running lab, found by
//! their labels in whichever runtime holds the lab.

use std::process::ExitCode;

use anyhow::bail;
use serde::Serialize;

use super::{LabArg, Runtimes, lab_name, runtimes};
use crate::plan::NodePlan;
use crate::runtime::{Io, NodeState, PublishedPort, Runtime};
use crate::spec::Kind;

/// A node as `lab status` reports it.
#[derive(Debug, Serialize)]
struct NodeReport {
    node: String,
    object: String,
    runtime: &'static str,
    state: String,
    address: Option<String>,
    ports: Vec<PublishedPort>,
    services: Vec<JpsEntry>,
}

/// One `PID Name` line of jps.
#[derive(Debug, Serialize, PartialEq)]
pub(super) struct JpsEntry {
    pid: u32,
    /// The daemon's name (`Kafka`, `QuorumPeerMain`, …).
    pub(super) name: String,
}

/// Parses jps output, leaving out jps itself.
fn parse_jps(text: &str) -> Vec<JpsEntry> {
    text.lines()
        .filter_map(|l| {
            let (pid, name) = l.trim().split_once(' ')?;
            Some(JpsEntry {
                pid: pid.parse().ok()?,
                name: name.trim().to_owned(),
            })
        })
        .filter(|e| e.name != "Jps")
        .collect()
}

/// The jps report of a running node (empty when it cannot be had).
pub(super) async fn jps<R: Runtime>(rt: &R, state: &NodeState) -> Vec<JpsEntry> {
    if !state.running() {
        return Vec::new();
    }
    match rt
        .exec(&state.object, &jps_command(rt, state), Io::Capture)
        .await
    {
        Ok(o) if o.code == 0 => parse_jps(&String::from_utf8_lossy(&o.stdout)),
        _ => Vec::new(),
    }
}

async fn reports<R: Runtime>(rt: &R, lab: &str) -> anyhow::Result<Vec<NodeReport>> {
    let mut out = Vec::new();
    for state in rt.list(Some(lab)).await? {
        let services = jps(rt, &state).await;
        out.push(NodeReport {
            node: state.node.clone(),
            object: state.object.clone(),
            runtime: rt.name(),
            state: state.state.clone(),
            address: state.address.clone(),
            ports: state.ports.clone(),
            services,
        });
    }
    Ok(out)
}

/// In a container `jps` sees the node only; as processes, it is told which node to look at.
fn jps_command<R: Runtime>(rt: &R, state: &NodeState) -> Vec<String> {
    let mut cmd = vec!["jps".to_owned()];
    if rt.name() == "process" {
        cmd.push(format!("--lab-node={}/{}", state.lab, state.node));
    }
    cmd
}

fn print_table(reports: &[NodeReport]) {
    println!(
        "{:<22} {:<8} {:<16} {:<40} SERVICES (jps)",
        "NODE", "STATE", "ADDRESS", "PORTS"
    );
    for r in reports {
        let ports: Vec<String> = r
            .ports
            .iter()
            .map(|p| format!("{}:{}->{}", p.host_ip, p.host_port, p.port))
            .collect();
        let services: Vec<String> = r
            .services
            .iter()
            .map(|s| format!("{} {}", s.pid, s.name))
            .collect();
        println!(
            "{:<22} {:<8} {:<16} {:<40} {}",
            r.object,
            r.state,
            r.address.as_deref().unwrap_or("-"),
            if ports.is_empty() {
                "-".to_owned()
            } else {
                ports.join(",")
            },
            if services.is_empty() {
                "-".to_owned()
            } else {
                services.join(", ")
            }
        );
    }
}

/// Prints the status table of one lab in one runtime (the summary of `lab up`).
pub(super) async fn print_status<R: Runtime>(rt: &R, lab: &str) -> anyhow::Result<()> {
    print_table(&reports(rt, lab).await?);
    Ok(())
}

/// `lab status`.
pub(super) async fn status(lab: &LabArg, json: bool) -> anyhow::Result<ExitCode> {
    let name = lab_name(lab);
    let mut all = Vec::new();
    for rt in runtimes(lab).await? {
        all.extend(match &rt {
            Runtimes::Docker(d) => reports(d, &name).await?,
            Runtimes::Process(p) => reports(p, &name).await?,
        });
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "lab": name, "nodes": all }))?
        );
    } else if all.is_empty() {
        eprintln!("lab `{name}` is not up (`lab up` brings it up)");
    } else {
        print_table(&all);
    }
    Ok(ExitCode::SUCCESS)
}

/// The runtime holding lab `lab`'s node `node` (by node or object name), and the object name.
async fn find(lab: &LabArg, node: &str) -> anyhow::Result<(Runtimes, String)> {
    let name = lab_name(lab);
    let mut known = Vec::new();
    for rt in runtimes(lab).await? {
        let states = match &rt {
            Runtimes::Docker(d) => d.list(Some(&name)).await?,
            Runtimes::Process(p) => p.list(Some(&name)).await?,
        };
        if let Some(s) = states.iter().find(|s| s.node == node || s.object == node) {
            let object = s.object.clone();
            return Ok((rt, object));
        }
        known.extend(states.into_iter().map(|s| s.node));
    }
    if known.is_empty() {
        bail!("lab `{name}` is not up (`lab up` brings it up)");
    }
    bail!(
        "lab `{name}` has no node `{node}` (its nodes: {})",
        known.join(", ")
    )
}

async fn exec_in(lab: &LabArg, node: &str, cmd: &[String], io: Io) -> anyhow::Result<ExitCode> {
    let (rt, object) = find(lab, node).await?;
    let out = match &rt {
        Runtimes::Docker(d) => d.exec(&object, cmd, io).await?,
        Runtimes::Process(p) => p.exec(&object, cmd, io).await?,
    };
    Ok(ExitCode::from(u8::try_from(out.code).unwrap_or(1)))
}

/// `lab exec NODE -- CMD…`.
pub(super) async fn exec(lab: &LabArg, node: &str, cmd: &[String]) -> anyhow::Result<ExitCode> {
    exec_in(lab, node, cmd, Io::Inherit).await
}

/// `lab shell NODE`.
pub(super) async fn shell(lab: &LabArg, node: &str) -> anyhow::Result<ExitCode> {
    exec_in(lab, node, &["bash".to_owned()], Io::Terminal).await
}

/// `lab logs NODE [SERVICE] [-f]`.
pub(super) async fn logs(
    lab: &LabArg,
    node: &str,
    service: Option<&str>,
    follow: bool,
    tail: Option<usize>,
) -> anyhow::Result<ExitCode> {
    let (rt, object) = find(lab, node).await?;
    let mut stdout = std::io::stdout();
    match &rt {
        Runtimes::Docker(d) => d.logs(&object, service, follow, tail, &mut stdout).await?,
        Runtimes::Process(p) => p.logs(&object, service, follow, tail, &mut stdout).await?,
    }
    Ok(ExitCode::SUCCESS)
}

/// What the jps report of a node must show for its services.
pub(super) fn expected_jps(node: &NodePlan) -> Vec<String> {
    let mut names: Vec<String> = node
        .services
        .iter()
        .map(|s| jps_name(s.kind).to_owned())
        .collect();
    names.sort();
    names
}

/// The name `jps` shows for a kind of service, as for Apache's Java daemons.
pub(super) fn jps_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Coordinator => "QuorumPeerMain",
        Kind::Broker => "Kafka",
        Kind::Namenode => "NameNode",
        Kind::Datanode => "DataNode",
        Kind::Sink => "HdfsSink",
        Kind::Stream => "StreamingWordCount",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jps_output_is_parsed_without_jps_itself() {
        let parsed = parse_jps("53 QuorumPeerMain\n2756 Kafka\n6349 Jps\n");
        assert_eq!(
            parsed,
            [
                JpsEntry {
                    pid: 53,
                    name: "QuorumPeerMain".into()
                },
                JpsEntry {
                    pid: 2756,
                    name: "Kafka".into()
                }
            ]
        );
    }
}
