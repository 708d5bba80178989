//! Reading a file a submission controls: its `wordwire-cmd`, or the store its server leaves.
//!
//! Here: `read_regular`, the one way the grader reads such a file: opened with
//! `O_NOFOLLOW | O_NONBLOCK` (a symbolic link is refused, not followed; a FIFO does
//! not block the open), checked with `fstat` on the descriptor it reads (a regular
//! file only: not a FIFO, a device such as `/dev/zero`, or a directory), and read up
//! to a cap (a larger file is refused, and no more than the cap is ever read).
//! Elsewhere: what is read and why (`grading::class` for `wordwire-cmd`,
//! `grading::play` for `expect-store`).

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Why a file a submission controls was not read.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// The path is a symbolic link. Example: a store replaced by a link to `/dev/zero`.
    #[error("it is a symbolic link (not followed)")]
    Symlink,
    /// Not a regular file. Example: a `wordwire-cmd` made with `mkfifo`.
    #[error("it is not a regular file (a {0})")]
    NotRegular(&'static str),
    /// Larger than the cap. Example: a store of 2 MiB where the cap is 1 MiB.
    #[error("it is over {0} bytes")]
    TooLarge(u64),
    /// Opening or reading failed. Example: no such file.
    #[error("{}", crate::grading::play::io_message(.0))]
    Io(#[from] io::Error),
}

impl Refused {
    /// True when the file does not exist (as `io::ErrorKind::NotFound`).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Refused::Io(e) if e.kind() == io::ErrorKind::NotFound)
    }
}

/// The bytes of the regular file at `path`, at most `cap` of them; a symbolic link,
/// a FIFO, a device, a directory or a file over `cap` bytes is refused, and none of
/// them can make the read block or grow past `cap`.
pub fn read_regular(path: &Path, cap: u64) -> Result<Vec<u8>, Refused> {
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
    {
        Ok(file) => file,
        // O_NOFOLLOW on a link: ELOOP.
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Err(Refused::Symlink),
        Err(e) => return Err(Refused::Io(e)),
    };
    let kind = file.metadata()?.file_type();
    if !kind.is_file() {
        return Err(Refused::NotRegular(kind_name(&kind)));
    }
    read_capped(file, cap)
}

fn read_capped(file: File, cap: u64) -> Result<Vec<u8>, Refused> {
    let mut bytes = Vec::new();
    // One byte past the cap tells a file at the cap from a larger one.
    file.take(cap.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(Refused::TooLarge(cap));
    }
    Ok(bytes)
}

fn kind_name(kind: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_dir() {
        "directory"
    } else if kind.is_fifo() {
        "FIFO"
    } else if kind.is_char_device() {
        "character device"
    } else if kind.is_block_device() {
        "block device"
    } else if kind.is_socket() {
        "socket"
    } else {
        "special file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_regular_file_is_read_up_to_the_cap_and_refused_past_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        std::fs::write(&path, b"alpha\nbeta\n").unwrap();
        assert_eq!(read_regular(&path, 11).unwrap(), b"alpha\nbeta\n");
        assert!(matches!(
            read_regular(&path, 10),
            Err(Refused::TooLarge(10))
        ));
        let missing = read_regular(&dir.path().join("none"), 10).unwrap_err();
        assert!(missing.is_not_found(), "{missing}");
    }

    #[test]
    fn a_link_to_dev_zero_is_refused_without_reading_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        std::os::unix::fs::symlink("/dev/zero", &path).unwrap();
        let e = read_regular(&path, 1 << 20).unwrap_err();
        assert_eq!(e.to_string(), "it is a symbolic link (not followed)");
        // And the device itself, named directly, is not a regular file.
        let e = read_regular(Path::new("/dev/zero"), 1 << 20).unwrap_err();
        assert_eq!(
            e.to_string(),
            "it is not a regular file (a character device)"
        );
    }

    #[test]
    fn a_fifo_is_refused_without_blocking_on_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wordwire-cmd");
        let made = std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .unwrap();
        assert!(made.success());
        // No writer ever opens it: a plain open for reading would block here for ever.
        let e = read_regular(&path, 1 << 16).unwrap_err();
        assert_eq!(e.to_string(), "it is not a regular file (a FIFO)");
        let e = read_regular(dir.path(), 1 << 16).unwrap_err();
        assert_eq!(e.to_string(), "it is not a regular file (a directory)");
    }
}
