//! `nc` reproductions: the bytes of a failing transcript's first connection as a
//! shell line a student can paste against a server started by hand.
//!
//! Here: `reproduction` and the `printf` escaping it needs. Elsewhere: when a
//! reproduction is attached (`grading::replay`), where it is shown (the other formats).

use std::fmt::Write as _;

use crate::grading::suite::transcript::{StepKind, Transcript};
use crate::grading::target::Target;

/// `printf '...' | nc HOST PORT` sending what the transcript's first connection sends
/// (with `sleep`s where it pauses), for a student to paste; `None` if it sends nothing.
pub fn reproduction(t: &Transcript, target: &Target) -> Option<String> {
    let first = t.steps.iter().find_map(|s| match &s.kind {
        StepKind::Open(c) => Some(c.clone()),
        _ => None,
    })?;
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
                parts.push(format!("printf '{}'", printf_escape(bytes)));
            }
            StepKind::Wait(d) => pending_wait = Some(d.as_millis()),
            _ => {}
        }
    }
    if parts.is_empty() {
        return None;
    }
    let addr = match target {
        Target::Addr(addr) => format!("{} {}", addr.ip(), addr.port()),
        _ => "127.0.0.1 PORT".to_string(),
    };
    let input = if parts.len() == 1 {
        parts.remove(0)
    } else {
        format!("{{ {}; }}", parts.join("; "))
    };
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
    let setup = if setup.is_empty() {
        String::new()
    } else {
        format!("  # first start it with: {}", setup.join("; "))
    };
    Some(format!("{input} | nc {addr}{setup}"))
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
