//! `jps`: the node's services as the JDK's `jps` shows Apache's Java daemons. Every service is
//! a `labnode` process (called as `labnode broker …` or through a link such as
//! `kafka-server-start.sh`); `/proc/*/cmdline` says which, `/proc/*/exe` that it is labnode.

use std::fs;
use std::path::Path;

/// What to print.
#[derive(Debug, Default)]
pub(super) struct Options {
    /// Only the pids.
    pub(super) quiet: bool,
    /// Full main-class names.
    pub(super) long: bool,
    /// The daemon's arguments.
    pub(super) args: bool,
    /// Only processes carrying `LAB_NODE=<value>` in their environment.
    pub(super) lab_node: Option<String>,
}

/// A daemon as jps names it: short name and full main class.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Daemon {
    short: &'static str,
    class: &'static str,
}

const KAFKA: Daemon = Daemon {
    short: "Kafka",
    class: "kafka.Kafka",
};
const ZOOKEEPER: Daemon = Daemon {
    short: "QuorumPeerMain",
    class: "org.apache.zookeeper.server.quorum.QuorumPeerMain",
};
const NAMENODE: Daemon = Daemon {
    short: "NameNode",
    class: "org.apache.hadoop.hdfs.server.namenode.NameNode",
};
const DATANODE: Daemon = Daemon {
    short: "DataNode",
    class: "org.apache.hadoop.hdfs.server.datanode.DataNode",
};
const SINK: Daemon = Daemon {
    short: "HdfsSink",
    class: "lab.sink.HdfsSink",
};
const STREAM: Daemon = Daemon {
    short: "StreamingWordCount",
    class: "lab.stream.StreamingWordCount",
};
const JPS: Daemon = Daemon {
    short: "Jps",
    class: "sun.tools.jps.Jps",
};

/// Which daemon a labnode command line runs, if any (`argv` without the `labnode` word).
pub(super) fn classify(argv: &[String]) -> Option<Daemon> {
    let first = argv.first()?;
    let name = Path::new(first).file_name()?.to_str()?;
    let second = argv.get(1).map(String::as_str);
    Some(match (name, second) {
        ("broker" | "kafka-server-start.sh", _) => KAFKA,
        ("coordinator" | "zookeeper-server-start.sh", _) => ZOOKEEPER,
        ("namenode", _) | ("hdfs", Some("namenode")) => NAMENODE,
        ("datanode", _) | ("hdfs", Some("datanode")) => DATANODE,
        ("sink", _) => SINK,
        ("stream", Some("wordcount")) | ("spark-kafka-wordcount" | "spark-submit", _) => STREAM,
        _ => return None,
    })
}

/// One running daemon.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Entry {
    pid: u32,
    daemon: Daemon,
    args: Vec<String>,
}

/// The jps report: `PID Name` lines, daemons by pid, then this jps itself.
pub(super) fn report(options: &Options) -> String {
    let mut entries = scan(options.lab_node.as_deref());
    entries.sort_by_key(|e| e.pid);
    entries.push(Entry {
        pid: std::process::id(),
        daemon: JPS,
        args: Vec::new(),
    });
    entries.iter().map(|e| format_line(e, options)).collect()
}

fn format_line(e: &Entry, options: &Options) -> String {
    if options.quiet {
        return format!("{}\n", e.pid);
    }
    let name = if options.long {
        e.daemon.class
    } else {
        e.daemon.short
    };
    if options.args && !e.args.is_empty() {
        format!("{} {} {}\n", e.pid, name, e.args.join(" "))
    } else {
        format!("{} {}\n", e.pid, name)
    }
}

/// Every labnode daemon visible in /proc (optionally only one lab node's).
fn scan(lab_node: Option<&str>) -> Vec<Entry> {
    let own = std::process::id();
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|d| d.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != own)
        .filter_map(|pid| {
            let proc = Path::new("/proc").join(pid.to_string());
            let raw = fs::read(proc.join("cmdline")).ok()?;
            let argv: Vec<String> = raw
                .split(|b| *b == 0)
                .filter(|w| !w.is_empty())
                .map(|w| String::from_utf8_lossy(w).into_owned())
                .collect();
            let argv = strip_labnode(argv, &proc)?;
            let daemon = classify(&argv)?;
            if let Some(want) = lab_node {
                let env = fs::read(proc.join("environ")).ok()?;
                let tag = format!("LAB_NODE={want}");
                if !env.split(|b| *b == 0).any(|v| v == tag.as_bytes()) {
                    return None;
                }
            }
            Some(Entry {
                pid,
                daemon,
                args: argv.into_iter().skip(1).collect(),
            })
        })
        .collect()
}

/// The command line without its `labnode` word, if the process is labnode at all.
fn strip_labnode(argv: Vec<String>, proc: &Path) -> Option<Vec<String>> {
    let first = argv.first()?;
    let is_labnode = |p: &Path| {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("labnode"))
    };
    if is_labnode(Path::new(first)) {
        return Some(argv.into_iter().skip(1).collect());
    }
    let exe = fs::read_link(proc.join("exe")).ok()?;
    is_labnode(&exe).then_some(argv)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn daemons_are_named_as_the_students_know_them() {
        let name = |w: &[&str]| classify(&argv(w)).map(|d| d.short);
        assert_eq!(name(&["broker", "--config", "s.properties"]), Some("Kafka"));
        assert_eq!(
            name(&["/usr/local/kafka/bin/kafka-server-start.sh", "x"]),
            Some("Kafka")
        );
        assert_eq!(
            name(&["zookeeper-server-start.sh", "z"]),
            Some("QuorumPeerMain")
        );
        assert_eq!(name(&["coordinator"]), Some("QuorumPeerMain"));
        assert_eq!(name(&["namenode"]), Some("NameNode"));
        assert_eq!(name(&["hdfs", "datanode"]), Some("DataNode"));
        assert_eq!(name(&["sink"]), Some("HdfsSink"));
        assert_eq!(name(&["stream", "wordcount"]), Some("StreamingWordCount"));
        assert_eq!(
            name(&["spark-submit", "--class", "x"]),
            Some("StreamingWordCount")
        );
        assert_eq!(
            name(&["spark-kafka-wordcount", "zk:2181"]),
            Some("StreamingWordCount")
        );
        assert_eq!(name(&["kafka-topics.sh", "--list"]), None);
        assert_eq!(name(&["init"]), None);
        assert_eq!(name(&["hdfs", "dfs", "-ls"]), None);
    }

    #[test]
    fn lines_look_like_the_jdk_jps() {
        let e = Entry {
            pid: 53,
            daemon: ZOOKEEPER,
            args: argv(&["/c/z.properties"]),
        };
        assert_eq!(format_line(&e, &Options::default()), "53 QuorumPeerMain\n");
        let o = Options {
            args: true,
            long: true,
            ..Options::default()
        };
        assert_eq!(
            format_line(&e, &o),
            "53 org.apache.zookeeper.server.quorum.QuorumPeerMain /c/z.properties\n"
        );
        let o = Options {
            quiet: true,
            ..Options::default()
        };
        assert_eq!(format_line(&e, &o), "53\n");
    }

    #[test]
    fn the_report_ends_with_jps_itself() {
        let r = report(&Options {
            lab_node: Some("no-such-node".into()),
            ..Options::default()
        });
        assert_eq!(r, format!("{} Jps\n", std::process::id()));
    }
}
