//! Random and mutated request frames thrown at a live `labnode broker`: it must not crash,
//! must keep answering well-formed requests on other connections, and its memory must stay
//! bounded. The generator is seeded (the seed is printed) so a failure can be replayed with
//! `BROKER_FUZZ_SEED=<seed>`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A small xorshift generator: deterministic from its seed, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut f = (body.len() as i32).to_be_bytes().to_vec();
    f.extend_from_slice(body);
    f
}

/// Request header v1 (api key, version, correlation id, client id "fuzz").
fn header(api: i16, version: i16, correlation: i32) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(&api.to_be_bytes());
    h.extend_from_slice(&version.to_be_bytes());
    h.extend_from_slice(&correlation.to_be_bytes());
    h.extend_from_slice(&4i16.to_be_bytes());
    h.extend_from_slice(b"fuzz");
    h
}

/// Well-formed requests to mutate: ApiVersions v0, Metadata v1 (topic "fz"), FindCoordinator
/// v0, JoinGroup v0, Produce v3 (a batch of garbage), OffsetFetch v1, CreateTopics v2.
fn seeds() -> Vec<Vec<u8>> {
    let string = |s: &str| {
        let mut v = (s.len() as i16).to_be_bytes().to_vec();
        v.extend_from_slice(s.as_bytes());
        v
    };
    let mut out = Vec::new();
    out.push(header(18, 0, 1));
    let mut m = header(3, 1, 2);
    m.extend_from_slice(&1i32.to_be_bytes());
    m.extend(string("fz"));
    out.push(m);
    let mut f = header(10, 0, 3);
    f.extend(string("group"));
    out.push(f);
    let mut j = header(11, 0, 4);
    j.extend(string("group"));
    j.extend_from_slice(&10_000i32.to_be_bytes());
    j.extend(string(""));
    j.extend(string("consumer"));
    j.extend_from_slice(&1i32.to_be_bytes());
    j.extend(string("range"));
    j.extend_from_slice(&4i32.to_be_bytes());
    j.extend_from_slice(b"meta");
    out.push(j);
    let mut p = header(0, 3, 5);
    p.extend_from_slice(&(-1i16).to_be_bytes());
    p.extend_from_slice(&1i16.to_be_bytes());
    p.extend_from_slice(&1000i32.to_be_bytes());
    p.extend_from_slice(&1i32.to_be_bytes());
    p.extend(string("fz"));
    p.extend_from_slice(&1i32.to_be_bytes());
    p.extend_from_slice(&0i32.to_be_bytes());
    p.extend_from_slice(&70i32.to_be_bytes());
    p.extend_from_slice(&[7u8; 70]);
    out.push(p);
    let mut o = header(9, 1, 6);
    o.extend(string("group"));
    o.extend_from_slice(&1i32.to_be_bytes());
    o.extend(string("fz"));
    o.extend_from_slice(&1i32.to_be_bytes());
    o.extend_from_slice(&0i32.to_be_bytes());
    out.push(o);
    let mut c = header(19, 2, 7);
    c.extend_from_slice(&1i32.to_be_bytes());
    c.extend(string("created-by-fuzz"));
    c.extend_from_slice(&1i32.to_be_bytes());
    c.extend_from_slice(&1i16.to_be_bytes());
    c.extend_from_slice(&0i32.to_be_bytes());
    c.extend_from_slice(&0i32.to_be_bytes());
    c.extend_from_slice(&1000i32.to_be_bytes());
    c.push(0);
    out.push(c);
    out
}

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut body = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        match rng.below(5) {
            0 if !body.is_empty() => {
                let i = rng.below(body.len());
                body[i] = rng.next() as u8;
            }
            1 if body.len() >= 4 => {
                // A random 32-bit value where a length or count may be.
                let i = rng.below(body.len() - 3);
                let v: [i32; 5] = [-1, i32::MAX, i32::MIN, 0x7fff, rng.next() as i32];
                body[i..i + 4].copy_from_slice(&v[rng.below(5)].to_be_bytes());
            }
            2 => body.truncate(rng.below(body.len() + 1)),
            3 => body.extend((0..rng.below(64)).map(|_| rng.next() as u8)),
            _ => {
                let i = rng.below(body.len() + 1);
                body.insert(i, rng.next() as u8);
            }
        }
    }
    body
}

/// Sends one frame on a fresh connection and reads whatever comes back (briefly).
fn throw(port: u16, bytes: &[u8]) {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(50)));
    let _ = s.write_all(bytes);
    let mut sink = [0u8; 4096];
    let _ = s.read(&mut sink);
}

/// An ApiVersions v0 round trip on a fresh connection: the broker still serves.
fn still_serves(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    if s.write_all(&frame(&header(18, 0, 4242))).is_err() {
        return false;
    }
    let mut size = [0u8; 4];
    let mut correlation = [0u8; 4];
    s.read_exact(&mut size).is_ok()
        && s.read_exact(&mut correlation).is_ok()
        && i32::from_be_bytes(correlation) == 4242
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn random_and_mutated_frames_never_stop_the_broker() {
    let (mut broker, port) = support::start_broker("auto.create.topics.enable=false");
    let seed = std::env::var("BROKER_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("BROKER_FUZZ_SEED={seed}");
    let mut rng = Rng(seed);
    let seeds = seeds();
    assert!(still_serves(port), "{}", broker.stderr());
    let pid = broker.child.id();
    let baseline = rss_kib(pid);
    for round in 0..3000 {
        let bytes = match rng.below(4) {
            // Pure noise, with or without a plausible size prefix.
            0 => (0..rng.below(64)).map(|_| rng.next() as u8).collect(),
            1 => frame(
                &(0..rng.below(256))
                    .map(|_| rng.next() as u8)
                    .collect::<Vec<_>>(),
            ),
            // A mutated well-formed request, framed correctly.
            2 => {
                let pick = rng.below(seeds.len());
                frame(&mutate(&mut rng, &seeds[pick]))
            }
            // Several frames pipelined, the last one mutated.
            _ => {
                let mut b = frame(&seeds[0]);
                b.extend(frame(&seeds[1]));
                let pick = rng.below(seeds.len());
                b.extend(frame(&mutate(&mut rng, &seeds[pick])));
                b
            }
        };
        throw(port, &bytes);
        if round % 250 == 0 {
            assert!(
                broker.child.try_wait().unwrap().is_none(),
                "the broker died at round {round} (seed {seed}): {}",
                broker.stderr()
            );
            assert!(still_serves(port), "round {round} (seed {seed})");
        }
    }
    // Oversized and negative size prefixes close only that connection.
    throw(port, &i32::MAX.to_be_bytes());
    throw(port, &(-5i32).to_be_bytes());
    assert!(still_serves(port), "{}", broker.stderr());
    let grown = rss_kib(pid).saturating_sub(baseline);
    assert!(grown < 256 * 1024, "RSS grew by {grown} KiB over the run");
    assert!(broker.child.try_wait().unwrap().is_none());
    if let Some(kcat) = support::kcat() {
        let out = support::system_command(&kcat)
            .args(["-b", &format!("127.0.0.1:{port}"), "-L", "-m", "5"])
            .output()
            .unwrap();
        assert!(out.status.success(), "a real client is still served");
    }
}
