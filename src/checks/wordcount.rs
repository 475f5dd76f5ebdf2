//! The streaming wordcount's output, as Spark's `DStream.print()` writes it to the stream
//! service's log: a line of dashes, `Time: <millis> ms`, dashes, at most ten `(word,count)`
//! lines (`...` when more), an empty line. Empty batches print the header too.

/// What the log shows: how many batches, and the last batch that held tuples.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Batches {
    /// Batch headers seen.
    pub(crate) count: usize,
    /// The time of the last header.
    pub(crate) last_time: Option<u64>,
    /// The last non-empty batch: its time and its lines.
    pub(crate) last_non_empty: Option<(u64, Vec<String>)>,
}

/// Reads the batches out of a log (other lines, such as tracing output, are skipped).
pub(crate) fn batches(log: &str) -> Batches {
    let mut out = Batches {
        count: 0,
        last_time: None,
        last_non_empty: None,
    };
    let mut current: Option<(u64, Vec<String>)> = None;
    let mut lines = log.lines().peekable();
    while let Some(line) = lines.next() {
        let time = line
            .strip_prefix("Time: ")
            .and_then(|t| t.strip_suffix(" ms"))
            .and_then(|t| t.parse::<u64>().ok());
        if let Some(time) = time {
            if let Some(done) = current.take().filter(|(_, l)| !l.is_empty()) {
                out.last_non_empty = Some(done);
            }
            out.count += 1;
            out.last_time = Some(time);
            if lines.peek().is_some_and(|l| is_rule(l)) {
                lines.next();
            }
            current = Some((time, Vec::new()));
        } else if let Some((_, tuples)) = current.as_mut() {
            if line.starts_with('(') || line == "..." {
                tuples.push(line.to_owned());
            } else if !is_rule(line) {
                // The empty line (or any other) ends the batch's elements.
                if let Some(done) = current.take().filter(|(_, l)| !l.is_empty()) {
                    out.last_non_empty = Some(done);
                }
            }
        }
    }
    if let Some(done) = current.filter(|(_, l)| !l.is_empty()) {
        out.last_non_empty = Some(done);
    }
    out
}

fn is_rule(line: &str) -> bool {
    line.len() >= 10 && line.bytes().all(|b| b == b'-')
}

/// How old the last batch header may be: the job prints one every batch interval, empty or
/// not, so a silent log this long means a stopped or stuck job.
pub(crate) const STALE_MILLIS: u64 = 30_000;

/// The check's verdict on a log at `now_millis` (since the epoch): at least one batch
/// header, the last one no older than [`STALE_MILLIS`].
pub(crate) fn verdict(log: &str, now_millis: u64) -> Result<String, String> {
    let b = batches(log);
    if let Some(last) = b.last_time
        && now_millis.saturating_sub(last) > STALE_MILLIS
    {
        return Err(format!(
            "the last batch header is {} s old (Time: {last} ms): the job prints one per interval",
            now_millis.saturating_sub(last) / 1000
        ));
    }
    if b.count == 0 {
        let last = log
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        return Err(format!(
            "no `Time: … ms` batch header in the stream's log (last line: {last:?})"
        ));
    }
    Ok(match b.last_non_empty {
        Some((time, tuples)) => format!(
            "{} batch(es); last with words at {time} ms: {}",
            b.count,
            tuples.join(" ")
        ),
        None => format!("{} batch(es), all empty so far", b.count),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: &str = "-------------------------------------------";

    #[test]
    fn finds_the_last_batch_with_words() {
        let log = format!(
            "starting\n{RULE}\nTime: 1000 ms\n{RULE}\n(hello,2)\n(world,1)\n\n{RULE}\nTime: 2000 ms\n{RULE}\n\n"
        );
        let b = batches(&log);
        assert_eq!(b.count, 2);
        assert_eq!(b.last_time, Some(2000));
        assert_eq!(
            b.last_non_empty,
            Some((1000, vec!["(hello,2)".into(), "(world,1)".into()]))
        );
        assert_eq!(
            verdict(&log, 2500).unwrap(),
            "2 batch(es); last with words at 1000 ms: (hello,2) (world,1)"
        );
    }

    #[test]
    fn empty_batches_still_pass() {
        let log = format!("{RULE}\nTime: 3000 ms\n{RULE}\n\n");
        assert_eq!(
            verdict(&log, 3000).unwrap(),
            "1 batch(es), all empty so far"
        );
    }

    #[test]
    fn no_header_fails_with_the_last_line() {
        let err = verdict("INFO connecting to localhost:2181\nERROR no broker\n", 0).unwrap_err();
        assert!(err.contains("ERROR no broker"), "{err}");
        assert!(verdict("", 0).is_err());
    }

    #[test]
    fn a_silent_log_is_stale() {
        let log = format!("{RULE}\nTime: 1000 ms\n{RULE}\n\n");
        let err = verdict(&log, 1000 + STALE_MILLIS + 5000).unwrap_err();
        assert!(err.contains("35 s old"), "{err}");
    }
}
