//! `lab up` figures for the note: cold `lab up` (no image), warm `lab up` (image present) to
//! all probes green, the node image's size and the idle memory of the whole lab, each next to an
//! anchor measured in the same run on the same engine:
//! - time: starting three bare containers of the same image (`docker run -d`, busybox `sleep`);
//! - size: the static `labnode` binary alone;
//! - memory: those three bare containers, idle.
//!
//! Needs a Docker daemon and the release binaries (`make build`); runs a lab named `bench`
//! with host ports shifted by 3000 and a throw-away image repository, and removes both.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const LAB: &str = "bench";
const REPOSITORY: &str = "lab-node-bench";

fn lab_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_lab"))
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn lab(args: &[&str]) -> Output {
    run(Command::new(lab_bin())
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("LAB_IMAGE_REPOSITORY", REPOSITORY))
}

fn docker(args: &[&str]) -> String {
    String::from_utf8_lossy(&run(Command::new("docker").args(args)).stdout)
        .trim()
        .to_owned()
}

fn timed(f: impl FnOnce()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

/// Memory in use by containers (the engine's figure, page cache excluded), in MiB.
fn memory_mib(filter: &str) -> f64 {
    let ids = docker(&["ps", "-q", "--filter", filter]);
    let ids: Vec<&str> = ids.lines().collect();
    let mut args = vec!["stats", "--no-stream", "--format", "{{.MemUsage}}"];
    args.extend(ids.iter().copied());
    docker(&args)
        .lines()
        .filter_map(|l| l.split('/').next())
        .map(|used| parse_size(used.trim()))
        .sum()
}

fn parse_size(text: &str) -> f64 {
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(text.len());
    let (num, unit) = text.split_at(split);
    let num: f64 = num.trim().parse().unwrap_or(0.0);
    num * match unit {
        "B" => 1.0 / 1048576.0,
        "KiB" | "kB" => 1.0 / 1024.0,
        "MiB" | "MB" => 1.0,
        "GiB" | "GB" => 1024.0,
        _ => 0.0,
    }
}

fn cleanup() {
    let _ = Command::new(lab_bin())
        .args(["down", "--name", LAB, "--volumes"])
        .output();
    let _ = Command::new("docker")
        .args([
            "rm",
            "-f",
            "bench-anchor-1",
            "bench-anchor-2",
            "bench-anchor-3",
        ])
        .output();
    let images = Command::new("docker")
        .args(["images", "-q", REPOSITORY])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    for id in images.lines() {
        let _ = Command::new("docker").args(["rmi", "-f", id]).output();
    }
}

fn main() {
    if Command::new("docker")
        .arg("version")
        .output()
        .map_or(true, |o| !o.status.success())
    {
        eprintln!("lab_up bench: no Docker daemon answers; nothing measured");
        return;
    }
    cleanup();
    let up = [
        "up",
        "--name",
        LAB,
        "--port-offset",
        "3000",
        "--runtime",
        "docker",
    ];
    let cold = timed(|| {
        lab(&up);
    });
    lab(&["down", "--name", LAB]);
    let warm = timed(|| {
        lab(&up);
    });
    let tag = docker(&["images", "--format", "{{.Repository}}:{{.Tag}}", REPOSITORY]);
    let tag = tag.lines().next().unwrap_or_default().to_owned();
    let image_bytes: f64 = docker(&["image", "inspect", "-f", "{{.Size}}", &tag])
        .parse()
        .unwrap_or(0.0);
    std::thread::sleep(Duration::from_secs(10));
    let lab_mem = memory_mib(&format!("label=lab.name={LAB}"));

    let anchor = timed(|| {
        for i in 1..=3 {
            docker(&[
                "run",
                "-d",
                "--name",
                &format!("bench-anchor-{i}"),
                "--entrypoint",
                "/bin/sleep",
                &tag,
                "3600",
            ]);
        }
    });
    std::thread::sleep(Duration::from_secs(2));
    let anchor_mem = memory_mib("name=bench-anchor-");
    let labnode_bytes =
        std::fs::metadata(lab_bin().with_file_name("labnode")).map_or(0.0, |m| m.len() as f64);
    cleanup();

    let mib = |b: f64| b / 1048576.0;
    println!(
        "{:<34} {:>10} {:>12} {:>8} {:>10}",
        "lab up (lab `bench`, Docker)", "value", "anchor", "ratio", "target"
    );
    let row = |name: &str, v: f64, a: f64, unit: &str, target: &str| {
        let ratio = if a > 0.0 {
            format!("{:.2}", v / a)
        } else {
            "-".into()
        };
        println!(
            "{name:<34} {:>8.2}{unit:<2} {:>10.2}{unit:<2} {ratio:>8} {target:>10}",
            v, a
        );
    };
    row(
        "cold up to all probes green",
        cold.as_secs_f64(),
        anchor.as_secs_f64(),
        "s",
        "-",
    );
    row(
        "warm up to all probes green",
        warm.as_secs_f64(),
        anchor.as_secs_f64(),
        "s",
        "<= 5 s",
    );
    row(
        "node image size",
        mib(image_bytes),
        mib(labnode_bytes),
        "M",
        "<= 30 MB",
    );
    row(
        "idle memory, whole lab",
        lab_mem,
        anchor_mem,
        "M",
        "<= 150 MB",
    );
    println!(
        "anchors: 3 bare `docker run -d` of the same image (time, memory); the labnode binary (size)"
    );
}
