//! The binary as a process: start-up errors, the store lock, signals, real I/O failures,
//! and what it prints on stderr.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::time::Duration;

use crate::support::{Client, ServerProcess, auth, run_binary, run_binary_within, serve_command};

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
fn sigint_does_not_wait_for_a_half_typed_head() {
    // Issue 14 item 3: this used to wait for the read timeout (10 s), then 504.
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::spawn(serve_command(&dir.path().join("w.txt"), &[]));
    let mut client = Client::connect(server.addr);
    client.send(b"GET / HTTP/1.1\r\nHo");
    std::thread::sleep(Duration::from_millis(100));
    server.signal(libc::SIGINT);
    assert_eq!(server.wait_exit(Duration::from_secs(3)), Some(0));
    assert!(client.closed_within(Duration::from_secs(1)));
}

#[test]
fn a_second_sigint_stops_at_once_and_keeps_the_acknowledged_writes() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("words.txt");
    let mut server = ServerProcess::spawn(serve_command(&store, &[]));
    let mut client = Client::connect(server.addr);
    client.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
    assert_eq!(client.reply().status, 200);
    // A body on its way: a request in flight, which a first SIGINT waits for.
    client.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nwo");
    std::thread::sleep(Duration::from_millis(100));
    server.signal(libc::SIGINT);
    server.wait_for_log_line("waiting for 1 connection; Ctrl-C again to stop now");
    assert_eq!(
        server.wait_exit(Duration::from_millis(300)),
        None,
        "the first SIGINT waits"
    );
    server.signal(libc::SIGINT);
    assert_eq!(server.wait_exit(Duration::from_secs(2)), Some(130));
    assert_eq!(std::fs::read_to_string(&store).unwrap(), "hello\n");
}

/// Everything `serve` with `extra` writes on stderr after `listening on` when it
/// answers one `GET /missing` (404) and then stops on SIGTERM. Complete, with no
/// waiting on a slow log: each loop writes its access log before it ends, and the
/// server prints `shut down cleanly` only once every loop has ended.
fn stderr_after_one_request_and_sigterm(store: &Path, extra: &[&str]) -> Vec<String> {
    let mut server = ServerProcess::spawn(serve_command(store, extra));
    let mut client = Client::connect(server.addr);
    client.send(b"GET /missing HTTP/1.1\r\nHost: x\r\nUser-Agent: t/1\r\n\r\n");
    assert_eq!(client.reply().status, 404);
    server.signal(libc::SIGTERM);
    assert_eq!(server.wait_exit(Duration::from_secs(5)), Some(0));
    // The line the server writes last; the lines before it were collected first.
    server.wait_for_log_line("shut down cleanly");
    let log = server.log.lock().unwrap();
    let listening = log
        .iter()
        .position(|l| l.starts_with("listening on "))
        .expect("a listening line");
    log[listening + 1..].to_vec()
}

#[test]
fn log_format_json_writes_one_object_a_line_and_off_writes_none() {
    let dir = tempfile::tempdir().unwrap();
    let json =
        stderr_after_one_request_and_sigterm(&dir.path().join("j.txt"), &["--log-format", "json"]);
    assert_eq!(json.len(), 2, "{json:?}");
    let value: serde_json::Value = serde_json::from_str(&json[0]).unwrap();
    assert_eq!(
        (
            value["request"].as_str(),
            value["status"].as_u64(),
            value["user_agent"].as_str()
        ),
        (Some("GET /missing HTTP/1.1"), Some(404), Some("t/1"))
    );
    assert_eq!(json[1], "shut down cleanly");

    let off =
        stderr_after_one_request_and_sigterm(&dir.path().join("o.txt"), &["--log-format", "off"]);
    assert_eq!(off, ["shut down cleanly"]);
}

#[test]
fn a_request_line_that_parsed_is_logged_even_when_the_head_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::spawn(serve_command(&dir.path().join("w.txt"), &[]));
    let mut client = Client::connect(server.addr);
    client.send(b"GET /x HTTP/1.1\r\nUser-Agent: nc\r\n\r\n");
    assert_eq!(client.reply().status, 400);
    let line = server.wait_for_log_line("\"GET /x HTTP/1.1\" 400 ");
    assert!(line.starts_with("127.0.0.1 - - ["), "{line}");
    assert!(line.contains("\"-\" \"nc\" "), "{line}");
}

#[test]
fn serve_trace_shows_every_byte_of_a_connection_escaped_and_timed() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::spawn(serve_command(&dir.path().join("w.txt"), &["--trace"]));
    let mut client = Client::connect(server.addr);
    client.send(b"GET /missing HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(client.reply().status, 404);
    let received = server.wait_for_log_line("> GET /missing HTTP/1.1\\r\\n");
    let sent = server.wait_for_log_line("< HTTP/1.1 404 Not Found\\r\\n");
    for line in [&received, &sent] {
        // `127.0.0.1:PORT [    0.123 ms] > ...`
        let (peer, rest) = line.split_once(' ').unwrap();
        assert!(peer.starts_with("127.0.0.1:"), "{line}");
        assert!(rest.starts_with('[') && rest.contains(" ms] "), "{line}");
    }
    server.wait_for_log_line("< not found: the only resource is /\\n");
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
fn a_taken_port_is_one_line_and_exit_1_and_suggests_a_free_port() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr) = run_binary(&["serve", "--addr", &addr, "--store", "w.txt"], dir.path());
    assert_eq!(code, Some(1));
    assert_eq!(
        stderr,
        format!(
            "wordwire: error: cannot listen on {addr}: Address already in use (os error 98); \
             another process listens there: stop it, or choose another port \
             (--addr 127.0.0.1:0 picks a free one and prints it)\n"
        )
    );
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

fn serve_args(store: &str) -> [&str; 5] {
    ["serve", "--addr", "127.0.0.1:0", "--store", store]
}

#[test]
fn a_store_that_is_not_a_regular_file_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero.txt")).unwrap();
    let (code, stderr) =
        run_binary_within(&serve_args("zero.txt"), dir.path(), Duration::from_secs(10));
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(
        stderr,
        "wordwire: error: zero.txt is a character device; the store must be a regular file\n"
    );
}

#[test]
fn a_huge_store_is_refused_at_its_first_line_too_long_for_a_word() {
    let dir = tempfile::tempdir().unwrap();
    // 1 GiB, sparse: zeros and no LF after the first line. Reading it whole would take seconds
    // and a GiB of memory; the verdict needs 66 bytes.
    let file = std::fs::File::create(dir.path().join("w.txt")).unwrap();
    std::io::Write::write_all(&mut &file, b"ok\n").unwrap();
    file.set_len(1 << 30).unwrap();
    let (code, stderr) =
        run_binary_within(&serve_args("w.txt"), dir.path(), Duration::from_secs(10));
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(
        stderr,
        "wordwire: error: w.txt:2: line is longer than 64 bytes, so not a word (1-64 ASCII letters or digits); fix or remove it\n"
    );
}

#[test]
fn a_store_with_crlf_lines_is_refused_saying_they_end_in_cr() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("w.txt"), "good\r\nwords\r\n").unwrap();
    let (code, stderr) = run_binary(&serve_args("w.txt"), dir.path());
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.starts_with("wordwire: error: w.txt:1: line ends in CR"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn a_missing_directory_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr) = run_binary(&serve_args("nodir/x.txt"), dir.path());
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(
        stderr,
        "wordwire: error: cannot open the store nodir/x.txt: directory nodir does not exist\n"
    );
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
}

#[test]
fn a_start_that_fails_on_a_taken_port_leaves_no_file_behind() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr) = run_binary(&["serve", "--addr", &addr, "--store", "w.txt"], dir.path());
    assert_eq!(code, Some(1), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    // A store that was there before stays, words and lock file alike.
    std::fs::write(dir.path().join("w.txt"), "kept\n").unwrap();
    std::fs::write(dir.path().join("w.txt.lock"), "").unwrap();
    let (code, _) = run_binary(&["serve", "--addr", &addr, "--store", "w.txt"], dir.path());
    assert_eq!(code, Some(1));
    let kept = std::fs::read_to_string(dir.path().join("w.txt")).unwrap();
    assert_eq!(kept, "kept\n");
    assert!(dir.path().join("w.txt.lock").exists());
}

#[test]
fn a_write_failure_that_heals_needs_no_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("words.txt");
    std::fs::write(&store, "alpha\n").unwrap();
    let mut command = serve_command(&store, &[]);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        command.pre_exec(|| {
            // No write may grow a file past 6 bytes (EFBIG, as on a full disk) until the test
            // lifts the limit; the ignored SIGXFSZ disposition survives exec.
            let limit = libc::rlimit {
                rlim_cur: 6,
                rlim_max: libc::RLIM_INFINITY,
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
    let post = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbeta";
    client.send(post);
    assert_eq!(client.reply().status, 500, "{}", server.log_text());
    assert_eq!(std::fs::read_to_string(&store).unwrap(), "alpha\n");
    // The disk has room again: the very next writes succeed, without a restart.
    let unlimited = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: prlimit(2) on our own child with a valid limit; no old limit asked for.
    let rc = unsafe {
        libc::prlimit(
            server.child.id() as i32,
            libc::RLIMIT_FSIZE,
            &unlimited,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(rc, 0, "prlimit: {}", std::io::Error::last_os_error());
    client.send(post);
    let reply = client.reply();
    assert_eq!((reply.status, reply.body.as_str()), (200, "added beta\n"));
    client.send(b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nalpha gamma");
    assert_eq!(client.reply().status, 200);
    assert_eq!(std::fs::read_to_string(&store).unwrap(), "gamma\nbeta\n");
}

/// Sets or clears the immutable attribute of `path` (`chattr +i` / `-i`): the way the issue's
/// audit made a write fail before its first byte, and a truncate fail too.
fn set_immutable(path: &std::path::Path, on: bool) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    const FS_IMMUTABLE_FL: libc::c_int = 0x10;
    let file = std::fs::File::open(path)?;
    let mut flags: libc::c_int = 0;
    // SAFETY: FS_IOC_GETFLAGS/SETFLAGS read or write one int at the pointer; `file` is open.
    unsafe {
        if libc::ioctl(file.as_raw_fd(), libc::FS_IOC_GETFLAGS, &mut flags) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        flags = if on {
            flags | FS_IMMUTABLE_FL
        } else {
            flags & !FS_IMMUTABLE_FL
        };
        if libc::ioctl(file.as_raw_fd(), libc::FS_IOC_SETFLAGS, &flags) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Clears the immutable attribute again however the test ends, so the directory can go.
struct Mutable<'a>(&'a std::path::Path);

impl Drop for Mutable<'_> {
    fn drop(&mut self) {
        let _ = set_immutable(self.0, false);
    }
}

#[test]
fn a_write_refused_by_an_immutable_store_leaves_it_writable_once_the_flag_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("words.txt");
    std::fs::write(&store, "alpha\n").unwrap();
    let server = ServerProcess::spawn(serve_command(&store, &[]));
    let _guard = Mutable(&store);
    if let Err(error) = set_immutable(&store, true) {
        // Needs CAP_LINUX_IMMUTABLE and a file system with the flag (ext4, xfs, btrfs).
        eprintln!("chattr +i not possible here ({error}); the RLIMIT_FSIZE test covers healing");
        return;
    }
    let mut client = Client::connect(server.addr);
    let post = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbeta";
    client.send(post);
    let reply = client.reply();
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (500, "the store could not be read or written\n")
    );
    set_immutable(&store, false).unwrap();
    for (request, answer) in [
        (&post[..], "added beta\n"),
        (
            b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nalpha gamma",
            "replaced 1\n",
        ),
        (
            b"DELETE / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbeta",
            "deleted 1\n",
        ),
    ] {
        client.send(request);
        let reply = client.reply();
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (200, answer),
            "{}",
            server.log_text()
        );
    }
    assert_eq!(std::fs::read_to_string(&store).unwrap(), "gamma\n");
}

/// How many pages of the file at `path` are still only in the page cache (`None`: the kernel
/// has no cachestat(2)).
fn unsynced_pages(path: &std::path::Path) -> Option<u64> {
    wordwire::store::unsynced_pages(path).unwrap()
}

#[test]
fn the_binary_answers_a_write_only_once_it_is_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("words.txt");
    let server = ServerProcess::spawn(serve_command(&store, &[]));
    let mut client = Client::connect(server.addr);
    for (request, answer) in [
        (
            &b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nalpha"[..],
            "added alpha\n",
        ),
        (
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbeta",
            "added beta\n",
        ),
        (
            b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nbeta gamma",
            "replaced 1\n",
        ),
        (
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\ndelta",
            "added delta\n",
        ),
    ] {
        client.send(request);
        let reply = client.reply();
        assert_eq!((reply.status, reply.body.as_str()), (200, answer));
        // Nothing else writes the file between the answer and this look.
        let Some(unsynced) = unsynced_pages(&store) else {
            eprintln!("cachestat(2) missing (Linux < 6.5): fsync before answering is not checked");
            return;
        };
        assert_eq!(
            unsynced, 0,
            "answered {answer:?} with the store's pages still dirty"
        );
    }
    // The test of the test: with `--sync none` the pages of a POST are still dirty then.
    let other = dir.path().join("other.txt");
    let unsafe_server = ServerProcess::spawn(serve_command(&other, &["--sync", "none"]));
    let mut client = Client::connect(unsafe_server.addr);
    client.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nalpha");
    assert_eq!(client.reply().status, 200);
    assert!(
        unsynced_pages(&other) > Some(0),
        "cachestat cannot see a missing fsync"
    );
}

#[test]
fn credentials_in_the_environment_that_are_not_utf8_are_refused_not_ignored() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    // Ignored, they left the server on the lab pair although the operator had set credentials.
    let mut child = std::process::Command::new(crate::support::binary())
        .args(serve_args("words.txt"))
        .current_dir(dir.path())
        .env("WORDWIRE_USER", std::ffi::OsStr::from_bytes(b"bob\xff"))
        .env("WORDWIRE_PASSWORD", std::ffi::OsStr::from_bytes(b"pw\xfe"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("serve started with credentials it could not read");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let output = child.wait_with_output().unwrap();
    assert_eq!(
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).as_ref()
        ),
        (
            Some(1),
            "wordwire: error: WORDWIRE_USER is not valid UTF-8\n"
        )
    );
}
