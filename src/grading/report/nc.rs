//! Reproductions: the bytes of a failing transcript as a shell line a student can paste
//! against a server started by hand (`printf ... | nc`), or, for a transcript on more
//! than one connection, a short bash script with one `/dev/tcp` descriptor per
//! connection, the sends, pauses and reads in the transcript's order.
//!
//! Here: `reproduction` and the `printf` escaping it needs. Elsewhere: when a
//! reproduction is attached (`grading::replay`), where it is shown (the other formats).

use std::fmt::Write as _;

use crate::course::{Course, Profile};
use crate::grading::suite::transcript::{StepKind, Transcript};
use crate::grading::target::Target;

/// `printf '...' | nc HOST PORT` sending what the transcript's first connection sends
/// (with `sleep`s where it pauses), for a student to paste; a bash script when the
/// transcript opens more than one connection (`script`); `None` if it sends nothing.
/// With a `course`, its `[auth] header` is in the requests and its port in the address.
pub fn reproduction(t: &Transcript, target: &Target, course: Option<&Course>) -> Option<String> {
    let first = t.steps.iter().find_map(|s| match &s.kind {
        StepKind::Open(c) => Some(c.clone()),
        _ => None,
    })?;
    let opened = t
        .steps
        .iter()
        .filter(|s| matches!(s.kind, StepKind::Open(_)))
        .count();
    let (host, port) = match (target, course.and_then(|c| c.port)) {
        (Target::Addr(addr), _) => (addr.ip().to_string(), addr.port().to_string()),
        (_, Some(port)) => ("127.0.0.1".to_string(), port.to_string()),
        _ => ("127.0.0.1".to_string(), "PORT".to_string()),
    };
    let about_auth = t.expected_statuses().contains(&401);
    let sent = |bytes: &[u8]| match course {
        Some(c) => c.request_bytes(bytes, about_auth),
        None => bytes.to_vec(),
    };
    if opened > 1 {
        return Some(script(t, &host, &port, &sent));
    }
    let mut parts = Vec::new();
    let mut pending_wait = None;
    for step in &t.steps {
        match &step.kind {
            StepKind::Send { conn, bytes } if *conn == first => {
                if let Some(ms) = pending_wait.take()
                    && !parts.is_empty()
                {
                    parts.push(format!("sleep {}", seconds(ms)));
                }
                parts.push(format!("printf '{}'", printf_escape(&sent(bytes))));
            }
            StepKind::Wait(d) => pending_wait = Some(d.as_millis()),
            _ => {}
        }
    }
    if parts.is_empty() {
        return None;
    }
    let addr = format!("{host} {port}");
    // The assignment profile lets a server close after every response: each request on a
    // connection of its own (when no pause splits one), as the grader sent them.
    let one_each = course.is_some_and(|c| c.profile == Profile::Assignment)
        && parts.len() > 1
        && parts.iter().all(|p| p.starts_with("printf"));
    if one_each {
        let lines: Vec<String> = parts.iter().map(|p| format!("{p} | nc {addr}")).collect();
        return Some(format!("{}{}", lines.join("; "), setup_note(t)));
    }
    let input = if parts.len() == 1 {
        parts.remove(0)
    } else {
        format!("{{ {}; }}", parts.join("; "))
    };
    Some(format!("{input} | nc {addr}{}", setup_note(t)))
}

/// `  # first start it with: store holding ...; server flags ...`, or nothing.
fn setup_note(t: &Transcript) -> String {
    let mut setup = Vec::new();
    if let Some(store) = t.store.as_deref().filter(|s| !s.is_empty()) {
        let words: Vec<String> = String::from_utf8_lossy(store)
            .lines()
            .map(str::to_string)
            .collect();
        setup.push(format!("store holding {}", words.join(" ")));
    }
    if let Some(flags) = t.server_flags.as_deref().filter(|f| !f.is_empty()) {
        setup.push(format!("server flags {}", flags.join(" ")));
    }
    if setup.is_empty() {
        String::new()
    } else {
        format!("  # first start it with: {}", setup.join("; "))
    }
}

/// A bash script that plays every step of `t` in order: one `/dev/tcp` descriptor per
/// connection (3, 4, ...), `printf` for a send, `sleep` for a wait, and for an expect
/// what arrived within a second (`timeout 1 cat`), so that what each connection
/// receives shows where the transcript says it should.
fn script(t: &Transcript, host: &str, port: &str, sent: &dyn Fn(&[u8]) -> Vec<u8>) -> String {
    let mut fds: Vec<String> = Vec::new();
    let mut out = String::from("# a bash script: save it as repro.sh, run `bash repro.sh`\n");
    let note = setup_note(t);
    if !note.is_empty() {
        out.push_str(note.trim_start());
        out.push('\n');
    }
    let fd = |fds: &[String], c: &str| fds.iter().position(|f| f == c).map_or(0, |i| i + 3);
    for step in &t.steps {
        let line = match &step.kind {
            StepKind::Open(c) => {
                fds.push(c.clone());
                format!("exec {}<>/dev/tcp/{host}/{port}  # open {c}", fd(&fds, c))
            }
            StepKind::Send { conn, bytes } => format!(
                "printf '{}' >&{}  # send {conn}",
                printf_escape(&sent(bytes)),
                fd(&fds, conn)
            ),
            StepKind::Wait(d) => format!("sleep {}", seconds(d.as_millis())),
            StepKind::Expect { conn, .. }
            | StepKind::ExpectClose(conn)
            | StepKind::ExpectSilence(conn, _) => format!(
                "echo \"== {conn}:\"; timeout 1 cat <&{}  # what {conn} received",
                fd(&fds, conn)
            ),
            StepKind::HalfClose(c) | StepKind::Close(c) => {
                format!("exec {}>&-  # close {c}", fd(&fds, c))
            }
            StepKind::ExpectStore { .. } => continue,
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

fn seconds(ms: u128) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// Bytes as the format string of POSIX `printf` inside single quotes: `\r` `\n`,
/// octal for other control bytes, `%%` and `'\''`.
pub(super) fn printf_escape(bytes: &[u8]) -> String {
    let mut out = String::new();
    for &b in bytes {
        match b {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\\' => out.push_str("\\\\"),
            b'%' => out.push_str("%%"),
            b'\'' => out.push_str("'\\''"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\{b:03o}");
            }
        }
    }
    out
}
