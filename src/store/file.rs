//! `FileStore`, the durable `Store`: the file opened, validated and locked, its committer
//! thread started and stopped, and changes handed to the commit queue.
//!
//! Here: `open` (a symlink followed to its file, the directory checked, the lock, recovery),
//! `abandon`, the drop that drains the committer.
//! Elsewhere: what the committer owns: the queue, group commit, publishing, what a failure
//! means (`store::committer`); the interface (`store`).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;

use super::committer::Core;
use super::{
    Change, Deferred, Done, Recovery, Snapshot, Store, StoreError, SyncMode, atomic, lock,
    open_append, recover,
};

/// The durable `Store`: a text file of words, one per line, owned by this process for as long
/// as the value lives (see `store::lock`). With `SyncMode::Always` it runs a committer thread,
/// which drains the queue before the value's drop returns.
pub struct FileStore {
    pub(super) core: Arc<Core>,
    committer: Option<thread::JoinHandle<()>>,
    /// `open` created the store file.
    created: bool,
}

impl FileStore {
    /// Opens (creating if missing, with the directory fsynced) and validates the store file,
    /// takes its lock, and recovers from an interrupted write. With `SyncMode::None` nothing,
    /// including the repairs, is fsync'd. With `SyncMode::Always` starts the committer thread.
    ///
    /// Returns the store and what was repaired, in order, for the start-up log.
    /// Errors: `NoDirectory` if the store's directory is missing; `Locked` if another
    /// `FileStore` (in any process) has the file; `NotAFile` if it is not a regular file;
    /// `InvalidLine` if a line is not a word (the file is left byte-for-byte untouched); `Io`
    /// otherwise (including failing to start the committer thread). A lock file that this call
    /// created is removed again on any error after it.
    pub fn open(path: &Path, sync: SyncMode) -> Result<(FileStore, Vec<Recovery>), StoreError> {
        let resolved = resolve_link(path);
        let path = resolved.as_deref().unwrap_or(path);
        let dir = atomic::parent_dir(path);
        let missing = match std::fs::metadata(dir) {
            Ok(meta) => (!meta.is_dir()).then_some("is not a directory"),
            Err(e) => (e.kind() == std::io::ErrorKind::NotFound).then_some("does not exist"),
        };
        if let Some(why) = missing {
            let (path, dir) = (path.to_path_buf(), dir.to_path_buf());
            return Err(StoreError::NoDirectory { path, dir, why });
        }
        // Lock before looking at the file: repairs by two servers at once would race.
        let lock = lock::acquire(path)?;
        let opened =
            recover::recover(path, sync).and_then(|recovered| Ok((recovered, open_append(path)?)));
        let (recovered, file) = match opened {
            Ok(opened) => opened,
            Err(error) => {
                lock.remove_if_created();
                return Err(error);
            }
        };
        let created = recovered.recoveries.contains(&Recovery::Created);
        let core = Arc::new(Core::new(
            path.to_path_buf(),
            sync,
            file,
            recovered.bytes,
            recovered.counts,
            lock,
        ));
        let committer = if sync == SyncMode::Always {
            let core = Arc::clone(&core);
            let thread = thread::Builder::new()
                .name("wordwire-commit".into())
                .spawn(move || core.run_committer())
                .map_err(|source| StoreError::io("start the committer thread for", path, source))?;
            Some(thread)
        } else {
            None
        };
        let store = FileStore {
            core,
            committer,
            created,
        };
        Ok((store, recovered.recoveries))
    }

    /// Gives up a store that never served, because the start failed after `open` (its port
    /// was taken, say): removes what `open` created, the store file if it is still empty and
    /// the lock file, so that a failed start leaves the directory as it found it.
    pub fn abandon(self) {
        let path = &self.core.path;
        if self.created && std::fs::metadata(path).is_ok_and(|meta| meta.len() == 0) {
            let _ = std::fs::remove_file(path);
        }
        self.core.lock.remove_if_created();
        // Dropping `self` stops the committer, then lets go of the lock.
    }

    /// The store file's path: as given to `open`, or the file a symlink given there names.
    pub fn path(&self) -> &Path {
        &self.core.path
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

impl Store for FileStore {
    fn snapshot(&self) -> Result<Snapshot, StoreError> {
        Ok(self.core.current())
    }

    fn submit(&self, change: Change, done: Done) {
        self.core.submit(change, done, None);
    }

    fn submit_deferred(&self, change: Change, done: Done, deferred: &mut Deferred) {
        self.core.submit(change, done, Some(deferred));
    }

    fn commit_deferred(&self, deferred: &mut Deferred) {
        self.core.commit_deferred(deferred);
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

/// The file that `path` names when `path` is a symlink to a regular file (followed to the end,
/// made absolute); `None` otherwise, so that a dangling link or one to a device is refused
/// under the name the user gave.
///
/// The store is that file from `open` on: its lock is the file's, and a rewrite replaces the
/// file, not the link, so the link keeps naming the store (as git follows a symlinked
/// config when it rewrites it) and a second server through either name is refused.
fn resolve_link(path: &Path) -> Option<PathBuf> {
    let is_link = std::fs::symlink_metadata(path).ok()?.is_symlink();
    let to_a_file = is_link && std::fs::metadata(path).is_ok_and(|meta| meta.is_file());
    to_a_file
        .then(|| std::fs::canonicalize(path).ok())
        .flatten()
}
