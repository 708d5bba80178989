//! The commit queue and the committer: how accepted changes reach the file, in batches.
//!
//! Here: checking a change against the word counts and queueing it, committing whole batches
//! (with `SyncMode::Always` the thread that deferred them or the committer thread; the
//! submitting thread otherwise), publishing them, and what a failed batch means for the store.
//! Elsewhere: the public types and opening the store (`store`), what a batch writes
//! (`store::commit`), replacing the file (`store::atomic`), the system calls (`store::disk`).
//!
//! Group commit. A write (`Store::submit`: a `Change` and a callback) takes the state mutex
//! only to check it against the word counts and queue it; its caller does not wait. With
//! `SyncMode::Always` the committer thread (or a thread that deferred its changes, below)
//! takes the whole queue as one batch, lets go of the mutex, and does the batch's I/O: for a
//! batch of POSTs one `write(2)` of all their lines, then one `fdatasync`; for a batch holding any PUT or DELETE the whole new content, computed
//! in one pass (`store::commit::plan`) and written through `store::atomic` (one temporary
//! file, one fsync, one rename, one directory fsync). Then it publishes the batch and calls
//! every callback of the batch, outside the mutex. Changes that arrive meanwhile queue up and
//! form the next batch, so the number of fsyncs per second stays bounded by the disk while
//! the changes per fsync grow with concurrency. Every change is written before the fsync that
//! acknowledges it starts. With the other modes there is no committer: the thread that queues
//! a change commits the queue (until it is empty) unless another thread is doing so.
//!
//! Deferred commits (`Store::submit_deferred`, what the event loops use). A loop queues the
//! writes of its turn without waking the committer, and before it polls again commits the
//! whole queue itself as one batch of appends, unless a batch is underway: as Redis's
//! `appendfsync always` does, the batch of a turn is answered on the loop's own thread, with
//! no thread hop either way (bench/RESULTS.md, "Deferred commits"). Changes queued while a
//! batch is underway are left to the thread committing it, which `commit_deferred` tells to
//! commit again before it sleeps (`Deferred::more`); the threads that left them look again
//! when they next come by (`Deferred::retry`), and the first to come takes the queue. So no
//! loop waits for another's fsync, and every queued change has a thread that will commit it
//! (an event loop that ends commits what it owes first). The price is that a loop blocks for
//! its own batch's write and fsync. A batch that would rewrite the file (any PUT or DELETE),
//! and every batch on a disk whose appends average more than `INLINE_COMMIT_LIMIT_NS`, goes
//! to the committer thread instead, so a rewrite or a slow disk never stalls a loop's reads.
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
//! return to the last committed state, and each of those requests gets the error. The store
//! goes read-only only when the file's state is in doubt: a failed fsync, a repair that was
//! needed and failed, or a panic during a commit. A write that failed before changing the
//! file leaves the store writable.

use std::collections::HashMap;
use std::fs::File;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::Instant;

use super::atomic;
use super::commit::{self, Plan, Queued};
use super::{Change, Deferred, Done, Snapshot, StoreError, SyncMode, disk, lock, open_append};
use crate::word::Word;

/// How long a batch of appends may take, on average, for a thread that deferred its changes
/// to commit them itself (`Core::commit_deferred`). Beyond it, on a slow disk, an event loop
/// would stall its other connections for each fsync, so the committer thread takes them.
const INLINE_COMMIT_LIMIT_NS: u64 = 500_000;

/// What `FileStore` and its committer thread share.
pub(super) struct Core {
    pub(super) path: PathBuf,
    pub(super) sync: SyncMode,
    /// The commit queue and what only writers touch. Never held across I/O or a callback.
    state: Mutex<State>,
    /// Where the committer thread sleeps while the queue is empty.
    pub(super) queued: Condvar,
    /// Where a thread waits for the batch being committed to end (`State::batch_waiters`).
    batch_done: Condvar,
    /// A moving average of the I/O time of a batch of appends (write and fsync), in
    /// nanoseconds, each batch weighing 1/8; kept by the committing thread. Decides whether
    /// deferred changes are committed inline.
    pub(super) append_ns: AtomicU64,
    /// Whether the store has a committer thread and deferred changes wait for
    /// `commit_deferred` (`SyncMode::Always`), or the thread that queues a change commits at
    /// once (the others, whose I/O only reaches the page cache).
    has_committer: bool,
    /// The file's bytes as of the last committed batch. Only the committing thread replaces
    /// or extends it, and only after the file has the same bytes.
    published: RwLock<Snapshot>,
    // Declared last so that it is dropped last: the lock outlives every handle on the store.
    pub(super) lock: lock::StoreLock,
}

/// Called once with a queued change's outcome.
type Decide = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// What writers share under `Core::state`.
pub(super) struct State {
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
    pub(super) queue: Vec<Queued>,
    /// Who is told each change's outcome, in the same order as `queue`.
    waiting: Vec<Decide>,
    /// How many changes were accepted.
    pub(super) accepted: u64,
    /// How many of them a batch has taken (every change up to this one is decided or being
    /// committed).
    taken: u64,
    /// Threads waiting on `Core::batch_done` for the batch being committed to end.
    pub(super) batch_waiters: usize,
    /// A batch is being committed.
    leading: bool,
    /// The committer thread waits on `Core::queued` (so the next change must notify it).
    pub(super) committer_idle: bool,
    /// The `FileStore` is being dropped: the committer ends once the queue is empty.
    pub(super) stopping: bool,
    /// What the fault-injection seam carries along with the queue (nothing outside tests).
    pub(super) seam: disk::Seam,
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
                Some(error) => Err(error.clone()),
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

impl Core {
    /// A writable store whose file, held open for appending as `file`, has exactly `bytes`,
    /// which `counts` counts.
    pub(super) fn new(
        path: PathBuf,
        sync: SyncMode,
        file: File,
        bytes: Vec<u8>,
        counts: HashMap<Word, usize>,
        lock: lock::StoreLock,
    ) -> Core {
        Core {
            path,
            sync,
            state: Mutex::new(State {
                file: Arc::new(file),
                counts,
                read_only: None,
                queue: Vec::new(),
                waiting: Vec::new(),
                accepted: 0,
                taken: 0,
                batch_waiters: 0,
                leading: false,
                committer_idle: false,
                stopping: false,
                seam: disk::Seam::default(),
            }),
            queued: Condvar::new(),
            batch_done: Condvar::new(),
            append_ns: AtomicU64::new(0),
            has_committer: sync == SyncMode::Always,
            published: RwLock::new(Arc::new(bytes)),
            lock,
        }
    }

    pub(super) fn current(&self) -> Snapshot {
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

    pub(super) fn state(&self) -> MutexGuard<'_, State> {
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
        StoreError::io(action, &self.path, source)
    }

    /// Checks `change` against the counts and queues it, or answers at once: a refusal of a
    /// read-only store, or a PUT or DELETE that matches nothing with nothing uncommitted.
    /// With `deferred`, a change that needs a commit by the committer thread is left for the
    /// caller's `commit_deferred` instead (see `Store::submit_deferred`).
    pub(super) fn submit(&self, change: Change, done: Done, deferred: Option<&mut Deferred>) {
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
                    deferred,
                );
            }
            Change::Replace { old, new } => {
                let matches = state.counts.get(&old).copied().unwrap_or(0);
                if matches == 0 || old == new {
                    // Nothing would change, so the file is not touched.
                    return self.settle(state, matches, done, deferred);
                }
                state.counts.remove(&old);
                *state.counts.entry(new.clone()).or_default() += matches;
                self.enqueue(
                    state,
                    Queued::Replace { old, new },
                    Box::new(move |result| done(result.map(|()| matches))),
                    deferred,
                );
            }
            Change::Delete(word) => {
                let matches = state.counts.get(&word).copied().unwrap_or(0);
                if matches == 0 {
                    return self.settle(state, 0, done, deferred);
                }
                state.counts.remove(&word);
                self.enqueue(
                    state,
                    Queued::Delete(word),
                    Box::new(move |result| done(result.map(|()| matches))),
                    deferred,
                );
            }
        }
    }

    /// Answers `answer`, read from the counts without changing anything, once every change
    /// accepted so far is decided (at once if none is pending), or the error of a failure
    /// among them.
    fn settle<'a>(
        &'a self,
        state: MutexGuard<'a, State>,
        answer: usize,
        done: Done,
        deferred: Option<&mut Deferred>,
    ) {
        if !state.leading && state.queue.is_empty() {
            drop(state);
            return done(Ok(answer));
        }
        self.enqueue(
            state,
            Queued::Barrier,
            Box::new(move |result| done(result.map(|()| answer))),
            deferred,
        );
    }

    /// Queues `change`; `decide` gets its outcome. With a committer, notes it in `deferred`
    /// for the caller's `commit_deferred`, or else wakes the committer if it sleeps; without,
    /// commits here unless another thread is committing (it drains the queue).
    fn enqueue<'a>(
        &'a self,
        mut state: MutexGuard<'a, State>,
        change: Queued,
        decide: Decide,
        deferred: Option<&mut Deferred>,
    ) {
        state.accepted += 1;
        state.queue.push(change);
        state.waiting.push(decide);
        state.seam.queued();
        if self.has_committer {
            match deferred {
                Some(deferred) => deferred.own = true,
                None => self.wake_committer(state),
            }
            return;
        }
        while !state.leading && !state.queue.is_empty() {
            self.commit_next(state).deliver();
            state = self.state();
        }
    }

    /// Commits the queue as one batch on this thread, and delivers the batch's outcomes
    /// before returning, if `deferred` notes something to commit, changes are queued that no
    /// batch has taken, no batch is being committed, and the batch is appends only on a disk
    /// that is fast for them (`INLINE_COMMIT_LIMIT_NS`); a rewrite, or any batch on a slow
    /// disk, goes to the committer thread instead, so the caller does not block on it.
    ///
    /// Afterwards `deferred` notes what is left for this caller: `more` if changes were queued
    /// while its batch was committed (by threads that found it underway; it must commit them
    /// before it sleeps), `retry` if it found another thread's batch underway (that thread
    /// has them; whichever of the two comes back first takes the queue).
    pub(super) fn commit_deferred(&self, deferred: &mut Deferred) {
        let Deferred { own, more, retry } = std::mem::take(deferred);
        if !own && !more && !retry {
            return;
        }
        let state = self.state();
        if state.taken == state.accepted {
            // Every change is decided, or in the batch being committed.
            return;
        }
        if state.leading {
            // That batch's thread sees these changes when it ends (`more`).
            deferred.retry = true;
            return;
        }
        if commit::rewrites(&state.queue) || !self.commits_inline() {
            // The committer commits and answers while the caller goes on.
            return self.wake_committer(state);
        }
        // As on the committer thread: a panic in the commit failed the batch
        // (`CommitGuard`), and the caller goes on.
        let _ = catch_unwind(AssertUnwindSafe(|| self.commit_next(state).deliver()));
        let state = self.state();
        deferred.more = !state.leading && state.taken < state.accepted;
    }

    /// Wakes the committer thread if it sleeps, to commit what is queued.
    fn wake_committer(&self, mut state: MutexGuard<'_, State>) {
        if state.committer_idle {
            state.committer_idle = false;
            drop(state);
            self.queued.notify_one();
        }
    }

    /// Whether deferred appends are committed by the thread that deferred them.
    fn commits_inline(&self) -> bool {
        self.has_committer && self.append_ns.load(Ordering::Relaxed) <= INLINE_COMMIT_LIMIT_NS
    }

    /// Waits until the batch being committed ends (its thread wakes every waiter).
    fn wait_for_batch<'a>(&'a self, mut state: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        state.batch_waiters += 1;
        let mut state = self
            .batch_done
            .wait(state)
            .unwrap_or_else(PoisonError::into_inner);
        state.batch_waiters -= 1;
        state
    }

    /// Adds the I/O time of the batch of appends that began at `began` to the average (only
    /// the committing thread writes it).
    fn note_append_time(&self, began: Instant) {
        let took = u64::try_from(began.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let average = self.append_ns.load(Ordering::Relaxed);
        let average = average - average / 8 + took / 8;
        self.append_ns.store(average, Ordering::Relaxed);
    }

    /// A batch ended (`leading` was just cleared): wakes the threads waiting for that.
    fn end_batch(&self, state: &mut State) {
        state.leading = false;
        if state.batch_waiters > 0 {
            self.batch_done.notify_all();
        }
    }

    /// The committer thread: commits whole batches while changes are queued, sleeps while
    /// none is, and ends once the store is dropped and the queue is empty. It commits what
    /// other threads queued without `Deferred`, and whatever is queued when it wakes (a
    /// deferred change included: its thread then finds it taken).
    pub(super) fn run_committer(&self) {
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
            if state.leading {
                // A thread is committing what it deferred; the rest is the next batch.
                state = self.wait_for_batch(state);
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
        state.taken = state.accepted;
        state.seam.committing();
        let file = Arc::clone(&state.file);
        state.leading = true;
        drop(state);

        let mut guard = CommitGuard {
            core: self,
            decides,
        };
        // Only the committing thread changes the snapshot, so this is the file's content now.
        let base = self.current();
        let began = Instant::now();
        let outcome = self.commit(&file, &base, &batch);
        if let Ok(Committed::Appended(_)) = outcome {
            self.note_append_time(began);
        }
        // Held past here, this clone would make `Arc::make_mut` below copy the whole
        // snapshot for every batch of appends.
        drop(base);
        let mut decides = std::mem::take(&mut guard.decides);
        drop(guard);

        let mut state = self.state();
        self.end_batch(&mut state);
        let error = match outcome {
            Ok(committed) => {
                if !matches!(committed, Committed::Nothing) {
                    state.seam.wrote();
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
        state.taken = state.accepted;
        state.seam.failed();
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
        // A write refused before its first byte (EPERM on an immutable file, EFBIG past
        // RLIMIT_FSIZE) left the file as it was: nothing to put back, nothing in doubt.
        if file.metadata().is_ok_and(|meta| meta.len() == before) {
            return Failure::NotApplied(error);
        }
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
        self.core.end_batch(&mut state);
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
