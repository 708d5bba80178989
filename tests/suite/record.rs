//! `wordwire record`: what it writes replays green, keeps every byte, and changes nothing on the wire.

use std::io::Write;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use wordwire::client::ResponseReader;
use wordwire::grading::record::{Relay, StartingState, render};
use wordwire::grading::replay::{self, Options};
use wordwire::grading::report;
use wordwire::grading::suite::transcript::{StepKind, Transcript, normalise};
use wordwire::grading::target::local::LocalServer;
use wordwire::grading::verdict::{Outcome, TranscriptResult};

use crate::support::{ServerProcess, auth, binary, run_binary_within, serve_command};

const PAUSE: Duration = Duration::from_millis(60);

fn connect(addr: SocketAddr) -> ResponseReader<TcpStream> {
    let stream = TcpStream::connect(addr).expect("connect to the relay");
    stream.set_nodelay(true).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    ResponseReader::new(stream)
}

fn send(conn: &mut ResponseReader<TcpStream>, bytes: &[u8]) {
    conn.get_mut().write_all(bytes).expect("send");
}

/// The normalised bytes of the next response on `conn`.
fn answer(conn: &mut ResponseReader<TcpStream>, after_head: bool) -> Vec<u8> {
    normalise(&conn.read_response(after_head).expect("a response").raw)
}

fn expect_close(conn: &mut ResponseReader<TcpStream>) {
    assert!(
        matches!(
            conn.read_response(false),
            Err(wordwire::client::ReadError::Closed)
        ),
        "the server should close"
    );
}

/// The session the tests drive: what each connection sent, and every normalised answer.
struct Session {
    sent: Vec<Vec<u8>>,
    answers: Vec<Vec<u8>>,
}

/// Drives three connections against `addr`: a pipelined pair with a NUL in a body,
/// a chunked body sent in parts with pauses, and a request followed by a half-close.
fn drive(addr: SocketAddr) -> Session {
    let mut sent = vec![Vec::new(); 3];
    let mut answers = Vec::new();
    let a_bytes = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nhel\0loPOST / HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n\r\nhello\r\nGET / HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\n\r\n",
        auth()
    );
    let mut a = connect(addr);
    send(&mut a, a_bytes.as_bytes());
    sent[0].extend_from_slice(a_bytes.as_bytes());
    for _ in 0..3 {
        answers.push(answer(&mut a, false));
    }

    let mut b = connect(addr);
    let parts: [&[u8]; 3] = [
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nwor",
        b"\r\n2\r\nld\r\n",
        b"0\r\n\r\n",
    ];
    for part in parts {
        send(&mut b, part);
        sent[1].extend_from_slice(part);
        std::thread::sleep(PAUSE * 3);
    }
    answers.push(answer(&mut b, false));
    let head =
        b"HEAD / HTTP/1.1\r\nHost: x\r\nAuthorization: Basic d29yZHdpcmU6d29yZHdpcmU=\r\n\r\n";
    send(&mut b, head);
    sent[1].extend_from_slice(head);
    answers.push(answer(&mut b, true));

    let mut c = connect(addr);
    let c_bytes = b"DELETE / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
    send(&mut c, c_bytes);
    sent[2].extend_from_slice(c_bytes);
    c.get_ref().shutdown(Shutdown::Write).unwrap();
    answers.push(answer(&mut c, false));
    expect_close(&mut c);
    drop(a);
    drop(b);
    Session { sent, answers }
}

/// The bytes each connection of a transcript sends, in order, by connection.
fn sent_by_connection(t: &Transcript) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    for step in &t.steps {
        match &step.kind {
            StepKind::Open(c) => out.push((c.clone(), Vec::new())),
            StepKind::Send { conn, bytes } => {
                let entry = out.iter_mut().find(|(c, _)| c == conn).expect("opened");
                entry.1.extend_from_slice(bytes);
            }
            _ => {}
        }
    }
    out
}

fn replay_file(path: &Path) -> TranscriptResult {
    replay::replay_one(path, &Options::default())
}

#[test]
fn a_recorded_session_replays_green_and_keeps_every_byte() {
    let server =
        LocalServer::start_with(&[], None, "the starting store", None).expect("in-process server");
    let relay = Relay::start("127.0.0.1:0".parse().unwrap(), server.addr(), None).expect("relay");
    let session = drive(relay.addr());
    assert!(relay.wait_finished(1, Duration::from_secs(5)));
    let events = relay.finish();
    server.stop().expect("server stops");
    let text = render(&events, &StartingState::default(), PAUSE);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("session.transcript");
    std::fs::write(&path, &text).unwrap();
    let t = Transcript::load(&path).expect("the recorded transcript parses");
    let sent = sent_by_connection(&t);
    let names: Vec<&str> = sent.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(names, ["a", "b", "c"], "{text}");
    for (i, (_, bytes)) in sent.iter().enumerate() {
        assert_eq!(bytes, &session.sent[i], "connection {i}:\n{text}");
    }
    // The NUL, the CRs and the LFs are visible escapes, each burst of b its own send.
    assert!(
        text.contains("  > hel\\x00loPOST / HTTP/1.1\\r\\n\n"),
        "{text}"
    );
    assert!(text.contains("  > 3\\r\\n\n  > wor\nwait "), "{text}");
    assert!(text.contains("half-close c\n"), "{text}");
    assert!(text.contains("expect b HEAD\n"), "{text}");
    assert!(text.contains("expect-close c\n"), "{text}");
    let expects = t
        .steps
        .iter()
        .filter(|s| matches!(s.kind, StepKind::Expect { .. }))
        .count();
    assert_eq!(expects, session.answers.len(), "{text}");

    let result = replay_file(&path);
    assert_eq!(
        result.outcome,
        Outcome::Passed,
        "{text}\n{}",
        report::plain(&report::failure_details(&result))
    );
}

#[test]
fn relaying_to_a_separate_server_is_transparent() {
    let dir = tempfile::tempdir().unwrap();
    let direct_server = ServerProcess::spawn(serve_command(&dir.path().join("direct.txt"), &[]));
    let direct = drive(direct_server.addr);

    let relayed_server = ServerProcess::spawn(serve_command(&dir.path().join("relayed.txt"), &[]));
    let out = dir.path().join("relayed.transcript");
    let mut command = Command::new(binary());
    command
        .args(["record", "--listen", "127.0.0.1:0", "--upstream"])
        .arg(relayed_server.addr.to_string())
        .arg("-o")
        .arg(&out)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut recorder = ServerProcess::spawn(command);
    let relayed = drive(recorder.addr);
    // Ctrl-C writes the transcript.
    recorder.signal(libc::SIGINT);
    assert_eq!(recorder.wait_exit(Duration::from_secs(10)), Some(0));

    assert_eq!(direct.answers.len(), 6);
    for (i, (d, r)) in direct.answers.iter().zip(&relayed.answers).enumerate() {
        assert_eq!(
            String::from_utf8_lossy(d),
            String::from_utf8_lossy(r),
            "answer {i}"
        );
    }
    // Both servers started empty, so the recording also replays against a fresh one.
    let text = std::fs::read_to_string(&out).expect("the transcript was written");
    assert!(
        text.contains(&format!("the server at {}", relayed_server.addr)),
        "{text}"
    );
    let result = replay_file(&out);
    assert_eq!(
        result.outcome,
        Outcome::Passed,
        "{text}\n{}",
        report::plain(&report::failure_details(&result))
    );
}

#[test]
fn record_once_writes_flags_and_store_and_the_file_replays() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.txt");
    std::fs::write(&seed, "alpha\nbeta\n").unwrap();
    let out = dir.path().join("session.transcript");
    let mut command = Command::new(binary());
    command
        .args(["record", "--listen", "127.0.0.1:0", "--once", "--seed"])
        .arg(&seed)
        .arg("-o")
        .arg(&out)
        .args(["--", "--auth-all"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut recorder = ServerProcess::spawn(command);
    let mut a = connect(recorder.addr);
    // Without credentials under --auth-all a POST is 401; with them it is 200.
    send(
        &mut a,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\ngamma",
    );
    assert!(String::from_utf8_lossy(&answer(&mut a, false)).starts_with("HTTP/1.1 401 "));
    let with_auth = format!(
        "PUT / HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nContent-Length: 11\r\nConnection: close\r\n\r\nalpha omega",
        auth()
    );
    send(&mut a, with_auth.as_bytes());
    assert!(String::from_utf8_lossy(&answer(&mut a, false)).starts_with("HTTP/1.1 200 "));
    expect_close(&mut a);
    drop(a);
    assert_eq!(recorder.wait_exit(Duration::from_secs(10)), Some(0));
    let text = std::fs::read_to_string(&out).expect("the transcript was written");
    assert!(
        text.contains("\nserver --auth-all\nstore\n  | alpha\n  | beta\n"),
        "{text}"
    );
    assert!(text.contains("replaced 1\\n"), "{text}");
    let result = replay_file(&out);
    assert_eq!(
        result.outcome,
        Outcome::Passed,
        "{text}\n{}",
        report::plain(&report::failure_details(&result))
    );
}

#[test]
fn a_recorded_100_continue_and_504_replay_green_with_the_server_flags() {
    let flags = vec!["--read-timeout".to_string(), "0.3".to_string()];
    let server = LocalServer::start_with(&flags, None, "the starting store", None).unwrap();
    let relay = Relay::start("127.0.0.1:0".parse().unwrap(), server.addr(), None).unwrap();
    let mut a = connect(relay.addr());
    send(
        &mut a,
        b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
    );
    assert!(String::from_utf8_lossy(&answer(&mut a, false)).starts_with("HTTP/1.1 100 "));
    send(&mut a, b"hello");
    assert!(String::from_utf8_lossy(&answer(&mut a, false)).starts_with("HTTP/1.1 200 "));
    send(
        &mut a,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhe",
    );
    assert!(String::from_utf8_lossy(&answer(&mut a, false)).starts_with("HTTP/1.1 504 "));
    expect_close(&mut a);
    drop(a);
    assert!(relay.wait_finished(1, Duration::from_secs(5)));
    let events = relay.finish();
    server.stop().unwrap();
    let state = StartingState {
        server_flags: flags,
        ..StartingState::default()
    };
    let text = render(&events, &state, PAUSE);
    assert!(
        text.contains("\nserver --read-timeout 0.3\nopen a\n"),
        "{text}"
    );
    // The 100 is an expect of its own, before the body is sent.
    assert!(
        text.contains("expect a\n  < HTTP/1.1 100 Continue\\r\\n"),
        "{text}"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("continue.transcript");
    std::fs::write(&path, &text).unwrap();
    let result = replay_file(&path);
    assert_eq!(
        result.outcome,
        Outcome::Passed,
        "{text}\n{}",
        report::plain(&report::failure_details(&result))
    );
}

#[test]
fn an_output_that_cannot_be_written_is_refused_before_recording() {
    // Found only at the end, it cost the whole session; a FIFO with no reader hung there.
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    for (output, why) in [
        (
            "missing/x.transcript",
            "No such file or directory (os error 2)",
        ),
        (".", "Is a directory (os error 21)"),
        ("fifo", "a FIFO that no process reads"),
    ] {
        let (code, stderr) = run_binary_within(
            &["record", "--listen", "127.0.0.1:0", "-o", output],
            dir.path(),
            Duration::from_secs(10),
        );
        assert_eq!(
            (code, stderr.as_str()),
            (
                Some(1),
                format!("wordwire record: cannot write {output}: {why}\n").as_str()
            )
        );
    }
}

#[test]
fn a_seed_that_is_not_a_store_is_named_in_the_error() {
    // The error named the temporary copy (`/tmp/.tmpXXXX/words.txt:1: ...`).
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("seed.txt"), "hello\r\n").unwrap();
    let (code, stderr) = run_binary_within(
        &["record", "--listen", "127.0.0.1:0", "--seed", "seed.txt"],
        dir.path(),
        Duration::from_secs(10),
    );
    assert_eq!(
        (code, stderr.as_str()),
        (
            Some(1),
            "wordwire record: seed.txt:1: line ends in CR (a CRLF line ending?); store lines end in LF alone; fix or remove it\n"
        )
    );
}

#[test]
fn a_start_that_fails_leaves_the_output_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = taken.local_addr().unwrap().to_string();
    std::fs::write(dir.path().join("old.transcript"), "open a\n").unwrap();
    for output in ["old.transcript", "new.transcript"] {
        let (code, stderr) = run_binary_within(
            &["record", "--listen", &listen, "-o", output],
            dir.path(),
            Duration::from_secs(10),
        );
        // As serve exits for a taken port (1), with the flag that picks a free one.
        assert_eq!(code, Some(1), "{stderr}");
        assert!(
            stderr.starts_with(&format!("wordwire record: cannot listen on {listen}: ")),
            "{stderr}"
        );
        assert!(
            stderr.ends_with("; another process listens there: stop it, or choose another port (--listen 127.0.0.1:0 picks a free one and prints it)\n"),
            "{stderr}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(dir.path().join("old.transcript")).unwrap(),
        "open a\n"
    );
    assert!(!dir.path().join("new.transcript").exists());
}

#[test]
fn an_upstream_that_cannot_be_reached_is_said_at_once() {
    let dir = tempfile::tempdir().unwrap();
    // A port just released: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let upstream = format!("127.0.0.1:{port}");
    let (code, stderr) = run_binary_within(
        &[
            "record",
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            &upstream,
            "-o",
            "t.transcript",
        ],
        dir.path(),
        Duration::from_secs(10),
    );
    // Exit 1, as for every start record cannot make (a taken port, a bad seed).
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "cannot reach the upstream {upstream}: connection refused"
        )),
        "{stderr}"
    );
    assert!(!dir.path().join("t.transcript").exists());
}
