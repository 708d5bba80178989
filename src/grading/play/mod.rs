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
//! `grading::target::start` or `--target`), presenting the result (`grading::report`).

use std::collections::{HashMap, HashSet};
use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::ops::Range;
use std::path::Path;
use std::time::{Duration, Instant};

use super::judge::{self, Judge};
use super::suite::transcript::{self, StepKind, Transcript};
use super::untrusted;
use super::verdict::{Checks, StepFailure};
use crate::client::{ReadError, ResponseReader, is_timeout};
use crate::course::{Course, StoreFormat};
use crate::escape;

/// How one play is judged and where the store file is, if replay knows it.
#[derive(Debug, Clone, Copy)]
pub struct Setting<'a> {
    pub judge: Judge,
    /// The store file, for `expect-store`; `None` skips those steps (a shared `--target`).
    pub store: Option<&'a Path>,
    /// The course file in force (`--course`): its auth header replaces the lab pair's,
    /// its statuses are accepted, its `timeout-after` is the wait for a stalled request's
    /// answer and its store format says how the data file is compared.
    pub course: Option<&'a Course>,
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
    /// The transcript's checks and how many passed (partial credit).
    pub checks: Checks,
}

/// Plays `t` against the server `to` connects to. Stops at the first step whose failure leaves the
/// conversation in doubt (no response, unexpected close); a response that merely
/// differs is recorded and the play goes on, so one run shows every difference.
pub fn play(t: &Transcript, to: &dyn Connector, setting: Setting<'_>) -> Played {
    let mut played = Played {
        blessable: true,
        ..Played::default()
    };
    // Every check counts, those never reached included.
    for step in &t.steps {
        played.checks.total += match step.kind {
            StepKind::Expect { .. } => 2,
            StepKind::ExpectStore { .. } if setting.store.is_some() => 1,
            _ => 0,
        };
    }
    let mut passed = 0;
    let mut conns: HashMap<String, ResponseReader<TcpStream>> = HashMap::new();
    // Connections whose response dropped `Connection: close`: they must really close.
    let mut must_close: HashSet<String> = HashSet::new();
    // The assignment profile: a server may close after every response, and the next
    // `send` on that connection name opens a new one.
    let assignment = setting.judge == Judge::Assignment;
    // Set when a step's failure leaves the conversation in doubt: the steps after it
    // are not played, but the data file is still checked (`expect-store`).
    let mut stopped = false;
    // A transcript that expects a 401 decides its credentials itself.
    let about_auth = t.expected_statuses().contains(&401);
    // Assignment profile: what was sent on each connection since its last response, and
    // the connections that have had a response: a request sent on one the server was
    // just closing is sent again on a new one.
    let mut unanswered_bytes: HashMap<String, Vec<u8>> = HashMap::new();
    let mut answered: HashSet<String> = HashSet::new();
    // Connections the server accepted so far, for a message when the next one fails.
    let mut accepted = 0usize;
    for step in &t.steps {
        if stopped && !matches!(step.kind, StepKind::ExpectStore { .. }) {
            continue;
        }
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
            stopped = true;
            continue;
        }
        match &step.kind {
            StepKind::Open(name) => match connect(to, t.timeout) {
                Ok(reader) => {
                    accepted += 1;
                    conns.insert(name.clone(), reader);
                }
                Err(e) => {
                    fail(
                        cannot_connect(to.addr(), &e, accepted, conns.len()),
                        vec![],
                        vec![],
                    );
                    played.blessable = false;
                    stopped = true;
                    continue;
                }
            },
            StepKind::Send { bytes, .. } => {
                let bytes = match setting.course {
                    Some(course) => course.request_bytes(bytes, about_auth),
                    None => bytes.clone(),
                };
                let bytes = &bytes;
                if assignment && conns.get_mut(&conn).is_none_or(peer_closed) {
                    // An announced close, or a close after a complete response: never a
                    // failure in the assignment profile; this request goes on a new one.
                    match connect(to, t.timeout) {
                        Ok(reader) => {
                            conns.insert(conn.clone(), reader);
                        }
                        Err(e) => {
                            fail(
                                format!(
                                    "cannot connect again to {} after the server closed {conn}: {}",
                                    to.addr(),
                                    io_message(&e)
                                ),
                                vec![],
                                vec![],
                            );
                            stopped = true;
                            continue;
                        }
                    }
                }
                let Some(reader) = conns.get_mut(&conn) else {
                    fail(format!("connection {conn} is closed"), vec![], vec![]);
                    played.blessable = false;
                    stopped = true;
                    continue;
                };
                let sent = reader.get_mut().write_all(bytes);
                unanswered_bytes
                    .entry(conn.clone())
                    .or_default()
                    .extend_from_slice(bytes);
                if let Err(e) = sent
                    && !(assignment && answered.contains(&conn))
                {
                    fail(send_failed(&e, answered.contains(&conn)), vec![], vec![]);
                    played.blessable = false;
                    stopped = true;
                    continue;
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
                let expected = if assignment {
                    judge::assignment::shown(bytes, rooms)
                } else {
                    transcript::render_expect(bytes, body_line.as_deref())
                };
                let Some(reader) = conns.get_mut(&conn) else {
                    fail(format!("connection {conn} is closed"), expected, vec![]);
                    played.blessable = false;
                    stopped = true;
                    continue;
                };
                let expected_status = transcript::status_of(bytes);
                let also = setting
                    .course
                    .and_then(|c| course_statuses(c, expected_status?));
                // A stalled request's answer: the course's `timeout-after` says how long.
                let wait = match (setting.course, expected_status) {
                    (Some(c), Some(504 | 408)) => c.timeout_after + Duration::from_millis(500),
                    _ => t.timeout,
                };
                let _ = reader.get_ref().set_read_timeout(Some(wait));
                let mut read = reader.read_response(*after_head);
                // The server closed after its last response as this request left: not a
                // failure in the assignment profile; the request goes again on a new one.
                if assignment
                    && answered.contains(&conn)
                    && matches!(&read, Err(ReadError::Closed) | Err(ReadError::Io { .. }))
                    && read.as_ref().err().is_some_and(|e| e.partial().is_empty())
                    && let Ok(mut fresh) = connect(to, t.timeout)
                {
                    let again = unanswered_bytes.get(&conn).cloned().unwrap_or_default();
                    if fresh.get_mut().write_all(&again).is_ok() {
                        let _ = fresh.get_ref().set_read_timeout(Some(wait));
                        read = fresh.read_response(*after_head);
                        conns.insert(conn.clone(), fresh);
                    }
                }
                // The request bytes this response answers (all sent since the last one).
                let mut request = None;
                if read.is_ok() {
                    request = unanswered_bytes.remove(&conn);
                    answered.insert(conn.clone());
                }
                match read {
                    Ok(response) => {
                        let wanted = judge::Expected {
                            bytes,
                            body_line: body_line.as_deref(),
                            rooms,
                            after_head: *after_head,
                            rendered: &expected,
                            also,
                            words: setting
                                .course
                                .is_some_and(|c| c.store_format == StoreFormat::Words),
                        };
                        let judged = judge::response(setting.judge, wanted, &response);
                        passed += u32::from(judged.status_ok) + u32::from(judged.problem.is_none());
                        if assignment && response_closes(&response) {
                            conns.remove(&conn);
                        }
                        if judged.needs_close {
                            must_close.insert(conn.clone());
                        }
                        if let Some(mut problem) = judged.problem {
                            if let Some(why) = request
                                .as_deref()
                                .and_then(|r| refusal_cause(r, response.status, expected_status))
                            {
                                problem.push_str(&format!("; {why}"));
                            }
                            fail(problem, expected, judged.received);
                            match judged.rewrite {
                                Some(text) => played.rewrites.push((block.clone(), text)),
                                None => played.blessable = false,
                            }
                        }
                    }
                    Err(ReadError::Closed) if judge::close_allowed(setting.judge, rooms) => {
                        passed += 2;
                        conns.remove(&conn);
                    }
                    Err(ReadError::Io { source, partial })
                        if judge::close_allowed(setting.judge, rooms)
                            && partial.is_empty()
                            && is_reset(&source) =>
                    {
                        passed += 2;
                        conns.remove(&conn);
                    }
                    Err(e) => {
                        let mut actual =
                            escape::render_lines(&transcript::normalise(e.partial()), '<');
                        actual.push(format!("! {}", describe(&e, wait)));
                        fail(unanswered(&e, wait, *after_head), expected, actual);
                        played.blessable = false;
                        stopped = true;
                        continue;
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
                let by_words = setting
                    .course
                    .is_some_and(|c| c.store_format == StoreFormat::Words);
                let same = |got: &[u8]| {
                    if by_words {
                        let mut a = judge::assignment::words(got);
                        let mut b = judge::assignment::words(want);
                        if *any_order {
                            a.sort_unstable();
                            b.sort_unstable();
                        }
                        a == b
                    } else {
                        got == want.as_slice() || (*any_order && sorted(got) == sorted(want))
                    }
                };
                // The server's file: a link to /dev/zero or a FIFO must not hang or fill the grader.
                match untrusted::read_regular(path, MAX_STORE) {
                    Ok(got) if same(&got) => passed += 1,
                    Ok(got) => {
                        let message = match setting.course {
                            Some(c) if by_words => format!(
                                "the data file {} does not hold the expected words after the write (the course's [store] format = \"words\")",
                                c.store_file.display()
                            ),
                            Some(c) => format!(
                                "the data file {} differs after the write (the course's [store] format = \"lines\": one word per line, each ending in LF)",
                                c.store_file.display()
                            ),
                            None => "the store file differs (CONTRACT: one word per line, each ending in LF)".to_string(),
                        };
                        fail(
                            message,
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
            // Keep-alive and closes are not the assignment's: not judged in its profile.
            StepKind::ExpectClose(_) | StepKind::ExpectSilence(..) if assignment => {}
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
                    stopped = true;
                    continue;
                }
            }
            StepKind::ExpectSilence(_, quiet) => {
                let Some(reader) = conns.get_mut(&conn) else {
                    fail(format!("connection {conn} is closed"), vec![], vec![]);
                    played.blessable = false;
                    stopped = true;
                    continue;
                };
                if let Some(failure) = check_silent(reader, *quiet) {
                    let expected = vec![format!("! nothing for {} ms", quiet.as_millis())];
                    fail(failure.0, expected, failure.1);
                    played.blessable = false;
                    stopped = true;
                    continue;
                }
            }
        }
    }
    played.checks.passed = passed;
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

/// What a 400 to a valid request probably means, from the request that drew it: a field
/// the request did not carry, which the assignment does not ask for.
fn refusal_cause(request: &[u8], got: u16, expected: Option<u16>) -> Option<String> {
    if got != 400 || expected == Some(400) {
        return None;
    }
    let head_end = request
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(request.len());
    let head = String::from_utf8_lossy(&request[..head_end]).to_ascii_lowercase();
    let has = |name: &str| head.lines().skip(1).any(|l| l.starts_with(name));
    let method = head.split(' ').next().unwrap_or("");
    let missing: Vec<&str> = [
        ("content-type:", "Content-Type"),
        ("accept:", "Accept"),
        ("user-agent:", "User-Agent"),
    ]
    .into_iter()
    .filter(|(field, _)| !has(field))
    .map(|(_, name)| name)
    .collect();
    if missing.is_empty() {
        return None;
    }
    let body = if ["post", "put", "delete"].contains(&method) && !has("content-type:") {
        "the request had no Content-Type header, which the assignment does not ask for: does your server require one?"
            .to_string()
    } else {
        format!(
            "the request had no {} field, which the assignment does not ask for: does your server require one?",
            missing.join(" or ")
        )
    };
    Some(body)
}

/// Why a connection could not be opened, in words that say what the server did:
/// after `accepted` connections (`open` of them still open), a refusal or a timeout
/// means it stopped accepting.
fn cannot_connect(addr: SocketAddr, e: &io::Error, accepted: usize, open: usize) -> String {
    let why = io_message(e);
    if accepted == 0 {
        return match e.kind() {
            io::ErrorKind::ConnectionRefused => format!(
                "cannot connect to {addr}: connection refused: nothing listens there (did the server stop, or listen on another port?)"
            ),
            _ => format!("cannot connect to {addr}: {why}"),
        };
    }
    let s = if accepted == 1 { "" } else { "s" };
    format!(
        "your server accepted {accepted} connection{s} and then stopped accepting ({why}){}",
        if open > 0 {
            ": is it still reading the first one? A server that serves one connection at a time makes every other client wait"
        } else {
            ""
        }
    )
}

/// Why a send failed, in words: a broken pipe or a reset is the server having closed the
/// connection (`after_response`: after its last response, without `Connection: close`).
fn send_failed(e: &io::Error, after_response: bool) -> String {
    match e.kind() {
        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset => {
            if after_response {
                "the server had closed the connection after its last response without saying `Connection: close`, so this request could not be sent on it (RFC 9112 §9.6: a server that closes announces it)".to_string()
            } else {
                "the server closed the connection before the request was sent".to_string()
            }
        }
        _ => format!("send failed: {}", io_message(e)),
    }
}

/// A new connection through `to`, each send step leaving as its own segment (so that
/// pauses mean something), its responses cut at `MAX_RESPONSE`.
fn connect(to: &dyn Connector, timeout: Duration) -> io::Result<ResponseReader<TcpStream>> {
    let stream = to.connect(timeout)?;
    let _ = stream.set_nodelay(true);
    Ok(ResponseReader::with_max_response(stream, MAX_RESPONSE))
}

/// True if the server has closed the connection (an end of input or a reset is
/// waiting, and nothing else is): the next request needs a new one.
fn peer_closed(reader: &mut ResponseReader<TcpStream>) -> bool {
    if !reader.buffered().is_empty() {
        return false;
    }
    let stream = reader.get_ref();
    if stream.set_nonblocking(true).is_err() {
        return false;
    }
    let mut byte = [0u8; 1];
    let closed = match stream.peek(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => is_reset(&e),
    };
    let _ = stream.set_nonblocking(false);
    closed
}

/// The response says `Connection: close`.
fn response_closes(response: &crate::client::Response) -> bool {
    response.header("connection").is_some_and(|v| {
        String::from_utf8_lossy(v)
            .split(',')
            .any(|t| t.trim().eq_ignore_ascii_case("close"))
    })
}

/// The statuses a course accepts for an expected `status`, and the key that says so:
/// `[statuses] server-error` for 500, `timeout` for 504 (and 408, its other form),
/// `unknown-method` for 501.
fn course_statuses(course: &Course, status: u16) -> Option<(&[u16], &'static str)> {
    match status {
        500 => Some((&course.server_error, "[statuses] server-error")),
        504 | 408 => Some((&course.timeout, "[statuses] timeout")),
        501 => Some((&course.unknown_method, "[statuses] unknown-method")),
        _ => None,
    }
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

    /// Plays the transcript `text` against `addr`, judged by `judge`, without a store
    /// or a course.
    fn play_text(text: &str, addr: &SocketAddr, judge: Judge) -> Played {
        let t = Transcript::parse(Path::new("t.transcript"), text).unwrap();
        let setting = Setting {
            judge,
            store: None,
            course: None,
        };
        play(&t, addr, setting)
    }

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
        let played = play_text(text, &addr, Judge::Contract);
        server.join().unwrap();
        assert_eq!(played.failures.len(), 1, "{:?}", played.failures);
        played.failures[0].message.clone()
    }

    /// A server that answers every request on its own connection with `answer`, then
    /// closes it, for `connections` connections.
    fn closing_server(
        answer: &'static [u8],
        connections: usize,
    ) -> (SocketAddr, std::thread::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            for _ in 0..connections {
                let Ok((mut conn, _)) = listener.accept() else {
                    return;
                };
                let mut buf = [0u8; 1024];
                let _ = conn.read(&mut buf);
                let _ = conn.write_all(answer);
            }
        });
        (addr, server)
    }

    /// Two GETs on one connection, then the data file.
    const TWO_GETS: &str = "timeout 2000\nopen a\nsend a\n> GET / HTTP/1.1\\r\\n\\r\\n\nexpect a\n< HTTP/1.1 200 OK\\r\\n\n< Content-Length: 3\\r\\n\n< \\r\\n\n< ok\\n\nsend a\n> GET / HTTP/1.1\\r\\n\\r\\n\nexpect a\n< HTTP/1.1 200 OK\\r\\n\n< Content-Length: 3\\r\\n\n< \\r\\n\n< ok\\n\nexpect-store\n| alpha\n";

    fn play_two_gets(judge: Judge, store: &Path, answer: &'static [u8]) -> Played {
        let (addr, server) = closing_server(answer, 2);
        let t = Transcript::parse(Path::new("t.transcript"), TWO_GETS).unwrap();
        let setting = Setting {
            judge,
            store: Some(store),
            course: None,
        };
        let played = play(&t, &addr, setting);
        drop(server);
        played
    }

    #[test]
    fn a_transcript_stopped_at_a_close_still_checks_the_data_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("words.txt");
        std::fs::write(&store, "alpha omega\n").unwrap();
        // No `Connection: close`, then a close: at contract level the second GET finds
        // the connection closed and the play stops; the data file is checked all the same.
        let played = play_two_gets(
            Judge::Contract,
            &store,
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n",
        );
        let messages: Vec<&str> = played.failures.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert!(
            messages[1].starts_with("the store file differs"),
            "{messages:?}"
        );
        assert_eq!(
            played.checks,
            Checks {
                passed: 2,
                total: 5
            }
        );
    }

    #[test]
    fn an_announced_close_reconnects_in_the_assignment_profile_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("words.txt");
        std::fs::write(&store, "alpha\n").unwrap();
        let closing = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n";
        let played = play_two_gets(Judge::Assignment, &store, closing);
        assert!(played.failures.is_empty(), "{:?}", played.failures);
        assert_eq!(
            played.checks,
            Checks {
                passed: 5,
                total: 5
            }
        );
        // A close after a complete response, announced by nothing but the close itself.
        let silent = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n";
        let played = play_two_gets(Judge::Assignment, &store, silent);
        assert!(played.failures.is_empty(), "{:?}", played.failures);
        let played = play_two_gets(Judge::Contract, &store, closing);
        assert!(!played.failures.is_empty());
    }

    #[test]
    fn a_400_to_a_valid_post_without_content_type_says_so() {
        let (addr, server) = closing_server(
            b"HTTP/1.1 400 Bad Request\r\nContent-Length: 12\r\n\r\nbad request\n",
            1,
        );
        let text = "timeout 2000\nopen a\nsend a\n> POST / HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: 5\\r\\n\\r\\nhello\nexpect a\n< HTTP/1.1 200 OK\\r\\n\n< Content-Length: 3\\r\\n\n< \\r\\n\n< ok\\n\n~ body message\n";
        let played = play_text(text, &addr, Judge::Assignment);
        server.join().unwrap();
        assert_eq!(
            played.failures[0].message,
            "your server answered 400, the assignment asks 200: it refused a request the assignment treats as valid (it said \"bad request\"); the request had no Content-Type header, which the assignment does not ask for: does your server require one?"
        );
    }

    #[test]
    fn a_server_that_stops_accepting_is_said_to_in_words() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            drop(listener);
            let mut buf = [0u8; 256];
            let _ = conn.read(&mut buf);
            conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                .unwrap();
            std::thread::sleep(Duration::from_millis(500));
        });
        let text = "timeout 300\nopen a\nsend a\n> GET / HTTP/1.1\\r\\n\\r\\n\nexpect a\n< HTTP/1.1 200 OK\\r\\n\n< \\r\\n\nopen b\n";
        let played = play_text(text, &addr, Judge::Assignment);
        server.join().unwrap();
        assert_eq!(
            played.failures[0].message,
            "your server accepted 1 connection and then stopped accepting (connection refused): is it still reading the first one? A server that serves one connection at a time makes every other client wait"
        );
        let pipe = io::Error::from(io::ErrorKind::BrokenPipe);
        assert!(send_failed(&pipe, true).contains("without saying `Connection: close`"));
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
