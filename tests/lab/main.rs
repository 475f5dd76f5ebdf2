//! Integration tests of the `lab` controller: the real binary, a real Docker engine (they run
//! whenever `CI=true` and never skip there; elsewhere they skip, saying why, only when no Docker
//! daemon answers), and the process runtime.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    unreachable_pub,
    missing_docs
)]

mod check;
mod cluster;
mod docker;
mod process;
mod spec_errors;
mod support;
mod transcript;
