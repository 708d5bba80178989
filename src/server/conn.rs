//! One connection as a state machine, driven by its event loop: read requests,
//! answer them in order, and decide when to close.
//!
//! Here: the phases of a connection (waiting for a request, reading its head and
//! body, waiting for a write's answer, closing, lingering), the read, whole-request, idle
//! and write deadlines each phase implies, `100 Continue`, keep-alive or close
//! (this module alone decides), the output queue and its backpressure, lingering
//! close, the access log lines.
//! Elsewhere: head and chunk syntax (`http`), what a request means (`handler`),
//! readiness, timers and accepting (`server::event_loop`), how a write's answer comes
//! back (`server::mailbox`).
//!
//! Nothing here blocks: every read and write is non-blocking, and a step that
//! cannot go on returns to the loop, which calls back on readiness, on a
//! deadline or when a write's answer arrives.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use mio::net::TcpStream;

use crate::handler::Action;
use crate::http::response::{self, Body, Persistence, Response};
use crate::http::{
    BodyDecoder, Framing, HeadParser, Method, ParseError, Progress, RequestHead, Status, Version,
};
use crate::store::Deferred;
use crate::trace::{self, Direction, Tracer};

use super::Shared;
use super::access_log::{AccessLog, Entry, Fields, RequestLine};
use super::mailbox::{self, Mailbox, Reply};
use super::output::{DateCache, Output};

/// The read buffer a connection gets when a request starts; it grows (within the
/// head and body limits) only when a request needs more, and is released when
/// the connection goes idle.
const FIRST_READ: usize = 4 * 1024;
/// Compact or grow the read buffer when less than this is free.
const MIN_READ: usize = 1024;
/// Stop taking new requests off a connection while this much output is unsent
/// (a pipelining peer that does not read its answers).
const OUTPUT_LIMIT: usize = 64 * 1024;
/// How long, and how much, a closing connection keeps draining what the peer
/// still sends, so that our last response is not destroyed by a reset (RFC 9112 §9.6).
const LINGER_TIME: Duration = Duration::from_millis(500);
const LINGER_BYTES: usize = 64 * 1024;

/// The byte stream a connection runs over: non-blocking reads and writes
/// (`WouldBlock` when there is nothing to read or no room to write) and a
/// half-close. The socket in the server (`mio`'s `TcpStream`), a scripted
/// stream in the tests and the fuzzer (`server::memory`).
pub(super) trait Transport: Read + Write {
    /// Shuts the write side (the peer reads end of stream); reading goes on.
    fn shutdown_write(&mut self) -> io::Result<()>;
}

/// The server's side of a TCP connection (the thin edge that makes the system
/// calls), and with `--trace` the tracer that shows every byte read (`>`) and
/// written (`<`) as it goes, timed from the accept.
pub(super) struct Socket {
    stream: TcpStream,
    /// Boxed: most connections have none, and every open connection keeps this field.
    trace: Option<Box<Tracer>>,
}

impl Socket {
    pub(super) fn new(stream: TcpStream, peer: SocketAddr, trace: Option<&trace::Sink>) -> Socket {
        let trace = trace.map(|sink| Box::new(Tracer::new(Arc::clone(sink), format!("{peer} "))));
        if let Some(tracer) = &trace {
            tracer.note("accepted");
        }
        Socket { stream, trace }
    }
}

impl Read for Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.stream.read(buf)?;
        match &self.trace {
            Some(tracer) if n == 0 => tracer.note("end of stream from the client"),
            Some(tracer) => tracer.bytes(Direction::ToServer, &buf[..n]),
            None => {}
        }
        Ok(n)
    }
}

impl Write for Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[io::IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, slices: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let n = self.stream.write_vectored(slices)?;
        if let Some(tracer) = &self.trace {
            let written: Vec<u8> = slices
                .iter()
                .flat_map(|s| s.iter())
                .take(n)
                .copied()
                .collect();
            tracer.bytes(Direction::ToClient, &written);
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

impl Transport for Socket {
    fn shutdown_write(&mut self) -> io::Result<()> {
        if let Some(tracer) = &self.trace {
            tracer.note("write side shut (lingering close)");
        }
        self.stream.shutdown(Shutdown::Write)
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        if let Some(tracer) = &self.trace {
            tracer.note("closed");
        }
    }
}

/// What the event loop lends a connection for one step.
pub(super) struct Cx<'a> {
    pub(super) shared: &'a Shared,
    /// The loop's clock for this turn.
    pub(super) now: Instant,
    pub(super) date: &'a mut DateCache,
    pub(super) log: &'a mut AccessLog,
    pub(super) mailbox: &'a Arc<Mailbox>,
    pub(super) buffers: &'a mut Buffers,
    /// Writes this turn left for the loop to commit before it polls again.
    pub(super) deferred: &'a mut Deferred,
}

/// Spare buffers a loop keeps beside the ones its connections hold.
const SPARE_BUFFERS: usize = 16;
/// An output buffer that grew past this (a burst of pipelined answers) is not kept.
const SPARE_OUTPUT: usize = 4 * 1024;

/// Buffers a loop lends its connections. A connection that goes idle gives its
/// read and output buffers back and takes them again with its next request, so
/// a keep-alive request allocates nothing, and an idle connection still holds
/// none. At most `SPARE_BUFFERS` of each are kept, and only buffers of the
/// first size: a loop's spares are bounded however many connections it has.
pub(super) struct Buffers {
    reads: Vec<Vec<u8>>,
    outputs: Vec<Vec<u8>>,
    /// Bytes a lingering connection reads and drops.
    scratch: Box<[u8]>,
}

impl Default for Buffers {
    fn default() -> Buffers {
        Buffers {
            reads: Vec::new(),
            outputs: Vec::new(),
            scratch: vec![0; 4096].into_boxed_slice(),
        }
    }
}

impl Buffers {
    fn read_buffer(&mut self) -> Vec<u8> {
        self.reads.pop().unwrap_or_else(|| vec![0; FIRST_READ])
    }

    fn output_buffer(&mut self) -> Vec<u8> {
        self.outputs.pop().unwrap_or_default()
    }

    /// How many read buffers are spare (for the in-memory driver's `Exchange`).
    pub(super) fn spare_reads(&self) -> usize {
        self.reads.len()
    }

    fn give_back(&mut self, read: Vec<u8>, output: Vec<u8>) {
        if read.len() == FIRST_READ && self.reads.len() < SPARE_BUFFERS {
            self.reads.push(read);
        }
        if output.is_empty()
            && (1..=SPARE_OUTPUT).contains(&output.capacity())
            && self.outputs.len() < SPARE_BUFFERS
        {
            self.outputs.push(output);
        }
    }
}

/// Whether a connection stays open after a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flow {
    Open,
    Close,
}

/// What the state machine needs before it can go on.
enum Step {
    /// Something changed; look again.
    Progressed,
    /// More bytes from the peer.
    NeedInput,
    /// Close now, without a word.
    Close,
}

/// Where a connection is in its life.
enum Phase {
    /// Waiting for a request's first byte until `until` (a new connection: the
    /// read timeout; a kept-alive one: the idle timeout). Silence closes quietly.
    Idle { until: Instant },
    /// A request has started; its head is incomplete.
    Head(Started),
    /// The head is parsed; its body is being received (or, after a refusal, dropped).
    Body(Box<Receiving>),
    /// A write was handed to the store; its answer comes through the loop's mailbox.
    Working {
        started: Instant,
        /// The head, and what the access log takes from its field lines.
        request: Box<(RequestHead, Fields)>,
    },
    /// The last response is queued; once sent, the write side is shut.
    Closing,
    /// Write side shut; dropping what the peer still sends until `until`.
    Linger { until: Instant, drained: usize },
}

/// The clock of a started request.
#[derive(Debug, Clone, Copy)]
struct Started {
    at: Instant,
    /// `at` plus the whole-request timeout.
    deadline: Instant,
    /// The next read must come before this: the last bytes plus the read
    /// timeout, or `deadline` if that is sooner.
    read_until: Instant,
}

impl Started {
    fn new(now: Instant, shared: &Shared) -> Started {
        let deadline = now + shared.config.request_timeout;
        Started {
            at: now,
            deadline,
            read_until: deadline.min(now + shared.config.read_timeout),
        }
    }
}

/// A request whose body is being received.
struct Receiving {
    started: Started,
    head: RequestHead,
    /// What the access log takes from the head's field lines.
    log_fields: Fields,
    decoder: BodyDecoder,
    /// The body bytes so far.
    body: Vec<u8>,
    /// The answer `precheck` gave; the body is read only to find the next request.
    refusal: Option<Response>,
}

pub(super) struct Connection<S: Transport = Socket> {
    stream: S,
    peer: SocketAddr,
    /// Where the loop keeps this connection, and a number no other connection of
    /// the loop ever had: together they address the answers of writes and timers.
    slot: usize,
    pub(super) id: u64,
    phase: Phase,
    /// `buf[start..end]` is received and not yet consumed.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// The socket may have bytes we have not read (edge-triggered readiness).
    readable: bool,
    /// The peer shut its write side (seen as an event flag, maybe not read yet).
    hung_up: bool,
    /// A read returned end of stream.
    peer_closed: bool,
    /// The peer asked for the close (`Connection: close`, HTTP/1.0) and no error
    /// cut a request short: if it has nothing more in flight, close at once.
    close_requested: bool,
    out: Output,
    /// Unsent output must make progress before this (a peer that never reads).
    write_deadline: Option<Instant>,
    /// The earliest deadline the loop's timer heap holds for this connection.
    pub(super) armed: Option<Instant>,
    /// Counts toward `--max-connections` (false for a connection refused with 503).
    pub(super) counted: bool,
    /// The head being received, kept between reads so it is not parsed again from its start.
    head_parser: HeadParser,
}

impl<S: Transport> Connection<S> {
    /// A freshly accepted connection: it must start a request within the read timeout.
    pub(super) fn new(
        stream: S,
        peer: SocketAddr,
        slot: usize,
        id: u64,
        now: Instant,
        shared: &Shared,
    ) -> Connection<S> {
        Connection {
            stream,
            peer,
            slot,
            id,
            phase: Phase::Idle {
                until: now + shared.config.read_timeout,
            },
            buf: Vec::new(),
            start: 0,
            end: 0,
            readable: false,
            hung_up: false,
            peer_closed: false,
            close_requested: false,
            out: Output::default(),
            write_deadline: None,
            armed: None,
            counted: true,
            head_parser: HeadParser::default(),
        }
    }

    /// Turns a new connection into one refused at the cap: its answer (503) is queued and it goes
    /// straight to closing, so it lingers like any other close instead of
    /// resetting a peer whose request is already on the way (RFC 9112 §9.6).
    /// It does not count toward the cap.
    pub(super) fn refuse(
        &mut self,
        response: &Response,
        date: &mut DateCache,
        now: Instant,
        shared: &Shared,
    ) {
        response::encode_head(
            response,
            Persistence::Close,
            date.now(),
            &mut self.out.bytes,
        );
        self.out.bytes.extend_from_slice(response.body.as_bytes());
        self.out.mark_bytes(0);
        self.phase = Phase::Closing;
        // A new socket's send buffer takes the short answer at once; a peer that
        // does not even take that gets no more patience than a read timeout.
        self.write_deadline = Some(now + shared.config.read_timeout);
        self.counted = false;
    }

    /// The stream, for the in-memory driver (`server::memory`).
    pub(super) fn stream(&mut self) -> &mut S {
        &mut self.stream
    }

    /// The next instant at which `on_deadline` has something to do, if any.
    pub(super) fn deadline(&self) -> Option<Instant> {
        let phase = match &self.phase {
            Phase::Idle { until } | Phase::Linger { until, .. } => Some(*until),
            Phase::Head(started) => Some(started.read_until),
            Phase::Body(receiving) => Some(receiving.started.read_until),
            Phase::Working { .. } | Phase::Closing => None,
        };
        match (phase, self.write_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The socket reported readiness.
    pub(super) fn on_ready(&mut self, readable: bool, hung_up: bool, cx: &mut Cx<'_>) -> Flow {
        self.readable |= readable || hung_up;
        self.hung_up |= hung_up;
        self.drive(cx)
    }

    /// The server is shutting down: a connection waiting for a request closes now;
    /// one still receiving a head (not yet a request in flight) closes as after an
    /// error (what is queued goes out, then a lingering close, so that an earlier
    /// answer is not lost to a reset); one with a request in flight finishes it and
    /// then closes.
    pub(super) fn on_shutdown(&mut self, cx: &mut Cx<'_>) -> Flow {
        if matches!(self.phase, Phase::Head(_)) {
            self.phase = Phase::Closing;
        }
        self.drive(cx)
    }

    /// A deadline may have passed: act on whichever did.
    pub(super) fn on_deadline(&mut self, cx: &mut Cx<'_>) -> Flow {
        let now = cx.now;
        if self.write_deadline.is_some_and(|at| at <= now) {
            // The peer has not read for the whole write timeout: drop it.
            return Flow::Close;
        }
        match &self.phase {
            Phase::Idle { until } | Phase::Linger { until, .. } if *until <= now => Flow::Close,
            Phase::Head(Started { read_until, .. }) if *read_until <= now => self.time_out(cx),
            Phase::Body(receiving) if receiving.started.read_until <= now => self.time_out(cx),
            _ => Flow::Open,
        }
    }

    /// A started request stalled: answer 504 (or 408) and close.
    fn time_out(&mut self, cx: &mut Cx<'_>) -> Flow {
        let (head, log_fields, at) = match std::mem::replace(&mut self.phase, Phase::Closing) {
            Phase::Body(receiving) => {
                let Receiving {
                    head,
                    log_fields,
                    started,
                    ..
                } = *receiving;
                (Some(head), log_fields, started.at)
            }
            Phase::Head(started) => (None, Fields::default(), started.at),
            // Only called from `on_deadline` for Head or Body; nothing to answer otherwise.
            _ => return Flow::Close,
        };
        let status = cx.shared.config.timeout_status;
        let response = Response::line(status, "request timed out");
        self.respond(head.as_ref(), log_fields, response, true, at, cx);
        self.drive(cx)
    }

    /// The answer to this connection's write arrived.
    pub(super) fn on_complete(&mut self, response: Result<Response, ()>, cx: &mut Cx<'_>) -> Flow {
        if !matches!(self.phase, Phase::Working { .. }) {
            // Only a connection in `Working` waits for an answer (this one was already
            // answered with a 500 when its handler panicked).
            return Flow::Open;
        }
        let Phase::Working { started, request } =
            std::mem::replace(&mut self.phase, Phase::Closing)
        else {
            unreachable!("matched Working just above");
        };
        let (head, log_fields) = *request;
        match response {
            Ok(response) => self.respond(Some(&head), log_fields, response, false, started, cx),
            Err(()) => {
                // The thread committing the write (or the handler) panicked before answering.
                let response = Response::internal_error("the write's answer was lost to a panic");
                self.respond(Some(&head), log_fields, response, true, started, cx);
            }
        }
        self.drive(cx)
    }

    /// Goes as far as the bytes at hand, the socket and the output queue allow.
    fn drive(&mut self, cx: &mut Cx<'_>) -> Flow {
        loop {
            if self.flush(cx).is_err() {
                return Flow::Close;
            }
            match self.phase {
                Phase::Closing if self.out.is_empty() => {
                    if self.peer_closed
                        || (self.close_requested && !self.readable && self.start == self.end)
                    {
                        // Nothing unread on either side: a plain close sends FIN, not
                        // a reset, so there is nothing to linger for.
                        return Flow::Close;
                    }
                    if self.stream.shutdown_write().is_err() {
                        return Flow::Close;
                    }
                    self.phase = Phase::Linger {
                        until: cx.now + LINGER_TIME,
                        drained: 0,
                    };
                    continue;
                }
                Phase::Closing | Phase::Working { .. } => return Flow::Open,
                Phase::Linger { .. } => return self.drain(cx),
                Phase::Idle { .. } | Phase::Head(_) | Phase::Body(_) => {}
            }
            if self.out.len() > OUTPUT_LIMIT {
                // Backpressure: take no more requests until the peer reads.
                return Flow::Open;
            }
            match self.advance(cx) {
                Step::Progressed => continue,
                Step::Close => return Flow::Close,
                Step::NeedInput if self.readable && !self.peer_closed => match self.fill(cx) {
                    Ok(()) => continue,
                    Err(ReadFailure::Blocked) => {
                        self.release_idle_buffers(cx.buffers);
                        return Flow::Open;
                    }
                    Err(ReadFailure::Broken) => return Flow::Close,
                },
                Step::NeedInput => {
                    self.release_idle_buffers(cx.buffers);
                    return Flow::Open;
                }
            }
        }
    }

    /// One move of the request state machine on the bytes already received.
    fn advance(&mut self, cx: &mut Cx<'_>) -> Step {
        match &self.phase {
            Phase::Idle { .. } => {
                let parsed = match &self.buf[self.start..self.end] {
                    // Nothing received yet (the usual case after an answer).
                    [] => Ok(Progress::NeedMore),
                    pending => self.head_parser.parse(pending, &cx.shared.config.limits),
                };
                if let Ok(Progress::NeedMore) = parsed
                    && let Some(empty) = self.head_parser.take_empty_lines()
                {
                    // RFC 9112 §2.2: empty lines before a request-line (a CRLF some clients
                    // send after a body) are not a request: no clock, no answer, no 400 at
                    // end of stream. The parser keeps their count toward `max_line` (414);
                    // their bytes go, so an idle connection still lends its buffer back.
                    self.consume(empty);
                    if self.peer_closed || cx.shared.shutdown.load(Ordering::SeqCst) {
                        if self.out.is_empty() {
                            return Step::Close;
                        }
                        self.phase = Phase::Closing;
                        return Step::Progressed;
                    }
                    return Step::NeedInput;
                }
                let started = Started::new(cx.now, cx.shared);
                self.phase = Phase::Head(started);
                self.take_head(parsed, started, cx)
            }
            Phase::Head(started) => {
                let started = *started;
                let pending = &self.buf[self.start..self.end];
                let parsed = self.head_parser.parse(pending, &cx.shared.config.limits);
                self.take_head(parsed, started, cx)
            }
            Phase::Body(_) => self.receive_body(cx),
            Phase::Working { .. } | Phase::Closing | Phase::Linger { .. } => Step::NeedInput,
        }
    }

    /// Acts on what the head parser made of the bytes of a started request.
    fn take_head(
        &mut self,
        parsed: Result<Progress<RequestHead>, ParseError>,
        started: Started,
        cx: &mut Cx<'_>,
    ) -> Step {
        match parsed {
            Ok(Progress::Done { value, consumed }) => {
                let log_fields = if cx.log.enabled() {
                    Fields::scan(&self.buf[self.start..][..consumed])
                } else {
                    Fields::default()
                };
                self.consume(consumed);
                self.begin_body(value, log_fields, started, cx)
            }
            Ok(Progress::NeedMore) if self.peer_closed => {
                self.cut_short(None, Fields::default(), started.at, cx);
                Step::Progressed
            }
            Ok(Progress::NeedMore) => Step::NeedInput,
            Err(error) => {
                let response = Response::line(error.status(), error.to_string());
                self.respond(None, Fields::default(), response, true, started.at, cx);
                Step::Progressed
            }
        }
    }

    /// The head is complete: answer what it alone decides, send `100 Continue`, or
    /// start receiving the body.
    fn begin_body(
        &mut self,
        head: RequestHead,
        log_fields: Fields,
        started: Started,
        cx: &mut Cx<'_>,
    ) -> Step {
        let expects_body = match head.framing {
            Framing::None | Framing::Length(0) => false,
            Framing::Length(_) | Framing::Chunked => true,
        };
        let refusal = cx.shared.handler.precheck(&head);
        if let Some(response) = &refusal {
            if !expects_body {
                self.respond(
                    Some(&head),
                    log_fields,
                    response.clone(),
                    false,
                    started.at,
                    cx,
                );
                return Step::Progressed;
            }
            if head.expect_continue && self.start == self.end {
                // RFC 9110 §10.1.1: answer without reading the body, then close,
                // since the client may or may not send it.
                self.respond(
                    Some(&head),
                    log_fields,
                    response.clone(),
                    true,
                    started.at,
                    cx,
                );
                return Step::Progressed;
            }
        } else if !expects_body {
            self.run(head, log_fields, Vec::new(), started.at, cx);
            return Step::Progressed;
        } else if head.expect_continue && head.version == Version::Http11 && self.start == self.end
        {
            let from = self.out.bytes.len();
            response::encode_continue(cx.date.now(), &mut self.out.bytes);
            self.out.mark_bytes(from);
        }
        let decoder = BodyDecoder::new(head.framing, &cx.shared.config.limits);
        self.phase = Phase::Body(Box::new(Receiving {
            started,
            head,
            log_fields,
            decoder,
            body: Vec::new(),
            refusal,
        }));
        Step::Progressed
    }

    /// Takes body bytes from the buffer; when the body is complete, runs the request.
    fn receive_body(&mut self, cx: &mut Cx<'_>) -> Step {
        let Phase::Body(receiving) = &mut self.phase else {
            return Step::NeedInput;
        };
        // RFC 9112 §6.3: the body ends where its framing says, even one only read
        // to be dropped; left in the buffer it would be parsed as the next request.
        let pending = &self.buf[self.start..self.end];
        let ended = match receiving.decoder.decode_into(pending, &mut receiving.body) {
            Ok((used, true)) => Ok(used),
            Ok(_) if self.peer_closed => Err(None),
            Ok((used, false)) => {
                self.consume(used);
                return Step::NeedInput;
            }
            Err(error) => Err(Some(error)),
        };
        let Phase::Body(receiving) = std::mem::replace(&mut self.phase, Phase::Closing) else {
            unreachable!("matched Body just above");
        };
        let Receiving {
            head,
            log_fields,
            started,
            body,
            refusal,
            ..
        } = *receiving;
        match ended {
            Ok(used) => {
                self.consume(used);
                match refusal {
                    // The body was only read to keep the framing; the answer was known.
                    Some(response) => {
                        self.respond(Some(&head), log_fields, response, false, started.at, cx)
                    }
                    None => self.run(head, log_fields, body, started.at, cx),
                }
            }
            Err(None) => self.cut_short(Some(&head), log_fields, started.at, cx),
            Err(Some(error)) => {
                let response = Response::line(error.status(), error.to_string());
                self.respond(Some(&head), log_fields, response, true, started.at, cx);
            }
        }
        Step::Progressed
    }

    /// Runs a complete request whose `precheck` passed. A write is handed to the store
    /// (`Handler::submit_deferred`) and answered when its outcome comes back through the
    /// mailbox: the loop commits the turn's writes before it polls again (`cx.deferred`).
    /// Everything else is answered here, since reading a snapshot never blocks.
    fn run(
        &mut self,
        head: RequestHead,
        log_fields: Fields,
        body: Vec<u8>,
        started: Instant,
        cx: &mut Cx<'_>,
    ) {
        let handler = &cx.shared.handler;
        let (mailbox, slot, id) = (cx.mailbox, self.slot, self.id);
        let deferred = &mut *cx.deferred;
        let answered = catch_unwind(AssertUnwindSafe(|| match handler.handle(&head, &body) {
            Action::Answer(response) => Some(Ok(response)),
            Action::Submit(change) => {
                let reply = Reply::new(Arc::clone(mailbox), slot, id);
                mailbox::answered_inline(slot, id, || {
                    let done = Box::new(move |response| reply.send(response));
                    handler.submit_deferred(change, done, deferred);
                })
            }
        }));
        match answered {
            Ok(Some(Ok(response))) => {
                self.respond(Some(&head), log_fields, response, false, started, cx)
            }
            Ok(Some(Err(()))) => {
                let response = Response::internal_error("the write's answer was lost to a panic");
                self.respond(Some(&head), log_fields, response, true, started, cx);
            }
            Ok(None) => {
                self.phase = Phase::Working {
                    started,
                    request: Box::new((head, log_fields)),
                }
            }
            Err(_) => {
                // The panic message is already on stderr (the default hook). A `Reply` dropped
                // by the panic still delivers, and `on_complete` ignores it.
                let response = Response::internal_error("handler panicked");
                self.respond(Some(&head), log_fields, response, true, started, cx);
            }
        }
    }

    /// The peer closed its side in the middle of a request.
    fn cut_short(
        &mut self,
        head: Option<&RequestHead>,
        log_fields: Fields,
        started: Instant,
        cx: &mut Cx<'_>,
    ) {
        let response = Response::line(
            Status::BadRequest,
            "connection closed before the request was complete",
        );
        self.respond(head, log_fields, response, true, started, cx);
    }

    /// Queues `response`, logs it, and moves to `Idle` or, if the request, an
    /// error or a shutdown says so, to `Closing`. `log_fields` is what the access
    /// log takes from `head`'s field lines; without a head the log scans the
    /// unparsed bytes instead.
    fn respond(
        &mut self,
        head: Option<&RequestHead>,
        log_fields: Fields,
        response: Response,
        force_close: bool,
        started: Instant,
        cx: &mut Cx<'_>,
    ) {
        let asked_to_close = match head {
            None => true,
            Some(head) => match head.version {
                Version::Http11 => head.connection_close,
                Version::Http10 => head.connection_close || !head.connection_keep_alive,
            },
        };
        let close = force_close || asked_to_close || cx.shared.shutdown.load(Ordering::SeqCst);
        self.close_requested = asked_to_close && !force_close;
        let persistence = match (close, head.map(|h| h.version)) {
            (true, _) => Persistence::Close,
            (false, Some(Version::Http10)) => Persistence::KeepAliveExplicit,
            (false, _) => Persistence::KeepAliveDefault,
        };
        let bytes = self.output_bytes(cx.buffers);
        let from = bytes.len();
        response::encode_head(&response, persistence, cx.date.now(), bytes);
        // RFC 9110 §9.3.2: HEAD gets the same fields as GET and no content.
        let is_head = head.is_some_and(|h| h.method == Method::Head);
        let sent = if is_head {
            0
        } else {
            response.body.as_bytes().len()
        };
        match &response.body {
            _ if is_head => self.out.mark_bytes(from),
            Body::None => self.out.mark_bytes(from),
            Body::Line(text) => {
                self.out.bytes.extend_from_slice(text.as_bytes());
                self.out.mark_bytes(from);
            }
            Body::Words(words) => {
                self.out.mark_bytes(from);
                self.out.push_shared(Arc::clone(words));
            }
        }
        if cx.log.enabled() {
            // A head that did not parse whole is still in the buffer.
            let unparsed = &self.buf[self.start..self.end];
            let (request, fields) = match head {
                Some(head) => (RequestLine::Parsed(head), log_fields),
                None => (RequestLine::of_unparsed(unparsed), Fields::scan(unparsed)),
            };
            cx.log.record(
                &Entry {
                    peer: self.peer,
                    request,
                    fields: &fields,
                    response: &response,
                    bytes: sent,
                    duration: started.elapsed(),
                },
                cx.date.now(),
            );
        }
        self.phase = if close {
            Phase::Closing
        } else {
            Phase::Idle {
                until: cx.now + cx.shared.config.idle_timeout,
            }
        };
    }

    /// Writes queued output until it is all sent or the socket is full.
    fn flush(&mut self, cx: &mut Cx<'_>) -> io::Result<()> {
        let mut progressed = false;
        while !self.out.is_empty() {
            match self.out.write_to(&mut self.stream) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => progressed = true,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        if self.out.is_empty() {
            self.write_deadline = None;
        } else if progressed || self.write_deadline.is_none() {
            // The write timeout equals the read timeout, counted from the last progress.
            self.write_deadline = Some(cx.now + cx.shared.config.read_timeout);
        }
        Ok(())
    }

    /// One read into the buffer. End of stream is recorded, not a failure.
    fn fill(&mut self, cx: &mut Cx<'_>) -> Result<(), ReadFailure> {
        if self.buf.is_empty() {
            self.buf = cx.buffers.read_buffer();
        } else if self.buf.len() - self.end < MIN_READ {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            if self.buf.len() - self.end < MIN_READ {
                // Bounded: the parser rejects heads over the limits, and bodies
                // are bounded by --max-body before they are read.
                self.buf.resize(self.buf.len() * 2, 0);
            }
        }
        let room = self.buf.len() - self.end;
        loop {
            match self.stream.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.peer_closed = true;
                    self.readable = false;
                    return Ok(());
                }
                Ok(n) => {
                    self.end += n;
                    // A short read emptied the socket; the next bytes bring a new
                    // event. Unless the peer hung up: then read on, to see the end.
                    if n < room && !self.hung_up {
                        self.readable = false;
                    }
                    let started = match &mut self.phase {
                        Phase::Head(started) => Some(started),
                        Phase::Body(receiving) => Some(&mut receiving.started),
                        _ => None,
                    };
                    if let Some(started) = started {
                        started.read_until =
                            started.deadline.min(cx.now + cx.shared.config.read_timeout);
                    }
                    return Ok(());
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    self.readable = false;
                    return Err(ReadFailure::Blocked);
                }
                Err(_) => return Err(ReadFailure::Broken),
            }
        }
    }

    /// Lingering close: drop what the peer sends until it closes, or enough
    /// time or bytes have gone by.
    fn drain(&mut self, cx: &mut Cx<'_>) -> Flow {
        let Phase::Linger { drained, .. } = &mut self.phase else {
            return Flow::Open;
        };
        loop {
            match self.stream.read(&mut cx.buffers.scratch) {
                Ok(0) => return Flow::Close,
                Ok(n) => {
                    *drained += n;
                    if *drained >= LINGER_BYTES {
                        return Flow::Close;
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    self.readable = false;
                    return Flow::Open;
                }
                Err(_) => return Flow::Close,
            }
        }
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// A connection waiting for its next request keeps no buffers: they go
    /// back to the loop's spares.
    fn release_idle_buffers(&mut self, buffers: &mut Buffers) {
        if matches!(self.phase, Phase::Idle { .. }) && self.start == self.end {
            let read = std::mem::take(&mut self.buf);
            let output = if self.out.is_empty() {
                std::mem::take(&mut self.out.bytes)
            } else {
                Vec::new()
            };
            buffers.give_back(read, output);
        }
    }

    /// A closed connection's buffers go back to the loop's spares.
    pub(super) fn recycle(mut self, buffers: &mut Buffers) {
        let mut output = std::mem::take(&mut self.out.bytes);
        output.clear();
        buffers.give_back(std::mem::take(&mut self.buf), output);
    }

    /// The output buffer, taken from the loop's spares if the connection has none.
    fn output_bytes(&mut self, buffers: &mut Buffers) -> &mut Vec<u8> {
        if self.out.bytes.capacity() == 0 {
            self.out.bytes = buffers.output_buffer();
        }
        &mut self.out.bytes
    }
}

/// Why a read gave no bytes.
enum ReadFailure {
    /// Nothing to read now; wait for readiness.
    Blocked,
    /// The socket failed (reset, etc.); nothing can be sent.
    Broken,
}

/// Every phase, driven in memory (`server::memory`) by a scripted peer: bytes
/// in chosen pieces, `WouldBlock`, short and failed writes, end of stream,
/// resets and deadlines on a virtual clock.
#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use crate::auth::Credentials;
    use crate::server::Config;
    use crate::server::memory::{Exchange, Peer, Take, exchange};
    use crate::store::{Change, Done, FileStore, Snapshot, Store, StoreError, SyncMode};

    use super::{Buffers, FIRST_READ, LINGER_TIME, SPARE_BUFFERS, SPARE_OUTPUT};

    const READ: Duration = Duration::from_secs(1);
    const REQUEST: Duration = Duration::from_secs(3);
    const IDLE: Duration = Duration::from_secs(5);
    const POST: &[u8] = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello";
    const OPTIONS: &[u8] = b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n";

    fn config() -> Config {
        let mut config = Config::new(([127, 0, 0, 1], 0).into(), Credentials::lab_default());
        (config.read_timeout, config.request_timeout) = (READ, REQUEST);
        config.idle_timeout = IDLE;
        config
    }

    /// A store on a temporary file holding `words`, committed by its own thread.
    fn file_store(words: &str) -> (tempfile::TempDir, Arc<FileStore>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("words.txt");
        std::fs::write(&path, words).unwrap();
        let (store, _) = FileStore::open(&path, SyncMode::Always).unwrap();
        (dir, Arc::new(store))
    }

    fn run_with(peer: &[Peer], takes: &[Take]) -> (Exchange, String) {
        let (dir, store) = file_store("alpha\n");
        let done = exchange(&config(), store, peer, takes);
        let words = std::fs::read_to_string(dir.path().join("words.txt")).unwrap();
        (done, words)
    }

    fn run(peer: &[Peer]) -> Exchange {
        run_with(peer, &[]).0
    }

    fn send(bytes: &[u8]) -> Peer {
        Peer::Send(bytes.to_vec())
    }

    /// `bytes` one byte a read, with a `WouldBlock` between.
    fn trickle(bytes: &[u8]) -> Vec<Peer> {
        bytes
            .iter()
            .flat_map(|&b| [Peer::Send(vec![b]), Peer::Pause])
            .collect()
    }

    /// The output without its `Date` lines, which change by the second.
    fn text(done: &Exchange) -> String {
        String::from_utf8_lossy(&done.written)
            .split_inclusive("\r\n")
            .filter(|line| !line.starts_with("Date: "))
            .collect()
    }

    #[test]
    fn a_silent_new_connection_closes_quietly_after_the_read_timeout() {
        let done = run(&[]);
        assert_eq!((done.written.len(), done.elapsed), (0, READ));
        assert!(!done.write_shut);
    }

    #[test]
    fn a_head_and_body_in_single_bytes_are_answered_as_if_sent_whole() {
        let whole = run(&[send(POST), send(OPTIONS)]);
        let (pieces, words) = run_with(&[trickle(POST), trickle(OPTIONS)].concat(), &[]);
        assert_eq!(whole.statuses(), [200, 204]);
        assert_eq!(text(&pieces), text(&whole));
        assert_eq!(words, "alpha\nhello\n");
    }

    #[test]
    fn a_stalled_head_gets_504_after_the_read_timeout_then_a_lingering_close() {
        let done = run(&[send(b"GET / HTTP/1.1\r\nHo")]);
        assert_eq!(done.statuses(), [504]);
        assert!(
            text(&done).contains("Connection: close\r\n"),
            "{}",
            text(&done)
        );
        assert!(done.write_shut);
        assert_eq!(done.elapsed, READ + LINGER_TIME);
    }

    #[test]
    fn a_head_trickled_inside_the_read_timeout_gets_504_at_the_whole_request_deadline() {
        let head = b"GET / HTTP/1.1\r\nHost: a\r\nX: aaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
        let step = Duration::from_millis(900);
        let peer: Vec<Peer> = head
            .iter()
            .flat_map(|&b| [Peer::Send(vec![b]), Peer::Wait(step)])
            .collect();
        let done = run(&peer);
        assert_eq!(done.statuses(), [504]);
        assert!(text(&done).ends_with("request timed out\n"));
        assert_eq!(done.elapsed, REQUEST + LINGER_TIME);
    }

    #[test]
    fn end_of_stream_inside_a_head_or_a_body_gets_400() {
        for cut in [&POST[..20], &POST[..POST.len() - 2]] {
            let done = run(&[send(cut), Peer::HalfClose]);
            assert_eq!(done.statuses(), [400], "{}", text(&done));
            assert!(text(&done).ends_with("connection closed before the request was complete\n"));
            // The peer closed first: nothing to linger for.
            assert!(!done.write_shut);
        }
    }

    #[test]
    fn a_malformed_head_gets_its_status_and_later_bytes_are_drained_not_parsed() {
        let bad = b"GET / HTTP/1.1\r\nHost: a\r\nNo Colon\r\n\r\n";
        let done = run(&[send(bad), send(OPTIONS), send(OPTIONS)]);
        assert_eq!(done.statuses(), [400]);
        assert!(done.write_shut);
        assert_eq!(done.elapsed, LINGER_TIME);
    }

    #[test]
    fn a_stalled_body_gets_504_and_nothing_is_written_to_the_store() {
        let (done, words) = run_with(&[send(&POST[..POST.len() - 1])], &[]);
        assert_eq!(done.statuses(), [504]);
        assert_eq!(words, "alpha\n");
    }

    #[test]
    fn a_chunked_body_in_pieces_is_decoded_whole_and_a_bad_one_gets_400() {
        let chunked = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhe\r\n3;x=y\r\nllo\r\n0\r\n\r\n";
        let (done, words) = run_with(&trickle(chunked), &[]);
        assert_eq!(
            (done.statuses(), words.as_str()),
            (vec![200], "alpha\nhello\n")
        );
        let bad = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n";
        let (done, words) = run_with(&[send(bad)], &[]);
        assert_eq!((done.statuses(), words.as_str()), (vec![400], "alpha\n"));
    }

    #[test]
    fn a_refused_request_s_body_is_read_and_dropped_and_the_next_request_is_served() {
        let patch = b"PATCH / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nGET / HTTP/";
        let (done, words) = run_with(&[send(patch), Peer::Pause, send(OPTIONS)], &[]);
        assert_eq!(done.statuses(), [501, 204]);
        assert_eq!(words, "alpha\n");
    }

    #[test]
    fn expect_100_continue_gets_100_before_the_body_and_a_refusal_without_it_closes() {
        let head =
            b"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n";
        let (done, words) = run_with(&[send(head), Peer::Pause, send(b"hello")], &[]);
        assert_eq!(
            (done.statuses(), words.as_str()),
            (vec![100, 200], "alpha\nhello\n")
        );
        let get = b"GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n";
        let done = run(&[send(get)]);
        assert_eq!(done.statuses(), [401]);
        assert!(text(&done).contains("Connection: close\r\n"));
    }

    #[test]
    fn a_write_waits_for_the_committer_and_pipelined_answers_keep_their_order() {
        let get = format!(
            "GET / HTTP/1.1\r\nHost: a\r\nAuthorization: {}\r\n\r\n",
            Credentials::lab_default().header_value()
        );
        let done = run(&[send(&[POST, get.as_bytes(), OPTIONS].concat())]);
        assert_eq!(done.statuses(), [200, 200, 204]);
        assert!(
            text(&done).contains("\r\n\r\nalpha\nhello\n"),
            "{}",
            text(&done)
        );
    }

    /// Drops every write's completion unsent, as a panicking committer would.
    struct LosingStore;

    impl Store for LosingStore {
        fn snapshot(&self) -> Result<Snapshot, StoreError> {
            Ok(Arc::new(Vec::new()))
        }
        fn submit(&self, _: Change, done: Done) {
            drop(done);
        }
    }

    #[test]
    fn a_write_whose_answer_is_lost_gets_500_and_close() {
        let done = exchange(
            &config(),
            Arc::new(LosingStore),
            &[send(POST), send(OPTIONS)],
            &[],
        );
        assert_eq!(done.statuses(), [500]);
        assert!(text(&done).contains("Connection: close\r\n"));
        assert!(
            done.log
                .contains("(the write's answer was lost to a panic)"),
            "{}",
            done.log
        );
    }

    #[test]
    fn short_and_blocked_writes_send_the_same_bytes_in_the_same_order() {
        let peer = [send(POST), send(OPTIONS), send(POST)];
        let whole = run(&peer);
        let takes: Vec<Take> = (0..400).map(|i| Take::Up(i % 3)).collect();
        let (pieces, _) = run_with(&peer, &takes);
        assert_eq!(whole.statuses(), [200, 204, 200]);
        assert_eq!(text(&pieces), text(&whole));
    }

    #[test]
    fn a_peer_that_never_reads_stops_being_read_and_is_dropped_at_the_write_timeout() {
        let flood = OPTIONS.repeat(2000);
        let (done, _) = run_with(&[send(&flood)], &[Take::Never]);
        assert!(done.written.is_empty());
        let answered = done.log.lines().count();
        assert!(
            (100..2000).contains(&answered),
            "answered {answered} of 2000"
        );
        assert_eq!(done.elapsed, READ);
    }

    #[test]
    fn a_failed_write_or_read_closes_at_once_without_more() {
        let (done, _) = run_with(&[send(OPTIONS), send(OPTIONS)], &[Take::Fail]);
        assert_eq!((done.written.len(), done.elapsed), (0, Duration::ZERO));
        let done = run(&[send(&POST[..30]), Peer::Reset]);
        assert_eq!((done.written.len(), done.elapsed), (0, Duration::ZERO));
    }

    #[test]
    fn a_stray_crlf_after_a_request_starts_no_clock_and_draws_no_answer() {
        // Issue 13 item 1: this used to draw a 504 one read timeout later, or a
        // 400 on a half-close.
        let post = [POST, b"\r\n"].concat();
        let done = run(&[send(&post)]);
        assert_eq!((done.statuses(), done.elapsed), (vec![200], IDLE));
        let done = run(&[send(&post), Peer::HalfClose]);
        assert_eq!(done.statuses(), [200]);
        let lf_and_cr = run(&[send(&[POST, b"\n\r\n\r"].concat()), Peer::HalfClose]);
        assert_eq!(lf_and_cr.statuses(), [200]);
        // Split between CR and LF, then a request: still one request.
        let split = [
            send(&[POST, b"\r"].concat()),
            Peer::Pause,
            send(&[b"\n", OPTIONS].concat()),
        ];
        assert_eq!(run(&split).statuses(), [200, 204]);
        // A CR that is not an empty line starts a request, which is malformed.
        assert_eq!(
            run(&[send(&[POST, b"\rX"].concat())]).statuses(),
            [200, 400]
        );
    }

    #[test]
    fn an_idle_connection_holding_only_empty_lines_gives_its_read_buffer_back() {
        // Review finding (note3.md): a stray CRLF kept the read buffer of an idle
        // connection, which holds none otherwise.
        let plain = run(&[send(POST)]);
        assert_eq!((plain.statuses(), plain.spare_reads), (vec![200], 1));
        for empty in [&b"\r\n"[..], b"\n\r\n\n"] {
            let done = run(&[send(&[POST, empty].concat())]);
            assert_eq!((done.statuses(), done.elapsed), (vec![200], IDLE));
            assert_eq!(done.spare_reads, 1, "after {empty:?}");
            // The same in a read of their own.
            let done = run(&[send(POST), Peer::Pause, send(empty)]);
            assert_eq!((done.statuses(), done.spare_reads), (vec![200], 1));
        }
    }

    #[test]
    fn empty_lines_over_many_reads_still_count_toward_the_request_line_limit() {
        // 33 CRLFs are 66 bytes, over a max_line of 64: 414, as in one read.
        let mut config = config();
        config.limits.max_line = 64;
        let mut peer = vec![send(OPTIONS)];
        for _ in 0..33 {
            peer.extend([send(b"\r\n"), Peer::Pause]);
        }
        let (_dir, store) = file_store("alpha\n");
        let done = exchange(&config, store.clone(), &peer, &[]);
        assert_eq!(done.statuses(), [204, 414]);
        // One fewer is still only empty lines: no answer, closed at the idle timeout.
        peer.truncate(peer.len() - 2);
        let done = exchange(&config, store, &peer, &[]);
        assert_eq!((done.statuses(), done.elapsed), (vec![204], IDLE));
    }

    #[test]
    fn a_kept_alive_connection_closes_quietly_after_the_idle_timeout() {
        let done = run(&[send(OPTIONS)]);
        assert_eq!(done.statuses(), [204]);
        assert_eq!(done.elapsed, IDLE);
        assert!(!done.write_shut);
    }

    #[test]
    fn shutdown_closes_a_connection_whose_head_is_unfinished_at_once() {
        // Issue 14 item 3: this used to hold the shutdown for the read timeout, then 504.
        let done = run(&[send(b"GET / HTTP/1.1\r\nHo"), Peer::Shutdown]);
        assert_eq!((done.written.len(), done.elapsed), (0, LINGER_TIME));
        let done = run(&[send(&[OPTIONS, b"GET / HT"].concat()), Peer::Shutdown]);
        assert_eq!((done.statuses(), done.elapsed), (vec![204], LINGER_TIME));
        assert!(done.write_shut);
    }

    #[test]
    fn connection_close_with_nothing_unread_closes_without_lingering() {
        let done = run(&[send(
            b"OPTIONS * HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        )]);
        assert_eq!((done.statuses(), done.write_shut), (vec![204], false));
        assert_eq!(done.elapsed, Duration::ZERO);
    }

    #[test]
    fn shutdown_closes_an_idle_connection_and_lets_a_started_body_finish_with_close() {
        let done = run(&[send(OPTIONS), Peer::Shutdown]);
        assert_eq!((done.statuses(), done.elapsed), (vec![204], Duration::ZERO));
        let (done, words) = run_with(
            &[send(&POST[..POST.len() - 3]), Peer::Shutdown, send(b"llo")],
            &[],
        );
        assert_eq!(
            (done.statuses(), words.as_str()),
            (vec![200], "alpha\nhello\n")
        );
        assert!(text(&done).contains("Connection: close\r\n"));
    }

    #[test]
    fn a_loop_keeps_a_bounded_number_of_first_size_spares() {
        let mut buffers = Buffers::default();
        let read = buffers.read_buffer();
        assert_eq!(read.len(), FIRST_READ);
        let mut output = buffers.output_buffer();
        output.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
        output.clear();
        let kept = output.as_ptr();
        buffers.give_back(read, output);
        // The same allocation comes back with the next request.
        let again = buffers.output_buffer();
        assert_eq!(again.as_ptr(), kept);
        drop(again);
        // A read buffer that grew, and an output buffer that grew past the
        // bound, are dropped rather than kept.
        buffers.give_back(
            vec![0; 2 * FIRST_READ],
            Vec::with_capacity(SPARE_OUTPUT + 1),
        );
        assert_eq!((buffers.reads.len(), buffers.outputs.len()), (1, 0));
        for _ in 0..3 * SPARE_BUFFERS {
            buffers.give_back(vec![0; FIRST_READ], Vec::with_capacity(64));
        }
        assert_eq!(
            (buffers.reads.len(), buffers.outputs.len()),
            (SPARE_BUFFERS, SPARE_BUFFERS)
        );
    }

    /// Every open connection, idle ones included, holds a slot of its loop's
    /// `Vec<Option<Connection>>`, so the struct's size is memory per idle
    /// connection; what only a request in progress needs (the access log's
    /// fields, a body, a head) lives in its boxed phase.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn an_idle_connection_slot_stays_small() {
        // 296 bytes here; 488 with the log fields and the tracer inline.
        let size = std::mem::size_of::<Option<super::Connection>>();
        assert!(size <= 320, "a connection's slot grew to {size} bytes");
    }
}
