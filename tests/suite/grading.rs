//! The grader against small Python implementations of the contract (`tests/impls/`):
//! the correct ones pass every MUST transcript, each defective one fails exactly the
//! transcripts about its defect.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn impls() -> PathBuf {
    root().join("tests/impls")
}

/// The JSON report of `wordwire replay --target-cmd CMD [extra...] transcripts/`.
fn grade(cmd: &str, extra: &[&str]) -> serde_json::Value {
    let output = Command::new(env!("CARGO_BIN_EXE_wordwire"))
        .args([
            "replay",
            "--format",
            "json",
            "--jobs",
            "3",
            "--target-cmd",
            cmd,
        ])
        .args(extra)
        .arg(root().join("transcripts"))
        .output()
        .expect("wordwire runs");
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e}): {}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn python(file: &str) -> String {
    format!(
        "python3 {} --addr {{addr}} --store {{store}}",
        impls().join(file).display()
    )
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

#[test]
fn a_correct_python_server_passes_every_transcript_but_the_read_fault() {
    let report = grade(&python("wordserver.py"), &[]);
    assert_passes(&report);
    assert_eq!(report["score"], 100.0);
    assert_eq!(report["categories"]["auth"]["passed"], 3);
}

#[test]
fn a_correct_but_different_server_passes_through_its_flag_map() {
    let toml = impls().join("different.toml");
    let cmd = format!(
        "python3 {} --listen {{addr}} --words {{store}}",
        impls().join("different.py").display()
    );
    let report = grade(&cmd, &["--target-flags", toml.to_str().unwrap()]);
    assert_passes(&report);
    // Byte for byte it is another server: --exact fails it nearly everywhere.
    let exact = grade(&cmd, &["--target-flags", toml.to_str().unwrap(), "--exact"]);
    assert!(with_outcome(&exact, "passed").len() < 5, "{exact:#}");
}

#[test]
fn without_the_flag_map_the_different_server_cannot_start_with_our_flags() {
    let cmd = format!(
        "python3 {} --listen {{addr}} --words {{store}}",
        impls().join("different.py").display()
    );
    let report = grade(&cmd, &[]);
    // argparse refuses --max-body: the transcripts with server flags cannot play.
    let errors = with_outcome(&report, "error");
    assert!(errors.contains("limits/large-body-is-413"), "{errors:?}");
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
        &["no complete response within the read timeout"],
    ),
    (
        "defect_dies_on_malformed.py",
        &["syntax/space-before-colon-is-400-and-close"],
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

/// One after another, so that the Python servers of one grading do not slow another's.
#[test]
fn each_defective_server_fails_exactly_the_transcripts_about_its_defect() {
    for (file, expected, words) in DEFECTS {
        let report = grade(&python(file), &[]);
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
    let report = grade(&python("defect_bare_lf.py"), &[]);
    assert_eq!(report["passed"], 0, "{report:#}");
    assert!(messages(&report).contains("ends in a bare LF (RFC 9112 §2.1"));
}
