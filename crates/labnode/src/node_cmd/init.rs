//! `labnode init`: PID 1 of a lab node.
//!
//! It starts the services of the services file in order (each one once the previous one's
//! `ready` port accepts connections, or after [`READY_WAIT`]), writes each one's output to
//! `<log_dir>/<service>.log`, reaps every zombie (orphans are re-parented to PID 1), restarts a
//! service that crashed with exponential backoff, and leaves one that was stopped on purpose
//! (it exited 0 or by SIGTERM/SIGINT, as after `kafka-server-stop.sh`) stopped until SIGHUP.
//! On SIGTERM or SIGINT it stops the services in reverse order and exits.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use rustix::process::{Pid, Signal, WaitOptions, WaitStatus};
use tokio::signal::unix::{SignalKind, signal};
use tracing::{info, warn};

use super::services::{self, Service};

/// How long a service may take to accept connections on its `ready` port before the next starts anyway.
const READY_WAIT: Duration = Duration::from_secs(30);
/// How long a service gets between SIGTERM and SIGKILL at shutdown.
const STOP_WAIT: Duration = Duration::from_secs(10);
/// A service that ran this long before crashing starts its backoff afresh.
const STABLE_RUN: Duration = Duration::from_secs(60);
/// The first and the longest delay before restarting a crashed service.
const BACKOFF_MIN: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// Runs init until SIGTERM/SIGINT.
pub(super) fn run(services_file: &Path, log_dir: &Path) -> anyhow::Result<ExitCode> {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(false)
        .try_init();
    let text = fs::read_to_string(services_file)
        .with_context(|| format!("cannot read the services file {}", services_file.display()))?;
    let services = services::parse(&text)
        .with_context(|| format!("invalid services file {}", services_file.display()))?;
    fs::create_dir_all(log_dir)
        .with_context(|| format!("cannot create the log directory {}", log_dir.display()))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut supervisor = Supervisor::new(services, log_dir.to_owned());
    runtime.block_on(supervisor.run())?;
    Ok(ExitCode::SUCCESS)
}

/// Where a service is in its life.
#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    /// Not started yet (waiting for the ones before it).
    Pending,
    /// Running as process group `pid`.
    Running { pid: Pid, since: Instant },
    /// Crashed; restarts at `at`.
    Backoff { at: Instant },
    /// Stopped on purpose: stays down until SIGHUP.
    Stopped,
}

/// One supervised service.
#[derive(Debug)]
struct Slot {
    service: Service,
    state: State,
    /// Crashes in a row (reset after [`STABLE_RUN`]).
    crashes: u32,
    /// When it was first started, for the ready deadline.
    first_start: Option<Instant>,
    /// Its ready port accepted a connection, or it has none, or the deadline passed.
    settled: bool,
}

#[derive(Debug)]
struct Supervisor {
    slots: Vec<Slot>,
    log_dir: PathBuf,
    /// Set once SIGTERM/SIGINT arrived: exits are then expected, nothing restarts.
    stopping: bool,
}

impl Supervisor {
    fn new(services: Vec<Service>, log_dir: PathBuf) -> Supervisor {
        let slots = services
            .into_iter()
            .map(|service| Slot {
                service,
                state: State::Pending,
                crashes: 0,
                first_start: None,
                settled: false,
            })
            .collect();
        Supervisor {
            slots,
            log_dir,
            stopping: false,
        }
    }

    async fn run(&mut self) -> anyhow::Result<()> {
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let mut hup = signal(SignalKind::hangup())?;
        let mut child = signal(SignalKind::child())?;
        info!("init: {} service(s) to start", self.slots.len());
        loop {
            self.reap();
            self.advance();
            tokio::select! {
                _ = term.recv() => break,
                _ = int.recv() => break,
                _ = hup.recv() => self.start_stopped(),
                _ = child.recv() => {}
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
        }
        self.shutdown().await;
        Ok(())
    }

    /// Collects every exited child, ours or an orphan's.
    fn reap(&mut self) {
        while let Ok(Some((pid, status))) = rustix::process::wait(WaitOptions::NOHANG) {
            if let Some(slot) = self
                .slots
                .iter_mut()
                .find(|s| matches!(s.state, State::Running { pid: p, .. } if p == pid))
            {
                if self.stopping {
                    slot.state = State::Stopped;
                } else {
                    slot.exited(status);
                }
            }
        }
    }

    /// Starts what is due: pending services in order, crashed ones whose backoff is over.
    fn advance(&mut self) {
        let now = Instant::now();
        let mut all_before_settled = true;
        for i in 0..self.slots.len() {
            let log_dir = self.log_dir.clone();
            let Some(slot) = self.slots.get_mut(i) else {
                break;
            };
            match slot.state {
                State::Pending if all_before_settled => slot.start(&log_dir),
                State::Backoff { at } if at <= now => slot.start(&log_dir),
                _ => {}
            }
            slot.check_settled();
            all_before_settled &= slot.settled;
        }
    }

    /// SIGHUP: starts again the services that were stopped on purpose.
    fn start_stopped(&mut self) {
        let log_dir = self.log_dir.clone();
        for slot in self.slots.iter_mut().filter(|s| s.state == State::Stopped) {
            slot.crashes = 0;
            slot.start(&log_dir);
        }
    }

    /// Stops the services in reverse start order: SIGTERM, then SIGKILL after [`STOP_WAIT`].
    async fn shutdown(&mut self) {
        info!("init: stopping services");
        self.stopping = true;
        for i in (0..self.slots.len()).rev() {
            let Some(State::Running { pid, .. }) = self.slots.get(i).map(|s| s.state) else {
                continue;
            };
            let name = self
                .slots
                .get(i)
                .map(|s| s.service.name.clone())
                .unwrap_or_default();
            signal_group(pid, Signal::TERM);
            let deadline = Instant::now() + STOP_WAIT;
            loop {
                self.reap();
                let still = matches!(
                    self.slots.get(i).map(|s| s.state),
                    Some(State::Running { .. })
                );
                if !still {
                    info!("init: {name} stopped");
                    break;
                }
                if Instant::now() >= deadline {
                    warn!("init: {name} did not stop within {STOP_WAIT:?}; killing it");
                    signal_group(pid, Signal::KILL);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        // Whatever else is left in the node (shells, tools) gets the same courtesy.
        self.reap();
    }
}

impl Slot {
    fn start(&mut self, log_dir: &Path) {
        let name = self.service.name.clone();
        let log_path = log_dir.join(format!("{name}.log"));
        match spawn(&self.service, &log_path) {
            Ok(pid) => {
                info!(
                    "init: started {name} (pid {}), log {}",
                    pid.as_raw_nonzero(),
                    log_path.display()
                );
                self.state = State::Running {
                    pid,
                    since: Instant::now(),
                };
                self.first_start.get_or_insert_with(Instant::now);
            }
            Err(err) => {
                warn!("init: cannot start {name}: {err:#}");
                self.first_start.get_or_insert_with(Instant::now);
                self.crashed(Duration::ZERO);
            }
        }
    }

    fn check_settled(&mut self) {
        if self.settled || self.first_start.is_none() {
            return;
        }
        let ready = match self.service.ready {
            None => true,
            Some(port) => TcpStream::connect_timeout(
                &SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
                Duration::from_millis(100),
            )
            .is_ok(),
        };
        let late = self.first_start.is_some_and(|t| t.elapsed() >= READY_WAIT);
        if late && !ready {
            warn!(
                "init: {} is not ready after {READY_WAIT:?}; starting the next service anyway",
                self.service.name
            );
        }
        self.settled = ready || late;
    }

    fn exited(&mut self, status: WaitStatus) {
        let name = &self.service.name;
        let State::Running { since, .. } = self.state else {
            return;
        };
        let on_purpose = status.exit_status() == Some(0)
            || matches!(status.exit_status(), Some(130 | 143))
            || matches!(status.terminating_signal(), Some(s) if s == Signal::TERM.as_raw() || s == Signal::INT.as_raw());
        if on_purpose {
            info!(
                "init: {name} stopped ({}); it stays stopped until started again (SIGHUP to init)",
                describe(status)
            );
            self.state = State::Stopped;
        } else {
            warn!("init: {name} crashed ({})", describe(status));
            self.crashed(since.elapsed());
        }
    }

    fn crashed(&mut self, ran: Duration) {
        if ran >= STABLE_RUN {
            self.crashes = 0;
        }
        self.crashes = self.crashes.saturating_add(1);
        let factor = 2u32.saturating_pow(self.crashes.saturating_sub(1).min(16));
        let delay = BACKOFF_MIN.saturating_mul(factor).min(BACKOFF_MAX);
        info!("init: restarting {} in {delay:?}", self.service.name);
        self.state = State::Backoff {
            at: Instant::now() + delay,
        };
    }
}

/// Starts a service in its own process group, output appended to its log.
fn spawn(service: &Service, log_path: &Path) -> anyhow::Result<Pid> {
    let mut log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)
        .with_context(|| format!("cannot open {}", log_path.display()))?;
    writeln!(
        log,
        "=== init: starting {}: {}",
        service.name,
        service.command.join(" ")
    )?;
    let err_log: File = log.try_clone()?;
    let (program, args) = service.command.split_first().context("empty command")?;
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err_log)
        .process_group(0)
        .spawn()
        .with_context(|| format!("cannot run `{program}`"))?;
    let raw = i32::try_from(child.id()).context("pid out of range")?;
    // The child is reaped by `wait` in the supervisor loop, not through `Child`.
    drop(child);
    Pid::from_raw(raw).context("pid 0")
}

/// Sends a signal to a service's process group (it may have children of its own).
fn signal_group(pid: Pid, sig: Signal) {
    if rustix::process::kill_process_group(pid, sig).is_err() {
        let _ = rustix::process::kill_process(pid, sig);
    }
}

fn describe(status: WaitStatus) -> String {
    match (status.exit_status(), status.terminating_signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (_, Some(sig)) => format!("signal {sig}"),
        _ => format!("status {}", status.as_raw()),
    }
}
