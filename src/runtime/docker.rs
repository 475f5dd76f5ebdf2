//! The Docker runtime: one container per node on a user-defined bridge network, driven through
//! bollard (API version negotiated, so a Docker 20.10 engine works). Objects are found by their
//! labels, never by a local state file; the image is built offline from [`super::image`].

use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;

use anyhow::{Context, anyhow, bail};
use bollard::Docker;
use bollard::errors::Error as DockerError;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::models::{
    ContainerCreateBody, EndpointSettings, HostConfig, NetworkCreateRequest, NetworkingConfig,
    PortBinding, RestartPolicy, RestartPolicyNameEnum, VolumeCreateRequest,
};
use bollard::query_parameters::{
    BuildImageOptions, CreateContainerOptions, ListContainersOptions, ListImagesOptions,
    ListNetworksOptions, ListVolumesOptions, LogsOptions, RemoveContainerOptions,
    RemoveImageOptions, RemoveVolumeOptions, StopContainerOptions, UploadToContainerOptions,
};
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use super::image::{self, Inputs};
use super::tools::{self, Tools};
use super::{ExecOutput, Io, NodeState, PublishedPort, Runtime, labels};
use crate::plan::{NodePlan, Plan};

/// The Docker runtime.
#[derive(Debug)]
pub(crate) struct DockerRuntime {
    docker: Docker,
    /// The image tag prepared for this run.
    image: Mutex<Option<String>>,
    /// The host tools prepared for this run.
    tools: Mutex<Tools>,
}

/// Why the Docker daemon cannot be used, with what to do about it.
#[derive(Debug, thiserror::Error)]
#[error(
    "no Docker daemon answers ({reason}).\n  Start one (`sudo systemctl start docker`, or `sudo dockerd &`), \
     check DOCKER_HOST and your access to /var/run/docker.sock,\n  or run the same lab as local \
     processes: `lab up --runtime process`"
)]
pub(crate) struct Unreachable {
    reason: String,
}

impl DockerRuntime {
    /// Connects to the local daemon and negotiates the API version.
    pub(crate) async fn connect() -> Result<DockerRuntime, Unreachable> {
        let unreachable = |e: DockerError| Unreachable {
            reason: e.to_string(),
        };
        let docker = Docker::connect_with_local_defaults().map_err(unreachable)?;
        let docker = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            docker.negotiate_version(),
        )
        .await
        .map_err(|_| Unreachable {
            reason: "no answer within 5 s".into(),
        })?
        .map_err(unreachable)?;
        Ok(DockerRuntime {
            docker,
            image: Mutex::new(None),
            tools: Mutex::new(Tools::default()),
        })
    }

    /// Builds the node image unless an image with the same content digest exists; returns its tag.
    pub(crate) async fn build_image(&self) -> anyhow::Result<(String, bool)> {
        let context = image::context(&Inputs::locate()?)?;
        if let Ok(mut image) = self.image.lock() {
            *image = Some(context.tag.clone());
        }
        // Labs brought up at once (a class, parallel tests) build the same tag: one at a time,
        // or one build's prune removes what another just tagged.
        let _build_lock = tokio::task::spawn_blocking(lock_image_builds)
            .await
            .map_err(|e| anyhow!("image build lock: {e}"))?
            .context("cannot lock the image build")?;
        if self.docker.inspect_image(&context.tag).await.is_ok() {
            return Ok((context.tag, false));
        }
        let options = BuildImageOptions {
            dockerfile: "Dockerfile".into(),
            t: Some(context.tag.clone()),
            rm: true,
            forcerm: true,
            labels: Some(HashMap::from([("lab.image".to_owned(), "node".to_owned())])),
            ..Default::default()
        };
        let mut stream =
            self.docker
                .build_image(options, None, Some(bollard::body_full(context.tar.into())));
        let mut step = String::from("(before the first step)");
        let mut transcript = Vec::new();
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| anyhow!("image build failed at {step}: {e}"))?;
            if let Some(line) = info.stream.as_deref() {
                if line.starts_with("Step ") {
                    step = line.trim().to_owned();
                }
                transcript.push(line.trim_end().to_owned());
            }
            if let Some(detail) = info.error_detail {
                let msg = detail.message.unwrap_or_default();
                bail!(
                    "image build failed at {step}: {msg}\n{}",
                    transcript.join("\n")
                );
            }
        }
        self.prune_images(&context.tag).await;
        if self.docker.inspect_image(&context.tag).await.is_err() {
            bail!(
                "image build finished but {} does not exist:\n{}",
                context.tag,
                transcript.join("\n")
            );
        }
        Ok((context.tag, true))
    }

    /// Removes the node images older builds left (each labnode build makes a new one); the
    /// engine refuses to remove those still used by a container, which are kept.
    async fn prune_images(&self, keep: &str) {
        let repository = format!("{}:", keep.split(':').next().unwrap_or(keep));
        let filters = HashMap::from([("label".to_owned(), vec!["lab.image=node".to_owned()])]);
        let options = ListImagesOptions {
            filters: Some(filters),
            ..Default::default()
        };
        let Ok(images) = self.docker.list_images(Some(options)).await else {
            return;
        };
        for image in images {
            let tags: Vec<&String> = image
                .repo_tags
                .iter()
                .filter(|t| *t != "<none>:<none>")
                .collect();
            let old_build = tags
                .iter()
                .all(|t| t.starts_with(&repository) && *t != keep);
            if old_build {
                let _ = self
                    .docker
                    .remove_image(&image.id, None::<RemoveImageOptions>, None)
                    .await;
            }
        }
    }

    async fn ensure_network(&self, plan: &Plan) -> anyhow::Result<()> {
        let existing = self
            .docker
            .list_networks(Some(ListNetworksOptions {
                filters: Some(HashMap::from([(
                    "name".to_owned(),
                    vec![plan.network.clone()],
                )])),
            }))
            .await?;
        if existing
            .iter()
            .any(|n| n.name.as_deref() == Some(plan.network.as_str()))
        {
            return Ok(());
        }
        self.docker
            .create_network(NetworkCreateRequest {
                name: plan.network.clone(),
                driver: Some("bridge".into()),
                labels: Some(HashMap::from([(labels::LAB.to_owned(), plan.lab.clone())])),
                ..Default::default()
            })
            .await
            .with_context(|| format!("cannot create network {}", plan.network))?;
        Ok(())
    }

    fn label_filter(lab: Option<&str>) -> HashMap<String, Vec<String>> {
        let label = match lab {
            Some(lab) => format!("{}={lab}", labels::LAB),
            None => labels::LAB.to_owned(),
        };
        HashMap::from([("label".to_owned(), vec![label])])
    }

    /// The volume names of a node: one per kept directory.
    fn volume_name(object: &str, dir: &str) -> String {
        let slug: String = dir.trim_matches('/').replace('/', "-");
        format!("{object}-{slug}")
    }
}

impl Runtime for DockerRuntime {
    fn name(&self) -> &'static str {
        "docker"
    }

    async fn revision(&self, plan: &Plan) -> anyhow::Result<String> {
        // The image's tag is the digest of its content: a new labnode means new containers;
        // so does a tool that changed or became available.
        let tag = image::context(&Inputs::locate()?)?.tag;
        let image = tag.rsplit(':').next().unwrap_or_default();
        let tools = tools::revision(plan);
        Ok(if tools.is_empty() {
            image.to_owned()
        } else {
            format!("{image}-{tools}")
        })
    }

    async fn prepare(&self, plan: &Plan) -> anyhow::Result<String> {
        let (tag, built) = self.build_image().await?;
        if let Ok(mut image) = self.image.lock() {
            *image = Some(tag.clone());
        }
        self.ensure_network(plan).await?;
        let image = if built {
            format!("built {tag}")
        } else {
            format!("{tag} up to date")
        };
        let owned = plan.clone();
        let prepared = tokio::task::spawn_blocking(move || Tools::prepare(&owned)).await?;
        let summary = prepared.summary();
        if let Ok(mut tools) = self.tools.lock() {
            *tools = prepared;
        }
        let mut said = format!("{image}, network {}", plan.network);
        if let Some(summary) = summary {
            said = format!("{said}, {summary}");
        }
        Ok(said)
    }

    async fn create(&self, plan: &Plan, node: &NodePlan) -> anyhow::Result<()> {
        let image = self
            .image
            .lock()
            .ok()
            .and_then(|i| i.clone())
            .context("the node image is not prepared")?;
        let labels = HashMap::from([
            (labels::LAB.to_owned(), plan.lab.clone()),
            (labels::NODE.to_owned(), node.name.clone()),
            (labels::HASH.to_owned(), plan.hash.clone()),
            (labels::OFFSET.to_owned(), plan.port_offset.to_string()),
            (
                labels::SPEC.to_owned(),
                plan.spec_file.display().to_string(),
            ),
        ]);
        let mut binds = Vec::new();
        for dir in &plan.volumes {
            let name = DockerRuntime::volume_name(&node.object, dir);
            self.docker
                .create_volume(VolumeCreateRequest {
                    name: Some(name.clone()),
                    labels: Some(labels.clone()),
                    ..Default::default()
                })
                .await
                .with_context(|| format!("cannot create volume {name}"))?;
            binds.push(format!("{name}:{dir}"));
        }
        let mut path = image::PATH.to_owned();
        if let Ok(tools) = self.tools.lock() {
            for (tool, dir) in tools.of(node) {
                let point = tools::mount_point(tool);
                binds.push(format!("{}:{point}:ro", dir.display()));
                path = format!("{path}:{point}/bin");
            }
        }
        for mount in &node.mounts {
            binds.push(format!("{}:{}:ro", mount.source.display(), mount.path));
        }
        let port_bindings = node
            .ports
            .iter()
            .filter_map(|p| {
                let (ip, host) = p.published.as_ref()?;
                Some((
                    format!("{}/tcp", p.port),
                    Some(vec![PortBinding {
                        host_ip: Some(ip.clone()),
                        host_port: Some(host.to_string()),
                    }]),
                ))
            })
            .collect();
        let body = ContainerCreateBody {
            hostname: Some(node.name.clone()),
            image: Some(image),
            labels: Some(labels),
            exposed_ports: Some(
                node.ports
                    .iter()
                    .map(|p| format!("{}/tcp", p.port))
                    .collect(),
            ),
            env: Some(vec![
                format!("LAB_NODE={}/{}", plan.lab, node.name),
                format!("PATH={path}"),
            ]),
            stop_timeout: Some(20),
            host_config: Some(HostConfig {
                binds: Some(binds),
                port_bindings: Some(port_bindings),
                network_mode: Some(plan.network.clone()),
                restart_policy: Some(RestartPolicy {
                    name: Some(RestartPolicyNameEnum::UNLESS_STOPPED),
                    maximum_retry_count: None,
                }),
                ..Default::default()
            }),
            networking_config: Some(NetworkingConfig {
                endpoints_config: Some(HashMap::from([(
                    plan.network.clone(),
                    EndpointSettings {
                        aliases: Some(vec![node.name.clone()]),
                        ..Default::default()
                    },
                )])),
            }),
            ..Default::default()
        };
        self.docker
            .create_container(
                Some(CreateContainerOptions {
                    name: Some(node.object.clone()),
                    ..Default::default()
                }),
                body,
            )
            .await
            .with_context(|| format!("cannot create container {}", node.object))?;
        let files: Vec<(String, String)> = node
            .files
            .iter()
            .map(|f| (f.path.clone(), f.contents.clone()))
            .collect();
        let tar = image::files_tar(&files)?;
        self.docker
            .upload_to_container(
                &node.object,
                Some(UploadToContainerOptions {
                    path: "/".into(),
                    ..Default::default()
                }),
                bollard::body_full(tar.into()),
            )
            .await
            .with_context(|| format!("cannot write the config files into {}", node.object))?;
        Ok(())
    }

    async fn start(&self, object: &str) -> anyhow::Result<()> {
        if self.status(object).await?.is_some_and(|s| s.running()) {
            // Running already: init starts again the services stopped on purpose.
            let out = self
                .exec(
                    object,
                    &["kill".into(), "-HUP".into(), "1".into()],
                    Io::Capture,
                )
                .await?;
            if out.code != 0 {
                bail!(
                    "cannot signal init in {object}: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
            return Ok(());
        }
        self.docker
            .start_container(object, None)
            .await
            .with_context(|| format!("cannot start container {object}"))
    }

    async fn exec(&self, object: &str, cmd: &[String], io: Io) -> anyhow::Result<ExecOutput> {
        if io == Io::Terminal {
            // A real terminal needs raw mode and resize handling: the docker CLI does that well.
            let status = std::process::Command::new("docker")
                .args(["exec", "-it", object])
                .args(cmd)
                .status()
                .context(
                    "cannot run the `docker` CLI for an interactive shell (is it installed?)",
                )?;
            return Ok(ExecOutput {
                code: i64::from(status.code().unwrap_or(1)),
                ..Default::default()
            });
        }
        let exec = self
            .docker
            .create_exec(
                object,
                CreateExecOptions::<String> {
                    cmd: Some(cmd.to_vec()),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    attach_stdin: Some(io == Io::Inherit),
                    ..Default::default()
                },
            )
            .await
            .with_context(|| format!("cannot run a command in {object} (is it running?)"))?;
        let mut out = ExecOutput::default();
        if let StartExecResults::Attached {
            mut output,
            mut input,
        } = self
            .docker
            .start_exec(&exec.id, Some(StartExecOptions::default()))
            .await?
        {
            let feeder = (io == Io::Inherit).then(|| {
                tokio::spawn(async move {
                    let mut stdin = tokio::io::stdin();
                    let _ = tokio::io::copy(&mut stdin, &mut input).await;
                    let _ = input.shutdown().await;
                })
            });
            while let Some(chunk) = output.next().await {
                match (chunk?, io) {
                    (bollard::container::LogOutput::StdErr { message }, Io::Capture) => {
                        out.stderr.extend_from_slice(&message)
                    }
                    (other, Io::Capture) => out.stdout.extend_from_slice(other.as_ref()),
                    (bollard::container::LogOutput::StdErr { message }, _) => {
                        let _ = std::io::stderr().write_all(&message);
                    }
                    (other, _) => {
                        let mut stdout = std::io::stdout();
                        let _ = stdout.write_all(other.as_ref());
                        let _ = stdout.flush();
                    }
                }
            }
            if let Some(f) = feeder {
                f.abort();
            }
        }
        let inspect = self.docker.inspect_exec(&exec.id).await?;
        out.code = inspect.exit_code.unwrap_or(-1);
        Ok(out)
    }

    async fn status(&self, object: &str) -> anyhow::Result<Option<NodeState>> {
        let inspect = match self.docker.inspect_container(object, None).await {
            Ok(i) => i,
            Err(DockerError::DockerResponseServerError {
                status_code: 404, ..
            }) => return Ok(None),
            Err(e) => return Err(e).context(format!("cannot inspect container {object}")),
        };
        let labels = inspect
            .config
            .as_ref()
            .and_then(|c| c.labels.clone())
            .unwrap_or_default();
        let Some(lab) = labels.get(labels::LAB).cloned() else {
            bail!(
                "container {object} exists but was not created by lab (no {} label): remove or rename it",
                labels::LAB
            );
        };
        let state = inspect
            .state
            .as_ref()
            .and_then(|s| s.status)
            .map(|s| s.to_string())
            .unwrap_or_else(|| "unknown".into());
        let settings = inspect.network_settings.unwrap_or_default();
        let address = settings
            .networks
            .unwrap_or_default()
            .values()
            .find_map(|n| n.ip_address.clone().filter(|ip| !ip.is_empty()));
        let mut ports: Vec<PublishedPort> = settings
            .ports
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(key, bindings)| {
                let port = key.split('/').next()?.parse().ok()?;
                let b = bindings?.into_iter().next()?;
                Some(PublishedPort {
                    port,
                    host_ip: b.host_ip.unwrap_or_default(),
                    host_port: b.host_port?.parse().ok()?,
                })
            })
            .collect();
        ports.sort_by_key(|p| p.host_port);
        Ok(Some(NodeState {
            object: object.to_owned(),
            lab,
            node: labels.get(labels::NODE).cloned().unwrap_or_default(),
            hash: labels.get(labels::HASH).cloned().unwrap_or_default(),
            port_offset: labels
                .get(labels::OFFSET)
                .and_then(|o| o.parse().ok())
                .unwrap_or(0),
            spec: labels
                .get(labels::SPEC)
                .filter(|s| !s.is_empty())
                .map(Into::into),
            state,
            address,
            ports,
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
        if let Some(service) = service {
            let lines = tail.map_or("+1".to_owned(), |n| n.to_string());
            let mut cmd = vec!["tail".to_owned(), "-n".to_owned(), lines];
            if follow {
                cmd.push("-f".into());
            }
            cmd.push(format!("/var/log/lab/{service}.log"));
            let io = if follow { Io::Inherit } else { Io::Capture };
            let result = self.exec(object, &cmd, io).await?;
            out.write_all(&result.stdout)?;
            if result.code != 0 {
                bail!(
                    "no log for service `{service}` in {object}: {}",
                    String::from_utf8_lossy(&result.stderr).trim()
                );
            }
            return Ok(());
        }
        let options = LogsOptions {
            follow,
            stdout: true,
            stderr: true,
            tail: tail.map_or("all".to_owned(), |n| n.to_string()),
            ..Default::default()
        };
        let mut stream = self.docker.logs(object, Some(options));
        while let Some(chunk) = stream.next().await {
            out.write_all(chunk?.as_ref())?;
            out.flush()?;
        }
        Ok(())
    }

    async fn stop(&self, object: &str) -> anyhow::Result<()> {
        match self
            .docker
            .stop_container(
                object,
                Some(StopContainerOptions {
                    t: Some(20),
                    signal: None,
                }),
            )
            .await
        {
            Ok(())
            | Err(DockerError::DockerResponseServerError {
                status_code: 304 | 404,
                ..
            }) => Ok(()),
            Err(e) => Err(e).context(format!("cannot stop container {object}")),
        }
    }

    async fn remove(&self, object: &str, volumes: bool) -> anyhow::Result<()> {
        let state = self.status(object).await?;
        // A graceful stop first: init stops the services in reverse order.
        self.stop(object).await?;
        match self
            .docker
            .remove_container(
                object,
                Some(RemoveContainerOptions {
                    force: true,
                    v: false,
                    link: false,
                }),
            )
            .await
        {
            Ok(())
            | Err(DockerError::DockerResponseServerError {
                status_code: 404, ..
            }) => {}
            Err(e) => return Err(e).context(format!("cannot remove container {object}")),
        }
        if volumes && let Some(state) = state {
            for v in self.volumes_of(&state.lab, Some(&state.node)).await? {
                self.remove_volume(&v).await?;
            }
        }
        Ok(())
    }

    async fn list(&self, lab: Option<&str>) -> anyhow::Result<Vec<NodeState>> {
        let containers = self
            .docker
            .list_containers(Some(ListContainersOptions {
                all: true,
                filters: Some(DockerRuntime::label_filter(lab)),
                ..Default::default()
            }))
            .await
            .context("cannot list containers")?;
        let mut states = Vec::new();
        for c in containers {
            let Some(name) = c.names.unwrap_or_default().into_iter().next() else {
                continue;
            };
            if let Some(state) = self.status(name.trim_start_matches('/')).await? {
                states.push(state);
            }
        }
        states.sort_by(|a, b| (&a.lab, &a.object).cmp(&(&b.lab, &b.object)));
        Ok(states)
    }

    async fn remove_shared(&self, lab: &str, volumes: bool) -> anyhow::Result<Vec<String>> {
        let mut removed = Vec::new();
        let networks = self
            .docker
            .list_networks(Some(ListNetworksOptions {
                filters: Some(DockerRuntime::label_filter(Some(lab))),
            }))
            .await?;
        for n in networks {
            let Some(name) = n.name else { continue };
            match self.docker.remove_network(&name).await {
                Ok(())
                | Err(DockerError::DockerResponseServerError {
                    status_code: 404, ..
                }) => removed.push(format!("network {name}")),
                Err(e) => return Err(e).context(format!("cannot remove network {name}")),
            }
        }
        if volumes {
            for v in self.volumes_of(lab, None).await? {
                self.remove_volume(&v).await?;
                removed.push(format!("volume {v}"));
            }
        }
        Ok(removed)
    }

    fn endpoint(&self, state: &NodeState, node: &NodePlan, port: u16) -> Option<SocketAddr> {
        if let Some(p) = state.ports.iter().find(|p| p.port == port) {
            let ip: IpAddr = match p.host_ip.as_str() {
                "" | "0.0.0.0" => IpAddr::from([127, 0, 0, 1]),
                other => other.parse().ok()?,
            };
            return Some(SocketAddr::new(ip, p.host_port));
        }
        let _ = node;
        let ip: IpAddr = state.address.as_deref()?.parse().ok()?;
        Some(SocketAddr::new(ip, port))
    }
}

impl DockerRuntime {
    async fn volumes_of(&self, lab: &str, node: Option<&str>) -> anyhow::Result<Vec<String>> {
        let mut filters = vec![format!("{}={lab}", labels::LAB)];
        if let Some(node) = node {
            filters.push(format!("{}={node}", labels::NODE));
        }
        let list = self
            .docker
            .list_volumes(Some(ListVolumesOptions {
                filters: Some(HashMap::from([("label".to_owned(), filters)])),
            }))
            .await
            .context("cannot list volumes")?;
        Ok(list
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(|v| v.name)
            .collect())
    }

    async fn remove_volume(&self, name: &str) -> anyhow::Result<()> {
        match self
            .docker
            .remove_volume(name, Some(RemoveVolumeOptions { force: true }))
            .await
        {
            Ok(())
            | Err(DockerError::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(()),
            Err(e) => Err(e).context(format!("cannot remove volume {name}")),
        }
    }

    /// The container publishing host `port`, if one does (to name a port's holder).
    pub(crate) async fn container_on_port(&self, port: u16) -> Option<String> {
        let containers = self
            .docker
            .list_containers(None::<ListContainersOptions>)
            .await
            .ok()?;
        containers.into_iter().find_map(|c| {
            let published = c
                .ports
                .unwrap_or_default()
                .iter()
                .any(|p| p.public_port == Some(port));
            published.then(|| {
                c.names
                    .unwrap_or_default()
                    .join(",")
                    .trim_start_matches('/')
                    .to_owned()
            })
        })
    }
}

/// Takes the host-wide lock that lets one `lab` process build the node image at a time; the lock
/// lasts as long as the returned file stays open. The file is opened read-only once it exists, so
/// users sharing a machine share the lock too.
fn lock_image_builds() -> std::io::Result<std::fs::File> {
    let path = std::env::temp_dir().join("lab-image-build.lock");
    let file = match std::fs::File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::File::create(&path)?,
        Err(e) => return Err(e),
    };
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)?;
    Ok(file)
}
