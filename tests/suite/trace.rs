//! The wire view: `client --trace` and `record --trace` print every byte as it goes, escaped, timed.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::{ServerProcess, TestServer, binary};

/// The trace with what changes from run to run replaced: the time stamps by
/// `[T]`, the port by `PORT`, the Date and Server values by `[DATE]` and `[SERVER]`.
fn normalise_trace(text: &str, port: u16) -> String {
    text.lines()
        .map(|line| {
            let line = match (line.find('['), line.find(" ms]")) {
                (Some(open), Some(close)) if open < close => {
                    format!("{}[T]{}", &line[..open], &line[close + 4..])
                }
                _ => line.to_string(),
            };
            let line = line.replace(&port.to_string(), "PORT");
            if let Some(i) = line.find("< Date: ") {
                format!("{}< Date: [DATE]\\r\\n", &line[..i])
            } else if let Some(i) = line.find("< Server: ") {
                format!("{}< Server: [SERVER]\\r\\n", &line[..i])
            } else {
                line
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn client(addr: SocketAddr, args: &[&str]) -> std::process::Output {
    Command::new(binary())
        .args(["client", "--trace", "--addr", &addr.to_string()])
        .args(args)
        .env_remove("WORDWIRE_USER")
        .env_remove("WORDWIRE_PASSWORD")
        .output()
        .expect("wordwire client runs")
}

#[test]
fn client_trace_shows_every_byte_of_a_post_escaped_and_timed() {
    let server = TestServer::start("", |_| {});
    let output = client(server.addr, &["post", "hello"]);
    assert_eq!(output.status.code(), Some(0));
    // The answer on stdout is as without --trace; the trace is on stderr.
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "HTTP/1.1 200 OK\nadded hello\n"
    );
    let trace = String::from_utf8_lossy(&output.stderr);
    insta::assert_snapshot!(
        "client_trace_post",
        normalise_trace(&trace, server.addr.port())
    );
}

#[test]
fn trace_time_stamps_grow_from_zero() {
    let server = TestServer::start("", |_| {});
    let output = client(server.addr, &["get"]);
    let trace = String::from_utf8_lossy(&output.stderr);
    let stamps: Vec<f64> = trace
        .lines()
        .filter_map(|l| {
            l.strip_prefix('[')?
                .split(" ms]")
                .next()?
                .trim()
                .parse()
                .ok()
        })
        .collect();
    assert!(stamps.len() >= 8, "{trace}");
    assert!(stamps[0] < 1000.0, "{trace}");
    assert!(stamps.windows(2).all(|w| w[0] <= w[1]), "{trace}");
}

#[test]
fn record_trace_names_the_connection_on_every_line() {
    let mut command = Command::new(binary());
    command
        .args(["record", "--listen", "127.0.0.1:0", "--once", "--trace"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut recorder = ServerProcess::spawn(command);
    let output = client(recorder.addr, &["post", "hello"]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(recorder.wait_exit(Duration::from_secs(10)), Some(0));
    let log = recorder.log_text();
    assert!(log.contains("] > POST / HTTP/1.1\\r\\n"), "{log}");
    assert!(log.contains("] < HTTP/1.1 200 OK\\r\\n"), "{log}");
    assert!(log.contains("] < added hello\\n"), "{log}");
    for line in log.lines().filter(|l| l.contains(" ms] ")) {
        assert!(line.starts_with("a ["), "{line}");
    }
}
