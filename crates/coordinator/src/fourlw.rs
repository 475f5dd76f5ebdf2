//! Four-letter words on the client port (`ruok`, `stat`, `srvr`, `mntr`, `conf`, `cons`,
//! `envi`), in ZooKeeper's text formats, honouring `4lw.commands.whitelist`. Pure formatting.

use std::fmt::Write as _;
use std::net::SocketAddr;

use crate::config::Config;
use crate::machine::Summary;

/// The version string reported (the ZooKeeper release whose protocol is served).
pub const VERSION: &str = "3.8.0-lab, built on 1970-01-01 00:00 UTC";

/// Every word ZooKeeper knows: a known word that is not enabled gets the whitelist message,
/// anything else is not a four-letter word at all.
pub const KNOWN: [&str; 17] = [
    "conf", "cons", "crst", "dump", "envi", "gtmk", "ruok", "stmk", "srst", "srvr", "stat", "wchc",
    "wchp", "wchs", "mntr", "isro", "hash",
];

/// One client connection as `stat`/`cons` list it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// Its address.
    pub addr: SocketAddr,
    /// Requests received.
    pub received: u64,
    /// Frames sent.
    pub sent: u64,
}

/// Everything the words report, gathered by the server.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// State figures.
    pub summary: Summary,
    /// Requests received in total.
    pub received: u64,
    /// Frames sent in total.
    pub sent: u64,
    /// Request latency min/avg/max in ms.
    pub latency: (u64, f64, u64),
    /// Open client connections.
    pub clients: Vec<Client>,
    /// Uptime in ms.
    pub uptime_ms: u64,
}

/// True if `word` is one of ZooKeeper's four-letter words.
pub fn is_known(word: &[u8; 4]) -> bool {
    KNOWN.iter().any(|k| k.as_bytes() == word)
}

/// The answer to a known word (the connection is closed after it).
pub fn answer(word: &str, config: &Config, report: &Report) -> String {
    if !config.four_letter_words.contains(word) {
        return format!("{word} is not executed because it is not in the whitelist.\n");
    }
    match word {
        "ruok" => "imok".to_owned(),
        "srvr" => server_lines(report, false),
        "stat" => server_lines(report, true),
        "cons" => clients(report),
        "mntr" => mntr(report),
        "conf" => conf(config),
        "envi" => envi(),
        _ => format!("{word} is not executed because it is not in the whitelist.\n"),
    }
}

fn server_lines(r: &Report, with_clients: bool) -> String {
    let mut s = format!("Zookeeper version: {VERSION}\n");
    if with_clients {
        s.push_str("Clients:\n");
        s.push_str(&clients(r));
    }
    let (min, avg, max) = r.latency;
    let _ = write!(
        s,
        "Latency min/avg/max: {min}/{avg:.4}/{max}\nReceived: {}\nSent: {}\nConnections: {}\n\
         Outstanding: 0\nZxid: 0x{:x}\nMode: standalone\nNode count: {}\n",
        r.received,
        r.sent,
        r.clients.len(),
        r.summary.zxid,
        r.summary.nodes
    );
    s
}

fn clients(r: &Report) -> String {
    let mut s = String::new();
    for c in &r.clients {
        let _ = writeln!(
            s,
            " /{}[1](queued=0,recved={},sent={})",
            c.addr, c.received, c.sent
        );
    }
    s.push('\n');
    s
}

fn mntr(r: &Report) -> String {
    let (min, avg, max) = r.latency;
    let rows: [(&str, String); 17] = [
        ("zk_version", VERSION.to_owned()),
        ("zk_server_state", "standalone".to_owned()),
        ("zk_avg_latency", format!("{avg:.4}")),
        ("zk_max_latency", max.to_string()),
        ("zk_min_latency", min.to_string()),
        ("zk_packets_received", r.received.to_string()),
        ("zk_packets_sent", r.sent.to_string()),
        ("zk_num_alive_connections", r.clients.len().to_string()),
        ("zk_outstanding_requests", "0".to_owned()),
        ("zk_znode_count", r.summary.nodes.to_string()),
        ("zk_watch_count", r.summary.watches.to_string()),
        ("zk_ephemerals_count", r.summary.ephemerals.to_string()),
        ("zk_approximate_data_size", r.summary.data_size.to_string()),
        ("zk_global_sessions", r.summary.sessions.to_string()),
        ("zk_local_sessions", "0".to_owned()),
        ("zk_uptime", r.uptime_ms.to_string()),
        ("zk_last_zxid", format!("0x{:x}", r.summary.zxid)),
    ];
    let mut s = String::new();
    for (k, v) in rows {
        let _ = writeln!(s, "{k}\t{v}");
    }
    s
}

fn conf(c: &Config) -> String {
    format!(
        "clientPort={}\nsecureClientPort=-1\ndataDir={}\ndataLogDir={}\ntickTime={}\n\
         maxClientCnxns={}\nminSessionTimeout={}\nmaxSessionTimeout={}\n\
         clientPortListenBacklog=-1\nserverId=0\n",
        c.client_port,
        c.data_dir.display(),
        c.data_log_dir.display(),
        c.tick_ms,
        c.max_client_cnxns,
        c.min_session_ms,
        c.max_session_ms
    )
}

fn envi() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".to_owned());
    let dir = std::env::current_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    format!(
        "Environment:\nzookeeper.version={VERSION}\nhost.name={host}\nos.name={}\nos.arch={}\n\
         user.name={}\nuser.dir={dir}\n",
        std::env::consts::OS,
        std::env::consts::ARCH,
        std::env::var("USER").unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        Report {
            summary: Summary {
                zxid: 0x20,
                nodes: 10,
                sessions: 1,
                watches: 0,
                ephemerals: 0,
                data_size: 91,
            },
            received: 46,
            sent: 45,
            latency: (0, 1.25, 12),
            clients: vec![Client {
                addr: "127.0.0.1:36594".parse().unwrap(),
                received: 1,
                sent: 0,
            }],
            uptime_ms: 5,
        }
    }

    #[test]
    fn srvr_has_zookeepers_lines() {
        let c = Config::parse("dataDir=/d\nclientPort=1\n4lw.commands.whitelist=*\n").unwrap();
        let text = answer("srvr", &c, &report());
        assert!(text.starts_with("Zookeeper version: 3.8.0"));
        assert!(text.contains("Zxid: 0x20\nMode: standalone\nNode count: 10\n"));
        assert_eq!(answer("ruok", &c, &report()), "imok");
        assert!(
            answer("stat", &c, &report())
                .contains(" /127.0.0.1:36594[1](queued=0,recved=1,sent=0)\n")
        );
    }

    #[test]
    fn words_outside_the_whitelist_are_refused() {
        let c = Config::parse("dataDir=/d\nclientPort=1\n").unwrap();
        assert_eq!(
            answer("ruok", &c, &report()),
            "ruok is not executed because it is not in the whitelist.\n"
        );
        assert!(is_known(b"dump"));
        assert!(!is_known(b"\0\0\0\x2d"));
    }
}
