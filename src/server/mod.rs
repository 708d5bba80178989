//! The server: a listening socket, event-loop threads over `mio`, the connection
//! cap, and shutdown.
//!
//! Here: `Config` (an accepted combination of flags), `Server` (bind, start the
//! loops, wait for them) and what they share.
//! Elsewhere: socket options (`server::listener`), readiness, timers and
//! accepting (`server::event_loop`), one connection's state machine and timeouts
//! (`server::conn`), how answers to writes reach a loop (`server::mailbox`), what a
//! request means (`handler`), committing writes (`store`, on its own thread).

use std::net::SocketAddr;
use std::time::Duration;

use crate::auth::Credentials;
use crate::http::{HeadLimits, Status};

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
    pub timeout_status: Status,
    /// Open connections allowed at once; the next gets 503.
    pub max_connections: usize,
    pub limits: HeadLimits,
    /// Write one line per request to stderr.
    pub access_log: bool,
    /// How those lines look.
    pub log_format: LogFormat,
    /// Show every byte of every connection on stderr (`serve --trace`).
    pub trace: bool,
    /// Event-loop threads; at least one. Default: the available cores.
    pub threads: usize,
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
            timeout_status: Status::GatewayTimeout,
            max_connections: 1024,
            limits: HeadLimits {
                max_line: 8192,
                max_header_bytes: 16384,
                max_body: 8192,
            },
            access_log: true,
            log_format: LogFormat::Combined,
            trace: false,
            threads: std::thread::available_parallelism().map_or(1, usize::from),
        }
    }
}

mod access_log;
pub use access_log::LogFormat;
mod conn;
mod event_loop;
pub mod listener;
mod mailbox;
pub mod memory;
mod output;

use std::io;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;

use socket2::Socket;

use crate::handler::Handler;
use crate::store::Store;

use event_loop::EventLoop;
use mailbox::Mailbox;

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
    /// The listening socket, or the event loop that accepts from it, failed
    /// after start. Example: `epoll_wait` failing; out of threads at start.
    #[error("accepting connections failed: {0}")]
    Accept(#[source] io::Error),
}

/// State the event loops share.
struct Shared {
    config: Config,
    handler: Arc<Handler>,
    shutdown: Arc<AtomicBool>,
    /// Open connections across all loops, counted against `max_connections`.
    active: AtomicUsize,
    /// Open connections per loop (including ones handed to it and not yet
    /// taken), so that accepting keeps the loops level.
    loads: Box<[AtomicUsize]>,
    /// Loops that have not yet closed what a shutdown closes at once.
    loops_to_announce: AtomicUsize,
    /// Where `--trace` lines go, if tracing.
    trace: Option<crate::trace::Sink>,
    /// Each running loop's mailbox, so that a shutdown can wake them at once.
    mailboxes: Mutex<Vec<Arc<Mailbox>>>,
    /// Where access-log lines go (a duplicate of stderr), if `config.access_log`.
    log: Option<std::fs::File>,
}

impl Shared {
    /// Called by each loop once it has closed what a shutdown closes at once; the
    /// last one says on stderr what the shutdown still waits for.
    fn announce_shutdown(&self) {
        if self.loops_to_announce.fetch_sub(1, Ordering::SeqCst) != 1 {
            return;
        }
        match self.active.load(Ordering::SeqCst) {
            0 => {}
            1 => eprintln!("waiting for 1 connection; Ctrl-C again to stop now"),
            n => eprintln!("waiting for {n} connections; Ctrl-C again to stop now"),
        }
    }

    fn wake_loops(&self) {
        // The list is only ever replaced whole.
        for mailbox in self
            .mailboxes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            mailbox.wake();
        }
    }
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
    shared: Arc<Shared>,
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
        let handler = Arc::new(Handler::new(
            store,
            config.credentials.clone(),
            config.auth_all,
        ));
        let log = if config.access_log {
            let stderr = io::stderr()
                .as_fd()
                .try_clone_to_owned()
                .map_err(|source| bind_error(io::Error::other(format!("stderr: {source}"))))?;
            Some(std::fs::File::from(stderr))
        } else {
            None
        };
        let threads = config.threads.max(1);
        let trace = config.trace.then(crate::trace::stderr_sink);
        let loads = (0..threads).map(|_| AtomicUsize::new(0)).collect();
        let shared = Arc::new(Shared {
            config,
            handler,
            shutdown: Arc::new(AtomicBool::new(false)),
            active: AtomicUsize::new(0),
            loads,
            loops_to_announce: AtomicUsize::new(threads),
            trace,
            mailboxes: Mutex::new(Vec::new()),
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

    /// Serves until the shutdown flag is set, then stops accepting, closes idle
    /// connections, lets requests in flight finish, and returns.
    ///
    /// Runs `config.threads` event loops (this thread is one of them). Writes are
    /// handed to the store, which answers through each loop's mailbox; a loop ends
    /// only when its connections have closed, so every write in flight is answered
    /// before this returns.
    pub fn run(self) -> Result<(), ServeError> {
        let Server {
            listener, shared, ..
        } = self;
        let mut loops = Vec::new();
        for index in 0..shared.loads.len() {
            let handle = listener::share(&listener).map_err(ServeError::Accept)?;
            loops.push(
                EventLoop::new(Arc::clone(&shared), index, handle).map_err(ServeError::Accept)?,
            );
        }
        let mailboxes: Vec<_> = loops.iter().map(EventLoop::mailbox).collect();
        for event_loop in &mut loops {
            event_loop.set_peers(mailboxes.clone());
        }
        // Each loop holds its own descriptor of the listening socket.
        drop(listener);
        *shared
            .mailboxes
            .lock()
            .unwrap_or_else(PoisonError::into_inner) =
            loops.iter().map(EventLoop::mailbox).collect();
        let first = loops.remove(0);
        let mut others = Vec::new();
        let mut result = Ok(());
        for event_loop in loops {
            let spawned = thread::Builder::new()
                .name("wordwire-loop".into())
                .spawn(move || event_loop.run());
            match spawned {
                Ok(thread) => others.push(thread),
                Err(error) => {
                    result = Err(ServeError::Accept(error));
                    break;
                }
            }
        }
        if result.is_ok() {
            result = first.run();
        } else {
            drop(first);
        }
        if result.is_err() {
            // One loop failed: stop the others the way a signal would.
            shared.shutdown.store(true, Ordering::SeqCst);
            shared.wake_loops();
        }
        for thread in others {
            let outcome = match thread.join() {
                Ok(outcome) => outcome,
                Err(panic) => std::panic::resume_unwind(panic),
            };
            if result.is_ok() {
                result = outcome;
            }
        }
        shared
            .mailboxes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        result
    }

    /// Runs the server on a background thread.
    pub fn spawn(self) -> RunningServer {
        let addr = self.addr;
        let shared = Arc::clone(&self.shared);
        let thread = thread::Builder::new()
            .name("wordwire-loop".into())
            .spawn(move || self.run())
            .expect("spawning the first loop thread: the process is out of threads at start-up");
        RunningServer {
            addr,
            shared,
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
        self.shared.shutdown.store(true, Ordering::SeqCst);
        self.shared.wake_loops();
        match self.thread.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Credentials;
    use crate::store::{Change, Deferred, Done, FileStore, Snapshot, StoreError, SyncMode};
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::sync::Mutex;
    use std::time::{Duration, Instant};

    /// With `--sync always` each loop commits its turn's writes itself, and a loop that
    /// finds another's batch underway leaves its writes to that loop: pipelined POSTs on
    /// connections of both loops are all answered, each once, and all are in the file.
    #[test]
    fn pipelined_durable_writes_on_both_loops_are_all_answered_and_stored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("words.txt");
        let (store, _) = FileStore::open(&path, SyncMode::Always).unwrap();
        let store = Arc::new(Deciders {
            store,
            threads: Mutex::default(),
        });
        let mut config = Config::new(([127, 0, 0, 1], 0).into(), Credentials::lab_default());
        config.threads = 2;
        let server = Server::bind(config, Arc::new(Arc::clone(&store)))
            .unwrap()
            .spawn();
        const CLIENTS: usize = 8;
        const WRITES: usize = 25;
        let clients: Vec<TcpStream> = (0..CLIENTS)
            .map(|_| TcpStream::connect(server.addr()).unwrap())
            .collect();
        for (c, mut client) in clients.iter().enumerate() {
            let mut requests = Vec::new();
            for w in 0..WRITES {
                let word = format!("c{c}w{w}");
                requests.extend_from_slice(
                    format!(
                        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n{word}",
                        word.len()
                    )
                    .as_bytes(),
                );
            }
            client.write_all(&requests).unwrap();
        }
        for (c, mut client) in clients.iter().enumerate() {
            client
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let want: String = (0..WRITES).map(|w| format!("added c{c}w{w}\n")).collect();
            let mut seen = Vec::new();
            let mut buf = [0u8; 4096];
            while String::from_utf8_lossy(&seen).matches("HTTP/1.1 ").count() < WRITES
                || !String::from_utf8_lossy(&seen).ends_with('\n')
            {
                let n = client.read(&mut buf).expect("every write is answered");
                assert_ne!(n, 0, "closed before answering every write");
                seen.extend_from_slice(&buf[..n]);
            }
            let text = String::from_utf8(seen).unwrap();
            assert_eq!(
                text.matches("HTTP/1.1 200 OK\r\n").count(),
                WRITES,
                "{text}"
            );
            let bodies: String = text
                .split("\r\n\r\n")
                .skip(1)
                .map(|part| part.split_once("HTTP/1.1").map_or(part, |(body, _)| body))
                .collect();
            assert_eq!(bodies, want, "answers in order, each once");
        }
        drop(clients);
        server.shutdown().unwrap();
        let file = std::fs::read_to_string(&path).unwrap();
        let mut lines: Vec<&str> = file.lines().collect();
        lines.sort_unstable();
        let mut want: Vec<String> = (0..CLIENTS)
            .flat_map(|c| (0..WRITES).map(move |w| format!("c{c}w{w}")))
            .collect();
        want.sort_unstable();
        assert_eq!(lines, want);
        // Decided by the loops at the end of their turns, not all by the store's committer.
        // How many depends on the disk: the committer takes the batches while appends
        // average over 0.5 ms (a shared CI disk has such moments), but never the first
        // batch, as the average starts at 0. The store's unit tests pin each case.
        let threads = store.threads.lock().unwrap();
        assert_eq!(threads.len(), CLIENTS * WRITES);
        assert!(
            threads.iter().any(|name| name == "wordwire-loop"),
            "{threads:?}"
        );
    }

    /// A `FileStore` that notes the name of the thread deciding each write.
    struct Deciders {
        store: FileStore,
        threads: Mutex<Vec<String>>,
    }

    impl Deciders {
        fn noting(self: &Arc<Self>, done: Done) -> Done {
            let me = Arc::clone(self);
            Box::new(move |result| {
                let name = thread::current().name().unwrap_or("").to_owned();
                me.threads.lock().unwrap().push(name);
                done(result);
            })
        }
    }

    impl Store for Arc<Deciders> {
        fn snapshot(&self) -> Result<Snapshot, StoreError> {
            self.store.snapshot()
        }
        fn submit(&self, change: Change, done: Done) {
            self.store.submit(change, self.noting(done));
        }
        fn submit_deferred(&self, change: Change, done: Done, deferred: &mut Deferred) {
            self.store
                .submit_deferred(change, self.noting(done), deferred);
        }
        fn commit_deferred(&self, deferred: &mut Deferred) {
            self.store.commit_deferred(deferred);
        }
    }

    /// A burst of connections (wrk opens all of its at once) ends up split evenly
    /// between the loops, not one or two ahead: a loop with more connections than
    /// the other is the one every request waits for.
    #[test]
    fn a_burst_of_connections_is_split_evenly_between_the_loops() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = FileStore::open(&dir.path().join("words.txt"), SyncMode::None).unwrap();
        let mut config = Config::new(([127, 0, 0, 1], 0).into(), Credentials::lab_default());
        config.threads = 2;
        let server = Server::bind(config, Arc::new(store)).unwrap().spawn();
        let clients: Vec<TcpStream> = (0..16)
            .map(|_| TcpStream::connect(server.addr()).unwrap())
            .collect();
        for mut client in &clients {
            client
                .write_all(b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n")
                .unwrap();
            client
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut answer = [0u8; 12];
            client.read_exact(&mut answer).unwrap();
            assert_eq!(&answer, b"HTTP/1.1 204");
        }
        // Every connection was answered, so each is in a loop (none in a mailbox).
        let loads = || -> Vec<usize> {
            let shared = &server.shared;
            shared
                .loads
                .iter()
                .map(|l| l.load(Ordering::SeqCst))
                .collect()
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        while loads().iter().sum::<usize>() != 16 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(loads(), vec![8, 8]);
        drop(clients);
        server.shutdown().unwrap();
    }
}
