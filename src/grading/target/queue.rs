//! The queue of starts ahead: at most as many servers start at once as the machine
//! has cores, a start a play already waits for first, then the one begun first.
//!
//! Here: `StartQueue` (slots, their leases, and the order waiting starts take them
//! in), `Ticket` (a place in line), `Slot`.
//! Elsewhere: the starts ahead that wait here (`grading::target::start::Starting`),
//! the workers that begin them (`grading::ahead`).
//!
//! Why: a server's start is mostly CPU (a Python server's imports take 40 to 60 ms
//! of it), and every start begun ahead is needed, but not at once: the one the next
//! play waits for is needed first. Run side by side, eight starts on two cores
//! share them evenly, and the nearest one is ready no sooner than the last; queued,
//! the nearest is ready in a start's own time, and the others follow.
//!
//! For a start a play waits for, a slot taken more than `LEASE` ago no longer
//! counts: a start that has not listened by then (a compile, or a submission that
//! hangs before it listens) goes on, and no play waits longer than that behind it.
//! For the other starts ahead every slot held counts, so they never run more than
//! the slots at once.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// The queue every start ahead of this process waits in.
pub static STARTS: StartQueue = StartQueue::new(LEASE);

/// How many starts run at once by default (`--starts`): the cores this process may
/// run on.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// How long a slot counts as taken for a start a play waits for: past it, that start
/// goes before the slot is given back. A Python or Node server listens well within
/// it, a JVM about then.
pub const LEASE: Duration = Duration::from_secs(2);

/// How often a waiting start looks again when nothing woke it: whether it was given
/// up, or a lease ran out.
const RECHECK: Duration = Duration::from_millis(50);

/// Slots for starts, given to waiting starts in order: a start whose play waits for it
/// (`hurry`) first, then the one begun first.
#[derive(Debug)]
pub struct StartQueue {
    lease: Duration,
    state: Mutex<State>,
    changed: Condvar,
    next: AtomicU64,
}

#[derive(Debug)]
struct State {
    /// The slots taken, by ticket number, with when each was taken.
    held: BTreeMap<u64, Instant>,
    /// Waiting starts, in the order they take slots: hurried first (`false`), then
    /// by ticket number.
    waiting: BTreeSet<(bool, u64)>,
}

/// A place in the queue, held from when a start is begun (so that the order is the
/// order the starts were begun in, however their threads are scheduled) until it
/// takes a slot, gives up, or is dropped.
#[derive(Debug)]
pub struct Ticket {
    queue: &'static StartQueue,
    number: u64,
    hurried: AtomicBool,
}

/// A slot held: a start runs while it lives.
pub struct Slot<'a> {
    queue: &'a StartQueue,
    number: u64,
}

impl StartQueue {
    /// An empty queue whose slots count for `lease` (`LEASE`).
    pub const fn new(lease: Duration) -> StartQueue {
        StartQueue {
            lease,
            state: Mutex::new(State {
                held: BTreeMap::new(),
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

    /// Waits until `ticket` may start: fewer than `slots` (at least one) slots are
    /// taken (`State::taken`: for a hurried ticket, only those taken less than a
    /// lease ago), and no waiting start comes before it.
    /// `None` if `given_up` says so first (looked at whenever the queue changes,
    /// `nudge`, and at least every 50 ms).
    pub fn wait(
        &self,
        ticket: &Ticket,
        slots: usize,
        given_up: impl Fn() -> bool,
    ) -> Option<Slot<'_>> {
        let slots = slots.max(1);
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
            let now = Instant::now();
            if state.taken(now, self.lease, ticket.hurried()) < slots
                && state.waiting.first() == Some(&ticket.key())
            {
                state.leave(ticket);
                state.held.insert(ticket.number, now);
                // A hurried one may be next: it counts the fewest taken.
                let more = state.taken(now, self.lease, true) < slots && !state.waiting.is_empty();
                drop(state);
                if more {
                    // The next in line may be asleep: a slot is still free for it.
                    self.changed.notify_all();
                }
                return Some(Slot {
                    queue: self,
                    number: ticket.number,
                });
            }
            // Until the oldest lease runs out, if sooner than `RECHECK`.
            let wake = state
                .held
                .values()
                .map(|taken| (*taken + self.lease).saturating_duration_since(now))
                .filter(|left| !left.is_zero())
                .min()
                .map_or(RECHECK, |left| left.min(RECHECK));
            state = self
                .changed
                .wait_timeout(state, wake)
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

    /// Wakes the waiting starts to look again (a watch was killed: some give up).
    pub fn nudge(&self) {
        // Taken and let go first: a waiter between its look and its sleep holds the
        // lock, so it is asleep, and woken, by the time this notifies.
        drop(self.lock());
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

    /// The slots taken at `now` as a start sees them: every one held, or for a start
    /// a play waits for (`hurried`), those taken less than `lease` ago. So starts
    /// ahead never run more than the slots at once (a compile per start, slower than
    /// the slots let starts in, would pile up past `--start-timeout`), and a play
    /// waits at most a lease for a start that hangs before it listens.
    fn taken(&self, now: Instant, lease: Duration, hurried: bool) -> usize {
        if !hurried {
            return self.held.len();
        }
        self.held
            .values()
            .filter(|taken| now.saturating_duration_since(**taken) < lease)
            .count()
    }
}

impl Ticket {
    /// True once a play waits for its start (`StartQueue::hurry`).
    fn hurried(&self) -> bool {
        self.hurried.load(Ordering::SeqCst)
    }

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
        self.queue.lock().held.remove(&self.number);
        self.queue.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, mpsc};

    const LONG: Duration = Duration::from_secs(600);
    const PATIENCE: Duration = Duration::from_secs(20);

    /// Slots go to starts in the order their tickets were taken, whenever their
    /// threads come to wait, except that a hurried one goes first; one given up, or
    /// dropped without waiting, leaves the line.
    #[test]
    fn slots_go_to_the_hurried_then_the_first_begun() {
        static QUEUE: StartQueue = StartQueue::new(LONG);
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
        let deadline = Instant::now() + PATIENCE;
        while QUEUE.lock().waiting.len() > 4 {
            assert!(Instant::now() < deadline, "1 did not give up");
            std::thread::sleep(Duration::from_millis(1));
        }
        drop(held);
        let next = || took.recv_timeout(PATIENCE).expect("a start took the slot");
        // 3 (hurried) runs; then 0 is first in line but not yet waiting: 2 must not
        // pass it.
        assert_eq!(next(), 3);
        std::thread::sleep(Duration::from_millis(60));
        assert!(
            took.try_recv().is_err(),
            "2 went before 0, which was begun first"
        );
        waiters.push(waiter(0));
        assert_eq!(next(), 0);
        // 2 is next, and 4, which never waits, is behind it.
        assert_eq!(next(), 2);
        for w in waiters {
            w.join().unwrap();
        }
        drop(tickets);
        assert!(QUEUE.lock().held.is_empty());
        assert!(
            QUEUE.lock().waiting.is_empty(),
            "a dropped ticket leaves the line"
        );
    }

    /// Two slots: two starts run at once, and a third waits for one of them.
    #[test]
    fn as_many_run_at_once_as_there_are_slots() {
        static QUEUE: StartQueue = StartQueue::new(LONG);
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

    /// A slot held past its lease no longer counts for a start a play waits for,
    /// which goes while the first still runs; a start not hurried waits for the slot
    /// to be given back (starts ahead never run more than the slots at once).
    #[test]
    fn a_slot_held_past_its_lease_lets_a_hurried_start_go_and_no_other() {
        static QUEUE: StartQueue = StartQueue::new(Duration::from_millis(300));
        let first = QUEUE
            .wait(&QUEUE.ticket(), 1, || false)
            .expect("a free slot");
        let taken = Instant::now();
        let ahead = Arc::new(QUEUE.ticket());
        let played = Arc::new(QUEUE.ticket());
        let (went, order) = mpsc::channel();
        let waiter = |ticket: &Arc<Ticket>, name: &'static str| {
            let (ticket, went) = (ticket.clone(), went.clone());
            std::thread::spawn(move || {
                let slot = QUEUE.wait(&ticket, 1, || false);
                went.send((name, Instant::now())).unwrap();
                // Held until the test is done looking.
                std::thread::sleep(Duration::from_millis(200));
                drop(slot);
            })
        };
        let waiters = [waiter(&ahead, "ahead"), waiter(&played, "played")];
        QUEUE.hurry(&played);
        let (name, at) = order.recv_timeout(PATIENCE).expect("the hurried one goes");
        assert_eq!(name, "played");
        assert!(
            at.duration_since(taken) >= Duration::from_millis(300),
            "not before the lease ran out"
        );
        // Two slots held past their leases: the one not hurried still waits.
        std::thread::sleep(Duration::from_millis(50));
        assert!(
            order.try_recv().is_err(),
            "a start ahead went past the slots"
        );
        drop(first);
        let (name, _) = order.recv_timeout(PATIENCE).expect("then the other");
        assert_eq!(name, "ahead");
        for w in waiters {
            w.join().unwrap();
        }
    }
}
