//! The store's cases: every write path, failure and recovery, with the disk's faults
//! injected through `store::disk`'s seam.

use super::disk::Call;
use super::disk::faults::{Fault, arm, before, pending};
use super::*;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::sync::mpsc;
use std::thread;

fn word(text: &str) -> Word {
    Word::parse(text.as_bytes()).unwrap()
}

/// How long a test waits for an answer before it fails (instead of hanging the binary).
const PATIENCE: std::time::Duration = std::time::Duration::from_secs(30);

/// The next message on `rx`, or a failure after `PATIENCE`.
#[track_caller]
fn within<T>(rx: &mpsc::Receiver<T>) -> T {
    rx.recv_timeout(PATIENCE)
        .expect("no answer within 30 s: a change was never decided")
}

/// Submits `change` to `store` and waits for its outcome.
fn wait(store: &dyn Store, change: Change) -> Result<usize, StoreError> {
    let (tx, rx) = mpsc::channel();
    store.submit(change, to(&tx));
    within(&rx)
}

/// The synchronous writes the tests read best with, over `submit`.
impl FileStore {
    fn append(&self, word: &Word) -> Result<(), StoreError> {
        wait(self, Change::Append(word.clone())).map(|_| ())
    }

    fn replace_all(&self, old: &Word, new: &Word) -> Result<usize, StoreError> {
        let (old, new) = (old.clone(), new.clone());
        wait(self, Change::Replace { old, new })
    }

    fn delete_all(&self, word: &Word) -> Result<usize, StoreError> {
        wait(self, Change::Delete(word.clone()))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, committer::State> {
        self.core.state()
    }
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
    atomic::tests::names_in(dir.path())
}

#[test]
fn a_store_given_as_a_symlink_is_the_file_it_names_for_the_lock_and_every_rewrite() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("words.txt");
    fs::write(&target, b"a\nb\n").unwrap();
    let link = dir.path().join("link.txt");
    std::os::unix::fs::symlink("words.txt", &link).unwrap();
    let real = fs::canonicalize(&target).unwrap();

    let store = FileStore::open(&link, SyncMode::Always).unwrap().0;
    assert_eq!(store.path(), real);
    // A second server through either name is refused, and the lock is the target's.
    for other in [&target, &link] {
        match FileStore::open(other, SyncMode::Always) {
            Err(StoreError::Locked { lock, .. }) => assert_eq!(lock, lock::lock_path(&real)),
            Err(error) => panic!("{other:?}: expected Locked, got {error:?}"),
            Ok(_) => panic!("{other:?}: expected Locked, got a second store"),
        }
    }
    store.append(&word("c")).unwrap();
    assert_eq!(store.replace_all(&word("a"), &word("x")).unwrap(), 1);
    assert_eq!(store.delete_all(&word("b")).unwrap(), 1);
    // The rewrites replaced the target: the link is still a link, to the current words.
    assert!(fs::symlink_metadata(&link).unwrap().is_symlink());
    assert_eq!(fs::read(&link).unwrap(), b"x\nc\n");
    assert_memory_is_file(&store, b"x\nc\n");
    assert!(!lock::lock_path(&link).exists(), "no lock beside the link");
    drop(store);
    FileStore::open(&target, SyncMode::Always).unwrap();
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
fn a_missing_directory_is_named_and_nothing_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    fs::write(&file, b"").unwrap();
    for (path, why) in [
        (dir.path().join("nodir").join("x.txt"), "does not exist"),
        (file.join("x.txt"), "is not a directory"),
    ] {
        match FileStore::open(&path, SyncMode::Always) {
            Err(e @ StoreError::NoDirectory { .. }) => {
                let text = e.to_string();
                let parent = path.parent().unwrap().display().to_string();
                assert!(
                    text.contains(&format!("directory {parent} {why}")),
                    "{text}"
                );
            }
            other => panic!("expected NoDirectory, got {other:?}"),
        }
    }
    assert_eq!(dir_names(&dir), ["file"]);
}

#[test]
fn a_refused_or_abandoned_open_leaves_no_file_it_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("words.txt");
    // Abandoned after a fresh start: the empty store and its lock go.
    let (store, _) = FileStore::open(&path, SyncMode::Always).unwrap();
    store.abandon();
    assert_eq!(dir_names(&dir), Vec::<String>::new());
    // Refused: the store was there and stays, byte for byte; the lock file goes.
    fs::write(&path, b"a\nb c\n").unwrap();
    assert!(FileStore::open(&path, SyncMode::Always).is_err());
    assert_eq!(dir_names(&dir), ["words.txt"]);
    assert_eq!(fs::read(&path).unwrap(), b"a\nb c\n");
    // What was there before the start stays: a store with words and an old lock file.
    fs::write(&path, b"a\n").unwrap();
    let (store, _) = FileStore::open(&path, SyncMode::Always).unwrap();
    drop(store);
    let (store, _) = FileStore::open(&path, SyncMode::Always).unwrap();
    store.abandon();
    assert_eq!(dir_names(&dir), ["words.txt", "words.txt.lock"]);
    // An abandoned store lets go of its lock.
    FileStore::open(&path, SyncMode::Always).unwrap();
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
fn a_write_refused_before_its_first_byte_leaves_the_store_writable() {
    let dir = tempfile::tempdir().unwrap();
    let store = seeded(&dir, b"a\n");
    // As on an immutable file (`chattr +i`): the write fails with nothing written, and a
    // truncate would fail too, but nothing needs putting back.
    arm(Fault::Fail(Call::Write));
    arm(Fault::Fail(Call::SetLen));
    match store.append(&word("hello")) {
        Err(e @ StoreError::Io { .. }) => assert!(e.to_string().contains("injected Write")),
        other => panic!("expected Io, got {other:?}"),
    }
    assert_memory_is_file(&store, b"a\n");
    // The cause is gone: every kind of write succeeds again, without a restart.
    store.append(&word("b")).unwrap();
    assert_eq!(store.replace_all(&word("a"), &word("c")).unwrap(), 1);
    assert_eq!(store.delete_all(&word("b")).unwrap(), 1);
    assert_memory_is_file(&store, b"c\n");
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

fn unsynced_pages(path: &Path) -> Option<u64> {
    super::unsynced_pages(path).unwrap()
}

/// Runs each change on a store with `sync` and returns, for each, how many of the file's
/// pages were not yet on disk at the moment its answer was given (`None`: no cachestat).
fn unsynced_at_each_answer(sync: SyncMode, changes: Vec<Change>) -> Vec<Option<u64>> {
    let dir = tempfile::tempdir().unwrap();
    let store = open_in(&dir, sync);
    let (tx, rx) = mpsc::channel();
    changes
        .into_iter()
        .map(|change| {
            let (tx, path) = (tx.clone(), store.path().to_path_buf());
            store.submit(
                change,
                Box::new(move |result| {
                    result.unwrap();
                    tx.send(unsynced_pages(&path)).unwrap();
                }),
            );
            within(&rx)
        })
        .collect()
}

#[test]
fn every_acknowledged_write_is_on_disk_when_it_is_answered() {
    let changes = || {
        vec![
            Change::Append(word("a")),
            Change::Append(word("b")),
            Change::Replace {
                old: word("a"),
                new: word("c"),
            },
            Change::Append(word("d")),
            Change::Delete(word("b")),
            Change::Append(word("e")),
        ]
    };
    let synced = unsynced_at_each_answer(SyncMode::Always, changes());
    if synced.contains(&None) {
        eprintln!("cachestat(2) missing (Linux < 6.5): fsync before answering is not checked");
        return;
    }
    assert_eq!(synced, vec![Some(0); 6], "pages still dirty at the answer");
    // The test of the test: without fsync, the pages of an append are still dirty then.
    let unsynced = unsynced_at_each_answer(SyncMode::None, vec![Change::Append(word("a"))]);
    assert!(
        unsynced[0] > Some(0),
        "cachestat cannot see a missing fsync"
    );
}

#[test]
fn a_rewrite_is_on_disk_before_its_rename() {
    // After the rename ext4 flushes a file renamed over another (auto_da_alloc), so only
    // a look just before the rename shows whether the temporary file was fsync'd.
    let dir = tempfile::tempdir().unwrap();
    let store = seeded(&dir, b"a\nb\n");
    let (tx, rx) = mpsc::channel();
    let in_dir = dir.path().to_path_buf();
    before(Call::Rename, move || {
        let temp = fs::read_dir(&in_dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .find(|path| path.to_string_lossy().contains(".tmp."))
            .expect("the temporary file exists before the rename");
        tx.send(unsynced_pages(&temp)).unwrap();
    });
    assert_eq!(store.delete_all(&word("a")).unwrap(), 1);
    if let Some(unsynced) = within(&rx) {
        assert_eq!(
            unsynced, 0,
            "the temporary file is renamed before it is on disk"
        );
    }
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

/// While the batch of the change this thread submits next is about to make `call`, runs each of `changes` on
/// a thread of its own and waits until all of them are queued behind the batch. Their
/// results arrive on the returned channel.
fn queue_during(
    store: &Arc<FileStore>,
    call: Call,
    changes: Vec<Job>,
) -> mpsc::Receiver<Result<usize, StoreError>> {
    let (tx, rx) = mpsc::channel();
    let store = Arc::clone(store);
    before(call, move || {
        let target = store.state().accepted + changes.len() as u64;
        for change in changes {
            let (store, tx) = (Arc::clone(&store), tx.clone());
            std::thread::spawn(move || tx.send(change(&store)).unwrap());
        }
        while store.state().accepted < target {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    });
    rx
}

type Job = Box<dyn FnOnce(&FileStore) -> Result<usize, StoreError> + Send>;

fn post(text: &'static str) -> Job {
    Box::new(move |s: &FileStore| s.append(&word(text)).map(|()| 1))
}

fn put(old: &'static str, new: &'static str) -> Job {
    Box::new(move |s: &FileStore| s.replace_all(&word(old), &word(new)))
}

fn delete(text: &'static str) -> Job {
    Box::new(move |s: &FileStore| s.delete_all(&word(text)))
}

#[test]
fn appends_queued_during_an_fsync_share_the_next_one_and_readers_never_see_unsynced_lines() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open_in(&dir, SyncMode::Always));
    let probe = Arc::clone(&store);
    before(Call::SyncFile, move || {
        // The committer wrote the line and has not fsync'd it: the file has it, readers don't.
        assert_eq!(fs::read(probe.path()).unwrap(), b"first\n");
        assert_eq!(probe.snapshot().unwrap().as_slice(), b"");
    });
    let names = ["w0", "w1", "w2", "w3", "w4", "w5"];
    let rx = queue_during(
        &store,
        Call::SyncFile,
        names.iter().map(|n| post(n)).collect(),
    );
    store.append(&word("first")).unwrap();
    for _ in names {
        within(&rx).unwrap();
    }
    // One batch for the first line, one write and one fsync for the six queued behind it.
    assert_eq!(store.state().seam.batches_written, 2);
    let file = fs::read(store.path()).unwrap();
    assert_eq!(store.snapshot().unwrap().as_slice(), file);
    let mut lines: Vec<&[u8]> = file.split(|&b| b == b'\n').collect();
    assert_eq!(lines.remove(0), b"first");
    assert_eq!(lines.pop(), Some(&b""[..]));
    lines.sort();
    assert_eq!(lines, names.map(str::as_bytes));
}

#[test]
fn a_failed_fsync_fails_every_queued_change_and_the_store_goes_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(seeded(&dir, b"a\n"));
    let rx = queue_during(
        &store,
        Call::SyncFile,
        vec![post("b"), put("a", "c"), delete("a"), delete("absent")],
    );
    arm(Fault::Fail(Call::SyncFile));
    assert!(matches!(
        store.append(&word("first")),
        Err(StoreError::ReadOnly { .. })
    ));
    for _ in 0..4 {
        match within(&rx) {
            Err(StoreError::ReadOnly { reason }) => {
                assert!(reason.contains("injected SyncFile"), "{reason}")
            }
            other => panic!("expected ReadOnly, got {other:?}"),
        }
    }
    assert_memory_is_file(&store, b"a\n");
    assert!(store.state().queue.is_empty(), "every change was decided");
}

#[test]
fn puts_and_deletes_queued_during_a_rewrite_share_the_next_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(seeded(&dir, b"a\nb\nc\na\n"));
    let rx = queue_during(
        &store,
        Call::SyncFile,
        vec![put("a", "p"), put("b", "q"), post("r"), delete("absent")],
    );
    assert_eq!(store.delete_all(&word("c")).unwrap(), 1);
    let mut answers: Vec<usize> = (0..4).map(|_| within(&rx).unwrap()).collect();
    answers.sort();
    assert_eq!(answers, [0, 1, 1, 2]);
    assert_eq!(store.state().seam.batches_written, 2);
    // The changes touch different words, so any order gives the same file.
    assert_memory_is_file(&store, b"p\nq\np\nr\n");
    assert_eq!(dir_names(&dir), ["words.txt", "words.txt.lock"]);
    assert_eq!(store.delete_all(&word("p")).unwrap(), 2);
    assert_memory_is_file(&store, b"q\nr\n");
}

#[test]
fn a_failed_rewrite_fails_the_changes_queued_behind_it_and_restores_the_counts() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(seeded(&dir, b"a\nb\n"));
    let rx = queue_during(
        &store,
        Call::Rename,
        vec![post("c"), put("b", "d"), delete("a")],
    );
    arm(Fault::Fail(Call::Rename));
    assert!(matches!(
        store.delete_all(&word("a")),
        Err(StoreError::Io { .. })
    ));
    for _ in 0..3 {
        match within(&rx) {
            Err(e @ StoreError::Io { .. }) => {
                assert!(e.to_string().contains("injected Rename"), "{e}")
            }
            other => panic!("expected Io, got {other:?}"),
        }
    }
    assert_memory_is_file(&store, b"a\nb\n");
    assert_eq!(dir_names(&dir), ["words.txt", "words.txt.lock"]);
    // Still writable, and the counts are the file's again.
    assert_eq!(store.delete_all(&word("c")).unwrap(), 0);
    assert_eq!(store.replace_all(&word("b"), &word("d")).unwrap(), 1);
    assert_eq!(store.delete_all(&word("a")).unwrap(), 1);
    assert_memory_is_file(&store, b"d\n");
}

#[test]
fn cloned_errors_read_the_same() {
    let io = StoreError::io(
        "append to",
        Path::new("w.txt"),
        std::io::Error::new(std::io::ErrorKind::StorageFull, "no space"),
    );
    assert_eq!(io.clone().to_string(), io.to_string());
    let ro = StoreError::ReadOnly { reason: "x".into() };
    assert_eq!(ro.clone().to_string(), ro.to_string());
}

/// A `Done` that sends its outcome on a channel.
fn to(tx: &mpsc::Sender<Result<usize, StoreError>>) -> Done {
    let tx = tx.clone();
    Box::new(move |result| tx.send(result).unwrap())
}

#[test]
fn submit_answers_once_durable_and_a_miss_with_nothing_pending_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = seeded(&dir, b"a\n");
    let (tx, rx) = mpsc::channel();
    store.submit(Change::Append(word("b")), to(&tx));
    assert_eq!(within(&rx).unwrap(), 1);
    // Answered means committed: the file and memory both have it.
    assert_memory_is_file(&store, b"a\nb\n");
    store.submit(Change::Delete(word("absent")), to(&tx));
    assert_eq!(
        rx.try_recv().unwrap().unwrap(),
        0,
        "answered before submit returned"
    );
    store.submit(
        Change::Replace {
            old: word("a"),
            new: word("c"),
        },
        to(&tx),
    );
    assert_eq!(within(&rx).unwrap(), 1);
    assert_memory_is_file(&store, b"c\nb\n");
}

/// `seeded`, once its committer thread sleeps, so that a test's deferred changes are not
/// taken by the committer's first look at the queue.
fn seeded_asleep(dir: &tempfile::TempDir, bytes: &[u8]) -> FileStore {
    let store = seeded(dir, bytes);
    let started = std::time::Instant::now();
    while !store.state().committer_idle {
        assert!(
            started.elapsed() < PATIENCE,
            "the committer never went to sleep"
        );
        thread::yield_now();
    }
    store
}

/// A `Done` that sends the outcome and the thread that decided it.
fn to_from(tx: &mpsc::Sender<(Result<usize, StoreError>, thread::ThreadId)>) -> Done {
    let tx = tx.clone();
    Box::new(move |result| tx.send((result, thread::current().id())).unwrap())
}

#[test]
fn deferred_changes_wait_for_their_thread_and_commit_there_as_one_batch() {
    let dir = tempfile::tempdir().unwrap();
    let store = seeded_asleep(&dir, b"a\n");
    let (tx, rx) = mpsc::channel();
    let mut deferred = Deferred::default();
    for name in ["b", "c", "d"] {
        store.submit_deferred(Change::Append(word(name)), to_from(&tx), &mut deferred);
    }
    assert!(deferred.is_pending());
    assert!(store.state().committer_idle, "the committer was not woken");
    assert!(rx.try_recv().is_err(), "no answer before the commit");
    assert_eq!(store.snapshot().unwrap().as_slice(), b"a\n");
    store.commit_deferred(&mut deferred);
    // Answered before commit_deferred returned, on this thread, by one write and fsync.
    let me = thread::current().id();
    for _ in 0..3 {
        let (result, by) = rx.try_recv().expect("answered before the commit returned");
        assert_eq!((result.unwrap(), by), (1, me));
    }
    assert!(!deferred.is_pending());
    assert_eq!(store.state().seam.batches_written, 1);
    assert_memory_is_file(&store, b"a\nb\nc\nd\n");
}

#[test]
fn a_change_deferred_during_another_threads_commit_is_left_to_that_thread() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(seeded_asleep(&dir, b"a\n"));
    let (tx, rx) = mpsc::channel();
    let (other_tx, other_rx) = mpsc::channel();
    let other = Arc::clone(&store);
    let answers = tx.clone();
    // While this thread commits "first", another thread defers "second" and tries to
    // commit it: a batch is underway, so that thread returns without waiting for it,
    // and is told to look again (`retry`) but not that it must (`is_pending`).
    before(Call::SyncFile, move || {
        let answers = answers.clone();
        let left = thread::spawn(move || {
            let mut deferred = Deferred::default();
            other.submit_deferred(
                Change::Append(word("second")),
                to_from(&answers),
                &mut deferred,
            );
            other.commit_deferred(&mut deferred);
            deferred
        })
        .join()
        .unwrap();
        other_tx.send(left).unwrap();
    });
    let mut deferred = Deferred::default();
    store.submit_deferred(Change::Append(word("first")), to_from(&tx), &mut deferred);
    store.commit_deferred(&mut deferred);
    let mut others = within(&other_rx);
    assert!(!others.is_pending(), "the other thread may sleep");
    assert!(!others.is_empty(), "and should look again when it wakes");
    let me = thread::current().id();
    let (result, by) = rx.try_recv().expect("first answered by its commit");
    assert_eq!((result.unwrap(), by), (1, me));
    assert!(rx.try_recv().is_err(), "second is not in that batch");
    assert_memory_is_file(&store, b"a\nfirst\n");
    // This thread is told to commit what was queued behind its batch, and does. (As if
    // the first batch had been fast: one slow fsync of a disk shared with the other tests
    // would send the next batch to the committer, as it should on a slow disk.)
    assert!(deferred.is_pending());
    store
        .core
        .append_ns
        .store(0, std::sync::atomic::Ordering::Relaxed);
    store.commit_deferred(&mut deferred);
    let (result, by) = rx
        .try_recv()
        .expect("second answered by this thread's next commit");
    assert_eq!((result.unwrap(), by), (1, me));
    assert!(!deferred.is_pending());
    // The other thread, looking again, finds its change committed.
    store.commit_deferred(&mut others);
    assert!(others.is_empty());
    assert_eq!(store.state().seam.batches_written, 2);
    assert_memory_is_file(&store, b"a\nfirst\nsecond\n");
}

#[test]
fn the_committer_takes_deferred_changes_with_a_plain_submit_and_on_drop() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("words.txt");
    let store = seeded_asleep(&dir, b"a\n");
    let (tx, rx) = mpsc::channel();
    let mut deferred = Deferred::default();
    store.submit_deferred(Change::Append(word("b")), to(&tx), &mut deferred);
    // A plain submit wakes the committer, which commits the whole queue.
    store.submit(Change::Append(word("c")), to(&tx));
    assert_eq!((within(&rx).unwrap(), within(&rx).unwrap()), (1, 1));
    assert_memory_is_file(&store, b"a\nb\nc\n");
    // Already taken: committing finds nothing to do.
    store.commit_deferred(&mut deferred);
    assert!(!deferred.is_pending());
    assert_eq!(store.state().seam.batches_written, 1);
    // A deferred change nobody commits is still committed before the store closes.
    store.submit_deferred(Change::Append(word("d")), to(&tx), &mut deferred);
    drop(store);
    assert_eq!(within(&rx).unwrap(), 1);
    assert_eq!(fs::read(&path).unwrap(), b"a\nb\nc\nd\n");
}

#[test]
fn on_a_slow_disk_deferred_changes_go_to_the_committer() {
    let dir = tempfile::tempdir().unwrap();
    let store = seeded(&dir, b"a\n");
    // As if batches had been taking 2 ms each.
    store
        .core
        .append_ns
        .store(2_000_000, std::sync::atomic::Ordering::Relaxed);
    let (tx, rx) = mpsc::channel();
    let mut deferred = Deferred::default();
    store.submit_deferred(Change::Append(word("b")), to_from(&tx), &mut deferred);
    store.commit_deferred(&mut deferred);
    assert!(!deferred.is_pending());
    let (result, by) = within(&rx);
    assert_eq!(result.unwrap(), 1);
    assert_ne!(
        by,
        thread::current().id(),
        "committed by the committer thread"
    );
    assert_memory_is_file(&store, b"a\nb\n");
}

#[test]
fn a_deferred_rewrite_goes_to_the_committer() {
    let dir = tempfile::tempdir().unwrap();
    let store = seeded_asleep(&dir, b"a\nb\n");
    let (tx, rx) = mpsc::channel();
    let mut deferred = Deferred::default();
    store.submit_deferred(Change::Append(word("c")), to_from(&tx), &mut deferred);
    store.submit_deferred(Change::Delete(word("a")), to_from(&tx), &mut deferred);
    // A rewrite writes the whole file and fsyncs twice: not on the caller's thread.
    store.commit_deferred(&mut deferred);
    assert!(deferred.is_empty());
    let me = thread::current().id();
    for want in [1, 1] {
        let (result, by) = within(&rx);
        assert_eq!(result.unwrap(), want);
        assert_ne!(by, me, "committed by the committer thread");
    }
    assert_memory_is_file(&store, b"b\nc\n");
}

#[test]
fn a_plain_submit_during_a_deferred_batch_is_committed_after_it_by_the_committer() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(seeded_asleep(&dir, b"a\n"));
    let plain = queue_during(&store, Call::SyncFile, vec![post("plain")]);
    // The committer, woken while this thread's batch is underway, waits for it to end.
    let probe = Arc::clone(&store);
    before(Call::SyncFile, move || {
        let started = std::time::Instant::now();
        while probe.state().batch_waiters == 0 {
            assert!(started.elapsed() < PATIENCE, "the committer never waited");
            thread::yield_now();
        }
    });
    let (tx, rx) = mpsc::channel();
    let mut deferred = Deferred::default();
    store.submit_deferred(Change::Append(word("first")), to_from(&tx), &mut deferred);
    store.commit_deferred(&mut deferred);
    let me = thread::current().id();
    let (result, by) = rx.try_recv().expect("first answered by its commit");
    assert_eq!((result.unwrap(), by), (1, me));
    // "plain" is the next batch, by the committer (or by this thread, told of it).
    store.commit_deferred(&mut deferred);
    assert_eq!(within(&plain).unwrap(), 1);
    assert_eq!(store.state().seam.batches_written, 2);
    assert_memory_is_file(&store, b"a\nfirst\nplain\n");
}

#[test]
fn a_failed_deferred_batch_fails_what_others_queued_behind_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(seeded_asleep(&dir, b"a\n"));
    // Another thread defers "second" during this thread's batch and finds it underway.
    let second: Job = Box::new(|s: &FileStore| {
        let (tx, rx) = mpsc::channel();
        let mut deferred = Deferred::default();
        s.submit_deferred(Change::Append(word("second")), to(&tx), &mut deferred);
        s.commit_deferred(&mut deferred);
        within(&rx)
    });
    let others = queue_during(&store, Call::SyncFile, vec![second]);
    arm(Fault::Fail(Call::SyncFile));
    let (tx, rx) = mpsc::channel();
    let mut deferred = Deferred::default();
    store.submit_deferred(Change::Append(word("first")), to(&tx), &mut deferred);
    store.commit_deferred(&mut deferred);
    let first = rx.try_recv().expect("decided by the failed batch");
    assert!(
        matches!(first, Err(StoreError::ReadOnly { .. })),
        "{first:?}"
    );
    let second = within(&others);
    assert!(
        matches!(second, Err(StoreError::ReadOnly { .. })),
        "{second:?}"
    );
    assert!(!deferred.is_pending(), "nothing is left to commit");
    assert_memory_is_file(&store, b"a\n");
}

#[test]
fn without_a_committer_a_deferred_change_commits_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_in(&dir, SyncMode::None);
    let (tx, rx) = mpsc::channel();
    let mut deferred = Deferred::default();
    store.submit_deferred(Change::Append(word("b")), to_from(&tx), &mut deferred);
    let (result, by) = rx.try_recv().expect("answered before submit returned");
    assert_eq!((result.unwrap(), by), (1, thread::current().id()));
    assert!(!deferred.is_pending());
    assert_memory_is_file(&store, b"b\n");
}

#[test]
fn dropping_the_store_answers_every_queued_change_first() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("words.txt");
    let store = open_in(&dir, SyncMode::Always);
    let (gate_tx, gate_rx) = mpsc::channel::<()>();
    // Holds the committer inside the first batch while more changes queue behind it.
    before(Call::SyncFile, move || within(&gate_rx));
    let (tx, rx) = mpsc::channel();
    for name in ["w0", "w1", "w2", "w3"] {
        store.submit(Change::Append(word(name)), to(&tx));
    }
    gate_tx.send(()).unwrap();
    drop(store);
    drop(tx);
    let answers: Vec<usize> = rx.iter().map(Result::unwrap).collect();
    assert_eq!(answers, [1, 1, 1, 1]);
    assert_eq!(fs::read(&path).unwrap(), b"w0\nw1\nw2\nw3\n");
}

#[test]
fn a_panic_in_the_committer_fails_its_batch_and_the_store_goes_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = seeded(&dir, b"a\n");
    before(Call::SyncFile, || panic!("injected panic in a commit"));
    let (tx, rx) = mpsc::channel();
    store.submit(Change::Append(word("b")), to(&tx));
    match within(&rx) {
        Err(StoreError::ReadOnly { reason }) => {
            assert!(reason.contains("commit panicked"), "{reason}")
        }
        other => panic!("expected ReadOnly, got {other:?}"),
    }
    // Memory follows the file, whatever the panic left in it.
    let on_disk = fs::read(store.path()).unwrap();
    assert_memory_is_file(&store, &on_disk);
    // The committer lives on; later writes are refused, not stranded.
    assert!(matches!(
        store.append(&word("c")),
        Err(StoreError::ReadOnly { .. })
    ));
}

#[test]
fn store_is_usable_as_a_shared_trait_object() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(open_in(&dir, SyncMode::None));
    assert_eq!(wait(&*store, Change::Append(word("a"))).unwrap(), 1);
    assert_eq!(store.snapshot().unwrap().as_slice(), b"a\n");
}
