//! One connection: read requests, answer them in order, and decide when to close.
//!
//! Here: the request loop, the idle, read and whole-request timeouts, `100 Continue`,
//! keep-alive or close (this module alone decides), lingering close, the access log.
//! Elsewhere: head and chunk syntax (`http`), what a request means (`handler`),
//! accepting and the connection cap (`server`).

use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::http::body::ChunkedDecoder;
use crate::http::response::{self, Body, Persistence, Response};
use crate::http::{Framing, Method, Progress, RequestHead, Version, parse_head};

use super::Shared;

/// Bytes asked of the kernel per read.
const READ_CHUNK: usize = 16 * 1024;
/// How long, and how much, a closing connection keeps draining what the peer
/// still sends, so that our last response is not destroyed by a reset (RFC 9112 §9.6).
const LINGER_TIME: Duration = Duration::from_millis(500);
const LINGER_BYTES: usize = 64 * 1024;

/// Why more bytes of a request could not be read.
enum ReadFailure {
    /// The read or whole-request timeout expired.
    TimedOut,
    /// The peer closed its side before the request was complete.
    Closed,
    /// The socket failed (reset, etc.); nothing can be sent.
    Broken,
}

/// What to do after one exchange.
enum Next {
    KeepAlive,
    Close,
}

/// A received request's body: a slice of the read buffer, or decoded chunks.
enum ReceivedBody {
    Buffered(usize),
    Decoded(Vec<u8>),
}

pub(super) struct Connection {
    /// Shared with the open-connections registry, which may shut it down.
    stream: Arc<TcpStream>,
    peer: SocketAddr,
    shared: Arc<Shared>,
    /// Set while the connection waits for the first byte of a request, so a
    /// shutdown may close it without cutting a request short.
    idle: Arc<AtomicBool>,
    buf: Vec<u8>,
    /// `buf[start..end]` is received and not yet consumed.
    start: usize,
    end: usize,
    read_timeout: Option<Duration>,
    out: Vec<u8>,
    date: DateCache,
    /// Reused for each access-log line.
    log_line: String,
}

impl Connection {
    /// `stream` already has `config.read_timeout` as its read timeout (`listener::configure`).
    pub(super) fn new(
        stream: Arc<TcpStream>,
        peer: SocketAddr,
        shared: Arc<Shared>,
        idle: Arc<AtomicBool>,
    ) -> Connection {
        let read_timeout = Some(shared.config.read_timeout);
        Connection {
            stream,
            peer,
            shared,
            idle,
            buf: vec![0; READ_CHUNK],
            start: 0,
            end: 0,
            read_timeout,
            out: Vec::with_capacity(512),
            date: DateCache::default(),
            log_line: String::new(),
        }
    }

    /// Serves requests until the connection should close.
    pub(super) fn serve(mut self) {
        let mut first = true;
        while let Next::KeepAlive = self.exchange(first) {
            first = false;
        }
    }

    fn pending(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// One request and its response.
    fn exchange(&mut self, first: bool) -> Next {
        let config = &self.shared.config;
        if self.start == self.end {
            // A new connection must speak within the read timeout; a kept-alive
            // one may rest for the idle timeout. Either way silence closes quietly.
            let wait = if first {
                config.read_timeout
            } else {
                config.idle_timeout
            };
            self.idle.store(true, Ordering::SeqCst);
            if self.shared.shutdown.load(Ordering::SeqCst) {
                return Next::Close;
            }
            let got = self.fill(wait);
            self.idle.store(false, Ordering::SeqCst);
            if got.is_err() {
                return Next::Close;
            }
        }
        let started = Instant::now();
        let deadline = started + self.shared.config.request_timeout;
        let limits = self.shared.config.limits;

        let head = loop {
            match parse_head(self.pending(), &limits) {
                Ok(Progress::Done { value, consumed }) => {
                    self.consume(consumed);
                    break value;
                }
                Ok(Progress::NeedMore) => {
                    if let Err(failure) = self.fill_before(deadline) {
                        return self.read_failed(failure, None, started);
                    }
                }
                Err(error) => {
                    let response = Response::line(error.status(), error.to_string());
                    return self.respond(None, response, true, started);
                }
            }
        };

        let expects_body = match head.framing {
            Framing::None | Framing::Length(0) => false,
            Framing::Length(_) | Framing::Chunked => true,
        };
        if let Some(response) = self.shared.handler.precheck(&head) {
            if !expects_body {
                return self.respond(Some(&head), response, false, started);
            }
            if head.expect_continue && self.start == self.end {
                // RFC 9110 §10.1.1: answer without reading the body, then close,
                // since the client may or may not send it.
                return self.respond(Some(&head), response, true, started);
            }
            // Read and drop the body so the next request's framing is known.
            return match self.receive_body(&head, deadline) {
                Ok(body) => {
                    // RFC 9112 §6.3: the body ends where its framing says; left in the
                    // buffer it would be parsed as the next request (smuggling).
                    if let ReceivedBody::Buffered(len) = body {
                        self.consume(len);
                    }
                    self.respond(Some(&head), response, false, started)
                }
                Err(failure) => self.body_failed(failure, &head, started),
            };
        }

        if expects_body
            && head.expect_continue
            && head.version == Version::Http11
            && self.start == self.end
        {
            self.out.clear();
            response::encode_continue(self.date.now(), &mut self.out);
            if (&*self.stream).write_all(&self.out).is_err() {
                return Next::Close;
            }
        }
        let body = match self.receive_body(&head, deadline) {
            Ok(body) => body,
            Err(failure) => return self.body_failed(failure, &head, started),
        };
        let handler = &self.shared.handler;
        let outcome = {
            let bytes: &[u8] = match &body {
                ReceivedBody::Buffered(len) => &self.buf[self.start..self.start + len],
                ReceivedBody::Decoded(bytes) => bytes,
            };
            catch_unwind(AssertUnwindSafe(|| handler.handle(&head, bytes)))
        };
        if let ReceivedBody::Buffered(len) = body {
            self.consume(len);
        }
        match outcome {
            Ok(response) => self.respond(Some(&head), response, false, started),
            Err(_) => {
                // The panic message is already on stderr (the default hook).
                let response = Response::line(500, "internal error while handling the request")
                    .with_cause("handler panicked");
                self.respond(Some(&head), response, true, started)
            }
        }
    }

    /// Reads the body announced by `head` before `deadline`.
    fn receive_body(
        &mut self,
        head: &RequestHead,
        deadline: Instant,
    ) -> Result<ReceivedBody, BodyFailure> {
        match head.framing {
            Framing::None => Ok(ReceivedBody::Buffered(0)),
            Framing::Length(length) => {
                // The parser checked `length <= max_body`, which is a usize-sized limit.
                let length =
                    usize::try_from(length).map_err(|_| BodyFailure::Read(ReadFailure::Broken))?;
                while self.end - self.start < length {
                    self.fill_before(deadline).map_err(BodyFailure::Read)?;
                }
                Ok(ReceivedBody::Buffered(length))
            }
            Framing::Chunked => {
                let mut decoder = ChunkedDecoder::new(&self.shared.config.limits);
                let mut decoded = Vec::new();
                loop {
                    let step = decoder
                        .decode(self.pending(), &mut decoded)
                        .map_err(|error| {
                            BodyFailure::Invalid(Response::line(error.status(), error.to_string()))
                        })?;
                    self.consume(step.consumed);
                    if step.done {
                        return Ok(ReceivedBody::Decoded(decoded));
                    }
                    self.fill_before(deadline).map_err(BodyFailure::Read)?;
                }
            }
        }
    }

    fn body_failed(&mut self, failure: BodyFailure, head: &RequestHead, started: Instant) -> Next {
        match failure {
            BodyFailure::Read(failure) => self.read_failed(failure, Some(head), started),
            BodyFailure::Invalid(response) => self.respond(Some(head), response, true, started),
        }
    }

    /// Answers a request that could not be read completely, then closes.
    fn read_failed(
        &mut self,
        failure: ReadFailure,
        head: Option<&RequestHead>,
        started: Instant,
    ) -> Next {
        match failure {
            ReadFailure::TimedOut => {
                let status = self.shared.config.timeout_status;
                let response = Response::line(status, "request timed out");
                self.respond(head, response, true, started)
            }
            ReadFailure::Closed => {
                let response =
                    Response::line(400, "connection closed before the request was complete");
                self.respond(head, response, true, started)
            }
            ReadFailure::Broken => Next::Close,
        }
    }

    /// Sends `response`, logs it, and closes if the request, an error or a shutdown says so.
    fn respond(
        &mut self,
        head: Option<&RequestHead>,
        response: Response,
        force_close: bool,
        started: Instant,
    ) -> Next {
        let asked_to_close = match head {
            None => true,
            Some(head) => match head.version {
                Version::Http11 => head.connection_close,
                Version::Http10 => head.connection_close || !head.connection_keep_alive,
            },
        };
        let close = force_close || asked_to_close || self.shared.shutdown.load(Ordering::SeqCst);
        let persistence = match (close, head.map(|h| h.version)) {
            (true, _) => Persistence::Close,
            (false, Some(Version::Http10)) => Persistence::KeepAliveExplicit,
            (false, _) => Persistence::KeepAliveDefault,
        };
        self.out.clear();
        response::encode_head(&response, persistence, self.date.now(), &mut self.out);
        // RFC 9110 §9.3.2: HEAD gets the same fields as GET and no content.
        let is_head = head.is_some_and(|h| h.method == Method::Head);
        let body: &[u8] = if is_head {
            b""
        } else {
            response.body.as_bytes()
        };
        let written = write_all_vectored(&self.stream, &self.out, body);
        if let Some(log) = &self.shared.log {
            let line = &mut self.log_line;
            line.clear();
            format_exchange(line, self.peer, head, &response, body.len(), started);
            write_log(log, line);
        }
        if written.is_err() {
            return Next::Close;
        }
        if close {
            self.linger();
            Next::Close
        } else {
            Next::KeepAlive
        }
    }

    /// Half-closes and drains briefly, so the peer reads our final response
    /// rather than a reset caused by its unread bytes (RFC 9112 §9.6).
    fn linger(&mut self) {
        if self.stream.shutdown(Shutdown::Write).is_err() {
            return;
        }
        let until = Instant::now() + LINGER_TIME;
        let mut drained = 0;
        let mut scratch = [0u8; 4096];
        while drained < LINGER_BYTES {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() || self.stream.set_read_timeout(Some(left)).is_err() {
                return;
            }
            match (&*self.stream).read(&mut scratch) {
                Ok(0) | Err(_) => return,
                Ok(n) => drained += n,
            }
        }
    }

    /// Reads more bytes of a started request, keeping to the read timeout
    /// between bytes and to the whole-request `deadline`.
    fn fill_before(&mut self, deadline: Instant) -> Result<usize, ReadFailure> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ReadFailure::TimedOut);
        }
        self.fill(left.min(self.shared.config.read_timeout))
    }

    /// One read of at most `READ_CHUNK` bytes, waiting at most `wait`.
    fn fill(&mut self, wait: Duration) -> Result<usize, ReadFailure> {
        if self.read_timeout != Some(wait) {
            if self.stream.set_read_timeout(Some(wait)).is_err() {
                return Err(ReadFailure::Broken);
            }
            self.read_timeout = Some(wait);
        }
        if self.buf.len() - self.end < READ_CHUNK {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            if self.buf.len() - self.end < READ_CHUNK {
                // Bounded: the parser rejects heads over the limits, and bodies
                // are bounded by --max-body before they are read.
                self.buf.resize(self.end + READ_CHUNK, 0);
            }
        }
        loop {
            match (&*self.stream).read(&mut self.buf[self.end..]) {
                Ok(0) => return Err(ReadFailure::Closed),
                Ok(n) => {
                    self.end += n;
                    return Ok(n);
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error)
                    if matches!(
                        error.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(ReadFailure::TimedOut);
                }
                Err(_) => return Err(ReadFailure::Broken),
            }
        }
    }
}

/// Why a body could not be received.
enum BodyFailure {
    Read(ReadFailure),
    /// The chunked framing is wrong; the response says why.
    Invalid(Response),
}

/// Writes `head` then `body` with as few system calls as the kernel allows (one, usually).
fn write_all_vectored(mut stream: &TcpStream, head: &[u8], body: &[u8]) -> io::Result<()> {
    let mut slices = [IoSlice::new(head), IoSlice::new(body)];
    let mut remaining: &mut [IoSlice<'_>] = &mut slices;
    IoSlice::advance_slices(&mut remaining, 0);
    while !remaining.is_empty() {
        match stream.write_vectored(remaining) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut remaining, n),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// Writes a response the connection loop never saw a request for (503 at the cap).
pub(super) fn refuse(mut stream: &TcpStream, response: &Response) -> io::Result<()> {
    let mut out = Vec::with_capacity(256);
    let mut date = DateCache::default();
    response::encode_head(response, Persistence::Close, date.now(), &mut out);
    let body = match &response.body {
        Body::None => &[][..],
        body => body.as_bytes(),
    };
    write_all_vectored(stream, &out, body)?;
    stream.shutdown(Shutdown::Write)?;
    // Drain what already arrived so that closing does not send a reset over our answer.
    stream.set_nonblocking(true)?;
    let mut scratch = [0u8; 4096];
    while let Ok(n) = stream.read(&mut scratch) {
        if n == 0 {
            break;
        }
    }
    Ok(())
}

/// Appends one access-log line to `line`: peer, request line, status, body bytes,
/// duration, and for a server failure its cause.
pub(super) fn format_exchange(
    line: &mut String,
    peer: SocketAddr,
    head: Option<&RequestHead>,
    response: &Response,
    bytes: usize,
    started: Instant,
) {
    use std::fmt::Write as _;
    let micros = started.elapsed().as_micros();
    let status = response.status;
    // Writing to a String cannot fail.
    let _ = match head {
        Some(head) => write!(
            line,
            "{peer} \"{} {} {}\" {status} {bytes} {}.{:03}ms",
            method_name(&head.method),
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

/// Writes one finished log line to `log` (the server's own handle on stderr).
///
/// One `write` per line, without the process-wide stderr lock: a line this short
/// is written whole, so lines from different connections do not interleave, and
/// connection threads do not queue behind each other's system calls.
pub(super) fn write_log(mut log: &std::fs::File, line: &str) {
    let _ = log.write_all(line.as_bytes());
}

fn method_name(method: &Method) -> &str {
    match method {
        Method::Get => "GET",
        Method::Head => "HEAD",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Delete => "DELETE",
        Method::Options => "OPTIONS",
        Method::Other(name) => name,
    }
}

/// The `Date` value, formatted once per second rather than per response.
#[derive(Default)]
struct DateCache {
    second: u64,
    text: String,
}

impl DateCache {
    fn now(&mut self) -> &str {
        let now = SystemTime::now();
        let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if second != self.second || self.text.is_empty() {
            self.second = second;
            self.text = httpdate::fmt_http_date(now);
        }
        &self.text
    }
}
