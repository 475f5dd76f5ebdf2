//! The tokio server on top of the state machine: accepts connections, frames requests,
//! answers four-letter words, and runs one core task that owns the [`Machine`] and queues
//! transactions for the log. A log thread writes them in groups, each in one write that
//! returns once it is on the disk (with `forceSync`), as ZooKeeper's sync thread does: while
//! one group is written the core goes on applying requests, and everything queued meanwhile is
//! the next group, which the thread takes as soon as it is done (group commit). The replies
//! that waited for a group are handed to the log thread with it, which sends them once it is on
//! the disk without waking the core; the core writes every other frame straight to its socket,
//! in order, only once the log covers the zxid it depends on. A lone write, with nothing else
//! to do, is written by the core itself, so it goes from its socket to the disk and back
//! without waking another thread. Snapshots are encoded and written, and old files purged, by
//! a thread of their own, off that path: the core hands it a copy of the state (the tree's
//! costs nothing, the sessions are few).

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, mpsc as std_mpsc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, oneshot};
pub use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::fourlw::{self, Client, Report};
use crate::machine::{Limits, Machine, Out, Step};
use crate::proto::ConnectRequest;
use crate::store::{LogWriter, Snapshots, Store};
use crate::watch::ConnId;

/// A bound coordinator, ready to [`Server::run`].
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    config: Config,
}

impl Server {
    /// Binds `clientPortAddress:clientPort` from the configuration.
    pub async fn bind(config: Config) -> anyhow::Result<Server> {
        let addr = SocketAddr::new(config.client_address, config.client_port);
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr} (clientPort)"))?;
        Ok(Server { listener, config })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` is cancelled.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        serve(self.listener, self.config, shutdown).await
    }
}

/// Messages from connections and the log writer to the core task.
enum CoreMsg {
    Connect {
        conn: ConnId,
        addr: SocketAddr,
        outbox: Outbox,
        req: ConnectRequest,
    },
    Request {
        conn: ConnId,
        body: Vec<u8>,
        at: Instant,
    },
    Gone {
        conn: ConnId,
    },
    Word {
        word: String,
        reply: oneshot::Sender<String>,
    },
    /// The log thread wrote a group and sent its replies (how far the log goes is in
    /// [`LogQueue::durable`]), or failed to: sent only when the core holds frames waiting for
    /// the log, or on failure.
    Written(Result<(), String>),
}

/// A frame on its way to a connection, sent by the core or, once its group is on the disk,
/// by the log thread.
struct Reply {
    outbox: Outbox,
    frame: Vec<u8>,
    answers: bool,
    /// When its request arrived, if it is timed.
    started: Option<Instant>,
}

impl Reply {
    /// Sends the frame; returns how long it took from its request's arrival (ms), if timed.
    fn send(self) -> Option<u64> {
        self.outbox.send(self.frame, self.answers);
        self.started.map(ms_since)
    }
}

/// Milliseconds from `at` to now, for the latency figures.
fn ms_since(at: Instant) -> u64 {
    u64::try_from(at.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Transactions queued for the log thread, shared with it: the next group; and what the
/// thread wrote, which the core reads when it next looks rather than being woken for it.
#[derive(Default)]
struct LogQueue {
    state: Mutex<Queued>,
    /// Signalled when records are queued or the core stops.
    ready: Condvar,
    /// How far the log goes: the zxid its writes cover, the replies waiting for them sent
    /// (raised by the log thread, and by the core when it writes itself).
    durable: AtomicI64,
}

#[derive(Default)]
struct Queued {
    /// Framed records, in zxid order.
    records: Vec<u8>,
    /// The zxid of the last record handed to the log thread (queued, or taken since).
    zxid: i64,
    /// Replies waiting for nothing but these records, sent by the log thread as soon as they
    /// are on the disk, without waking the core.
    replies: Vec<Reply>,
    /// The log thread is writing a group.
    writing: bool,
    /// The core holds frames waiting for the log: the thread tells it when a group is
    /// written (else the core reads `durable` when it next looks).
    core_waits: bool,
    /// How long the replies the thread sent took from their requests' arrival (ms, for
    /// those timed), for the core's figures.
    latencies: Vec<u64>,
    /// The core stopped: the thread ends.
    closed: bool,
}

impl LogQueue {
    fn lock(&self) -> MutexGuard<'_, Queued> {
        // Nothing panics while holding it; were it poisoned, its state is still whole.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Stops the log thread once it has written what it took.
    fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_one();
    }
}

/// Messages from the core to a connection's writer.
enum ConnMsg {
    /// Bytes of a frame the socket did not take at once; `answers` if it is the reply to a
    /// request (not the connect response nor a watch notification).
    Frame {
        bytes: Vec<u8>,
        answers: bool,
    },
    Close,
}

/// The sending side of a connection. The core writes a frame straight to the socket when
/// nothing waits before it, which costs no task wake-up; what the socket does not take at
/// once goes to the connection's writer task, and later frames queue behind it.
#[derive(Clone)]
struct Outbox {
    shared: Arc<OutboxShared>,
    tx: mpsc::UnboundedSender<ConnMsg>,
}

struct OutboxShared {
    socket: tokio::net::tcp::OwnedWriteHalf,
    /// Frames handed to the writer task and not yet written.
    backlog: AtomicUsize,
    /// Requests that may still be read before a reply is written (`MAX_OUTSTANDING`), added
    /// to as replies go out.
    outstanding: Semaphore,
    /// Bytes of frames that answer no request (watch notifications, and the connect
    /// response) handed to the writer task and not yet written: unlike replies, which the
    /// outstanding limit bounds, a persistent watch sends them without being asked
    /// (`MAX_UNREAD_NOTIFICATIONS`).
    unread_notifications: AtomicUsize,
    /// Cancelled when the connection must end: its writer stopped, or the client fell too far
    /// behind.
    closed: CancellationToken,
    /// The client, for the log.
    addr: SocketAddr,
}

impl Outbox {
    /// Sends a frame, in order after those sent before; dropped if the connection is gone.
    fn send(&self, mut frame: Vec<u8>, answers: bool) {
        let mut written = 0;
        if self.shared.backlog.load(Ordering::Acquire) == 0 {
            match self.shared.socket.try_write(&frame) {
                Ok(n) => written = n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => return,
            }
        }
        if written == frame.len() {
            self.answered(answers);
            return;
        }
        // The rest goes to the writer task in the frame's own memory, unless the connection
        // is closing.
        if self.shared.closed.is_cancelled() {
            return;
        }
        frame.drain(..written.min(frame.len()));
        if !answers {
            let unread = self
                .shared
                .unread_notifications
                .fetch_add(frame.len(), Ordering::AcqRel)
                + frame.len();
            if unread > MAX_UNREAD_NOTIFICATIONS {
                tracing::warn!(
                    addr = %self.shared.addr,
                    unread,
                    "the client does not read its watch notifications, closing"
                );
                self.shared.closed.cancel();
                return;
            }
        }
        self.shared.backlog.fetch_add(1, Ordering::AcqRel);
        let _ = self.tx.send(ConnMsg::Frame {
            bytes: frame,
            answers,
        });
    }

    /// A frame went out: if it answered a request, one more may be read.
    fn answered(&self, answers: bool) {
        if answers {
            self.shared.outstanding.add_permits(1);
        }
    }

    /// Closes the connection after the frames already sent.
    fn close(&self) {
        let _ = self.tx.send(ConnMsg::Close);
    }
}

/// Writes the frames the socket did not take at once, in order, until the core closes the
/// connection (its sending side shuts when the last [`Outbox`] is dropped).
async fn write_backlog(outbox: &Outbox, mut rx: mpsc::UnboundedReceiver<ConnMsg>) {
    while let Some(ConnMsg::Frame { bytes, answers }) = rx.recv().await {
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            if outbox.shared.socket.writable().await.is_err() {
                return;
            }
            match outbox.shared.socket.try_write(rest) {
                Ok(n) => rest = rest.get(n..).unwrap_or_default(),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => return,
            }
        }
        outbox.shared.backlog.fetch_sub(1, Ordering::AcqRel);
        if !answers {
            outbox
                .shared
                .unread_notifications
                .fetch_sub(bytes.len(), Ordering::AcqRel);
        }
        outbox.answered(answers);
    }
}

/// Work for the snapshot thread.
enum SnapCmd {
    Write(crate::snapshot::State),
    Purge,
}

/// Serves the ZooKeeper protocol on `listener` until `shutdown` is cancelled: recovers the
/// data directories, then accepts clients.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let (store, recovered) =
        Store::open(&config.data_dir, &config.data_log_dir).with_context(|| {
            format!(
                "cannot open the data directories {} and {}",
                config.data_dir.display(),
                config.data_log_dir.display()
            )
        })?;
    let limits = Limits {
        min_session_ms: i32::try_from(config.min_session_ms).unwrap_or(i32::MAX),
        max_session_ms: i32::try_from(config.max_session_ms).unwrap_or(i32::MAX),
    };
    let mut machine = Machine::new(limits, wall_ms().max(0) as u64, secret());
    let replayed = recovered.txns.len();
    if let Some(snapshot) = recovered.snapshot {
        machine.load(snapshot);
    }
    for txn in &recovered.txns {
        machine.replay(txn);
    }
    let start = Instant::now();
    machine.restart_clocks(0);
    tracing::info!(
        zxid = format_args!("0x{:x}", machine.zxid()),
        replayed,
        addr = %listener.local_addr()?,
        "coordinator ready"
    );

    let (core_tx, core_rx) = mpsc::unbounded_channel();
    let (snap_tx, snap_rx) = std_mpsc::channel();
    let retain = usize::try_from(config.snap_retain_count).unwrap_or(3);
    let snapshots = store.snapshots();
    let snapshotter = std::thread::Builder::new()
        .name("coordinator-snapshot".into())
        .spawn(move || snapshot_writer(&snapshots, &snap_rx, retain))?;
    let log_queue = Arc::new(LogQueue {
        durable: AtomicI64::new(machine.zxid()),
        ..LogQueue::default()
    });
    let (log, queue) = (store.log_writer(), Arc::clone(&log_queue));
    let (force_sync, written) = (config.force_sync, core_tx.clone());
    let log_thread = std::thread::Builder::new()
        .name("coordinator-log".into())
        .spawn(move || log_writer(&log, &queue, &written, force_sync))?;

    let config = Arc::new(config);
    let core = Core {
        machine,
        conns: HashMap::new(),
        pending: VecDeque::new(),
        store,
        staged_zxid: None,
        staged_txns: 0,
        log_queue,
        snapshot_due: false,
        snap_tx,
        config: Arc::clone(&config),
        start,
        since_snapshot: 0,
        received: 0,
        sent: 0,
        latency: Latency::default(),
        failed: None,
    };
    let core_task = tokio::spawn(core.run(core_rx, shutdown.clone()));

    let per_ip: Arc<Mutex<HashMap<IpAddr, u32>>> = Arc::default();
    let mut next_conn: ConnId = 1;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => {
                let (stream, addr) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Some(slot) = IpSlot::take(&per_ip, addr.ip(), config.max_client_cnxns) else {
                    tracing::warn!(%addr, max = config.max_client_cnxns, "too many connections from this address");
                    continue;
                };
                let conn = next_conn;
                next_conn += 1;
                let _ = stream.set_nodelay(true);
                let core_tx = core_tx.clone();
                let config = Arc::clone(&config);
                let shutdown = shutdown.clone();
                tokio::spawn(async move {
                    connection(stream, addr, conn, core_tx, &config, shutdown).await;
                    drop(slot);
                });
            }
        }
    }
    let failed = core_task.await.context("core task")?;
    let _ = log_thread.join();
    let _ = snapshotter.join();
    match failed {
        Some(e) => Err(anyhow::anyhow!("transaction log failed: {e}")),
        None => Ok(()),
    }
}

/// A connection counted against `maxClientCnxns` for its address; released on drop.
struct IpSlot {
    map: Arc<Mutex<HashMap<IpAddr, u32>>>,
    ip: IpAddr,
}

impl IpSlot {
    fn take(map: &Arc<Mutex<HashMap<IpAddr, u32>>>, ip: IpAddr, max: u32) -> Option<IpSlot> {
        let mut guard = map.lock().ok()?;
        let n = guard.entry(ip).or_insert(0);
        if max > 0 && *n >= max {
            return None;
        }
        *n += 1;
        Some(IpSlot {
            map: Arc::clone(map),
            ip,
        })
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        if let Ok(mut guard) = self.map.lock()
            && let Some(n) = guard.get_mut(&self.ip)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                guard.remove(&self.ip);
            }
        }
    }
}

/// Why a frame could not be read.
enum FrameError {
    Closed,
    TooLarge(i32),
}

async fn read_frame(
    rd: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    len_bytes: [u8; 4],
    max: usize,
) -> Result<Vec<u8>, FrameError> {
    let len = i32::from_be_bytes(len_bytes);
    let n = usize::try_from(len).map_err(|_| FrameError::TooLarge(len))?;
    if n > max {
        return Err(FrameError::TooLarge(len));
    }
    let mut body = vec![0; n];
    rd.read_exact(&mut body)
        .await
        .map_err(|_| FrameError::Closed)?;
    Ok(body)
}

async fn connection(
    mut stream: TcpStream,
    addr: SocketAddr,
    conn: ConnId,
    core: mpsc::UnboundedSender<CoreMsg>,
    config: &Config,
    shutdown: CancellationToken,
) {
    let mut first = [0u8; 4];
    if stream.read_exact(&mut first).await.is_err() {
        return;
    }
    if fourlw::is_known(&first) {
        let word = String::from_utf8_lossy(&first).into_owned();
        let (reply, answer) = oneshot::channel();
        if core.send(CoreMsg::Word { word, reply }).is_ok()
            && let Ok(text) = answer.await
        {
            let _ = stream.write_all(text.as_bytes()).await;
        }
        let _ = stream.shutdown().await;
        return;
    }
    let (rd, wr) = stream.into_split();
    let mut rd = BufReader::new(rd);
    let req = match read_frame(&mut rd, first, config.max_buffer).await {
        Ok(body) => match ConnectRequest::decode(&body) {
            Ok(req) => req,
            Err(e) => {
                tracing::warn!(%addr, "malformed connect request, closing: {e}");
                return;
            }
        },
        Err(FrameError::TooLarge(len)) => {
            tracing::warn!(%addr, len, "connect frame length refused, closing");
            return;
        }
        Err(FrameError::Closed) => return,
    };
    let (tx, rx) = mpsc::unbounded_channel();
    let outbox = Outbox {
        shared: Arc::new(OutboxShared {
            socket: wr,
            backlog: AtomicUsize::new(0),
            outstanding: Semaphore::new(MAX_OUTSTANDING),
            unread_notifications: AtomicUsize::new(0),
            closed: CancellationToken::new(),
            addr,
        }),
        tx,
    };
    if core
        .send(CoreMsg::Connect {
            conn,
            addr,
            outbox: outbox.clone(),
            req,
        })
        .is_err()
    {
        return;
    }
    let writer_outbox = outbox.clone();
    let writer = tokio::spawn(async move {
        write_backlog(&writer_outbox, rx).await;
        writer_outbox.shared.closed.cancel();
    });
    loop {
        let mut len = [0u8; 4];
        let got = tokio::select! {
            () = outbox.shared.closed.cancelled() => break,
            () = shutdown.cancelled() => break,
            r = async {
                // At the limit, stop reading until a reply has been written.
                if let Ok(permit) = outbox.shared.outstanding.acquire().await {
                    permit.forget();
                }
                rd.read_exact(&mut len).await
            } => r,
        };
        if got.is_err() {
            break;
        }
        match read_frame(&mut rd, len, config.max_buffer).await {
            Ok(body) => {
                if core
                    .send(CoreMsg::Request {
                        conn,
                        body,
                        at: Instant::now(),
                    })
                    .is_err()
                {
                    break;
                }
            }
            Err(FrameError::TooLarge(len)) => {
                tracing::warn!(%addr, len, max = config.max_buffer, "frame length refused (jute.maxbuffer), closing");
                break;
            }
            Err(FrameError::Closed) => break,
        }
    }
    let _ = core.send(CoreMsg::Gone { conn });
    writer.abort();
}

/// Requests one connection may have sent and not yet been answered (ZooKeeper's
/// `globalOutstandingLimit` default). Past it the connection is not read until a reply goes out,
/// so a client that sends without reading its replies fills its own socket, not our memory.
const MAX_OUTSTANDING: usize = 1000;

/// Bytes of watch notifications a connection may leave unread (past its socket's buffers)
/// before it is closed: a client with a persistent watch that stops reading would otherwise
/// grow the server's memory with every write. Closing tells it, as any disconnection does,
/// that it may have missed events.
const MAX_UNREAD_NOTIFICATIONS: usize = 64 << 20;

/// Whether a reply frame (length prefix included) is a watch notification, which answers no
/// request: its xid is -1.
fn is_notification(frame: &[u8]) -> bool {
    frame.get(4..8) == Some(&(-1i32).to_be_bytes()[..])
}

/// One open connection, as the core knows it.
struct ConnState {
    outbox: Outbox,
    /// The connect response went out: later frames answer requests or are notifications.
    greeted: bool,
    addr: SocketAddr,
    received: u64,
    sent: u64,
}

impl ConnState {
    /// Whether `frame`, the next to go out, answers a request: the connect response comes
    /// first and answers none, nor does a watch notification.
    fn answers(&mut self, frame: &[u8]) -> bool {
        std::mem::replace(&mut self.greeted, true) && !is_notification(frame)
    }
}

/// Request latency figures (ms) for srvr/mntr.
#[derive(Default)]
struct Latency {
    min: u64,
    max: u64,
    total: u64,
    count: u64,
}

impl Latency {
    fn record(&mut self, ms: u64) {
        self.min = if self.count == 0 {
            ms
        } else {
            self.min.min(ms)
        };
        self.max = self.max.max(ms);
        self.total += ms;
        self.count += 1;
    }

    fn figures(&self) -> (u64, f64, u64) {
        let avg = if self.count == 0 {
            0.0
        } else {
            self.total as f64 / self.count as f64
        };
        (self.min, avg, self.max)
    }
}

/// The task that owns the machine.
struct Core {
    machine: Machine,
    conns: HashMap<ConnId, ConnState>,
    /// Frames waiting for the log: (zxid they depend on, what, when its request arrived).
    pending: VecDeque<(i64, Out, Option<Instant>)>,
    store: Store,
    /// The last zxid staged in the store and not yet handed to the log.
    staged_zxid: Option<i64>,
    /// How many transactions are staged.
    staged_txns: usize,
    log_queue: Arc<LogQueue>,
    /// A snapshot is due, taken at the next write (it rolls the log).
    snapshot_due: bool,
    snap_tx: std_mpsc::Sender<SnapCmd>,
    config: Arc<Config>,
    start: Instant,
    since_snapshot: u64,
    received: u64,
    sent: u64,
    latency: Latency,
    failed: Option<String>,
}

impl Core {
    async fn run(
        mut self,
        mut rx: mpsc::UnboundedReceiver<CoreMsg>,
        shutdown: CancellationToken,
    ) -> Option<String> {
        let tick = Duration::from_millis(u64::from(self.config.tick_ms / 2).clamp(10, 1000));
        let mut ticker = tokio::time::interval(tick);
        let purge_every = Duration::from_secs(u64::from(self.config.purge_interval_hours) * 3600);
        let mut purge = tokio::time::interval(purge_every.max(Duration::from_secs(1)));
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                msg = rx.recv() => match msg {
                    Some(msg) => self.handle(msg),
                    None => break,
                },
                _ = ticker.tick() => {
                    let step = self.machine.tick(self.now(), wall_ms());
                    self.step(step, None);
                }
                _ = purge.tick(), if self.config.purge_interval_hours > 0 => {
                    let _ = self.snap_tx.send(SnapCmd::Purge);
                }
            }
            // Everything else already queued joins this group.
            while let Ok(msg) = rx.try_recv() {
                self.handle(msg);
            }
            let wrote = self.write_log(rx.is_empty());
            self.catch_up_with_log();
            if wrote {
                // Let the connections send the replies just released (and read what came
                // meanwhile) before another write blocks this thread. With nothing queued,
                // waiting for the next message does that, without the yield's wake-up of
                // another worker thread.
                if !rx.is_empty() {
                    tokio::task::yield_now().await;
                }
            }
            if let Some(e) = &self.failed {
                tracing::error!("transaction log failed, stopping: {e}");
                shutdown.cancel();
                break;
            }
        }
        for state in self.conns.values() {
            state.outbox.close();
        }
        self.log_queue.close();
        self.failed
    }

    fn now(&self) -> u64 {
        ms_since(self.start)
    }

    fn handle(&mut self, msg: CoreMsg) {
        match msg {
            CoreMsg::Connect {
                conn,
                addr,
                outbox,
                req,
            } => {
                self.conns.insert(
                    conn,
                    ConnState {
                        outbox,
                        greeted: false,
                        addr,
                        received: 1,
                        sent: 0,
                    },
                );
                self.received += 1;
                let step = self.machine.connect(conn, &req, self.now(), wall_ms());
                self.step(step, None);
            }
            CoreMsg::Request { conn, body, at } => {
                self.received += 1;
                if let Some(state) = self.conns.get_mut(&conn) {
                    state.received += 1;
                }
                match self.machine.request(conn, &body, self.now(), wall_ms()) {
                    Ok(step) => self.step(step, Some(at)),
                    Err(e) => {
                        let addr = self.conns.get(&conn).map(|c| c.addr);
                        tracing::warn!(?addr, "malformed request, closing the connection: {e}");
                        self.step(
                            Step {
                                txns: Vec::new(),
                                out: vec![Out::Close(conn)],
                            },
                            None,
                        );
                    }
                }
            }
            CoreMsg::Gone { conn } => {
                self.conns.remove(&conn);
                self.machine.disconnected(conn);
            }
            CoreMsg::Word { word, reply } => {
                let _ = reply.send(fourlw::answer(&word, &self.config, &self.report()));
            }
            CoreMsg::Written(result) => {
                // The frames the log now covers go at the end of this turn.
                if let Err(e) = result {
                    self.failed.get_or_insert(format!("log write failed: {e}"));
                }
            }
        }
    }

    fn report(&self) -> Report {
        Report {
            summary: self.machine.summary(),
            received: self.received,
            sent: self.sent,
            latency: self.latency.figures(),
            clients: self
                .conns
                .values()
                .map(|c| Client {
                    addr: c.addr,
                    received: c.received,
                    sent: c.sent,
                })
                .collect(),
            uptime_ms: self.now(),
        }
    }

    /// Stages a step's transactions for the next group commit and queues its frames behind
    /// them.
    fn step(&mut self, step: Step, at: Option<Instant>) {
        for txn in &step.txns {
            if let Err(e) = self.store.stage(txn) {
                self.failed.get_or_insert(e.to_string());
            }
            self.staged_zxid = Some(txn.zxid);
            self.staged_txns += 1;
        }
        self.since_snapshot += step.txns.len() as u64;
        if self.since_snapshot >= self.config.snap_count {
            self.since_snapshot = 0;
            self.snapshot_due = true;
        }
        let tag = self.machine.zxid();
        let count = step.out.len();
        for (i, out) in step.out.into_iter().enumerate() {
            let started = if i + 1 == count { at } else { None };
            self.pending.push_back((tag, out, started));
        }
        self.release();
    }

    /// Picks up what the log thread wrote since the core last looked: sends the frames it
    /// covers and takes its latency figures; if frames still wait, asks to be told when the
    /// next group is written. The thread does not wake the core otherwise.
    fn catch_up_with_log(&mut self) {
        let queue = Arc::clone(&self.log_queue);
        let mut queued = queue.lock();
        for ms in queued.latencies.drain(..) {
            self.latency.record(ms);
        }
        self.release();
        queued.core_waits = !self.pending.is_empty();
    }

    /// Sends every queued frame whose zxid the log now covers, in order.
    fn release(&mut self) {
        let durable = self.log_queue.durable.load(Ordering::Acquire);
        while self
            .pending
            .front()
            .is_some_and(|(tag, _, _)| *tag <= durable)
        {
            let Some((_, out, started)) = self.pending.pop_front() else {
                break;
            };
            match out {
                Out::Frame(conn, frame) => {
                    if let Some(ms) = self.reply(conn, frame, started).and_then(Reply::send) {
                        self.latency.record(ms);
                    }
                }
                Out::Close(conn) => {
                    if let Some(at) = started {
                        self.latency.record(ms_since(at));
                    }
                    if let Some(state) = self.conns.remove(&conn) {
                        state.outbox.close();
                    }
                    self.machine.disconnected(conn);
                }
            }
        }
    }
}

impl Core {
    /// Hands what is staged to the log: written by the core itself when the log thread has
    /// nothing to do and it is one transaction with nothing else queued (`idle`), which spares
    /// a lone client two thread wake-ups; else queued for the log thread, so that the core goes
    /// on applying requests and releasing replies while it writes. A snapshot that is due is
    /// taken here. Returns whether this thread wrote (and so blocked for a while).
    fn write_log(&mut self, idle: bool) -> bool {
        let queue = Arc::clone(&self.log_queue);
        let mut queued = queue.lock();
        if std::mem::take(&mut self.snapshot_due) {
            // The queue stays locked: the log thread takes no group before the roll.
            self.snapshot(&mut queued);
            return true;
        }
        let Some(zxid) = self.staged_zxid.take() else {
            return false;
        };
        let txns = std::mem::take(&mut self.staged_txns);
        if txns == 1 && idle && !queued.writing && queued.records.is_empty() {
            drop(queued);
            let result = self.store.write(self.config.force_sync);
            self.written(zxid, result.map_err(|e| e.to_string()));
            return true;
        }
        let records = self.store.take_staged();
        if queued.records.is_empty() {
            queued.records = records;
        } else {
            queued.records.extend_from_slice(&records);
        }
        let earlier = std::mem::replace(&mut queued.zxid, zxid);
        self.hand_over_replies(earlier, zxid, &mut queued.replies);
        if !queued.writing {
            queue.ready.notify_one();
        }
        false
    }

    /// Moves the replies at the head of the pending ones that wait for records past `earlier`
    /// (those handed to the log before) and none past `zxid` to the log thread's next group,
    /// up to the first connection close (which is the core's to carry out): the thread sends
    /// them once the group is written, in the same order. A frame that waits for an earlier
    /// group stays with the core, and so does all behind it: were it sent after this group,
    /// the core could release what follows it as soon as that earlier group is written, ahead
    /// of it.
    fn hand_over_replies(&mut self, earlier: i64, zxid: i64, replies: &mut Vec<Reply>) {
        while let Some((tag, Out::Frame(conn, _), _)) = self.pending.front()
            && earlier < *tag
            && *tag <= zxid
        {
            let conn = *conn;
            let Some((_, Out::Frame(_, frame), started)) = self.pending.pop_front() else {
                break;
            };
            replies.extend(self.reply(conn, frame, started));
        }
    }

    /// `frame` as the next to go out on `conn`, counted as sent; none if the connection is
    /// gone.
    fn reply(&mut self, conn: ConnId, frame: Vec<u8>, started: Option<Instant>) -> Option<Reply> {
        let state = self.conns.get_mut(&conn)?;
        state.sent += 1;
        self.sent += 1;
        Some(Reply {
            outbox: state.outbox.clone(),
            answers: state.answers(&frame),
            frame,
            started,
        })
    }

    /// The log covers `zxid` (or failed to): releases the frames waiting for it.
    fn written(&mut self, zxid: i64, result: Result<(), String>) {
        match result {
            Ok(()) => {
                self.log_queue.durable.fetch_max(zxid, Ordering::AcqRel);
                self.release();
            }
            Err(e) => {
                self.failed.get_or_insert(e);
            }
        }
    }

    /// Rolls the log after the current zxid (writing the records `queued` for the log thread,
    /// then what is staged, and sending the replies queued with them) and hands the state to
    /// the snapshot thread. Called with the log queue locked, so that the thread takes no group
    /// meanwhile.
    fn snapshot(&mut self, queued: &mut Queued) {
        let zxid = self.machine.zxid();
        self.staged_zxid = None;
        self.staged_txns = 0;
        let replies = std::mem::take(&mut queued.replies);
        match self.store.roll(zxid, &std::mem::take(&mut queued.records)) {
            Ok(()) => {
                for ms in send_replies(replies) {
                    self.latency.record(ms);
                }
                self.written(zxid, Ok(()));
                let state = self.machine.durable_state();
                let _ = self.snap_tx.send(SnapCmd::Write(state));
            }
            Err(e) => {
                self.failed
                    .get_or_insert(format!("cannot roll the log: {e}"));
            }
        }
    }
}

/// The log thread: takes everything queued as one group, writes it (on the disk when it
/// returns if `durable`), sends the replies that waited for it and records how far the log
/// goes (waking the core only if it waits for that, or on failure), then takes what was
/// queued meanwhile, until the core stops.
fn log_writer(
    log: &LogWriter,
    queue: &LogQueue,
    core: &mpsc::UnboundedSender<CoreMsg>,
    durable: bool,
) {
    let mut queued = queue.lock();
    loop {
        if queued.closed {
            return;
        }
        if queued.records.is_empty() {
            queued = queue
                .ready
                .wait(queued)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            continue;
        }
        let records = std::mem::take(&mut queued.records);
        let replies = std::mem::take(&mut queued.replies);
        let zxid = queued.zxid;
        queued.writing = true;
        // Held before the queue is let go, and until the group's replies are out: a roll by
        // the core, which then sends later replies itself, waits for both.
        let result = log
            .hold()
            .and_then(|mut held| {
                drop(queued);
                held.append(&records, durable)?;
                Ok(send_replies(replies))
            })
            .map_err(|e| e.to_string());
        queued = queue.lock();
        queued.writing = false;
        let result = result.map(|latencies| {
            queued.latencies.extend(latencies);
            queue.durable.fetch_max(zxid, Ordering::AcqRel);
        });
        // On failure the core is told at once; else only if it waits.
        let tell = result.is_err() || std::mem::take(&mut queued.core_waits);
        if tell && core.send(CoreMsg::Written(result)).is_err() {
            return;
        }
    }
}

/// Sends replies whose records are on the disk; returns how long the timed ones took (ms).
fn send_replies(replies: Vec<Reply>) -> Vec<u64> {
    replies.into_iter().filter_map(Reply::send).collect()
}

/// The snapshot thread: writes the snapshots the core hands over, and purges what the
/// retained ones make unnecessary when asked (`autopurge.purgeInterval`).
fn snapshot_writer(snapshots: &Snapshots, rx: &std_mpsc::Receiver<SnapCmd>, retain: usize) {
    while let Ok(cmd) = rx.recv() {
        match cmd {
            SnapCmd::Write(state) => {
                if let Err(e) = snapshots.write(state.zxid, &state.encode()) {
                    tracing::error!("snapshot failed: {e}");
                }
            }
            SnapCmd::Purge => {
                if let Err(e) = snapshots.purge(retain) {
                    tracing::warn!("purge failed: {e}");
                }
            }
        }
    }
}

fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A seed for session passwords: the kernel's randomness, else the clock.
fn secret() -> u64 {
    let mut bytes = [0u8; 8];
    match std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
    {
        Ok(()) => u64::from_be_bytes(bytes),
        Err(_) => wall_ms() as u64 ^ u64::from(std::process::id()),
    }
}
