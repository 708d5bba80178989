//! The server: a listening socket, one thread per connection under a cap, and shutdown.
//!
//! Here: `Config` (an accepted combination of flags) and `Server` (bind, run, shut down).
//! Elsewhere: socket options and accepting (`server::listener`), one connection's
//! request loop and timeouts (`server::conn`), what a request means (`handler`).

use std::net::SocketAddr;
use std::time::Duration;

use crate::auth::Credentials;
use crate::http::HeadLimits;

/// Everything `serve` needs besides the store, already checked.
#[derive(Debug, Clone)]
pub struct Config {
    pub addr: SocketAddr,
    pub credentials: Credentials,
    /// Every method needs credentials, not only GET and HEAD.
    pub auth_all: bool,
    /// Longest silence allowed between bytes of a request that has started.
    pub read_timeout: Duration,
    /// Longest time from a request's first byte to its last.
    pub request_timeout: Duration,
    /// Longest silence allowed on a keep-alive connection between requests.
    pub idle_timeout: Duration,
    /// Status sent when a request times out: 504 (the assignment's) or 408 (RFC 9110's).
    pub timeout_status: u16,
    /// Open connections allowed at once; the next gets 503.
    pub max_connections: usize,
    pub limits: HeadLimits,
    /// Write one line per request to stderr.
    pub access_log: bool,
}

impl Config {
    /// The contract's defaults, for `addr` and `credentials`.
    pub fn new(addr: SocketAddr, credentials: Credentials) -> Config {
        Config {
            addr,
            credentials,
            auth_all: false,
            read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            timeout_status: 504,
            max_connections: 1024,
            limits: HeadLimits {
                max_line: 8192,
                max_header_bytes: 16384,
                max_body: 8192,
            },
            access_log: true,
        }
    }
}

mod conn;
pub mod listener;

use std::collections::HashMap;
use std::io;
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::Instant;

use socket2::Socket;

use crate::handler::Handler;
use crate::http::response::Response;
use crate::store::Store;

/// Stack of a connection thread; the request path needs a few KiB.
const CONN_STACK: usize = 256 * 1024;

/// Why the server could not start or keep accepting.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The address is taken or not ours. Example: a second server on port 12345.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
    /// The listening socket failed after start.
    #[error("accepting connections failed: {0}")]
    Accept(#[source] io::Error),
}

/// Each open connection's stream and idle flag, by connection id.
type OpenConnections = HashMap<u64, (Arc<TcpStream>, Arc<AtomicBool>)>;

/// State every connection thread shares.
struct Shared {
    config: Config,
    handler: Handler,
    shutdown: Arc<AtomicBool>,
    /// Open connections, counted against `max_connections`.
    active: AtomicUsize,
    next_id: AtomicU64,
    /// Each open connection's stream and idle flag, so a shutdown can close idle ones.
    open: Mutex<OpenConnections>,
    /// Where access-log lines go (a duplicate of stderr), if `config.access_log`.
    log: Option<std::fs::File>,
}

/// A bound server, not yet accepting.
pub struct Server {
    listener: Socket,
    addr: SocketAddr,
    shared: Arc<Shared>,
}

/// A server running on a background thread.
pub struct RunningServer {
    addr: SocketAddr,
    shutdown: Arc<AtomicBool>,
    thread: thread::JoinHandle<Result<(), ServeError>>,
}

impl Server {
    /// Binds `config.addr`; the store is already open and validated.
    pub fn bind(config: Config, store: Arc<dyn Store>) -> Result<Server, ServeError> {
        let bind_error = |source| ServeError::Bind {
            addr: config.addr,
            source,
        };
        let listener = listener::bind(config.addr).map_err(bind_error)?;
        let addr = listener
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .ok_or_else(|| bind_error(io::Error::other("no local address")))?;
        let handler = Handler::new(store, config.credentials.clone(), config.auth_all);
        let log = if config.access_log {
            let stderr = io::stderr()
                .as_fd()
                .try_clone_to_owned()
                .map_err(|source| bind_error(io::Error::other(format!("stderr: {source}"))))?;
            Some(std::fs::File::from(stderr))
        } else {
            None
        };
        let shared = Arc::new(Shared {
            config,
            handler,
            shutdown: Arc::new(AtomicBool::new(false)),
            active: AtomicUsize::new(0),
            next_id: AtomicU64::new(0),
            open: Mutex::new(HashMap::new()),
            log,
        });
        Ok(Server {
            listener,
            addr,
            shared,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Setting this flag stops the server: for signal handlers.
    pub fn shutdown_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.shared.shutdown)
    }

    /// Accepts until the shutdown flag is set, then stops accepting, closes idle
    /// connections, lets requests in flight finish, and returns.
    pub fn run(self) -> Result<(), ServeError> {
        let shared = &self.shared;
        while !shared.shutdown.load(Ordering::SeqCst) {
            match self.listener.accept() {
                Ok((socket, peer)) => {
                    let Some(peer) = peer.as_socket() else {
                        continue;
                    };
                    admit(shared, socket, peer);
                }
                Err(error) => match error.kind() {
                    io::ErrorKind::WouldBlock
                    | io::ErrorKind::TimedOut
                    | io::ErrorKind::Interrupted => {}
                    // A peer that gave up while queued, or a transient shortage of
                    // file descriptors or memory: keep serving the others.
                    io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset => {}
                    _ if is_resource_shortage(&error) => {
                        eprintln!("accept: {error}; pausing briefly");
                        thread::sleep(listener::ACCEPT_POLL);
                    }
                    _ => return Err(ServeError::Accept(error)),
                },
            }
        }
        drop(self.listener);
        close_idle(shared);
        while shared.active.load(Ordering::SeqCst) > 0 {
            thread::sleep(std::time::Duration::from_millis(5));
            // Connections that finished a request since the sweep are idle now too.
            close_idle(shared);
        }
        Ok(())
    }

    /// Runs the server on a background thread.
    pub fn spawn(self) -> RunningServer {
        let addr = self.addr;
        let shutdown = self.shutdown_flag();
        let thread = thread::Builder::new()
            .name("wordwire-accept".into())
            .spawn(move || self.run())
            .expect("spawning the accept thread: the process is out of threads at start-up");
        RunningServer {
            addr,
            shutdown,
            thread,
        }
    }
}

impl RunningServer {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the server as SIGTERM would and waits for it to finish.
    pub fn shutdown(self) -> Result<(), ServeError> {
        self.shutdown.store(true, Ordering::SeqCst);
        match self.thread.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

fn is_resource_shortage(error: &io::Error) -> bool {
    // EMFILE, ENFILE, ENOBUFS, ENOMEM
    matches!(error.raw_os_error(), Some(24 | 23 | 105 | 12))
}

/// Hands an accepted connection to a thread of its own, or refuses it with 503 at the cap.
fn admit(shared: &Arc<Shared>, socket: Socket, peer: SocketAddr) {
    let config = &shared.config;
    let Ok(stream) = listener::configure(socket, config.read_timeout) else {
        return;
    };
    if shared.active.fetch_add(1, Ordering::SeqCst) >= config.max_connections {
        shared.active.fetch_sub(1, Ordering::SeqCst);
        refuse_busy(shared, &stream, peer);
        return;
    }
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    let idle = Arc::new(AtomicBool::new(false));
    // Shared rather than duplicated with try_clone: no extra descriptor to open and close.
    let stream = Arc::new(stream);
    lock_open(shared).insert(id, (Arc::clone(&stream), Arc::clone(&idle)));
    let guard = ConnGuard {
        shared: Arc::clone(shared),
        id,
    };
    let connection = conn::Connection::new(stream, peer, Arc::clone(shared), idle);
    let spawned = thread::Builder::new()
        .name("wordwire-conn".into())
        .stack_size(CONN_STACK)
        .spawn(move || {
            let _guard = guard;
            connection.serve();
        });
    if spawned.is_err() {
        // The closure (and with it the guard and the stream) was dropped: the slot is free again.
        eprintln!("{peer}: could not start a connection thread; connection dropped");
    }
}

fn refuse_busy(shared: &Shared, stream: &TcpStream, peer: SocketAddr) {
    let started = Instant::now();
    let response = Response::line(503, "too many connections; retry shortly").with_retry_after(1);
    // The acceptor must not stall on one peer.
    let _ = stream.set_write_timeout(Some(std::time::Duration::from_millis(100)));
    let _ = conn::refuse(stream, &response);
    if let Some(log) = &shared.log {
        let mut line = String::new();
        let bytes = response.body.as_bytes().len();
        conn::format_exchange(&mut line, peer, None, &response, bytes, started);
        conn::write_log(log, &line);
    }
}

/// Half-closes every connection waiting for a request, so its thread ends.
fn close_idle(shared: &Shared) {
    for (stream, idle) in lock_open(shared).values() {
        if idle.load(Ordering::SeqCst) {
            let _ = stream.shutdown(Shutdown::Read);
        }
    }
}

fn lock_open(shared: &Shared) -> std::sync::MutexGuard<'_, OpenConnections> {
    // The map stays consistent even if a holder panicked: entries are inserted and removed whole.
    shared.open.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Frees a connection's slot when its thread ends, however it ends.
struct ConnGuard {
    shared: Arc<Shared>,
    id: u64,
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        lock_open(&self.shared).remove(&self.id);
        self.shared.active.fetch_sub(1, Ordering::SeqCst);
    }
}
