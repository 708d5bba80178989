//! The word store: the text file is the source of truth, memory holds a copy for fast reads.
//!
//! Here: the `Store` interface the handler uses, and `FileStore`, its durable implementation
//! with group commit.
//! Elsewhere: deciding what a request means (`handler`); what a batch of changes writes
//! (`store::commit`); atomic file replacement (`store::atomic`); validating and recovering the
//! file at start (`store::recover`); the one-server lock (`store::lock`); the system calls that
//! change the disk (`store::disk`).
//!
//! Group commit. A write (`Store::submit`: a `Change` and a callback) takes the state mutex
//! only to check it against the word counts and queue it; its caller does not wait. With
//! `SyncMode::Always` the committer thread takes the whole queue as one batch, lets go of the
//! mutex, and does the batch's I/O: for a batch of POSTs one `write(2)` of all their lines,
//! then one `fdatasync`; for a batch holding any PUT or DELETE the whole new content, computed
//! in one pass (`store::commit::plan`) and written through `store::atomic` (one temporary
//! file, one fsync, one rename, one directory fsync). Then it publishes the batch and calls
//! every callback of the batch, outside the mutex. Changes that arrive meanwhile queue up and
//! form the next batch, so the number of fsyncs per second stays bounded by the disk while
//! the changes per fsync grow with concurrency. Every change is written before the fsync that
//! acknowledges it starts. With the other modes there is no committer: the thread that queues
//! a change commits the queue (until it is empty) unless another thread is doing so. The
//! synchronous `append`, `replace_all` and `delete_all` submit and wait for the callback.
//!
//! How memory stays equal to the file: between batches the file holds exactly the published
//! snapshot. A batch reaches memory only after it reached the file and was fsync'd, and is
//! published before any of its requests is answered; readers take the current `Arc` under a
//! read lock that is held for a pointer copy, so a GET never waits for I/O and never sees a
//! change that could still be lost. The counts describe the store with every accepted change
//! applied, so a PUT or DELETE is answered as if the changes before it had all happened; a
//! request whose answer rests on changes not yet committed waits for them (`Queued::Barrier`).
//! If a batch fails, every change accepted so far fails with it (the later ones were counted
//! against a state that includes the failed batch): the file is put back, memory and counts
//! return to the last committed state, and each of those requests gets the error. A failure
//! whose effect on the file is uncertain, any failed fsync, or a panic during a commit, makes
//! the store read-only.

mod atomic;
mod commit;
mod disk;
mod lock;
mod recover;

pub use recover::Recovery;

use std::collections::HashMap;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, RwLock, mpsc};
use std::thread;

use crate::word::Word;
use commit::{Plan, Queued};

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
/// ones becomes a 500; the server keeps running.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process holds the store's lock. Example: a second `wordwire serve` on the same file.
    #[error("{path} is in use by another wordwire server (lock file {lock} is held)")]
    Locked { path: PathBuf, lock: PathBuf },
    /// A complete line of the file is not a word. The file is left untouched.
    /// Example: a line `hello world`. The server refuses to start.
    #[error("{path}:{line}: line is not a word (1-64 ASCII letters or digits); fix or remove it")]
    InvalidLine { path: PathBuf, line: usize },
    /// An operating-system call failed. Example: disk full during append. Becomes 500.
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An earlier failure left the file's durability in doubt, so writes are refused
    /// until a restart. Becomes 500.
    #[error("store is read-only after an earlier failure: {reason}")]
    ReadOnly { reason: String },
}

impl StoreError {
    /// The same error again, for each request of a failed batch (`io::Error` is not `Clone`).
    fn duplicate(&self) -> StoreError {
        match self {
            StoreError::Locked { path, lock } => StoreError::Locked {
                path: path.clone(),
                lock: lock.clone(),
            },
            StoreError::InvalidLine { path, line } => StoreError::InvalidLine {
                path: path.clone(),
                line: *line,
            },
            StoreError::Io {
                action,
                path,
                source,
            } => StoreError::Io {
                action,
                path: path.clone(),
                source: std::io::Error::new(source.kind(), source.to_string()),
            },
            StoreError::ReadOnly { reason } => StoreError::ReadOnly {
                reason: reason.clone(),
            },
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
    /// Appends `word` as a new last line. Durable on return unless `SyncMode::None`.
    fn append(&self, word: &Word) -> Result<(), StoreError>;
    /// Replaces every line equal to `old` with `new`; returns how many. With 0 the file is not touched.
    fn replace_all(&self, old: &Word, new: &Word) -> Result<usize, StoreError>;
    /// Removes every line equal to `word`; returns how many. With 0 the file is not touched.
    fn delete_all(&self, word: &Word) -> Result<usize, StoreError>;
    /// Queues `change`; `done` is called, on some thread (maybe this one, before `submit`
    /// returns), once the change is durable (as the synchronous method's return would be) or
    /// has failed, with what that method returns (1 for an append). The caller never blocks
    /// on the disk unless the implementation does its I/O inline (the default here does).
    fn submit(&self, change: Change, done: Done) {
        let result = match &change {
            Change::Append(word) => self.append(word).map(|()| 1),
            Change::Replace { old, new } => self.replace_all(old, new),
            Change::Delete(word) => self.delete_all(word),
        };
        done(result);
    }
}

/// The durable `Store`: a text file of words, one per line, owned by this process for as long
/// as the value lives (see `store::lock`). With `SyncMode::Always` it runs a committer thread,
/// which drains the queue before the value's drop returns.
pub struct FileStore {
    core: Arc<Core>,
    committer: Option<thread::JoinHandle<()>>,
}

/// What `FileStore` and its committer thread share.
struct Core {
    path: PathBuf,
    sync: SyncMode,
    /// The commit queue and what only writers touch. Never held across I/O or a callback.
    state: Mutex<State>,
    /// Where the committer thread sleeps while the queue is empty.
    queued: Condvar,
    /// Whether batches are committed by the committer thread (`SyncMode::Always`) or by the
    /// thread that queued a change (the others, whose I/O only reaches the page cache).
    has_committer: bool,
    /// The file's bytes as of the last committed batch. Only the committing thread replaces
    /// or extends it, and only after the file has the same bytes.
    published: RwLock<Snapshot>,
    // Declared last so that it is dropped last: the lock outlives every handle on the store.
    _lock: lock::StoreLock,
}

/// Called once with a queued change's outcome.
type Decide = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// What writers share under `Core::state`.
struct State {
    /// The store opened with `O_APPEND`, so every write lands at the end (POSIX write(2)).
    /// Only the committing thread writes through it, without holding the mutex, hence the `Arc`.
    file: Arc<File>,
    /// How often each word occurs once every accepted change is applied, so a PUT or DELETE
    /// that matches nothing costs one lookup and every answer is known when it is queued.
    /// Not maintained once the store is read-only, as no write consults it then.
    counts: HashMap<Word, usize>,
    /// Why the store refuses writes, once a failure left the file's state in doubt.
    read_only: Option<String>,
    /// Accepted changes that no batch has taken yet, in order.
    queue: Vec<Queued>,
    /// Who is told each change's outcome, in the same order as `queue`.
    waiting: Vec<Decide>,
    /// The faults armed by the thread that queued each change, in the same order.
    #[cfg(test)]
    faults: Vec<disk::faults::Local>,
    /// How many changes were accepted.
    accepted: u64,
    /// A batch is being committed.
    leading: bool,
    /// The committer thread waits on `Core::queued` (so the next change must notify it).
    committer_idle: bool,
    /// The `FileStore` is being dropped: the committer ends once the queue is empty.
    stopping: bool,
    /// How many batches did I/O, so tests can see fsyncs being shared.
    #[cfg(test)]
    batches_written: usize,
}

/// A decided batch (and, after a failure, every change queued behind it): the outcomes to
/// hand out once the mutex is let go.
struct Decided {
    decides: Vec<Decide>,
    error: Option<StoreError>,
}

impl Decided {
    fn deliver(self) {
        for decide in self.decides {
            decide(match &self.error {
                None => Ok(()),
                Some(error) => Err(error.duplicate()),
            });
        }
    }
}

/// How a batch's I/O failed, and what that means for the store.
enum Failure {
    /// The file is as it was before the batch; the store stays writable.
    NotApplied(StoreError),
    /// The file's content or durability is in doubt: refuse writes until a restart.
    ReadOnly { reason: String, memory: Memory },
}

/// What memory must show after a failure that makes the store read-only.
enum Memory {
    /// The file was left (or put back) as the published snapshot.
    Keep,
    /// The file may differ from the snapshot in a way only the file can tell.
    Reread,
    /// The file now holds these bytes.
    Set(Vec<u8>),
}

/// What a committed batch changes in memory.
enum Committed {
    Nothing,
    /// These lines were appended.
    Appended(Vec<u8>),
    /// The file was replaced with these bytes; `file` is an append handle on the new inode
    /// (`None` if the inode did not change).
    Rewritten {
        content: Vec<u8>,
        file: Option<File>,
    },
}

impl FileStore {
    /// Opens (creating if missing, with the directory fsynced) and validates the store file,
    /// takes its lock, and recovers from an interrupted write. With `SyncMode::None` nothing,
    /// including the repairs, is fsync'd. With `SyncMode::Always` starts the committer thread.
    ///
    /// Returns the store and what was repaired, in order, for the start-up log.
    /// Errors: `Locked` if another `FileStore` (in any process) has the file; `InvalidLine` if a
    /// complete line is not a word (the file is left byte-for-byte untouched); `Io` otherwise
    /// (including failing to start the committer thread).
    pub fn open(path: &Path, sync: SyncMode) -> Result<(FileStore, Vec<Recovery>), StoreError> {
        // Lock before looking at the file: repairs by two servers at once would race.
        let lock = lock::acquire(path)?;
        let recovered = recover::recover(path, sync)?;
        let file = open_append(path)?;
        let has_committer = sync == SyncMode::Always;
        let core = Arc::new(Core {
            path: path.to_path_buf(),
            sync,
            state: Mutex::new(State {
                file: Arc::new(file),
                counts: recovered.counts,
                read_only: None,
                queue: Vec::new(),
                waiting: Vec::new(),
                #[cfg(test)]
                faults: Vec::new(),
                accepted: 0,
                leading: false,
                committer_idle: false,
                stopping: false,
                #[cfg(test)]
                batches_written: 0,
            }),
            queued: Condvar::new(),
            has_committer,
            published: RwLock::new(Arc::new(recovered.bytes)),
            _lock: lock,
        });
        let committer = if has_committer {
            let core = Arc::clone(&core);
            let thread = thread::Builder::new()
                .name("wordwire-commit".into())
                .spawn(move || core.run_committer())
                .map_err(|source| StoreError::Io {
                    action: "start the committer thread for",
                    path: path.to_path_buf(),
                    source,
                })?;
            Some(thread)
        } else {
            None
        };
        Ok((FileStore { core, committer }, recovered.recoveries))
    }

    /// The store file's path, as given to `open`.
    pub fn path(&self) -> &Path {
        &self.core.path
    }

    /// Submits `change` and waits for its outcome.
    fn wait(&self, change: Change) -> Result<usize, StoreError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.core.submit(
            change,
            Box::new(move |result| {
                // The waiter is this very call, so it is still there.
                let _ = tx.send(result);
            }),
        );
        rx.recv().unwrap_or_else(|_| {
            Err(StoreError::ReadOnly {
                reason: "a commit ended without deciding a change".to_owned(),
            })
        })
    }

    #[cfg(test)]
    fn state(&self) -> MutexGuard<'_, State> {
        self.core.state()
    }
}

impl Drop for FileStore {
    fn drop(&mut self) {
        let Some(committer) = self.committer.take() else {
            return;
        };
        self.core.state().stopping = true;
        self.core.queued.notify_one();
        // Never join from the committer itself (a last handle dropped by one of its callbacks).
        if committer.thread().id() != thread::current().id() {
            let _ = committer.join();
        }
    }
}

impl Core {
    fn current(&self) -> Snapshot {
        // A panicking reader cannot leave the `Arc` half-written, so poisoning means nothing here.
        self.published
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn publish(&self, bytes: Snapshot) {
        *self
            .published
            .write()
            .unwrap_or_else(PoisonError::into_inner) = bytes;
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Only a bug can panic under this mutex (no I/O and no callback happens under it); a
        // commit's own panics are handled by `CommitGuard`. Writes check `is_poisoned` in
        // `writable`.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The state, if the store still accepts writes.
    fn writable(&self) -> Result<MutexGuard<'_, State>, StoreError> {
        if self.state.is_poisoned() {
            return Err(StoreError::ReadOnly {
                reason: "a write panicked midway, so the file may not match memory".to_owned(),
            });
        }
        let state = self.state();
        if let Some(reason) = &state.read_only {
            return Err(StoreError::ReadOnly {
                reason: reason.clone(),
            });
        }
        Ok(state)
    }

    fn io_error(&self, action: &'static str, source: std::io::Error) -> StoreError {
        StoreError::Io {
            action,
            path: self.path.clone(),
            source,
        }
    }

    /// Checks `change` against the counts and queues it, or answers at once: a refusal of a
    /// read-only store, or a PUT or DELETE that matches nothing with nothing uncommitted.
    fn submit(&self, change: Change, done: Done) {
        let mut state = match self.writable() {
            Ok(state) => state,
            Err(error) => return done(Err(error)),
        };
        match change {
            Change::Append(word) => {
                *state.counts.entry(word.clone()).or_default() += 1;
                self.enqueue(
                    state,
                    Queued::Append(word),
                    Box::new(move |result| done(result.map(|()| 1))),
                );
            }
            Change::Replace { old, new } => {
                let matches = state.counts.get(&old).copied().unwrap_or(0);
                if matches == 0 || old == new {
                    // Nothing would change, so the file is not touched.
                    return self.settle(state, matches, done);
                }
                state.counts.remove(&old);
                *state.counts.entry(new.clone()).or_default() += matches;
                self.enqueue(
                    state,
                    Queued::Replace { old, new },
                    Box::new(move |result| done(result.map(|()| matches))),
                );
            }
            Change::Delete(word) => {
                let matches = state.counts.get(&word).copied().unwrap_or(0);
                if matches == 0 {
                    return self.settle(state, 0, done);
                }
                state.counts.remove(&word);
                self.enqueue(
                    state,
                    Queued::Delete(word),
                    Box::new(move |result| done(result.map(|()| matches))),
                );
            }
        }
    }

    /// Answers `answer`, read from the counts without changing anything, once every change
    /// accepted so far is decided (at once if none is pending), or the error of a failure
    /// among them.
    fn settle<'a>(&'a self, state: MutexGuard<'a, State>, answer: usize, done: Done) {
        if !state.leading && state.queue.is_empty() {
            drop(state);
            return done(Ok(answer));
        }
        self.enqueue(
            state,
            Queued::Barrier,
            Box::new(move |result| done(result.map(|()| answer))),
        );
    }

    /// Queues `change`; `decide` gets its outcome. With a committer, wakes it if it sleeps;
    /// without, commits here unless another thread is committing (it drains the queue).
    fn enqueue<'a>(&'a self, mut state: MutexGuard<'a, State>, change: Queued, decide: Decide) {
        state.accepted += 1;
        state.queue.push(change);
        state.waiting.push(decide);
        #[cfg(test)]
        state.faults.push(disk::faults::take_local());
        if self.has_committer {
            if state.committer_idle {
                state.committer_idle = false;
                drop(state);
                self.queued.notify_one();
            }
            return;
        }
        while !state.leading && !state.queue.is_empty() {
            self.commit_next(state).deliver();
            state = self.state();
        }
    }

    /// The committer thread: commits whole batches while changes are queued, sleeps while
    /// none is, and ends once the store is dropped and the queue is empty.
    fn run_committer(&self) {
        let mut state = self.state();
        loop {
            if state.queue.is_empty() {
                if state.stopping {
                    return;
                }
                state.committer_idle = true;
                state = self
                    .queued
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            // A panic in a commit was turned into a failed batch by `CommitGuard` (the store
            // is read-only); the thread goes on, so later changes are refused, not stranded.
            let _ = catch_unwind(AssertUnwindSafe(|| self.commit_next(state).deliver()));
            state = self.state();
        }
    }

    /// Commits every queued change as one batch: takes the queue, does the I/O without the
    /// mutex, then publishes and decides the batch (after a failure, every queued change with
    /// it). Called with the mutex held and no batch being committed; returns the outcomes for
    /// the caller to deliver once the mutex is let go.
    fn commit_next(&self, mut state: MutexGuard<'_, State>) -> Decided {
        let batch = std::mem::take(&mut state.queue);
        let decides = std::mem::take(&mut state.waiting);
        #[cfg(test)]
        for faults in std::mem::take(&mut state.faults) {
            disk::faults::install(faults);
        }
        let file = Arc::clone(&state.file);
        state.leading = true;
        drop(state);

        let mut guard = CommitGuard {
            core: self,
            decides,
        };
        // Only the committing thread changes the snapshot, so this is the file's content now.
        let base = self.current();
        let outcome = self.commit(&file, &base, &batch);
        // Held past here, this clone would make `Arc::make_mut` below copy the whole
        // snapshot for every batch of appends.
        drop(base);
        let mut decides = std::mem::take(&mut guard.decides);
        drop(guard);

        let mut state = self.state();
        state.leading = false;
        let error = match outcome {
            Ok(committed) => {
                #[cfg(test)]
                if !matches!(committed, Committed::Nothing) {
                    state.batches_written += 1;
                }
                match committed {
                    Committed::Nothing => {}
                    Committed::Appended(lines) => {
                        let mut published = self
                            .published
                            .write()
                            .unwrap_or_else(PoisonError::into_inner);
                        // Extends in place unless a reader still holds this snapshot, in which
                        // case it copies. Readers wait on this lock for a memcpy at most.
                        Arc::make_mut(&mut published).extend_from_slice(&lines);
                    }
                    Committed::Rewritten { content, file } => {
                        self.publish(Arc::new(content));
                        if let Some(file) = file {
                            state.file = Arc::new(file);
                        }
                    }
                }
                None
            }
            Err(failure) => Some(self.fail_all_queued(&mut state, failure, &mut decides)),
        };
        Decided { decides, error }
    }

    /// Fails the batch that failed and every change queued after it, which were counted
    /// against a state that included it: takes them out of the queue (into `decides`) and
    /// puts memory and the counts back in line with the file. Returns the error they get.
    fn fail_all_queued(
        &self,
        state: &mut State,
        failure: Failure,
        decides: &mut Vec<Decide>,
    ) -> StoreError {
        let error = match failure {
            Failure::NotApplied(error) => {
                state.counts = count_words(&self.current());
                error
            }
            Failure::ReadOnly { mut reason, memory } => {
                match memory {
                    Memory::Keep => {}
                    Memory::Set(bytes) => self.publish(Arc::new(bytes)),
                    Memory::Reread => match std::fs::read(&self.path) {
                        Ok(bytes) => self.publish(Arc::new(bytes)),
                        Err(e) => reason.push_str(&format!(
                            "; re-reading {} also failed ({e}), so reads show the last acknowledged content",
                            self.path.display()
                        )),
                    },
                }
                state.read_only = Some(reason.clone());
                StoreError::ReadOnly { reason }
            }
        };
        state.queue.clear();
        #[cfg(test)]
        state.faults.clear();
        decides.append(&mut state.waiting);
        error
    }

    /// The I/O of one batch, on `file` whose content is `base`.
    fn commit(&self, file: &File, base: &[u8], batch: &[Queued]) -> Result<Committed, Failure> {
        match commit::plan(base, batch) {
            Plan::Nothing => Ok(Committed::Nothing),
            Plan::Append(lines) => self.append_lines(file, base.len() as u64, lines),
            Plan::Rewrite(content) => self.rewrite(content),
        }
    }

    /// Appends `lines` (the batch's POSTs) in one write and fsyncs once.
    fn append_lines(&self, file: &File, before: u64, lines: Vec<u8>) -> Result<Committed, Failure> {
        // One write(2): O_APPEND makes it land at the end in one piece unless the disk fails
        // partway, which the undo below handles.
        if let Err(source) = disk::write_all(file, &lines) {
            let error = self.io_error("append to", source);
            return Err(self.undo_append(file, before, error));
        }
        if self.sync == SyncMode::Always
            && let Err(source) = disk::sync_data(file)
        {
            // fsyncgate: after a failed fsync the kernel may have dropped the dirty pages and a
            // retry may falsely succeed, so this file's durability cannot be promised any more.
            // Still take the lines back out so that the file matches the errors.
            let _ = disk::set_len(file, before);
            return Err(Failure::ReadOnly {
                reason: self.io_error("fsync", source).to_string(),
                memory: Memory::Reread,
            });
        }
        Ok(Committed::Appended(lines))
    }

    /// Takes a failed append back out of the file (length `before`), so that the file is as it
    /// was when the batch is answered with an error.
    fn undo_append(&self, file: &File, before: u64, error: StoreError) -> Failure {
        if let Err(source) = disk::set_len(file, before) {
            return Failure::ReadOnly {
                reason: format!(
                    "{error}; then truncating it back failed: {}",
                    self.io_error("truncate", source)
                ),
                memory: Memory::Reread,
            };
        }
        if self.sync == SyncMode::Always {
            // Without this a crash could bring the partial line back, and a non-empty prefix of
            // a word is a word, so recovery would keep a change that was answered with an error.
            if let Err(source) = disk::sync_data(file) {
                return Failure::ReadOnly {
                    reason: format!(
                        "{error}; then fsync after truncating it back failed: {}",
                        self.io_error("fsync", source)
                    ),
                    memory: Memory::Reread,
                };
            }
        }
        Failure::NotApplied(error)
    }

    /// Replaces the file with `content` through `store::atomic`.
    fn rewrite(&self, content: Vec<u8>) -> Result<Committed, Failure> {
        #[cfg(debug_assertions)]
        if self.sync == SyncMode::UnsafeInPlace {
            return match atomic::overwrite_in_place_unsafely(&self.path, &content) {
                Ok(()) => Ok(Committed::Rewritten {
                    content,
                    file: None,
                }),
                Err(error) => Err(Failure::ReadOnly {
                    reason: error.to_string(),
                    memory: Memory::Reread,
                }),
            };
        }
        match atomic::replace(&self.path, &content, self.sync) {
            Ok(()) => {}
            Err(atomic::ReplaceError::NotReplaced {
                error,
                fsync_failed,
            }) => {
                return Err(if fsync_failed {
                    // The store file is untouched, but a failed fsync means the disk cannot be
                    // trusted (fsyncgate), so stop accepting writes.
                    Failure::ReadOnly {
                        reason: error.to_string(),
                        memory: Memory::Keep,
                    }
                } else {
                    Failure::NotApplied(error)
                });
            }
            Err(atomic::ReplaceError::DirectoryNotSynced(error)) => {
                // The rename is visible, so memory must show the new content too.
                return Err(Failure::ReadOnly {
                    reason: error.to_string(),
                    memory: Memory::Set(content),
                });
            }
        }
        // The rename gave the name a new inode; the old handle would append to the unlinked file.
        match open_append(&self.path) {
            Ok(file) => Ok(Committed::Rewritten {
                content,
                file: Some(file),
            }),
            Err(error) => Err(Failure::ReadOnly {
                reason: error.to_string(),
                memory: Memory::Set(content),
            }),
        }
    }
}

/// Fails the batch if its commit panics midway, so that the requests waiting for it (and every
/// change queued behind it) get an error instead of waiting forever, and the store goes
/// read-only.
struct CommitGuard<'a> {
    core: &'a Core,
    /// The batch's outcomes, taken back by the commit once its I/O returned.
    decides: Vec<Decide>,
}

impl Drop for CommitGuard<'_> {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let mut decides = std::mem::take(&mut self.decides);
        let mut state = self.core.state();
        state.leading = false;
        let error = self.core.fail_all_queued(
            &mut state,
            Failure::ReadOnly {
                reason: "a commit panicked midway, so the file may not match memory".to_owned(),
                memory: Memory::Reread,
            },
            &mut decides,
        );
        drop(state);
        Decided {
            decides,
            error: Some(error),
        }
        .deliver();
    }
}

impl Store for FileStore {
    fn snapshot(&self) -> Result<Snapshot, StoreError> {
        Ok(self.core.current())
    }

    fn append(&self, word: &Word) -> Result<(), StoreError> {
        self.wait(Change::Append(word.clone())).map(|_| ())
    }

    fn replace_all(&self, old: &Word, new: &Word) -> Result<usize, StoreError> {
        self.wait(Change::Replace {
            old: old.clone(),
            new: new.clone(),
        })
    }

    fn delete_all(&self, word: &Word) -> Result<usize, StoreError> {
        self.wait(Change::Delete(word.clone()))
    }

    fn submit(&self, change: Change, done: Done) {
        self.core.submit(change, done);
    }
}

impl fmt::Debug for FileStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileStore")
            .field("path", &self.core.path)
            .field("sync", &self.core.sync)
            .finish_non_exhaustive()
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
        .map_err(|source| StoreError::Io {
            action: "open for append",
            path: path.to_path_buf(),
            source,
        })
}

/// How often each line of `bytes` (complete lines of words, as published) occurs.
fn count_words(bytes: &[u8]) -> HashMap<Word, usize> {
    let mut counts = HashMap::new();
    for line in bytes.split(|&b| b == b'\n') {
        if let Ok(word) = Word::parse(line) {
            *counts.entry(word).or_default() += 1;
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::disk::Call;
    use super::disk::faults::{Fault, arm, before, pending};
    use super::*;
    use std::fs;
    use std::os::unix::fs::MetadataExt;
    use std::sync::mpsc;

    fn word(text: &str) -> Word {
        Word::parse(text.as_bytes()).unwrap()
    }

    fn open_in(dir: &tempfile::TempDir, sync: SyncMode) -> FileStore {
        FileStore::open(&dir.path().join("words.txt"), sync)
            .unwrap()
            .0
    }

    fn seeded(dir: &tempfile::TempDir, bytes: &[u8]) -> FileStore {
        fs::write(dir.path().join("words.txt"), bytes).unwrap();
        open_in(dir, SyncMode::Always)
    }

    /// The invariant of the whole module: memory shows exactly the file's bytes.
    #[track_caller]
    fn assert_memory_is_file(store: &FileStore, want: &[u8]) {
        let on_disk = fs::read(store.path()).unwrap();
        assert_eq!(on_disk, want, "file");
        assert_eq!(store.snapshot().unwrap().as_slice(), want, "memory");
    }

    fn dir_names(dir: &tempfile::TempDir) -> Vec<String> {
        atomic::tests::names_in(dir.path())
    }

    #[test]
    fn open_of_a_missing_file_creates_it_and_reports_it() {
        let dir = tempfile::tempdir().unwrap();
        let (store, recoveries) =
            FileStore::open(&dir.path().join("words.txt"), SyncMode::Always).unwrap();
        assert_eq!(recoveries, [Recovery::Created]);
        assert_memory_is_file(&store, b"");
        assert_eq!(store.path(), dir.path().join("words.txt"));
    }

    #[test]
    fn appended_word_is_seen_after_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_in(&dir, SyncMode::Always);
        store.append(&word("hello")).unwrap();
        store.append(&word("world")).unwrap();
        drop(store);
        let (store, recoveries) =
            FileStore::open(&dir.path().join("words.txt"), SyncMode::Always).unwrap();
        assert!(recoveries.is_empty());
        assert_memory_is_file(&store, b"hello\nworld\n");
    }

    #[test]
    fn snapshot_equals_file_after_every_operation() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_in(&dir, SyncMode::Always);
        store.append(&word("a")).unwrap();
        assert_memory_is_file(&store, b"a\n");
        store.append(&word("b")).unwrap();
        store.append(&word("a")).unwrap();
        assert_memory_is_file(&store, b"a\nb\na\n");
        assert_eq!(store.replace_all(&word("a"), &word("c")).unwrap(), 2);
        assert_memory_is_file(&store, b"c\nb\nc\n");
        store.append(&word("d")).unwrap();
        assert_memory_is_file(&store, b"c\nb\nc\nd\n");
        assert_eq!(store.delete_all(&word("c")).unwrap(), 2);
        assert_memory_is_file(&store, b"b\nd\n");
        assert_eq!(store.delete_all(&word("zzz")).unwrap(), 0);
        assert_memory_is_file(&store, b"b\nd\n");
        assert_eq!(store.delete_all(&word("b")).unwrap(), 1);
        assert_eq!(store.delete_all(&word("d")).unwrap(), 1);
        assert_memory_is_file(&store, b"");
        store.append(&word("again")).unwrap();
        assert_memory_is_file(&store, b"again\n");
    }

    #[test]
    fn replace_all_counts_and_rewrites_every_match() {
        let dir = tempfile::tempdir().unwrap();
        let store = seeded(&dir, b"cat\ndog\ncat\ncats\ncat\n");
        assert_eq!(store.replace_all(&word("cat"), &word("lion")).unwrap(), 3);
        assert_memory_is_file(&store, b"lion\ndog\nlion\ncats\nlion\n");
        // The index moved the count to the new word.
        assert_eq!(store.replace_all(&word("lion"), &word("cat")).unwrap(), 3);
        assert_eq!(store.replace_all(&word("lion"), &word("x")).unwrap(), 0);
        assert_memory_is_file(&store, b"cat\ndog\ncat\ncats\ncat\n");
        assert_eq!(dir_names(&dir), ["words.txt", "words.txt.lock"]);
    }

    #[test]
    fn delete_all_counts_and_removes_every_match() {
        let dir = tempfile::tempdir().unwrap();
        let store = seeded(&dir, b"a\nb\na\nab\na\n");
        assert_eq!(store.delete_all(&word("a")).unwrap(), 3);
        assert_memory_is_file(&store, b"b\nab\n");
        assert_eq!(store.delete_all(&word("a")).unwrap(), 0);
        assert_eq!(dir_names(&dir), ["words.txt", "words.txt.lock"]);
    }

    #[test]
    fn zero_matches_leave_the_file_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let store = seeded(&dir, b"a\nb\n");
        let before = fs::metadata(store.path()).unwrap();
        assert_eq!(store.replace_all(&word("x"), &word("y")).unwrap(), 0);
        assert_eq!(store.delete_all(&word("x")).unwrap(), 0);
        // Replacing a word by itself changes no byte either.
        assert_eq!(store.replace_all(&word("a"), &word("a")).unwrap(), 1);
        let after = fs::metadata(store.path()).unwrap();
        assert_eq!(before.ino(), after.ino());
        assert_eq!(before.modified().unwrap(), after.modified().unwrap());
        assert_memory_is_file(&store, b"a\nb\n");
    }

    #[test]
    fn open_refuses_an_invalid_line_and_leaves_the_file_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("words.txt");
        let original = b"ok\nstill ok? no\nok\n";
        fs::write(&path, original).unwrap();
        match FileStore::open(&path, SyncMode::Always) {
            Err(StoreError::InvalidLine { line, .. }) => assert_eq!(line, 2),
            other => panic!("expected InvalidLine, got {other:?}"),
        }
        assert_eq!(fs::read(&path).unwrap(), original);
    }

    #[test]
    fn open_refuses_an_empty_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("words.txt");
        fs::write(&path, b"\nok\n").unwrap();
        assert!(matches!(
            FileStore::open(&path, SyncMode::Always),
            Err(StoreError::InvalidLine { line: 1, .. })
        ));
        assert_eq!(fs::read(&path).unwrap(), b"\nok\n");
    }

    #[test]
    fn open_repairs_torn_tails_before_serving() {
        let dir = tempfile::tempdir().unwrap();
        let store = seeded(&dir, b"a\nhal");
        assert_memory_is_file(&store, b"a\nhal\n");
        drop(store);
        let store = seeded(&dir, b"a\nha lf");
        assert_memory_is_file(&store, b"a\n");
        assert_eq!(
            fs::read(dir.path().join("words.txt.torn")).unwrap(),
            b"ha lf\n"
        );
        // The index counts the recovered word.
        drop(store);
        let store = seeded(&dir, b"a\nhal");
        assert_eq!(store.delete_all(&word("hal")).unwrap(), 1);
    }

    #[test]
    fn second_open_is_locked_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("words.txt");
        let (first, _) = FileStore::open(&path, SyncMode::Always).unwrap();
        // A rewrite renames a new inode over the store; the lock must still hold.
        first.append(&word("a")).unwrap();
        first.replace_all(&word("a"), &word("b")).unwrap();
        match FileStore::open(&path, SyncMode::Always) {
            Err(e @ StoreError::Locked { .. }) => {
                let text = e.to_string();
                assert!(text.contains("words.txt.lock"), "{text}");
            }
            other => panic!("expected Locked, got {other:?}"),
        }
        drop(first);
        let (second, recoveries) = FileStore::open(&path, SyncMode::Always).unwrap();
        assert!(recoveries.is_empty());
        assert_memory_is_file(&second, b"b\n");
    }

    #[test]
    fn failed_append_is_truncated_away_and_the_store_stays_writable() {
        let dir = tempfile::tempdir().unwrap();
        let store = seeded(&dir, b"a\n");
        arm(Fault::ShortWrite(3));
        assert!(matches!(
            store.append(&word("hello")),
            Err(StoreError::Io { .. })
        ));
        assert!(pending().is_empty());
        assert_memory_is_file(&store, b"a\n");
        store.append(&word("b")).unwrap();
        assert_memory_is_file(&store, b"a\nb\n");
    }

    #[test]
    fn fsync_failure_after_append_makes_the_store_read_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = seeded(&dir, b"a\n");
        arm(Fault::Fail(Call::SyncFile));
        assert!(matches!(
            store.append(&word("hello")),
            Err(StoreError::ReadOnly { .. })
        ));
        // The line was taken back out, and memory agrees with the file.
        assert_memory_is_file(&store, b"a\n");
        for result in [
            store.append(&word("b")).map(|_| 0),
            store.replace_all(&word("a"), &word("b")),
            store.delete_all(&word("a")),
            store.delete_all(&word("absent")),
        ] {
            match result {
                Err(StoreError::ReadOnly { reason }) => {
                    assert!(reason.contains("injected SyncFile"), "{reason}")
                }
                other => panic!("expected ReadOnly, got {other:?}"),
            }
        }
        // Reads go on.
        assert_memory_is_file(&store, b"a\n");
    }

    #[test]
    fn failed_truncate_after_a_partial_append_makes_memory_follow_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = seeded(&dir, b"a\n");
        arm(Fault::ShortWrite(3));
        arm(Fault::Fail(Call::SetLen));
        match store.append(&word("hello")) {
            Err(StoreError::ReadOnly { reason }) => {
                assert!(reason.contains("injected Write"), "{reason}");
                assert!(reason.contains("injected SetLen"), "{reason}");
            }
            other => panic!("expected ReadOnly, got {other:?}"),
        }
        assert_memory_is_file(&store, b"a\nhel");
        assert!(matches!(
            store.append(&word("b")),
            Err(StoreError::ReadOnly { .. })
        ));
        // A restart treats the partial line as any torn append.
        drop(store);
        let (store, recoveries) =
            FileStore::open(&dir.path().join("words.txt"), SyncMode::Always).unwrap();
        assert_eq!(recoveries, [Recovery::AddedMissingLf { line: 2 }]);
        store.append(&word("b")).unwrap();
    }

    #[test]
    fn fsync_failure_after_truncating_a_partial_append_makes_the_store_read_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = seeded(&dir, b"a\n");
        arm(Fault::ShortWrite(1));
        arm(Fault::Fail(Call::SyncFile));
        assert!(matches!(
            store.append(&word("hello")),
            Err(StoreError::ReadOnly { .. })
        ));
        assert_memory_is_file(&store, b"a\n");
    }

    #[test]
    fn rewrite_failing_before_rename_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = seeded(&dir, b"a\nb\na\n");
        for fault in [Fault::ShortWrite(2), Fault::Fail(Call::Rename)] {
            arm(fault);
            assert!(
                matches!(store.delete_all(&word("a")), Err(StoreError::Io { .. })),
                "{fault:?}"
            );
            assert_memory_is_file(&store, b"a\nb\na\n");
            assert_eq!(dir_names(&dir), ["words.txt", "words.txt.lock"]);
        }
        // Still writable, and the index still knows both a's.
        assert_eq!(store.replace_all(&word("a"), &word("c")).unwrap(), 2);
        assert_memory_is_file(&store, b"c\nb\nc\n");
        store.append(&word("d")).unwrap();
        assert_memory_is_file(&store, b"c\nb\nc\nd\n");
    }

    #[test]
    fn fsync_failure_of_the_temp_file_keeps_old_content_and_goes_read_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = seeded(&dir, b"a\nb\n");
        arm(Fault::Fail(Call::SyncFile));
        assert!(matches!(
            store.replace_all(&word("a"), &word("c")),
            Err(StoreError::ReadOnly { .. })
        ));
        assert_memory_is_file(&store, b"a\nb\n");
        assert_eq!(dir_names(&dir), ["words.txt", "words.txt.lock"]);
        assert!(matches!(
            store.append(&word("x")),
            Err(StoreError::ReadOnly { .. })
        ));
    }

    #[test]
    fn directory_fsync_failure_after_rename_shows_new_content_and_goes_read_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = seeded(&dir, b"a\nb\na\n");
        arm(Fault::Fail(Call::SyncDir));
        match store.delete_all(&word("a")) {
            Err(StoreError::ReadOnly { reason }) => {
                assert!(reason.contains("fsync directory"), "{reason}")
            }
            other => panic!("expected ReadOnly, got {other:?}"),
        }
        assert_memory_is_file(&store, b"b\n");
        assert!(matches!(
            store.append(&word("x")),
            Err(StoreError::ReadOnly { .. })
        ));
        assert_memory_is_file(&store, b"b\n");
    }

    #[test]
    fn sync_none_never_fsyncs() {
        let dir = tempfile::tempdir().unwrap();
        arm(Fault::Fail(Call::SyncFile));
        arm(Fault::Fail(Call::SyncDir));
        let store = open_in(&dir, SyncMode::None);
        store.append(&word("a")).unwrap();
        store.append(&word("b")).unwrap();
        assert_eq!(store.replace_all(&word("a"), &word("c")).unwrap(), 1);
        assert_eq!(store.delete_all(&word("b")).unwrap(), 1);
        assert_memory_is_file(&store, b"c\n");
        assert_eq!(pending().len(), 2, "an fsync was called");
    }

    #[test]
    fn a_reader_keeps_its_snapshot_while_writes_go_on() {
        let dir = tempfile::tempdir().unwrap();
        let store = seeded(&dir, b"a\n");
        let held = store.snapshot().unwrap();
        store.append(&word("b")).unwrap();
        store.delete_all(&word("a")).unwrap();
        assert_eq!(held.as_slice(), b"a\n");
        assert_memory_is_file(&store, b"b\n");
    }

    #[test]
    fn concurrent_appends_each_land_exactly_once() {
        const THREADS: usize = 4;
        const EACH: usize = 25;
        let dir = tempfile::tempdir().unwrap();
        let store = open_in(&dir, SyncMode::Always);
        std::thread::scope(|scope| {
            for t in 0..THREADS {
                let store = &store;
                scope.spawn(move || {
                    for i in 0..EACH {
                        store.append(&word(&format!("t{t}w{i}"))).unwrap();
                    }
                });
            }
            // A reader running alongside only ever sees whole lines.
            let store = &store;
            scope.spawn(move || {
                for _ in 0..200 {
                    let snapshot = store.snapshot().unwrap();
                    assert!(snapshot.is_empty() || snapshot.ends_with(b"\n"));
                }
            });
        });
        let snapshot = store.snapshot().unwrap();
        assert_eq!(fs::read(store.path()).unwrap(), snapshot.as_slice());
        let mut lines: Vec<&[u8]> = snapshot.split(|&b| b == b'\n').collect();
        assert_eq!(lines.pop(), Some(&b""[..]));
        assert_eq!(lines.len(), THREADS * EACH);
        let mut expected: Vec<String> = (0..THREADS)
            .flat_map(|t| (0..EACH).map(move |i| format!("t{t}w{i}")))
            .collect();
        let mut got: Vec<String> = lines
            .iter()
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .collect();
        expected.sort();
        got.sort();
        assert_eq!(got, expected);
        // Each thread's words are in its own order.
        for t in 0..THREADS {
            let prefix = format!("t{t}w");
            let order: Vec<usize> = lines
                .iter()
                .filter_map(|l| {
                    std::str::from_utf8(l)
                        .ok()?
                        .strip_prefix(&prefix)?
                        .parse()
                        .ok()
                })
                .collect();
            assert_eq!(order, (0..EACH).collect::<Vec<_>>());
        }
    }

    /// While the batch of the change this thread submits next is about to make `call`, runs each of `changes` on
    /// a thread of its own and waits until all of them are queued behind the batch. Their
    /// results arrive on the returned channel.
    fn queue_during(
        store: &Arc<FileStore>,
        call: Call,
        changes: Vec<Job>,
    ) -> mpsc::Receiver<Result<usize, StoreError>> {
        let (tx, rx) = mpsc::channel();
        let store = Arc::clone(store);
        before(call, move || {
            let target = store.state().accepted + changes.len() as u64;
            for change in changes {
                let (store, tx) = (Arc::clone(&store), tx.clone());
                std::thread::spawn(move || tx.send(change(&store)).unwrap());
            }
            while store.state().accepted < target {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        });
        rx
    }

    type Job = Box<dyn FnOnce(&FileStore) -> Result<usize, StoreError> + Send>;

    fn post(text: &'static str) -> Job {
        Box::new(move |s: &FileStore| s.append(&word(text)).map(|()| 1))
    }

    fn put(old: &'static str, new: &'static str) -> Job {
        Box::new(move |s: &FileStore| s.replace_all(&word(old), &word(new)))
    }

    fn delete(text: &'static str) -> Job {
        Box::new(move |s: &FileStore| s.delete_all(&word(text)))
    }

    #[test]
    fn appends_queued_during_an_fsync_share_the_next_one_and_readers_never_see_unsynced_lines() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(open_in(&dir, SyncMode::Always));
        let probe = Arc::clone(&store);
        before(Call::SyncFile, move || {
            // The committer wrote the line and has not fsync'd it: the file has it, readers don't.
            assert_eq!(fs::read(probe.path()).unwrap(), b"first\n");
            assert_eq!(probe.snapshot().unwrap().as_slice(), b"");
        });
        let names = ["w0", "w1", "w2", "w3", "w4", "w5"];
        let rx = queue_during(
            &store,
            Call::SyncFile,
            names.iter().map(|n| post(n)).collect(),
        );
        store.append(&word("first")).unwrap();
        for _ in names {
            rx.recv().unwrap().unwrap();
        }
        // One batch for the first line, one write and one fsync for the six queued behind it.
        assert_eq!(store.state().batches_written, 2);
        let file = fs::read(store.path()).unwrap();
        assert_eq!(store.snapshot().unwrap().as_slice(), file);
        let mut lines: Vec<&[u8]> = file.split(|&b| b == b'\n').collect();
        assert_eq!(lines.remove(0), b"first");
        assert_eq!(lines.pop(), Some(&b""[..]));
        lines.sort();
        assert_eq!(lines, names.map(str::as_bytes));
    }

    #[test]
    fn a_failed_fsync_fails_every_queued_change_and_the_store_goes_read_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(seeded(&dir, b"a\n"));
        let rx = queue_during(
            &store,
            Call::SyncFile,
            vec![post("b"), put("a", "c"), delete("a"), delete("absent")],
        );
        arm(Fault::Fail(Call::SyncFile));
        assert!(matches!(
            store.append(&word("first")),
            Err(StoreError::ReadOnly { .. })
        ));
        for _ in 0..4 {
            match rx.recv().unwrap() {
                Err(StoreError::ReadOnly { reason }) => {
                    assert!(reason.contains("injected SyncFile"), "{reason}")
                }
                other => panic!("expected ReadOnly, got {other:?}"),
            }
        }
        assert_memory_is_file(&store, b"a\n");
        assert!(store.state().queue.is_empty(), "every change was decided");
    }

    #[test]
    fn puts_and_deletes_queued_during_a_rewrite_share_the_next_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(seeded(&dir, b"a\nb\nc\na\n"));
        let rx = queue_during(
            &store,
            Call::SyncFile,
            vec![put("a", "p"), put("b", "q"), post("r"), delete("absent")],
        );
        assert_eq!(store.delete_all(&word("c")).unwrap(), 1);
        let mut answers: Vec<usize> = (0..4).map(|_| rx.recv().unwrap().unwrap()).collect();
        answers.sort();
        assert_eq!(answers, [0, 1, 1, 2]);
        assert_eq!(store.state().batches_written, 2);
        // The changes touch different words, so any order gives the same file.
        assert_memory_is_file(&store, b"p\nq\np\nr\n");
        assert_eq!(dir_names(&dir), ["words.txt", "words.txt.lock"]);
        assert_eq!(store.delete_all(&word("p")).unwrap(), 2);
        assert_memory_is_file(&store, b"q\nr\n");
    }

    #[test]
    fn a_failed_rewrite_fails_the_changes_queued_behind_it_and_restores_the_counts() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(seeded(&dir, b"a\nb\n"));
        let rx = queue_during(
            &store,
            Call::Rename,
            vec![post("c"), put("b", "d"), delete("a")],
        );
        arm(Fault::Fail(Call::Rename));
        assert!(matches!(
            store.delete_all(&word("a")),
            Err(StoreError::Io { .. })
        ));
        for _ in 0..3 {
            match rx.recv().unwrap() {
                Err(e @ StoreError::Io { .. }) => {
                    assert!(e.to_string().contains("injected Rename"), "{e}")
                }
                other => panic!("expected Io, got {other:?}"),
            }
        }
        assert_memory_is_file(&store, b"a\nb\n");
        assert_eq!(dir_names(&dir), ["words.txt", "words.txt.lock"]);
        // Still writable, and the counts are the file's again.
        assert_eq!(store.delete_all(&word("c")).unwrap(), 0);
        assert_eq!(store.replace_all(&word("b"), &word("d")).unwrap(), 1);
        assert_eq!(store.delete_all(&word("a")).unwrap(), 1);
        assert_memory_is_file(&store, b"d\n");
    }

    #[test]
    fn duplicated_errors_read_the_same() {
        let io = StoreError::Io {
            action: "append to",
            path: PathBuf::from("w.txt"),
            source: std::io::Error::new(std::io::ErrorKind::StorageFull, "no space"),
        };
        assert_eq!(io.duplicate().to_string(), io.to_string());
        let ro = StoreError::ReadOnly { reason: "x".into() };
        assert_eq!(ro.duplicate().to_string(), ro.to_string());
    }

    /// A `Done` that sends its outcome on a channel.
    fn to(tx: &mpsc::Sender<Result<usize, StoreError>>) -> Done {
        let tx = tx.clone();
        Box::new(move |result| tx.send(result).unwrap())
    }

    #[test]
    fn submit_answers_once_durable_and_a_miss_with_nothing_pending_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = seeded(&dir, b"a\n");
        let (tx, rx) = mpsc::channel();
        store.submit(Change::Append(word("b")), to(&tx));
        assert_eq!(rx.recv().unwrap().unwrap(), 1);
        // Answered means committed: the file and memory both have it.
        assert_memory_is_file(&store, b"a\nb\n");
        store.submit(Change::Delete(word("absent")), to(&tx));
        assert_eq!(
            rx.try_recv().unwrap().unwrap(),
            0,
            "answered before submit returned"
        );
        store.submit(
            Change::Replace {
                old: word("a"),
                new: word("c"),
            },
            to(&tx),
        );
        assert_eq!(rx.recv().unwrap().unwrap(), 1);
        assert_memory_is_file(&store, b"c\nb\n");
    }

    #[test]
    fn dropping_the_store_answers_every_queued_change_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("words.txt");
        let store = open_in(&dir, SyncMode::Always);
        let (gate_tx, gate_rx) = mpsc::channel::<()>();
        // Holds the committer inside the first batch while more changes queue behind it.
        before(Call::SyncFile, move || gate_rx.recv().unwrap());
        let (tx, rx) = mpsc::channel();
        for name in ["w0", "w1", "w2", "w3"] {
            store.submit(Change::Append(word(name)), to(&tx));
        }
        gate_tx.send(()).unwrap();
        drop(store);
        drop(tx);
        let answers: Vec<usize> = rx.iter().map(Result::unwrap).collect();
        assert_eq!(answers, [1, 1, 1, 1]);
        assert_eq!(fs::read(&path).unwrap(), b"w0\nw1\nw2\nw3\n");
    }

    #[test]
    fn a_panic_in_the_committer_fails_its_batch_and_the_store_goes_read_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = seeded(&dir, b"a\n");
        before(Call::SyncFile, || panic!("injected panic in a commit"));
        let (tx, rx) = mpsc::channel();
        store.submit(Change::Append(word("b")), to(&tx));
        match rx.recv().unwrap() {
            Err(StoreError::ReadOnly { reason }) => {
                assert!(reason.contains("commit panicked"), "{reason}")
            }
            other => panic!("expected ReadOnly, got {other:?}"),
        }
        // Memory follows the file, whatever the panic left in it.
        let on_disk = fs::read(store.path()).unwrap();
        assert_memory_is_file(&store, &on_disk);
        // The committer lives on; later writes are refused, not stranded.
        assert!(matches!(
            store.append(&word("c")),
            Err(StoreError::ReadOnly { .. })
        ));
    }

    #[test]
    fn store_is_usable_as_a_shared_trait_object() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(open_in(&dir, SyncMode::None));
        store.append(&word("a")).unwrap();
        assert_eq!(store.snapshot().unwrap().as_slice(), b"a\n");
    }
}
