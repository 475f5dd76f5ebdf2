//! The `lab` commands; the only module that prints for humans (progress and messages on stderr,
//! results such as `status --json` or `render` on stdout).

mod check;
mod nodes;
mod progress;
mod up;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::plan::{self, DEFAULT_LAB, Flavor};
use crate::runtime::docker::DockerRuntime;
use crate::runtime::process::ProcessRuntime;
use crate::spec;

/// `lab`: the TP3 classroom lab (Kafka, ZooKeeper, HDFS, streaming) in one command.
#[derive(Debug, Parser)]
#[command(name = "lab", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build the node image if needed, create the network and nodes, start them, wait for every probe.
    Up(UpArgs),
    /// Remove the lab's nodes and network (found by their labels; the spec is not needed).
    Down(DownArgs),
    /// Each node's state, address, published ports and running services (jps).
    #[command(alias = "ps")]
    Status(StatusArgs),
    /// Run a command in a node: `lab exec hadoop-master -- kafka-topics.sh --list …`.
    Exec(ExecArgs),
    /// An interactive shell in a node (as `docker exec -it hadoop-master bash`).
    Shell(ShellArgs),
    /// A node's log (its init), or one service's log.
    Logs(LogsArgs),
    /// Print the rendered config files (or write them under --out).
    Render(RenderArgs),
    /// Build the node image only.
    Build,
    /// Run the lab's checks (built-in and the spec's) and report them; exit code 0 when all pass.
    Check(CheckArgs),
}

#[derive(Debug, Args)]
struct CheckArgs {
    #[command(flatten)]
    lab: LabArg,
    /// The lab spec (its declarative checks and what each node should run); by default the
    /// spec each lab was brought up from.
    #[arg(short = 'f', long = "file")]
    spec: Option<PathBuf>,
    /// Every lab on this host, in one report.
    #[arg(long)]
    all: bool,
    /// The report format.
    #[arg(long, value_enum, default_value = "table")]
    format: crate::checks::report::Format,
    /// Write the report to this file instead of stdout.
    #[arg(long)]
    output: Option<PathBuf>,
}

/// Where a lab runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum RuntimeKind {
    /// One container per node (the default).
    Docker,
    /// Local processes on loopback, for machines without Docker.
    Process,
}

/// Which lab a command is about.
#[derive(Debug, Clone, Args)]
struct LabArg {
    /// The lab name (default: the spec's, `tp3`); other names prefix their objects with it.
    #[arg(long)]
    name: Option<String>,
    /// The runtime (default: docker if a daemon answers, then the process runtime).
    #[arg(long, value_enum)]
    runtime: Option<RuntimeKind>,
}

#[derive(Debug, Args)]
struct UpArgs {
    #[command(flatten)]
    lab: LabArg,
    /// The lab spec.
    #[arg(short = 'f', long = "file", default_value = DEFAULT_SPEC)]
    spec: PathBuf,
    /// Added to every published host port (default: 0 for `tp3`, the first free hundred otherwise).
    #[arg(long)]
    port_offset: Option<u16>,
    /// How long to wait for every probe, in seconds.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
}

#[derive(Debug, Args)]
struct DownArgs {
    #[command(flatten)]
    lab: LabArg,
    /// Remove the data volumes too.
    #[arg(long)]
    volumes: bool,
}

#[derive(Debug, Args)]
struct StatusArgs {
    #[command(flatten)]
    lab: LabArg,
    /// JSON on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct ExecArgs {
    #[command(flatten)]
    lab: LabArg,
    /// The node (`hadoop-master`).
    node: String,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

#[derive(Debug, Args)]
struct ShellArgs {
    #[command(flatten)]
    lab: LabArg,
    /// The node (`hadoop-master`).
    node: String,
}

#[derive(Debug, Args)]
struct LogsArgs {
    #[command(flatten)]
    lab: LabArg,
    /// The node.
    node: String,
    /// A service of that node (its /var/log/lab/<service>.log); the node's init log otherwise.
    service: Option<String>,
    /// Keep following the log.
    #[arg(short, long)]
    follow: bool,
    /// Only the last N lines.
    #[arg(long)]
    tail: Option<usize>,
}

#[derive(Debug, Args)]
struct RenderArgs {
    /// The lab spec.
    #[arg(short = 'f', long = "file", default_value = DEFAULT_SPEC)]
    spec: PathBuf,
    /// The lab name.
    #[arg(long)]
    name: Option<String>,
    /// Host port offset.
    #[arg(long, default_value_t = 0)]
    port_offset: u16,
    /// Write the files under this directory (node/path) instead of printing them.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Parses the command line and runs the command.
pub(crate) fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("LAB_LOG"))
        .try_init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(dispatch(cli.command))
}

async fn dispatch(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Up(a) => up::up(&a.spec, &a.lab, a.port_offset, a.timeout).await,
        Command::Down(a) => up::down(&a.lab, a.volumes).await,
        Command::Status(a) => nodes::status(&a.lab, a.json).await,
        Command::Exec(a) => nodes::exec(&a.lab, &a.node, &a.command).await,
        Command::Shell(a) => nodes::shell(&a.lab, &a.node).await,
        Command::Logs(a) => {
            nodes::logs(&a.lab, &a.node, a.service.as_deref(), a.follow, a.tail).await
        }
        Command::Render(a) => render(&a),
        Command::Build => build().await,
        Command::Check(a) => {
            check::check(
                &a.lab,
                a.spec.as_deref(),
                a.all,
                a.format,
                a.output.as_ref(),
            )
            .await
        }
    }
}

/// The spec `lab up`, `lab render` and `lab check` read when not told otherwise.
const DEFAULT_SPEC: &str = "labs/tp3.yaml";

/// The lab name a command is about.
fn lab_name(arg: &LabArg) -> String {
    arg.name.clone().unwrap_or_else(|| DEFAULT_LAB.to_owned())
}

/// The templates directory of a spec: `templates/` beside its `labs/` directory.
fn templates_dir(spec_path: &Path) -> PathBuf {
    let dir = spec_path.parent().unwrap_or(Path::new("."));
    let beside = dir.join("../templates");
    if beside.is_dir() {
        beside
    } else {
        PathBuf::from("templates")
    }
}

fn render(args: &RenderArgs) -> anyhow::Result<ExitCode> {
    let spec = spec::load(&args.spec)?;
    let lab = args.name.clone().unwrap_or_else(|| spec.name.clone());
    let plan = plan::build(
        &spec,
        &templates_dir(&args.spec),
        &lab,
        &Flavor::Docker,
        args.port_offset,
    )?;
    for node in &plan.nodes {
        for file in &node.files {
            match &args.out {
                Some(out) => {
                    let path = out.join(&node.name).join(file.path.trim_start_matches('/'));
                    if let Some(parent) = path.parent() {
                        std::fs::create_dir_all(parent)?;
                    }
                    std::fs::write(&path, &file.contents)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    eprintln!("wrote {}", path.display());
                }
                None => print!("### {}:{}\n{}\n", node.name, file.path, file.contents),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn build() -> anyhow::Result<ExitCode> {
    let progress = progress::Progress::new();
    let step = progress.step("node image");
    let docker = DockerRuntime::connect().await?;
    match docker.build_image().await {
        Ok((tag, built)) => {
            step.done(if built {
                format!("built {tag}")
            } else {
                format!("{tag} is up to date")
            });
            println!("{tag}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            step.fail("failed");
            Err(e)
        }
    }
}

/// The runtimes a command without `--runtime` looks at: docker when a daemon answers, and the
/// process runtime.
pub(crate) enum Runtimes {
    /// Docker, reachable.
    Docker(DockerRuntime),
    /// The process runtime.
    Process(ProcessRuntime),
}

impl std::fmt::Debug for Runtimes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Runtimes::Docker(_) => f.write_str("docker"),
            Runtimes::Process(_) => f.write_str("process"),
        }
    }
}

/// Every runtime to consider for `arg`, in order.
async fn runtimes(arg: &LabArg) -> anyhow::Result<Vec<Runtimes>> {
    Ok(match arg.runtime {
        Some(RuntimeKind::Docker) => vec![Runtimes::Docker(DockerRuntime::connect().await?)],
        Some(RuntimeKind::Process) => vec![Runtimes::Process(ProcessRuntime::new()?)],
        None => {
            let mut all = Vec::new();
            if let Ok(d) = DockerRuntime::connect().await {
                all.push(Runtimes::Docker(d));
            }
            all.push(Runtimes::Process(ProcessRuntime::new()?));
            all
        }
    })
}
