//! Client transcripts: the harness plays the *server*, and the client under test connects to it.
//!
//! Here: the client-side directives and their parser, running the client command
//! (`--client-cmd`, or our own `wordwire client`), accepting its connections,
//! matching the requests it sends at contract level, sending the scripted
//! responses, and checking its exit status and standard output.
//! Elsewhere: the data-line escapes and rendering (`crate::escape`, `grading::suite::transcript`),
//! starting the client and shell quoting (`grading::target::process`), reports (`grading::report`).
//! The client contract these transcripts hold a client to is `docs/CLIENT.md`.
//!
//! Grammar (a file with a `listen` line is a client transcript):
//!
//! ```text
//! listen                  the harness listens on 127.0.0.1, a free port ({port} {host} {addr})
//! run WORD...             the words after the client command: `run post hello` runs `CMD post hello`
//! timeout MS              how long a step waits for the client (default 5000)
//! accept C                accept the client's next connection, named C
//! expect-request C        followed by `> data` lines: the request the client must send on C
//! respond C               followed by `< data` lines: bytes sent to the client in one write
//! wait MS                 sleep (between two `respond`s this splits a response)
//! half-close C            shut down the sending side of C (the client reads end of input)
//! close C                 close C (an early close, if no complete response was sent)
//! expect-exit N|nonzero   the client's exit status, once it has exited
//! expect-stdout TEXT      TEXT (escapes as in data lines) occurs in its stdout, after the previous one
//! level, category, hint   as in a server transcript (`grading::suite::transcript::Header`)
//! ```
//!
//! `expect-request` compares at contract level: the request-line exactly; each
//! field the expected block names must be present once with that value (names in
//! any case, values without OWS; `[HOST]` stands for any valid `host[:port]`), and
//! fields it does not name are free (field order, `User-Agent`, `Accept`...);
//! every line of the head must end in CRLF; the body, read by the client's own
//! `Content-Length`, must be the expected bytes exactly.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::suite::transcript::{
    DEFAULT_TIMEOUT, FormatError, Header, parse_ms, parse_timeout, quoted, sigil_data,
};
use super::target::process::{self, describe_status, drain, shell_quote};
use super::verdict::StepFailure;
use crate::escape::{render_lines, unescape};
use crate::http::{HeadLimits, Progress, parse_head};

/// The placeholder for "any valid `host[:port]`" in an expected field value.
pub const ANY_HOST: &str = "[HOST]";

/// What the client's exit status must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitExpectation {
    Code(i32),
    NonZero,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientStepKind {
    Accept(String),
    ExpectRequest { conn: String, bytes: Vec<u8> },
    Respond { conn: String, bytes: Vec<u8> },
    Wait(Duration),
    HalfClose(String),
    Close(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientStep {
    /// 1-based line of the step.
    pub line: usize,
    pub kind: ClientStepKind,
}

/// One parsed client transcript.
#[derive(Debug, Clone)]
pub struct ClientTranscript {
    pub path: PathBuf,
    pub lines: Vec<String>,
    /// The words after the client command.
    pub words: Vec<String>,
    pub timeout: Duration,
    pub steps: Vec<ClientStep>,
    /// `(line, expectation)`.
    pub exit: Option<(usize, ExitExpectation)>,
    /// `(line, text)`, in order.
    pub stdout: Vec<(usize, Vec<u8>)>,
    pub header: Header,
}

/// True if `text` is a client transcript (it has a `listen` line).
pub fn is_client_text(text: &str) -> bool {
    text.lines().any(|l| l.trim() == "listen")
}

/// True if the file at `path` is a client transcript; false if it is not or cannot be read.
pub fn is_client_transcript(path: &Path) -> bool {
    std::fs::read_to_string(path).is_ok_and(|text| is_client_text(&text))
}

impl ClientTranscript {
    /// Parses `text`; errors name the file and line.
    pub fn parse(path: &Path, text: &str) -> Result<ClientTranscript, FormatError> {
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        let err = |line: usize, message: String| FormatError {
            path: path.to_path_buf(),
            line,
            message,
        };
        let mut t = ClientTranscript {
            path: path.to_path_buf(),
            lines: lines.clone(),
            words: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            steps: Vec::new(),
            exit: None,
            stdout: Vec::new(),
            header: Header::of(path),
        };
        let mut listen = false;
        let mut run = false;
        let mut accepted: Vec<String> = Vec::new();
        let mut i = 0;
        while i < lines.len() {
            let number = i + 1;
            let line = lines[i].trim();
            i += 1;
            if line.is_empty() || line.starts_with('#') || t.header.take(line) {
                continue;
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            let data_block = |i: &mut usize, sigil: char| -> Result<Vec<u8>, FormatError> {
                let start = *i;
                let mut bytes = Vec::new();
                while let Some(data) = lines.get(*i).and_then(|l| sigil_data(l, sigil)) {
                    bytes.extend(unescape(data).map_err(|m| err(*i + 1, m))?);
                    *i += 1;
                }
                if *i == start {
                    return Err(err(
                        number,
                        format!("`{}` needs `{sigil} data` lines after it", words.join(" ")),
                    ));
                }
                Ok(bytes)
            };
            let kind = match (words[0], &words[1..]) {
                ("listen", []) => {
                    listen = true;
                    continue;
                }
                ("run", client_words) if !client_words.is_empty() => {
                    t.words = client_words.iter().map(|s| s.to_string()).collect();
                    run = true;
                    continue;
                }
                ("timeout", [ms]) => {
                    t.timeout = parse_timeout(ms).map_err(|m| err(number, m))?;
                    continue;
                }
                ("expect-exit", ["nonzero"]) => {
                    t.exit = Some((number, ExitExpectation::NonZero));
                    continue;
                }
                ("expect-exit", [code]) => {
                    let code = code
                        .parse()
                        .map_err(|_| err(number, format!("expected an exit code, got {code:?}")))?;
                    t.exit = Some((number, ExitExpectation::Code(code)));
                    continue;
                }
                ("expect-stdout", [_, ..]) => {
                    let rest = line["expect-stdout".len()..].trim_start();
                    t.stdout
                        .push((number, unescape(rest).map_err(|m| err(number, m))?));
                    continue;
                }
                ("accept", [c]) => {
                    if accepted.iter().any(|a| a == c) {
                        return Err(err(number, format!("connection {c} is already accepted")));
                    }
                    accepted.push(c.to_string());
                    ClientStepKind::Accept(c.to_string())
                }
                ("expect-request", [c]) => ClientStepKind::ExpectRequest {
                    conn: c.to_string(),
                    bytes: data_block(&mut i, '>')?,
                },
                ("respond", [c]) => ClientStepKind::Respond {
                    conn: c.to_string(),
                    bytes: data_block(&mut i, '<')?,
                },
                ("wait", [ms]) => ClientStepKind::Wait(parse_ms(ms).map_err(|m| err(number, m))?),
                ("half-close", [c]) => ClientStepKind::HalfClose(c.to_string()),
                ("close", [c]) => ClientStepKind::Close(c.to_string()),
                _ => {
                    return Err(err(
                        number,
                        format!(
                            "unknown or malformed client-transcript directive: {}",
                            quoted(line)
                        ),
                    ));
                }
            };
            if let Some(c) = step_conn(&kind)
                && !matches!(kind, ClientStepKind::Accept(_))
                && !accepted.iter().any(|a| a == c)
            {
                return Err(err(number, format!("connection {c} was never accepted")));
            }
            t.steps.push(ClientStep { line: number, kind });
        }
        if !listen {
            return Err(err(1, "a client transcript needs a `listen` line".into()));
        }
        if !run {
            return Err(err(
                1,
                "a client transcript needs `run VERB WORDS...` (what the client is asked to do)"
                    .into(),
            ));
        }
        if t.exit.is_none() {
            return Err(err(
                lines.len(),
                "a client transcript needs `expect-exit`".into(),
            ));
        }
        Ok(t)
    }
}

fn step_conn(kind: &ClientStepKind) -> Option<&str> {
    match kind {
        ClientStepKind::Accept(c) | ClientStepKind::HalfClose(c) | ClientStepKind::Close(c) => {
            Some(c)
        }
        ClientStepKind::ExpectRequest { conn, .. } | ClientStepKind::Respond { conn, .. } => {
            Some(conn)
        }
        ClientStepKind::Wait(_) => None,
    }
}

/// One request as the client sent it, framed leniently so that a wrong one can be shown.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SentRequest {
    /// Each head line with its own line end (CRLF or bare LF), the empty line last.
    head: Vec<Vec<u8>>,
    body: Vec<u8>,
}

/// Splits `bytes` into head lines (each with its line end) up to and including the
/// empty line; `None` if the head is not complete.
fn split_head(bytes: &[u8]) -> Option<(Vec<Vec<u8>>, usize)> {
    let mut lines = Vec::new();
    let mut pos = 0;
    loop {
        let lf = bytes[pos..].iter().position(|&b| b == b'\n')?;
        let line = bytes[pos..pos + lf + 1].to_vec();
        pos += lf + 1;
        let empty = line == b"\n" || line == b"\r\n";
        // Empty lines before the request-line are not part of it (RFC 9112 §2.2).
        if empty && lines.is_empty() {
            continue;
        }
        lines.push(line);
        if empty {
            return Some((lines, pos));
        }
    }
}

/// `(name, value)` of a field line: value without OWS and line end.
fn field(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = line.iter().position(|&b| b == b':')?;
    Some((&line[..colon], line[colon + 1..].trim_ascii()))
}

fn line_end(line: &[u8]) -> &[u8] {
    if line.ends_with(b"\r\n") {
        b"\r\n"
    } else {
        b"\n"
    }
}

/// The body length the head announces, if any and valid.
fn content_length(head: &[Vec<u8>]) -> Option<usize> {
    head.iter().skip(1).find_map(|line| {
        let (name, value) = field(line)?;
        name.eq_ignore_ascii_case(b"content-length")
            .then(|| std::str::from_utf8(value).ok()?.parse().ok())
            .flatten()
    })
}

/// True if `value` is a valid `host[:port]`, judged by the server's own parser.
fn is_valid_host(value: &[u8]) -> bool {
    let mut request = b"GET / HTTP/1.1\r\nHost: ".to_vec();
    request.extend_from_slice(value);
    request.extend_from_slice(b"\r\n\r\n");
    let limits = HeadLimits {
        max_line: 8192,
        max_header_bytes: 16384,
        max_body: 0,
    };
    matches!(parse_head(&request, &limits), Ok(Progress::Done { .. }))
}

/// The sent request rewritten in the expected request's terms, so that a line diff
/// shows only what the contract cares about: the request-line as sent; for each
/// field the expected block names, in its order, every sent line of that name
/// (spelled as expected, value without OWS, the sent line end; a valid Host as
/// `[HOST]` where that is expected); the empty line as sent; the body as sent.
fn matched(expected: &SentRequest, sent: &SentRequest) -> Vec<u8> {
    let mut out = Vec::new();
    if let Some(first) = sent.head.first() {
        out.extend_from_slice(first);
    }
    for want in expected.head.iter().skip(1) {
        let Some((name, want_value)) = field(want) else {
            continue;
        };
        for line in sent.head.iter().skip(1) {
            let Some((sent_name, value)) = field(line) else {
                continue;
            };
            if !sent_name.eq_ignore_ascii_case(name) {
                continue;
            }
            out.extend_from_slice(name);
            out.extend_from_slice(b": ");
            if want_value == ANY_HOST.as_bytes() && is_valid_host(value) {
                out.extend_from_slice(ANY_HOST.as_bytes());
            } else {
                out.extend_from_slice(value);
            }
            out.extend_from_slice(line_end(line));
        }
    }
    if let Some(last) = sent.head.last().filter(|_| sent.head.len() > 1) {
        out.extend_from_slice(last);
    }
    out.extend_from_slice(&sent.body);
    out
}

fn expected_request(bytes: &[u8]) -> SentRequest {
    match split_head(bytes) {
        Some((head, used)) => SentRequest {
            head,
            body: bytes[used..].to_vec(),
        },
        None => SentRequest {
            head: vec![bytes.to_vec()],
            body: Vec::new(),
        },
    }
}

/// A connection to the client, with the bytes read but not yet used.
struct Peer {
    stream: TcpStream,
    buf: Vec<u8>,
}

enum ReadRequest {
    Got(SentRequest),
    /// No complete request: why, and the bytes that did arrive.
    Incomplete(String, Vec<u8>),
}

impl Peer {
    fn fill(&mut self, deadline: Instant) -> Result<usize, String> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err("timed out".into());
        }
        let _ = self.stream.set_read_timeout(Some(left));
        let mut chunk = [0u8; 8192];
        match self.stream.read(&mut chunk) {
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(n)
            }
            Err(e) if crate::client::is_timeout(&e) => Err("timed out".into()),
            Err(e) => Err(e.to_string()),
        }
    }

    fn read_request(&mut self, timeout: Duration) -> ReadRequest {
        let deadline = Instant::now() + timeout;
        let ms = timeout.as_millis();
        let (head, used) = loop {
            if let Some(found) = split_head(&self.buf) {
                break found;
            }
            match self.fill(deadline) {
                Ok(0) => {
                    let why = "the client closed before a complete request head".to_string();
                    return ReadRequest::Incomplete(why, std::mem::take(&mut self.buf));
                }
                Ok(_) => {}
                Err(e) => {
                    let why = format!("no complete request head within {ms} ms ({e})");
                    return ReadRequest::Incomplete(why, std::mem::take(&mut self.buf));
                }
            }
        };
        let length = content_length(&head).unwrap_or(0);
        while self.buf.len() < used + length {
            match self.fill(deadline) {
                Ok(0) => {
                    let why = format!(
                        "the client closed before the {length} body bytes its Content-Length announced"
                    );
                    return ReadRequest::Incomplete(why, std::mem::take(&mut self.buf));
                }
                Ok(_) => {}
                Err(e) => {
                    let why = format!(
                        "not the {length} body bytes its Content-Length announced within {ms} ms ({e})"
                    );
                    return ReadRequest::Incomplete(why, std::mem::take(&mut self.buf));
                }
            }
        }
        let body = self.buf[used..used + length].to_vec();
        self.buf.drain(..used + length);
        ReadRequest::Got(SentRequest { head, body })
    }
}

/// The client process: its output is collected as it runs.
struct Running {
    child: Child,
    command: String,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    drains: Vec<JoinHandle<()>>,
}

/// A `drain` sink that appends everything to `into`.
fn append_to(into: &Arc<Mutex<Vec<u8>>>) -> impl FnMut(&[u8]) + Send + 'static {
    let into = into.clone();
    move |bytes| {
        if let Ok(mut out) = into.lock() {
            out.extend_from_slice(bytes);
        }
    }
}

impl Running {
    /// Runs `sh -c "TEMPLATE WORDS..."` with the placeholders expanded and the lab pair set.
    fn start(template: &str, words: &[String], addr: SocketAddr) -> Result<Running, String> {
        let mut command = template
            .replace("{port}", &addr.port().to_string())
            .replace("{host}", &addr.ip().to_string())
            .replace("{addr}", &addr.to_string());
        for word in words {
            command.push(' ');
            command.push_str(&shell_quote(word));
        }
        let mut child = process::spawn(&command, None, None)
            .map_err(|e| format!("cannot run `{command}`: {e}"))?;
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut drains = Vec::new();
        if let Some(out) = child.stdout.take() {
            drains.push(drain(out, append_to(&stdout)));
        }
        if let Some(err) = child.stderr.take() {
            drains.push(drain(err, append_to(&stderr)));
        }
        Ok(Running {
            child,
            command,
            stdout,
            stderr,
            drains,
        })
    }

    fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Waits up to `within` for the exit; kills the process group if it does not come.
    fn finish(mut self, within: Duration) -> (Option<ExitStatus>, Vec<u8>, Vec<u8>) {
        let deadline = Instant::now() + within;
        let mut status = self.exited();
        while status.is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
            status = self.exited();
        }
        // Whatever the shell left behind goes too, exited or not.
        process::signal_group(self.child.id() as libc::pid_t, libc::SIGKILL);
        if status.is_none() {
            let _ = self.child.wait();
        }
        for drain in self.drains.drain(..) {
            let _ = drain.join();
        }
        let take = |m: &Arc<Mutex<Vec<u8>>>| m.lock().map(|v| v.clone()).unwrap_or_default();
        (status, take(&self.stdout), take(&self.stderr))
    }
}

/// Accepts one connection, waiting up to `timeout`; gives up early if the client has exited.
fn accept(
    listener: &TcpListener,
    running: &mut Running,
    timeout: Duration,
) -> Result<TcpStream, String> {
    let deadline = Instant::now() + timeout;
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream
                    .set_nonblocking(false)
                    .map_err(|e| format!("accept: {e}"))?;
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(format!("accept: {e}")),
        }
        if let Some(status) = running.exited() {
            return Err(format!(
                "the client exited ({}) without connecting",
                describe_status(status)
            ));
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "the client did not connect within {} ms",
                timeout.as_millis()
            ));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Plays a client transcript with the client command `template`; returns the failures (none: passed).
pub fn play(t: &ClientTranscript, template: &str) -> Result<Vec<StepFailure>, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot listen: {e}"))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("cannot listen: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("cannot listen: {e}"))?;
    let mut running = Running::start(template, &t.words, addr)?;
    let mut failures = Vec::new();
    let mut peers: Vec<(String, Peer)> = Vec::new();
    let step_text = |line: usize| t.lines[line - 1].trim().to_string();
    for step in &t.steps {
        let mut fail = |message: String, expected: Vec<String>, actual: Vec<String>| {
            failures.push(StepFailure {
                line: step.line,
                step: step_text(step.line),
                message,
                expected,
                actual,
            });
        };
        let peer = step_conn(&step.kind)
            .and_then(|c| peers.iter_mut().find(|(name, _)| name == c))
            .map(|(_, p)| p);
        match (&step.kind, peer) {
            (ClientStepKind::Accept(name), _) => match accept(&listener, &mut running, t.timeout) {
                Ok(stream) => peers.push((
                    name.clone(),
                    Peer {
                        stream,
                        buf: Vec::new(),
                    },
                )),
                Err(e) => {
                    fail(e, vec![], vec![]);
                    break;
                }
            },
            (ClientStepKind::ExpectRequest { bytes, .. }, Some(peer)) => {
                let expected = expected_request(bytes);
                let expected_lines = render_lines(bytes, '>');
                match peer.read_request(t.timeout) {
                    ReadRequest::Got(sent) => {
                        let actual = render_lines(&matched(&expected, &sent), '>');
                        if actual != expected_lines {
                            fail("the request differs".into(), expected_lines, actual);
                        }
                    }
                    ReadRequest::Incomplete(why, partial) => {
                        let mut actual = render_lines(&partial, '>');
                        actual.push(format!("! {why}"));
                        fail(why, expected_lines, actual);
                        break;
                    }
                }
            }
            (ClientStepKind::Respond { bytes, .. }, Some(peer)) => {
                // The client may already have given up; what it did then is checked below.
                let _ = peer.stream.write_all(bytes);
            }
            (ClientStepKind::Wait(d), _) => std::thread::sleep(*d),
            (ClientStepKind::HalfClose(_), Some(peer)) => {
                let _ = peer.stream.shutdown(Shutdown::Write);
            }
            (ClientStepKind::Close(c), Some(_)) => peers.retain(|(name, _)| name != c),
            (_, None) => {
                fail("the connection is closed".into(), vec![], vec![]);
                break;
            }
        }
    }
    // The scripted server is done: a client reading until close must see the close.
    drop(peers);
    let command = running.command.clone();
    let (status, stdout, stderr) = running.finish(t.timeout);
    let stderr_note = || {
        let text = String::from_utf8_lossy(&stderr);
        let text = text.trim();
        if text.is_empty() {
            String::new()
        } else {
            format!(
                "; its stderr: {}",
                text.lines().take(3).collect::<Vec<_>>().join(" / ")
            )
        }
    };
    let Some((exit_line, want)) = t.exit else {
        unreachable!("parse requires expect-exit");
    };
    match status {
        None => failures.push(StepFailure {
            line: exit_line,
            step: step_text(exit_line),
            message: format!(
                "`{command}` did not exit within {} ms after the last step",
                t.timeout.as_millis()
            ),
            expected: vec![],
            actual: vec![],
        }),
        Some(status) => {
            let ok = match (want, status.code()) {
                (ExitExpectation::Code(want), Some(code)) => want == code,
                (ExitExpectation::NonZero, Some(code)) => code != 0,
                (_, None) => false,
            };
            if !ok {
                let wanted = match want {
                    ExitExpectation::Code(code) => format!("! exit status {code}"),
                    ExitExpectation::NonZero => "! a non-zero exit status".to_string(),
                };
                failures.push(StepFailure {
                    line: exit_line,
                    step: step_text(exit_line),
                    message: format!(
                        "`{command}` ended with {}{}",
                        describe_status(status),
                        stderr_note()
                    ),
                    expected: vec![wanted],
                    actual: vec![format!("! {}", describe_status(status))],
                });
            }
        }
    }
    let mut from = 0;
    for (line, want) in &t.stdout {
        match find(&stdout[from..], want) {
            Some(at) => from += at + want.len(),
            None => {
                failures.push(StepFailure {
                    line: *line,
                    step: step_text(*line),
                    message: format!(
                        "stdout lacks this text{}",
                        if from > 0 {
                            " after the previous one"
                        } else {
                            ""
                        }
                    ),
                    expected: render_lines(want, '|'),
                    actual: render_lines(&stdout, '|'),
                });
                break;
            }
        }
    }
    Ok(failures)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(bytes: &[u8]) -> SentRequest {
        expected_request(bytes)
    }

    #[test]
    fn field_order_and_free_fields_do_not_matter() {
        let expected = req(b"POST / HTTP/1.1\r\nHost: [HOST]\r\nContent-Length: 5\r\n\r\nhello");
        let sent = req(b"POST / HTTP/1.1\r\nUser-Agent: x/1\r\ncontent-length:5\r\nHost: localhost:8080\r\nAccept: */*\r\n\r\nhello");
        assert_eq!(
            matched(&expected, &sent),
            b"POST / HTTP/1.1\r\nHost: [HOST]\r\nContent-Length: 5\r\n\r\nhello"
        );
    }

    #[test]
    fn bare_lf_a_missing_host_and_a_wrong_length_show_in_the_match() {
        let expected = req(b"POST / HTTP/1.1\r\nHost: [HOST]\r\nContent-Length: 5\r\n\r\nhello");
        let sent = req(b"POST / HTTP/1.1\nContent-Length: 6\n\nhello");
        assert_eq!(
            matched(&expected, &sent),
            b"POST / HTTP/1.1\nContent-Length: 6\n\nhello"
        );
        let bad_host = req(b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n");
        let want = req(b"GET / HTTP/1.1\r\nHost: [HOST]\r\n\r\n");
        assert_eq!(
            matched(&want, &bad_host),
            b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n"
        );
    }

    #[test]
    fn head_lines_keep_their_own_line_ends() {
        let (head, used) = split_head(b"\r\nGET / HTTP/1.1\nHost: x\r\n\nrest").unwrap();
        assert_eq!(
            head,
            [
                b"GET / HTTP/1.1\n".to_vec(),
                b"Host: x\r\n".to_vec(),
                b"\n".to_vec()
            ]
        );
        assert_eq!(used, 27);
        assert!(split_head(b"GET / HTTP/1.1\r\nHost: x\r\n").is_none());
    }

    #[test]
    fn a_client_transcript_parses() {
        let text = "# x\nlisten\nrun put old new\naccept a\nexpect-request a\n  > PUT / HTTP/1.1\\r\\n\n  > \\r\\n\nrespond a\n  < HTTP/1.1 200 OK\\r\\n\nwait 10\nclose a\nexpect-exit nonzero\nexpect-stdout replaced 1\\n\n";
        let t = ClientTranscript::parse(Path::new("c.transcript"), text).unwrap();
        assert_eq!(t.words, ["put", "old", "new"]);
        assert_eq!(t.steps.len(), 5);
        assert_eq!(t.exit, Some((12, ExitExpectation::NonZero)));
        assert_eq!(t.stdout, [(13, b"replaced 1\n".to_vec())]);
        assert!(is_client_text(text));
    }

    #[test]
    fn malformed_client_transcripts_name_the_line() {
        let no_accept =
            "listen\nrun get\nexpect-request a\n  > GET / HTTP/1.1\\r\\n\nexpect-exit 0\n";
        let e = ClientTranscript::parse(Path::new("c"), no_accept)
            .unwrap_err()
            .to_string();
        assert!(e.contains("c:3: connection a was never accepted"), "{e}");
        let no_exit = "listen\nrun get\n";
        assert!(
            ClientTranscript::parse(Path::new("c"), no_exit)
                .unwrap_err()
                .to_string()
                .contains("expect-exit")
        );
        let no_run = "listen\nexpect-exit 0\n";
        assert!(
            ClientTranscript::parse(Path::new("c"), no_run)
                .unwrap_err()
                .to_string()
                .contains("run VERB")
        );
    }

    #[test]
    fn only_a_valid_host_becomes_the_placeholder() {
        assert!(is_valid_host(b"127.0.0.1:8080"));
        assert!(is_valid_host(b"localhost"));
        assert!(!is_valid_host(b"a b"));
        assert!(!is_valid_host(b"user@h"));
    }
}
