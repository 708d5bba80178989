//! The word store: the text file is the source of truth, memory holds a copy for fast reads.
//!
//! Here: the `Store` interface the handler uses (`snapshot` and `submit`, the one write path),
//! the `Inline` adapter for stores that apply a change at once (test doubles), and the
//! store's errors.
//! Elsewhere: `FileStore`, the durable implementation: opening, closing and handing
//! changes to its committer (`store::file`); deciding what a request means (`handler`); the commit queue, group commit and
//! what a failure means (`store::committer`); what a batch of changes writes
//! (`store::commit`); atomic file replacement (`store::atomic`); validating and recovering the
//! file at start (`store::recover`); the one-server lock (`store::lock`); the system calls that
//! change the disk, and the fault-injection seam of the unit tests (`store::disk`).

mod atomic;
mod commit;
mod committer;
mod disk;
mod file;
mod lock;
mod recover;

/// For the durability tests (the unit tests here and the process tests in `tests/`).
#[doc(hidden)]
pub use disk::unsynced_pages;
pub use file::FileStore;
pub use recover::{BadLine, Recovery};

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::word::Word;

/// The exact bytes of the store file at one instant, shared without copying.
pub type Snapshot = Arc<Vec<u8>>;

/// Whether a write is fsync'd before it is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// fsync every change before answering (the default).
    Always,
    /// Leave flushing to the OS; a crash may lose acknowledged writes.
    None,
    /// Debug builds only, to show that the crash test catches an unsafe store: nothing is
    /// fsync'd and PUT/DELETE rewrite the file in place (truncate, then one write per line),
    /// so a crash mid-rewrite loses acknowledged words. Never use it for data.
    #[cfg(debug_assertions)]
    #[doc(hidden)]
    UnsafeInPlace,
}

/// Why the store could not do what was asked. Every variant but the start-up
/// ones becomes a 500; the server keeps running. Cloned for each request of a failed batch.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// Another process holds the store's lock. Example: a second `wordwire serve` on the same file.
    #[error("{path} is in use by another wordwire server (lock file {lock} is held)")]
    Locked { path: PathBuf, lock: PathBuf },
    /// A complete line of the file is not a word. The file is left untouched.
    /// Example: a line `hello world`. The server refuses to start.
    #[error("{path}:{line}: {problem}; fix or remove it")]
    InvalidLine {
        path: PathBuf,
        line: usize,
        problem: BadLine,
    },
    /// The store path names something other than a regular file. Example: `--store /dev/zero`.
    /// The server refuses to start.
    #[error("{path} is {kind}; the store must be a regular file")]
    NotAFile { path: PathBuf, kind: &'static str },
    /// The directory the store would be in is missing. Example: `--store nodir/words.txt`.
    /// The server refuses to start.
    #[error("cannot open the store {path}: directory {dir} {why}")]
    NoDirectory {
        path: PathBuf,
        dir: PathBuf,
        why: &'static str,
    },
    /// An operating-system call failed. Example: disk full during append. Becomes 500.
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: Arc<std::io::Error>,
    },
    /// An earlier failure left the file's durability in doubt, so writes are refused
    /// until a restart. Becomes 500.
    #[error("store is read-only after an earlier failure: {reason}")]
    ReadOnly { reason: String },
}

impl StoreError {
    /// `Io`: `action` (a verb phrase, "append to") on `path` failed with `source`.
    pub fn io(action: &'static str, path: &Path, source: std::io::Error) -> StoreError {
        StoreError::Io {
            action,
            path: path.to_path_buf(),
            source: Arc::new(source),
        }
    }
}

/// One write a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// POST: `word` becomes a new last line.
    Append(Word),
    /// PUT: every line equal to `old` becomes `new`.
    Replace { old: Word, new: Word },
    /// DELETE: every line equal to the word goes.
    Delete(Word),
}

/// What `Store::submit` calls with a change's outcome: for an append `Ok(1)`, for a PUT or
/// DELETE how many lines it changed (0: none matched, the file was not touched).
pub type Done = Box<dyn FnOnce(Result<usize, StoreError>) + Send>;

/// What the handler may do with the words. Implementations serialise writes;
/// reads never wait for a write's fsync.
pub trait Store: Send + Sync {
    /// The file's bytes as of the last acknowledged change.
    fn snapshot(&self) -> Result<Snapshot, StoreError>;
    /// Queues `change`; `done` is called exactly once, on some thread (maybe this one, before
    /// `submit` returns), once the change is durable (unless `SyncMode::None`) or has failed.
    /// The caller never blocks on the disk.
    fn submit(&self, change: Change, done: Done);

    /// As `submit`, for a caller that calls `commit_deferred` with the same `deferred` before
    /// it next waits for anything (an event loop, before it polls). A store that commits on a
    /// thread of its own may leave the change for that call instead of waking the thread, so
    /// that the changes of a whole turn of the loop make one batch and are answered on the
    /// loop's thread (as Redis's `appendfsync always` does). The default is `submit`.
    fn submit_deferred(&self, change: Change, done: Done, deferred: &mut Deferred) {
        let _ = deferred;
        self.submit(change, done);
    }

    /// Commits what `submit_deferred` left in `deferred`, unless a batch already took it or
    /// another thread is committing one (which then takes it next). The commit blocks for
    /// its I/O, and the batch's answers are delivered before this returns. Afterwards
    /// `deferred` is pending again only if changes queued meanwhile are left for this caller
    /// (its next turn). The default does nothing.
    fn commit_deferred(&self, deferred: &mut Deferred) {
        let _ = deferred;
    }
}

/// What a caller of `Store::submit_deferred` still has to commit: whether it queued changes
/// of its own (`own`); whether changes of other threads, queued
/// while this caller committed a batch, are left to it (`more`); and whether it found another
/// thread's batch underway and should look again when it next comes by (`retry`).
#[derive(Debug, Default)]
pub struct Deferred {
    own: bool,
    more: bool,
    retry: bool,
}

impl Deferred {
    /// Whether `Store::commit_deferred` has something to do that the caller must not sleep
    /// on: its own changes, or others' left to it. (A `retry` is worth a call whenever the
    /// caller is awake, but another thread has those changes.)
    pub fn is_pending(&self) -> bool {
        self.own || self.more
    }

    /// Whether a call of `Store::commit_deferred` would do nothing.
    pub fn is_empty(&self) -> bool {
        !self.is_pending() && !self.retry
    }
}

/// A store that applies a change at once on the caller's thread: the shape of a test double.
/// [`Inline`] makes it a [`Store`].
pub trait Apply: Send + Sync {
    /// As [`Store::snapshot`].
    fn snapshot(&self) -> Result<Snapshot, StoreError>;
    /// Applies `change` and returns what `Store::submit` would pass to `done`.
    fn apply(&self, change: &Change) -> Result<usize, StoreError>;
}

/// The `Store` of an [`Apply`]: `submit` applies the change and calls `done` before returning.
pub struct Inline<S>(pub S);

impl<S: Apply> Store for Inline<S> {
    fn snapshot(&self) -> Result<Snapshot, StoreError> {
        self.0.snapshot()
    }

    fn submit(&self, change: Change, done: Done) {
        done(self.0.apply(&change));
    }
}

/// `<store>.<suffix>`, next to the store: where its lock and torn tails live.
fn sidecar_path(store: &Path, suffix: &str) -> PathBuf {
    let mut name = store.as_os_str().to_os_string();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}

fn open_append(path: &Path) -> Result<File, StoreError> {
    OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(|source| StoreError::io("open for append", path, source))
}

#[cfg(test)]
mod tests;
