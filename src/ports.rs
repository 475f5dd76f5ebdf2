//! Host ports: is one free, and if not, who holds it (a process found through /proc/net/tcp and
//! /proc/*/fd; the Docker runtime adds the container publishing it).

use std::fs;
use std::net::TcpListener;

/// True when `bind:port` can be listened on right now.
pub(crate) fn is_free(bind: &str, port: u16) -> bool {
    TcpListener::bind((bind, port)).is_ok()
}

/// The process listening on TCP `port`, as `pid N (name)`, when /proc tells.
pub(crate) fn holder(port: u16) -> Option<String> {
    let inodes: Vec<String> = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|f| fs::read_to_string(f).ok())
        .flat_map(|text| listening_inodes(&text, port))
        .collect();
    if inodes.is_empty() {
        return None;
    }
    let wanted: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    for proc in fs::read_dir("/proc").ok()?.filter_map(Result::ok) {
        let Some(pid) = proc
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = fs::read_dir(proc.path().join("fd")) else {
            continue;
        };
        for fd in fds.filter_map(Result::ok) {
            let Ok(target) = fs::read_link(fd.path()) else {
                continue;
            };
            if wanted.iter().any(|w| target.as_os_str() == w.as_str()) {
                let name = fs::read_to_string(proc.path().join("comm")).unwrap_or_default();
                return Some(format!("pid {pid} ({})", name.trim()));
            }
        }
    }
    Some("a process this user cannot see (try `sudo ss -ltnp`)".to_owned())
}

/// Socket inodes listening on `port` in a /proc/net/tcp table.
fn listening_inodes(table: &str, port: u16) -> Vec<String> {
    let hex_port = format!("{port:04X}");
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let local = cols.get(1)?;
            let state = cols.get(3)?;
            let inode = cols.get(9)?;
            let (_, p) = local.rsplit_once(':')?;
            (p == hex_port && *state == "0A").then(|| (*inode).to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listening_inode_is_found_in_a_table() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:2384 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0 100 0 0 10 0
   1: 0100007F:2384 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 4343 1 0 100 0 0 10 0
";
        assert_eq!(listening_inodes(table, 9092), ["4242"]);
        assert!(listening_inodes(table, 9093).is_empty());
    }

    #[test]
    fn a_port_we_hold_is_taken_and_its_holder_is_us() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert!(!is_free("127.0.0.1", port));
        let who = holder(port).unwrap();
        assert!(
            who.starts_with(&format!("pid {} ", std::process::id())),
            "{who}"
        );
    }
}
