//! Unit tests of the pipeline, and a simulation of crashes at every step of the commit protocol.

use super::*;

const T0: Millis = 1_520_287_440_000;

fn tp(p: i32) -> TopicPartition {
    TopicPartition {
        topic: "Hello-Kafka".into(),
        partition: p,
    }
}

fn pipeline(interval: Millis) -> Pipeline {
    let clock = BatchClock::new(interval).unwrap();
    Pipeline::new(clock, Window::per_batch(interval), 2, T0)
}

fn words(o: &Output) -> Vec<(&str, u64)> {
    o.counts.iter().map(|(w, n)| (w.as_str(), *n)).collect()
}

#[test]
fn a_batch_is_output_once_its_time_has_passed() {
    let mut p = pipeline(2000);
    assert_eq!(p.next_batch_end(), T0 + 2000);
    p.record(&tp(0), 0, Some(b"hello hello kafka and zookeeper!"), T0 + 5);
    assert!(p.poll_output(T0 + 1999).is_none());
    let out = p.poll_output(T0 + 2000).unwrap();
    assert_eq!(out.time, T0 + 2000);
    assert_eq!(
        words(&out),
        [("hello", 2), ("kafka", 1), ("zookeeper!", 1), ("and", 1)]
    );
}

#[test]
fn empty_batches_are_output_too() {
    let mut p = pipeline(2000);
    let mut times = vec![];
    let mut now = T0;
    while now <= T0 + 6000 {
        while let Some(out) = p.poll_output(now) {
            assert!(out.counts.is_empty());
            times.push(out.time);
            assert!(p.output_written(out.ticket).is_empty());
        }
        now += 500;
    }
    assert_eq!(times, [T0 + 2000, T0 + 4000, T0 + 6000]);
}

#[test]
fn a_late_poll_outputs_every_missed_batch_in_order() {
    let mut p = pipeline(1000);
    p.record(&tp(0), 0, Some(b"a"), T0 + 10);
    p.record(&tp(0), 1, Some(b"b"), T0 + 2500);
    let mut seen = vec![];
    while let Some(out) = p.poll_output(T0 + 3000) {
        seen.push((out.time, out.counts.clone()));
        p.output_written(out.ticket);
    }
    assert_eq!(
        seen,
        [
            (T0 + 1000, vec![("a".to_string(), 1)]),
            (T0 + 2000, vec![]),
            (T0 + 3000, vec![("b".to_string(), 1)]),
        ]
    );
}

#[test]
fn no_second_output_while_one_is_in_flight() {
    let mut p = pipeline(1000);
    let first = p.poll_output(T0 + 5000).unwrap();
    assert!(p.output_in_flight());
    assert!(p.poll_output(T0 + 5000).is_none());
    p.output_written(first.ticket);
    assert_eq!(p.poll_output(T0 + 5000).unwrap().time, T0 + 2000);
}

#[test]
fn offsets_are_committable_only_after_the_output_is_written() {
    let mut p = pipeline(1000);
    p.record(&tp(0), 41, Some(b"x"), T0 + 1);
    p.record(&tp(1), 7, Some(b"y"), T0 + 2);
    let out = p.poll_output(T0 + 1000).unwrap();
    // Records of the next batch arrive while the output is being written.
    p.record(&tp(0), 42, Some(b"z"), T0 + 1001);
    let commit = p.output_written(out.ticket);
    assert_eq!(commit, Offsets::from([(tp(0), 42), (tp(1), 8)]));
    // The next batch only moves partition 0.
    let out = p.poll_output(T0 + 2000).unwrap();
    assert_eq!(p.output_written(out.ticket), Offsets::from([(tp(0), 43)]));
    // An empty batch moves nothing.
    let out = p.poll_output(T0 + 3000).unwrap();
    assert!(p.output_written(out.ticket).is_empty());
}

#[test]
fn a_record_delivered_again_after_a_rebalance_is_counted_once() {
    let mut p = pipeline(1000);
    assert!(p.record(&tp(0), 5, Some(b"a"), T0 + 1));
    assert!(p.record(&tp(0), 6, Some(b"b"), T0 + 2));
    // Another of our consumers got the partition and starts again from the commit (5).
    assert!(!p.record(&tp(0), 5, Some(b"a"), T0 + 3));
    assert!(!p.record(&tp(0), 6, Some(b"b"), T0 + 4));
    assert!(p.record(&tp(0), 7, Some(b"c"), T0 + 5));
    let out = p.poll_output(T0 + 1000).unwrap();
    assert_eq!(words(&out).len(), 3);
    assert_eq!(p.output_written(out.ticket), Offsets::from([(tp(0), 8)]));
}

#[test]
fn tombstones_count_no_word_but_are_read() {
    let mut p = pipeline(1000);
    p.record(&tp(0), 3, None, T0 + 1);
    let out = p.poll_output(T0 + 1000).unwrap();
    assert!(out.counts.is_empty());
    assert_eq!(p.output_written(out.ticket), Offsets::from([(tp(0), 4)]));
}

#[test]
fn windows_sum_their_batches_and_commit_what_no_later_window_needs() {
    let clock = BatchClock::new(1000).unwrap();
    let window = Window::new(1000, 3000, 2000).unwrap();
    let mut p = Pipeline::new(clock, window, 2, T0);
    for (i, at) in [(0, 10), (1, 1010), (2, 2010), (3, 3010)] {
        p.record(&tp(0), i, Some(b"w"), T0 + at);
    }
    // Batches: T0+1000 (offset 0), +2000 (1), +3000 (2), +4000 (3). Outputs at even seconds.
    let out = p.poll_output(T0 + 4000).unwrap();
    assert_eq!(out.time, T0 + 2000);
    assert_eq!(words(&out), [("w", 2)]);
    // The next window (T0+4000) holds T0+2000..T0+4000: only T0+1000's offsets may go.
    assert_eq!(p.output_written(out.ticket), Offsets::from([(tp(0), 1)]));
    let out = p.poll_output(T0 + 4000).unwrap();
    assert_eq!(out.time, T0 + 4000);
    assert_eq!(words(&out), [("w", 3)]);
    assert_eq!(p.output_written(out.ticket), Offsets::from([(tp(0), 3)]));
    assert!(p.poll_output(T0 + 4999).is_none());
}

/// A tiny deterministic generator, so every simulated run can be replayed from its seed.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// Where the simulated job may be killed.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Step {
    /// Deliver the next record of a partition.
    Deliver,
    /// Let time pass.
    Tick,
    /// Write and commit every output due.
    Output,
    /// Killed after the output was handed out, before it was written.
    CrashBeforeWrite,
    /// Killed after the output was written, before the commit happened.
    CrashBeforeCommit,
    /// Killed after the commit.
    CrashAfterCommit,
}

/// Runs the job over a two-partition log, killing it at random steps and restarting it from the
/// committed offsets (as a restarted group member does). Returns the totals over every written
/// output, the input's totals, and the totals of the outputs written but not committed at a kill.
fn simulate(seed: u64) -> (WordCounts, WordCounts, WordCounts) {
    let mut rng = Lcg(seed);
    let vocabulary = ["hello", "kafka", "", "and", "zookeeper!", "spark"];
    let log: Vec<Vec<String>> = (0..2)
        .map(|_| {
            (0..60)
                .map(|_| {
                    let n = rng.below(5);
                    let w: Vec<&str> = (0..n).map(|_| vocabulary[rng.below(6) as usize]).collect();
                    w.join(" ")
                })
                .collect()
        })
        .collect();
    let mut input = WordCounts::new();
    for line in log.iter().flatten() {
        input.add_line(line);
    }

    let mut committed = [0usize; 2];
    let mut printed = WordCounts::new();
    let mut redone = WordCounts::new();
    let mut now = T0;
    let mut job = pipeline(100);
    let mut position = committed;
    let mut crashes = 0;
    loop {
        let done = position == [60, 60] && committed == [60, 60];
        if done {
            break;
        }
        let step = match rng.below(20) {
            0 if crashes < 5 => Step::CrashBeforeWrite,
            1 if crashes < 5 => Step::CrashBeforeCommit,
            2 if crashes < 5 => Step::CrashAfterCommit,
            3..=12 => Step::Deliver,
            13..=15 => Step::Tick,
            _ => Step::Output,
        };
        match step {
            Step::Deliver => {
                let p = rng.below(2) as usize;
                if let Some(line) = log[p].get(position[p]) {
                    job.record(
                        &tp(p as i32),
                        position[p] as i64,
                        Some(line.as_bytes()),
                        now,
                    );
                    position[p] += 1;
                }
            }
            Step::Tick => now += rng.below(80),
            Step::Output => {
                while let Some(out) = job.poll_output(now) {
                    for (w, n) in &out.counts {
                        printed.add(w, *n);
                    }
                    for (tp, next) in job.output_written(out.ticket) {
                        committed[tp.partition as usize] = next as usize;
                    }
                }
            }
            crash => {
                crashes += 1;
                now += rng.below(80);
                if let Some(out) = job.poll_output(now) {
                    if crash != Step::CrashBeforeWrite {
                        for (w, n) in &out.counts {
                            printed.add(w, *n);
                        }
                    }
                    match crash {
                        Step::CrashBeforeCommit => {
                            for (w, n) in &out.counts {
                                redone.add(w, *n);
                            }
                        }
                        Step::CrashAfterCommit => {
                            for (tp, next) in job.output_written(out.ticket) {
                                committed[tp.partition as usize] = next as usize;
                            }
                        }
                        _ => {}
                    }
                }
                // Restart: a new job, reading again from the committed offsets.
                job = Pipeline::new(
                    BatchClock::new(100).unwrap(),
                    Window::per_batch(100),
                    2,
                    now,
                );
                position = committed;
            }
        }
    }
    (printed, input, redone)
}

#[test]
fn killed_anywhere_nothing_is_lost_and_only_an_uncommitted_output_is_counted_twice() {
    let mut runs_with_redo = 0;
    for seed in 0..300 {
        let (printed, input, redone) = simulate(seed);
        let mut expected = input.clone();
        expected.merge(&redone);
        for word in ["hello", "kafka", "", "and", "zookeeper!", "spark"] {
            assert_eq!(
                printed.get(word),
                expected.get(word),
                "seed {seed}, word {word:?}"
            );
        }
        assert_eq!(printed.distinct(), expected.distinct(), "seed {seed}");
        if !redone.is_empty() {
            runs_with_redo += 1;
        }
    }
    // The simulation really exercised the kill between output and commit.
    assert!(
        runs_with_redo > 10,
        "only {runs_with_redo} runs were killed before a commit"
    );
}
