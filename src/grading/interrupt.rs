//! Ctrl-C and SIGTERM during `wordwire grade` and `replay --target-cmd`: stop every
//! running target (and those started ahead), start no other, and let the run end
//! with what is finished.
//!
//! Here: `Interrupt`, the signal flag and the watches of the transcripts being
//! played. A signal sets the flag; `grade_all`'s threads take no new transcript,
//! and its monitor calls `kill_running`, which SIGKILLs every running target's
//! process group (the same `Watch::kill` as the time limit). A second signal exits
//! at once, without waiting for anything.
//! Elsewhere: what the run then reports (`grading::class::run`), killing a group
//! (`grading::target::foreign::Watch`).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::grading::target::foreign::Watch;

/// The signal flag of one `grade` run and the watches of its running transcripts.
#[derive(Debug, Default)]
pub struct Interrupt {
    /// The number of the signal received; 0 before any.
    signal: Arc<AtomicUsize>,
    running: Mutex<Vec<Arc<Watch>>>,
}

impl Interrupt {
    /// An `Interrupt` that SIGINT and SIGTERM set; a second one of either exits the
    /// process at once with 130 (SIGINT) or 143 (SIGTERM).
    pub fn on_signals() -> Result<Interrupt, String> {
        let interrupt = Interrupt::default();
        let again = Arc::new(AtomicBool::new(false));
        for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            signal_hook::flag::register_conditional_shutdown(signal, 128 + signal, again.clone())
                .and_then(|_| signal_hook::flag::register(signal, again.clone()))
                .and_then(|_| {
                    let number = usize::try_from(signal).expect("signal numbers are positive");
                    signal_hook::flag::register_usize(signal, interrupt.signal.clone(), number)
                })
                .map_err(|e| format!("cannot install the signal handler: {e}"))?;
        }
        Ok(interrupt)
    }

    /// The signal received, if any.
    pub fn signal(&self) -> Option<i32> {
        match self.signal.load(Ordering::SeqCst) {
            0 => None,
            n => i32::try_from(n).ok(),
        }
    }

    /// As a signal would (for tests).
    pub fn raise(&self, signal: i32) {
        let number = usize::try_from(signal).expect("signal numbers are positive");
        self.signal.store(number, Ordering::SeqCst);
    }

    /// A watch for one transcript's target, killed by `kill_running`; killed already
    /// when the signal came before it (its target is then killed as it starts).
    pub fn watch(&self) -> Arc<Watch> {
        let watch = Arc::new(Watch::default());
        let mut running = self.lock();
        running.push(watch.clone());
        // Under the lock `kill_running` takes after the flag is set: either it sees
        // this watch, or this sees the flag.
        if self.signal().is_some() {
            watch.kill();
        }
        watch
    }

    /// The monitor of a run's workers, on a thread of its own until `done`: on a
    /// signal it kills every begun target (the workers take no more), checking every
    /// 20 ms.
    pub fn monitor(&self, done: &AtomicBool) {
        while !done.load(Ordering::SeqCst) {
            if self.signal().is_some() {
                self.kill_running();
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Forgets `watch` once its transcript has ended.
    pub fn release(&self, watch: &Arc<Watch>) {
        self.lock().retain(|w| !Arc::ptr_eq(w, watch));
    }

    /// SIGKILLs the target of every transcript being played.
    pub fn kill_running(&self) {
        for watch in self.lock().iter() {
            watch.kill();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Arc<Watch>>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The exit status of a run a signal ended: 128 + its number (130 for SIGINT, 143 for SIGTERM).
pub fn exit_status(signal: i32) -> u8 {
    u8::try_from(128 + signal).unwrap_or(130)
}

/// `SIGINT`, `SIGTERM`, or the number.
pub fn signal_name(signal: i32) -> String {
    match signal {
        libc::SIGINT => "SIGINT (Ctrl-C)".to_string(),
        libc::SIGTERM => "SIGTERM".to_string(),
        n => format!("signal {n}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_watch_taken_after_the_signal_is_killed_already() {
        let interrupt = Interrupt::default();
        let before = interrupt.watch();
        assert!(!before.killed());
        interrupt.raise(libc::SIGINT);
        assert_eq!(interrupt.signal(), Some(libc::SIGINT));
        interrupt.kill_running();
        assert!(before.killed());
        let after = interrupt.watch();
        assert!(after.killed());
        interrupt.release(&before);
        interrupt.release(&after);
        assert!(interrupt.lock().is_empty());
        assert_eq!(exit_status(libc::SIGINT), 130);
        assert_eq!(exit_status(libc::SIGTERM), 143);
    }
}
