//! One event-loop thread: readiness from `mio`, the connections it owns, their
//! deadlines, and accepting.
//!
//! Here: `poll` (its timeout is the next deadline), accepting from the shared
//! listener, the connection cap (503), keeping the loops level (a loop ahead of
//! the least loaded hands a new connection over), a slab of connections, the timer heap,
//! collecting the answers of writes from the loop's mailbox (before it sleeps, and when
//! its `mio::Waker` fires), committing the writes of its turn (`Store::commit_deferred`),
//! the access-log batch, yielding the core when busy, and this loop's part of a shutdown.
//! Elsewhere: what a connection does on each event (`server::conn`), the mailbox and when
//! it wakes the loop (`server::mailbox`), starting the loops and joining them (`server`).
//!
//! Timers: a min-heap of `(deadline, slot, id)` with lazy cancellation. Each
//! connection records the earliest entry it has in the heap (`armed`); a later
//! deadline pushes nothing (the early entry, when it fires, re-arms at the
//! connection's current deadline), an earlier one pushes a new entry and leaves
//! the old one stale. Stale entries are skipped when they surface, and the heap
//! is rebuilt when they outnumber the connections.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};

use super::access_log::{AccessLog, Entry, Fields, RequestLine};
use super::conn::{Buffers, Connection, Cx, Flow, Socket};
use super::mailbox::{Completion, Mailbox};
use super::output::DateCache;
use super::{ServeError, Shared, listener};
use crate::http::Status;
use crate::http::response::{self, Persistence, Response};
use crate::store::Deferred;

const LISTENER: Token = Token(usize::MAX - 1);
const WAKER: Token = Token(usize::MAX);
/// Longest sleep in `poll`: how soon a loop notices the shutdown flag set by a signal.
const SHUTDOWN_POLL: Duration = Duration::from_millis(100);
/// How long accepting pauses after the process ran out of descriptors or memory.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);
/// Refused (503) connections a loop lets linger at once; beyond this a flood
/// of refusals is answered and closed at once, so it cannot pin descriptors.
const MAX_REFUSED: usize = 256;
/// Connections accepted per readiness of the listener (nginx takes one by default, all
/// with `multi_accept on`).
const ACCEPT_BATCH: usize = 64;
/// A loop that had work in every turn yields its core once this long (bench/RESULTS.md,
/// "Yielding"): well under the scheduler's slice (1.5-3 ms), so what shares the cores runs sooner.
/// Its price: EEVDF moves a yielding thread's deadline a slice later, so the loop is then
/// preempted by wake-ups, which costs throughput at 16 connections ("Context switches at 16
/// connections", where no yield, a longer interval and a short sleep instead were measured).
const YIELD_AFTER: Duration = Duration::from_micros(250);
/// Readiness events taken per `poll`.
const EVENTS: usize = 1024;

pub(super) struct EventLoop {
    poll: Poll,
    listener: Option<TcpListener>,
    shared: Arc<Shared>,
    /// This loop's place in `shared.loads` and in `peers`.
    index: usize,
    mailbox: Arc<Mailbox>,
    /// Every loop's mailbox (this one's included), to hand connections over.
    peers: Vec<Arc<Mailbox>>,
    slots: Vec<Option<Connection>>,
    free: Vec<usize>,
    open: usize,
    next_id: u64,
    timers: BinaryHeap<Reverse<(Instant, usize, u64)>>,
    date: DateCache,
    log: AccessLog,
    buffers: Buffers,
    accept_paused_until: Option<Instant>,
    /// Writes of this turn that the loop commits before it polls (`Store::submit_deferred`).
    deferred: Deferred,
    /// Connections in the slab that were refused with 503 and are lingering.
    refused: usize,
}

impl EventLoop {
    /// A loop accepting from `listener` (its own handle on the shared socket).
    pub(super) fn new(
        shared: Arc<Shared>,
        index: usize,
        listener: TcpListener,
    ) -> io::Result<EventLoop> {
        let poll = Poll::new()?;
        listener::register_exclusive(&poll, &listener, LISTENER)?;
        let mailbox = Arc::new(Mailbox::new(Waker::new(poll.registry(), WAKER)?));
        let sink = shared
            .log
            .as_ref()
            .map(std::fs::File::try_clone)
            .transpose()?;
        let format = shared.config.access_log.then_some(shared.config.log_format);
        let log = AccessLog::new(format, sink);
        Ok(EventLoop {
            poll,
            listener: Some(listener),
            shared,
            index,
            mailbox,
            peers: Vec::new(),
            slots: Vec::new(),
            free: Vec::new(),
            open: 0,
            next_id: 0,
            timers: BinaryHeap::new(),
            date: DateCache::default(),
            log,
            buffers: Buffers::default(),
            accept_paused_until: None,
            deferred: Deferred::default(),
            refused: 0,
        })
    }

    /// Every loop's mailbox, by index, for handing connections over.
    pub(super) fn set_peers(&mut self, peers: Vec<Arc<Mailbox>>) {
        self.peers = peers;
    }

    /// The loop's mailbox, for the answers of writes and for waking it at shutdown.
    pub(super) fn mailbox(&self) -> Arc<Mailbox> {
        Arc::clone(&self.mailbox)
    }

    /// Serves until the shutdown flag is set and every connection of this loop has closed.
    pub(super) fn run(mut self) -> Result<(), ServeError> {
        let mut events = Events::with_capacity(EVENTS);
        let mut completions = Vec::new();
        let mut arrivals = Vec::new();
        let mut shutting_down = false;
        let mut last_yield = Instant::now();
        loop {
            // Answers left while the loop was awake (some by its own requests) woke nobody,
            // and a write of a request answered in the last commit waits for the next one:
            // the loop looks instead of sleeping.
            let timeout = if !self.deferred.is_pending() && self.mailbox.sleep() {
                self.poll_timeout(Instant::now())
            } else {
                Duration::ZERO
            };
            if let Err(error) = self.poll.poll(&mut events, Some(timeout)) {
                if error.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(ServeError::Accept(error));
            }
            let now = Instant::now();
            let answers = self.answer_collected(&mut completions, now);
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept(now)?,
                    WAKER => {
                        self.mailbox.collect_arrivals(&mut arrivals);
                        for (stream, peer) in arrivals.drain(..) {
                            self.take_over(stream, peer, now);
                        }
                    }
                    Token(slot) => {
                        let readable = event.is_readable() || event.is_error();
                        let hung_up = event.is_read_closed();
                        self.step(slot, None, now, |conn, cx| {
                            conn.on_ready(readable, hung_up, cx)
                        });
                    }
                }
            }
            if self.accept_paused_until.is_some_and(|until| until <= now) {
                self.accept_paused_until = None;
                self.accept(now)?;
            }
            self.expire(now);
            if !shutting_down && self.shared.shutdown.load(Ordering::SeqCst) {
                shutting_down = true;
                self.stop_accepting();
                for slot in 0..self.slots.len() {
                    self.step(slot, None, now, Connection::on_shutdown);
                }
                self.shared.announce_shutdown();
            }
            // Writes of this turn, or others' the loop is to commit or look at again.
            let writing = !self.deferred.is_empty();
            let committed = self.commit_deferred(&mut completions);
            let answers = answers || committed;
            self.log.flush();
            if !events.is_empty()
                && !answers
                && !writing
                && now.duration_since(last_yield) >= YIELD_AFTER
            {
                // A busy loop rarely blocks in `poll`, so the kernel takes the core away
                // only when its slice (milliseconds) ends, and every connection of this
                // loop waits out the slice of whatever runs next. Giving the core up
                // briefly and often, as a loop that goes idle would, bounds that wait.
                // With nothing else to run, `sched_yield` returns at once. Not in a turn
                // that delivered answers from the store or handed it writes: the answers
                // answer a whole batch, the next batch forms from what the loop reads next,
                // and a loop that yields with writes in flight waits out a slice of wrk's
                // before it answers them (bench/RESULTS.md, "Deferred commits").
                // SAFETY: takes no arguments and cannot fail on Linux.
                unsafe { libc::sched_yield() };
                last_yield = Instant::now();
            }
            // A connection handed over but not yet taken counts in `loads`.
            // Other loops' writes left for this one to commit keep it running too.
            if shutting_down
                && self.open == 0
                && self.shared.loads[self.index].load(Ordering::SeqCst) == 0
                && !self.deferred.is_pending()
            {
                return Ok(());
            }
        }
    }

    /// Commits the writes this turn's requests handed to the store, as one batch (with
    /// `--sync always`, one write and one fsync on this thread, as Redis does before it
    /// sleeps) and answers those the batch decided. Whether it answered any.
    ///
    /// A request answered here may let a pipelined write behind it start; that one is
    /// committed at the end of the next turn, which polls without sleeping, so a pipeline
    /// of writes cannot hold the loop's other connections for one fsync each.
    fn commit_deferred(&mut self, completions: &mut Vec<Completion>) -> bool {
        if self.deferred.is_empty() {
            return false;
        }
        self.shared.handler.commit_deferred(&mut self.deferred);
        // Answers of this batch to this loop's connections, delivered while it was awake.
        self.answer_collected(completions, Instant::now())
    }

    /// Hands each answer waiting in the mailbox to its connection. Whether there were any.
    fn answer_collected(&mut self, completions: &mut Vec<Completion>, now: Instant) -> bool {
        self.mailbox.collect(completions);
        let answers = !completions.is_empty();
        for done in completions.drain(..) {
            self.complete(done, now);
        }
        answers
    }

    fn poll_timeout(&self, now: Instant) -> Duration {
        let mut timeout = SHUTDOWN_POLL;
        if let Some(Reverse((at, _, _))) = self.timers.peek() {
            timeout = timeout.min(at.saturating_duration_since(now));
        }
        if let Some(until) = self.accept_paused_until {
            timeout = timeout.min(until.saturating_duration_since(now));
        }
        // Round up so that a deadline a few microseconds away is not busy-polled.
        if timeout > Duration::ZERO && timeout < Duration::from_millis(1) {
            timeout = Duration::from_millis(1);
        }
        timeout
    }

    /// Accepts the queued connections, at most `ACCEPT_BATCH` of them: each is served
    /// as far as its first request at once, so a stream of new connections must not
    /// keep the loop from the connections it has. The listener is level-triggered:
    /// what is left is reported again at the next `poll`.
    fn accept(&mut self, now: Instant) -> Result<(), ServeError> {
        for _ in 0..ACCEPT_BATCH {
            let Some(listener) = &self.listener else {
                return Ok(());
            };
            if self.accept_paused_until.is_some() {
                return Ok(());
            }
            match listener.accept() {
                Ok((stream, peer)) => self.admit(stream, peer, now),
                Err(error) => match error.kind() {
                    io::ErrorKind::WouldBlock => return Ok(()),
                    io::ErrorKind::Interrupted => {}
                    // A peer that gave up while queued: keep serving the others.
                    io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset => {}
                    // A transient shortage of descriptors or memory: retry shortly.
                    _ if is_resource_shortage(&error) => {
                        eprintln!("accept: {error}; pausing briefly");
                        self.accept_paused_until = Some(now + ACCEPT_PAUSE);
                        return Ok(());
                    }
                    _ => return Err(ServeError::Accept(error)),
                },
            }
        }
        Ok(())
    }

    /// Takes an accepted connection into this loop, or refuses it with 503 at the cap.
    fn admit(&mut self, stream: TcpStream, peer: SocketAddr, now: Instant) {
        let shared = &self.shared;
        if shared.active.fetch_add(1, Ordering::SeqCst) >= shared.config.max_connections {
            shared.active.fetch_sub(1, Ordering::SeqCst);
            self.refuse_busy(stream, peer, now);
            return;
        }
        // Keep the loops level: all of them see every new connection, and the
        // first to wake would otherwise take a whole burst of them.
        let loads = &shared.loads;
        let mine = loads[self.index].load(Ordering::SeqCst);
        let (least, fewest) = loads
            .iter()
            .map(|load| load.load(Ordering::SeqCst))
            .enumerate()
            .min_by_key(|&(_, load)| load)
            .unwrap_or((self.index, mine));
        if mine > fewest {
            loads[least].fetch_add(1, Ordering::SeqCst);
            self.peers[least].hand_over(stream, peer);
            return;
        }
        loads[self.index].fetch_add(1, Ordering::SeqCst);
        self.register(stream, peer, now);
    }

    /// Takes a connection another loop accepted (already counted in `active`
    /// and in this loop's load).
    fn take_over(&mut self, stream: TcpStream, peer: SocketAddr, now: Instant) {
        if self.listener.is_none() {
            // Shutting down: the connection never got a request in.
            drop(stream);
            self.shared.loads[self.index].fetch_sub(1, Ordering::SeqCst);
            self.shared.active.fetch_sub(1, Ordering::SeqCst);
            return;
        }
        self.register(stream, peer, now);
    }

    /// Registers a counted connection with this loop's `Poll` and serves what it
    /// already sent.
    fn register(&mut self, stream: TcpStream, peer: SocketAddr, now: Instant) {
        match self.insert(stream, peer, now) {
            // A client sends its request as soon as it is connected, so it is usually
            // here before the accept: reading now answers it in this turn (and closes
            // a `Connection: close` one) instead of a turn later, after an `epoll_wait`
            // for the readiness the registration reports. If nothing is here yet, that
            // event comes as usual. This also arms the first deadline.
            Some(slot) => self.step(slot, None, now, |conn, cx| conn.on_ready(true, false, cx)),
            None => {
                self.shared.loads[self.index].fetch_sub(1, Ordering::SeqCst);
                self.shared.active.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }

    /// Puts a new connection in a free slot and registers it with `Poll`;
    /// `None` if the registration failed (the stream is then dropped).
    fn insert(&mut self, mut stream: TcpStream, peer: SocketAddr, now: Instant) -> Option<usize> {
        let slot = self.free.pop().unwrap_or_else(|| {
            self.slots.push(None);
            self.slots.len() - 1
        });
        let registered = self.poll.registry().register(
            &mut stream,
            Token(slot),
            Interest::READABLE | Interest::WRITABLE,
        );
        if registered.is_err() {
            self.free.push(slot);
            return None;
        }
        let id = self.next_id;
        self.next_id += 1;
        let socket = Socket::new(stream, peer, self.shared.trace.as_ref());
        self.slots[slot] = Some(Connection::new(socket, peer, slot, id, now, &self.shared));
        self.open += 1;
        Some(slot)
    }

    /// Answers 503 with `Retry-After` and closes. The refused connection lingers
    /// in the slab (uncounted) so its peer reads the answer, not a reset; past
    /// `MAX_REFUSED` of those at once, the rest are answered and dropped at once.
    fn refuse_busy(&mut self, mut stream: TcpStream, peer: SocketAddr, now: Instant) {
        let response = Response::line(
            Status::ServiceUnavailable,
            "too many connections; retry shortly",
        )
        .with_retry_after(1);
        self.log.record(
            &Entry {
                peer,
                request: RequestLine::Unknown,
                fields: &Fields::default(),
                response: &response,
                bytes: response.body.as_bytes().len(),
                duration: now.elapsed(),
            },
            self.date.now(),
        );
        if self.refused >= MAX_REFUSED {
            let _ = write_refusal(&mut stream, &response, &mut self.date);
            return;
        }
        let Some(slot) = self.insert(stream, peer, now) else {
            return;
        };
        if let Some(connection) = self.slots[slot].as_mut() {
            connection.refuse(&response, &mut self.date, now, &self.shared);
            self.refused += 1;
            self.arm(slot);
        }
    }

    /// Runs `action` on the connection in `slot` (if it is still connection `id`),
    /// then closes it or re-arms its deadline.
    fn step(
        &mut self,
        slot: usize,
        id: Option<u64>,
        now: Instant,
        action: impl FnOnce(&mut Connection, &mut Cx<'_>) -> Flow,
    ) {
        let Some(connection) = self.slots.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        if id.is_some_and(|id| id != connection.id) {
            return;
        }
        let mut cx = Cx {
            shared: &self.shared,
            now,
            date: &mut self.date,
            log: &mut self.log,
            mailbox: &self.mailbox,
            buffers: &mut self.buffers,
            deferred: &mut self.deferred,
        };
        match action(connection, &mut cx) {
            Flow::Open => self.arm(slot),
            Flow::Close => self.close(slot),
        }
    }

    fn complete(&mut self, done: Completion, now: Instant) {
        let Completion { slot, id, response } = done;
        self.step(slot, Some(id), now, move |conn, cx| {
            conn.on_complete(response, cx)
        });
    }

    /// Makes sure the heap holds an entry no later than the connection's deadline.
    fn arm(&mut self, slot: usize) {
        let Some(connection) = self.slots.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        let Some(deadline) = connection.deadline() else {
            return;
        };
        if connection.armed.is_some_and(|armed| armed <= deadline) {
            return;
        }
        connection.armed = Some(deadline);
        self.timers.push(Reverse((deadline, slot, connection.id)));
        if self.timers.len() > 2 * self.open + 64 {
            self.rebuild_timers();
        }
    }

    /// Drops stale heap entries: one entry per connection with a deadline.
    fn rebuild_timers(&mut self) {
        self.timers.clear();
        for (slot, connection) in self.slots.iter_mut().enumerate() {
            let Some(connection) = connection else {
                continue;
            };
            connection.armed = connection.deadline();
            if let Some(deadline) = connection.armed {
                self.timers.push(Reverse((deadline, slot, connection.id)));
            }
        }
    }

    /// Acts on every deadline that has passed.
    fn expire(&mut self, now: Instant) {
        while let Some(&Reverse((at, slot, id))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            let Some(connection) = self.slots.get_mut(slot).and_then(Option::as_mut) else {
                continue;
            };
            if connection.id != id || connection.armed != Some(at) {
                continue;
            }
            connection.armed = None;
            match connection.deadline() {
                Some(deadline) if deadline <= now => {
                    self.step(slot, Some(id), now, Connection::on_deadline);
                }
                _ => self.arm(slot),
            }
        }
    }

    fn close(&mut self, slot: usize) {
        // Dropping the connection closes its descriptor, the only one of its
        // socket, which also takes it out of the epoll set.
        if let Some(connection) = self.slots[slot].take() {
            self.free.push(slot);
            self.open -= 1;
            if connection.counted {
                self.shared.loads[self.index].fetch_sub(1, Ordering::SeqCst);
                self.shared.active.fetch_sub(1, Ordering::SeqCst);
            } else {
                self.refused -= 1;
            }
            connection.recycle(&mut self.buffers);
        }
    }

    fn stop_accepting(&mut self) {
        if let Some(mut listener) = self.listener.take() {
            // The socket is shared with the other loops: closing our descriptor
            // alone would not take it out of this loop's epoll set.
            let _ = self.poll.registry().deregister(&mut listener);
        }
    }
}

impl Drop for EventLoop {
    /// A loop that ends (an error, a panic) commits what it owes first: its own writes and
    /// others' left to it (`Deferred::more`), which no other thread would commit.
    fn drop(&mut self) {
        while self.deferred.is_pending() {
            self.shared.handler.commit_deferred(&mut self.deferred);
        }
    }
}

/// Writes a refusal (503) to a new socket and closes it without lingering:
/// the fallback when too many refused connections linger already. The socket
/// is new, so the short answer fits its send buffer at once.
fn write_refusal(
    stream: &mut TcpStream,
    response: &Response,
    date: &mut DateCache,
) -> io::Result<()> {
    let mut out = Vec::with_capacity(256);
    response::encode_head(response, Persistence::Close, date.now(), &mut out);
    out.extend_from_slice(response.body.as_bytes());
    stream.write_all(&out)?;
    stream.shutdown(Shutdown::Write)?;
    // Drain what already arrived so that closing does not send a reset over our answer.
    let mut scratch = [0u8; 4096];
    while let Ok(n) = stream.read(&mut scratch) {
        if n == 0 {
            break;
        }
    }
    Ok(())
}

fn is_resource_shortage(error: &io::Error) -> bool {
    // EMFILE, ENFILE, ENOBUFS, ENOMEM
    matches!(error.raw_os_error(), Some(24 | 23 | 105 | 12))
}
