//! kazoo (the Python ZooKeeper client) against a real `labnode coordinator`: CRUD, watches,
//! ephemeral and sequential nodes, transactions, the Lock and Election recipes.

// Test helpers outside #[test] functions: a panic there is the test failing, as intended.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

#[test]
fn kazoo_crud_watches_transactions_and_recipes() {
    let (server, port) = support::start_coordinator("");
    let Some(out) = support::run_python("coordinator_kazoo.py", &[&format!("127.0.0.1:{port}")])
    else {
        return;
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("ALL OK"),
        "kazoo script failed:\n{stdout}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        server.stderr()
    );
}
