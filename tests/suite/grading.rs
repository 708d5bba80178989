//! The grader against small Python implementations of the contract (`tests/impls/`):
//! the correct ones pass every MUST transcript, each defective one fails exactly the
//! transcripts about its defect; and against a server already running (`--target`),
//! what is skipped is counted and explained, not scored.
//!
//! `--target-cmd` and `grade` run each start in a box by default, as these do: the
//! commands name `python3` as the box's PATH finds it (the system's, /usr/bin) and
//! the servers by paths relative to the directory the box copies. The box itself,
//! and hostile submissions: `boxed.rs`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::support::{TestServer, binary, output_within, python3, suite_files};

/// Python as a box runs it: the system's, first on the box's PATH (`-S`: no site
/// packages, a faster start).
pub const BOX_PYTHON: &str = "python3 -S";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

use crate::support::impls;

/// The JSON report of `wordwire replay --target-cmd CMD [extra...]` over the whole suite
/// (`transcripts/SUITE`), run in `tests/impls/` (which each box copies), three
/// transcripts at a time.
fn grade(cmd: &str, extra: &[&str]) -> serde_json::Value {
    grade_part(cmd, extra, "transcripts", 3)
}

/// As `grade`, playing the suite's transcripts under `part` (a path under the checkout)
/// `jobs` transcripts at a time.
fn grade_part(cmd: &str, extra: &[&str], part: &str, jobs: u16) -> serde_json::Value {
    let output = Command::new(binary())
        .current_dir(impls())
        .args(["replay", "--format", "json", "--jobs"])
        .arg(jobs.to_string())
        .args(["--target-cmd", cmd])
        .args(extra)
        .args(suite_files(part))
        .output()
        .expect("wordwire runs");
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e}): {}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// The command that starts `tests/impls/FILE` on `{addr}` and `{store}`, in a box.
fn python(file: &str) -> String {
    format!("{BOX_PYTHON} {file} --addr {{addr}} --store {{store}}")
}

/// Transcript names (path under transcripts/, no extension) with the given outcome.
fn with_outcome(report: &serde_json::Value, outcome: &str) -> BTreeSet<String> {
    report["transcripts"]
        .as_array()
        .expect("transcripts[]")
        .iter()
        .filter(|t| t["outcome"] == outcome)
        .map(|t| {
            let path = t["path"].as_str().expect("path");
            let (_, name) = path.split_once("transcripts/").expect("under transcripts/");
            name.trim_end_matches(".transcript").to_string()
        })
        .collect()
}

fn names(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// The one skip a correct foreign server gets: no mechanism provokes a read fault.
fn assert_only_the_read_fault_is_skipped(report: &serde_json::Value) {
    assert_eq!(
        with_outcome(report, "skipped"),
        names(&["failures/read-fault-is-500"])
    );
    let reason = report["transcripts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["outcome"] == "skipped")
        .unwrap()["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(reason.contains("fault reads"), "{reason}");
}

fn assert_passes(report: &serde_json::Value) {
    let failed = with_outcome(report, "failed");
    let errors = with_outcome(report, "error");
    assert!(failed.is_empty() && errors.is_empty(), "{report:#}");
    assert_eq!(report["failed"], 0);
    assert_only_the_read_fault_is_skipped(report);
}

// A correct Python server passing every transcript but the read fault: alice's row in
// docs::the_class_on_the_pages_grades_as_they_show, from the commands of docs/GRADING.md.

#[test]
fn a_correct_but_different_server_passes_through_its_flag_map() {
    let toml = impls().join("different.toml");
    let cmd = format!("{BOX_PYTHON} different.py --listen {{addr}} --words {{store}}");
    let flags = ["--target-flags", toml.to_str().unwrap()];
    let exact_flags = [flags[0], flags[1], "--exact"];
    // Both gradings at once: their Python servers mostly wait on sockets.
    let (report, exact) = std::thread::scope(|s| {
        let exact = s.spawn(|| grade_part(&cmd, &exact_flags, "transcripts/methods", 3));
        (
            grade(&cmd, &flags),
            exact.join().expect("the --exact grading"),
        )
    });
    assert_passes(&report);
    // Byte for byte it is another server: --exact fails every transcript of a category
    // (the contract level passes them all, above).
    assert_eq!(exact["played"], 19, "{exact:#}");
    assert_eq!(exact["passed"], 0, "{exact:#}");
}

#[test]
fn without_the_flag_map_the_different_server_cannot_start_with_our_flags() {
    let cmd = format!("{BOX_PYTHON} different.py --listen {{addr}} --words {{store}}");
    // limits/: each of its transcripts sets a server flag (--max-body, --max-line, ...).
    let report = grade_part(&cmd, &[], "transcripts/limits", 3);
    // argparse refuses --max-body: the transcripts with server flags cannot play.
    let errors = with_outcome(&report, "error");
    assert_eq!(
        errors,
        names(&[
            "limits/large-body-is-413",
            "limits/large-header-section-is-431",
            "limits/long-request-line-is-414",
        ])
    );
    let message = report["transcripts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["path"].as_str().unwrap().contains("large-body-is-413"))
        .unwrap()["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.contains("exited before listening"), "{message}");
    assert!(message.contains("unrecognized arguments"), "{message}");
}

fn messages(report: &serde_json::Value) -> String {
    report["transcripts"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["failures"].as_array().unwrap().iter())
        .map(|f| f["message"].as_str().unwrap().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Each defective implementation, the transcripts it must fail (exactly those),
/// and words its failure messages must contain.
const DEFECTS: &[(&str, &[&str], &[&str])] = &[
    (
        "defect_no_auth.py",
        &[
            "methods/auth-all-needs-credentials-for-post",
            "methods/get-without-credentials-is-401",
            "methods/get-wrong-password-is-401",
        ],
        &["status 200, expected 401"],
    ),
    (
        "defect_accepts_bang.py",
        &["methods/post-word-with-punctuation-is-400"],
        &["status 200, expected 400", "the store file differs"],
    ),
    (
        "defect_put_first_only.py",
        &["methods/put-replaces-every-old-word"],
        &["does not match /\\b2\\b/", "the store file differs"],
    ),
    (
        "defect_no_timeout.py",
        &[
            "timeouts/idle-keep-alive-is-closed-silently",
            "timeouts/stalled-body-is-504-and-close",
            "timeouts/stalled-head-is-408-with-timeout-status-408",
        ],
        &["no response: the server sent nothing within 5000 ms (replay's wait for each response"],
    ),
    (
        "defect_dies_on_malformed.py",
        &[
            "syntax/space-before-colon-is-400-and-close",
            "syntax/tls-client-hello-is-400-and-close",
        ],
        &[
            "the target died during the transcript (exit status 70)",
            "fatal: malformed field line",
        ],
    ),
    (
        "defect_delete_unknown_200.py",
        &[
            "methods/delete-removes-every-occurrence",
            "methods/delete-unknown-word-is-400",
        ],
        &["status 200, expected 400"],
    ),
];

/// Every grading over the whole suite ("exactly" covers the transcripts a defect must not
/// fail), the six at once: a grading mostly waits (for a Python server to start, for a
/// timeout), so six side by side took 30-39 s where one after another took 41-60 s, on a
/// loaded 2-core machine.
#[test]
fn each_defective_server_fails_exactly_the_transcripts_about_its_defect() {
    let reports: Vec<serde_json::Value> = std::thread::scope(|s| {
        let gradings: Vec<_> = DEFECTS
            .iter()
            .map(|(file, _, _)| s.spawn(|| grade_part(&python(file), &[], "transcripts", 3)))
            .collect();
        gradings
            .into_iter()
            .map(|g| g.join().expect("a grading"))
            .collect()
    });
    for ((file, expected, words), report) in DEFECTS.iter().zip(reports) {
        let failed: BTreeSet<String> = with_outcome(&report, "failed")
            .union(&with_outcome(&report, "error"))
            .cloned()
            .collect();
        assert_eq!(failed, names(expected), "{file}: {}", messages(&report));
        assert_only_the_read_fault_is_skipped(&report);
        let messages = messages(&report);
        for word in *words {
            assert!(messages.contains(word), "{file}: {word:?} in {messages}");
        }
    }
}

#[test]
fn bare_lf_responses_fail_everything_with_the_reason() {
    let report = grade_part(&python("defect_bare_lf.py"), &[], "transcripts", 6);
    assert_eq!(report["passed"], 0, "{report:#}");
    assert!(messages(&report).contains("ends in a bare LF (RFC 9112 §2.1"));
}

#[test]
fn a_target_command_with_a_relative_path_runs_in_the_caller_s_directory() {
    // Before the fix the command ran in the store's temporary directory and
    // python3 could not open wordserver.py. In a box it runs in a copy of the
    // caller's directory; with --no-box in that directory itself.
    let replay = |python: &str, extra: &[&str]| {
        let output = Command::new(binary())
            .current_dir(impls())
            .args(["replay", "--format", "json", "--target-cmd"])
            .arg(format!(
                "{python} wordserver.py --addr {{addr}} --store {{store}}"
            ))
            .args(extra)
            .arg(root().join("transcripts/methods/post-appends-word.transcript"))
            .output()
            .expect("wordwire runs");
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(report["passed"], 1, "{report:#}");
        assert!(output.status.success());
        (report, String::from_utf8_lossy(&output.stderr).into_owned())
    };
    let (boxed, stderr) = replay(BOX_PYTHON, &[]);
    let said = boxed["box"]
        .as_str()
        .expect("the report says how the server ran");
    assert!(said.starts_with("box: "), "{said}");
    assert!(
        stderr.starts_with(&format!("{said}\n")),
        "said once at the start: {stderr}"
    );
    let (unboxed, stderr) = replay(python3(), &["--no-box"]);
    let said = unboxed["box"].as_str().unwrap();
    assert!(said.starts_with("no box (--no-box)"), "{said}");
    assert!(stderr.starts_with(said), "{stderr}");
}

/// The transcripts `grade` gives its test: two of category auth, two of methods, and
/// the read fault, which is skipped for every submission (in-process only).
const GRADE_SUITE: [&str; 5] = [
    "methods/get-without-credentials-is-401",
    "methods/get-wrong-password-is-401",
    "methods/post-appends-word",
    "methods/other-path-is-404",
    "failures/read-fault-is-500",
];
/// How many of GRADE_SUITE a submission's command is started for (the skipped one is not).
const GRADE_PLAYED: usize = 4;

/// A submission directory holding `files` (from tests/impls) and `wordwire-cmd`.
fn submission(subs: &Path, name: &str, files: &[&str], command: &str) {
    let dir = subs.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for file in files {
        std::fs::copy(impls().join(file), dir.join(file)).unwrap();
    }
    std::fs::write(dir.join("wordwire-cmd"), format!("{command}\n")).unwrap();
}

/// The built-in suite written out under `work` (transcripts and their fixtures),
/// then cut to the transcripts named in `keep`; returns its `transcripts/`.
pub fn cut_suite(work: &Path, keep: &[&str]) -> PathBuf {
    let exported = Command::new(binary())
        .args(["replay", "--export"])
        .arg(work)
        .output()
        .expect("wordwire runs");
    assert!(exported.status.success());
    let suite = work.join("transcripts");
    let kept = |p: &Path| {
        keep.iter()
            .any(|n| suite.join(format!("{n}.transcript")) == p)
    };
    let mut stack = vec![suite.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if !kept(&path) {
                std::fs::remove_file(path).unwrap();
            }
        }
    }
    suite
}

#[test]
fn grade_scores_a_correct_a_defective_and_a_hanging_submission() {
    let work = tempfile::tempdir().unwrap();
    let suite = cut_suite(work.path(), &GRADE_SUITE);
    let subs = work.path().join("subs");
    // Relative paths: each command runs in a copy of its own submission's directory.
    let cmd = |file: &str| format!("{BOX_PYTHON} {file} --addr {{addr}} --store {{store}}");
    submission(&subs, "correct", &["wordserver.py"], &cmd("wordserver.py"));
    submission(
        &subs,
        "defective",
        &["wordserver.py", "defect_no_auth.py"],
        &cmd("defect_no_auth.py"),
    );
    // Listens and never answers; its sleep's length marks its processes on this host.
    let marker = format!("1000.{}", std::process::id());
    submission(
        &subs,
        "hanging",
        &[],
        &format!(
            "{BOX_PYTHON} -c 'import socket, time; s = socket.socket(); s.bind((\"127.0.0.1\", {{port}})); s.listen(); time.sleep({marker})'"
        ),
    );
    let out = work.path().join("grades");
    let output = Command::new(binary())
        .arg("grade")
        .arg(&subs)
        .arg("--suite")
        .arg(&suite)
        .arg("--out")
        .arg(&out)
        // The hanging submission holds a job for the whole limit, four times over, so the
        // limit is this test's duration: 4 s from when each server listens, where a
        // correct transcript's play takes well under 1 s on a loaded 2-core machine.
        .args(["--jobs", "4", "--transcript-timeout", "4"])
        .output()
        .expect("wordwire runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    let csv = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(
        rows,
        [
            "submission,auth,faults,methods,score,must_failures,should_failures,skipped,error",
            "correct,2/2,0/0,2/2,100,0,0,1,",
            "defective,0/2,0/0,2/2,50,2,0,1,",
            "hanging,0/2,0/0,0/2,0,4,0,1,",
        ],
        "{stdout}\n{stderr}"
    );
    // The table and the stderr line of each submission say what summary.csv says,
    // the skipped transcript included.
    let table: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        table[0], "submission  score MUST failures skipped     time",
        "{stdout}"
    );
    for (row, (name, score, failures)) in [
        ("correct", "100", 0),
        ("defective", "50", 2),
        ("hanging", "0", 4),
    ]
    .into_iter()
    .enumerate()
    {
        let cells: Vec<&str> = table[row + 1].split_whitespace().collect();
        assert_eq!(
            cells[..4],
            [name, &format!("{score}%"), &failures.to_string(), "1"],
            "{stdout}"
        );
        let line =
            format!("] {name}: {score}% of the 4 played (1 of 5 skipped), {failures} MUST failure");
        assert!(stderr.contains(&line), "{line:?} in {stderr}");
    }
    assert_eq!(
        table[4], "skipped: not played, not in the score; each NAME.html says why",
        "{stdout}"
    );
    let correct = std::fs::read_to_string(out.join("correct.html")).unwrap();
    assert!(correct.contains("Score <b>100%</b>"), "{correct}");
    assert!(!correct.contains("<h2>Failures</h2>"));
    let defective = std::fs::read_to_string(out.join("defective.html")).unwrap();
    assert!(defective.contains("<h2>Failures</h2>"));
    assert!(defective.contains("get-without-credentials-is-401"));
    assert!(
        defective.contains("status 200, expected 401"),
        "{defective}"
    );
    let hanging = std::fs::read_to_string(out.join("hanging.html")).unwrap();
    assert_eq!(
        hanging
            .matches("over the transcript time limit of 4 s (--transcript-timeout, from when the server listened or, if it was started ahead, its play began): every process of the submission&apos;s box was killed")
            .count(),
        // Once under Failures, once in the table of every transcript played.
        2 * GRADE_PLAYED,
        "{hanging}"
    );
    // Every report says how the servers ran, as the start of the run did.
    let said = stderr.lines().next().unwrap();
    assert!(said.starts_with("box: namespaces "), "{stderr}");
    assert!(stdout.ends_with(&format!("\n{said}\n")), "{stdout}");
    for page in [&correct, &defective, &hanging] {
        assert!(
            page.contains(&format!("<p class=\"box\">{said}</p>")),
            "{page}"
        );
    }
    assert_eq!(
        processes_with(&marker),
        Vec::<u32>::new(),
        "outlived the run"
    );
}

/// Processes of this host whose command line holds `marker`.
pub fn processes_with(marker: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for pid in wordwire::sandbox::proc::pids() {
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
            stat.rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
        });
        if !zombie
            && pid != std::process::id()
            && cmdline
                .windows(marker.len())
                .any(|w| w == marker.as_bytes())
        {
            found.push(pid);
        }
    }
    found
}

#[test]
fn without_the_box_a_start_runs_in_the_submission_s_directory_and_its_group_is_stopped() {
    let work = tempfile::tempdir().unwrap();
    let suite = cut_suite(work.path(), &GRADE_SUITE);
    let subs = work.path().join("subs");
    // Never listens; leaves its pid behind (in the submission's directory itself) so
    // the test can see the group was stopped.
    submission(&subs, "hanging", &[], "echo $$ >> pids; exec sleep 1000");
    let out = work.path().join("grades");
    let output = Command::new(binary())
        .arg("grade")
        .arg(&subs)
        .arg("--suite")
        .arg(&suite)
        .arg("--out")
        .arg(&out)
        .args(["--no-box", "--jobs", "4", "--start-timeout", "1"])
        .output()
        .expect("wordwire runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    // Said at the start, and on the report, on purpose.
    assert!(stderr.starts_with("no box (--no-box): "), "{stderr}");
    let page = std::fs::read_to_string(out.join("hanging.html")).unwrap();
    assert!(
        page.contains("<p class=\"box\">no box (--no-box): "),
        "{page}"
    );
    assert_eq!(
        page.matches("did not listen on 127.0.0.1:").count(),
        2 * GRADE_PLAYED,
        "{page}"
    );
    assert!(
        page.contains("within 1 s (--start-timeout; did it use {port} or {addr}?)"),
        "{page}"
    );
    let pids = std::fs::read_to_string(subs.join("hanging/pids")).unwrap();
    assert_eq!(
        pids.lines().count(),
        GRADE_PLAYED,
        "one start per transcript played (never listening is not failing fast)"
    );
    for pid in pids.lines() {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "sleep {pid} outlived its transcript"
        );
    }
}

/// `wordwire ARGS...`: exit code, stdout and stderr.
fn run(args: &[&std::ffi::OsStr]) -> (Option<i32>, String, String) {
    let output = Command::new(binary())
        .args(args)
        .output()
        .expect("wordwire runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_transcript_of_the_suite_that_does_not_load_is_a_suite_error_not_a_failure() {
    let work = tempfile::tempdir().unwrap();
    let suite = cut_suite(
        work.path(),
        &[
            "methods/options-is-204-with-allow",
            "methods/get-without-credentials-is-401",
        ],
    );
    let bad = suite.join("methods/bad.transcript");
    std::fs::write(
        &bad,
        "open c\nsend c\n> GET / HTTP/1.1\\r\\n\nfrobnicate c\n",
    )
    .unwrap();
    let block = format!(
        "SUITE ERROR: 1 transcript of the suite could not be read: not played, not in the score (the fault is in the suite, not in the server)\n{}:4: unknown or malformed directive: frobnicate c\n",
        bad.display()
    );
    let replay = |format: &str| {
        run(&[
            "replay".as_ref(),
            "--format".as_ref(),
            format.as_ref(),
            suite.as_os_str(),
        ])
    };
    // replay: the two that load are played and scored; the broken one is apart; exit 3.
    let (code, text, _) = replay("text");
    assert_eq!(code, Some(3), "{text}");
    assert!(text.contains("\nscore 100%\n"), "{text}");
    assert!(
        text.ends_with(&format!("\n2 passed, 0 failed\n\n{block}")),
        "{text}"
    );
    assert!(!text.contains("ERROR  "), "not a result line: {text}");
    let (code, json, stderr) = replay("json");
    assert_eq!(code, Some(3), "{json}");
    assert!(stderr.ends_with(&block), "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        (&json["total"], &json["failed"], &json["score"]),
        (&2.into(), &0.into(), &100.0.into())
    );
    assert_eq!(json["suite_errors"][0]["line"], 4);
    assert_eq!(json["transcripts"].as_array().unwrap().len(), 2);
    let (code, xml, _) = replay("junit");
    assert_eq!(code, Some(3));
    assert!(xml.contains(" failures=\"0\" errors=\"1\" "), "{xml}");
    let (code, tap, _) = replay("tap");
    assert_eq!(code, Some(3));
    assert!(
        tap.contains("\n1..2\n") && tap.contains("\nBail out! 1 transcript of the suite"),
        "{tap}"
    );
    let (code, page, _) = replay("html");
    assert_eq!(code, Some(3));
    assert!(
        page.contains("<h2>Suite error</h2>") && page.contains("Score <b>100%</b>"),
        "{page}"
    );

    // grade: no submission plays it or is scored on it; the table, then the block; exit 3.
    let subs = work.path().join("subs");
    submission(
        &subs,
        "alice",
        &["wordserver.py"],
        &format!("{BOX_PYTHON} wordserver.py --addr {{addr}} --store {{store}}"),
    );
    let out = work.path().join("grades");
    let (code, stdout, stderr) = run(&[
        "grade".as_ref(),
        subs.as_os_str(),
        "--suite".as_ref(),
        suite.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(code, Some(3), "{stdout}\n{stderr}");
    assert!(stderr.starts_with(&block), "{stderr}");
    assert!(
        stderr.contains("] alice: 100%, 0 MUST failures, "),
        "{stderr}"
    );
    assert!(stdout.contains("2 transcripts each"), "{stdout}");
    assert!(stdout.ends_with(&format!("\n\n{block}")), "{stdout}");
    // summary.csv alone says the suite was incomplete: a last column, only when it was.
    let csv = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    assert_eq!(
        csv.lines().collect::<Vec<_>>(),
        [
            "submission,auth,methods,score,must_failures,should_failures,skipped,error,suite_errors",
            "alice,1/1,1/1,100,0,0,0,,1",
        ]
    );
    let page = std::fs::read_to_string(out.join("alice.html")).unwrap();
    assert!(page.contains("<h2>Suite error</h2>"), "{page}");
}

#[test]
fn coverage_of_a_suite_with_a_transcript_that_does_not_load_is_a_suite_error_exit_3() {
    let work = tempfile::tempdir().unwrap();
    let suite = cut_suite(
        work.path(),
        &[
            "methods/options-is-204-with-allow",
            "methods/get-without-credentials-is-401",
        ],
    );
    let coverage = || run(&["replay".as_ref(), "--coverage".as_ref(), suite.as_os_str()]);
    // Without the broken file: statuses are missing (exit 1), and nothing says suite.
    let (code, before, stderr) = coverage();
    assert_eq!(code, Some(1), "{before}\n{stderr}");
    assert!(
        before.contains("\n200        1\n204        1\n400        0  MISSING\n401        1\n"),
        "{before}"
    );
    assert!(before.ends_with("\n2 transcripts\ncontract statuses without a transcript: 100 400 404 408 413 414 431 500 501 503 504 505\n"), "{before}");
    assert!(
        !before.contains("SUITE ERROR") && stderr.is_empty(),
        "{before}\n{stderr}"
    );

    let bad = suite.join("methods/bad.transcript");
    std::fs::write(&bad, "open c\nfrobnicate c\n").unwrap();
    // Not valid UTF-8: it cannot be read as text at all.
    let unreadable = suite.join("limits/latin1.transcript");
    std::fs::create_dir_all(unreadable.parent().unwrap()).unwrap();
    std::fs::write(&unreadable, b"open c\n\xff\n").unwrap();
    let (code, after, stderr) = coverage();
    // The exit of a suite error (3), not of a command that could not run (2);
    // the same table of the files that load, then a line per file that does not.
    assert_eq!(code, Some(3), "{after}\n{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    assert_eq!(
        after,
        format!(
            "{before}\nSUITE ERROR: 2 transcripts of the suite could not be read: not in the counts above\n\
             {}: cannot read: stream did not contain valid UTF-8\n\
             {}:2: unknown or malformed directive: frobnicate c\n",
            unreadable.display(),
            bad.display()
        )
    );
}

/// docs/LAB.md step 4 in a copy of the checkout: a recording copied into
/// `transcripts/methods/` (a starting store, our exact `replaced 1\n`) plays from disk,
/// fails against another correct server, and is not in what the tests grade.
#[test]
fn a_recording_copied_into_transcripts_plays_from_disk_and_the_tests_do_not_grade_it() {
    let work = tempfile::tempdir().unwrap();
    let copy = work.path();
    let (code, out) = crate::support::run_binary(&["replay", "--export", "."], copy);
    assert_eq!(code, Some(0), "{out}");
    let before = crate::support::suite_files_in(copy, "transcripts");
    let mine = copy.join("transcripts/methods/my-session.transcript");
    std::fs::write(
        &mine,
        "# Recorded by `wordwire record`: 1 connection.\n\
         # Starting state: an in-process wordwire server with default flags on a store of 1 line (the store block).\n\
         store\n  | hello\n\
         open a\n\
         send a\n  > PUT / HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: 11\\r\\n\\r\\nhello there\n\
         expect a\n  < HTTP/1.1 200 OK\\r\\n\n  < Date: [DATE]\\r\\n\n  < Server: [SERVER]\\r\\n\n\
         \x20 < Content-Type: text/plain; charset=utf-8\\r\\n\n  < Content-Length: 11\\r\\n\n  < \\r\\n\n\
         \x20 < replaced 1\\n\n  = body 11 bytes\n",
    )
    .unwrap();
    // It is on disk and plays from there, green against our server ...
    let found = wordwire::grading::replay::discover(&[copy.join("transcripts")]).unwrap();
    assert!(found.contains(&mine));
    let (code, out) = crate::support::run_binary(&["replay", mine.to_str().unwrap()], copy);
    assert_eq!(code, Some(0), "{out}");
    // ... and red against a correct server that words its answers otherwise: had the
    // tests graded it, a_correct_but_different_server_passes_through_its_flag_map failed.
    let cmd = format!(
        "{} {} --listen {{addr}} --words {{store}}",
        python3(),
        impls().join("different.py").display()
    );
    let toml = impls().join("different.toml");
    let output = Command::new(binary())
        .args(["replay", "--no-box", "--target-cmd", &cmd, "--target-flags"])
        .arg(&toml)
        .arg(&mine)
        .output()
        .expect("wordwire runs");
    assert_eq!(output.status.code(), Some(1));
    // The tests' helpers (and tests/golden.rs, tests/transcripts.rs: builtin::listed) read
    // the suite from transcripts/SUITE: the same files and count as before the copy.
    assert_eq!(crate::support::suite_files_in(copy, "transcripts"), before);
    assert!(!crate::support::suite_files_in(copy, "transcripts/methods").contains(&mine));
    assert_eq!(
        before.len(),
        crate::support::suite_files("transcripts").len()
    );
    // Replaying the directory says which file is not part of the suite.
    let output = Command::new(binary())
        .args(["replay", "--coverage", "transcripts"])
        .current_dir(copy)
        .output()
        .expect("wordwire runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr,
        "note: transcripts/methods/my-session.transcript is not listed in transcripts/SUITE: played from disk, not part of the built-in suite nor of cargo test\n"
    );
}

#[test]
fn grade_pointed_at_one_folder_holding_the_command_file_grades_it_alone() {
    // It said "no submissions": the folder's own subdirectories were the submissions.
    let work = tempfile::tempdir().unwrap();
    let alice = work.path().join("alice");
    std::fs::create_dir_all(alice.join("src")).unwrap();
    std::fs::write(
        alice.join("wordwire-cmd"),
        format!("'{}' serve --addr {{addr}} --store {{store}}\n", binary()),
    )
    .unwrap();
    let output = Command::new(binary())
        // --no-box: the command is our binary, outside the folder a box would copy.
        .args(["grade", ".", "--no-box", "--out", "../grades", "--suite"])
        .arg(root().join("transcripts/methods/post-appends-word.transcript"))
        .current_dir(&alice)
        .output()
        .expect("wordwire runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("\nalice        100%"), "{stdout}");
    assert!(
        stdout.contains("\n1 submission, 1 transcript each, in "),
        "{stdout}"
    );
    assert!(work.path().join("grades/alice.html").is_file());
}

#[test]
fn response_wait_lowers_the_wait_of_transcripts_without_a_timeout_line() {
    // A target that listens and never answers: each expect waits out its wait.
    let cmd = format!(
        "{} -c 'import socket,sys,time; s=socket.socket(); s.bind((\"127.0.0.1\", int(sys.argv[1]))); s.listen(); time.sleep(60)' {{port}}",
        python3()
    );
    let dir = tempfile::tempdir().unwrap();
    let steps = "open a\nsend a\n  > GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n\nexpect a\n  < HTTP/1.1 401 Unauthorized\\r\\n\n";
    std::fs::write(dir.path().join("default.transcript"), steps).unwrap();
    std::fs::write(
        dir.path().join("own.transcript"),
        format!("timeout 700\n{steps}"),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let output = Command::new(binary())
        .args([
            "replay",
            "--no-box",
            "--jobs",
            "2",
            "--response-wait",
            "300",
            "--target-cmd",
            &cmd,
        ])
        .arg(dir.path())
        .output()
        .expect("wordwire runs");
    let took = started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    let waited = |file: &str, ms: u32| {
        stdout.contains(&format!(
            "{file}:{}: `expect a`: no response: the server sent nothing within {ms} ms (replay's wait for each response: the transcript's `timeout` line, else --response-wait, default 5000 ms)",
            if ms == 300 { 4 } else { 5 }
        ))
    };
    assert!(waited("default.transcript", 300), "{stdout}");
    // A transcript's own `timeout` line wins.
    assert!(waited("own.transcript", 700), "{stdout}");
    // Both side by side, well under the default 5 s (on a loaded machine too).
    assert!(took < std::time::Duration::from_secs(4), "{took:?}");
}

#[test]
fn grade_refuses_a_directory_without_submissions() {
    let work = tempfile::tempdir().unwrap();
    let output = Command::new(binary())
        .arg("grade")
        .arg(work.path())
        .arg("--out")
        .arg(work.path().join("grades"))
        .output()
        .expect("wordwire runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no submissions"), "{stderr}");
}

/// `wordwire replay --target ADDR --format FORMAT` over the suite: exit code and stdout.
fn replay_running(addr: &str, format: &str) -> (Option<i32>, String) {
    let output = Command::new(binary())
        .args(["replay", "--target", addr, "--format", format])
        .args(suite_files("transcripts"))
        .current_dir(root())
        .output()
        .expect("wordwire runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).to_string(),
    )
}

#[test]
fn a_running_target_is_scored_on_what_it_played_and_every_format_says_what_was_skipped() {
    // What the suite holds: the server transcripts, and those that need a server
    // started for them (flags, a starting store, a fault).
    let files = suite_files("transcripts");
    let server_transcripts: Vec<_> = files
        .iter()
        .filter(|p| !wordwire::grading::clients::is_client_transcript(p))
        .map(|p| wordwire::grading::suite::transcript::Transcript::load(p).expect("it parses"))
        .collect();
    let total = server_transcripts.len();
    let skipped = server_transcripts
        .iter()
        .filter(|t| t.needs_local_server())
        .count();
    // A read fault cannot be played on any foreign server: --target-cmd skips it too.
    let reads = server_transcripts
        .iter()
        .filter(|t| t.fault == Some(wordwire::grading::suite::transcript::Fault::Reads))
        .count();
    let played = total - skipped;
    assert!(
        reads == 1 && skipped > 1 && played > 0,
        "{skipped} of {total}"
    );
    let why = "sets server flags, a starting store or a fault, which a server already running cannot be given: play it with --target-cmd 'YOUR-SERVER --addr {addr} --store {store}', which starts the server per transcript";
    let why_reads = "fault reads: no mechanism makes a read fail in any server (root reads any file, and a server may serve from memory); in-process only";
    let note = format!(
        "{skipped} of {total} SKIPPED (not played, not in the score): {}: {why}; 1: {why_reads}",
        skipped - 1
    );

    let server = TestServer::start("", |_| {});
    let addr = server.addr.to_string();
    let (code, text) = replay_running(&addr, "text");
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains(&format!(
            "\nscore 100% of the {played} played ({skipped} of {total} skipped)\n"
        )),
        "{text}"
    );
    assert!(
        text.ends_with(&format!("\n{played} passed, 0 failed, {note}\n")),
        "{text}"
    );
    // Each reason in full once in the progress lines (then "the reason above"), once in the summary.
    assert_eq!(text.matches(why).count(), 2, "{text}");
    assert_eq!(
        text.matches(": the reason above\n").count(),
        skipped - 2,
        "{text}"
    );

    let (_, json) = replay_running(&addr, "json");
    let report: serde_json::Value = serde_json::from_str(&json).expect("the JSON parses");
    assert_eq!(report["played"], played, "{json}");
    assert_eq!(report["skipped"], skipped);
    assert_eq!(report["total"], total);
    assert_eq!(report["score"], 100.0);
    assert_eq!(
        report["skip_reasons"],
        serde_json::json!([
            {"reason": why, "count": skipped - 1},
            {"reason": why_reads, "count": 1}
        ])
    );

    let (_, xml) = replay_running(&addr, "junit");
    assert!(
        xml.contains(&format!(
            " tests=\"{total}\" failures=\"0\" errors=\"0\" skipped=\"{skipped}\" "
        )),
        "{xml}"
    );
    assert!(
        xml.ends_with(&format!(
            "  <system-out>{}</system-out>\n</testsuite>\n",
            note.replace('\'', "&apos;")
        )),
        "{xml}"
    );

    let (_, tap) = replay_running(&addr, "tap");
    assert!(
        tap.starts_with(&format!("TAP version 14\n1..{total}\n")),
        "{tap}"
    );
    assert_eq!(tap.matches(" # SKIP ").count(), skipped, "{tap}");
    assert!(tap.ends_with(&format!("\n# {note}\n")), "{tap}");

    let (_, page) = replay_running(&addr, "html");
    assert!(
        page.contains(&format!(
            "<p class=\"score\">Score <b>100%</b> of the {played} played: {played} passed, 0 failed, 0 warnings (SHOULD).</p>\n<p class=\"score\"><b>{}</b></p>\n",
            note.replace('\'', "&apos;")
        )),
        "{page}"
    );
}

#[test]
fn a_server_that_serves_an_empty_host_fails_a_should_not_a_must() {
    // RFC 9112 §3.3: a server "can reject" an empty authority; wordwire does, a server
    // that serves it is not wrong: the transcript is a SHOULD (a warning, exit 0).
    let cmd = format!(
        "{} {} --addr {{addr}} --store {{store}}",
        python3(),
        impls().join("lenient_empty_host.py").display()
    );
    let report = grade_part(
        &cmd,
        &[],
        "transcripts/syntax/empty-host-is-400.transcript",
        1,
    );
    assert_eq!(report["warnings"], 1, "{report:#}");
    assert_eq!(report["failed"], 0, "{report:#}");
    assert_eq!(report["transcripts"][0]["level"], "SHOULD", "{report:#}");
}

/// A transcript for `tests/impls/wordserver.py` whose starting store holds its `name`
/// (the log of `logging_wordserver` names each start by it): a POST answered 200, then,
/// for a long one, `wait_ms`.
pub fn named_transcript(dir: &Path, name: &str, wait_ms: Option<u64>) {
    let mut text = format!(
        "# {name}\nstore\n  | {name}\nopen a\nsend a\n  > POST / HTTP/1.1\\r\\n\n  > Host: localhost\\r\\n\n  > Content-Length: 5\\r\\n\n  > \\r\\n\n  > hello\nexpect a\n  < HTTP/1.1 200 OK\\r\\n\n  < Date: [DATE]\\r\\n\n  < Server: [SERVER]\\r\\n\n  < Content-Type: text/plain; charset=utf-8\\r\\n\n  < Content-Length: 12\\r\\n\n  < \\r\\n\n  < added hello\\n\n  = body 12 bytes\n  ~ body message\n"
    );
    if let Some(ms) = wait_ms {
        text.push_str(&format!("wait {ms}\n"));
    }
    std::fs::write(dir.join(format!("{name}.transcript")), text).unwrap();
}

/// `WORK/transcripts`, holding a `named_transcript` for each of `short` and one that
/// waits as given for each of `long`.
fn named_suite(work: &Path, short: &[&str], long: &[(&str, u64)]) -> PathBuf {
    let suite = work.join("transcripts");
    std::fs::create_dir(&suite).unwrap();
    for name in short {
        named_transcript(&suite, name, None);
    }
    for (name, ms) in long {
        named_transcript(&suite, name, Some(*ms));
    }
    suite
}

/// A `--no-box` command that starts `tests/impls/wordserver.py` on `{addr}` and
/// `{store}` and appends `start NAME` to `log` as it starts and `stop NAME` as its
/// group is stopped (SIGTERM), NAME being the first line of its starting store. With
/// `pause` (seconds), it sleeps that long after `start NAME` and appends `ready NAME`
/// before the server starts: a start that takes at least `pause`.
fn logging_wordserver(log: &Path, pause: Option<f64>) -> String {
    let log = log.display();
    let server = impls().join("wordserver.py");
    let pause = pause.map_or(String::new(), |secs| {
        format!("sleep {secs}; echo ready $n >> {log}; ")
    });
    format!(
        "n=$(head -n 1 {{store}}); echo start $n >> {log}; {pause}trap 'echo stop $n >> {log}; exit 0' TERM; {} {} --addr {{addr}} --store {{store}} & wait",
        python3(),
        server.display()
    )
}

/// `replay --format json --jobs 1 --no-box` of `WORK/transcripts` against a
/// `logging_wordserver` (with `pause`), once with each of `runs`' extra flags, all at
/// once: each exits 0 with exactly `passed` passing. Returns each run's log events.
fn logged_replays(
    work: &Path,
    runs: &[&[&str]],
    pause: Option<f64>,
    passed: &[&str],
) -> Vec<Vec<(String, String)>> {
    let replay = |n: usize, flags: &[&str]| {
        let log = work.join(format!("run-{n}.log"));
        let mut command = Command::new(binary());
        command
            .args(["replay", "--format", "json", "--jobs", "1", "--no-box"])
            .args(flags)
            .args(["--target-cmd", &logging_wordserver(&log, pause)])
            .arg(work.join("transcripts"));
        (output_within(&mut command, Duration::from_secs(90)), log)
    };
    let outputs: Vec<_> = std::thread::scope(|s| {
        let running: Vec<_> = runs
            .iter()
            .enumerate()
            .map(|(n, flags)| s.spawn(move || replay(n, flags)))
            .collect();
        running.into_iter().map(|r| r.join().unwrap()).collect()
    });
    outputs
        .into_iter()
        .map(|(output, log)| {
            let report: serde_json::Value = serde_json::from_slice(&output.stdout)
                .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stderr)));
            assert_eq!(output.status.code(), Some(0), "{report:#}");
            assert_eq!(with_outcome(&report, "passed"), names(passed), "{report:#}");
            log_events(&log)
        })
        .collect()
}

/// `(event, name)` of each line of a `logging_wordserver` log.
fn log_events(log: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let (event, name) = l.split_once(' ').expect("EVENT NAME");
            (event.to_string(), name.to_string())
        })
        .collect()
}

/// The most servers of `events` alive at once; panics on a stop without its start.
fn most_alive(events: &[(String, String)]) -> usize {
    let mut alive = BTreeSet::new();
    let mut most = 0;
    for (event, name) in events {
        match event.as_str() {
            "start" => assert!(
                alive.insert(name.clone()),
                "{name} started twice: {events:?}"
            ),
            "stop" => assert!(alive.remove(name), "{name} stopped unstarted: {events:?}"),
            other => panic!("{other}: {events:?}"),
        }
        most = most.max(alive.len());
    }
    assert!(alive.is_empty(), "not stopped: {alive:?} in {events:?}");
    most
}

/// `replay --target-cmd --no-box --jobs 1`: with `--ahead 2`, servers start while the
/// transcript before them plays (three alive at once: the two short ones after the
/// first long one start ahead, before it has finished its 2 s wait), but only once
/// the first start has listened (the first play, a short one by the spread, runs
/// alone), each is started and stopped once, and every transcript passes; with
/// `--ahead 0` each server starts at its play and is stopped before the next starts,
/// in file order.
#[test]
fn replay_starts_servers_ahead_once_the_first_listened_and_with_ahead_0_one_at_a_time() {
    let work = tempfile::tempdir().unwrap();
    // In file order the long ones come last; spread (`play_order`): s1 l1 s2 s3 l2.
    named_suite(
        work.path(),
        &["s1", "s2", "s3"],
        &[("x-l1", 2000), ("x-l2", 2000)],
    );
    // Both at once: the test takes as long as the slower of the two.
    let played = logged_replays(
        work.path(),
        &[&["--ahead", "2"], &["--ahead", "0"]],
        None,
        &["s1", "s2", "s3", "x-l1", "x-l2"],
    );
    let [ahead, one_by_one] = &played[..] else {
        unreachable!()
    };
    let pair = |event: &str, name: &str| (event.to_string(), name.to_string());
    // --ahead 2.
    assert!(most_alive(ahead) >= 3, "{ahead:?}");
    assert_eq!(ahead.len(), 10, "each started and stopped once: {ahead:?}");
    assert_eq!(
        ahead[..2],
        [pair("start", "s1"), pair("stop", "s1")],
        "a short one first, alone until it listened: {ahead:?}"
    );
    let at = |e: (String, String)| ahead.iter().position(|x| *x == e).unwrap();
    for short in ["s2", "s3"] {
        assert!(
            at(pair("start", short)) < at(pair("stop", "x-l1")),
            "{short} starts ahead while x-l1 plays: {ahead:?}"
        );
    }
    // --ahead 0.
    assert_eq!(most_alive(one_by_one), 1, "{one_by_one:?}");
    let expected: Vec<(String, String)> = ["s1", "s2", "s3", "x-l1", "x-l2"]
        .into_iter()
        .flat_map(|n| [pair("start", n), pair("stop", n)])
        .collect();
    assert_eq!(one_by_one, &expected);
}

/// `replay --target-cmd --no-box --jobs 1 --ahead 4`: with `--starts 1` the servers
/// started ahead start one at a time, in the order they play (each start, from
/// `start NAME` to `ready NAME` 0.7 s later, well within a slot's 2 s lease, ends
/// before the next begins),
/// and every transcript passes; with `--starts 4` they start side by side during the
/// long play (the check above can see an overlap).
#[test]
fn starts_ahead_wait_their_turn_in_play_order_with_starts_1() {
    let work = tempfile::tempdir().unwrap();
    // Played (`play_order`) as s1 x-l1 s2 s3 s4 s5 s6: s2 to s5 start ahead during
    // x-l1's 2 s wait.
    named_suite(
        work.path(),
        &["s1", "s2", "s3", "s4", "s5", "s6"],
        &[("x-l1", 2000)],
    );
    let starts: Vec<Vec<(String, String)>> = logged_replays(
        work.path(),
        &[
            &["--ahead", "4", "--starts", "1"],
            &["--ahead", "4", "--starts", "4"],
        ],
        Some(0.7),
        &["s1", "s2", "s3", "s4", "s5", "s6", "x-l1"],
    )
    .into_iter()
    // Each start's span, from `start` to `ready`.
    .map(|events| {
        events
            .into_iter()
            .filter(|(event, _)| event != "stop")
            .collect()
    })
    .collect();
    let [one, four] = &starts[..] else {
        unreachable!()
    };
    let pair = |event: &str, name: &str| (event.to_string(), name.to_string());
    let expected: Vec<(String, String)> = ["s1", "x-l1", "s2", "s3", "s4", "s5", "s6"]
        .into_iter()
        .flat_map(|n| [pair("start", n), pair("ready", n)])
        .collect();
    assert_eq!(one, &expected, "one start at a time, in play order");
    let most_starting = four
        .iter()
        .scan(0i32, |starting, (event, _)| {
            *starting += if event == "start" { 1 } else { -1 };
            Some(*starting)
        })
        .max();
    assert!(
        most_starting >= Some(2),
        "side by side with --starts 4: {four:?}"
    );
}

/// A `--no-box` start that exits saying its address was in use (another program's
/// connection can hold a freshly freed port a moment, and no listener shows it) is
/// started again on a fresh port, not judged: the second start serves and the
/// transcript passes. Before, only a port another program listened on was retried.
#[test]
fn a_start_that_found_its_port_in_use_is_tried_again_on_another() {
    let work = tempfile::tempdir().unwrap();
    let marker = work.path().join("tried");
    let cmd = format!(
        "if mkdir {} 2>/dev/null; then echo 'OSError: [Errno 98] Address already in use' >&2; exit 1; fi; exec {} {} --addr {{addr}} --store {{store}}",
        marker.display(),
        python3(),
        impls().join("wordserver.py").display()
    );
    let report = grade_part(
        &cmd,
        &["--no-box"],
        "transcripts/methods/post-appends-word.transcript",
        1,
    );
    assert!(marker.exists(), "the first start ran: {report:#}");
    assert_eq!(
        with_outcome(&report, "passed"),
        names(&["methods/post-appends-word"]),
        "{report:#}"
    );
}

/// `grade --no-box --course` of a mixed class: b's command names no `{store}`, so
/// its starts share the course's data file in b's directory and must run one at a
/// time; then no submission starts servers ahead, a's neither (its starts alternate
/// with its stops, in file order), though a alone starts them ahead (the control:
/// two of a's servers alive at once during the long play).
#[test]
fn a_class_with_one_submission_that_shares_a_machine_starts_none_ahead() {
    let work = tempfile::tempdir().unwrap();
    let suite = named_suite(work.path(), &["s1", "s2", "s3"], &[("x-l1", 1000)]);
    let course = work.path().join("course.toml");
    std::fs::write(
        &course,
        "[store]\nfile = \"words.txt\"\n\n[grading]\nprofile = \"contract\"\n",
    )
    .unwrap();
    let run = |name: &str, with_b: bool| {
        let class = work.path().join(name);
        let log = work.path().join(format!("{name}.log"));
        std::fs::create_dir_all(class.join("a")).unwrap();
        std::fs::write(class.join("a/wordwire-cmd"), logging_wordserver(&log, None)).unwrap();
        if with_b {
            std::fs::create_dir_all(class.join("b")).unwrap();
            let b = format!(
                "{} {} --addr {{addr}} --store words.txt",
                python3(),
                impls().join("wordserver.py").display()
            );
            std::fs::write(class.join("b/wordwire-cmd"), b).unwrap();
        }
        let mut command = Command::new(binary());
        command
            .arg("grade")
            .arg(&class)
            .args(["--no-box", "--jobs", "2", "--ahead", "2", "--course"])
            .arg(&course)
            .arg("--suite")
            .arg(&suite)
            .arg("--out")
            .arg(work.path().join(format!("{name}-grades")));
        let output = output_within(&mut command, Duration::from_secs(90));
        let said = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{said}");
        (log_events(&log), said)
    };
    let ((mixed, mixed_said), (alone, alone_said)) = std::thread::scope(|s| {
        let mixed = s.spawn(|| run("mixed", true));
        let alone = s.spawn(|| run("alone", false));
        (mixed.join().unwrap(), alone.join().unwrap())
    });
    assert!(mixed_said.contains("b            100%"), "{mixed_said}");
    let pair = |event: &str, name: &str| (event.to_string(), name.to_string());
    let one_by_one: Vec<(String, String)> = ["s1", "s2", "s3", "x-l1"]
        .into_iter()
        .flat_map(|n| [pair("start", n), pair("stop", n)])
        .collect();
    assert_eq!(mixed, one_by_one, "{mixed_said}");
    assert!(most_alive(&alone) >= 2, "{alone:?}\n{alone_said}");
}
