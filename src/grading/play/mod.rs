//! Plays one transcript's steps against a server and records what differed.
//!
//! Here: `Connector` (where connections are opened: an address on this host, or a
//! server inside a box), connections by name, sending, waiting (the transcript's `wait` and
//! `timeout`, the grace for a close), reading responses with `client` and handing
//! each to `grading::judge`, collecting what `--bless` would rewrite, and reading
//! the store file for `expect-store`; the caps on what a server can make the
//! grader hold (`MAX_RESPONSE` a response, `MAX_STORE` the store, `KEPT_PER_FAILURE`
//! of received text per failure).
//! Elsewhere: the format (`grading::suite::transcript`), which server (`grading::target::local`,
//! `grading::target::foreign` or `--target`), presenting the result (`grading::report`).

use std::collections::{HashMap, HashSet};
use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::ops::Range;
use std::path::Path;
use std::time::{Duration, Instant};

use super::judge::{self, Judge};
use super::suite::transcript::{self, StepKind, Transcript};
use super::untrusted;
use super::verdict::StepFailure;
use crate::client::{ReadError, ResponseReader, is_timeout};
use crate::escape;

/// How one play is judged and where the store file is, if replay knows it.
#[derive(Debug, Clone, Copy)]
pub struct Setting<'a> {
    pub judge: Judge,
    /// The store file, for `expect-store`; `None` skips those steps (a shared `--target`).
    pub store: Option<&'a Path>,
}

/// Where a play opens its connections: an address on this host (`SocketAddr`), or a
/// server inside a box, reached through the box (`grading::target`).
pub trait Connector {
    /// A new connection to the server, within `timeout`.
    fn connect(&self, timeout: Duration) -> io::Result<TcpStream>;
    /// The server's address as the server sees it, for messages.
    fn addr(&self) -> SocketAddr;
}

impl Connector for SocketAddr {
    fn connect(&self, timeout: Duration) -> io::Result<TcpStream> {
        TcpStream::connect_timeout(self, timeout)
    }

    fn addr(&self) -> SocketAddr {
        *self
    }
}

/// How long a connection that dropped `Connection: close` has to really close.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// What playing a transcript produced.
#[derive(Debug, Default)]
pub struct Played {
    pub failures: Vec<StepFailure>,
    /// For each mismatched expect block: its line range and the received text.
    pub rewrites: Vec<(Range<usize>, Vec<String>)>,
    /// True if every failure is a mismatched response that `rewrites` can fix.
    pub blessable: bool,
}

/// Plays `t` against the server `to` connects to. Stops at the first step whose failure leaves the
/// conversation in doubt (no response, unexpected close); a response that merely
/// differs is recorded and the play goes on, so one run shows every difference.
pub fn play(t: &Transcript, to: &dyn Connector, setting: Setting<'_>) -> Played {
    let mut played = Played {
        blessable: true,
        ..Played::default()
    };
    let mut conns: HashMap<String, ResponseReader<TcpStream>> = HashMap::new();
    // Connections whose response dropped `Connection: close`: they must really close.
    let mut must_close: HashSet<String> = HashSet::new();
    for step in &t.steps {
        let mut fail = |message: String, expected: Vec<String>, actual: Vec<String>| {
            played.failures.push(bounded(StepFailure {
                line: step.line,
                step: t.lines[step.line - 1].trim().to_string(),
                message,
                expected,
                actual,
            }));
        };
        let conn = step.kind.conn().map(str::to_string).unwrap_or_default();
        if must_close.remove(&conn)
            && !matches!(step.kind, StepKind::ExpectClose(_))
            && let Some(reader) = conns.get_mut(&conn)
            && let Some(failure) = check_closed(reader, CLOSE_GRACE)
        {
            fail(
                format!("{}: {}", NO_CLOSE, failure.0),
                vec!["! connection closed".to_string()],
                failure.1,
            );
            played.blessable = false;
            break;
        }
        match &step.kind {
            StepKind::Open(name) => match to.connect(t.timeout) {
                Ok(stream) => {
                    // Each send step should leave as its own segment, so that pauses mean something.
                    let _ = stream.set_nodelay(true);
                    let reader = ResponseReader::with_max_response(stream, MAX_RESPONSE);
                    conns.insert(name.clone(), reader);
                }
                Err(e) => {
                    fail(
                        format!("cannot connect to {}: {}", to.addr(), io_message(&e)),
                        vec![],
                        vec![],
                    );
                    played.blessable = false;
                    break;
                }
            },
            StepKind::Send { bytes, .. } => {
                let Some(reader) = conns.get_mut(&conn) else {
                    fail(format!("connection {conn} is closed"), vec![], vec![]);
                    played.blessable = false;
                    break;
                };
                if let Err(e) = reader.get_mut().write_all(bytes) {
                    fail(format!("send failed: {e}"), vec![], vec![]);
                    played.blessable = false;
                    break;
                }
            }
            StepKind::Wait(d) => std::thread::sleep(*d),
            StepKind::HalfClose(_) => {
                if let Some(reader) = conns.get_mut(&conn) {
                    let _ = reader.get_mut().shutdown(Shutdown::Write);
                }
            }
            StepKind::Close(_) => {
                conns.remove(&conn);
            }
            StepKind::Expect {
                after_head,
                bytes,
                body_line,
                block,
                rooms,
                ..
            } => {
                let expected = transcript::render_expect(bytes, body_line.as_deref());
                let Some(reader) = conns.get_mut(&conn) else {
                    fail(format!("connection {conn} is closed"), expected, vec![]);
                    played.blessable = false;
                    break;
                };
                let _ = reader.get_ref().set_read_timeout(Some(t.timeout));
                match reader.read_response(*after_head) {
                    Ok(response) => {
                        let wanted = judge::Expected {
                            bytes,
                            body_line: body_line.as_deref(),
                            rooms,
                            after_head: *after_head,
                            rendered: &expected,
                        };
                        let judged = judge::response(setting.judge, wanted, &response);
                        if judged.needs_close {
                            must_close.insert(conn.clone());
                        }
                        if let Some(problem) = judged.problem {
                            fail(problem, expected, judged.received);
                            match judged.rewrite {
                                Some(text) => played.rewrites.push((block.clone(), text)),
                                None => played.blessable = false,
                            }
                        }
                    }
                    Err(ReadError::Closed) if judge::close_allowed(setting.judge, rooms) => {
                        conns.remove(&conn);
                    }
                    Err(ReadError::Io { source, partial })
                        if judge::close_allowed(setting.judge, rooms)
                            && partial.is_empty()
                            && is_reset(&source) =>
                    {
                        conns.remove(&conn);
                    }
                    Err(e) => {
                        let mut actual =
                            escape::render_lines(&transcript::normalise(e.partial()), '<');
                        actual.push(format!("! {}", describe(&e, t.timeout)));
                        fail(unanswered(&e, t.timeout, *after_head), expected, actual);
                        played.blessable = false;
                        break;
                    }
                }
            }
            StepKind::ExpectStore {
                bytes: want,
                any_order,
            } => {
                let Some(path) = setting.store else { continue };
                let sorted = |b: &[u8]| {
                    let mut lines: Vec<&[u8]> = b.split_inclusive(|&c| c == b'\n').collect();
                    lines.sort_unstable();
                    lines.concat()
                };
                // The server's file: a link to /dev/zero or a FIFO must not hang or fill the grader.
                match untrusted::read_regular(path, MAX_STORE) {
                    Ok(got) if got == *want || (*any_order && sorted(&got) == sorted(want)) => {}
                    Ok(got) => {
                        fail(
                            "the store file differs (CONTRACT: one word per line, each ending in LF)"
                                .to_string(),
                            escape::render_lines(want, '|'),
                            escape::render_lines(&got, '|'),
                        );
                        played.blessable = false;
                    }
                    Err(e) => {
                        fail(
                            format!("cannot read the store file {}: {e}", path.display()),
                            escape::render_lines(want, '|'),
                            vec![],
                        );
                        played.blessable = false;
                    }
                }
            }
            StepKind::ExpectClose(_) => {
                let Some(reader) = conns.get_mut(&conn) else {
                    continue;
                };
                if let Some(failure) = check_closed(reader, t.timeout) {
                    fail(
                        failure.0,
                        vec!["! connection closed".to_string()],
                        failure.1,
                    );
                    played.blessable = false;
                    break;
                }
            }
            StepKind::ExpectSilence(_, quiet) => {
                let Some(reader) = conns.get_mut(&conn) else {
                    fail(format!("connection {conn} is closed"), vec![], vec![]);
                    played.blessable = false;
                    break;
                };
                if let Some(failure) = check_silent(reader, *quiet) {
                    let expected = vec![format!("! nothing for {} ms", quiet.as_millis())];
                    fail(failure.0, expected, failure.1);
                    played.blessable = false;
                    break;
                }
            }
        }
    }
    if played.failures.is_empty() {
        for conn in must_close {
            if let Some(reader) = conns.get_mut(&conn)
                && let Some(failure) = check_closed(reader, CLOSE_GRACE)
            {
                played.failures.push(bounded(StepFailure {
                    line: t.steps.last().map_or(0, |s| s.line),
                    step: format!("(the close of {conn})"),
                    message: format!("{NO_CLOSE}: {}", failure.0),
                    expected: vec!["! connection closed".to_string()],
                    actual: failure.1,
                }));
            }
        }
    }
    played
}

/// The most bytes one response may take: the contract's answers are under 1 KiB and a
/// transcript's stores are small, so a server that sends more (an endless body, a
/// 64 MiB answer) is cut off here instead of growing the grader (`client::MAX_RESPONSE`
/// is the client's own, larger limit).
pub const MAX_RESPONSE: usize = 1 << 20;
/// The largest store file `expect-store` reads.
pub const MAX_STORE: u64 = 1 << 20;
/// How much received text one failure keeps (its `actual` lines), and how much of its
/// message: a report grows with the number of transcripts, never with what a server sends.
pub const KEPT_PER_FAILURE: usize = 4096;

/// `failure` with its received lines cut to `KEPT_PER_FAILURE` bytes in all (a last
/// line says how many more there were) and its message to as many.
pub fn bounded(mut failure: StepFailure) -> StepFailure {
    let mut kept = 0;
    let mut cut = None;
    for (i, line) in failure.actual.iter_mut().enumerate() {
        if kept + line.len() > KEPT_PER_FAILURE {
            let room = KEPT_PER_FAILURE.saturating_sub(kept);
            let end = (0..=room)
                .rev()
                .find(|&e| line.is_char_boundary(e))
                .unwrap_or(0);
            line.truncate(end);
            cut = Some(i + 1);
            break;
        }
        kept += line.len();
    }
    if let Some(keep) = cut {
        failure.actual.truncate(keep);
        failure.actual.push(format!(
            "! ... the rest is not shown: a report keeps {KEPT_PER_FAILURE} bytes of what was received"
        ));
    }
    if failure.message.len() > KEPT_PER_FAILURE {
        let end = (0..=KEPT_PER_FAILURE)
            .rev()
            .find(|&e| failure.message.is_char_boundary(e))
            .unwrap_or(0);
        let more = failure.message.len() - end;
        failure.message.truncate(end);
        failure
            .message
            .push_str(&format!(" ... ({more} more bytes not shown)"));
    }
    failure
}

const NO_CLOSE: &str =
    "the response had no `Connection: close` and the connection did not close (RFC 9112 §9.6)";

/// Why an `expect` got no complete response, in one phrase that says what the
/// server did: `no response: the server sent nothing within 5000 ms (...)`.
fn unanswered(e: &ReadError, timeout: Duration, after_head: bool) -> String {
    let ReadError::TimedOut { partial } = e else {
        return format!("no complete response: {e}");
    };
    // Replay's own wait, not the server's --read-timeout: say which, and where it is set.
    let wait = "replay's wait for each response: the transcript's `timeout` line, else --response-wait, default 5000 ms";
    let ms = timeout.as_millis();
    if partial.is_empty() {
        return format!("no response: the server sent nothing within {ms} ms ({wait})");
    }
    let stopped = crate::client::where_it_stopped(partial, after_head)
        .map(|at| format!("; it stopped {at}"))
        .unwrap_or_default();
    format!(
        "incomplete response: the server sent {} bytes, then nothing for {ms} ms ({wait}){stopped}",
        partial.len()
    )
}

fn describe(e: &ReadError, timeout: Duration) -> String {
    match e {
        ReadError::TimedOut { .. } => format!("nothing more within {} ms", timeout.as_millis()),
        other => other.to_string(),
    }
}

fn is_reset(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted
    )
}

/// `None` if the peer closes (FIN or RST) within `timeout` with nothing more sent;
/// otherwise the message and the rendered text of what happened instead.
fn check_closed(
    reader: &mut ResponseReader<TcpStream>,
    timeout: Duration,
) -> Option<(String, Vec<String>)> {
    let _ = reader.get_ref().set_read_timeout(Some(timeout));
    let started = Instant::now();
    let mut result = Ok(0);
    if reader.buffered().is_empty() {
        result = reader.fill();
    }
    let received = |reader: &mut ResponseReader<TcpStream>| {
        let mut lines = escape::render_lines(&transcript::normalise(&reader.take_buffered()), '<');
        lines.push("! (more bytes instead of a close)".to_string());
        lines
    };
    if !reader.buffered().is_empty() {
        return Some((
            "received bytes instead of a close".to_string(),
            received(reader),
        ));
    }
    match result {
        Ok(_) => None,
        Err(e) if is_reset(&e) => None,
        Err(e) if is_timeout(&e) => Some((
            format!(
                "connection still open after {} ms",
                started.elapsed().as_millis()
            ),
            vec![format!("! still open after {} ms", timeout.as_millis())],
        )),
        Err(e) => Some((format!("read failed: {e}"), vec![format!("! {e}")])),
    }
}

/// `None` if nothing arrives for `quiet` and the connection stays open.
fn check_silent(
    reader: &mut ResponseReader<TcpStream>,
    quiet: Duration,
) -> Option<(String, Vec<String>)> {
    if !reader.buffered().is_empty() {
        let lines = escape::render_lines(&reader.take_buffered(), '<');
        return Some(("received bytes during the silence".to_string(), lines));
    }
    let _ = reader
        .get_ref()
        .set_read_timeout(Some(quiet.max(Duration::from_millis(1))));
    match reader.fill() {
        Err(e) if is_timeout(&e) => None,
        Ok(0) => Some((
            "connection closed during the silence".to_string(),
            vec!["! connection closed".to_string()],
        )),
        Ok(_) => {
            let lines = escape::render_lines(&transcript::normalise(&reader.take_buffered()), '<');
            Some(("received bytes during the silence".to_string(), lines))
        }
        Err(e) if is_reset(&e) => Some((
            "connection reset during the silence".to_string(),
            vec![format!("! {e}")],
        )),
        Err(e) => Some((format!("read failed: {e}"), vec![format!("! {e}")])),
    }
}

/// `connection refused` rather than `Connection refused (os error 111)`.
pub fn io_message(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => "timed out".to_string(),
        _ => {
            let text = e.to_string();
            match text.split_once(" (os error") {
                Some((head, _)) => head.to_lowercase(),
                None => text,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_keeps_a_few_kib_of_what_was_received() {
        let big = StepFailure {
            line: 3,
            step: "expect a".to_string(),
            message: "é".repeat(10_000),
            expected: vec!["< HTTP/1.1 200 OK\\r\\n".to_string()],
            actual: vec!["< ".to_string() + &"x".repeat(3000); 40],
        };
        let kept = bounded(big);
        let text: usize = kept.actual.iter().map(String::len).sum();
        assert!(text < KEPT_PER_FAILURE + 200, "{text}");
        assert_eq!(kept.actual.len(), 3);
        assert!(kept.actual[2].starts_with("! ... the rest is not shown"));
        assert!(kept.message.len() < KEPT_PER_FAILURE + 100);
        assert!(kept.message.ends_with("more bytes not shown)"));
        // A small failure is left as it is.
        let small = StepFailure {
            line: 1,
            step: "s".into(),
            message: "m".into(),
            expected: vec![],
            actual: vec!["< a".into()],
        };
        assert_eq!(bounded(small.clone()).actual, small.actual);
    }
    use std::io::Read;
    use std::net::TcpListener;

    /// Plays a GET with a 200 ms `timeout` against a server that reads the request,
    /// sends `answer` and then stays silent; returns the failure message.
    fn message_after(answer: &'static [u8]) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut buf = [0u8; 1024];
            let _ = conn.read(&mut buf);
            conn.write_all(answer).unwrap();
            // Held open, silent, until replay has given up and closed.
            let _ = conn.read(&mut buf);
        });
        let text = "timeout 200\nopen a\nsend a\n> GET / HTTP/1.1\\r\\n\n> \\r\\n\nexpect a\n< HTTP/1.1 200 OK\\r\\n\n< \\r\\n\n";
        let t = Transcript::parse(Path::new("t.transcript"), text).unwrap();
        let setting = Setting {
            judge: Judge::Contract,
            store: None,
        };
        let played = play(&t, &addr, setting);
        server.join().unwrap();
        assert_eq!(played.failures.len(), 1, "{:?}", played.failures);
        played.failures[0].message.clone()
    }

    #[test]
    fn a_server_that_sends_nothing_is_named_with_the_wait_that_applied() {
        assert_eq!(
            message_after(b""),
            "no response: the server sent nothing within 200 ms (replay's wait for each response: the transcript's `timeout` line, else --response-wait, default 5000 ms)"
        );
    }

    #[test]
    fn a_server_that_stops_mid_response_says_how_many_bytes_and_where() {
        assert_eq!(
            message_after(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab"),
            "incomplete response: the server sent 41 bytes, then nothing for 200 ms (replay's wait for each response: the transcript's `timeout` line, else --response-wait, default 5000 ms); it stopped in the body: Content-Length 10, 2 bytes of it sent"
        );
    }
}
