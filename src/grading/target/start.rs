//! Starting a command's server for one transcript, whichever way it runs: now
//! (`Started::start`), or ahead on a thread of its own (`Starting`, once the start
//! queue gives it a turn).
//!
//! Here: `Started` (one started target: `boxed` or `unboxed`; its connector, its
//! store, its stop), `Starting` and the `OwnedLaunch` its thread holds.
//! Elsewhere: what a start is asked and what a failed one says (`foreign`), the
//! two ways to run (`boxed`, `unboxed`), the turn (`queue`), failing fast (`gate`).
//! Above `foreign`, `boxed` and `unboxed`, which know nothing of it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::foreign::{Launch, StartError, Watch};
use super::gate::Signature;
use super::queue::{STARTS, Ticket};
use super::{CommandTarget, Isolation, boxed, unboxed};
use crate::grading::play::Connector;

/// One started target: its server listens.
pub enum Started {
    Boxed(Box<boxed::BoxedTarget>),
    Unboxed(unboxed::UnboxedTarget),
}

impl Started {
    /// Starts `target` for one transcript and waits until it listens. A target whose
    /// gate has closed is not started; a failure is recorded in the gate. On failure
    /// the message names the command and ends with the end of its output (or, when
    /// that output was reported on another transcript already, says where).
    pub fn start(target: &CommandTarget, launch: Launch<'_>) -> Result<Started, String> {
        if let Some(closed) = target.gate.closed() {
            return Err(closed.not_started());
        }
        if let Some(watch) = launch.watch {
            watch.mark_starting();
        }
        let started = match &target.isolation {
            Isolation::Boxed(setup) => {
                boxed::start(setup, target, launch).map(|b| Started::Boxed(Box::new(b)))
            }
            Isolation::Unboxed => unboxed::start(target, launch).map(Started::Unboxed),
        };
        match started {
            Ok(started) => {
                target.gate.succeeded();
                Ok(started)
            }
            Err(StartError {
                message,
                output,
                signature: Some(signature),
            }) if !launch.watch.is_some_and(|w| w.killed()) => {
                let signature = Signature {
                    args: launch.args.to_vec(),
                    ..signature
                };
                match target.gate.failed(launch.transcript, signature) {
                    Some(closed) => Err(format!(
                        "{message}; its output as under {}, where it is shown",
                        closed.first
                    )),
                    None => Err(format!("{message}{output}")),
                }
            }
            Err(e) => Err(format!("{}{}", e.message, e.output)),
        }
    }

    /// Where the play opens its connections.
    pub fn connector(&self) -> &dyn Connector {
        match self {
            Started::Boxed(b) => b.as_ref(),
            Started::Unboxed(u) => u,
        }
    }

    /// The store file the target was given (`{store}`), read for `expect-store`.
    pub fn store(&self) -> &Path {
        match self {
            Started::Boxed(b) => b.store(),
            Started::Unboxed(u) => u.store(),
        }
    }

    /// Stops the target (every process of its box; its process group without one) and
    /// removes its files. Returns `Some(message)` if the server had died, or dies within
    /// `grace` (a failed play may have seen it dying): how, and the end of its output.
    pub fn finish(self, grace: Duration) -> Option<String> {
        match self {
            Started::Boxed(b) => b.finish(grace),
            Started::Unboxed(u) => u.finish(grace),
        }
    }
}

/// A start on a thread of its own: the server of the next transcript, starting while
/// the one before it plays (`grading::ahead`). Dropped unwaited, it kills what it
/// started (its watch) and waits for the thread.
pub struct Starting {
    thread: Option<std::thread::JoinHandle<Result<Started, String>>>,
    watch: Arc<Watch>,
    /// Its place in the queue of starts (`queue::STARTS`).
    ticket: Arc<Ticket>,
}

/// What `Launch` borrows, owned by a `Starting`'s thread.
pub struct OwnedLaunch {
    pub transcript: PathBuf,
    pub args: Vec<String>,
    pub store: Option<Vec<u8>>,
    pub write_limit: Option<u64>,
}

impl OwnedLaunch {
    /// The `Launch` it owns, under `watch`.
    fn launch<'a>(&'a self, watch: &'a Arc<Watch>) -> Launch<'a> {
        Launch {
            transcript: &self.transcript,
            args: &self.args,
            store: self.store.as_deref(),
            write_limit: self.write_limit,
            watch: Some(watch),
        }
    }
}

impl Starting {
    /// Starts `target` as `launch` says on a new thread, under `watch`; `None` when
    /// no thread can be made (the user's process limit reached): the start is left to
    /// the play.
    pub fn spawn(
        target: CommandTarget,
        launch: OwnedLaunch,
        watch: Arc<Watch>,
    ) -> Option<Starting> {
        let thread_watch = watch.clone();
        let ticket = Arc::new(STARTS.ticket());
        let thread_ticket = ticket.clone();
        let spawned = std::thread::Builder::new()
            .name("start-ahead".into())
            .spawn(move || {
                let given_up = || thread_watch.killed();
                let Some(_slot) = STARTS.wait(&thread_ticket, target.starts, given_up) else {
                    return Err("stopped before it started".to_string());
                };
                Started::start(&target, launch.launch(&thread_watch))
            });
        spawned.ok().map(|thread| Starting {
            thread: Some(thread),
            watch,
            ticket,
        })
    }

    /// Waits for the start: the server listens, or why not.
    pub fn wait(mut self) -> Result<Started, String> {
        STARTS.hurry(&self.ticket);
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(started)) => started,
            _ => Err("the start's thread ended without an answer".to_string()),
        }
    }
}

impl Drop for Starting {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.watch.kill();
            // A target that listened before the kill is stopped as it drops.
            let _ = thread.join();
        }
    }
}
