//! The same scripted sequence (kazoo, `clients/coordinator_differential.py`) against our
//! coordinator and against Debian's Apache ZooKeeper started by the test, compared result by
//! result with zxids and times left out.

// Test helpers outside #[test] functions: a panic there is the test failing, as intended.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

fn run_sequence(port: u16) -> Option<Vec<String>> {
    let out = support::run_python(
        "coordinator_differential.py",
        &[&format!("127.0.0.1:{port}")],
    )?;
    assert!(
        out.status.success(),
        "sequence failed on port {port}:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect(),
    )
}

#[test]
fn same_results_as_apache_zookeeper() {
    let Some(apache) = support::start_apache_zookeeper() else {
        return;
    };
    let (ours, port) = support::start_coordinator("");
    let Some(expected) = run_sequence(apache.port) else {
        return;
    };
    let Some(got) = run_sequence(port) else {
        return;
    };
    assert!(
        expected.len() > 50,
        "the sequence ran to its end on ZooKeeper: {expected:#?}"
    );
    for (want, have) in expected.iter().zip(&got) {
        assert_eq!(
            have,
            want,
            "ours differs from Apache ZooKeeper\nserver log:\n{}",
            ours.stderr()
        );
    }
    assert_eq!(got.len(), expected.len());
}
