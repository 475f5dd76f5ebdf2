//! Commands for namenode, datanode, the `hdfs dfs` tool and the Kafka to HDFS sink.
//!
//! `labnode namenode --config DIR` and `labnode datanode --config DIR` read Hadoop's own
//! `core-site.xml` and `hdfs-site.xml` in DIR; `hdfs [--config DIR] dfs -ls /` finds them in
//! `--config`, `$HADOOP_CONF_DIR`, `$HADOOP_HOME/etc/hadoop` or `/usr/local/hadoop/etc/hadoop`
//! (else it uses Hadoop's defaults, `localhost:50070`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use hdfs::CancellationToken;
use hdfs::config::HadoopConfig;

/// The commands of this group.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Runs the namenode (jps: NameNode): namespace, WebHDFS, status page.
    Namenode(ConfigDir),
    /// Runs a datanode (jps: DataNode): keeps blocks, heartbeats to the namenode.
    Datanode(ConfigDir),
    /// Runs the Kafka to HDFS sink (jps: HdfsSink), configured in Kafka Connect's style.
    Sink(SinkArgs),
    /// Hadoop's `hdfs` tool: `hdfs [--config DIR] dfs -ls|-mkdir|-put|-get|-cat|-rm|-du|-tail …`,
    /// and `hdfs namenode` / `hdfs datanode` as Hadoop's scripts start the daemons.
    Hdfs(HdfsArgs),
}

/// `--config DIR`: the directory of `core-site.xml` and `hdfs-site.xml`.
#[derive(Debug, Args)]
pub(crate) struct ConfigDir {
    /// Directory holding core-site.xml and hdfs-site.xml.
    #[arg(long)]
    config: PathBuf,
}

/// `--config hdfs-sink.properties`.
#[derive(Debug, Args)]
pub(crate) struct SinkArgs {
    /// The sink's properties file (topics, topics.dir, flush.size, hdfs.url, …).
    #[arg(long)]
    config: PathBuf,
}

/// Arguments of `hdfs`, parsed the way Hadoop's script does.
#[derive(Debug, Args)]
pub(crate) struct HdfsArgs {
    /// `[--config DIR] dfs <command> [args…]`.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

impl Command {
    /// Runs the command and returns the process exit code.
    pub(crate) fn run(self) -> anyhow::Result<ExitCode> {
        match self {
            Command::Namenode(c) => {
                let config = load(&c.config)?;
                serve(|shutdown| hdfs::namenode::run(config, shutdown), "NameNode")
            }
            Command::Datanode(c) => {
                let config = load(&c.config)?;
                serve(|shutdown| hdfs::datanode::run(config, shutdown), "DataNode")
            }
            Command::Sink(a) => {
                let config = sink::SinkConfig::load(&a.config)
                    .with_context(|| format!("reading {}", a.config.display()))?;
                serve(|shutdown| sink::run(config, shutdown), "HdfsSink")
            }
            Command::Hdfs(a) => hdfs_tool(a.args),
        }
    }
}

fn load(dir: &Path) -> anyhow::Result<HadoopConfig> {
    anyhow::ensure!(dir.is_dir(), "{}: not a directory", dir.display());
    HadoopConfig::load(dir)
        .with_context(|| format!("reading the configuration in {}", dir.display()))
}

/// Runs a server until SIGTERM or Ctrl-C.
fn serve<F, Fut>(server: F, name: &str) -> anyhow::Result<ExitCode>
where
    F: FnOnce(CancellationToken) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    crate::logging::init();
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let shutdown = crate::stop::cancelled_on_signal();
        tracing::info!("{name} starting");
        server(shutdown)
            .await
            .with_context(|| format!("{name} failed"))
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `hdfs [--config DIR] dfs …`.
fn hdfs_tool(args: Vec<String>) -> anyhow::Result<ExitCode> {
    let mut args = args.as_slice();
    let mut conf_dir = None;
    if let [flag, dir, rest @ ..] = args
        && flag == "--config"
    {
        conf_dir = Some(PathBuf::from(dir));
        args = rest;
    }
    let Some((sub, rest)) = args.split_first() else {
        anyhow::bail!("Usage: hdfs [--config confdir] dfs [generic options]");
    };
    anyhow::ensure!(
        ["dfs", "namenode", "datanode"].contains(&sub.as_str()),
        "hdfs {sub}: only `hdfs dfs`, `hdfs namenode` and `hdfs datanode` are provided here"
    );
    let dir = conf_dir.or_else(|| {
        let candidates = [
            std::env::var_os("HADOOP_CONF_DIR").map(PathBuf::from),
            std::env::var_os("HADOOP_HOME").map(|h| PathBuf::from(h).join("etc/hadoop")),
            Some(PathBuf::from("/usr/local/hadoop/etc/hadoop")),
        ];
        candidates.into_iter().flatten().find(|d| d.is_dir())
    });
    let config = match dir {
        Some(d) => load(&d)?,
        None => HadoopConfig::default(),
    };
    match sub.as_str() {
        "namenode" => return serve(|s| hdfs::namenode::run(config, s), "NameNode"),
        "datanode" => return serve(|s| hdfs::datanode::run(config, s), "DataNode"),
        _ => {}
    }
    let client =
        webhdfs_client::WebHdfs::new(&hdfs::shell::endpoint(&config)?, &hdfs::shell::user())?;
    let rt = tokio::runtime::Runtime::new()?;
    let code = rt.block_on(hdfs::shell::run(&client, rest));
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}
