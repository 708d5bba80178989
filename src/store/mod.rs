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
        if self.sync == SyncMode::Always
            && let Err(source) = disk::sync_data(&writer.file)
        {
            // fsyncgate: after a failed fsync the kernel may have dropped the dirty pages and a
            // retry may falsely succeed, so this file's durability cannot be promised any more.
            // Still take the line back out so that the file matches the error.
            let _ = disk::set_len(&writer.file, before);
            let reason = self.io_error("fsync", source).to_string();
            return Err(self.fail(writer, reason, true));
        }
        *writer.counts.entry(word.clone()).or_default() += 1;
        let mut published = self
            .published
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        // Extends in place unless a reader still holds this snapshot, in which case it copies.
        // Either way readers wait on this lock for a memcpy at most, never for I/O.
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

#[cfg(test)]
mod tests {
    use super::disk::Call;
    use super::disk::faults::{Fault, arm, pending};
    use super::*;
    use std::fs;
    use std::os::unix::fs::MetadataExt;

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
        let mut names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
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

    #[test]
    fn rewrite_lines_replaces_or_drops_only_whole_matching_lines() {
        let a = word("a");
        let z = word("zz");
        assert_eq!(
            rewrite_lines(b"a\nab\nba\na\n", &a, Some(&z), 2),
            b"zz\nab\nba\nzz\n"
        );
        assert_eq!(rewrite_lines(b"a\nab\nba\na\n", &a, None, 2), b"ab\nba\n");
        assert_eq!(rewrite_lines(b"", &a, None, 0), b"");
    }

    #[test]
    fn store_is_usable_as_a_shared_trait_object() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(open_in(&dir, SyncMode::None));
        store.append(&word("a")).unwrap();
        assert_eq!(store.snapshot().unwrap().as_slice(), b"a\n");
    }
}
