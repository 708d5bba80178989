//! The box's private copy of a submission directory.
//!
//! Here: copying regular files and directories only (a symlink, FIFO, socket or
//! device is skipped and counted, never followed or opened), each file opened with
//! `O_NOFOLLOW` and checked to be regular after the open, the caps on bytes, files and
//! depth, and the permission bits (an executable `run.sh` stays executable).
//! Elsewhere: where the copy lives and when it is removed (`Sandbox`).

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// How much of a submission is copied at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopyLimits {
    /// Bytes of all files together.
    pub bytes: u64,
    /// Files and directories together.
    pub entries: u64,
    /// Directory depth below the submission's own.
    pub depth: usize,
}

impl Default for CopyLimits {
    fn default() -> CopyLimits {
        CopyLimits {
            bytes: 64 << 20,
            entries: 20_000,
            depth: 32,
        }
    }
}

/// What a copy held and what it left out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Copied {
    pub files: u64,
    pub dirs: u64,
    pub bytes: u64,
    /// Symlinks, FIFOs, sockets and devices: not copied.
    pub skipped: u64,
}

/// Why a submission could not be copied.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// More bytes than `CopyLimits::bytes`. Example: a 100 MiB `data.bin` with the default 64 MiB.
    #[error("it is over {} MiB", limit >> 20)]
    TooManyBytes { limit: u64 },
    /// More entries than `CopyLimits::entries`. Example: a checked-in `node_modules`.
    #[error("the submission has over {limit} files and directories")]
    TooManyEntries { limit: u64 },
    /// Deeper than `CopyLimits::depth`.
    #[error("the submission's directories are over {limit} deep")]
    TooDeep { limit: usize },
    /// A file or directory that could not be read or written.
    #[error("copying {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Copies the tree at `from` into the existing directory `to`.
pub fn copy_tree(from: &Path, to: &Path, limits: CopyLimits) -> Result<Copied, CopyError> {
    let mut copied = Copied::default();
    let meta = fs::symlink_metadata(from).map_err(|source| CopyError::Io {
        path: from.to_path_buf(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(CopyError::Io {
            path: from.to_path_buf(),
            source: std::io::Error::other("not a directory"),
        });
    }
    copy_dir(from, to, limits, 0, &mut copied)?;
    Ok(copied)
}

/// What `copy_tree` of `from` would copy, or the cap it would break, without copying
/// (sizes as the directory lists them now): to refuse a submission once, before any box.
pub fn measure(from: &Path, limits: CopyLimits) -> Result<Copied, CopyError> {
    let mut counted = Copied::default();
    measure_dir(from, limits, 0, &mut counted)?;
    Ok(counted)
}

/// The error of an I/O call on `path`, for `map_err`.
fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CopyError {
    let path = path.to_path_buf();
    move |source| CopyError::Io { path, source }
}

impl CopyLimits {
    /// A directory `depth` levels down is within the limit.
    fn check_depth(self, depth: usize) -> Result<(), CopyError> {
        if depth > self.depth {
            return Err(CopyError::TooDeep { limit: self.depth });
        }
        Ok(())
    }

    /// `entries` files and directories are within the limit.
    fn check_entries(self, entries: u64) -> Result<(), CopyError> {
        if entries > self.entries {
            return Err(CopyError::TooManyEntries {
                limit: self.entries,
            });
        }
        Ok(())
    }
}

fn measure_dir(
    from: &Path,
    limits: CopyLimits,
    depth: usize,
    counted: &mut Copied,
) -> Result<(), CopyError> {
    limits.check_depth(depth)?;
    for entry in fs::read_dir(from).map_err(io(from))? {
        let entry = entry.map_err(io(from))?;
        let path = entry.path();
        let meta = entry.metadata().map_err(io(&path))?;
        if meta.is_dir() {
            counted.dirs += 1;
        } else if meta.is_file() {
            counted.files += 1;
            counted.bytes += meta.len();
            if counted.bytes > limits.bytes {
                return Err(CopyError::TooManyBytes {
                    limit: limits.bytes,
                });
            }
        } else {
            counted.skipped += 1;
            continue;
        }
        limits.check_entries(counted.files + counted.dirs)?;
        if meta.is_dir() {
            measure_dir(&path, limits, depth + 1, counted)?;
        }
    }
    Ok(())
}

fn copy_dir(
    from: &Path,
    to: &Path,
    limits: CopyLimits,
    depth: usize,
    copied: &mut Copied,
) -> Result<(), CopyError> {
    limits.check_depth(depth)?;
    let mut entries: Vec<_> = fs::read_dir(from)
        .map_err(io(from))?
        .collect::<Result<_, _>>()
        .map_err(io(from))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let source = entry.path();
        let target = to.join(entry.file_name());
        // The entry's own type: a symlink is a symlink here, never what it names.
        let kind = entry.file_type().map_err(io(&source))?;
        if kind.is_dir() || kind.is_file() {
            copied.dirs += u64::from(kind.is_dir());
            limits.check_entries(copied.files + copied.dirs + u64::from(kind.is_file()))?;
        }
        if kind.is_dir() {
            let mode = entry.metadata().map_err(io(&source))?.permissions().mode();
            fs::create_dir(&target).map_err(io(&target))?;
            copy_dir(&source, &target, limits, depth + 1, copied)?;
            // Owner rwx always, so the box (and the removal of the copy) can use it.
            fs::set_permissions(&target, fs::Permissions::from_mode((mode & 0o755) | 0o700))
                .map_err(io(&target))?;
        } else if kind.is_file() {
            copy_file(&source, &target, limits, copied)?;
            copied.files += 1;
        } else {
            copied.skipped += 1;
        }
    }
    Ok(())
}

fn copy_file(
    source: &Path,
    target: &Path,
    limits: CopyLimits,
    copied: &mut Copied,
) -> Result<(), CopyError> {
    // O_NOFOLLOW: a file swapped for a symlink since the listing is not followed;
    // O_NONBLOCK: one swapped for a FIFO does not hang the open. Then it must be regular.
    let mut file = File::options()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(source)
        .map_err(io(source))?;
    let meta = file.metadata().map_err(io(source))?;
    if !meta.is_file() {
        copied.skipped += 1;
        return Ok(());
    }
    let room = limits.bytes - copied.bytes;
    let mut bytes = Vec::new();
    // One byte past the room tells a file over it (also one that grew since its stat).
    Read::by_ref(&mut file)
        .take(room + 1)
        .read_to_end(&mut bytes)
        .map_err(io(source))?;
    if bytes.len() as u64 > room {
        return Err(CopyError::TooManyBytes {
            limit: limits.bytes,
        });
    }
    copied.bytes += bytes.len() as u64;
    let mode = (meta.permissions().mode() & 0o755) | 0o600;
    let mut out = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(target)
        .map_err(io(target))?;
    out.write_all(&bytes).map_err(io(target))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn files_and_directories_are_copied_and_links_and_fifos_are_not() {
        let src = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret"), b"s3cret").unwrap();
        fs::write(src.path().join("server.py"), b"print(1)\n").unwrap();
        fs::create_dir(src.path().join("lib")).unwrap();
        fs::write(src.path().join("lib/run.sh"), b"#!/bin/sh\n").unwrap();
        fs::set_permissions(
            src.path().join("lib/run.sh"),
            fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        symlink(outside.path().join("secret"), src.path().join("link")).unwrap();
        symlink(outside.path(), src.path().join("dirlink")).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            src.path().join("fifo"),
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();

        let dst = tempfile::tempdir().unwrap();
        let copied = copy_tree(src.path(), dst.path(), CopyLimits::default()).unwrap();
        assert_eq!(
            copied,
            Copied {
                files: 2,
                dirs: 1,
                bytes: 19,
                skipped: 3
            }
        );
        assert_eq!(
            fs::read(dst.path().join("server.py")).unwrap(),
            b"print(1)\n"
        );
        let mode = fs::metadata(dst.path().join("lib/run.sh"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
        for gone in ["link", "dirlink", "fifo"] {
            assert!(
                fs::symlink_metadata(dst.path().join(gone)).is_err(),
                "{gone}"
            );
        }
    }

    #[test]
    fn a_submission_over_a_cap_is_refused() {
        let src = tempfile::tempdir().unwrap();
        fs::write(src.path().join("big"), vec![0u8; 1000]).unwrap();
        fs::write(src.path().join("small"), b"x").unwrap();
        let limits = CopyLimits {
            bytes: 1000,
            ..CopyLimits::default()
        };
        let err = copy_tree(src.path(), tempfile::tempdir().unwrap().path(), limits).unwrap_err();
        assert!(
            matches!(err, CopyError::TooManyBytes { limit: 1000 }),
            "{err}"
        );
        let limits = CopyLimits {
            entries: 1,
            ..CopyLimits::default()
        };
        let err = copy_tree(src.path(), tempfile::tempdir().unwrap().path(), limits).unwrap_err();
        assert!(
            matches!(err, CopyError::TooManyEntries { limit: 1 }),
            "{err}"
        );
        let mut deep = src.path().to_path_buf();
        for _ in 0..4 {
            deep.push("d");
            fs::create_dir(&deep).unwrap();
        }
        let limits = CopyLimits {
            depth: 2,
            ..CopyLimits::default()
        };
        let err = copy_tree(src.path(), tempfile::tempdir().unwrap().path(), limits).unwrap_err();
        assert!(matches!(err, CopyError::TooDeep { limit: 2 }), "{err}");
        // Measuring refuses what copying would, without a copy.
        assert!(matches!(
            measure(src.path(), limits).unwrap_err(),
            CopyError::TooDeep { limit: 2 }
        ));
        let limits = CopyLimits {
            bytes: 1000,
            ..CopyLimits::default()
        };
        assert!(matches!(
            measure(src.path(), limits).unwrap_err(),
            CopyError::TooManyBytes { limit: 1000 }
        ));
        let counted = measure(src.path(), CopyLimits::default()).unwrap();
        assert_eq!((counted.files, counted.dirs, counted.bytes), (2, 4, 1001));
    }
}
