//! `wordwire grade` against hostile submissions: what a submission sends or leaves is
//! capped, read without following links or opening FIFOs for ever, and shown with its
//! control characters escaped; reports survive Ctrl-C, are written through no planted
//! link, and `--resume` grades only what is missing. Each run has an honest sibling
//! that keeps its exact score.

use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::grading::{cut_suite, processes_with};
use crate::support::{binary, impls, python3};

/// Two transcripts an honest server passes, one of them with `expect-store`.
const SUITE: [&str; 2] = ["methods/post-appends-word", "methods/other-path-is-404"];

/// A submission directory named by the raw bytes `name`, holding `wordwire-cmd` (unless
/// `command` is `None`) and `files` from tests/impls; returns it.
fn submission(subs: &Path, name: &[u8], command: Option<&str>, files: &[&str]) -> PathBuf {
    let dir = subs.join(OsStr::from_bytes(name));
    std::fs::create_dir_all(&dir).unwrap();
    for file in files {
        std::fs::copy(impls().join(file), dir.join(file)).unwrap();
    }
    if let Some(command) = command {
        std::fs::write(dir.join("wordwire-cmd"), format!("{command}\n")).unwrap();
    }
    dir
}

fn honest() -> String {
    format!(
        "{} wordserver.py --addr {{addr}} --store {{store}}",
        python3()
    )
}

/// A server that answers every request with a 64 MiB body, sent from one 64 KiB buffer.
const HUGE: &str = r#"
import socket, sys
host, port = sys.argv[1].rsplit(":", 1)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((host, int(port)))
s.listen(16)
chunk = b"x" * 65536
while True:
    c, _ = s.accept()
    try:
        c.recv(65536)
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (64 << 20))
        for _ in range(1024):
            c.sendall(chunk)
    except OSError:
        pass
    c.close()
"#;

/// What one `wordwire` run did: its exit code, stdout, stderr and the peak resident
/// memory of it and the processes it waited for, in KiB.
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    max_rss_kib: i64,
}

/// Runs `command` to its end (killed past `limit`), measuring its memory with wait4(2).
// wait4 reaps the child, not `Child::wait`.
#[allow(clippy::zombie_processes)]
fn run_measured(mut command: Command, limit: Duration) -> Ran {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("wordwire runs");
    let pid = child.id() as libc::pid_t;
    let read = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = pipe.read_to_end(&mut text);
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let out = read(Box::new(child.stdout.take().unwrap()));
    let err = read(Box::new(child.stderr.take().unwrap()));
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watchdog = {
        let done = done.clone();
        std::thread::spawn(move || {
            let deadline = Instant::now() + limit;
            while Instant::now() < deadline {
                if done.load(std::sync::atomic::Ordering::SeqCst) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            // SAFETY: kill(2) on our own child, not yet waited for (`done` is false).
            unsafe { libc::kill(pid, libc::SIGKILL) };
        })
    };
    let mut status = 0;
    // SAFETY: zeroed rusage is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: wait4 on our own child, with pointers to locals that outlive the call.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let _ = watchdog.join();
    assert_eq!(waited, pid, "wait4 failed");
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    Ran {
        code,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
        max_rss_kib: usage.ru_maxrss,
    }
}

#[test]
fn hostile_submissions_are_capped_refused_and_escaped_and_the_honest_one_keeps_its_score() {
    let work = tempfile::tempdir().unwrap();
    let suite = cut_suite(work.path(), &SUITE);
    let subs = work.path().join("subs");
    submission(&subs, b"a-honest", Some(&honest()), &["wordserver.py"]);
    // Its store is a link to /dev/zero when `expect-store` reads it; it keeps its words elsewhere.
    submission(
        &subs,
        b"b-devzero",
        Some(&format!(
            "ln -sf /dev/zero {{store}} && exec {} wordserver.py --addr {{addr}} --store data-$$",
            python3()
        )),
        &["wordserver.py"],
    );
    let big = submission(
        &subs,
        b"c-huge",
        Some(&format!("exec {} huge.py {{addr}}", python3())),
        &[],
    );
    std::fs::write(big.join("huge.py"), HUGE).unwrap();
    // A FIFO that no one writes: opening it for reading would block for ever.
    let fifo = submission(&subs, b"d-fifo", None, &[]);
    let made = Command::new("mkfifo")
        .arg(fifo.join("wordwire-cmd"))
        .status()
        .unwrap();
    assert!(made.success());
    // Names that are not UTF-8, or that hold a terminal escape (a clipboard write):
    // no command, so they are graded at once as not set up.
    submission(&subs, b"e-\xff\xfe", None, &[]);
    submission(&subs, b"f-\x1b]52;c;cm0gLXJmIH4K\x07", None, &[]);
    // Links planted in --out, to files that must stay as they are.
    let out = work.path().join("grades");
    let victim = work.path().join("victim");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::create_dir_all(&victim).unwrap();
    for name in ["a-honest.html", "summary.csv"] {
        std::fs::write(victim.join(name), "precious").unwrap();
        std::os::unix::fs::symlink(victim.join(name), out.join(name)).unwrap();
    }
    let mut command = Command::new(binary());
    command
        .arg("grade")
        .arg(&subs)
        .arg("--suite")
        .arg(&suite)
        .arg("--out")
        .arg(&out)
        .args(["--jobs", "4", "--transcript-timeout", "30"]);
    let ran = run_measured(command, Duration::from_secs(240));
    let all = format!("{}\n{}", ran.stdout, ran.stderr);
    assert_eq!(ran.code, Some(1), "{all}");
    // A 64 MiB answer was cut at 1 MiB (c-huge's report says so, below): the grader
    // stayed far from the 700 MB an uncut answer took it to. The figure is the largest of
    // the grader and every process it waited for (the boxes' helpers among them), which
    // under a loaded machine was seen at 130 MB, so the bound is loose.
    assert!(
        ran.max_rss_kib < 256 * 1024,
        "peak {} KiB: {all}",
        ran.max_rss_kib
    );
    let csv = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(
        rows[0],
        "submission,methods,score,must_failures,should_failures,skipped,error"
    );
    assert_eq!(rows[1], "a-honest,2/2,100,0,0,0,", "{csv}");
    assert!(rows[2].starts_with("b-devzero,1/2,50,1,"), "{csv}");
    assert!(rows[3].starts_with("c-huge,0/2,0,2,"), "{csv}");
    assert!(
        rows[4].starts_with("d-fifo,0/0,0,1,0,0,")
            && rows[4].contains("wordwire-cmd: it is not a regular file (a FIFO); it must hold"),
        "{csv}"
    );
    assert!(rows[5].starts_with("e-\\xFF\\xFE,"), "{csv}");
    assert!(
        rows[6].starts_with("f-\\x1B]52;c;cm0gLXJmIH4K\\x07,"),
        "{csv}"
    );
    assert_eq!(rows.len(), 7, "{csv}");
    // The planted links were replaced, not written through.
    for name in ["a-honest.html", "summary.csv"] {
        assert_eq!(
            std::fs::read_to_string(victim.join(name)).unwrap(),
            "precious"
        );
        assert!(std::fs::symlink_metadata(out.join(name)).unwrap().is_file());
    }
    let page = |name: &str| std::fs::read_to_string(out.join(name)).unwrap();
    assert!(page("a-honest.html").contains("Score <b>100%</b>"));
    let devzero = page("b-devzero.html");
    assert!(
        devzero.contains("cannot read the store file")
            && devzero.contains("it is a symbolic link (not followed)"),
        "{devzero}"
    );
    let huge = page("c-huge.html");
    assert!(
        huge.contains("the response is over 1048576 bytes and has not ended"),
        "{huge}"
    );
    // Bounded: a few KiB of received text per failure, not 64 MiB.
    assert!(huge.len() < 64 << 10, "c-huge.html is {} bytes", huge.len());
    // The files are named by the escaped names, and nothing raw reaches a terminal.
    assert!(out.join("e-\\xFF\\xFE.html").is_file());
    assert!(out.join("f-\\x1B]52;c;cm0gLXJmIH4K\\x07.html").is_file());
    assert!(!all.contains('\x1b') && !all.contains('\x07'), "{all:?}");
    assert!(
        ran.stdout.contains("f-\\x1B]52;c;cm0gLXJmIH4K\\x07"),
        "{all}"
    );
    assert!(ran.stdout.contains("e-\\xFF\\xFE"), "{all}");
    // No temporary file is left in --out.
    let left: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.as_bytes().starts_with(b"."))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// Sends SIGINT to a running `grader` (stdout and stderr piped) and waits for it, at
/// most 30 s: its exit status, stdout and stderr.
fn interrupt(grader: &mut std::process::Child) -> (std::process::ExitStatus, String, String) {
    // SAFETY: kill(2) on our own child, still running (not waited for).
    unsafe { libc::kill(grader.id() as libc::pid_t, libc::SIGINT) };
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = grader.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = grader.kill();
            panic!("wordwire grade did not end within 30 s of SIGINT");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let read = |pipe: Option<Box<dyn Read>>| {
        let mut text = String::new();
        pipe.expect("piped").read_to_string(&mut text).unwrap();
        text
    };
    let stdout = read(grader.stdout.take().map(|p| Box::new(p) as Box<dyn Read>));
    let stderr = read(grader.stderr.take().map(|p| Box::new(p) as Box<dyn Read>));
    (status, stdout, stderr)
}

/// True while the process `pid` exists (a zombie not yet reaped counts as gone).
fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

/// The PIDs written to `file`, one a line.
fn pids(file: &Path) -> Vec<String> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn ctrl_c_kills_every_running_submission_keeps_the_finished_reports_and_resume_grades_the_rest() {
    let work = tempfile::tempdir().unwrap();
    let suite = cut_suite(work.path(), &SUITE);
    let subs = work.path().join("subs");
    let out = work.path().join("grades");
    submission(&subs, b"a-honest", Some(&honest()), &["wordserver.py"]);
    // Never listen; each start writes its shell's PID and a background child's.
    let hang = "sleep 1000 & echo $! >> pids; echo $$ >> pids; exec sleep 1000";
    for name in ["b-hang", "c-hang"] {
        submission(&subs, name.as_bytes(), Some(hang), &[]);
    }
    // The grader's temporary directories (the stores) go here, to be counted.
    let tmp = work.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let mut grader = Command::new(binary())
        .arg("grade")
        .arg(&subs)
        .arg("--suite")
        .arg(&suite)
        .arg("--out")
        .arg(&out)
        // Two jobs: the honest one's two transcripts first, then b-hang's two (c-hang
        // waits for a job), so that b-hang starts only once a-honest is graded and is
        // interrupted long before its start times out, however loaded the machine.
        .args(["--jobs", "2", "--transcript-timeout", "120"])
        // Without the box: the PIDs the submissions write are the host's, in their own
        // directory, and only process groups stand between them and a leak (the box's
        // own kill at Ctrl-C is the same `Watch::kill`, tested in boxed.rs and sandbox.rs).
        .arg("--no-box")
        .env("TMPDIR", &tmp)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("wordwire runs");
    // Until the honest submission is graded and both of b-hang's transcripts have started.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !(out.join("a-honest.html").is_file() && pids(&subs.join("b-hang/pids")).len() >= 4) {
        assert!(Instant::now() < deadline, "the run did not get going");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (status, stdout, stderr) = interrupt(&mut grader);
    assert_eq!(status.code(), Some(130), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("stopped by SIGINT (Ctrl-C): the running submissions were killed; 1 of 3 graded, their reports and summary.csv are in "),
        "{stderr}"
    );
    assert!(
        stderr.contains("\nnot graded: b-hang, c-hang\n"),
        "{stderr}"
    );
    // Every process a submission started is gone.
    let started: Vec<String> = ["b-hang", "c-hang"]
        .iter()
        .flat_map(|n| pids(&subs.join(n).join("pids")))
        .collect();
    assert!(started.len() >= 4, "{started:?}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while started.iter().any(|p| alive(p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let left: Vec<&String> = started.iter().filter(|p| alive(p)).collect();
    assert!(left.is_empty(), "still running: {left:?} of {started:?}");
    // No temporary directory left behind.
    let temps: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
    assert!(temps.is_empty(), "{temps:?}");
    // What finished is kept; what did not is not reported.
    let csv = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    assert_eq!(
        csv,
        "submission,methods,score,must_failures,should_failures,skipped,error\r\na-honest,2/2,100,0,0,0,\r\n"
    );
    assert!(!out.join("b-hang.html").exists());

    // The hanging ones mended, --resume grades them and leaves the honest one as it was.
    std::fs::write(out.join("a-honest.html"), "the earlier report").unwrap();
    for name in ["b-hang", "c-hang"] {
        submission(&subs, name.as_bytes(), Some(&honest()), &["wordserver.py"]);
    }
    let resumed = Command::new(binary())
        .arg("grade")
        .arg(&subs)
        .arg("--suite")
        .arg(&suite)
        .arg("--out")
        .arg(&out)
        .arg("--resume")
        .env("TMPDIR", &tmp)
        .output()
        .expect("wordwire runs");
    let stdout = String::from_utf8_lossy(&resumed.stdout);
    let stderr = String::from_utf8_lossy(&resumed.stderr);
    assert_eq!(resumed.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("--resume: 1 submission with a report in"),
        "{stderr}"
    );
    assert!(!stdout.contains("a-honest"), "{stdout}");
    assert_eq!(
        std::fs::read_to_string(out.join("a-honest.html")).unwrap(),
        "the earlier report"
    );
    let csv = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    assert_eq!(
        csv,
        "submission,methods,score,must_failures,should_failures,skipped,error\r\n\
         a-honest,2/2,100,0,0,0,\r\n\
         b-hang,2/2,100,0,0,0,\r\n\
         c-hang,2/2,100,0,0,0,\r\n"
    );
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
}

#[test]
fn record_max_bytes_stops_the_recording_and_says_so() {
    use std::io::Write as _;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("capped.transcript");
    let mut command = Command::new(binary());
    command
        .args(["record", "--listen", "127.0.0.1:0", "--max-bytes", "300"])
        .arg("-o")
        .arg(&out)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut recorder = crate::support::ServerProcess::spawn(command);
    let stream = std::net::TcpStream::connect(recorder.addr).unwrap();
    let mut conn = wordwire::client::ResponseReader::new(stream);
    conn.get_ref()
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    // Each exchange is about 200 bytes: the second passes 300, and no Ctrl-C is needed.
    for _ in 0..2 {
        conn.get_mut()
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        // The relay passes every byte on, recorded or not.
        let status = conn.read_response(false).unwrap().status;
        assert!((200..500).contains(&status), "{status}");
    }
    assert_eq!(recorder.wait_exit(Duration::from_secs(10)), Some(0));
    let said = recorder.wait_for_log_line("--max-bytes");
    assert!(
        said.starts_with("--max-bytes 300 reached: stopped recording after ")
            && said.ends_with("bytes; the transcript holds what came before"),
        "{said}"
    );
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        text.contains(
            "# The recording stopped at 300 bytes (--max-bytes): what came after is not here.\n"
        ),
        "{text}"
    );
    // Two answers were relayed; the second, past the limit, is not recorded.
    assert_eq!(text.matches("\nexpect a\n").count(), 1, "{text}");
}

#[test]
fn ctrl_c_in_a_box_leaves_no_process_of_the_submissions_and_no_temporary_directory() {
    let work = tempfile::tempdir().unwrap();
    let suite = cut_suite(work.path(), &SUITE);
    let subs = work.path().join("subs");
    let out = work.path().join("grades");
    // A number no other process on the machine sleeps for: how its processes are found.
    let marker = format!("{}.{}", 1000 + std::process::id() % 1000, 7);
    let hang = format!("sleep {marker} & setsid sleep {marker} & exec sleep {marker}");
    submission(&subs, b"b-hang", Some(&hang), &[]);
    let tmp = work.path().join("tmp");
    let mut grader = grade_in_tmp(&subs, &suite, &out, &tmp, &["--jobs", "2"]);
    // Both transcripts' boxes hold their three sleeps.
    await_processes(&mut grader, &marker, 6);
    let _ = interrupted_leaving_nothing(&mut grader, "b-hang", &marker, &tmp);
}

/// `wordwire grade SUBS --suite SUITE --out OUT --transcript-timeout 120 ARGS...`
/// started with `tmp` (made here) as its TMPDIR, its output piped.
fn grade_in_tmp(
    subs: &Path,
    suite: &Path,
    out: &Path,
    tmp: &Path,
    args: &[&str],
) -> std::process::Child {
    std::fs::create_dir_all(tmp).unwrap();
    Command::new(binary())
        .arg("grade")
        .arg(subs)
        .arg("--suite")
        .arg(suite)
        .arg("--out")
        .arg(out)
        .args(["--transcript-timeout", "120"])
        .args(args)
        .env("TMPDIR", tmp)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("wordwire runs")
}

/// Waits (up to 60 s) until `count` processes have `marker` in their command line;
/// past that kills `run` and fails.
fn await_processes(run: &mut std::process::Child, marker: &str, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while processes_with(marker).len() < count {
        if Instant::now() > deadline {
            let _ = run.kill();
            panic!(
                "not {count} processes with {marker} after 60 s: {:?}",
                processes_with(marker)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Interrupts `grader` (Ctrl-C), which must exit 130 naming `name` not graded, and
/// then leave no process whose command line holds `marker` and nothing in `tmp`
/// (its TMPDIR), each within 5 s. Returns what it printed, stdout and stderr.
fn interrupted_leaving_nothing(
    grader: &mut std::process::Child,
    name: &str,
    marker: &str,
    tmp: &Path,
) -> (String, String) {
    let (status, stdout, stderr) = interrupt(grader);
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains(&format!("\nnot graded: {name}\n")),
        "{stderr}"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while !processes_with(marker).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(processes_with(marker), Vec::<u32>::new(), "still running");
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::fs::read_dir(tmp).unwrap().next().is_some() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let temps: Vec<_> = std::fs::read_dir(tmp).unwrap().collect();
    assert!(temps.is_empty(), "{temps:?}");
    (stdout, stderr)
}

/// Ctrl-C while servers started ahead are alive (`--jobs 1 --ahead 2`: after the
/// first, short transcript, a long one plays while the two after it are started
/// and wait) stops every box, theirs too, and leaves no temporary directory.
#[test]
fn ctrl_c_with_servers_started_ahead_leaves_no_process_and_no_temporary_directory() {
    use crate::grading::{BOX_PYTHON, named_transcript};
    let work = tempfile::tempdir().unwrap();
    let suite = work.path().join("suite").join("methods");
    std::fs::create_dir_all(&suite).unwrap();
    // Played s1, l1, l2, l3 (a short one first, `grading::ahead::play_order`).
    named_transcript(&suite, "s1", None);
    for name in ["l1", "l2", "l3"] {
        named_transcript(&suite, name, Some(30_000));
    }
    let subs = work.path().join("subs");
    let out = work.path().join("grades");
    // A number no other process on the machine sleeps for: how its processes are found.
    let marker = format!("{}.{}", 1000 + std::process::id() % 1000, 9);
    let command = format!(
        "sleep {marker} & exec {BOX_PYTHON} wordserver.py --addr {{addr}} --store {{store}}"
    );
    submission(&subs, b"ahead", Some(&command), &["wordserver.py"]);
    let tmp = work.path().join("tmp");
    let suite = work.path().join("suite");
    let mut grader = grade_in_tmp(&subs, &suite, &out, &tmp, &["--jobs", "1", "--ahead", "2"]);
    // l1 plays; l2 and l3 were started ahead: three boxes alive at once.
    await_processes(&mut grader, &marker, 3);
    let (stdout, stderr) = interrupted_leaving_nothing(&mut grader, "ahead", &marker, &tmp);
    // Nothing was graded: no table, and no report is promised.
    assert!(
        stderr.contains("none of 1 was graded yet, so no report was written"),
        "{stderr}"
    );
    assert!(!stdout.contains("submission"), "{stdout}");
    assert!(!out.join("summary.csv").exists());
}

/// Ctrl-C stops `replay --target-cmd --no-box` and every server it started, the one
/// playing and those started ahead: each leads a process group of its own, which the
/// terminal's signal does not reach. Exit 130, and it says so.
#[test]
fn ctrl_c_stops_a_no_box_replay_and_every_server_it_started() {
    use crate::grading::named_transcript;
    let work = tempfile::tempdir().unwrap();
    let suite = work.path().join("suite");
    std::fs::create_dir_all(&suite).unwrap();
    named_transcript(&suite, "s1", None);
    for name in ["l1", "l2", "l3"] {
        named_transcript(&suite, name, Some(30_000));
    }
    let marker = format!("{}.{}", 1000 + std::process::id() % 1000, 11);
    let command = format!(
        "sleep {marker} & exec {} {} --addr {{addr}} --store {{store}}",
        python3(),
        impls().join("wordserver.py").display()
    );
    let mut replay = Command::new(binary())
        .current_dir(work.path())
        .args(["replay", "--no-box", "--jobs", "1", "--ahead", "2"])
        .args(["--target-cmd", &command])
        .arg(&suite)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("wordwire runs");
    // l1 plays; l2 and l3 were started ahead.
    await_processes(&mut replay, &marker, 3);
    let (status, _, stderr) = interrupt(&mut replay);
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("wordwire replay: stopped by SIGINT (Ctrl-C) after 1 of 4 transcripts; every server it started was stopped"),
        "{stderr}"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while !processes_with(&marker).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(processes_with(&marker), Vec::<u32>::new(), "still running");
}
