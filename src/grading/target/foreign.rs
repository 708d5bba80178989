//! `--target-cmd` and `wordwire grade`: what the start of the implementation under
//! test is asked, and what both ways of running it (`boxed`, `unboxed`) share.
//!
//! Here: `Launch` (what one transcript asks of the start: appended flags, the
//! starting store, the write fault), the placeholders (`expand`), what a failed
//! start says and how it is compared (`StartError`, `output_note`, `comparable`),
//! and `Watch`, the handle another thread holds to kill the target past the time
//! limit, with when its start began and when it listened.
//! Elsewhere: the start itself (`target::start`: `Started`, `Starting`), the box
//! (`crate::sandbox`), mapping our serve flags to the target's
//! (`grading::target::flags`), playing the steps (`grading::play`).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::gate::Signature;
use super::process;
use super::queue::STARTS;
use crate::sandbox::{Killer, Output, shell_quote};

/// How long the target has to exit after SIGTERM before it gets SIGKILL (without a box).
pub const STOP_GRACE: Duration = Duration::from_secs(2);

/// What one transcript asks of a start.
#[derive(Debug, Clone, Copy)]
pub struct Launch<'a> {
    /// The transcript, named when a start fails alike on another (`gate`).
    pub transcript: &'a Path,
    /// Appended to the command, each shell-quoted: the transcript's serve flags, translated.
    pub args: &'a [String],
    /// The starting store (`None`: empty).
    pub store: Option<&'a [u8]>,
    /// `fault writes`: the server's own writes fail (EFBIG) past this many bytes a file.
    pub write_limit: Option<u64>,
    /// Lets another thread kill the target (a transcript time limit).
    pub watch: Option<&'a Arc<Watch>>,
}

/// A handle another thread holds on the target of one transcript: `kill` ends it (its
/// box, or its process group without one) now, or as soon as it is started; when its
/// start began (a start ahead may first wait its turn in `queue::STARTS`), and when
/// the target listened, from which the transcript's time limit counts.
#[derive(Debug, Default)]
pub struct Watch {
    /// The running target, while it runs.
    target: Mutex<Option<Kill>>,
    killed: AtomicBool,
    starting: Mutex<Option<Instant>>,
    listening: Mutex<Option<Instant>>,
}

/// How to kill a running target.
#[derive(Debug)]
pub(super) enum Kill {
    /// The process group an unboxed target leads.
    Group(libc::pid_t),
    /// A box: its init, which takes every process of the box with it.
    Box(Killer),
}

impl Watch {
    /// Kills the target, and any target started later under this watch.
    pub fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
        // A start ahead still waiting its turn gives up now.
        STARTS.nudge();
        let target = self.target.lock().unwrap_or_else(|e| e.into_inner());
        match &*target {
            // The slot is cleared when the target stops, before its id could name an
            // unrelated group.
            Some(Kill::Group(pgid)) => process::signal_group(*pgid, libc::SIGKILL),
            Some(Kill::Box(killer)) => killer.kill(),
            None => {}
        }
    }

    /// True once `kill` was called.
    pub fn killed(&self) -> bool {
        self.killed.load(Ordering::SeqCst)
    }

    /// When the target's start began, if it has.
    pub fn starting_since(&self) -> Option<Instant> {
        *self.starting.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// When the target started listening, if it has.
    pub fn listening_since(&self) -> Option<Instant> {
        *self.listening.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn set(&self, target: Option<Kill>) {
        *self.target.lock().unwrap_or_else(|e| e.into_inner()) = target;
        if self.killed() {
            self.kill();
        }
    }

    /// A play begins now: a target that listens already (started ahead, while the
    /// transcript before played) is counted from now, one still starting from when it
    /// listens.
    pub fn play_begins(&self) {
        let mut listening = self.listening.lock().unwrap_or_else(|e| e.into_inner());
        if listening.is_some() {
            *listening = Some(Instant::now());
        }
    }

    pub(super) fn mark_starting(&self) {
        *self.starting.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
    }

    pub(super) fn mark_listening(&self) {
        *self.listening.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
    }
}

/// Why a start failed: what happened, the end of the command's output (`; its
/// stderr ends: ...`, or nothing), and what compares it with other starts (a command
/// that exited before listening; `None` for anything else).
#[derive(Debug)]
pub struct StartError {
    pub message: String,
    pub output: String,
    pub signature: Option<Signature>,
}

impl From<String> for StartError {
    fn from(message: String) -> StartError {
        StartError {
            message,
            output: String::new(),
            signature: None,
        }
    }
}

/// `template` with `{port}`, `{host}` and `{addr}` replaced, and `{store}` too when
/// `store` is given (a box replaces it itself: the path exists only once the box does);
/// values are shell-quoted when they need it.
pub fn expand(template: &str, addr: SocketAddr, store: Option<&Path>) -> String {
    let expanded = template
        .replace("{port}", &addr.port().to_string())
        .replace("{host}", &addr.ip().to_string())
        .replace("{addr}", &addr.to_string());
    match store {
        Some(store) => expanded.replace("{store}", &shell_quote(&store.display().to_string())),
        None => expanded,
    }
}

/// `command` with `args` appended, each shell-quoted.
pub fn with_args(mut command: String, args: &[String]) -> String {
    for arg in args {
        command.push(' ');
        command.push_str(&shell_quote(arg));
    }
    command
}

/// True if the command names its address (`{port}` or `{addr}`): then the server is
/// awaited there; otherwise wherever it listens (port discovery, in a box).
pub fn names_its_port(template: &str) -> bool {
    template.contains("{port}") || template.contains("{addr}")
}

/// `; its stderr ends:\n      ...` with the last lines of each stream the target
/// wrote to, or nothing.
pub fn output_note(output: &Output) -> String {
    let mut parts = Vec::new();
    for (name, captured) in [("stdout", &output.stdout), ("stderr", &output.stderr)] {
        let text = captured.text();
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let last = &lines[lines.len().saturating_sub(5)..];
        if !last.is_empty() {
            parts.push(format!("its {name} ends:\n      {}", last.join("\n      ")));
        }
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("; {}", parts.join("\n    "))
    }
}

/// The output of a start that failed, as compared with another's: both streams,
/// with each of `varying` (the box's path, the port) replaced by a fixed text.
pub fn comparable(stdout: &str, stderr: &str, varying: &[String]) -> String {
    let mut text = format!("{stdout}\0{stderr}");
    for v in varying.iter().filter(|v| !v.is_empty()) {
        text = text.replace(v.as_str(), "\u{1}");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_expanded_and_quoted() {
        let addr: SocketAddr = "127.0.0.1:4321".parse().unwrap();
        assert_eq!(
            expand(
                "srv --port {port} --host {host} -a {addr} -s {store}",
                addr,
                Some(Path::new("/tmp/a b/w.txt"))
            ),
            "srv --port 4321 --host 127.0.0.1 -a 127.0.0.1:4321 -s '/tmp/a b/w.txt'"
        );
        // A box expands {store} itself.
        assert_eq!(
            expand("srv {addr} {store}", addr, None),
            "srv 127.0.0.1:4321 {store}"
        );
        assert_eq!(
            with_args("srv".into(), &["--max-body".into(), "it's".into()]),
            r"srv --max-body 'it'\''s'"
        );
        assert_eq!(shell_quote(""), "''");
        assert!(names_its_port("x --addr {addr}") && !names_its_port("python3 server.py"));
    }
}
