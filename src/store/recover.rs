//! Validating the store file at start and repairing what an interrupted write left behind.
//!
//! Here: creating a missing store, refusing what is not a regular file, reading the file line
//! by line up to its first line that is not a word (refused, named, and why), finishing or
//! setting aside a torn final line, and removing temporary files of an interrupted rewrite.
//! Elsewhere: the lock, which must be held before any of this runs (`store::lock`); the name
//! of temporary files (`store::atomic`); serving the result (`store`).

use std::collections::HashMap;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use super::{StoreError, SyncMode, atomic, disk, sidecar_path};
use crate::word::{MAX_WORD_LEN, Word};

/// One thing `FileStore::open` repaired, for the start-up log. Its `Display` is one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovery {
    /// The store file did not exist and was created empty.
    Created,
    /// The last line, number `line`, was a word without its LF (a crash mid-append); the LF was added.
    AddedMissingLf { line: usize },
    /// The last line had no LF and was not a word (a crash mid-append); its `bytes` bytes were
    /// appended to `to` as one line and cut off the store.
    MovedTornTail { to: PathBuf, bytes: usize },
    /// A temporary file of an interrupted rewrite was removed.
    RemovedTempFile(PathBuf),
}

impl fmt::Display for Recovery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Recovery::Created => f.write_str("store file did not exist; created it empty"),
            Recovery::AddedMissingLf { line } => write!(
                f,
                "line {line} is a word without its final LF (interrupted append); added the LF"
            ),
            Recovery::MovedTornTail { to, bytes } => write!(
                f,
                "final line without LF is not a word (interrupted append); moved its {bytes} {} to {}",
                if *bytes == 1 { "byte" } else { "bytes" },
                to.display()
            ),
            Recovery::RemovedTempFile(path) => write!(
                f,
                "removed {}, left by an interrupted rewrite",
                path.display()
            ),
        }
    }
}

/// The store as `open` leaves it: the file's exact bytes and how often each word occurs.
#[derive(Debug)]
pub(super) struct Recovered {
    pub bytes: Vec<u8>,
    pub counts: HashMap<Word, usize>,
    pub recoveries: Vec<Recovery>,
}

/// Why a complete line of the store file is refused at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadLine {
    /// Not 1-64 ASCII letters or digits. Example: `hello world`.
    NotAWord,
    /// Ends in CR: the file has CRLF line endings. Example: `hello\r\n`.
    EndsInCr,
    /// Longer than any word can be; validation stopped there, without reading the rest.
    TooLong,
}

impl fmt::Display for BadLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BadLine::NotAWord => "line is not a word (1-64 ASCII letters or digits)",
            BadLine::EndsInCr => {
                "line ends in CR (a CRLF line ending?); store lines end in LF alone"
            }
            BadLine::TooLong => {
                "line is longer than 64 bytes, so not a word (1-64 ASCII letters or digits)"
            }
        })
    }
}

/// The store file read up to its end, or up to its first bad line.
#[derive(Debug, Default)]
struct Lines {
    /// The complete lines, each checked, each with its LF.
    complete: Vec<u8>,
    /// How many complete lines there are.
    count: usize,
    counts: HashMap<Word, usize>,
    /// What follows the last LF (a torn append), if anything.
    tail: Vec<u8>,
}

/// The most of one line worth reading: a word, a CR (to say that it ends in CR), and its LF.
/// A line with no LF within that many bytes is too long to be a word, or a torn append of one.
const LONGEST_LINE: usize = MAX_WORD_LEN + 2;

/// Reads the store file from `reader` and checks every complete (LF-terminated) line. Stops
/// at the first bad line, which it names by its 1-based number and why; a line longer than a
/// word is refused as soon as that is seen, LF or not (no torn append is that long, and a file
/// without LFs, however large, is judged after `LONGEST_LINE` bytes). Memory holds only lines
/// that passed, plus at most one line's worth.
fn read_lines(reader: &mut impl BufRead) -> io::Result<Result<Lines, (usize, BadLine)>> {
    let mut lines = Lines::default();
    loop {
        let start = lines.complete.len();
        let mut bounded = reader.by_ref().take(LONGEST_LINE as u64);
        let read = bounded.read_until(b'\n', &mut lines.complete)?;
        let line = match lines.complete[start..].split_last() {
            None => return Ok(Ok(lines)),
            Some((b'\n', line)) => line,
            Some(_) if read == LONGEST_LINE => {
                return Ok(Err((lines.count + 1, BadLine::TooLong)));
            }
            Some(_) => {
                // The end of the file without an LF: a torn tail.
                lines.tail = lines.complete.split_off(start);
                return Ok(Ok(lines));
            }
        };
        lines.count += 1;
        let word = match line.last() {
            Some(b'\r') => Err(BadLine::EndsInCr),
            _ if line.len() > MAX_WORD_LEN => Err(BadLine::TooLong),
            _ => Word::parse(line).map_err(|_| BadLine::NotAWord),
        };
        match word {
            Ok(word) => *lines.counts.entry(word).or_default() += 1,
            Err(bad) => return Ok(Err((lines.count, bad))),
        }
    }
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> StoreError {
    let path = path.to_path_buf();
    move |source| StoreError::io(action, &path, source)
}

/// Opens the store file, creating it if missing, validates it and repairs it.
/// The caller must hold the store's lock. With `SyncMode::None` nothing is fsync'd.
///
/// Errors: `NotAFile` or `InvalidLine` (the file is left byte-for-byte untouched), or `Io`
/// (a torn tail that could not be set aside included: it stays in the store).
pub(super) fn recover(path: &Path, sync: SyncMode) -> Result<Recovered, StoreError> {
    let mut recoveries = Vec::new();
    let (file, created) = open_or_create(path, sync)?;
    if created {
        recoveries.push(Recovery::Created);
    }
    // Validate before repairing anything, so that a refused file is left exactly as it was.
    let mut reader = BufReader::with_capacity(64 * 1024, &file);
    let Lines {
        complete: mut bytes,
        count,
        mut counts,
        tail,
    } = read_lines(&mut reader)
        .map_err(io_error("read", path))?
        .map_err(|(line, problem)| StoreError::InvalidLine {
            path: path.to_path_buf(),
            line,
            problem,
        })?;
    drop(reader);

    remove_leftover_temps(path, sync, &mut recoveries)?;

    if !tail.is_empty() {
        if let Ok(word) = Word::parse(&tail) {
            // A torn append of a word is a prefix of `word\n`; every non-empty prefix of a word
            // is itself a word, so the contract keeps it rather than guess what was lost.
            disk::write_all(&file, b"\n").map_err(io_error("append LF to", path))?;
            if sync == SyncMode::Always {
                disk::sync_data(&file).map_err(io_error("fsync", path))?;
            }
            *counts.entry(word).or_default() += 1;
            bytes.extend_from_slice(&tail);
            bytes.push(b'\n');
            recoveries.push(Recovery::AddedMissingLf { line: count + 1 });
        } else {
            let torn = sidecar_path(path, "torn");
            let moved = tail.len();
            set_aside(&torn, &tail, sync)?;
            // Only once the bytes are safely in `.torn` may they leave the store.
            disk::set_len(&file, bytes.len() as u64).map_err(io_error("truncate", path))?;
            if sync == SyncMode::Always {
                disk::sync_data(&file).map_err(io_error("fsync", path))?;
            }
            recoveries.push(Recovery::MovedTornTail {
                to: torn,
                bytes: moved,
            });
        }
    }
    Ok(Recovered {
        bytes,
        counts,
        recoveries,
    })
}

/// Opens `path` for reading and appending; if it did not exist, creates it and makes the
/// creation durable (fsync the new file, then its directory). Says whether it was created.
/// Errors with `NotAFile` for anything but a regular file (or a symlink to one), before
/// opening it: a device or a FIFO would never end (`/dev/zero`) or never start.
fn open_or_create(path: &Path, sync: SyncMode) -> Result<(File, bool), StoreError> {
    let mut options = OpenOptions::new();
    options.read(true).append(true);
    match fs::metadata(path) {
        Ok(meta) if !meta.is_file() => {
            return Err(StoreError::NotAFile {
                path: path.to_path_buf(),
                kind: kind_of(meta.file_type()),
            });
        }
        Ok(_) => return Ok((options.open(path).map_err(io_error("open", path))?, false)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(source) => return Err(io_error("stat", path)(source)),
    }
    match options.clone().create_new(true).open(path) {
        Ok(file) => {
            if sync == SyncMode::Always {
                disk::sync_all(&file).map_err(io_error("fsync", path))?;
                let dir = atomic::parent_dir(path);
                disk::sync_dir(dir).map_err(io_error("fsync directory", dir))?;
            }
            Ok((file, true))
        }
        // Something is there that `metadata` did not find: a dangling symlink (said as
        // such), or a file created since (opened).
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            if fs::symlink_metadata(path).is_ok_and(|meta| meta.is_symlink())
                && fs::metadata(path).is_err_and(|e| e.kind() == io::ErrorKind::NotFound)
            {
                return Err(StoreError::NotAFile {
                    path: path.to_path_buf(),
                    kind: "a symlink to a file that does not exist",
                });
            }
            options
                .open(path)
                .map(|file| (file, false))
                .map_err(io_error("open", path))
        }
        Err(source) => Err(io_error("create", path)(source)),
    }
}

/// What a file that is not a regular file is, for `NotAFile`.
fn kind_of(file_type: fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_char_device() {
        "a character device"
    } else if file_type.is_block_device() {
        "a block device"
    } else if file_type.is_fifo() {
        "a FIFO"
    } else if file_type.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// Appends `tail` plus an LF to the `.torn` file (creating it durably if needed) and fsyncs it.
/// A torn tail never contains an LF, so each one stays a separate line there.
fn set_aside(torn: &Path, tail: &[u8], sync: SyncMode) -> Result<(), StoreError> {
    let existed = torn.exists();
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(torn)
        .map_err(io_error("open", torn))?;
    let mut record = Vec::with_capacity(tail.len() + 1);
    record.extend_from_slice(tail);
    record.push(b'\n');
    disk::write_all(&file, &record).map_err(io_error("append to", torn))?;
    if sync == SyncMode::Always {
        disk::sync_data(&file).map_err(io_error("fsync", torn))?;
        if !existed {
            let dir = atomic::parent_dir(torn);
            disk::sync_dir(dir).map_err(io_error("fsync directory", dir))?;
        }
    }
    Ok(())
}

/// Removes every temporary file `store::atomic` may have left next to the store. Any such
/// file is garbage: a rewrite interrupted before its rename leaves the store as it was, and
/// after the rename the temporary name no longer exists. Safe only while holding the lock,
/// which guarantees no rewrite of this store is in progress.
fn remove_leftover_temps(
    path: &Path,
    sync: SyncMode,
    recoveries: &mut Vec<Recovery>,
) -> Result<(), StoreError> {
    let Some(store_name) = path.file_name() else {
        return Ok(());
    };
    let dir = atomic::parent_dir(path);
    let mut removed = false;
    for entry in fs::read_dir(dir).map_err(io_error("list directory", dir))? {
        let entry = entry.map_err(io_error("list directory", dir))?;
        if atomic::is_temp_name(store_name, &entry.file_name()) {
            let temp = entry.path();
            fs::remove_file(&temp).map_err(io_error("remove", &temp))?;
            recoveries.push(Recovery::RemovedTempFile(temp));
            removed = true;
        }
    }
    if removed && sync == SyncMode::Always {
        disk::sync_dir(dir).map_err(io_error("fsync directory", dir))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn store_in(dir: &tempfile::TempDir, bytes: &[u8]) -> PathBuf {
        let path = dir.path().join("words.txt");
        fs::write(&path, bytes).unwrap();
        path
    }

    /// `read_lines` over `bytes`, with a small buffer so that lines cross its edges.
    fn validate(bytes: &[u8]) -> Result<Lines, (usize, BadLine)> {
        read_lines(&mut BufReader::with_capacity(7, io::Cursor::new(bytes))).unwrap()
    }

    #[test]
    fn empty_file_is_valid() {
        let lines = validate(b"").unwrap();
        assert_eq!((lines.complete.len(), lines.count), (0, 0));
    }

    #[test]
    fn complete_lines_are_counted_by_word() {
        let lines = validate(b"a\nb\na\n").unwrap();
        assert_eq!(lines.count, 3);
        assert_eq!(lines.counts[&Word::parse(b"a").unwrap()], 2);
        assert_eq!(lines.counts[&Word::parse(b"b").unwrap()], 1);
    }

    #[test]
    fn first_bad_line_is_named_by_its_1_based_number_and_why() {
        use BadLine::*;
        let long = [&[b'a'; 65][..], b"\n"].concat();
        let very_long = [&b"a\n"[..], &[b'a'; 1000], b"\nb\n"].concat();
        let long_cr = [&[b'a'; 64][..], b"\r\n"].concat();
        for (bytes, want) in [
            (&b"\n"[..], (1, NotAWord)),
            (b"a\n\nb\n", (2, NotAWord)),
            (b"a\nhello world\n", (2, NotAWord)),
            (b"crlf\r\n", (1, EndsInCr)),
            (b"ok\n\r\n", (2, EndsInCr)),
            (b"a\nb\ncaf\xc3\xa9\n", (3, NotAWord)),
            (&long, (1, TooLong)),
            (&long_cr, (1, EndsInCr)),
            (&very_long, (2, TooLong)),
        ] {
            assert_eq!(validate(bytes).unwrap_err(), want, "{bytes:?}");
        }
    }

    #[test]
    fn each_bad_line_says_why_in_one_line() {
        for (problem, says) in [
            (BadLine::NotAWord, "line is not a word"),
            (BadLine::EndsInCr, "line ends in CR"),
            (BadLine::TooLong, "longer than 64 bytes"),
        ] {
            let error = StoreError::InvalidLine {
                path: "w.txt".into(),
                line: 3,
                problem,
            };
            let text = error.to_string();
            assert!(
                text.starts_with("w.txt:3: ") && text.contains(says),
                "{text}"
            );
            assert!(text.ends_with("; fix or remove it"), "{text}");
        }
    }

    #[test]
    fn bytes_after_the_last_lf_are_a_tail_not_a_line() {
        let lines = validate(b"a\nb c").unwrap();
        assert_eq!((&lines.complete[..], lines.count), (&b"a\n"[..], 1));
        assert_eq!(lines.tail, b"b c");
        // A tail longer than a word is no torn append: refused, as a complete line would be.
        let long_tail = [&b"a\n"[..], &[b'x'; 500]].concat();
        assert_eq!(validate(&long_tail).unwrap_err(), (2, BadLine::TooLong));
    }

    /// A reader that counts the bytes taken from it.
    struct Counting<R> {
        inner: R,
        taken: usize,
    }

    impl<R: Read> Read for Counting<R> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.inner.read(buf)?;
            self.taken += n;
            Ok(n)
        }
    }

    #[test]
    fn validation_stops_at_the_first_line_too_long_for_a_word_without_reading_on() {
        // 64 MiB in one line (with an LF, and then without): refused at line 2 after one
        // buffer's worth of reading.
        for end in [&b"\nok\n"[..], b""] {
            let mut bytes = b"ok\n".to_vec();
            bytes.resize(64 << 20, b'x');
            bytes.extend_from_slice(end);
            let counting = Counting {
                inner: io::Cursor::new(&bytes),
                taken: 0,
            };
            let mut reader = BufReader::with_capacity(64 * 1024, counting);
            assert_eq!(
                read_lines(&mut reader).unwrap().unwrap_err(),
                (2, BadLine::TooLong)
            );
            assert!(
                reader.get_ref().taken <= 64 * 1024,
                "{}",
                reader.get_ref().taken
            );
        }
    }

    #[test]
    fn a_store_that_is_not_a_regular_file_is_refused_before_it_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let zero = dir.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        let fifo = dir.path().join("fifo");
        let c_fifo = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: mkfifo(3) with a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c_fifo.as_ptr(), 0o600) }, 0);
        // Was `open PATH: No such file or directory (os error 2)`, which did not say why.
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink("/no/such/file", &dangling).unwrap();
        for (path, kind) in [
            (zero, "a character device"),
            (fifo, "a FIFO"),
            (dir.path().to_path_buf(), "a directory"),
            (dangling, "a symlink to a file that does not exist"),
        ] {
            match recover(&path, SyncMode::Always) {
                Err(e @ StoreError::NotAFile { .. }) => {
                    let text = e.to_string();
                    assert!(
                        text.contains(kind) && text.contains("regular file"),
                        "{text}"
                    );
                }
                other => panic!("{path:?}: expected NotAFile, got {other:?}"),
            }
        }
    }

    #[test]
    fn missing_file_is_created_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("words.txt");
        let got = recover(&path, SyncMode::Always).unwrap();
        assert_eq!(got.recoveries, [Recovery::Created]);
        assert!(got.bytes.is_empty());
        assert_eq!(fs::read(&path).unwrap(), b"");
    }

    #[test]
    fn invalid_line_refuses_and_leaves_the_file_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let original = b"good\nbad line\ntorn-tail";
        let path = store_in(&dir, original);
        let temp = dir.path().join(".words.txt.tmp.1.1");
        fs::write(&temp, b"x").unwrap();
        let before = fs::metadata(&path).unwrap();
        match recover(&path, SyncMode::Always) {
            Err(StoreError::InvalidLine {
                path: p,
                line,
                problem,
            }) => {
                assert_eq!((p, line, problem), (path.clone(), 2, BadLine::NotAWord));
            }
            other => panic!("expected InvalidLine, got {other:?}"),
        }
        assert_eq!(fs::read(&path).unwrap(), original);
        let after = fs::metadata(&path).unwrap();
        assert_eq!(before.modified().unwrap(), after.modified().unwrap());
        assert!(!dir.path().join("words.txt.torn").exists());
    }

    #[test]
    fn empty_line_is_invalid_at_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = store_in(&dir, b"a\nb\n\n");
        assert!(matches!(
            recover(&path, SyncMode::Always),
            Err(StoreError::InvalidLine { line: 3, .. })
        ));
        assert_eq!(fs::read(&path).unwrap(), b"a\nb\n\n");
    }

    #[test]
    fn torn_tail_that_is_a_word_gets_its_lf() {
        let dir = tempfile::tempdir().unwrap();
        let path = store_in(&dir, b"one\ntwo\nthr");
        let got = recover(&path, SyncMode::Always).unwrap();
        assert_eq!(got.recoveries, [Recovery::AddedMissingLf { line: 3 }]);
        assert_eq!(got.bytes, b"one\ntwo\nthr\n");
        assert_eq!(fs::read(&path).unwrap(), b"one\ntwo\nthr\n");
        assert_eq!(got.counts[&Word::parse(b"thr").unwrap()], 1);
        assert!(!dir.path().join("words.txt.torn").exists());
    }

    #[test]
    fn torn_tail_that_is_not_a_word_moves_to_torn_with_exact_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = store_in(&dir, b"one\ntw\xffo x");
        let torn = dir.path().join("words.txt.torn");
        let got = recover(&path, SyncMode::Always).unwrap();
        assert_eq!(
            got.recoveries,
            [Recovery::MovedTornTail {
                to: torn.clone(),
                bytes: 6
            }]
        );
        assert_eq!(got.bytes, b"one\n");
        assert_eq!(fs::read(&path).unwrap(), b"one\n");
        assert_eq!(fs::read(&torn).unwrap(), b"tw\xffo x\n");
    }

    #[test]
    fn a_torn_tail_that_cannot_be_set_aside_stays_in_the_store_and_fails_the_start() {
        use crate::store::disk::Call;
        use crate::store::disk::faults::{Fault, arm};
        let dir = tempfile::tempdir().unwrap();
        let path = store_in(&dir, b"one\ntw o");
        let torn = dir.path().join("words.txt.torn");
        // The write to `.torn` fails, then (second start) its fsync: either way the tail may
        // not be safe there, so it must not leave the store.
        for fault in [Fault::Fail(Call::Write), Fault::Fail(Call::SyncFile)] {
            arm(fault);
            match recover(&path, SyncMode::Always) {
                Err(e @ StoreError::Io { .. }) => {
                    let text = e.to_string();
                    assert!(
                        text.contains("words.txt.torn") && text.contains("injected"),
                        "{text}"
                    );
                }
                other => panic!("{fault:?}: expected Io, got {other:?}"),
            }
            assert_eq!(fs::read(&path).unwrap(), b"one\ntw o", "{fault:?}");
        }
        // A `.torn` that is a directory fails the same way, with no fault hook.
        fs::remove_file(&torn).unwrap();
        fs::create_dir(&torn).unwrap();
        let error = recover(&path, SyncMode::Always).unwrap_err().to_string();
        assert!(error.starts_with("open "), "{error}");
        assert_eq!(fs::read(&path).unwrap(), b"one\ntw o");
    }

    #[test]
    fn torn_tails_accumulate_in_an_existing_torn_file() {
        let dir = tempfile::tempdir().unwrap();
        let torn = dir.path().join("words.txt.torn");
        fs::write(&torn, b"earlier\r\n").unwrap();
        let path = store_in(&dir, b"one\n\r");
        recover(&path, SyncMode::Always).unwrap();
        assert_eq!(fs::read(&torn).unwrap(), b"earlier\r\n\r\n");
        assert_eq!(fs::read(&path).unwrap(), b"one\n");
    }

    #[test]
    fn leftover_temp_files_are_removed_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let path = store_in(&dir, b"a\n");
        let temps = [
            dir.path().join(".words.txt.tmp.4242.0"),
            dir.path().join(".words.txt.tmp.17.3"),
        ];
        for temp in &temps {
            fs::write(temp, b"half a rewr").unwrap();
        }
        let keep = [
            dir.path().join(".words.txt.tmp.notmine"),
            dir.path().join(".other.txt.tmp.1.1"),
        ];
        for k in &keep {
            fs::write(k, b"keep").unwrap();
        }
        let mut got = recover(&path, SyncMode::Always).unwrap().recoveries;
        got.sort_by_key(|r| r.to_string());
        let mut want: Vec<Recovery> = temps
            .iter()
            .map(|t| Recovery::RemovedTempFile(t.clone()))
            .collect();
        want.sort_by_key(|r| r.to_string());
        assert_eq!(got, want);
        assert!(temps.iter().all(|t| !t.exists()));
        assert!(keep.iter().all(|k| k.exists()));
        assert_eq!(fs::read(&path).unwrap(), b"a\n");
    }

    #[test]
    fn a_clean_file_is_not_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = store_in(&dir, b"a\nb\n");
        let before = fs::metadata(&path).unwrap();
        let got = recover(&path, SyncMode::Always).unwrap();
        assert!(got.recoveries.is_empty());
        let after = fs::metadata(&path).unwrap();
        assert_eq!(before.ino(), after.ino());
        assert_eq!(before.modified().unwrap(), after.modified().unwrap());
    }

    #[test]
    fn each_recovery_displays_as_one_line() {
        for r in [
            Recovery::Created,
            Recovery::AddedMissingLf { line: 7 },
            Recovery::MovedTornTail {
                to: PathBuf::from("w.txt.torn"),
                bytes: 3,
            },
            Recovery::RemovedTempFile(PathBuf::from(".w.txt.tmp.1.2")),
        ] {
            let text = r.to_string();
            assert!(!text.is_empty() && !text.contains('\n'), "{text:?}");
        }
    }

    #[test]
    fn a_torn_tail_of_one_byte_is_counted_in_the_singular() {
        let moved = |bytes| {
            Recovery::MovedTornTail {
                to: PathBuf::from("w.txt.torn"),
                bytes,
            }
            .to_string()
        };
        assert!(
            moved(1).ends_with("moved its 1 byte to w.txt.torn"),
            "{}",
            moved(1)
        );
        assert!(
            moved(6).ends_with("moved its 6 bytes to w.txt.torn"),
            "{}",
            moved(6)
        );
    }
}
