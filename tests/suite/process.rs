use std::os::unix::process::CommandExt;
use std::time::Duration;

use crate::support::{Client, ServerProcess, auth, run_binary, serve_command};

#[test]
fn sigterm_lets_the_request_in_flight_finish_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("words.txt");
    let mut server = ServerProcess::spawn(serve_command(&store, &[]));
    let mut idle = Client::connect(server.addr);
    idle.send(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(idle.reply().status, 204);

    let mut client = Client::connect(server.addr);
    client.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhe");
    std::thread::sleep(Duration::from_millis(100));
    server.signal(libc::SIGTERM);
    std::thread::sleep(Duration::from_millis(300));
    client.send(b"llo");
    let reply = client.reply();
    assert_eq!((reply.status, reply.body.as_str()), (200, "added hello\n"));
    assert_eq!(
        reply.header("Connection"),
        Some("close"),
        "a server shutting down closes after the answer"
    );
    assert!(
        idle.closed_within(Duration::from_secs(2)),
        "idle connections are closed at shutdown"
    );
    assert_eq!(
        server.wait_exit(Duration::from_secs(5)),
        Some(0),
        "log:\n{}",
        server.log_text()
    );
    assert_eq!(std::fs::read_to_string(&store).unwrap(), "hello\n");
}

#[test]
fn sigint_stops_an_idle_server_with_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::spawn(serve_command(&dir.path().join("w.txt"), &[]));
    server.signal(libc::SIGINT);
    assert_eq!(server.wait_exit(Duration::from_secs(5)), Some(0));
}

#[test]
fn start_up_says_where_it_listens_and_that_it_uses_the_lab_pair() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::spawn(serve_command(&dir.path().join("w.txt"), &[]));
    let log = server.log_text();
    assert!(
        log.contains("using the lab credentials wordwire:wordwire"),
        "{log}"
    );
    assert!(
        log.contains(&format!("listening on {}", server.addr)),
        "{log}"
    );
}

#[test]
fn an_access_log_line_is_written_per_request() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::spawn(serve_command(&dir.path().join("w.txt"), &[]));
    let mut client = Client::connect(server.addr);
    client.send(b"GET /missing HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(client.reply().status, 404);
    server.wait_for_log_line("\"GET /missing HTTP/1.1\" 404 ");
}

#[test]
fn a_second_server_on_the_same_store_exits_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("words.txt");
    let _first = ServerProcess::spawn(serve_command(&store, &[]));
    let output = serve_command(&store, &[]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr.contains("in use by another wordwire server"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn a_taken_port_is_one_line_and_exit_1() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr) = run_binary(&["serve", "--addr", &addr, "--store", "w.txt"], dir.path());
    assert_eq!(code, Some(1));
    assert!(
        stderr.starts_with("wordwire: error: cannot listen on"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn a_store_with_an_invalid_line_is_refused_and_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let content = "good\nnot good\nfine\n";
    std::fs::write(dir.path().join("w.txt"), content).unwrap();
    let (code, stderr) = run_binary(
        &["serve", "--addr", "127.0.0.1:0", "--store", "w.txt"],
        dir.path(),
    );
    assert_eq!(code, Some(1));
    assert!(stderr.contains(":2:"), "names line 2: {stderr}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("w.txt")).unwrap(),
        content
    );
}

#[test]
fn a_refused_flag_combination_is_one_line_and_exit_1() {
    // Flags clap rejects get clap's whole message and exit 2 (`cli.rs`).
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr) = run_binary(&["serve", "--addr", "0.0.0.0:0"], dir.path());
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("wordwire: error: refusing to serve the lab credentials"),
        "{stderr}"
    );
}

#[test]
fn a_real_write_failure_is_500_and_the_store_stays_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("words.txt");
    std::fs::write(&store, "alpha\n").unwrap();
    let mut command = serve_command(&store, &[]);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        command.pre_exec(|| {
            // Writes past 20 bytes fail with EFBIG, as on a full disk; the ignored
            // SIGXFSZ disposition survives exec, so the server sees the error.
            let limit = libc::rlimit {
                rlim_cur: 20,
                rlim_max: 20,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            Ok(())
        });
    }
    let server = ServerProcess::spawn(command);
    let mut client = Client::connect(server.addr);
    client.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
    assert_eq!(client.reply().status, 200);
    client.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabcdefghij");
    let reply = client.reply();
    assert_eq!(reply.status, 500, "{}", server.log_text());
    assert_eq!(
        std::fs::read_to_string(&store).unwrap(),
        "alpha\nhello\n",
        "the partial append was undone"
    );
    client.send(
        format!(
            "GET / HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\n\r\n",
            auth()
        )
        .as_bytes(),
    );
    assert_eq!(
        client.reply().body,
        "alpha\nhello\n",
        "memory agrees with the file"
    );
    // The wire says only that the store failed; the log line says why.
    let line = server.wait_for_log_line("\"POST / HTTP/1.1\" 500 ");
    assert!(
        line.contains("(store: ") && line.contains("File too large"),
        "{line}"
    );
}
