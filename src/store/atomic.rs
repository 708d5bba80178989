//! The only code that replaces the store file: write a temporary file in the same directory,
//! fsync it, rename it over the store, fsync the directory.
//!
//! Here: that protocol, the temporary file's name, and recognising leftovers of it.
//! Elsewhere: deciding what to write and what a failure means for the store (`store`),
//! removing leftovers at start (`store::recover`).
//!
//! Why each step: the temporary file lives in the store's directory because `rename(2)` is
//! atomic only within one file system. Its data is fsync'd before the rename so that the name
//! never points at an inode whose blocks are not yet on disk (the ext4 zero-length-file lesson).
//! The directory is fsync'd after the rename because the rename is a change to the directory,
//! and POSIX fsync(2) of a file does not make its directory entry durable.

use std::ffi::OsStr;
use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::{StoreError, SyncMode, disk};

/// Why [`replace`] did not complete.
#[derive(Debug)]
pub(super) enum ReplaceError {
    /// The store file was not replaced and the temporary file is gone. `fsync_failed` says
    /// whether the cause was a failed fsync, whose outcome cannot be trusted.
    NotReplaced {
        error: StoreError,
        fsync_failed: bool,
    },
    /// The rename happened, so the store's name now shows the new content, but the directory
    /// fsync failed: whether the rename survives a power cut is unknown.
    DirectoryNotSynced(StoreError),
}

/// The directory that holds `path` (`.` for a bare file name).
pub(super) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// A fresh temporary name next to `store`: `.<store name>.tmp.<pid>.<n>`.
fn temp_path(store: &Path, store_name: &OsStr) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let mut name = std::ffi::OsString::from(".");
    name.push(store_name);
    name.push(format!(".tmp.{}.{n}", std::process::id()));
    parent_dir(store).join(name)
}

/// Whether `candidate` (a file name in the store's directory) is a temporary file that
/// [`replace`] made for the store named `store_name`: exactly `.<store name>.tmp.<digits>.<digits>`.
/// The match is strict so that nothing a person put there is ever removed.
pub(super) fn is_temp_name(store_name: &OsStr, candidate: &OsStr) -> bool {
    let candidate = candidate.as_encoded_bytes();
    let store_name = store_name.as_encoded_bytes();
    let Some(rest) = candidate.strip_prefix(b".") else {
        return false;
    };
    let Some(rest) = rest.strip_prefix(store_name) else {
        return false;
    };
    let Some(rest) = rest.strip_prefix(b".tmp.") else {
        return false;
    };
    let mut parts = rest.split(|&b| b == b'.');
    let is_number = |part: Option<&[u8]>| {
        part.is_some_and(|p| !p.is_empty() && p.iter().all(u8::is_ascii_digit))
    };
    is_number(parts.next()) && is_number(parts.next()) && parts.next().is_none()
}

/// Makes `contents` the store file's bytes, atomically: after a crash at any instant the file
/// holds either its old or its new bytes. With `SyncMode::None` the steps are the same but
/// nothing is fsync'd. The new file gets the old file's permission bits.
pub(super) fn replace(store: &Path, contents: &[u8], sync: SyncMode) -> Result<(), ReplaceError> {
    let Some(store_name) = store.file_name() else {
        return Err(ReplaceError::NotReplaced {
            error: StoreError::io(
                "replace",
                store,
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"),
            ),
            fsync_failed: false,
        });
    };
    let temp = temp_path(store, store_name);
    if let Err((error, fsync_failed)) = write_temp(&temp, store, contents, sync) {
        remove_temp(&temp);
        return Err(ReplaceError::NotReplaced {
            error,
            fsync_failed,
        });
    }
    if let Err(source) = disk::rename(&temp, store) {
        remove_temp(&temp);
        return Err(ReplaceError::NotReplaced {
            error: StoreError::io("rename temporary file over", store, source),
            fsync_failed: false,
        });
    }
    if sync == SyncMode::Always {
        let dir = parent_dir(store);
        disk::sync_dir(dir).map_err(|source| {
            ReplaceError::DirectoryNotSynced(StoreError::io("fsync directory", dir, source))
        })?;
    }
    Ok(())
}

/// Creates `temp`, writes `contents` and (with `SyncMode::Always`) fsyncs it.
/// On error also says whether it was the fsync that failed.
fn write_temp(
    temp: &Path,
    store: &Path,
    contents: &[u8],
    sync: SyncMode,
) -> Result<(), (StoreError, bool)> {
    let io = |action: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| StoreError::io(action, &path, source)
    };
    let permissions = fs::metadata(store)
        .map_err(io("stat", store))
        .map_err(|e| (e, false))?
        .permissions();
    let file = OpenOptions::new()
        .write(true)
        // A name that already exists is not ours to overwrite.
        .create_new(true)
        .open(temp)
        .map_err(io("create temporary file", temp))
        .map_err(|e| (e, false))?;
    file.set_permissions(permissions)
        .map_err(io("set permissions of", temp))
        .map_err(|e| (e, false))?;
    disk::write_all(&file, contents)
        .map_err(io("write", temp))
        .map_err(|e| (e, false))?;
    if sync == SyncMode::Always {
        disk::sync_all(&file)
            .map_err(io("fsync", temp))
            .map_err(|e| (e, true))?;
    }
    Ok(())
}

/// What this module exists to prevent, kept for the crash test's test of itself (debug builds
/// only, `--sync unsafe-in-place`): truncates the store and writes `contents` back one line per
/// `write(2)`, with no temporary file and no fsync, the way a naive implementation would. A
/// crash between the truncate and the last write leaves the file short.
#[cfg(debug_assertions)]
pub(super) fn overwrite_in_place_unsafely(store: &Path, contents: &[u8]) -> Result<(), StoreError> {
    let io = |action: &'static str| move |source| StoreError::io(action, store, source);
    let file = OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(store)
        .map_err(io("open for overwrite"))?;
    for line in contents.split_inclusive(|&b| b == b'\n') {
        disk::write_all(&file, line).map_err(io("overwrite"))?;
    }
    Ok(())
}

/// Best effort: the temporary file is garbage either way, and the next start removes
/// any leftover, so a failure here changes nothing that matters.
fn remove_temp(temp: &Path) {
    let _ = fs::remove_file(temp);
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::store::disk::Call;
    use crate::store::disk::faults::{Fault, arm};
    use std::os::unix::fs::PermissionsExt;

    /// The sorted names in `dir`; shared with the store's own tests.
    pub(in crate::store) fn names_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn temp_names_are_recognised_strictly() {
        let store = OsStr::new("words.txt");
        let made = temp_path(Path::new("d/words.txt"), store);
        assert!(is_temp_name(store, made.file_name().unwrap()));
        assert!(is_temp_name(store, OsStr::new(".words.txt.tmp.12.0")));
        for other in [
            "words.txt",
            "words.txt.lock",
            "words.txt.torn",
            ".words.txt.tmp.12",
            ".words.txt.tmp.12.0.1",
            ".words.txt.tmp.x.0",
            ".words.txt.tmp..0",
            "words.txt.tmp.12.0",
            ".other.txt.tmp.12.0",
            ".words.txt.tmp.12.0~",
        ] {
            assert!(!is_temp_name(store, OsStr::new(other)), "{other}");
        }
    }

    #[test]
    fn bare_file_name_lives_in_the_current_directory() {
        assert_eq!(parent_dir(Path::new("words.txt")), Path::new("."));
        assert_eq!(parent_dir(Path::new("a/words.txt")), Path::new("a"));
    }

    #[test]
    fn replace_writes_the_new_bytes_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("words.txt");
        fs::write(&store, b"old\n").unwrap();
        fs::set_permissions(&store, fs::Permissions::from_mode(0o600)).unwrap();
        replace(&store, b"new\nwords\n", SyncMode::Always).unwrap();
        assert_eq!(fs::read(&store).unwrap(), b"new\nwords\n");
        assert_eq!(names_in(dir.path()), ["words.txt"]);
        let mode = fs::metadata(&store).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn failure_before_rename_removes_the_temp_file_and_keeps_the_old_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("words.txt");
        fs::write(&store, b"old\n").unwrap();
        for (fault, expect_fsync_failed) in [
            (Fault::ShortWrite(2), false),
            (Fault::Fail(Call::SyncFile), true),
            (Fault::Fail(Call::Rename), false),
        ] {
            arm(fault);
            match replace(&store, b"new\n", SyncMode::Always) {
                Err(ReplaceError::NotReplaced { fsync_failed, .. }) => {
                    assert_eq!(fsync_failed, expect_fsync_failed, "{fault:?}")
                }
                other => panic!("{fault:?}: expected NotReplaced, got {other:?}"),
            }
            assert_eq!(fs::read(&store).unwrap(), b"old\n");
            assert_eq!(names_in(dir.path()), ["words.txt"], "{fault:?}");
        }
    }

    #[test]
    fn directory_fsync_failure_is_reported_after_the_rename() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("words.txt");
        fs::write(&store, b"old\n").unwrap();
        arm(Fault::Fail(Call::SyncDir));
        assert!(matches!(
            replace(&store, b"new\n", SyncMode::Always),
            Err(ReplaceError::DirectoryNotSynced(_))
        ));
        assert_eq!(fs::read(&store).unwrap(), b"new\n");
    }
}
