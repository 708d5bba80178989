//! The real connection state machine over an in-memory stream: for the unit
//! tests, the conformance suite and the fuzzer.
//!
//! Here: `Peer` (what a scripted peer does, step by step), `Take` (how it takes
//! what the server writes), and `exchange`, which drives one
//! `server::conn::Connection` through a script as an event loop would:
//! readiness after each step of the peer, the store's answers through a real
//! mailbox, and deadlines on a virtual clock that jumps to the next deadline
//! whenever the peer is silent (so a read timeout costs no real time).
//! Elsewhere: the state machine (`server::conn`), the real loop over sockets
//! (`server::event_loop`).

use std::collections::VecDeque;
use std::io::{self, IoSlice, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mio::{Events, Poll, Token, Waker};

use super::access_log::AccessLog;
use super::conn::{Buffers, Connection, Cx, Flow, Transport};
use super::mailbox::Mailbox;
use super::output::DateCache;
use super::{Config, Shared};
use crate::handler::Handler;
use crate::store::{Deferred, Store};

/// One step of the scripted peer, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    /// Bytes arrive; reads return them, as many at a time as the reader asks.
    Send(Vec<u8>),
    /// A read finds nothing (`WouldBlock`); readiness comes again at once.
    Pause,
    /// Nothing arrives for this long; deadlines that pass meanwhile fire.
    Wait(Duration),
    /// The peer shuts its write side: reads return end of stream from now on.
    HalfClose,
    /// The connection is reset: the next read fails.
    Reset,
    /// The server is told to shut down (a signal).
    Shutdown,
}

/// How the peer takes one `write` of the server's; past the end of the list,
/// every write is taken whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Take {
    /// At most this many bytes; 0 is `WouldBlock` (writable again at the next step).
    Up(usize),
    /// The write fails (a reset).
    Fail,
    /// This write and every later one blocks: the peer stopped reading.
    Never,
}

/// What the server did on the connection.
#[derive(Debug, Clone, Default)]
pub struct Exchange {
    /// Every byte the server wrote, in order.
    pub written: Vec<u8>,
    /// The server shut its write side (a lingering close) before closing.
    pub write_shut: bool,
    /// The access-log lines.
    pub log: String,
    /// Virtual time from the accept to the close.
    pub elapsed: Duration,
    /// Read buffers the loop's spares held just before the close (a connection
    /// that went idle had given its buffer back; one closing keeps it until then).
    pub spare_reads: usize,
}

impl Exchange {
    /// The status of each response written, in order (`100` included).
    pub fn statuses(&self) -> Vec<u16> {
        // A status line starts the output or follows a line end; no body
        // wordwire sends has a line that starts with `HTTP/`.
        let text = &self.written;
        (0..text.len())
            .filter(|&i| (i == 0 || text[i - 1] == b'\n') && text[i..].starts_with(b"HTTP/1."))
            .filter_map(|i| {
                std::str::from_utf8(text.get(i + 9..i + 12)?)
                    .ok()?
                    .parse()
                    .ok()
            })
            .collect()
    }
}

/// Most steps one exchange may take; more means the machine stopped making progress.
const MAX_STEPS: usize = 100_000;

/// Drives one connection, configured by `config` over `store`, through `peer`,
/// until the server closes it. Panics if the machine stops making progress or a
/// write handed to the store is never answered (a bug either way).
pub fn exchange(config: &Config, store: Arc<dyn Store>, peer: &[Peer], takes: &[Take]) -> Exchange {
    let handler = Arc::new(Handler::new(
        store,
        config.credentials.clone(),
        config.auth_all,
    ));
    let shared = Shared {
        config: config.clone(),
        handler,
        shutdown: Arc::new(AtomicBool::new(false)),
        active: AtomicUsize::new(1),
        loads: Box::new([AtomicUsize::new(1)]),
        loops_to_announce: AtomicUsize::new(1),
        trace: None,
        mailboxes: Mutex::new(Vec::new()),
        log: None,
    };
    let mut poll = Poll::new().expect("epoll_create for the in-memory mailbox");
    let waker = Waker::new(poll.registry(), Token(0)).expect("eventfd for the in-memory mailbox");
    let mailbox = Arc::new(Mailbox::new(waker));
    let stream = Scripted {
        peer: peer.iter().cloned().collect(),
        takes: takes.iter().copied().collect(),
        ..Scripted::default()
    };
    let peer_addr = SocketAddr::from(([127, 0, 0, 1], 40000));
    let begin = Instant::now();
    let mut driver = Driver {
        shared: &shared,
        mailbox: &mailbox,
        now: begin,
        date: DateCache::default(),
        log: AccessLog::new(config.access_log.then_some(config.log_format), None),
        buffers: Buffers::default(),
        deferred: Deferred::default(),
    };
    let mut conn = Connection::new(stream, peer_addr, 0, 0, begin, &shared);
    let mut flow = driver.step(|cx| conn.on_ready(true, false, cx));
    let mut completions = Vec::new();
    let mut events = Events::with_capacity(4);
    for _ in 0..MAX_STEPS {
        if flow == Flow::Close {
            let stream = conn.stream();
            return Exchange {
                written: std::mem::take(&mut stream.written),
                write_shut: stream.write_shut,
                log: driver.log.take(),
                elapsed: driver.now - begin,
                spare_reads: driver.buffers.spare_reads(),
            };
        }
        mailbox.collect(&mut completions);
        if let Some(done) = completions.pop() {
            // One connection has at most one write in flight.
            flow = driver.step(|cx| conn.on_complete(done.response, cx));
            continue;
        }
        let stream = conn.stream();
        if stream.write_blocked && stream.takes.front() != Some(&Take::Never) {
            stream.write_blocked = false;
            flow = driver.step(|cx| conn.on_ready(false, false, cx));
            continue;
        }
        match stream.peer.front().cloned() {
            Some(Peer::Pause) => {
                stream.peer.pop_front();
                flow = driver.step(|cx| conn.on_ready(true, false, cx));
            }
            Some(Peer::Wait(pause)) => {
                // Left in front while the deadlines fire, so reads meanwhile find nothing.
                let until = driver.now + pause;
                while flow == Flow::Open
                    && let Some(at) = conn.deadline().filter(|&at| at <= until)
                {
                    driver.now = driver.now.max(at);
                    flow = driver.step(|cx| conn.on_deadline(cx));
                }
                conn.stream().peer.pop_front();
                if flow == Flow::Open {
                    driver.now = until;
                    flow = driver.step(|cx| conn.on_ready(true, false, cx));
                }
            }
            Some(Peer::Shutdown) => {
                stream.peer.pop_front();
                shared.shutdown.store(true, Ordering::SeqCst);
                flow = driver.step(|cx| conn.on_shutdown(cx));
                if flow == Flow::Open {
                    flow = driver.step(|cx| conn.on_ready(true, false, cx));
                }
            }
            // The end of the peer's stream is an event of its own; bytes are not: they
            // arrived with the last event, and the connection holds back from them
            // (backpressure, or a write with the store) until something else happens.
            Some(Peer::HalfClose | Peer::Reset) if !stream.end_notified => {
                stream.end_notified = true;
                flow = driver.step(|cx| conn.on_ready(true, true, cx));
            }
            Some(Peer::Send(_) | Peer::HalfClose | Peer::Reset) | None => match conn.deadline() {
                Some(at) => {
                    driver.now = driver.now.max(at);
                    flow = driver.step(|cx| conn.on_deadline(cx));
                }
                // No deadline: a write is with the store (maybe on its own thread).
                None => {
                    if mailbox.sleep() {
                        poll.poll(&mut events, Some(Duration::from_secs(10)))
                            .expect("epoll_wait on the in-memory mailbox");
                        assert!(
                            !events.is_empty(),
                            "a write handed to the store was never answered"
                        );
                    }
                }
            },
        }
    }
    panic!("the connection made no progress in {MAX_STEPS} steps");
}

/// What the driver lends the connection at each step, as an event loop does.
struct Driver<'a> {
    shared: &'a Shared,
    mailbox: &'a Arc<Mailbox>,
    now: Instant,
    date: DateCache,
    log: AccessLog,
    buffers: Buffers,
    deferred: Deferred,
}

impl Driver<'_> {
    /// One event for the connection, then the commit a loop makes at the end of its turn.
    fn step(&mut self, action: impl FnOnce(&mut Cx<'_>) -> Flow) -> Flow {
        let flow = action(&mut Cx {
            shared: self.shared,
            now: self.now,
            date: &mut self.date,
            log: &mut self.log,
            mailbox: self.mailbox,
            buffers: &mut self.buffers,
            deferred: &mut self.deferred,
        });
        while self.deferred.is_pending() {
            self.shared.handler.commit_deferred(&mut self.deferred);
        }
        flow
    }
}

/// The scripted stream: reads come from `peer`, writes go to `written` as `takes` allow.
#[derive(Default)]
struct Scripted {
    peer: VecDeque<Peer>,
    takes: VecDeque<Take>,
    written: Vec<u8>,
    write_shut: bool,
    /// A write returned `WouldBlock`; the next step is a writable event.
    write_blocked: bool,
    /// The peer half-closed: reads return 0 from now on.
    eof: bool,
    /// The connection was told of the half-close or reset at the front.
    end_notified: bool,
}

impl Read for Scripted {
    /// Like a socket's buffer, one read takes every `Send` up to the next other step.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        while !self.eof {
            match self.peer.front_mut() {
                Some(Peer::Send(bytes)) if n < buf.len() => {
                    let take = (buf.len() - n).min(bytes.len());
                    buf[n..n + take].copy_from_slice(&bytes[..take]);
                    bytes.drain(..take);
                    n += take;
                    if bytes.is_empty() {
                        self.peer.pop_front();
                    }
                }
                // A full buffer, or the end of what arrived together.
                Some(Peer::Send(_)) => return Ok(n),
                _ if n > 0 => return Ok(n),
                Some(Peer::HalfClose) => {
                    self.peer.pop_front();
                    (self.eof, self.end_notified) = (true, false);
                }
                Some(Peer::Reset) => {
                    self.peer.pop_front();
                    self.end_notified = false;
                    return Err(io::ErrorKind::ConnectionReset.into());
                }
                // The driver takes these between steps.
                Some(Peer::Pause | Peer::Wait(_) | Peer::Shutdown) | None => {
                    return Err(io::ErrorKind::WouldBlock.into());
                }
            }
        }
        Ok(0)
    }
}

impl Write for Scripted {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, slices: &[IoSlice<'_>]) -> io::Result<usize> {
        let total: usize = slices.iter().map(|s| s.len()).sum();
        let limit = match self.takes.front().copied() {
            Some(Take::Never) => 0,
            Some(Take::Fail) => {
                self.takes.pop_front();
                return Err(io::ErrorKind::ConnectionReset.into());
            }
            Some(Take::Up(n)) => {
                self.takes.pop_front();
                n
            }
            None => total,
        };
        if limit == 0 && total > 0 {
            self.write_blocked = true;
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let mut left = limit.min(total);
        for slice in slices {
            let n = left.min(slice.len());
            self.written.extend_from_slice(&slice[..n]);
            left -= n;
        }
        Ok(limit.min(total))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Transport for Scripted {
    fn shutdown_write(&mut self) -> io::Result<()> {
        self.write_shut = true;
        Ok(())
    }
}
