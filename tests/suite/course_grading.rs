//! Grading by a course file (`--course`): the student servers of `tests/impls/course/`,
//! written to the course and not to our contract (port 12345 and `words.txt` hard-coded,
//! admin:secret, 501 and 504 of their own), graded as a TA grades a class.
//!
//! The students' servers all listen on the course's port 12345, so the tests that start
//! them take `PORT` one at a time (and `grade --course` plays one transcript at a time).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use crate::support::{binary, python3};

/// Held by every test that starts a server on the course's port.
static PORT: Mutex<()> = Mutex::new(());

fn course_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/impls/course")
}

/// The course file of `tests/impls/course/`, its start command run by this test's Python.
fn course_text() -> String {
    std::fs::read_to_string(course_dir().join("course.toml"))
        .unwrap()
        .replace(
            "start = \"python3 student.py\"",
            &format!("start = \"{} student.py\"", python3()),
        )
}

/// A class directory: one submission per `(name, command)`, each holding every file of
/// `tests/impls/course/`; a `None` command leaves out `wordwire-cmd` (the course's start).
fn class(submissions: &[(&str, Option<&str>)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, command) in submissions {
        let sub = dir.path().join(name);
        std::fs::create_dir(&sub).unwrap();
        for entry in std::fs::read_dir(course_dir()).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "py") {
                std::fs::copy(&path, sub.join(path.file_name().unwrap())).unwrap();
            }
        }
        if let Some(command) = command {
            std::fs::write(
                sub.join("wordwire-cmd"),
                format!("{} {command}\n", python3()),
            )
            .unwrap();
        }
    }
    std::fs::write(dir.path().join("course.toml"), course_text()).unwrap();
    dir
}

/// Per submission, Gradescope's results.json that `grade --format gradescope` wrote.
struct Graded {
    results: BTreeMap<String, serde_json::Value>,
    csv: String,
    stdout: String,
}

fn grade_class(submissions: &[(&str, Option<&str>)]) -> Graded {
    let class = class(submissions);
    let out = tempfile::tempdir().unwrap();
    let output = Command::new(binary())
        .arg("grade")
        .arg(class.path())
        .arg("--course")
        .arg(class.path().join("course.toml"))
        .args(["--format", "gradescope", "--out"])
        .arg(out.path())
        .output()
        .expect("wordwire runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let mut results = BTreeMap::new();
    for (name, _) in submissions {
        let path = out.path().join(name).join("results.json");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}\n{stdout}\n{}",
                path.display(),
                String::from_utf8_lossy(&output.stderr)
            )
        });
        results.insert(name.to_string(), serde_json::from_str(&text).unwrap());
    }
    let csv = std::fs::read_to_string(out.path().join("summary.csv")).unwrap();
    Graded {
        results,
        csv,
        stdout,
    }
}

/// The tests of a results.json that earned less than their `max_score`, with their output.
fn lost(results: &serde_json::Value) -> BTreeMap<String, String> {
    results["tests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["score"].as_f64() < t["max_score"].as_f64())
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_string(),
                t["output"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The rejections of the assignment: "is 400/401/404" transcripts with a positive twin.
const REJECTIONS: [&str; 8] = [
    "methods/post-invalid-word-is-400",
    "methods/post-word-with-punctuation-is-400",
    "methods/get-without-credentials-is-401",
    "methods/get-wrong-password-is-401",
    "methods/put-unknown-old-word-is-400",
    "methods/put-with-one-word-is-400",
    "methods/delete-unknown-word-is-400",
    "methods/other-path-is-404",
];

#[test]
fn a_class_graded_by_its_course_file_right_ones_full_marks_each_defect_named() {
    let _port = PORT.lock().unwrap_or_else(|e| e.into_inner());
    let graded = grade_class(&[
        ("always400", Some("always_400.py")),
        ("closes", None),
        ("lower", Some("student.py lower")),
        ("no_auth", Some("defect_no_auth.py")),
        ("no_timeout", Some("defect_no_timeout.py")),
        ("punctuation", Some("defect_accepts_punctuation.py")),
        ("put_first", Some("defect_put_first_only.py")),
        ("delete_200", Some("defect_delete_unknown_200.py")),
        ("spaces", Some("defect_get_joins_with_spaces.py")),
    ]);
    // Both correct servers: every point, no MUST failure; contract-only transcripts
    // are listed at no points, not failed.
    for name in ["closes", "lower"] {
        let r = &graded.results[name];
        assert_eq!(lost(r), BTreeMap::new(), "{name}");
        let max: f64 = r["tests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["max_score"].as_f64().unwrap())
            .sum();
        assert!(max >= 14.0, "{name}: {max}");
        assert_eq!(r["score"].as_f64(), Some(max), "{name}");
        let keep_alive = r["tests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == "timeouts/idle-keep-alive-is-closed-silently")
            .unwrap();
        assert_eq!(keep_alive["max_score"].as_f64(), Some(0.0));
        assert!(
            keep_alive["output"]
                .as_str()
                .unwrap()
                .starts_with("skipped (MUST timeouts): contract only, not scored"),
            "{keep_alive}"
        );
        let row = graded
            .csv
            .lines()
            .find(|l| l.starts_with(&format!("{name},")))
            .unwrap();
        assert!(row.contains(",100,0,0,"), "{row}");
        // The points come last: earned/max over every played transcript.
        let (earned, max) = row.rsplit(',').next().unwrap().split_once('/').unwrap();
        assert_eq!(earned, max, "{row}");
    }
    assert!(
        graded
            .csv
            .lines()
            .next()
            .unwrap()
            .ends_with(",points_timeouts,points")
    );
    // Each defect: the transcript about it loses points and its output names what
    // the server did.
    let defects = [
        (
            "no_auth",
            "methods/get-without-credentials-is-401",
            "without the credentials",
        ),
        (
            "no_timeout",
            "timeouts/stalled-body-is-504-and-close",
            "no response",
        ),
        (
            "punctuation",
            "methods/post-word-with-punctuation-is-400",
            "accepted what the assignment says to refuse",
        ),
        (
            "put_first",
            "methods/put-replaces-every-old-word",
            "the data file words.txt differs",
        ),
        (
            "delete_200",
            "methods/delete-unknown-word-is-400",
            "your server answered 200, the assignment asks 400",
        ),
        (
            "spaces",
            "methods/get-returns-the-store-exactly",
            "the body is not the data file",
        ),
    ];
    for (name, transcript, said) in defects {
        let lost = lost(&graded.results[name]);
        let output = lost
            .get(transcript)
            .unwrap_or_else(|| panic!("{name} did not lose {transcript}: {lost:?}"));
        assert!(output.contains(said), "{name}: {output}");
    }
    // "Always 400" earns nothing for the rejections it "passes".
    let always = &graded.results["always400"];
    for t in always["tests"].as_array().unwrap() {
        if REJECTIONS.contains(&t["name"].as_str().unwrap()) {
            assert_eq!(t["score"].as_f64(), Some(0.0), "{t}");
        }
    }
    let twin_said = lost(always)
        .into_iter()
        .filter(|(_, output)| output.contains("no credit for this rejection"))
        .count();
    assert!(twin_said >= 6, "{:?}", lost(always));
    assert!(graded.stdout.contains("lower"), "{}", graded.stdout);
}

#[test]
fn replay_with_the_course_starts_the_course_command_and_passes_the_student() {
    let _port = PORT.lock().unwrap_or_else(|e| e.into_inner());
    let dir = class(&[("closes", None)]);
    let sub = dir.path().join("closes");
    std::fs::write(sub.join("words.txt"), "kept\n").unwrap();
    let output = Command::new(binary())
        .args(["replay", "--format", "json", "--course"])
        .arg(dir.path().join("course.toml"))
        .current_dir(&sub)
        .output()
        .expect("wordwire runs");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&output.stderr));
    });
    assert_eq!(output.status.code(), Some(0), "{report}");
    assert_eq!(report["failed"], 0, "{report}");
    assert!(report["passed"].as_u64().unwrap() >= 14, "{report}");
    // Grading leaves the data file as it found it.
    assert_eq!(
        std::fs::read_to_string(sub.join("words.txt")).unwrap(),
        "kept\n"
    );
}

#[test]
fn replay_prints_gradescope_results_for_our_own_server() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let output = Command::new(binary())
        .args(["replay", "--format", "gradescope"])
        .arg(root.join("transcripts/methods/post-appends-word.transcript"))
        .arg(root.join("transcripts/failures/read-fault-is-500.transcript"))
        .output()
        .expect("wordwire runs");
    assert_eq!(output.status.code(), Some(0));
    let results: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(results["score"], 2.0, "{results:#}");
    let tests = results["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 2);
    assert!(tests.iter().all(|t| t["score"] == t["max_score"]));
    assert_eq!(tests[1]["tags"], serde_json::json!(["MUST", "methods"]));
}

#[test]
fn a_course_in_the_contract_profile_keeps_our_own_server_at_full_marks() {
    // A course file that keeps the contract's reading (the lab pair, our statuses)
    // and asks for the contract profile: our server, started per transcript, passes all.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("c.toml"),
        "[grading]\nprofile = \"contract\"\n",
    )
    .unwrap();
    let cmd = format!("'{}' serve --addr {{addr}} --store {{store}}", binary());
    let output = Command::new(binary())
        .args([
            "replay",
            "--format",
            "json",
            "--course",
            "c.toml",
            // Our binary lies outside the directory a box would copy.
            "--no-box",
            "--target-cmd",
        ])
        .arg(&cmd)
        .current_dir(dir.path())
        .output()
        .expect("wordwire runs");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&output.stderr));
    });
    assert_eq!(output.status.code(), Some(0), "{report:#}");
    assert_eq!(report["failed"], 0, "{report:#}");
    assert_eq!(report["warnings"], 0, "{report:#}");
    // Only the read fault (in-process only) is not played: nothing is "contract only".
    assert_eq!(report["skipped"], 1, "{report:#}");
}
