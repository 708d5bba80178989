//! The blocking pool: runs the requests that may wait on the disk, off the event loops.
//!
//! Here: the worker threads, the job and completion types, and each loop's mailbox
//! (completions, connections handed over by another loop, and the `mio::Waker`
//! that tells the loop to collect them).
//! Elsewhere: which requests come here (`server::conn`), what a request means (`handler`).
//!
//! POST, PUT and DELETE end in a write and an fsync (`--sync always`); many can be
//! in flight at once, so that the store can share one fsync between them.

use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;

use crossbeam_channel::{Receiver, Sender};
use mio::net::TcpStream;

use crate::handler::Handler;
use crate::http::RequestHead;
use crate::http::response::Response;

/// Worker threads: enough for many concurrent fsyncs, few enough to cost little.
pub(super) const WORKERS: usize = 32;
/// Stack of a worker thread; the handler needs a few KiB.
const WORKER_STACK: usize = 256 * 1024;

/// One request to run: its head and body, and where the answer goes.
pub(super) struct Job {
    pub(super) head: RequestHead,
    pub(super) body: Vec<u8>,
    pub(super) reply_to: Arc<Mailbox>,
    /// The connection's slot and identity in its loop.
    pub(super) slot: usize,
    pub(super) id: u64,
}

/// A finished job, on its way back to the connection's loop.
pub(super) struct Completion {
    pub(super) slot: usize,
    pub(super) id: u64,
    pub(super) head: RequestHead,
    /// `Err` if the handler panicked.
    pub(super) response: Result<Response, ()>,
}

/// Where workers leave completions, and other loops connections, for one event loop.
pub(super) struct Mailbox {
    done: Mutex<Vec<Completion>>,
    arrivals: Mutex<Vec<(TcpStream, SocketAddr)>>,
    waker: mio::Waker,
}

impl Mailbox {
    pub(super) fn new(waker: mio::Waker) -> Mailbox {
        Mailbox {
            done: Mutex::new(Vec::new()),
            arrivals: Mutex::new(Vec::new()),
            waker,
        }
    }

    /// Leaves `completion` and wakes the loop, once per batch it has not collected yet.
    fn deliver(&self, completion: Completion) {
        let was_empty = {
            // A Vec of whole completions stays consistent even if a holder panicked.
            let mut done = self.done.lock().unwrap_or_else(PoisonError::into_inner);
            done.push(completion);
            done.len() == 1
        };
        if was_empty {
            let _ = self.waker.wake();
        }
    }

    /// Hands an accepted connection to this loop and wakes it.
    pub(super) fn hand_over(&self, stream: TcpStream, peer: SocketAddr) {
        // A Vec of whole entries stays consistent even if a holder panicked.
        let mut arrivals = self.arrivals.lock().unwrap_or_else(PoisonError::into_inner);
        arrivals.push((stream, peer));
        drop(arrivals);
        let _ = self.waker.wake();
    }

    /// Takes every connection handed over so far.
    pub(super) fn collect_arrivals(&self, into: &mut Vec<(TcpStream, SocketAddr)>) {
        let mut arrivals = self.arrivals.lock().unwrap_or_else(PoisonError::into_inner);
        std::mem::swap(&mut *arrivals, into);
    }

    /// Wakes the loop without a completion (shutdown).
    pub(super) fn wake(&self) {
        let _ = self.waker.wake();
    }

    /// Takes every completion left so far.
    pub(super) fn collect(&self, into: &mut Vec<Completion>) {
        let mut done = self.done.lock().unwrap_or_else(PoisonError::into_inner);
        std::mem::swap(&mut *done, into);
    }
}

/// The worker threads; dropping the pool lets them finish their jobs and end.
pub(super) struct Pool {
    jobs: Option<Sender<Job>>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl Pool {
    /// Starts `count` workers that run jobs against `handler`.
    pub(super) fn start(count: usize, handler: Arc<Handler>) -> std::io::Result<Pool> {
        let (jobs, queue) = crossbeam_channel::unbounded::<Job>();
        let mut threads = Vec::with_capacity(count);
        for _ in 0..count {
            let queue = queue.clone();
            let handler = Arc::clone(&handler);
            threads.push(
                thread::Builder::new()
                    .name("wordwire-worker".into())
                    .stack_size(WORKER_STACK)
                    .spawn(move || work(&queue, &handler))?,
            );
        }
        Ok(Pool {
            jobs: Some(jobs),
            threads,
        })
    }

    /// A handle for a loop to submit jobs with.
    pub(super) fn sender(&self) -> Sender<Job> {
        self.jobs
            .clone()
            .expect("the job sender lives until the pool is dropped")
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        // Workers end when every sender is gone and the queue is empty.
        self.jobs.take();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

fn work(queue: &Receiver<Job>, handler: &Handler) {
    while let Ok(job) = queue.recv() {
        let Job {
            head,
            body,
            reply_to,
            slot,
            id,
        } = job;
        // The panic message is already on stderr (the default hook); the loop answers 500.
        let response =
            catch_unwind(AssertUnwindSafe(|| handler.handle(&head, &body))).map_err(|_| ());
        reply_to.deliver(Completion {
            slot,
            id,
            head,
            response,
        });
    }
}
