//! One server per store file: an exclusive lock on the sidecar file `<store>.lock`.
//!
//! Here: taking the lock and holding it for as long as the `StoreLock` lives.
//! Elsewhere: everything that reads or changes the store file (`store`, `store::recover`).
//!
//! The lock is on a sidecar, not on the store file, because every PUT and DELETE renames a new
//! inode over the store's name, and a lock belongs to an inode: a lock on the store file itself
//! would be left behind on the old inode by the first rewrite. The lock file is never deleted:
//! unlinking it while another process waits on it would let two servers each lock a different
//! inode under the same name. The one exception is a lock file that a failed start created
//! itself and removes before it lets go (`StoreLock::remove_if_created`).

use std::fs::{File, OpenOptions, TryLockError};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::{StoreError, sidecar_path};

/// Proof that this process owns the store. Dropping it closes the file, which releases the lock.
#[derive(Debug)]
pub(super) struct StoreLock {
    _file: File,
    path: PathBuf,
    /// `acquire` created the lock file (it did not exist before).
    created: bool,
}

/// Where the lock for `store` lives.
pub(super) fn lock_path(store: &Path) -> PathBuf {
    sidecar_path(store, "lock")
}

/// Takes the exclusive lock for `store` without waiting, creating the lock file if needed.
///
/// Errors: `Locked` if any other holder has it (another process, or another `FileStore` of this
/// process: `flock(2)` locks belong to the open file description), `Io` if the lock file cannot
/// be created or locked.
pub(super) fn acquire(store: &Path) -> Result<StoreLock, StoreError> {
    let lock = lock_path(store);
    let mut options = OpenOptions::new();
    // The lock file's content is irrelevant; never truncate what someone else may hold.
    options.read(true).write(true).truncate(false);
    let (file, created) = match options.clone().create_new(true).open(&lock) {
        Ok(file) => (Ok(file), true),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => (options.open(&lock), false),
        Err(e) => (Err(e), false),
    };
    let file = file.map_err(|source| StoreError::io("create lock file", &lock, source))?;
    match file.try_lock() {
        Ok(()) => Ok(StoreLock {
            _file: file,
            path: lock,
            created,
        }),
        Err(TryLockError::WouldBlock) => Err(StoreError::Locked {
            path: store.to_path_buf(),
            lock,
        }),
        Err(TryLockError::Error(source)) => Err(StoreError::io("lock", &lock, source)),
    }
}

impl StoreLock {
    /// For a start that failed: removes the lock file if `acquire` created it, while the lock
    /// is still held, so that a failed start leaves nothing behind. A process that opened the
    /// file meanwhile finds it locked and gives up; one that comes after creates a new one.
    pub(super) fn remove_if_created(&self) {
        if self.created {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("words.txt");
        let first = acquire(&store).unwrap();
        match acquire(&store) {
            Err(StoreError::Locked { path, lock }) => {
                assert_eq!(path, store);
                assert_eq!(lock, dir.path().join("words.txt.lock"));
            }
            other => panic!("expected Locked, got {other:?}"),
        }
        drop(first);
        acquire(&store).unwrap();
    }

    #[test]
    fn lock_file_is_kept_after_release() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("words.txt");
        drop(acquire(&store).unwrap());
        assert!(lock_path(&store).exists());
    }

    #[test]
    fn missing_directory_is_an_io_error() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("no-such-dir").join("words.txt");
        assert!(matches!(acquire(&store), Err(StoreError::Io { .. })));
    }
}
