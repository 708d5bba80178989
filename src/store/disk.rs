//! The system calls through which the store changes the disk, gathered in one place so that
//! unit tests can make any one of them fail.
//!
//! Here: thin wrappers over `write(2)`, `fsync(2)`/`fdatasync(2)`, `ftruncate(2)`, `rename(2)`
//! and the fsync of a directory, and `Seam`, all the committer holds for the tests' faults.
//! Outside tests each wrapper is exactly the std call and `Seam` is empty. Also
//! `unsynced_pages` (cachestat(2)), with which the unit and process tests check that nothing
//! answered is still only in the page cache.
//! Elsewhere: what a failure means for the store (`store`), the rewrite protocol (`store::atomic`).

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

/// How many of the pages of the file at `path` in the page cache are dirty or being written
/// back, from cachestat(2) (Linux 6.5); `Ok(None)` if the kernel has no such call.
pub fn unsynced_pages(path: &Path) -> io::Result<Option<u64>> {
    use std::os::fd::AsRawFd;
    #[repr(C)]
    struct Range {
        off: u64,
        len: u64,
    }
    #[repr(C)]
    #[derive(Default)]
    struct Stat {
        cache: u64,
        dirty: u64,
        writeback: u64,
        evicted: u64,
        recently_evicted: u64,
    }
    const SYS_CACHESTAT: libc::c_long = 451;
    let file = File::open(path)?;
    // A length of 0 means up to the end of the file.
    let range = Range { off: 0, len: 0 };
    let mut stat = Stat::default();
    // SAFETY: cachestat(2) reads `range` and writes `stat`, both live, `repr(C)` and of the
    // kernel's layout; `file` stays open across the call.
    let rc = unsafe {
        libc::syscall(
            SYS_CACHESTAT,
            file.as_raw_fd(),
            &range as *const Range,
            &mut stat as *mut Stat,
            0,
        )
    };
    if rc != 0 {
        let error = io::Error::last_os_error();
        return match error.raw_os_error() {
            Some(libc::ENOSYS) => Ok(None),
            _ => Err(error),
        };
    }
    Ok(Some(stat.dirty + stat.writeback))
}

/// A call a test can make fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Call {
    Write,
    SyncFile,
    SetLen,
    Rename,
    SyncDir,
}

/// Writes all of `bytes` at the file's current position (at the end, for an `O_APPEND` handle).
pub(super) fn write_all(mut file: &File, bytes: &[u8]) -> io::Result<()> {
    #[cfg(test)]
    if let Some(landed) = faults::short_write(bytes.len()) {
        faults::run_hook(Call::Write);
        // Model a write that stops partway: the first bytes reach the file, then the error.
        file.write_all(&bytes[..landed])?;
        return Err(faults::injected(Call::Write));
    }
    faults::check(Call::Write)?;
    file.write_all(bytes)
}

/// `fdatasync(2)`: the file's data and the metadata needed to read it back (its length).
pub(super) fn sync_data(file: &File) -> io::Result<()> {
    faults::check(Call::SyncFile)?;
    file.sync_data()
}

/// `fsync(2)`: data and all metadata. Used for a freshly created file.
pub(super) fn sync_all(file: &File) -> io::Result<()> {
    faults::check(Call::SyncFile)?;
    file.sync_all()
}

/// `ftruncate(2)`.
pub(super) fn set_len(file: &File, len: u64) -> io::Result<()> {
    faults::check(Call::SetLen)?;
    file.set_len(len)
}

/// `rename(2)`: atomically points `to` at the inode of `from` (POSIX guarantees that a reader
/// of `to` sees either the old or the new file, never neither).
pub(super) fn rename(from: &Path, to: &Path) -> io::Result<()> {
    faults::check(Call::Rename)?;
    std::fs::rename(from, to)
}

/// fsyncs a directory, which is what makes a create, rename or unlink in it durable
/// (POSIX fsync(2) on the file itself does not cover its directory entry).
pub(super) fn sync_dir(dir: &Path) -> io::Result<()> {
    faults::check(Call::SyncDir)?;
    File::open(dir)?.sync_all()
}

/// What the commit queue carries for the fault hooks, so that the production structs hold one
/// field for them and no `#[cfg(test)]` of their own. In unit tests: the faults armed by each
/// thread that queued a change, handed to the thread that commits it, and how many batches did
/// I/O. Outside tests: nothing, and every method does nothing.
#[derive(Default)]
pub(super) struct Seam {
    #[cfg(test)]
    carried: Vec<faults::Local>,
    #[cfg(test)]
    pub(super) batches_written: usize,
}

impl Seam {
    /// A change was queued by this thread: its armed faults and hooks go with it.
    #[inline(always)]
    pub(super) fn queued(&mut self) {
        #[cfg(test)]
        self.carried.push(faults::take_local());
    }

    /// This thread commits the queue: arms the faults that came with it.
    #[inline(always)]
    pub(super) fn committing(&mut self) {
        #[cfg(test)]
        self.carried.drain(..).for_each(faults::install);
    }

    /// The queued changes failed with a batch: their faults go with them.
    #[inline(always)]
    pub(super) fn failed(&mut self) {
        #[cfg(test)]
        self.carried.clear();
    }

    /// A batch did I/O.
    #[inline(always)]
    pub(super) fn wrote(&mut self) {
        #[cfg(test)]
        {
            self.batches_written += 1;
        }
    }
}

#[cfg(not(test))]
mod faults {
    use std::io;

    #[inline(always)]
    pub(super) fn check(_call: super::Call) -> io::Result<()> {
        Ok(())
    }
}

/// Test-only fault injection. Faults are armed per thread (each unit test runs on its own
/// thread), and each armed fault fires once, on the next matching call. A change queued for
/// the committer thread carries its thread's armed faults and hooks with it (`take_local`,
/// `install`), so a test arms a fault on its own thread for the batch its change joins.
#[cfg(test)]
pub(crate) mod faults {
    use super::Call;
    use std::cell::RefCell;
    use std::io;

    /// One failure to inject.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) enum Fault {
        /// The next call of this kind fails without doing anything.
        Fail(Call),
        /// The next write lands only its first `n` bytes, then fails.
        ShortWrite(usize),
    }

    type Hook = Box<dyn FnOnce() + Send>;

    /// The faults and hooks armed on one thread, on their way to the thread that commits.
    #[derive(Default)]
    pub(crate) struct Local {
        armed: Vec<Fault>,
        hooks: Vec<(Call, Hook)>,
    }

    /// Takes every fault and hook armed on this thread.
    pub(crate) fn take_local() -> Local {
        Local {
            armed: ARMED.with(|armed| std::mem::take(&mut *armed.borrow_mut())),
            hooks: HOOKS.with(|hooks| std::mem::take(&mut *hooks.borrow_mut())),
        }
    }

    /// Arms `local` on this thread, after what is armed already.
    pub(crate) fn install(local: Local) {
        ARMED.with(|armed| armed.borrow_mut().extend(local.armed));
        HOOKS.with(|hooks| hooks.borrow_mut().extend(local.hooks));
    }

    thread_local! {
        static ARMED: RefCell<Vec<Fault>> = const { RefCell::new(Vec::new()) };
        static HOOKS: RefCell<Vec<(Call, Hook)>> = RefCell::new(Vec::new());
    }

    /// Runs `hook` on this thread just before its next call of kind `call` (before any fault
    /// armed for that call fires; several hooks for one call run in the order armed): a way to act while a batch's I/O is under way.
    pub(crate) fn before(call: Call, hook: impl FnOnce() + Send + 'static) {
        HOOKS.with(|hooks| hooks.borrow_mut().push((call, Box::new(hook))));
    }

    pub(super) fn run_hook(call: Call) {
        let hooks: Vec<Hook> = HOOKS.with(|hooks| {
            let mut hooks = hooks.borrow_mut();
            let (now, later) = hooks.drain(..).partition(|(c, _)| *c == call);
            *hooks = later;
            now.into_iter().map(|(_, hook)| hook).collect()
        });
        for hook in hooks {
            hook();
        }
    }

    pub(crate) fn arm(fault: Fault) {
        ARMED.with(|armed| armed.borrow_mut().push(fault));
    }

    /// Faults armed on this thread that have not fired yet.
    pub(crate) fn pending() -> Vec<Fault> {
        ARMED.with(|armed| armed.borrow().clone())
    }

    fn take(wanted: Fault) -> bool {
        ARMED.with(|armed| {
            let mut armed = armed.borrow_mut();
            match armed.iter().position(|f| *f == wanted) {
                Some(at) => {
                    armed.remove(at);
                    true
                }
                None => false,
            }
        })
    }

    pub(super) fn injected(call: Call) -> io::Error {
        io::Error::other(format!("injected {call:?} failure"))
    }

    pub(super) fn check(call: Call) -> io::Result<()> {
        run_hook(call);
        if take(Fault::Fail(call)) {
            return Err(injected(call));
        }
        Ok(())
    }

    pub(super) fn short_write(len: usize) -> Option<usize> {
        let armed = ARMED.with(|armed| {
            armed.borrow().iter().find_map(|f| match f {
                Fault::ShortWrite(n) => Some(*n),
                Fault::Fail(_) => None,
            })
        });
        let n = armed?;
        take(Fault::ShortWrite(n));
        Some(n.min(len))
    }
}

#[cfg(test)]
mod tests {
    use super::faults::{Fault, arm, pending};
    use super::*;

    #[test]
    fn an_armed_fault_fires_once_on_its_call_only() {
        let dir = tempfile::tempdir().unwrap();
        let file = File::create(dir.path().join("f")).unwrap();
        arm(Fault::Fail(Call::SetLen));
        sync_data(&file).unwrap();
        assert!(set_len(&file, 0).is_err());
        set_len(&file, 0).unwrap();
        assert!(pending().is_empty());
    }

    #[test]
    fn a_short_write_lands_a_prefix_then_fails() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let file = File::create(&path).unwrap();
        arm(Fault::ShortWrite(3));
        assert!(write_all(&file, b"hello\n").is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"hel");
    }
}
