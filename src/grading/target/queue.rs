//! The queue of starts ahead: at most as many servers start at once as the machine
//! has cores, the one whose play is nearest first.
//!
//! Here: `StartQueue` (slots, and the order waiting starts take them in), `Slot`.
//! Elsewhere: the starts ahead that wait here (`grading::target::foreign::Starting`),
//! the workers that begin them (`grading::ahead`).
//!
//! Why: a server's start is mostly CPU (a Python server's imports take 40 to 60 ms
//! of it), and every start begun ahead is needed, but not at once: the one the next
//! play waits for is needed first. Run side by side, eight starts on two cores
//! share them evenly, and the nearest one is ready no sooner than the last; queued,
//! the nearest is ready in a start's own time, and the others follow. bench/SANDBOX.md
//! has what this gave a class.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// The queue every start ahead of this process waits in.
pub static STARTS: StartQueue = StartQueue::new();

/// How many starts run at once by default (`--starts`): the cores this process may
/// run on.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// How often a waiting start looks whether it was given up (`Starting` dropped, the
/// run interrupted) when nothing else woke it.
const RECHECK: Duration = Duration::from_millis(20);

/// Slots for starts, given to waiting starts in order: a start whose play waits for it
/// (`Ticket::hurry`) first, then the one begun first.
#[derive(Debug)]
pub struct StartQueue {
    state: Mutex<State>,
    changed: Condvar,
    next: AtomicU64,
}

#[derive(Debug)]
struct State {
    busy: usize,
    /// Waiting starts, in the order they take slots: hurried first (`false`), then
    /// by ticket number.
    waiting: BTreeSet<(bool, u64)>,
}

/// A place in the queue, held from when a start is begun (so that the order is the
/// order the starts were begun in, however their threads are scheduled) until it
/// takes a slot or is dropped.
#[derive(Debug)]
pub struct Ticket {
    queue: &'static StartQueue,
    number: u64,
    hurried: AtomicBool,
}

/// A slot held: a start runs while it lives.
pub struct Slot<'a> {
    queue: &'a StartQueue,
}

impl StartQueue {
    /// An empty queue.
    #[allow(clippy::new_without_default)] // `STARTS` needs a `const fn`
    pub const fn new() -> StartQueue {
        StartQueue {
            state: Mutex::new(State {
                busy: 0,
                waiting: BTreeSet::new(),
            }),
            changed: Condvar::new(),
            next: AtomicU64::new(0),
        }
    }

    /// A place in line behind every start begun before.
    pub fn ticket(&'static self) -> Ticket {
        let mut state = self.lock();
        let ticket = Ticket {
            queue: self,
            number: self.next.fetch_add(1, Ordering::Relaxed),
            hurried: AtomicBool::new(false),
        };
        state.waiting.insert(ticket.key());
        ticket
    }

    /// Waits until `ticket` may start: fewer than `slots` (at least one) starts run,
    /// and no waiting start comes before it. `None` if `given_up` says so first
    /// (checked at least every 20 ms).
    pub fn wait(
        &self,
        ticket: &Ticket,
        slots: usize,
        given_up: impl Fn() -> bool,
    ) -> Option<Slot<'_>> {
        let mut state = self.lock();
        loop {
            if given_up() {
                if state.leave(ticket) {
                    drop(state);
                    // The first in line may have been this one's follower.
                    self.changed.notify_all();
                }
                return None;
            }
            if state.busy < slots.max(1) && state.waiting.first() == Some(&ticket.key()) {
                state.busy += 1;
                state.leave(ticket);
                return Some(Slot { queue: self });
            }
            state = self
                .changed
                .wait_timeout(state, RECHECK)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// A play waits for `ticket`'s start now: it goes before every start not hurried.
    pub fn hurry(&self, ticket: &Ticket) {
        ticket.hurried.store(true, Ordering::SeqCst);
        let mut state = self.lock();
        if state.waiting.remove(&(true, ticket.number)) {
            state.waiting.insert(ticket.key());
        }
        drop(state);
        self.changed.notify_all();
    }

    /// Wakes the waiting starts to look again (one was given up).
    pub fn nudge(&self) {
        self.changed.notify_all();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl State {
    /// `ticket` is no longer in line, hurried or not; false if it was not.
    fn leave(&mut self, ticket: &Ticket) -> bool {
        let plain = self.waiting.remove(&(true, ticket.number));
        self.waiting.remove(&(false, ticket.number)) || plain
    }
}

impl Ticket {
    /// The order in the queue: hurried ones first (`false` sorts first), then by number.
    fn key(&self) -> (bool, u64) {
        (!self.hurried.load(Ordering::SeqCst), self.number)
    }
}

impl Drop for Ticket {
    /// Out of line if its start never waited (no thread could be made).
    fn drop(&mut self) {
        let mut state = self.queue.lock();
        if state.leave(self) {
            drop(state);
            // The first in line may have been this one's follower.
            self.queue.changed.notify_all();
        }
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.queue.lock().busy -= 1;
        self.queue.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, mpsc};

    /// Slots go to starts in the order their tickets were taken, whenever their
    /// threads come to wait, except that a hurried one goes first; one given up, or
    /// dropped without waiting, leaves the line.
    #[test]
    fn slots_go_to_the_hurried_then_the_first_begun() {
        static QUEUE: StartQueue = StartQueue::new();
        let held = QUEUE
            .wait(&QUEUE.ticket(), 1, || false)
            .expect("a free slot");
        let tickets: Vec<Arc<Ticket>> = (0..5).map(|_| Arc::new(QUEUE.ticket())).collect();
        let given_up = Arc::new(AtomicBool::new(false));
        let (order, took) = mpsc::channel();
        // Ticket 0's start comes to wait last; 4 never does.
        let waiter = |n: usize| {
            let (ticket, order, given_up) = (tickets[n].clone(), order.clone(), given_up.clone());
            std::thread::spawn(move || {
                let give_up = || n == 1 && given_up.load(Ordering::SeqCst);
                if let Some(_slot) = QUEUE.wait(&ticket, 1, give_up) {
                    order.send(n).unwrap();
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
        };
        let mut waiters: Vec<_> = [1, 2, 3].into_iter().map(waiter).collect();
        QUEUE.hurry(&tickets[3]);
        given_up.store(true, Ordering::SeqCst);
        QUEUE.nudge();
        // 1 gave up: 0, 2, 3 and 4 are in line.
        while QUEUE.lock().waiting.len() > 4 {
            std::thread::sleep(Duration::from_millis(1));
        }
        drop(held);
        // 3 (hurried) runs; then 0 is first in line but not yet waiting: 2 must not
        // pass it.
        assert_eq!(took.recv().unwrap(), 3);
        std::thread::sleep(Duration::from_millis(60));
        assert!(
            took.try_recv().is_err(),
            "2 went before 0, which was begun first"
        );
        waiters.push(waiter(0));
        assert_eq!(took.recv().unwrap(), 0);
        // 2 is next, and 4, which never waits, is behind it.
        assert_eq!(took.recv().unwrap(), 2);
        for w in waiters {
            w.join().unwrap();
        }
        drop(tickets);
        assert_eq!(QUEUE.lock().busy, 0);
        assert!(
            QUEUE.lock().waiting.is_empty(),
            "a dropped ticket leaves the line"
        );
    }

    /// Two slots: two starts run at once, and a third waits for one of them.
    #[test]
    fn as_many_run_at_once_as_there_are_slots() {
        static QUEUE: StartQueue = StartQueue::new();
        let a = QUEUE.wait(&QUEUE.ticket(), 2, || false);
        let b = QUEUE.wait(&QUEUE.ticket(), 2, || false);
        assert!(a.is_some() && b.is_some());
        let third = QUEUE.ticket();
        let tries = std::cell::Cell::new(0);
        // Gives up after looking twice: no slot came free.
        let none = QUEUE.wait(&third, 2, || {
            tries.set(tries.get() + 1);
            tries.get() > 2
        });
        assert!(none.is_none());
        drop(a);
        assert!(QUEUE.wait(&QUEUE.ticket(), 2, || false).is_some());
    }
}
