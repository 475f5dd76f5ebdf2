//! The status page on the namenode's HTTP port, like Hadoop's `dfshealth.html`: live and dead
//! datanodes, capacity, space used, files and blocks.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::State;
use axum::response::Html;

use super::NameNode;
use crate::namespace::Namespace;

/// Renders the page.
pub(super) async fn page(State(nn): State<Arc<NameNode>>) -> Html<String> {
    let (dirs, files, bytes, _) = nn.read(|ns| Namespace::dir_summary(&ns.root));
    let (blocks, under, missing) = nn.block_map().block_counts();
    let safe_mode = if nn.block_map().in_safe_mode() {
        "Safe mode is ON: waiting for the datanodes to report their blocks."
    } else {
        "Safe mode is OFF."
    };
    let nodes = nn.block_map().datanodes();
    let live: Vec<_> = nodes.iter().filter(|(_, alive)| *alive).collect();
    let capacity: u64 = live.iter().map(|(d, _)| d.capacity).sum();
    let used: u64 = live.iter().map(|(d, _)| d.used).sum();
    let remaining: u64 = live.iter().map(|(d, _)| d.remaining).sum();
    let mut rows = String::new();
    for (d, alive) in &nodes {
        let _ = write!(
            rows,
            "<tr><td>{}</td><td>{}</td><td>{}s</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&d.addr),
            if *alive { "In Service" } else { "Dead" },
            d.last_seen.elapsed().as_secs(),
            human(d.capacity),
            human(d.used),
            human(d.remaining),
            d.blocks,
        );
    }
    let html = format!(
        "<!DOCTYPE html><html><head><title>Namenode information</title></head><body>\
<h1>Overview</h1><p>{safe_mode}</p><table>\
<tr><th>Started</th><td>{} s ago</td></tr>\
<tr><th>Security is</th><td>off</td></tr>\
<tr><th>Files and directories</th><td>{files} files and {dirs} directories, {blocks} blocks = {} total filesystem object(s)</td></tr>\
<tr><th>Configured Capacity</th><td>{}</td></tr>\
<tr><th>DFS Used</th><td>{}</td></tr>\
<tr><th>DFS Remaining</th><td>{}</td></tr>\
<tr><th>Bytes in files</th><td>{}</td></tr>\
<tr><th>Live Nodes</th><td>{}</td></tr>\
<tr><th>Dead Nodes</th><td>{}</td></tr>\
<tr><th>Under-replicated blocks</th><td>{under}</td></tr>\
<tr><th>Missing blocks</th><td>{missing}</td></tr>\
<tr><th>Replication</th><td>{}</td></tr>\
</table><h1>Datanode Information</h1><table>\
<tr><th>Node</th><th>Admin State</th><th>Last contact</th><th>Capacity</th><th>Used</th><th>Remaining</th><th>Blocks</th></tr>\
{rows}</table></body></html>",
        nn.started.elapsed().as_secs(),
        files + dirs + blocks as u64,
        human(capacity),
        human(used),
        human(remaining),
        human(bytes),
        live.len(),
        nodes.len() - live.len(),
        nn.settings.replication,
    );
    Html(html)
}

/// Bytes in Hadoop's style (`1.5 GB`).
fn human(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KB", "MB", "GB", "TB", "PB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.2} {}", UNITS.get(unit).unwrap_or(&"B"))
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
