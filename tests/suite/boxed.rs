//! `grade` and `replay --target-cmd` with their boxes: submissions as they are handed
//! in (hard-coded ports, data files in their own directory) graded side by side, and
//! hostile submissions made harmless, each beside an honest sibling that keeps its
//! exact score.
//!
//! Like `sandbox.rs`, these expect a kernel that gives this user user, network and
//! PID namespaces and Landlock. Python is the system's, as the box's PATH finds it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::grading::{BOX_PYTHON, cut_suite};
use crate::support::binary;

fn impls() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/impls")
}

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
            "{extra:?}: {}",
            said(&output)
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

#[test]
fn without_the_box_a_start_that_failed_alike_twice_is_not_started_a_third_time() {
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
            "1",
            "--no-box",
        ],
    );
    assert_eq!(output.status.code(), Some(1), "{}", said(&output));
    let starts = std::fs::read_to_string(class.join("uncompiled/starts")).unwrap();
    assert_eq!(starts.lines().count(), 2, "{}", said(&output));
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
