//! One connection as a state machine, driven by its event loop: read requests,
//! answer them in order, and decide when to close.
//!
//! Here: the phases of a connection (waiting for a request, reading its head and
//! body, waiting for a write's answer, closing, lingering), the read, whole-request, idle
//! and write deadlines each phase implies, `100 Continue`, keep-alive or close
//! (this module alone decides), the output queue and its backpressure, lingering
//! close, the access log lines.
//! Beside it: `socket`, the TCP edge (the one file here that names a stream);
//! `transfer`, reading, writing and lingering through the `Transport`; `buffers`,
//! what the loop lends. Its cases, driven in memory, are in `conn/tests.rs`.
//! Elsewhere: head and chunk syntax (`http`), what a request means (`handler`),
//! readiness, timers and accepting (`server::event_loop`), how a write's answer comes
//! back (`server::mailbox`).
//!
//! Nothing here blocks: every read and write is non-blocking, and a step that
//! cannot go on returns to the loop, which calls back on readiness, on a
//! deadline or when a write's answer arrives.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::handler::Action;
use crate::http::response::{self, Body, Persistence, Response};
use crate::http::{
    BodyDecoder, Framing, HeadParser, Method, ParseError, Progress, RequestHead, Status, Version,
};
use crate::store::Deferred;

mod buffers;
mod socket;
mod transfer;

pub(super) use buffers::Buffers;
pub(super) use socket::Socket;

use transfer::ReadFailure;

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
/// half-close. The socket in the server (`conn::Socket`), a scripted
/// stream in the tests and the fuzzer (`server::memory`).
pub(super) trait Transport: Read + Write {
    /// Shuts the write side (the peer reads end of stream); reading goes on.
    fn shutdown_write(&mut self) -> io::Result<()>;
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
}

#[cfg(test)]
mod tests;
