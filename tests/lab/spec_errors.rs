//! A bad spec is refused before any runtime is touched, with its location.

use crate::support::{lab, root};

#[test]
fn a_bad_spec_names_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(&path, "name: x\nnodes:\n  - name: a\n    prots: []\n").unwrap();
    let out = lab(
        &["up", "-f", path.to_str().unwrap(), "--runtime", "process"],
        &[],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:4:5: ", path.display())), "{err}");
    assert!(err.contains("unknown field `prots`"), "{err}");
    let _ = root();
}

#[test]
fn down_of_an_unknown_lab_is_a_quiet_success() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().to_str().unwrap();
    let out = lab(
        &["down", "--name", "never-was", "--runtime", "process"],
        &[("LAB_STATE_DIR", state)],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to remove"));
}
