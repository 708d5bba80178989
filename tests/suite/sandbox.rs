//! The box (`wordwire::sandbox`): hard-coded ports side by side, nothing outside
//! reachable, no process outliving `stop`, no signal, file or variable of the
//! caller's reachable from inside, port discovery, the write fault on the server only.
//!
//! These expect a kernel that gives this user user, network and PID namespaces and
//! Landlock (the project's machines do; `the_probe_reports_every_layer` says so
//! first when one is missing).

use std::collections::HashSet;
use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use wordwire::sandbox::{Sandbox, SandboxError, Seed, Spec};

const INIT: &str = env!("CARGO_BIN_EXE_wordwire");
const START: Duration = Duration::from_secs(10);

/// A server that hard-codes its port and answers every connection with the
/// contents of `name.txt` in its working directory, then closes.
const NAME_SERVER: &str = r#"
import socket
s = socket.socket()
s.bind(("0.0.0.0", 12345))
s.listen()
name = open("name.txt").read()
while True:
    c, _ = s.accept()
    c.sendall(name.encode())
    c.close()
"#;

fn spec(command: &str) -> Spec {
    Spec::new(INIT, command)
}

/// A submission directory holding `files`.
fn submission(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

fn read_all(sandbox: &Sandbox, addr: SocketAddr) -> String {
    let mut stream = sandbox.connect(addr, Duration::from_secs(5)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    text
}

/// Waits (bounded) for the command to exit and returns its stdout.
fn finished_stdout(sandbox: Sandbox) -> String {
    let deadline = Instant::now() + START;
    while sandbox.status().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(sandbox.status().unwrap().is_some(), "the command ended");
    let output = sandbox.stop();
    output.stdout.text()
}

/// Host pids whose environment holds `marker` (root reads every environ; an
/// unprivileged user reads its own, which is every box's here).
fn pids_with(marker: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for pid in wordwire::sandbox::proc::pids() {
        if let Ok(env) = std::fs::read(format!("/proc/{pid}/environ"))
            && env.split(|&b| b == 0).any(|v| v == marker.as_bytes())
        {
            found.push(pid);
        }
    }
    found
}

fn alive(pid: u32) -> bool {
    // A zombie is gone for our purposes: it runs nothing and holds nothing.
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit_once(')')
            .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
    })
}

fn box_root(sandbox: &Sandbox) -> PathBuf {
    sandbox.work_dir().parent().unwrap().to_path_buf()
}

#[test]
fn the_probe_reports_every_layer() {
    let protections = Sandbox::probe(Path::new(INIT)).as_ref().unwrap();
    assert!(
        protections.complete() && protections.user_ns && protections.mount_ns,
        "this machine gives fewer layers than these tests expect: {protections} {:?}",
        protections.notes
    );
    assert!(protections.process_limit, "{protections}");
    assert_eq!(
        protections.to_string(),
        format!(
            "namespaces user, net, uts, pid, mount; landlock ABI {}; rlimits (processes per box)",
            protections.landlock.unwrap().abi
        )
    );
}

#[test]
fn four_boxes_serve_the_same_hard_coded_port_at_once() {
    let dirs: Vec<_> = (0..4)
        .map(|i| {
            submission(&[
                ("server.py", NAME_SERVER),
                ("name.txt", &format!("box {i}")),
            ])
        })
        .collect();
    let boxes: Vec<Sandbox> = dirs
        .iter()
        .map(|dir| {
            let mut spec = spec("python3 server.py");
            spec.source = Some(dir.path().to_path_buf());
            Sandbox::spawn(&spec).unwrap()
        })
        .collect();
    for (i, sandbox) in boxes.iter().enumerate() {
        let listener = sandbox.wait_listener(None, START).unwrap();
        assert_eq!(listener.addr, "0.0.0.0:12345".parse().unwrap());
        assert_eq!(read_all(sandbox, listener.loopback()), format!("box {i}"));
    }
    // Each again, now that all four listen at once.
    for (i, sandbox) in boxes.iter().enumerate() {
        assert_eq!(
            read_all(sandbox, "127.0.0.1:12345".parse().unwrap()),
            format!("box {i}")
        );
    }
    for sandbox in boxes {
        let root = box_root(&sandbox);
        sandbox.stop();
        assert!(!root.exists(), "{} is removed", root.display());
    }
}

#[test]
fn a_listener_on_the_hosts_loopback_is_not_reachable_from_inside() {
    let host = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = host.local_addr().unwrap().port();
    let probe = format!(
        "python3 -c 'import socket\ntry:\n socket.create_connection((\"127.0.0.1\", {port}), 2); print(\"reached\")\nexcept OSError as e: print(\"refused\", e.errno)'"
    );
    let sandbox = Sandbox::spawn(&spec(&probe)).unwrap();
    // The helper connects from inside the box too: the host's port is not there.
    let err = sandbox
        .connect(host.local_addr().unwrap(), Duration::from_secs(1))
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");
    let stdout = finished_stdout(sandbox);
    assert!(stdout.starts_with("refused"), "{stdout}");
    host.set_nonblocking(true).unwrap();
    assert!(
        host.accept().is_err(),
        "nothing reached the host's listener"
    );
}

#[test]
fn detached_and_double_forked_processes_are_gone_after_stop() {
    let marker = format!("BOX_MARKER=detached-{}", std::process::id());
    let daemon = "python3 -c 'import os,time\nif os.fork(): os._exit(0)\nos.setsid()\nif os.fork(): os._exit(0)\ntime.sleep(60)'";
    let mut spec = spec(&format!(
        "setsid sleep 60 & {daemon}; echo started; exec sleep 60"
    ));
    spec.env.push(
        marker
            .split_once('=')
            .map(|(k, v)| (k.into(), v.into()))
            .unwrap(),
    );
    let sandbox = Sandbox::spawn(&spec).unwrap();
    // The shell, the detached sleep and the daemon: three processes carry the marker.
    let deadline = Instant::now() + START;
    let mut pids = pids_with(&marker);
    while (pids.len() < 3 || !sandbox.output().stdout.text().contains("started"))
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(10));
        pids = pids_with(&marker);
    }
    assert!(pids.len() >= 3, "{pids:?}");
    let began = Instant::now();
    let output = sandbox.stop();
    // The detached sleep held the output pipes: stop does not wait on them.
    assert!(
        began.elapsed() < Duration::from_secs(2),
        "{:?}",
        began.elapsed()
    );
    assert_eq!(output.stdout.text(), "started\n");
    let left: Vec<u32> = pids.into_iter().filter(|&pid| alive(pid)).collect();
    assert!(left.is_empty(), "still running: {left:?}");
    assert!(pids_with(&marker).is_empty());
}

#[test]
fn killing_the_parent_or_everyone_from_inside_touches_nothing_outside() {
    let neighbour_dir = submission(&[("server.py", NAME_SERVER), ("name.txt", "neighbour")]);
    let mut neighbour = spec("python3 server.py");
    neighbour.source = Some(neighbour_dir.path().to_path_buf());
    let neighbour = Sandbox::spawn(&neighbour).unwrap();
    let listener = neighbour.wait_listener(None, START).unwrap();

    let hostile = Sandbox::spawn(&spec(
        "echo parent $PPID; kill -KILL $PPID; kill -9 -1; sleep 0.2; echo still here",
    ))
    .unwrap();
    let stdout = finished_stdout(hostile);
    // PID 1 of the box ignores the signal, and -1 reaches only the box.
    assert_eq!(stdout, "parent 1\nstill here\n");
    assert_eq!(read_all(&neighbour, listener.loopback()), "neighbour");
    neighbour.stop();
}

#[test]
fn the_callers_environment_and_files_are_not_visible() {
    // The test binary's own environment holds cargo's variables, HOME among them.
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let mut spec = spec(&format!(
        "id -u; cat /etc/shadow >/dev/null 2>&1 && echo shadow-read; env | cut -d= -f1 | sort; cat /proc/{}/environ >/dev/null 2>&1 && echo parent-env-read; ls {home} >/dev/null 2>&1 && echo home-read; ls /proc | grep -c '^[0-9]'",
        std::process::id()
    ));
    spec.env.push(("WORDWIRE_USER".into(), "lab".into()));
    let sandbox = Sandbox::spawn(&spec).unwrap();
    let stdout = finished_stdout(sandbox);
    let mut lines: Vec<&str> = stdout.lines().collect();
    // A root grader's box runs as nobody; anyone else's as themselves.
    let me = rustix::process::getuid().as_raw();
    let expected = if me == 0 {
        wordwire::sandbox::NOBODY
    } else {
        me
    };
    assert_eq!(lines.remove(0), expected.to_string());
    let processes: usize = lines.pop().unwrap().parse().unwrap();
    // The box's /proc shows its own processes only: sh, ls and grep (and the init).
    assert!(processes <= 5, "{processes} processes visible: {stdout}");
    let names: HashSet<&str> = lines.into_iter().collect();
    let allowed: HashSet<&str> = HashSet::from([
        "PATH",
        "HOME",
        "LANG",
        "TMPDIR",
        "PWD",
        "SHLVL",
        "_",
        "WORDWIRE_USER",
    ]);
    assert!(names.is_subset(&allowed), "{names:?}");
    assert!(names.contains("WORDWIRE_USER"), "{names:?}");
}

#[test]
fn writing_outside_the_copy_fails_and_inside_works() {
    // Outside /tmp, which the box sees as its own: Landlock, not the mount, refuses these.
    let outside = tempfile::tempdir_in(crate::support::outside_tmp()).unwrap();
    let sibling = tempfile::tempdir_in(crate::support::outside_tmp()).unwrap();
    std::fs::write(sibling.path().join("secret.txt"), "sibling's").unwrap();
    // Open to everyone, so that the file modes refuse nothing (a root grader's box
    // runs as nobody): what refuses is Landlock.
    for dir in [outside.path(), sibling.path()] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    let script = format!(
        "echo x > {out}/planted && echo wrote-outside; cat {sib}/secret.txt 2>/dev/null; echo mine > mine.txt && cat mine.txt; echo t > /tmp/t && echo tmp-ok",
        out = outside.path().display(),
        sib = sibling.path().display()
    );
    let sandbox = Sandbox::spawn(&spec(&script)).unwrap();
    let work = sandbox.work_dir().to_path_buf();
    let deadline = Instant::now() + START;
    while sandbox.status().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        std::fs::read_to_string(work.join("mine.txt")).unwrap(),
        "mine\n"
    );
    let output = sandbox.stop();
    assert_eq!(output.stdout.text(), "mine\ntmp-ok\n");
    assert!(
        output.stderr.text().contains("Permission denied"),
        "{}",
        output.stderr.text()
    );
    assert!(!outside.path().join("planted").exists());
}

#[test]
fn port_discovery_finds_any_and_loopback_listeners_of_both_families() {
    let server = r#"
import socket, time
a = socket.socket(); a.bind(("0.0.0.0", 12345)); a.listen()
b = socket.socket(); b.bind(("127.0.0.1", 8000)); b.listen()
c = socket.socket(socket.AF_INET6)
c.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
c.bind(("::", 9999)); c.listen()
d = socket.socket(); d.bind((socket.gethostname(), 7000)); d.listen()
print("up", flush=True)
while True:
    for s in (a, b, c, d):
        s.setblocking(False)
        try:
            conn, _ = s.accept(); conn.sendall(b"%d" % s.getsockname()[1]); conn.close()
        except BlockingIOError:
            pass
    time.sleep(0.01)
"#;
    let dir = submission(&[("server.py", server)]);
    let mut spec = spec("python3 server.py");
    spec.source = Some(dir.path().to_path_buf());
    let sandbox = Sandbox::spawn(&spec).unwrap();
    sandbox.wait_listener(Some(7000), START).unwrap();
    let mut found: Vec<String> = sandbox
        .listeners()
        .unwrap()
        .iter()
        .map(|l| l.addr.to_string())
        .collect();
    found.sort();
    // The box's host name is localhost, so a server that binds it binds loopback.
    assert_eq!(
        found,
        [
            "0.0.0.0:12345",
            "127.0.0.1:7000",
            "127.0.0.1:8000",
            "[::]:9999"
        ]
    );
    for listener in sandbox.listeners().unwrap() {
        assert_eq!(
            read_all(&sandbox, listener.loopback()),
            listener.addr.port().to_string()
        );
    }
    sandbox.stop();
}

#[test]
fn the_file_size_fault_hits_the_server_and_not_the_step_before_it() {
    // The build step writes 64 KiB; the server is then limited to 1000 bytes.
    let server = r#"
import socket, errno
s = socket.socket(); s.bind(("127.0.0.1", 12345)); s.listen()
while True:
    c, _ = s.accept()
    try:
        with open("words.txt", "ab") as f:
            f.write(b"x" * 5000)
        c.sendall(b"written")
    except OSError as e:
        c.sendall(errno.errorcode[e.errno].encode())
    c.close()
"#;
    let dir = submission(&[("server.py", server)]);
    let mut spec = spec(
        "dd if=/dev/zero of=build.out bs=1024 count=64 2>/dev/null && echo {store} && python3 server.py",
    );
    spec.source = Some(dir.path().to_path_buf());
    spec.seed = Some(Seed {
        name: "words.txt".into(),
        bytes: b"alpha\n".to_vec(),
    });
    let sandbox = Sandbox::spawn(&spec).unwrap();
    let store = sandbox.store().unwrap().to_path_buf();
    assert_eq!(store, sandbox.work_dir().join("words.txt"));
    let listener = sandbox.wait_listener(None, START).unwrap();
    assert_eq!(
        std::fs::metadata(sandbox.work_dir().join("build.out"))
            .unwrap()
            .len(),
        64 * 1024
    );
    sandbox.limit_file_size(listener.pid, 1000).unwrap();
    assert_eq!(read_all(&sandbox, listener.loopback()), "EFBIG");
    assert_eq!(
        sandbox.output().stdout.text(),
        format!("{}\n", store.display())
    );
    // A process that is not the box's is refused.
    let err = sandbox
        .limit_file_size(std::process::id(), 1000)
        .unwrap_err();
    assert!(err.to_string().contains("not in the box"), "{err}");
    sandbox.stop();
}

#[test]
fn a_command_that_exits_is_reported_and_its_output_capped() {
    let mut spec = spec("head -c 100000 /dev/zero | tr '\\0' x; echo oops >&2; exit 3");
    spec.output_keep = 100;
    let sandbox = Sandbox::spawn(&spec).unwrap();
    let err = sandbox
        .wait_listener(None, START)
        .expect_err("nothing listens");
    assert!(
        matches!(err, SandboxError::ExitedBeforeListening(s) if s.code() == Some(3)),
        "{err}"
    );
    let output = sandbox.stop();
    assert_eq!(output.stdout.total, 100_000);
    assert_eq!(
        (output.stdout.head.len(), output.stdout.tail.len()),
        (100, 100)
    );
    assert_eq!(output.stderr.text(), "oops\n");
}

#[test]
fn a_dropped_box_leaves_no_process_and_no_directory() {
    let marker = format!("BOX_MARKER=dropped-{}", std::process::id());
    let mut spec = spec("sleep 60 & exec sleep 60");
    spec.env.push(
        marker
            .split_once('=')
            .map(|(k, v)| (k.into(), v.into()))
            .unwrap(),
    );
    let sandbox = Sandbox::spawn(&spec).unwrap();
    let root = box_root(&sandbox);
    let deadline = Instant::now() + START;
    while pids_with(&marker).len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let pids = pids_with(&marker);
    assert_eq!(pids.len(), 2, "{pids:?}");
    drop(sandbox);
    assert!(pids.iter().all(|&pid| !alive(pid)), "{pids:?}");
    assert!(!root.exists());
}

#[test]
fn a_killer_from_another_thread_ends_the_box() {
    let sandbox = Sandbox::spawn(&spec("exec sleep 60")).unwrap();
    let killer = sandbox.killer();
    std::thread::spawn(move || killer.kill()).join().unwrap();
    let deadline = Instant::now() + START;
    // The helper answers still; the init and the command are gone.
    while sandbox.status().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let began = Instant::now();
    sandbox.stop();
    assert!(began.elapsed() < Duration::from_secs(2));
}

/// Set in the child process of `a_killed_grader_leaves_no_box_behind`.
const GRADER_ROLE: &str = "WORDWIRE_SANDBOX_TEST_GRADER";

/// Only a role: does its work when `a_killed_grader_leaves_no_box_behind` runs this
/// binary with `GRADER_ROLE` set, and passes at once otherwise.
#[test]
fn grader_role_for_a_killed_grader() {
    let Ok(marker) = std::env::var(GRADER_ROLE) else {
        return;
    };
    let mut spec = spec("setsid sleep 60 & exec sleep 60");
    spec.env.push(("BOX_MARKER".into(), marker));
    let sandbox = Sandbox::spawn(&spec).unwrap();
    println!("ROOT {}", box_root(&sandbox).display());
    std::thread::sleep(Duration::from_secs(60));
}

#[test]
fn a_killed_grader_leaves_no_box_behind() {
    use std::io::BufRead;
    let marker = format!("killed-grader-{}", std::process::id());
    let mut grader = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "sandbox::grader_role_for_a_killed_grader",
            "--exact",
            "--nocapture",
        ])
        .env(GRADER_ROLE, &marker)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(grader.stdout.take().unwrap()).lines();
    let root = loop {
        let line = lines.next().expect("the grader names its box").unwrap();
        if let Some(root) = line.strip_prefix("ROOT ") {
            break PathBuf::from(root);
        }
    };
    let marker = format!("BOX_MARKER={marker}");
    let deadline = Instant::now() + START;
    while pids_with(&marker).len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let pids = pids_with(&marker);
    assert_eq!(pids.len(), 2, "{pids:?}");
    assert!(root.exists());
    grader.kill().unwrap();
    grader.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while (root.exists() || pids.iter().any(|&pid| alive(pid))) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(pids.iter().all(|&pid| !alive(pid)), "{pids:?}");
    assert!(
        !root.exists(),
        "{} is removed by the helper",
        root.display()
    );
}

#[test]
fn without_namespaces_the_box_still_copies_confines_and_ends_by_ancestry() {
    // A server on a port the kernel picks (no network namespace: ports are shared).
    let server = "import socket\ns = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\nwhile True:\n    c, _ = s.accept(); c.sendall(b'host'); c.close()\n";
    let dir = submission(&[("server.py", server)]);
    let marker = format!("BOX_MARKER=no-namespaces-{}", std::process::id());
    let mut spec = spec("setsid sleep 60 & python3 server.py");
    spec.source = Some(dir.path().to_path_buf());
    spec.namespaces = false;
    spec.env.push(
        marker
            .split_once('=')
            .map(|(k, v)| (k.into(), v.into()))
            .unwrap(),
    );
    let sandbox = Sandbox::spawn(&spec).unwrap();
    let protections = sandbox.protections().clone();
    assert!(!protections.net_ns && !protections.pid_ns, "{protections}");
    assert!(protections.landlock.is_some(), "{protections}");
    let listener = sandbox.wait_listener(None, START).unwrap();
    assert_eq!(read_all(&sandbox, listener.loopback()), "host");
    let pids = pids_with(&marker);
    assert!(pids.len() >= 3, "sh, sleep and python3: {pids:?}");
    sandbox.stop();
    assert!(pids.iter().all(|&pid| !alive(pid)), "{pids:?}");
}
