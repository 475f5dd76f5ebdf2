//! Progress of `lab up`: one indicatif line per step (image, network, each node, each probe)
//! with its elapsed time on a terminal; plain lines on stderr otherwise (CI logs, pipes).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

/// The steps of one command.
#[derive(Debug)]
pub(crate) struct Progress {
    multi: Option<MultiProgress>,
}

impl Progress {
    /// Spinners when stderr is a terminal, plain lines otherwise.
    pub(crate) fn new() -> Progress {
        let multi = std::io::stderr().is_terminal().then(MultiProgress::new);
        Progress { multi }
    }

    /// Starts a step.
    pub(crate) fn step(&self, what: impl Into<String>) -> Step {
        let what = what.into();
        let bar = self.multi.as_ref().map(|m| {
            let bar = m.add(ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {prefix} {wide_msg} [{elapsed}]")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_prefix(what.clone());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        if bar.is_none() {
            eprintln!("… {what}");
        }
        Step {
            what,
            bar,
            start: Instant::now(),
        }
    }

    /// A line that is not a step (a warning, a hint).
    pub(crate) fn note(&self, line: &str) {
        match &self.multi {
            Some(m) => {
                let _ = m.println(line);
            }
            None => eprintln!("{line}"),
        }
    }
}

/// One running step.
#[derive(Debug)]
pub(crate) struct Step {
    what: String,
    bar: Option<ProgressBar>,
    start: Instant,
}

impl Step {
    /// Updates what the step is doing now.
    pub(crate) fn set(&self, message: impl Into<String>) {
        if let Some(bar) = &self.bar {
            bar.set_message(message.into());
        }
    }

    /// The step succeeded.
    pub(crate) fn done(self, result: impl Into<String>) {
        self.finish("✔", &result.into());
    }

    /// The step failed.
    pub(crate) fn fail(self, reason: impl Into<String>) {
        self.finish("✘", &reason.into());
    }

    fn finish(self, mark: &str, message: &str) {
        let elapsed = format!("{:.1}s", self.start.elapsed().as_secs_f64());
        let line = if message.is_empty() {
            format!("{mark} {} ({elapsed})", self.what)
        } else {
            format!("{mark} {}: {message} ({elapsed})", self.what)
        };
        match self.bar {
            Some(bar) => {
                bar.set_style(
                    ProgressStyle::with_template("{msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.finish_with_message(line);
            }
            None => eprintln!("{line}"),
        }
    }
}
