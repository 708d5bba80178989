//! The access log: one line per answered request, collected per loop and
//! written in whole batches.
//!
//! Here: the line's format, and batching (a loop writes its lines once per
//! turn, or sooner when a batch fills).
//! Elsewhere: when a request is answered (`server::conn`), when a loop's turn
//! ends (`server::event_loop`).

use std::fs::File;
use std::io::Write;
use std::net::SocketAddr;
use std::time::Instant;

use crate::http::response::Response;
use crate::http::{RequestHead, Version};

/// A batch is written once it holds more than this: no larger than a pipe
/// writes atomically, so lines from different loops never interleave.
const LOG_FLUSH: usize = 4000;

/// One loop's access log: lines not yet written, and where they go.
pub(super) struct AccessLog {
    enabled: bool,
    /// The server's own handle on stderr; `None` keeps every line (in memory).
    sink: Option<File>,
    lines: String,
}

impl AccessLog {
    pub(super) fn new(enabled: bool, sink: Option<File>) -> AccessLog {
        AccessLog {
            enabled,
            sink,
            lines: String::new(),
        }
    }

    /// Logs one answered request: peer, request line, status, body bytes,
    /// duration, and for a server failure its cause.
    pub(super) fn exchange(
        &mut self,
        peer: SocketAddr,
        head: Option<&RequestHead>,
        response: &Response,
        bytes: usize,
        started: Instant,
    ) {
        if !self.enabled {
            return;
        }
        let before = self.lines.len();
        format_exchange(&mut self.lines, peer, head, response, bytes, started);
        if self.lines.len() > LOG_FLUSH && self.sink.is_some() {
            if before > 0 {
                self.write(..before);
            }
            self.flush();
        }
    }

    /// Writes the lines collected so far.
    pub(super) fn flush(&mut self) {
        if self.sink.is_some() && !self.lines.is_empty() {
            self.write(..self.lines.len());
        }
    }

    /// The lines kept so far (a log without a sink keeps them all).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(super) fn take(&mut self) -> String {
        std::mem::take(&mut self.lines)
    }

    /// One `write` of whole lines, without the process-wide stderr lock: a
    /// write no larger than `LOG_FLUSH` to a pipe is atomic.
    fn write(&mut self, range: std::ops::RangeTo<usize>) {
        if let Some(mut sink) = self.sink.as_ref() {
            let _ = sink.write_all(&self.lines.as_bytes()[range]);
        }
        self.lines.drain(range);
    }
}

/// Appends one access-log line to `line`.
fn format_exchange(
    line: &mut String,
    peer: SocketAddr,
    head: Option<&RequestHead>,
    response: &Response,
    bytes: usize,
    started: Instant,
) {
    use std::fmt::Write as _;
    let micros = started.elapsed().as_micros();
    let status = response.status.code();
    // Writing to a String cannot fail.
    let _ = match head {
        Some(head) => write!(
            line,
            "{peer} \"{} {} {}\" {status} {bytes} {}.{:03}ms",
            head.method.as_str(),
            head.raw_target,
            match head.version {
                Version::Http10 => "HTTP/1.0",
                Version::Http11 => "HTTP/1.1",
            },
            micros / 1000,
            micros % 1000,
        ),
        None => write!(
            line,
            "{peer} \"-\" {status} {bytes} {}.{:03}ms",
            micros / 1000,
            micros % 1000
        ),
    };
    if let Some(cause) = &response.cause {
        line.push_str(" (");
        line.push_str(cause);
        line.push(')');
    }
    line.push('\n');
}
