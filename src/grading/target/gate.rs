//! Failing fast on a start that cannot work: a command that is not found, or a
//! compile error that repeats, is reported once and not retried for every transcript.
//!
//! Here: `StartGate`, shared by every transcript of one target (a submission, or
//! `replay --target-cmd`'s command): each start's result is recorded as it ends, and
//! once the gate closes the transcripts not yet started are not started. The gate
//! closes
//! - on a first start that exits 127 (`sh`: command not found), or
//! - when two starts fail alike: the same exit status and the same output, and
//!   either no flags appended or different ones (two starts that fail alike on the
//!   same appended flags may fail because of those flags, which others lack).
//!
//! A start that succeeded keeps the gate open for good: a flaky or flag-dependent
//! failure after it is that transcript's alone. Only the first `CONSIDERED` failed
//! starts are compared; starts that fail differently each time go on failing one
//! by one.
//! Elsewhere: the start and its failure (`grading::target::start`), the outcome of
//! a transcript not started (`grading::replay`), the submission's error line
//! (`grading::class`).

use std::path::Path;
use std::process::ExitStatus;
use std::sync::Mutex;

use crate::sandbox::describe_status;

/// Failed starts compared before the gate gives up on finding two alike.
const CONSIDERED: usize = 4;

/// What makes two failed starts alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// The flags appended to the command (the transcript's server flags, translated).
    pub args: Vec<String>,
    /// How the command ended before it listened.
    pub status: ExitStatus,
    /// Its output, with what differs from box to box (the box's path, the port)
    /// replaced by a fixed text.
    pub output: String,
}

/// Why the gate closed, as said on each transcript it kept from starting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closed {
    /// The transcript whose result holds the whole message and output.
    pub first: String,
    /// `exit status 127`.
    pub status: String,
    /// `command not found` or `failed alike on 2 starts`.
    pub why: &'static str,
}

impl Closed {
    /// The outcome of a transcript that was not started.
    pub fn not_started(&self) -> String {
        format!(
            "not run: the server's start {} ({}), so it was not started again; its output is under {}",
            self.why, self.status, self.first
        )
    }

    /// The one line for the submission as a whole (`summary.csv`'s `error`).
    pub fn summary(&self) -> String {
        format!(
            "the start {} ({}); the other transcripts were not run (see {})",
            self.why, self.status, self.first
        )
    }
}

#[derive(Debug, Default)]
struct State {
    /// A start succeeded: the gate stays open.
    succeeded: bool,
    /// The failed starts so far (up to `CONSIDERED`), each with its transcript's name.
    failures: Vec<(Signature, String)>,
    closed: Option<Closed>,
}

/// One target's record of its starts. `Default`: open, nothing recorded.
#[derive(Debug, Default)]
pub struct StartGate {
    state: Mutex<State>,
}

impl StartGate {
    /// `Some` once the gate has closed: the transcript about to start is not started.
    pub fn closed(&self) -> Option<Closed> {
        self.lock().closed.clone()
    }

    /// True once a start has listened: a command that cannot start would have shown it
    /// by then, so later starts may run ahead of their plays (`grading::ahead`).
    pub fn proven(&self) -> bool {
        self.lock().succeeded
    }

    /// A start that listened.
    pub fn succeeded(&self) {
        self.lock().succeeded = true;
    }

    /// A start of `transcript` that failed before listening, with `signature`.
    /// Returns `Some` when this failure is alike one already reported in full
    /// (the caller says so in a line instead of the output again).
    pub fn failed(&self, transcript: &Path, signature: Signature) -> Option<Closed> {
        let name = transcript_name(transcript);
        let mut state = self.lock();
        if let Some(closed) = &state.closed {
            let same = state.failures.iter().any(|(s, n)| {
                *n == closed.first && s.status == signature.status && s.output == signature.output
            });
            return same.then(|| closed.clone());
        }
        if state.succeeded || state.failures.len() >= CONSIDERED {
            return None;
        }
        if state.failures.is_empty() && signature.status.code() == Some(127) {
            state.closed = Some(Closed {
                first: name.clone(),
                status: describe_status(signature.status),
                why: "found no command",
            });
            state.failures.push((signature, name));
            return None;
        }
        let alike = state.failures.iter().find(|(earlier, _)| {
            earlier.status == signature.status
                && earlier.output == signature.output
                && (signature.args.is_empty() || earlier.args != signature.args)
        });
        if let Some((_, first)) = alike {
            let closed = Closed {
                first: first.clone(),
                status: describe_status(signature.status),
                why: "failed alike twice",
            };
            state.closed = Some(closed.clone());
            state.failures.push((signature, name));
            return Some(closed);
        }
        state.failures.push((signature, name));
        None
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `methods/post-appends-word`: a transcript's directory and name, as the reports show it.
pub fn transcript_name(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    match path
        .parent()
        .and_then(Path::file_name)
        .map(|d| d.to_string_lossy())
    {
        Some(dir) => format!("{dir}/{stem}"),
        None => stem,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    fn sig(args: &[&str], code: i32, output: &str) -> Signature {
        Signature {
            args: args.iter().map(|a| a.to_string()).collect(),
            status: ExitStatus::from_raw(code << 8),
            output: output.to_string(),
        }
    }

    fn path(name: &str) -> std::path::PathBuf {
        Path::new("/suite/transcripts/methods").join(format!("{name}.transcript"))
    }

    #[test]
    fn a_command_not_found_closes_the_gate_on_its_first_start() {
        let gate = StartGate::default();
        assert_eq!(
            gate.failed(&path("a"), sig(&[], 127, "sh: 1: nope: not found\n")),
            None
        );
        let closed = gate.closed().expect("closed");
        assert_eq!(
            closed.not_started(),
            "not run: the server's start found no command (exit status 127), so it was not started again; its output is under methods/a"
        );
        // A start that was already under way and fails alike says so in a line.
        assert_eq!(
            gate.failed(&path("b"), sig(&[], 127, "sh: 1: nope: not found\n")),
            Some(closed)
        );
    }

    #[test]
    fn two_starts_that_fail_alike_close_it_unless_their_same_flags_may_be_why() {
        let gate = StartGate::default();
        assert_eq!(
            gate.failed(&path("a"), sig(&["--max-body", "16"], 2, "bad flag")),
            None
        );
        // The same flags, the same failure: perhaps the flags; not yet.
        assert_eq!(
            gate.failed(&path("b"), sig(&["--max-body", "16"], 2, "bad flag")),
            None
        );
        assert!(gate.closed().is_none());
        // Other output: not alike.
        assert_eq!(gate.failed(&path("c"), sig(&[], 2, "other")), None);
        assert!(gate.closed().is_none());
        // No flags, the same status and output as the first: alike.
        let closed = gate
            .failed(&path("d"), sig(&[], 2, "bad flag"))
            .expect("closes");
        assert_eq!(closed.first, "methods/a");
        assert_eq!(gate.closed(), Some(closed));
    }

    #[test]
    fn a_start_that_succeeded_keeps_the_gate_open() {
        let gate = StartGate::default();
        gate.succeeded();
        assert_eq!(gate.failed(&path("a"), sig(&[], 127, "x")), None);
        assert_eq!(gate.failed(&path("b"), sig(&[], 127, "x")), None);
        assert!(gate.closed().is_none());
    }
}
