//! `lab`: provisions the TP3 classroom lab in one command.
//!
//! A thin `main`: [`cli::run`] does the work and returns the exit code; an error is printed
//! once, with its whole chain (`{:#}`).

use std::process::ExitCode;

mod checks;
mod cli;
mod plan;
mod ports;
mod render;
mod runtime;
mod spec;

fn main() -> ExitCode {
    match cli::run() {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
