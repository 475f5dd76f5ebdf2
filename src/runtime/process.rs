//! The process runtime: the same plan as local processes on loopback, for machines without
//! Docker. Each node is a `labnode init` process with its own root directory
//! (`<state>/<lab>/<node>`: config files, data, logs) and its own ports (the plan remaps them).
//! Its labels are its environment (`LAB_NAME`, `LAB_NODE`, `LAB_OBJECT`, …), read back from
//! `/proc`, and a `node.json` beside its files records what a stopped node was.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rustix::process::{Pid, Signal};
use serde::{Deserialize, Serialize};

use super::image::{self, Inputs};
use super::tools::Tools;
use super::{ExecOutput, Io, NodeState, PublishedPort, Runtime};
use crate::plan::{NodePlan, Plan, SERVICES_FILE};

/// The process runtime, keeping its nodes under `state_dir`.
#[derive(Debug)]
pub(crate) struct ProcessRuntime {
    state_dir: PathBuf,
}

/// What `node.json` records about a node (its "labels").
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Meta {
    lab: String,
    node: String,
    object: String,
    hash: String,
    port_offset: u16,
    /// The spec file (absent in labs brought up by older versions).
    #[serde(default)]
    spec: Option<PathBuf>,
    root: PathBuf,
    /// Node port → where it listens.
    ports: BTreeMap<u16, u16>,
    published: Vec<PublishedPort>,
    volumes: Vec<String>,
}

impl ProcessRuntime {
    /// A process runtime with its state under `LAB_STATE_DIR`, or `.lab/` in the current directory.
    pub(crate) fn new() -> anyhow::Result<ProcessRuntime> {
        let state_dir = match std::env::var_os("LAB_STATE_DIR") {
            Some(d) => PathBuf::from(d),
            None => std::env::current_dir()?.join(".lab"),
        };
        Ok(ProcessRuntime { state_dir })
    }

    /// Where lab `lab` keeps its nodes.
    pub(crate) fn lab_dir(&self, lab: &str) -> PathBuf {
        self.state_dir.join(lab)
    }

    fn bin_dir(&self, lab: &str) -> PathBuf {
        self.lab_dir(lab).join("bin")
    }

    fn metas(&self) -> Vec<Meta> {
        let mut out = Vec::new();
        let Ok(labs) = fs::read_dir(&self.state_dir) else {
            return out;
        };
        for lab in labs.filter_map(Result::ok) {
            let Ok(nodes) = fs::read_dir(lab.path()) else {
                continue;
            };
            for node in nodes.filter_map(Result::ok) {
                let Ok(text) = fs::read_to_string(node.path().join("node.json")) else {
                    continue;
                };
                if let Ok(meta) = serde_json::from_str::<Meta>(&text) {
                    out.push(meta);
                }
            }
        }
        out.sort_by(|a, b| (&a.lab, &a.object).cmp(&(&b.lab, &b.object)));
        out
    }

    fn meta(&self, object: &str) -> Option<Meta> {
        self.metas().into_iter().find(|m| m.object == object)
    }

    /// The pid of the node's `labnode init`, found by its `LAB_OBJECT` environment label.
    fn init_pid(&self, meta: &Meta) -> Option<Pid> {
        let want = format!("LAB_OBJECT={}", meta.object);
        let root = format!("LAB_ROOT={}", meta.root.display());
        let dir = fs::read_dir("/proc").ok()?;
        dir.filter_map(Result::ok)
            .filter_map(|d| d.file_name().to_str()?.parse::<i32>().ok())
            .find(|pid| {
                let Ok(env) = fs::read(format!("/proc/{pid}/environ")) else {
                    return false;
                };
                let vars: Vec<&[u8]> = env.split(|b| *b == 0).collect();
                let is_init = fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|c| c.split(|b| *b == 0).nth(1) == Some(b"init".as_slice()));
                is_init && vars.contains(&want.as_bytes()) && vars.contains(&root.as_bytes())
            })
            .and_then(Pid::from_raw)
    }

    fn command(&self, meta: &Meta, program: &str) -> Command {
        let path = format!(
            "{}:{}",
            self.bin_dir(&meta.lab).display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = Command::new(program);
        cmd.current_dir(&meta.root)
            .env("PATH", path)
            .env("KAFKA_HOME", meta.root.join("usr/local/kafka"))
            .env("HADOOP_HOME", meta.root.join("usr/local/hadoop"))
            .env("LAB_NAME", &meta.lab)
            .env("LAB_NODE", format!("{}/{}", meta.lab, meta.node))
            .env("LAB_OBJECT", &meta.object)
            .env("LAB_ROOT", &meta.root);
        cmd
    }
}

/// Makes `link` a symbolic link to `target`, replacing what was there.
fn relink(target: &Path, link: &Path) -> anyhow::Result<()> {
    let _ = fs::remove_file(link);
    std::os::unix::fs::symlink(target, link)
        .with_context(|| format!("cannot link {}", link.display()))
}

impl Runtime for ProcessRuntime {
    fn name(&self) -> &'static str {
        "process"
    }

    async fn revision(&self, _plan: &Plan) -> anyhow::Result<String> {
        // Nodes run the labnode beside `lab` and the tools through links, made again by
        // `prepare`: a new build is picked up on start.
        Ok(String::new())
    }

    async fn prepare(&self, plan: &Plan) -> anyhow::Result<String> {
        let inputs = Inputs::locate()?;
        let labnode = fs::canonicalize(&inputs.labnode)?;
        let bin = self.bin_dir(&plan.lab);
        fs::create_dir_all(&bin).with_context(|| format!("cannot create {}", bin.display()))?;
        let names = image::tools(&labnode)?
            .into_iter()
            .chain(["labnode".to_owned()]);
        for name in names {
            relink(&labnode, &bin.join(name))?;
        }
        // The host tools' commands (`python3`) beside them: the nodes share one bin directory.
        let owned = plan.clone();
        let tools = tokio::task::spawn_blocking(move || Tools::prepare(&owned)).await?;
        for node in &plan.nodes {
            for (_, dir) in tools.of(node) {
                for entry in fs::read_dir(dir.join("bin"))?.filter_map(Result::ok) {
                    relink(&entry.path(), &bin.join(entry.file_name()))?;
                }
            }
        }
        let mut said = format!("tools in {}", bin.display());
        if let Some(summary) = tools.summary() {
            said = format!("{said}, {summary}");
        }
        Ok(said)
    }

    async fn create(&self, plan: &Plan, node: &NodePlan) -> anyhow::Result<()> {
        let root = PathBuf::from(&node.root);
        for dir in [
            "tmp",
            "root",
            "var/log/lab",
            "usr/local/kafka/config",
            "etc/lab",
        ] {
            fs::create_dir_all(root.join(dir))?;
        }
        for f in &node.files {
            let path = Path::new(&f.path);
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent)?;
            }
            fs::write(path, &f.contents)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        // A mount is a link to the host directory (it stays writable: the host's own files).
        for mount in &node.mounts {
            let link = root.join(mount.path.trim_start_matches('/'));
            if let Some(parent) = link.parent() {
                fs::create_dir_all(parent)?;
            }
            relink(&mount.source, &link)?;
        }
        let meta = Meta {
            lab: plan.lab.clone(),
            node: node.name.clone(),
            object: node.object.clone(),
            hash: plan.hash.clone(),
            port_offset: plan.port_offset,
            spec: Some(plan.spec_file.clone()).filter(|p| !p.as_os_str().is_empty()),
            root: root.clone(),
            ports: node.ports.iter().map(|p| (p.port, p.lab_port)).collect(),
            published: node
                .ports
                .iter()
                .filter_map(|p| {
                    let (ip, host) = p.published.clone()?;
                    Some(PublishedPort {
                        port: p.port,
                        host_ip: ip,
                        host_port: host,
                    })
                })
                .collect(),
            volumes: plan.volumes.clone(),
        };
        fs::write(root.join("node.json"), serde_json::to_vec_pretty(&meta)?)?;
        Ok(())
    }

    async fn start(&self, object: &str) -> anyhow::Result<()> {
        let meta = self
            .meta(object)
            .with_context(|| format!("no node {object} in {}", self.state_dir.display()))?;
        if let Some(pid) = self.init_pid(&meta) {
            // Running already: init starts again the services stopped on purpose.
            rustix::process::kill_process(pid, Signal::HUP)
                .with_context(|| format!("cannot signal init of {object}"))?;
            return Ok(());
        }
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(meta.root.join("var/log/lab/init.log"))?;
        let services = format!("{}{SERVICES_FILE}", meta.root.display());
        let log_dir = meta.root.join("var/log/lab");
        let mut cmd = self.command(&meta, "labnode");
        cmd.args(["init", "--services", &services, "--log-dir"])
            .arg(&log_dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0);
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start labnode init for {object}"))?;
        // init outlives `lab`; it is found again through its environment.
        drop(child);
        Ok(())
    }

    async fn exec(&self, object: &str, cmd: &[String], io: Io) -> anyhow::Result<ExecOutput> {
        let meta = self
            .meta(object)
            .with_context(|| format!("no node {object}"))?;
        let (program, args) = cmd.split_first().context("empty command")?;
        let mut command = self.command(&meta, program);
        command.args(args);
        if io == Io::Capture {
            let out = command
                .stdin(Stdio::null())
                .output()
                .with_context(|| format!("cannot run `{program}`"))?;
            return Ok(ExecOutput {
                code: i64::from(out.status.code().unwrap_or(-1)),
                stdout: out.stdout,
                stderr: out.stderr,
            });
        }
        let status = command
            .status()
            .with_context(|| format!("cannot run `{program}`"))?;
        Ok(ExecOutput {
            code: i64::from(status.code().unwrap_or(-1)),
            ..Default::default()
        })
    }

    async fn status(&self, object: &str) -> anyhow::Result<Option<NodeState>> {
        let Some(meta) = self.meta(object) else {
            return Ok(None);
        };
        let running = self.init_pid(&meta).is_some();
        Ok(Some(NodeState {
            object: meta.object.clone(),
            lab: meta.lab.clone(),
            node: meta.node.clone(),
            hash: meta.hash.clone(),
            port_offset: meta.port_offset,
            spec: meta.spec.clone(),
            state: if running { "running" } else { "exited" }.to_owned(),
            address: running.then(|| "127.0.0.1".to_owned()),
            ports: meta.published.clone(),
        }))
    }

    async fn logs(
        &self,
        object: &str,
        service: Option<&str>,
        follow: bool,
        tail: Option<usize>,
        out: &mut (dyn Write + Send),
    ) -> anyhow::Result<()> {
        let meta = self
            .meta(object)
            .with_context(|| format!("no node {object}"))?;
        let path = meta
            .root
            .join("var/log/lab")
            .join(format!("{}.log", service.unwrap_or("init")));
        let mut file =
            fs::File::open(&path).with_context(|| format!("no log {}", path.display()))?;
        let mut text = String::new();
        file.read_to_string(&mut text)?;
        let lines: Vec<&str> = text.lines().collect();
        let skip = tail.map_or(0, |n| lines.len().saturating_sub(n));
        for line in lines.iter().skip(skip) {
            writeln!(out, "{line}")?;
        }
        if !follow {
            return Ok(());
        }
        let mut pos = file.stream_position()?;
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let len = file.metadata()?.len();
            if len > pos {
                file.seek(SeekFrom::Start(pos))?;
                let mut more = Vec::new();
                file.read_to_end(&mut more)?;
                out.write_all(&more)?;
                out.flush()?;
                pos = len;
            }
        }
    }

    async fn stop(&self, object: &str) -> anyhow::Result<()> {
        let Some(meta) = self.meta(object) else {
            return Ok(());
        };
        let Some(pid) = self.init_pid(&meta) else {
            return Ok(());
        };
        let _ = rustix::process::kill_process(pid, Signal::TERM);
        let deadline = Instant::now() + Duration::from_secs(25);
        while self.init_pid(&meta).is_some() {
            if Instant::now() > deadline {
                let _ = rustix::process::kill_process_group(pid, Signal::KILL);
                bail!("node {object} did not stop within 25 s; killed");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    async fn remove(&self, object: &str, volumes: bool) -> anyhow::Result<()> {
        let Some(meta) = self.meta(object) else {
            return Ok(());
        };
        self.stop(object).await?;
        if volumes {
            fs::remove_dir_all(&meta.root)?;
            return Ok(());
        }
        // Keep the data directories, as Docker keeps named volumes.
        let keep: Vec<PathBuf> = meta
            .volumes
            .iter()
            .map(|v| meta.root.join(v.trim_start_matches('/')))
            .collect();
        for entry in fs::read_dir(&meta.root)?.filter_map(Result::ok) {
            let path = entry.path();
            if keep.contains(&path) {
                continue;
            }
            if path.is_dir() {
                fs::remove_dir_all(&path)?;
            } else {
                fs::remove_file(&path)?;
            }
        }
        Ok(())
    }

    async fn list(&self, lab: Option<&str>) -> anyhow::Result<Vec<NodeState>> {
        let mut states = Vec::new();
        for meta in self
            .metas()
            .into_iter()
            .filter(|m| lab.is_none_or(|l| l == m.lab))
        {
            if let Some(s) = self.status(&meta.object).await? {
                states.push(s);
            }
        }
        Ok(states)
    }

    async fn remove_shared(&self, lab: &str, volumes: bool) -> anyhow::Result<Vec<String>> {
        let mut removed = Vec::new();
        let bin = self.bin_dir(lab);
        if bin.exists() {
            fs::remove_dir_all(&bin)?;
            removed.push(format!("tool links {}", bin.display()));
        }
        let dir = self.lab_dir(lab);
        if volumes && dir.exists() {
            fs::remove_dir_all(&dir)?;
            removed.push(format!("data {}", dir.display()));
        }
        Ok(removed)
    }

    fn endpoint(&self, state: &NodeState, node: &NodePlan, port: u16) -> Option<SocketAddr> {
        let _ = state;
        let p = node.ports.iter().find(|p| p.port == port)?;
        Some(SocketAddr::from((Ipv4Addr::LOCALHOST, p.lab_port)))
    }
}
