//! The relay of `wordwire record`: bytes passed both ways unchanged, and the
//! timeline of what each side did.
//!
//! Here: accepting, two plain threads per connection (client → server and back),
//! each read recorded as an `Event` before it is forwarded, half-closes and
//! resets passed on, the optional `--trace` lines, stopping; `--max-bytes` (past
//! it nothing more is recorded, and `full` says so).
//! Elsewhere: turning the timeline into a transcript (`grading::record::render`).

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::trace::{self, Direction, Tracer};

/// What one side of one connection did, in the order the relay saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// The relay accepted the client and connected to the server.
    Open,
    /// Bytes from the client, as one read returned them.
    Sent(Vec<u8>),
    /// The client ended its input (FIN).
    HalfClose,
    /// The client reset the connection.
    Reset,
    /// Bytes from the server, as one read returned them.
    Received(Vec<u8>),
    /// The server closed (FIN or reset).
    ServerClosed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Index of the connection, in accept order.
    pub conn: usize,
    /// Time since the recording started.
    pub at: Duration,
    pub kind: EventKind,
}

struct Shared {
    start: Instant,
    events: Mutex<Vec<Event>>,
    stopping: AtomicBool,
    trace: Option<trace::Sink>,
    /// Connections whose both directions have ended.
    finished: AtomicUsize,
    /// The most bytes (sent and received) recorded; `u64::MAX`: no limit.
    max_bytes: AtomicU64,
    /// Bytes recorded so far (under the event lock).
    recorded: AtomicU64,
    /// Set when an event would have passed `max_bytes`: nothing more is recorded.
    full: AtomicBool,
}

impl Shared {
    fn push(&self, conn: usize, kind: EventKind) {
        if self.stopping.load(Ordering::SeqCst) || self.full.load(Ordering::SeqCst) {
            return;
        }
        let mut events = self
            .events
            .lock()
            .expect("no thread panics while holding the event lock");
        if let EventKind::Sent(bytes) | EventKind::Received(bytes) = &kind {
            let total = self.recorded.load(Ordering::SeqCst) + bytes.len() as u64;
            if total > self.max_bytes.load(Ordering::SeqCst) {
                // Nothing after this, so that no later event follows a missing one.
                self.full.store(true, Ordering::SeqCst);
                return;
            }
            self.recorded.store(total, Ordering::SeqCst);
        }
        events.push(Event {
            conn,
            at: self.start.elapsed(),
            kind,
        });
    }
}

/// A running relay; `finish` stops it and returns the timeline.
pub struct Relay {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accepted: Arc<AtomicUsize>,
    acceptor: Option<JoinHandle<()>>,
    /// Both sockets of every connection, to shut them at the end.
    sockets: Arc<Mutex<Vec<(TcpStream, TcpStream)>>>,
    pumps: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Relay {
    /// Listens on `listen` and relays every connection to `upstream`. With `trace`,
    /// every byte is also written to that sink as it passes.
    pub fn start(
        listen: SocketAddr,
        upstream: SocketAddr,
        trace: Option<trace::Sink>,
    ) -> io::Result<Relay> {
        let listener = TcpListener::bind(listen)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            start: Instant::now(),
            events: Mutex::new(Vec::new()),
            stopping: AtomicBool::new(false),
            trace,
            finished: AtomicUsize::new(0),
            max_bytes: AtomicU64::new(u64::MAX),
            recorded: AtomicU64::new(0),
            full: AtomicBool::new(false),
        });
        let accepted = Arc::new(AtomicUsize::new(0));
        let sockets = Arc::new(Mutex::new(Vec::new()));
        let pumps = Arc::new(Mutex::new(Vec::new()));
        let acceptor = {
            let shared = shared.clone();
            let accepted = accepted.clone();
            let sockets = sockets.clone();
            let pumps = pumps.clone();
            std::thread::spawn(move || {
                accept_loop(listener, upstream, &shared, &accepted, &sockets, &pumps);
            })
        };
        Ok(Relay {
            addr,
            shared,
            accepted,
            acceptor: Some(acceptor),
            sockets,
            pumps,
        })
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Records no more than `n` bytes (both directions together): the event that would
    /// pass it, and every event after it, are relayed but not recorded (`full`).
    pub fn set_max_bytes(&self, n: u64) {
        self.shared.max_bytes.store(n, Ordering::SeqCst);
    }

    /// True once `--max-bytes` stopped the recording.
    pub fn full(&self) -> bool {
        self.shared.full.load(Ordering::SeqCst)
    }

    /// Bytes recorded so far.
    pub fn recorded(&self) -> u64 {
        self.shared.recorded.load(Ordering::SeqCst)
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Connections whose both directions have ended.
    pub fn finished(&self) -> usize {
        self.shared.finished.load(Ordering::SeqCst)
    }

    /// Waits (up to `within`) until `n` connections have ended on both sides.
    pub fn wait_finished(&self, n: usize, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while self.finished() < n {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }

    /// Stops accepting, cuts the connections still open (recording nothing more),
    /// and returns the timeline.
    pub fn finish(mut self) -> Vec<Event> {
        self.shared.stopping.store(true, Ordering::SeqCst);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        for (client, server) in self
            .sockets
            .lock()
            .expect("no panic holds the socket lock")
            .iter()
        {
            let _ = client.shutdown(Shutdown::Both);
            let _ = server.shutdown(Shutdown::Both);
        }
        let pumps = std::mem::take(&mut *self.pumps.lock().expect("no panic holds the pump lock"));
        for pump in pumps {
            let _ = pump.join();
        }
        std::mem::take(
            &mut *self
                .shared
                .events
                .lock()
                .expect("no thread panics while holding the event lock"),
        )
    }
}

fn accept_loop(
    listener: TcpListener,
    upstream: SocketAddr,
    shared: &Arc<Shared>,
    accepted: &AtomicUsize,
    sockets: &Mutex<Vec<(TcpStream, TcpStream)>>,
    pumps: &Mutex<Vec<JoinHandle<()>>>,
) {
    while !shared.stopping.load(Ordering::SeqCst) {
        let client = match listener.accept() {
            Ok((client, _)) => client,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
            Err(e) => {
                eprintln!("wordwire record: accept: {e}");
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let server = match TcpStream::connect_timeout(&upstream, Duration::from_secs(5)) {
            Ok(server) => server,
            Err(e) => {
                eprintln!(
                    "wordwire record: cannot connect to {upstream}: {e}; dropping the client"
                );
                continue;
            }
        };
        let conn = accepted.fetch_add(1, Ordering::SeqCst);
        let tracer = shared
            .trace
            .clone()
            .map(|sink| Tracer::new(sink, format!("{} ", connection_name(conn))));
        if let Some(tracer) = &tracer {
            tracer.note(&format!("accepted; relaying to {upstream}"));
        }
        let opened = (|| -> io::Result<_> {
            client.set_nonblocking(false)?;
            // Each burst should leave as it came, so that pauses mean the same on both sides.
            client.set_nodelay(true)?;
            server.set_nodelay(true)?;
            Ok((
                client.try_clone()?,
                server.try_clone()?,
                client.try_clone()?,
                server.try_clone()?,
            ))
        })();
        let Ok((client_w, server_w, client_keep, server_keep)) = opened else {
            continue;
        };
        shared.push(conn, EventKind::Open);
        sockets
            .lock()
            .expect("no panic holds the socket lock")
            .push((client_keep, server_keep));
        let done = Arc::new(AtomicUsize::new(0));
        let up = {
            let (shared, tracer, done) = (shared.clone(), tracer.clone(), done.clone());
            std::thread::spawn(move || {
                pump_to_server(conn, client, server_w, &shared, tracer.as_ref());
                if done.fetch_add(1, Ordering::SeqCst) == 1 {
                    shared.finished.fetch_add(1, Ordering::SeqCst);
                }
            })
        };
        let down = {
            let shared = shared.clone();
            std::thread::spawn(move || {
                pump_to_client(conn, server, client_w, &shared, tracer.as_ref());
                if done.fetch_add(1, Ordering::SeqCst) == 1 {
                    shared.finished.fetch_add(1, Ordering::SeqCst);
                }
            })
        };
        let mut pumps = pumps.lock().expect("no panic holds the pump lock");
        pumps.push(up);
        pumps.push(down);
    }
}

fn is_reset(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted
    )
}

/// Client → server. Each read is recorded before it is forwarded, so that anything
/// the server sends in answer is recorded after it.
fn pump_to_server(
    conn: usize,
    mut client: TcpStream,
    mut server: TcpStream,
    shared: &Shared,
    tracer: Option<&Tracer>,
) {
    let mut buf = vec![0u8; 65536];
    loop {
        match client.read(&mut buf) {
            Ok(0) => {
                shared.push(conn, EventKind::HalfClose);
                if let Some(t) = tracer {
                    t.note("the client half-closed");
                }
                let _ = server.shutdown(Shutdown::Write);
                return;
            }
            Ok(n) => {
                shared.push(conn, EventKind::Sent(buf[..n].to_vec()));
                if let Some(t) = tracer {
                    t.bytes(Direction::ToServer, &buf[..n]);
                }
                if server.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                if is_reset(&e) {
                    shared.push(conn, EventKind::Reset);
                    if let Some(t) = tracer {
                        t.note("the client reset the connection");
                    }
                }
                let _ = server.shutdown(Shutdown::Both);
                return;
            }
        }
    }
}

/// Server → client, recorded before it is forwarded.
fn pump_to_client(
    conn: usize,
    mut server: TcpStream,
    mut client: TcpStream,
    shared: &Shared,
    tracer: Option<&Tracer>,
) {
    let mut buf = vec![0u8; 65536];
    loop {
        match server.read(&mut buf) {
            Ok(n) if n > 0 => {
                shared.push(conn, EventKind::Received(buf[..n].to_vec()));
                if let Some(t) = tracer {
                    t.bytes(Direction::ToClient, &buf[..n]);
                }
                // A client that has gone away must not stop the recording of what the server sent.
                let _ = client.write_all(&buf[..n]);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            result => {
                if matches!(&result, Ok(0)) || result.as_ref().is_err_and(is_reset) {
                    shared.push(conn, EventKind::ServerClosed);
                    if let Some(t) = tracer {
                        t.note("the server closed");
                    }
                }
                let _ = client.shutdown(Shutdown::Write);
                return;
            }
        }
    }
}

/// `a` … `z`, then `c27`, `c28`, …
pub fn connection_name(index: usize) -> String {
    match u8::try_from(index) {
        Ok(i) if i < 26 => char::from(b'a' + i).to_string(),
        _ => format!("c{}", index + 1),
    }
}
