//! What a box costs per run (`wordwire::sandbox`, issue 22). Run with
//! `cargo bench --bench sandbox`; figures in `bench/SANDBOX.md`.
//!
//! Not criterion: each sample starts processes and namespaces, so the spread is
//! the scheduler's and the page cache's, and a median with its p90 over a fixed
//! number of runs says what a grader pays. Four rows:
//!
//! - `sh -c true`, no box: the floor any start pays (fork, exec, wait).
//! - box of `true`: copy a three-file submission, the helper, namespaces, init,
//!   Landlock, `exec sh -c true`, then `stop` (kill, reap, remove the copy).
//! - the same split: `spawn` alone (up to the command's `exec`) and `stop` alone.
//! - a python3 server that binds a hard-coded port: from `spawn` to the listener
//!   found by `wait_listener`, and the same server without a box, to its LISTEN
//!   line in `/proc/net/tcp`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use wordwire::sandbox::{Sandbox, Spec};

const RUNS: usize = 40;
const INIT: &str = env!("CARGO_BIN_EXE_wordwire");
const SERVER: &str = "import socket\ns = socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\ns.bind(('127.0.0.1', PORT))\ns.listen()\nimport time\ntime.sleep(60)\n";

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name:<44} median {:>7.2} ms   p90 {:>7.2} ms   min {:>7.2} ms   ({} runs)",
        ms(samples[samples.len() / 2]),
        ms(samples[samples.len() * 9 / 10]),
        ms(samples[0]),
        samples.len()
    );
}

fn submission(port: u16) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("server.py"),
        SERVER.replace("PORT", &port.to_string()),
    )
    .unwrap();
    std::fs::write(dir.path().join("README.md"), "# server\n".repeat(50)).unwrap();
    std::fs::write(dir.path().join("words.txt"), "alpha\nbeta\n").unwrap();
    dir
}

fn listening(port: u16) -> bool {
    let hex = format!(":{port:04X} ");
    ["/proc/net/tcp", "/proc/net/tcp6"].iter().any(|table| {
        std::fs::read_to_string(table)
            .unwrap_or_default()
            .lines()
            .any(|l| l.contains(&hex) && l.split_whitespace().nth(3) == Some("0A"))
    })
}

fn main() {
    // `cargo bench` passes `--bench`; a filter is not supported.
    let protections = Sandbox::probe(Path::new(INIT))
        .as_ref()
        .expect("a box starts");
    println!("protections: {protections}");
    let dir = submission(12345);

    let mut plain = Vec::new();
    for _ in 0..RUNS {
        let began = Instant::now();
        Command::new("sh").args(["-c", "true"]).status().unwrap();
        plain.push(began.elapsed());
    }
    report("sh -c true, no box", plain);

    let (mut whole, mut spawn, mut stop) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let mut spec = Spec::new(INIT, "true");
        spec.source = Some(dir.path().to_path_buf());
        let began = Instant::now();
        let sandbox = Sandbox::spawn(&spec).unwrap();
        let spawned = Instant::now();
        while sandbox.status().unwrap().is_none() {
            std::thread::sleep(Duration::from_micros(200));
        }
        let exited = Instant::now();
        sandbox.stop();
        whole.push(began.elapsed());
        spawn.push(spawned - began);
        stop.push(exited.elapsed());
    }
    report("box of `true`: spawn, exit, stop", whole);
    report("  spawn (copy, namespaces, exec)", spawn);
    report("  stop (kill, reap, remove the copy)", stop);

    let (mut boxed, mut unboxed) = (Vec::new(), Vec::new());
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let host_dir = submission(port);
    for _ in 0..RUNS / 2 {
        let mut spec = Spec::new(INIT, "python3 server.py");
        spec.source = Some(dir.path().to_path_buf());
        let began = Instant::now();
        let sandbox = Sandbox::spawn(&spec).unwrap();
        sandbox
            .wait_listener(None, Duration::from_secs(10))
            .unwrap();
        boxed.push(began.elapsed());
        sandbox.stop();

        let began = Instant::now();
        // The box's PATH finds /usr/bin/python3; a caller's PATH may find a slower
        // wrapper first (pyenv's shim is a shell script), so name the same binary.
        let mut child = Command::new("/usr/bin/python3")
            .arg("server.py")
            .current_dir(host_dir.path())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut pause = Duration::from_millis(2);
        while !listening(port) {
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(50));
        }
        unboxed.push(began.elapsed());
        child.kill().unwrap();
        child.wait().unwrap();
    }
    report("python3 server: spawn to listener, box", boxed);
    report("python3 server: start to LISTEN, no box", unboxed);
}
