//! The bench's client: one ZooKeeper session on one TCP connection, speaking the wire protocol
//! with one request in flight, and nothing else (no ping, no watch, no reconnection: a round
//! lasts seconds, far inside the session timeout).
//!
//! It exists because a general client spends CPU of its own on every request (a session task,
//! channels between it and the caller, its bookkeeping), all of it on the one core the bench's
//! client has: at tens of thousands of requests a second that CPU, not the server, set the
//! pace. Apache ZooKeeper checks every frame this sends: a mistake here fails its rounds.

use anyhow::{Context, bail};
use coordinator::jute::{Reader, Writer};
use coordinator::proto::{op, perm};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// The session timeout asked for, in milliseconds.
const TIMEOUT_MS: i32 = 20_000;
/// Largest reply accepted: the bench's replies are small (data of 100 bytes); a longer length
/// is a broken stream, not something to allocate.
const MAX_REPLY: usize = 1 << 20;

/// An open session.
pub(crate) struct Session {
    rd: BufReader<OwnedReadHalf>,
    wr: OwnedWriteHalf,
    xid: i32,
    /// The last reply's body, reused.
    reply: Vec<u8>,
}

impl Session {
    /// Connects to the server on `port` of the loopback and opens a new session.
    pub(crate) async fn open(port: u16) -> anyhow::Result<Session> {
        let stream = TcpStream::connect(("127.0.0.1", port)).await?;
        stream.set_nodelay(true)?;
        let (rd, wr) = stream.into_split();
        let mut session = Session {
            rd: BufReader::new(rd),
            wr,
            xid: 0,
            reply: Vec::new(),
        };
        let mut w = Writer::frame();
        w.int(0)
            .long(0)
            .int(TIMEOUT_MS)
            .long(0)
            .buffer(&[0; 16])
            .boolean(false);
        session.wr.write_all(&w.finish_frame()).await?;
        session.read_frame().await?;
        let mut r = Reader::new(&session.reply);
        let _protocol = r.int("protocolVersion")?;
        let timeout = r.int("timeOut")?;
        if timeout <= 0 {
            bail!("the server on port {port} refused the session");
        }
        Ok(session)
    }

    /// Creates a persistent node open to anyone.
    pub(crate) async fn create(&mut self, path: &str, data: &[u8]) -> anyhow::Result<()> {
        self.call(op::CREATE, |w| {
            w.string(path).buffer(data);
            // One ACL, world:anyone with every permission; no flags (persistent).
            w.int(1).int(perm::ALL).string("world").string("anyone");
            w.int(0);
        })
        .await
    }

    /// Reads a node's data (no watch).
    pub(crate) async fn get_data(&mut self, path: &str) -> anyhow::Result<()> {
        self.call(op::GET_DATA, |w| {
            w.string(path).boolean(false);
        })
        .await
    }

    /// Replaces a node's data, whatever its version.
    pub(crate) async fn set_data(&mut self, path: &str, data: &[u8]) -> anyhow::Result<()> {
        self.call(op::SET_DATA, |w| {
            w.string(path).buffer(data).int(-1);
        })
        .await
    }

    /// Ends the session, so that the server does not keep it until it expires.
    pub(crate) async fn close(mut self) -> anyhow::Result<()> {
        self.call(op::CLOSE_SESSION, |_| {}).await
    }

    /// Sends one request and waits for its reply; a reply with an error code is an error.
    async fn call(&mut self, op: i32, body: impl FnOnce(&mut Writer)) -> anyhow::Result<()> {
        self.xid += 1;
        let mut w = Writer::frame();
        w.int(self.xid).int(op);
        body(&mut w);
        self.wr.write_all(&w.finish_frame()).await?;
        self.read_frame()
            .await
            .with_context(|| format!("waiting for the reply to operation {op}"))?;
        let mut r = Reader::new(&self.reply);
        let xid = r.int("xid")?;
        let _zxid = r.long("zxid")?;
        let err = r.int("err")?;
        if xid != self.xid {
            bail!("reply to xid {xid} while waiting for {}", self.xid);
        }
        if err != 0 {
            bail!("operation {op} failed with error {err}");
        }
        Ok(())
    }

    /// Reads one length-prefixed frame into `reply`.
    async fn read_frame(&mut self) -> anyhow::Result<()> {
        let len = self
            .rd
            .read_i32()
            .await
            .context("the server closed the connection")?;
        let len = usize::try_from(len).context("negative frame length")?;
        if len > MAX_REPLY {
            bail!("reply frame of {len} bytes, more than {MAX_REPLY}");
        }
        self.reply.resize(len, 0);
        self.rd.read_exact(&mut self.reply).await?;
        Ok(())
    }
}
