//! `grade` and `replay --target-cmd` with their boxes: submissions as they are handed
//! in (hard-coded ports, data files in their own directory) graded side by side, and
//! hostile submissions made harmless, each beside an honest sibling that keeps its
//! exact score.
//!
//! Like `sandbox.rs`, these expect a kernel that gives this user user, network and
//! PID namespaces and Landlock. Python is the system's, as the box's PATH finds it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use crate::grading::{BOX_PYTHON, cut_suite};
use crate::support::binary;

use crate::support::impls;

/// `DIR/NAME/` holding `files` (from tests/impls, each copied under the second name)
/// and a `wordwire-cmd` of `command`.
fn submission(class: &Path, name: &str, files: &[(&str, &str)], command: &str) -> PathBuf {
    let dir = class.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for (from, to) in files {
        std::fs::copy(impls().join(from), dir.join(to)).unwrap();
    }
    std::fs::write(dir.join("wordwire-cmd"), format!("{command}\n")).unwrap();
    dir
}

/// Writes `text` as `dir/name`.
fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

/// The score `summary.csv` gives `name`.
fn score_of<'a>(scores: &'a [(String, String)], name: &str) -> &'a str {
    &scores.iter().find(|(n, _)| n == name).unwrap().1
}

/// The contract's server as students hand it in: `python3 server.py`, hard-coding
/// 0.0.0.0:12345 and `words.txt` in its directory.
fn hard_coded(class: &Path, name: &str) -> PathBuf {
    submission(
        class,
        name,
        &[
            ("wordserver.py", "wordserver.py"),
            ("hardcoded_port.py", "server.py"),
        ],
        &format!("{BOX_PYTHON} server.py"),
    )
}

/// `wordwire grade CLASS --out OUT ARGS...`.
fn grade(class: &Path, out: &Path, args: &[&str]) -> Output {
    Command::new(binary())
        .arg("grade")
        .arg(class)
        .arg("--out")
        .arg(out)
        .args(args)
        .output()
        .expect("wordwire runs")
}

/// `wordwire grade CLASS --out OUT --suite SUITE ARGS...`, killed past 90 s.
fn grade_suite_within(class: &Path, out: &Path, suite: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(binary());
    command
        .arg("grade")
        .arg(class)
        .arg("--out")
        .arg(out)
        .arg("--suite")
        .arg(suite)
        .args(args);
    crate::support::output_within(&mut command, Duration::from_secs(90))
}

/// `summary.csv`'s rows after the header, as (submission, score) and the whole row.
fn scores(out: &Path) -> Vec<(String, String)> {
    let csv = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let score = header.iter().position(|h| *h == "score").unwrap();
    lines
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            (cells[0].to_string(), cells[score].to_string())
        })
        .collect()
}

fn said(output: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn four_submissions_that_hard_code_one_port_pass_side_by_side() {
    let work = tempfile::tempdir().unwrap();
    let class = work.path().join("class");
    for name in ["ann", "ben", "cat", "dan"] {
        hard_coded(&class, name);
    }
    let out = work.path().join("grades");
    // The whole built-in suite: the fault, the flags and the timeouts too; four
    // transcripts at once, each server on 0.0.0.0:12345 in a box of its own.
    let output = grade(&class, &out, &["--jobs", "4"]);
    assert_eq!(output.status.code(), Some(0), "{}", said(&output));
    assert_eq!(
        scores(&out),
        ["ann", "ben", "cat", "dan"].map(|n| (n.to_string(), "100".to_string())),
        "{}",
        said(&output)
    );
    // Nothing of a run is left in the submissions' own directories.
    assert!(!class.join("ann/words.txt").exists());
}

#[test]
fn the_write_fault_hits_the_server_and_not_the_build_step_before_it() {
    let work = tempfile::tempdir().unwrap();
    let suite = cut_suite(
        work.path(),
        &[
            "failures/write-fault-is-500-and-reads-go-on",
            "methods/post-appends-word",
        ],
    );
    let class = work.path().join("class");
    // A build step writes 64 KiB, far past the fault's limit (the starting store's
    // size), before the server starts: only the server's writes may fail.
    submission(
        &class,
        "built",
        &[("wordserver.py", "wordserver.py")],
        &format!(
            "dd if=/dev/zero of=build.out bs=1024 count=64 2>/dev/null && cp build.out copy.out && {BOX_PYTHON} wordserver.py --addr {{addr}} --store {{store}}"
        ),
    );
    for extra in [&[][..], &["--no-box"][..]] {
        let out = work.path().join(format!("grades{}", extra.len()));
        let mut args = vec!["--suite", suite.to_str().unwrap()];
        args.extend_from_slice(extra);
        let output = grade(&class, &out, &args);
        // The server still scores, and the fault transcript got its 500.
        assert_eq!(
            output.status.code(),
            Some(0),
            "{extra:?}: {}\n{}",
            said(&output),
            page(&out, "built")
        );
        assert_eq!(
            scores(&out),
            [("built".to_string(), "100".to_string())],
            "{extra:?}: {}",
            said(&output)
        );
    }
}

/// Four transcripts of the built-in suite, for gradings that need a few.
const FOUR: [&str; 4] = [
    "methods/get-without-credentials-is-401",
    "methods/get-wrong-password-is-401",
    "methods/post-appends-word",
    "methods/other-path-is-404",
];

/// The honest sibling of the tests below: the contract's server, hard-coding its port.
const HONEST: &str = "honest";

/// Every `reason` of a JSON report's transcripts, or of an HTML page's failures.
fn page(out: &Path, name: &str) -> String {
    std::fs::read_to_string(out.join(format!("{name}.html"))).unwrap()
}

#[test]
fn a_start_that_cannot_work_is_reported_once_and_not_retried() {
    let work = tempfile::tempdir().unwrap();
    let suite = cut_suite(work.path(), &FOUR);
    let class = work.path().join("class");
    hard_coded(&class, HONEST);
    submission(&class, "missing", &[], "nosuchserver --port {port}");
    // A compile error: the same status and output on every start (the path of the
    // box's copy in it differs from box to box, and does not count).
    submission(
        &class,
        "uncompiled",
        &[],
        "echo \"$PWD/Server.java:3: error: ';' expected\" >&2; exit 1",
    );
    let out = work.path().join("grades");
    let output = grade(
        &class,
        &out,
        &["--suite", suite.to_str().unwrap(), "--jobs", "1"],
    );
    assert_eq!(output.status.code(), Some(1), "{}", said(&output));
    assert_eq!(
        scores(&out),
        [(HONEST, "100"), ("missing", "0"), ("uncompiled", "0")]
            .map(|(n, s)| (n.to_string(), s.to_string())),
        "{}",
        said(&output)
    );
    // Not found: its output on the first transcript, the three others not run. (A
    // page shows each transcript's message twice: under Failures and in the table.)
    let missing = page(&out, "missing");
    assert_eq!(
        missing.matches("nosuchserver: not found").count(),
        2,
        "{missing}"
    );
    assert!(
        missing.contains(
            "(127: a command was not found; the box&apos;s PATH is /usr/local/bin:/usr/bin:/bin)"
        ),
        "{missing}"
    );
    assert_eq!(
        missing
            .matches("not run: the server&apos;s start found no command (exit status 127), so it was not started again; its output is under methods/get-without-credentials-is-401")
            .count(),
        2 * 3,
        "{missing}"
    );
    // Alike twice: the output once, the second start pointing at it, two not run.
    let uncompiled = page(&out, "uncompiled");
    assert_eq!(
        // The output, not the command: $PWD is the box's copy, `.../work`.
        uncompiled.matches("/work/Server.java:3: error").count(),
        2,
        "{uncompiled}"
    );
    assert_eq!(
        uncompiled
            .matches(
                "its output as under methods/get-without-credentials-is-401, where it is shown"
            )
            .count(),
        2,
        "{uncompiled}"
    );
    assert_eq!(
        uncompiled
            .matches("not run: the server&apos;s start failed alike twice (exit status 1)")
            .count(),
        2 * 2,
        "{uncompiled}"
    );
    // summary.csv and the table say it once for the submission.
    let csv = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    assert!(
        csv.contains(",the start failed alike twice (exit status 1); the other transcripts were not run (see methods/get-without-credentials-is-401)\r\n"),
        "{csv}"
    );
}

/// How many times `grade --no-box --jobs JOBS --ahead 4` starts a command that fails
/// alike on every start, over the four transcripts of `FOUR`.
fn starts_of_a_failing_command(jobs: &str) -> usize {
    let work = tempfile::tempdir().unwrap();
    let suite = cut_suite(work.path(), &FOUR);
    let class = work.path().join("class");
    submission(
        &class,
        "uncompiled",
        &[],
        "echo started >> starts; echo 'Server.java:3: error' >&2; exit 1",
    );
    let out = work.path().join("grades");
    let output = grade(
        &class,
        &out,
        &[
            "--suite",
            suite.to_str().unwrap(),
            "--jobs",
            jobs,
            // Explicit (it is the default): no server starts ahead of a command that
            // has never listened.
            "--ahead",
            "4",
            "--no-box",
        ],
    );
    assert_eq!(output.status.code(), Some(1), "{}", said(&output));
    let starts = std::fs::read_to_string(class.join("uncompiled/starts")).unwrap();
    starts.lines().count()
}

/// A command that fails alike on two starts is not started again, with `--ahead 4`:
/// one job starts it for the first two transcripts only (not four at once, as
/// starting the next ones ahead before it had ever listened would).
#[test]
fn without_the_box_a_start_that_failed_alike_twice_is_not_started_a_third_time() {
    assert_eq!(starts_of_a_failing_command("1"), 2);
}

/// As above with two jobs: each job has at most one start of it running, so the gate
/// closes after two failed starts with at most one more already begun by the other
/// job (the gate is asked before each start, not held during it) — never the four
/// that starts ahead would make.
#[test]
fn with_two_jobs_and_ahead_a_start_that_failed_alike_twice_is_started_at_most_three_times() {
    let starts = starts_of_a_failing_command("2");
    assert!((2..=3).contains(&starts), "{starts} starts");
}

#[test]
fn a_slow_start_passes_within_its_start_timeout_and_fails_past_it() {
    let work = tempfile::tempdir().unwrap();
    let suite = cut_suite(work.path(), &["methods/post-appends-word"]);
    let class = work.path().join("class");
    // A compile that takes a second and a half before the server starts.
    submission(
        &class,
        "slow",
        &[
            ("wordserver.py", "wordserver.py"),
            ("hardcoded_port.py", "server.py"),
        ],
        &format!("sleep 1.5 && {BOX_PYTHON} server.py"),
    );
    let suite = suite.to_str().unwrap();
    let out = work.path().join("quick");
    let output = grade(&class, &out, &["--suite", suite, "--start-timeout", "0.5"]);
    assert_eq!(output.status.code(), Some(1), "{}", said(&output));
    assert!(
        page(&out, "slow").contains("did not listen within 0.5 s (--start-timeout)"),
        "{}",
        said(&output)
    );
    let out = work.path().join("patient");
    let output = grade(&class, &out, &["--suite", suite, "--start-timeout", "8"]);
    assert_eq!(output.status.code(), Some(0), "{}", said(&output));
    assert_eq!(scores(&out), [("slow".to_string(), "100".to_string())]);
}

// Hostile submissions. Each run grades one beside the honest sibling (`HONEST`, the
// contract's server hard-coding its port) on two transcripts, with short limits; the
// sibling keeps its exact score, 100%, and the hostile one does no harm.

/// The two transcripts of a hostile run.
const TWO: [&str; 2] = [
    "methods/get-without-credentials-is-401",
    "methods/post-appends-word",
];

/// A work directory outside `/tmp` (which a box sees as its own), open to everyone, so
/// that what refuses a box's access to it is the box (Landlock), not the file modes
/// (a root grader's box runs as nobody).
fn open_work() -> tempfile::TempDir {
    let work = tempfile::tempdir_in(crate::support::outside_tmp()).unwrap();
    open_to_all(work.path());
    work
}

/// Mode 0777 (directories) or 0666 (files), through the whole tree.
fn open_to_all(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::symlink_metadata(path).unwrap();
    let mode = if meta.is_dir() { 0o777 } else { 0o666 };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    if meta.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            open_to_all(&entry.unwrap().path());
        }
    }
}

/// Grades `class` (the honest sibling and a hostile one, already written) on `TWO`
/// with `args`, and checks that the sibling scored 100%; returns the run's output
/// and its `summary.csv` scores.
fn hostile_run(work: &Path, class: &Path, args: &[&str]) -> (Output, Vec<(String, String)>) {
    let suite = cut_suite(work, &TWO);
    let out = work.join("grades");
    // The reports of an earlier run, open to all as the rest: the grader rewrites them
    // in place.
    std::fs::create_dir_all(&out).unwrap();
    for name in ["summary.csv", &format!("{HONEST}.html")] {
        if !out.join(name).exists() {
            std::fs::write(out.join(name), "earlier\n").unwrap();
        }
    }
    open_to_all(work);
    let mut all = vec!["--suite", suite.to_str().unwrap(), "--jobs", "4"];
    all.extend_from_slice(args);
    let output = grade(class, &out, &all);
    let scores = scores(&out);
    assert!(
        scores.contains(&(HONEST.to_string(), "100".to_string())),
        "{scores:?}: {}",
        said(&output)
    );
    (output, scores)
}

#[test]
fn killing_the_grader_s_parent_or_everyone_reaches_only_the_box() {
    let work = open_work();
    let class = work.path().join("class");
    hard_coded(&class, HONEST);
    // Inside its box the shell's parent is the box's init, and -1 is the box.
    submission(
        &class,
        "killer",
        &[
            ("wordserver.py", "wordserver.py"),
            ("hardcoded_port.py", "server.py"),
        ],
        &format!("kill -KILL $PPID; kill -9 -1; exec {BOX_PYTHON} server.py"),
    );
    let (output, scores) = hostile_run(work.path(), &class, &[]);
    // The grader lived to write every report; the killer even scored (its shell was
    // spared by its own `kill -1`).
    assert_eq!(output.status.code(), Some(0), "{}", said(&output));
    assert_eq!(score_of(&scores, "killer"), "100");
}

#[test]
fn a_process_that_joins_a_sibling_s_group_and_listens_on_its_port_helps_it_not() {
    let work = open_work();
    let class = work.path().join("class");
    hard_coded(&class, HONEST);
    // Never listens: its exact score is 0, whatever anyone else does.
    submission(&class, "silent", &[], "exec sleep 30 # {port}");
    // Joins every process group it can find and listens on {port}, the port the
    // silent one is awaited on; accepts and closes at once.
    let joiner = submission(
        &class,
        "joiner",
        &[],
        &format!("{BOX_PYTHON} join.py {{port}}"),
    );
    write(
        &joiner,
        "join.py",
        r#"import os, socket, sys
for pid in [p for p in os.listdir("/proc") if p.isdigit()]:
    try:
        os.setpgid(0, os.getpgid(int(pid)))
    except OSError:
        pass
s = socket.socket()
s.bind(("0.0.0.0", int(sys.argv[1])))
s.listen()
while True:
    s.accept()[0].close()
"#,
    );
    let (output, scores) = hostile_run(work.path(), &class, &["--start-timeout", "2"]);
    assert_eq!(
        scores,
        [(HONEST, "100"), ("joiner", "0"), ("silent", "0")].map(|(n, s)| (n.into(), s.into())),
        "{}",
        said(&output)
    );
    let silent = page(&work.path().join("grades"), "silent");
    assert_eq!(
        silent
            .matches("did not listen within 2 s (--start-timeout) on port 8080")
            .count(),
        2 * TWO.len(),
        "{silent}"
    );
}

#[test]
fn a_submission_cannot_edit_a_sibling_the_suite_or_the_reports() {
    let work = open_work();
    let class = work.path().join("class");
    let honest = hard_coded(&class, HONEST);
    let out = work.path().join("grades");
    let suite = work.path().join("transcripts");
    let server = std::fs::read(honest.join("server.py")).unwrap();
    let targets = [
        honest.join("server.py"),
        honest.join("wordwire-cmd"),
        suite.join("methods/post-appends-word.transcript"),
        suite.join("methods/planted.transcript"),
        out.join("summary.csv"),
        out.join(format!("{HONEST}.html")),
    ];
    let writes: Vec<String> = targets
        .iter()
        .map(|t| format!("echo pwned >> '{}' 2>/dev/null", t.display()))
        .collect();
    // Each write now, and again in the background after the grader has gone.
    submission(
        &class,
        "editor",
        &[
            ("wordserver.py", "wordserver.py"),
            ("hardcoded_port.py", "server.py"),
        ],
        &format!(
            "{w}; (sleep 2; {w}) & setsid sh -c 'sleep 2; {w}' & exec {BOX_PYTHON} server.py",
            w = writes.join("; ").replace('\'', "")
        ),
    );
    let (output, scores) = hostile_run(work.path(), &class, &[]);
    // Well past the delayed writes.
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_eq!(output.status.code(), Some(0), "{}", said(&output));
    assert_eq!(score_of(&scores, "editor"), "100");
    assert_eq!(std::fs::read(honest.join("server.py")).unwrap(), server);
    assert!(
        !std::fs::read_to_string(honest.join("wordwire-cmd"))
            .unwrap()
            .contains("pwned")
    );
    assert!(
        !std::fs::read_to_string(&targets[2])
            .unwrap()
            .contains("pwned")
    );
    assert!(!targets[3].exists(), "nothing planted in the suite");
    let csv = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    assert!(
        !csv.contains("pwned") && csv.starts_with("submission,"),
        "{csv}"
    );
    assert!(!page(&out, HONEST).contains("pwned"));
}

#[test]
fn secrets_of_the_grader_s_environment_and_files_stay_out_of_the_reports() {
    let work = open_work();
    let class = work.path().join("class");
    hard_coded(&class, HONEST);
    let secret_file = work.path().join("secret.txt");
    std::fs::write(&secret_file, "file-secret-4f1c\n").unwrap();
    open_to_all(&secret_file);
    // Prints what it can find, then fails to start: the output goes into its report.
    submission(
        &class,
        "leaker",
        &[],
        &format!(
            "echo \"token=[$TA_TOKEN]\"; env | grep -e TOKEN -e ^PATH=; cat /proc/1/environ; cat '{}'; echo HOME is $HOME; exit 3",
            secret_file.display()
        ),
    );
    let suite = cut_suite(work.path(), &TWO);
    let out = work.path().join("grades");
    let output = Command::new(binary())
        .arg("grade")
        .arg(&class)
        .arg("--out")
        .arg(&out)
        .args(["--suite", suite.to_str().unwrap()])
        .env("TA_TOKEN", "env-secret-9a7e")
        .output()
        .expect("wordwire runs");
    let scores = scores(&out);
    assert_eq!(
        scores,
        [(HONEST, "100"), ("leaker", "0")].map(|(n, s)| (n.into(), s.into())),
        "{}",
        said(&output)
    );
    let leaker = page(&out, "leaker");
    // It did print its environment (the box's), tried the file (which Landlock
    // refused), and not a byte of either secret is there. (The report shows the last
    // five lines of each stream: all of these.)
    for line in [
        "token=[]",
        "PATH=/usr/local/bin:/usr/bin:/bin",
        "secret.txt: Permission denied",
        "HOME is /",
    ] {
        assert!(leaker.contains(line), "{line}: {leaker}");
    }
    for page in [leaker, page(&out, HONEST), said(&output)] {
        assert!(!page.contains("env-secret-9a7e"), "{page}");
        assert!(!page.contains("file-secret-4f1c"), "{page}");
        let home = format!("HOME is {}", std::env::var("HOME").unwrap_or_default());
        assert!(!page.lines().any(|l| l.trim() == home), "{page}");
    }
}

#[test]
fn a_service_on_the_grader_s_loopback_gets_no_connection() {
    let work = open_work();
    let class = work.path().join("class");
    hard_coded(&class, HONEST);
    let service = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = service.local_addr().unwrap().port();
    // Tries the TA's service at every address it might have, then serves.
    let prober = submission(
        &class,
        "prober",
        &[
            ("wordserver.py", "wordserver.py"),
            ("hardcoded_port.py", "server.py"),
        ],
        &format!("{BOX_PYTHON} probe.py {port}; exec {BOX_PYTHON} server.py"),
    );
    write(
        &prober,
        "probe.py",
        r#"import socket, sys
for host in ("127.0.0.1", "localhost", "::1", socket.gethostname()):
    try:
        socket.create_connection((host, int(sys.argv[1])), 1).sendall(b"GET /secret")
        print("reached", host)
    except OSError as e:
        print("refused", host, e)
"#,
    );
    let (output, scores) = hostile_run(work.path(), &class, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", said(&output));
    assert_eq!(score_of(&scores, "prober"), "100");
    service.set_nonblocking(true).unwrap();
    let accepted = service.accept();
    assert!(
        matches!(&accepted, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the service was reached: {accepted:?}"
    );
}

#[test]
fn helpers_and_daemons_left_behind_are_gone_after_the_run_and_cost_the_honest_nothing() {
    let work = open_work();
    let class = work.path().join("class");
    hard_coded(&class, HONEST);
    // Their sleeps' lengths mark them on this host.
    let mark = std::process::id();
    // A correct server that leaves a detached sleep (holding its output pipes) and a
    // double-forked daemon behind on every start.
    let leaver = submission(
        &class,
        "leaver",
        &[
            ("wordserver.py", "wordserver.py"),
            ("hardcoded_port.py", "server.py"),
        ],
        &format!(
            "setsid sleep 60.{mark} & {BOX_PYTHON} daemon.py 61.{mark}; exec {BOX_PYTHON} server.py"
        ),
    );
    write(
        &leaver,
        "daemon.py",
        r#"import os, sys, time
if os.fork(): os._exit(0)
os.setsid()
if os.fork(): os._exit(0)
time.sleep(float(sys.argv[1]))
"#,
    );
    let suite = cut_suite(work.path(), &TWO);
    let out = work.path().join("grades");
    let mut grader = Command::new(binary())
        .arg("grade")
        .arg(&class)
        .arg("--out")
        .arg(&out)
        .args(["--suite", suite.to_str().unwrap(), "--jobs", "4"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Seen while the grader runs, by PID.
    let mut seen = std::collections::BTreeSet::new();
    let status = loop {
        for marker in [format!("60.{mark}"), format!("61.{mark}")] {
            seen.extend(crate::grading::processes_with(&marker));
        }
        if let Some(status) = grader.try_wait().unwrap() {
            break status;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
    assert_eq!(
        scores(&out),
        [(HONEST, "100"), ("leaver", "100")].map(|(n, s)| (n.into(), s.into()))
    );
    assert!(seen.len() >= 2, "the helpers ran: {seen:?}");
    let left: Vec<u32> = seen
        .iter()
        .copied()
        .filter(|&pid| {
            let mut still = crate::grading::processes_with(&format!("60.{mark}"));
            still.extend(crate::grading::processes_with(&format!("61.{mark}")));
            still.contains(&pid)
        })
        .collect();
    assert!(left.is_empty(), "still running after the run: {left:?}");
}

/// `wordwire replay --start-timeout SECS --target-cmd COMMAND` in `dir`, playing
/// `methods/other-path-is-404`.
fn replay_404(dir: &Path, start_timeout: &str, command: &str) -> Output {
    Command::new(binary())
        .current_dir(dir)
        .args([
            "replay",
            "--start-timeout",
            start_timeout,
            "--target-cmd",
            command,
        ])
        .arg(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("transcripts/methods/other-path-is-404.transcript"),
        )
        .output()
        .expect("wordwire runs")
}

/// A program the box cannot run (exit 126) is told why and what to do, whether it
/// lacks the execute bit or lies outside the submission's copy; a server that runs
/// is not given that note.
#[test]
fn a_start_the_box_cannot_run_is_told_why_exit_126() {
    let work = tempfile::tempdir_in(crate::support::outside_tmp()).unwrap();
    let dir = work.path().join("submission");
    std::fs::create_dir(&dir).unwrap();
    // No execute bit in the copy.
    write(&dir, "server.sh", "exec python3 wordserver.py\n");
    // A program outside the copy (not in a system directory).
    let outside = work.path().join("prog");
    std::fs::copy("/bin/sleep", &outside).unwrap();
    let note = "(126: a command was found but could not be run: it has no execute bit, or it lies outside the box";
    for command in [
        "./server.sh".to_string(),
        format!("{} 60", outside.display()),
    ] {
        let output = replay_404(&dir, "5", &command);
        assert_eq!(output.status.code(), Some(1), "{}", said(&output));
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            stdout.contains("exited before listening (exit status 126)"),
            "{command}: {stdout}"
        );
        assert!(stdout.contains(note), "{command}: {stdout}");
    }
    // The same script run through `sh` needs no execute bit: no note, it listens.
    std::fs::copy(impls().join("wordserver.py"), dir.join("wordserver.py")).unwrap();
    write(
        &dir,
        "server.sh",
        &format!("exec {BOX_PYTHON} wordserver.py --addr 127.0.0.1:8080 --store words.txt\n"),
    );
    let output = replay_404(&dir, "10", "sh server.sh");
    assert_eq!(output.status.code(), Some(0), "{}", said(&output));
    assert!(
        !String::from_utf8_lossy(&output.stdout).contains("126"),
        "{}",
        said(&output)
    );
}

#[test]
fn a_server_awaited_on_its_port_that_listens_elsewhere_is_told_where() {
    // The command names {port}, so the server is awaited there; it binds its own.
    let output = replay_404(
        &impls(),
        "1",
        &format!("{BOX_PYTHON} wordserver.py --store {{store}} # {{port}}"),
    );
    assert_eq!(output.status.code(), Some(1), "{}", said(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("did not listen within 1 s (--start-timeout) on port 8080 (it listens on 127.0.0.1:12345: without {port} and {addr} in the command it is found wherever it listens)"),
        "{stdout}"
    );
}

#[test]
fn without_namespaces_the_box_says_what_is_missing_and_still_grades_and_cleans_up() {
    // As on a machine without user namespaces (Ubuntu 24.04's default).
    let work = open_work();
    let class = work.path().join("class");
    let mark = std::process::id();
    // The contract's server on the {addr} it is given (ports are the host's now),
    // leaving a detached sleep and a daemon behind.
    for name in [HONEST, "leaver"] {
        let leaves = if name == HONEST {
            String::new()
        } else {
            format!("setsid sleep 62.{mark} & {BOX_PYTHON} daemon.py 63.{mark}; ")
        };
        let dir = submission(
            &class,
            name,
            &[("wordserver.py", "wordserver.py")],
            &format!("{leaves}exec {BOX_PYTHON} wordserver.py --addr {{addr}} --store {{store}}"),
        );
        write(
            &dir,
            "daemon.py",
            "import os, sys, time\nif os.fork(): os._exit(0)\nos.setsid()\nif os.fork(): os._exit(0)\ntime.sleep(float(sys.argv[1]))\n",
        );
    }
    let suite = cut_suite(work.path(), &TWO);
    let out = work.path().join("grades");
    let output = Command::new(binary())
        .arg("grade")
        .arg(&class)
        .arg("--out")
        .arg(&out)
        .args(["--suite", suite.to_str().unwrap(), "--jobs", "4"])
        .env("WORDWIRE_BOX_NAMESPACES", "0")
        .output()
        .expect("wordwire runs");
    assert_eq!(output.status.code(), Some(0), "{}", said(&output));
    assert_eq!(
        scores(&out),
        [(HONEST, "100"), ("leaver", "100")].map(|(n, s)| (n.into(), s.into()))
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = "box: no namespaces; landlock ABI ";
    assert!(stderr.starts_with(line), "{stderr}");
    assert!(
        stderr.contains("\n  incomplete box: no network namespace: each server shares this machine's network, must listen on the {port} it is given"),
        "{stderr}"
    );
    assert!(
        stderr.contains("\n  incomplete box: no PID namespace: a server's processes are found and killed by ancestry"),
        "{stderr}"
    );
    assert!(page(&out, HONEST).contains(&format!("<p class=\"box\">{line}")));
    // Found and killed by ancestry: nothing of the leaver's is left.
    for marker in [format!("62.{mark}"), format!("63.{mark}")] {
        let left = crate::grading::processes_with(&marker);
        assert!(left.is_empty(), "still running: {left:?}");
    }
}

/// `grade --jobs 1 --ahead 2 --transcript-timeout 2.5`, boxed: servers started ahead
/// listen while the transcripts before them play (the fourth one a good 2 s before its
/// play, past the limit had it counted from then), yet each has its whole limit from when its play begins, so four plays that
/// each wait 1 s all pass; and the limit still bites a server started ahead: a play
/// that waits 3 s fails over it, its neighbours pass.
#[test]
fn a_server_started_ahead_has_its_whole_time_limit_from_when_its_play_begins() {
    use crate::grading::named_transcript;
    let work = tempfile::tempdir().unwrap();
    let run = |name: &str, waits: &[(&str, u64)]| {
        let suite = work.path().join(name).join("transcripts");
        std::fs::create_dir_all(suite.join("methods")).unwrap();
        for (transcript, ms) in waits {
            named_transcript(&suite.join("methods"), transcript, Some(*ms));
        }
        let class = work.path().join(name).join("class");
        submission(
            &class,
            "honest",
            &[("wordserver.py", "wordserver.py")],
            &format!("{BOX_PYTHON} wordserver.py --addr {{addr}} --store {{store}}"),
        );
        let out = work.path().join(name).join("grades");
        let flags = ["--jobs", "1", "--ahead", "2", "--transcript-timeout", "2.5"];
        (grade_suite_within(&class, &out, &suite, &flags), out)
    };
    // Both at once: all plays are long, so in file order.
    let ((within, within_out), (over, over_out)) = std::thread::scope(|s| {
        let within = s.spawn(|| {
            run(
                "within",
                &[("a1", 1000), ("a2", 1000), ("a3", 1000), ("a4", 1000)],
            )
        });
        // b3 starts ahead, while b2 plays.
        let over = s.spawn(|| run("over", &[("b1", 150), ("b2", 150), ("b3", 3000)]));
        (within.join().unwrap(), over.join().unwrap())
    });
    assert_eq!(within.status.code(), Some(0), "{}", said(&within));
    assert_eq!(
        scores(&within_out),
        [("honest".to_string(), "100".to_string())],
        "{}",
        said(&within)
    );
    assert_eq!(over.status.code(), Some(1), "{}", said(&over));
    let page = page(&over_out, "honest");
    assert!(
        page.contains("methods/b3.transcript <small>(methods)</small></h3>\n<p class=\"message\">over the transcript time limit of 2.5 s (--transcript-timeout"),
        "{page}"
    );
    assert_eq!(
        page.matches("over the transcript time limit of 2.5 s")
            .count(),
        2,
        "once under Failures, once in the table: {page}"
    );
}

/// A start ahead's wait for its turn (`--starts 1`) does not count against the
/// transcript's time limits: six jobs' plays wait together for their servers, each
/// start takes a good second (a `sleep 1` before the server), so the sixth begins
/// some 5 s after its play did, past `--start-timeout 3` plus `--transcript-timeout
/// 1` had they counted from the play; each passes, its start within its own 3 s.
#[test]
fn the_wait_for_a_start_s_turn_is_not_counted_against_its_time_limit() {
    use crate::grading::named_transcript;
    let work = tempfile::tempdir().unwrap();
    let suite = work.path().join("transcripts");
    std::fs::create_dir_all(suite.join("methods")).unwrap();
    // Six start at their plays (none has listened yet), then each job plays one
    // and starts one ahead: twelve starts, one at a time.
    for n in 1..=18 {
        named_transcript(&suite.join("methods"), &format!("a{n:02}"), None);
    }
    let class = work.path().join("class");
    submission(
        &class,
        "slow",
        &[("wordserver.py", "wordserver.py")],
        &format!("sleep 1; exec {BOX_PYTHON} wordserver.py --addr {{addr}} --store {{store}}"),
    );
    let out = work.path().join("grades");
    let flags = ["--jobs", "6", "--ahead", "1", "--starts", "1"];
    let limits = ["--start-timeout", "3", "--transcript-timeout", "1"];
    let output = grade_suite_within(&class, &out, &suite, &[&flags[..], &limits].concat());
    assert_eq!(output.status.code(), Some(0), "{}", said(&output));
    assert_eq!(
        scores(&out),
        [("slow".to_string(), "100".to_string())],
        "{}",
        page(&out, "slow")
    );
}
