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
//!
//! A store given as a symlink is locked under both names, the link's and its target's: a
//! server on `link.txt -> words.txt` and one on `words.txt` would otherwise each lock a
//! sidecar of their own and write the same file. The link's own name stays locked too, since
//! the first PUT or DELETE replaces the link with a regular file of that name.

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
    /// For a store that is a symlink: the lock of the file it points to.
    target: Option<Box<StoreLock>>,
}

/// Where the lock for `store` lives.
pub(super) fn lock_path(store: &Path) -> PathBuf {
    sidecar_path(store, "lock")
}

/// Takes the exclusive lock for `store` without waiting, creating the lock file if needed.
///
/// Errors: `Locked` if any other holder has it (another process, or another `FileStore` of this
/// process: `flock(2)` locks belong to the open file description), `Io` if the lock file cannot
/// be created or locked. A symlink is locked under its own name and its target's.
pub(super) fn acquire(store: &Path) -> Result<StoreLock, StoreError> {
    let mut own = acquire_one(store, lock_path(store))?;
    let is_link = std::fs::symlink_metadata(store).is_ok_and(|meta| meta.is_symlink());
    // A dangling link has no target to share; opening the store reports it.
    if let Some(target) = is_link.then(|| std::fs::canonicalize(store).ok()).flatten() {
        match acquire_one(store, lock_path(&target)) {
            Ok(lock) => own.target = Some(Box::new(lock)),
            Err(error) => {
                own.remove_if_created();
                return Err(error);
            }
        }
    }
    Ok(own)
}

/// Takes the lock file `lock` for `store` (named in the errors).
fn acquire_one(store: &Path, lock: PathBuf) -> Result<StoreLock, StoreError> {
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
            target: None,
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
        if let Some(target) = &self.target {
            target.remove_if_created();
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
    fn a_symlink_to_a_locked_store_is_refused_and_so_is_its_target() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("words.txt");
        std::fs::write(&store, "").unwrap();
        let link = dir.path().join("link.txt");
        std::os::unix::fs::symlink(&store, &link).unwrap();
        let first = acquire(&store).unwrap();
        match acquire(&link) {
            Err(StoreError::Locked { path, lock }) => {
                assert_eq!(path, link);
                assert_eq!(lock, dir.path().join("words.txt.lock"));
            }
            other => panic!("expected Locked, got {other:?}"),
        }
        // The refused start left no lock file of its own behind.
        assert!(!lock_path(&link).exists());
        drop(first);
        // Through the link first: the target is locked too, and so is the link's own name
        // (a first PUT replaces the link with a regular file of that name).
        let through_link = acquire(&link).unwrap();
        assert!(matches!(acquire(&store), Err(StoreError::Locked { .. })));
        assert!(matches!(acquire(&link), Err(StoreError::Locked { .. })));
        drop(through_link);
        acquire(&store).unwrap();
    }

    #[test]
    fn missing_directory_is_an_io_error() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("no-such-dir").join("words.txt");
        assert!(matches!(acquire(&store), Err(StoreError::Io { .. })));
    }
}
