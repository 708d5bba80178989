//! The word store: the text file is the source of truth, memory holds a copy for fast reads.
//!
//! Here: the `Store` interface the handler uses, and `FileStore`, its durable implementation.
//! Elsewhere: deciding what a request means (`handler`); atomic file replacement (`store::atomic`);
//! validating and recovering the file at start (`store::recover`); the one-server lock
//! (`store::lock`); the system calls that change the disk (`store::disk`).
//!
//! How `FileStore` keeps memory equal to the file: a writer mutex serialises every change,
//! and a change reaches memory only after it reached the file (and, with `SyncMode::Always`,
//! was fsync'd). Readers take the current `Arc` under a read lock that a writer holds only to
//! swap or extend the bytes in memory, never across an I/O call, so a GET never waits for an
//! fsync. Any failure whose effect on the file is uncertain makes the store read-only.
//!
//! Group commit (many appends sharing one fsync) fits without changing the trait: appenders
//! would write under the mutex, then wait for one leader's `fdatasync` covering all of them,
//! and publish in write order. Today each append does its own fsync under the mutex.

mod atomic;
mod disk;
mod lock;
mod recover;

pub use recover::Recovery;

use std::collections::HashMap;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

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
}

/// The durable `Store`: a text file of words, one per line, owned by this process for as long
/// as the value lives (see `store::lock`).
pub struct FileStore {
    path: PathBuf,
    sync: SyncMode,
    /// Taken for every change, and held across its I/O.
    writer: Mutex<Writer>,
    /// The file's bytes as of the last acknowledged change. Only a writer holding `writer`
    /// replaces or extends it, and only after the file has the same bytes.
    published: RwLock<Snapshot>,
    // Declared last so that it is dropped last: the lock outlives every handle on the store.
    _lock: lock::StoreLock,
}

/// What only the current writer may touch.
struct Writer {
    /// The store opened with `O_APPEND`, so every write lands at the end (POSIX write(2)).
    file: File,
    /// How often each word occurs in the file, so a PUT or DELETE that matches nothing costs
    /// one lookup. Not maintained once the store is read-only, as no write consults it then.
    counts: HashMap<Word, usize>,
    /// Why the store refuses writes, once a failure left the file's state in doubt.
    read_only: Option<String>,
}

impl FileStore {
    /// Opens (creating if missing, with the directory fsynced) and validates the store file,
    /// takes its lock, and recovers from an interrupted write. With `SyncMode::None` nothing,
    /// including the repairs, is fsync'd.
    ///
    /// Returns the store and what was repaired, in order, for the start-up log.
    /// Errors: `Locked` if another `FileStore` (in any process) has the file; `InvalidLine` if a
    /// complete line is not a word (the file is left byte-for-byte untouched); `Io` otherwise.
    pub fn open(path: &Path, sync: SyncMode) -> Result<(FileStore, Vec<Recovery>), StoreError> {
        // Lock before looking at the file: repairs by two servers at once would race.
        let lock = lock::acquire(path)?;
        let recovered = recover::recover(path, sync)?;
        let file = open_append(path)?;
        let store = FileStore {
            path: path.to_path_buf(),
            sync,
            writer: Mutex::new(Writer {
                file,
                counts: recovered.counts,
                read_only: None,
            }),
            published: RwLock::new(Arc::new(recovered.bytes)),
            _lock: lock,
        };
        Ok((store, recovered.recoveries))
    }

    /// The store file's path, as given to `open`.
    pub fn path(&self) -> &Path {
        &self.path
    }

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

    /// The writer, if the store still accepts writes.
    fn writable(&self) -> Result<MutexGuard<'_, Writer>, StoreError> {
        let writer = self.writer.lock().map_err(|_| StoreError::ReadOnly {
            reason: "a write panicked midway, so the file may not match memory".to_owned(),
        })?;
        if let Some(reason) = &writer.read_only {
            return Err(StoreError::ReadOnly {
                reason: reason.clone(),
            });
        }
        Ok(writer)
    }

    fn io_error(&self, action: &'static str, source: std::io::Error) -> StoreError {
        StoreError::Io {
            action,
            path: self.path.clone(),
            source,
        }
    }

    /// Refuses all later writes because of `reason`, and returns the error for this one.
    /// With `reread`, the failed call may have left the file different from memory in a way
    /// only the file can tell, so memory is reloaded from it.
    fn fail(&self, writer: &mut Writer, mut reason: String, reread: bool) -> StoreError {
        if reread {
            match std::fs::read(&self.path) {
                Ok(bytes) => self.publish(Arc::new(bytes)),
                Err(e) => reason.push_str(&format!(
                    "; re-reading {} also failed ({e}), so reads show the last acknowledged content",
                    self.path.display()
                )),
            }
        }
        writer.read_only = Some(reason.clone());
        StoreError::ReadOnly { reason }
    }

    /// Takes a failed append back out of the file (length `before`), so that the file is as it
    /// was when the write is answered with an error.
    fn undo_append(&self, writer: &mut Writer, before: u64, error: StoreError) -> StoreError {
        if let Err(source) = disk::set_len(&writer.file, before) {
            let reason = format!(
                "{error}; then truncating it back failed: {}",
                self.io_error("truncate", source)
            );
            return self.fail(writer, reason, true);
        }
        if self.sync == SyncMode::Always {
            // Without this a crash could bring the partial line back, and a non-empty prefix of
            // a word is a word, so recovery would keep a change that was answered with an error.
            if let Err(source) = disk::sync_data(&writer.file) {
                let reason = format!(
                    "{error}; then fsync after truncating it back failed: {}",
                    self.io_error("fsync", source)
                );
                return self.fail(writer, reason, true);
            }
        }
        error
    }

    /// Replaces the file with `contents` through `store::atomic` and makes memory match.
    fn rewrite(&self, writer: &mut Writer, contents: Vec<u8>) -> Result<(), StoreError> {
        match atomic::replace(&self.path, &contents, self.sync) {
            Ok(()) => {}
            Err(atomic::ReplaceError::NotReplaced {
                error,
                fsync_failed,
            }) => {
                if fsync_failed {
                    // The store file is untouched, but a failed fsync means the disk cannot be
                    // trusted (fsyncgate), so stop accepting writes.
                    return Err(self.fail(writer, error.to_string(), false));
                }
                return Err(error);
            }
            Err(atomic::ReplaceError::DirectoryNotSynced(error)) => {
                // The rename is visible, so memory must show the new content too.
                self.publish(Arc::new(contents));
                return Err(self.fail(writer, error.to_string(), false));
            }
        }
        // The rename gave the name a new inode; the old handle would append to the unlinked file.
        match open_append(&self.path) {
            Ok(file) => writer.file = file,
            Err(error) => {
                self.publish(Arc::new(contents));
                return Err(self.fail(writer, error.to_string(), false));
            }
        }
        self.publish(Arc::new(contents));
        Ok(())
    }
}

impl Store for FileStore {
    fn snapshot(&self) -> Result<Snapshot, StoreError> {
        Ok(self.current())
    }

    fn append(&self, word: &Word) -> Result<(), StoreError> {
        let mut guard = self.writable()?;
        let writer = &mut *guard;
        let before = self.current().len() as u64;
        let mut line = Vec::with_capacity(word.as_bytes().len() + 1);
        line.extend_from_slice(word.as_bytes());
        line.push(b'\n');
        // One write(2) of the whole line: O_APPEND makes it land at the end in one piece unless
        // the disk fails partway, which the undo below handles.
        if let Err(source) = disk::write_all(&mut writer.file, &line) {
            let error = self.io_error("append to", source);
            return Err(self.undo_append(writer, before, error));
        }
        if self.sync == SyncMode::Always {
            if let Err(source) = disk::sync_data(&writer.file) {
                // fsyncgate: after a failed fsync the kernel may have dropped the dirty pages
                // and a retry may falsely succeed, so this file's durability cannot be promised
                // any more. Still take the line back out so that the file matches the error.
                let _ = disk::set_len(&writer.file, before);
                let reason = self.io_error("fsync", source).to_string();
                return Err(self.fail(writer, reason, true));
            }
        }
        *writer.counts.entry(word.clone()).or_default() += 1;
        let mut published = self
            .published
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        // Extends in place unless a reader still holds this snapshot, in which case it copies;
        // either way under the read lock only for a memcpy, never for I/O.
        Arc::make_mut(&mut published).extend_from_slice(&line);
        Ok(())
    }

    fn replace_all(&self, old: &Word, new: &Word) -> Result<usize, StoreError> {
        let mut guard = self.writable()?;
        let writer = &mut *guard;
        let matches = writer.counts.get(old).copied().unwrap_or(0);
        if matches == 0 || old == new {
            // Nothing would change, so the file is not touched.
            return Ok(matches);
        }
        let contents = rewrite_lines(&self.current(), old, Some(new), matches);
        self.rewrite(writer, contents)?;
        writer.counts.remove(old);
        *writer.counts.entry(new.clone()).or_default() += matches;
        Ok(matches)
    }

    fn delete_all(&self, word: &Word) -> Result<usize, StoreError> {
        let mut guard = self.writable()?;
        let writer = &mut *guard;
        let matches = writer.counts.get(word).copied().unwrap_or(0);
        if matches == 0 {
            return Ok(0);
        }
        let contents = rewrite_lines(&self.current(), word, None, matches);
        self.rewrite(writer, contents)?;
        writer.counts.remove(word);
        Ok(matches)
    }
}

impl fmt::Debug for FileStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileStore")
            .field("path", &self.path)
            .field("sync", &self.sync)
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

/// `bytes` (complete lines) with every line equal to `target` replaced by `replacement`, or
/// removed if there is none. `matches` is how many lines equal `target`, used to size the result.
fn rewrite_lines(
    bytes: &[u8],
    target: &Word,
    replacement: Option<&Word>,
    matches: usize,
) -> Vec<u8> {
    let new_len = replacement.map_or(0, |r| r.as_bytes().len() + 1);
    let old_len = target.as_bytes().len() + 1;
    let mut out =
        Vec::with_capacity((bytes.len() + matches * new_len).saturating_sub(matches * old_len));
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        if line.strip_suffix(b"\n") == Some(target.as_bytes()) {
            if let Some(replacement) = replacement {
                out.extend_from_slice(replacement.as_bytes());
                out.push(b'\n');
            }
        } else {
            out.extend_from_slice(line);
        }
    }
    out
}
