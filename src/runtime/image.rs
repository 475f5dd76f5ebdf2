//! The node image's build context, assembled from what is on this machine (no registry):
//! `FROM scratch`, the static `labnode` with a link for every TP tool (and the coordinator's own
//! `labnode-coordinator` beside it), Debian's `bash-static`,
//! `busybox-static` with its applet links, a login profile (PATH, KAFKA_HOME) and `/etc/passwd`.
//! The tar is byte-for-byte reproducible, so its digest tags the image and an unchanged image
//! is never rebuilt.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};

use crate::spec::TOOLS_ROOT;

/// The image repository name (`LAB_IMAGE_REPOSITORY` overrides it, e.g. for a cold-start
/// benchmark); the tag is the context's digest.
fn repository() -> String {
    std::env::var("LAB_IMAGE_REPOSITORY").unwrap_or_else(|_| "lab-node".to_owned())
}

/// Where a `labnode` command's link goes in a node: Kafka's scripts in `$KAFKA_HOME/bin`,
/// `hdfs` in Hadoop's, `spark-*` in Spark's, everything else (`jps`, the daemons) in
/// `/usr/local/bin`. `None` for what must not shadow a system command (`init`, `help`).
pub(crate) fn tool_dir(tool: &str) -> Option<&'static str> {
    Some(match tool {
        "init" | "help" => return None,
        t if t.ends_with(".sh") => "/usr/local/kafka/bin",
        "hdfs" => "/usr/local/hadoop/bin",
        t if t.starts_with("spark-") => "/usr/local/spark/bin",
        _ => "/usr/local/bin",
    })
}

/// The commands a `labnode` binary has (each becomes a link named after it), read from its
/// `--help`, so that a tool added to labnode is on every node's PATH without a change here.
pub(crate) fn tools(labnode: &Path) -> anyhow::Result<Vec<String>> {
    let out = Command::new(labnode)
        .arg("--help")
        .output()
        .with_context(|| format!("cannot run {} --help", labnode.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut tools: Vec<String> = text
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|t| tool_dir(t).is_some())
        .map(str::to_owned)
        .collect();
    if tools.is_empty() {
        bail!(
            "{} --help lists no commands: is it the labnode binary?",
            labnode.display()
        );
    }
    tools.sort();
    Ok(tools)
}

/// The host files the image is made of.
#[derive(Debug, Clone)]
pub(crate) struct Inputs {
    /// The static `labnode` (with the coordinator's own binary beside it, see
    /// [`Inputs::coordinator`]).
    pub(crate) labnode: PathBuf,
    /// A static bash (Debian's `bash-static`).
    pub(crate) bash: PathBuf,
    /// A static busybox (Debian's `busybox-static`).
    pub(crate) busybox: PathBuf,
    /// The system's CA certificate bundle, when there is one.
    pub(crate) ca_bundle: Option<PathBuf>,
}

impl Inputs {
    /// The coordinator's own binary, which `labnode coordinator` becomes: the one built
    /// beside `labnode`.
    pub(crate) fn coordinator(&self) -> PathBuf {
        coordinator_beside(&self.labnode)
    }

    /// Finds the inputs: `labnode` from `LAB_LABNODE` or beside the running `lab` (and
    /// `labnode-coordinator` beside it), bash and busybox from Debian's packages (`LAB_BASH`,
    /// `LAB_BUSYBOX` override).
    pub(crate) fn locate() -> anyhow::Result<Inputs> {
        let labnode = match std::env::var_os("LAB_LABNODE") {
            Some(p) => PathBuf::from(p),
            None => std::env::current_exe()
                .context("cannot find the running lab executable")?
                .with_file_name("labnode"),
        };
        if !labnode.is_file() {
            bail!(
                "the node binary {} is missing: build it with `cargo build -p labnode` (same profile as lab) \
                 or point LAB_LABNODE at it",
                labnode.display()
            );
        }
        let coordinator = coordinator_beside(&labnode);
        if !coordinator.is_file() {
            bail!(
                "the coordinator binary {} is missing: `cargo build -p labnode` builds it beside labnode",
                coordinator.display()
            );
        }
        let pick = |var: &str, candidates: &[&str], package: &str| -> anyhow::Result<PathBuf> {
            if let Some(p) = std::env::var_os(var) {
                return Ok(PathBuf::from(p));
            }
            candidates.iter().map(PathBuf::from).find(|p| p.is_file()).with_context(|| {
                format!("none of {candidates:?} exists: install Debian's `{package}` (`make setup`) or set {var}")
            })
        };
        Ok(Inputs {
            labnode,
            bash: pick(
                "LAB_BASH",
                &["/bin/bash-static", "/usr/bin/bash-static"],
                "bash-static",
            )?,
            busybox: pick(
                "LAB_BUSYBOX",
                &["/bin/busybox", "/usr/bin/busybox"],
                "busybox-static",
            )?,
            ca_bundle: Some(PathBuf::from("/etc/ssl/certs/ca-certificates.crt"))
                .filter(|p| p.is_file()),
        })
    }
}

/// The coordinator's own binary's name, the same on the host and in the image.
const COORDINATOR: &str = "labnode-coordinator";

/// Where `labnode-coordinator` goes: beside `labnode`, where labnode looks for it.
fn coordinator_beside(labnode: &Path) -> PathBuf {
    labnode.with_file_name(COORDINATOR)
}

/// A build context: the tar and the tag its digest gives.
#[derive(Debug)]
pub(crate) struct BuildContext {
    /// `lab-node:<digest>`.
    pub(crate) tag: String,
    /// The tar bytes.
    pub(crate) tar: Vec<u8>,
}

/// Assembles the build context.
pub(crate) fn context(inputs: &Inputs) -> anyhow::Result<BuildContext> {
    let mut tar = Tar::new();
    tar.file("Dockerfile", dockerfile().as_bytes(), 0o644)?;
    for dir in [
        "rootfs/bin",
        "rootfs/sbin",
        "rootfs/usr/bin",
        "rootfs/usr/sbin",
        "rootfs/usr/local/bin",
        "rootfs/usr/local/kafka/bin",
        "rootfs/usr/local/kafka/config",
        "rootfs/usr/local/hadoop/bin",
        "rootfs/usr/local/spark/bin",
        "rootfs/etc/lab",
        "rootfs/var/log/lab",
        "rootfs/root",
    ] {
        tar.dir(dir, 0o755)?;
    }
    tar.dir("rootfs/tmp", 0o1777)?;
    tar.file(
        "rootfs/usr/local/bin/labnode",
        &read(&inputs.labnode)?,
        0o755,
    )?;
    tar.file(
        &format!("rootfs/usr/local/bin/{COORDINATOR}"),
        &read(&inputs.coordinator())?,
        0o755,
    )?;
    tar.file("rootfs/bin/bash", &read(&inputs.bash)?, 0o755)?;
    tar.file("rootfs/bin/busybox", &read(&inputs.busybox)?, 0o755)?;
    for applet in applets(&inputs.busybox)? {
        if applet == "bin/bash" || applet == "bin/busybox" || applet.contains("..") {
            continue;
        }
        tar.symlink(&format!("rootfs/{applet}"), "/bin/busybox")?;
    }
    for tool in tools(&inputs.labnode)? {
        if let Some(dir) = tool_dir(&tool) {
            tar.symlink(&format!("rootfs{dir}/{tool}"), "/usr/local/bin/labnode")?;
        }
    }
    // The TP runs `./start-kafka-zookeeper.sh` from root's home.
    tar.symlink(
        "rootfs/root/start-kafka-zookeeper.sh",
        "/usr/local/bin/labnode",
    )?;
    // TLS clients in labnode (reqwest/rustls) load the system's CA certificates at start.
    if let Some(bundle) = &inputs.ca_bundle {
        tar.dir("rootfs/etc/ssl", 0o755)?;
        tar.dir("rootfs/etc/ssl/certs", 0o755)?;
        tar.file(
            "rootfs/etc/ssl/certs/ca-certificates.crt",
            &read(bundle)?,
            0o644,
        )?;
    }
    tar.file(
        "rootfs/etc/passwd",
        b"root:x:0:0:root:/root:/bin/bash\n",
        0o644,
    )?;
    tar.file("rootfs/etc/group", b"root:x:0:\n", 0o644)?;
    tar.file("rootfs/etc/nsswitch.conf", b"hosts: files dns\n", 0o644)?;
    let profile = profile();
    tar.file("rootfs/etc/profile", profile.as_bytes(), 0o644)?;
    tar.file("rootfs/root/.bashrc", profile.as_bytes(), 0o644)?;
    tar.file("rootfs/root/.profile", b". /etc/profile\n", 0o644)?;
    let tar = tar.finish()?;
    let digest = Sha256::digest(&tar);
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    Ok(BuildContext {
        tag: format!("{}:{hex}", repository()),
        tar,
    })
}

/// A node's PATH: the TP's tools first, as in the original containers (a node's mounted
/// tools follow, see [`super::tools`]).
pub(crate) const PATH: &str = "/usr/local/kafka/bin:/usr/local/hadoop/bin:/usr/local/spark/bin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn dockerfile() -> String {
    format!(
        "\
# The lab node image, assembled by `lab build` from this machine's files (no registry).
FROM scratch
COPY rootfs/ /
ENV PATH={PATH} \\
    KAFKA_HOME=/usr/local/kafka HADOOP_HOME=/usr/local/hadoop HOME=/root SHELL=/bin/bash
WORKDIR /root
STOPSIGNAL SIGTERM
ENTRYPOINT [\"/usr/local/bin/labnode\", \"init\"]
"
    )
}

/// The login profile: PATH again (a login shell resets it), with the `bin/` of every tool
/// mounted under `/opt/lab`.
fn profile() -> String {
    format!(
        "\
# Login profile of a lab node: the TP's tools on PATH, as in the original containers.
export KAFKA_HOME=/usr/local/kafka
export HADOOP_HOME=/usr/local/hadoop
export PATH={PATH}
for tool in {TOOLS_ROOT}/*/bin; do [ -d \"$tool\" ] && PATH=\"$PATH:$tool\"; done
unset tool
export PS1='\\u@\\h:\\w\\$ '
alias ll='ls -l'
"
    )
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// busybox's applet paths (`bin/ls`, `usr/bin/awk`, …), from the binary itself.
fn applets(busybox: &Path) -> anyhow::Result<Vec<String>> {
    let out = Command::new(busybox)
        .arg("--list-full")
        .output()
        .with_context(|| format!("cannot run {} --list-full", busybox.display()))?;
    if !out.status.success() {
        bail!(
            "{} --list-full failed: {}",
            busybox.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut list: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| l.contains('/') && !l.starts_with('/'))
        .map(str::to_owned)
        .collect();
    list.sort();
    Ok(list)
}

/// A reproducible tar writer: fixed owner and time, entries in the order given.
struct Tar {
    builder: tar::Builder<Vec<u8>>,
}

impl Tar {
    fn new() -> Tar {
        let mut builder = tar::Builder::new(Vec::new());
        builder.mode(tar::HeaderMode::Deterministic);
        Tar { builder }
    }

    fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        h
    }

    fn file(&mut self, path: &str, data: &[u8], mode: u32) -> anyhow::Result<()> {
        let mut h = Tar::header(tar::EntryType::Regular, mode, data.len() as u64);
        self.builder.append_data(&mut h, path, data)?;
        Ok(())
    }

    fn dir(&mut self, path: &str, mode: u32) -> anyhow::Result<()> {
        let mut h = Tar::header(tar::EntryType::Directory, mode, 0);
        self.builder
            .append_data(&mut h, format!("{path}/"), std::io::empty())?;
        Ok(())
    }

    fn symlink(&mut self, path: &str, target: &str) -> anyhow::Result<()> {
        let mut h = Tar::header(tar::EntryType::Symlink, 0o777, 0);
        self.builder.append_link(&mut h, path, target)?;
        Ok(())
    }

    fn finish(self) -> anyhow::Result<Vec<u8>> {
        Ok(self.builder.into_inner()?)
    }
}

/// A tar of files to write into a node (rendered configs, the services file).
pub(crate) fn files_tar(files: &[(String, String)]) -> anyhow::Result<Vec<u8>> {
    let mut tar = Tar::new();
    // Parent directories first, so that the files land where the image has no directory yet.
    let mut dirs = std::collections::BTreeSet::new();
    for (path, _) in files {
        let mut parent = Path::new(path.trim_start_matches('/')).parent();
        while let Some(p) = parent.filter(|p| !p.as_os_str().is_empty()) {
            dirs.insert(p.to_path_buf());
            parent = p.parent();
        }
    }
    for dir in dirs {
        tar.dir(&dir.display().to_string(), 0o755)?;
    }
    for (path, contents) in files {
        tar.file(path.trim_start_matches('/'), contents.as_bytes(), 0o644)?;
    }
    tar.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in labnode: a script whose `--help` lists commands as clap does.
    fn inputs(dir: &Path, flavour: &str) -> Inputs {
        use std::os::unix::fs::PermissionsExt;
        let labnode = dir.join("labnode");
        let script = format!(
            "#!/bin/sh\n# {flavour}\nprintf 'Usage: labnode <COMMAND>\\n\\nCommands:\\n  init  PID 1\\n  jps  x\\n  kafka-topics.sh  x\\n  hdfs  x\\n  help  x\\n\\nOptions:\\n'\n"
        );
        std::fs::write(&labnode, script).unwrap();
        std::fs::set_permissions(&labnode, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(
            coordinator_beside(&labnode),
            format!("#!/bin/sh\n# {flavour}\n"),
        )
        .unwrap();
        Inputs {
            labnode,
            bash: "/bin/bash-static".into(),
            busybox: "/bin/busybox".into(),
            ca_bundle: None,
        }
    }

    #[test]
    fn the_context_is_reproducible_and_its_tag_follows_the_content() {
        if !Path::new("/bin/busybox").is_file() || !Path::new("/bin/bash-static").is_file() {
            assert!(
                std::env::var("CI").is_err(),
                "busybox-static and bash-static are needed (make setup)"
            );
            eprintln!("SKIP: /bin/busybox or /bin/bash-static missing (make setup)");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let a = context(&inputs(dir.path(), "one")).unwrap();
        let b = context(&inputs(dir.path(), "one")).unwrap();
        assert_eq!(a.tag, b.tag);
        assert_eq!(a.tar, b.tar);
        let c = context(&inputs(dir.path(), "another")).unwrap();
        assert_ne!(a.tag, c.tag);
        let mut archive = tar::Archive::new(a.tar.as_slice());
        let names: Vec<String> = archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        for want in [
            "Dockerfile",
            "rootfs/bin/bash",
            "rootfs/bin/ls",
            "rootfs/usr/local/kafka/bin/kafka-topics.sh",
            "rootfs/usr/local/hadoop/bin/hdfs",
            "rootfs/usr/local/bin/jps",
            "rootfs/usr/local/bin/labnode-coordinator",
            "rootfs/etc/profile",
        ] {
            assert!(
                names.iter().any(|n| n == want),
                "{want} missing from {names:?}"
            );
        }
        assert!(
            !names
                .iter()
                .any(|n| n.ends_with("/init") && n.contains("local")),
            "init must not be linked"
        );
    }
}
