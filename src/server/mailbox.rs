//! Each event loop's mailbox: where answers to writes, and connections handed over by
//! another loop, wait for the loop to collect them, and the `mio::Waker` that tells it to.
//!
//! Here: `Reply` (how a write's answer finds its way back to its connection, from whichever
//! thread the store decides it on), `Completion`, `Mailbox` and when it wakes its loop.
//! Elsewhere: which requests are answered this way (`server::conn`), what a request means
//! (`handler`), committing writes (`store`).
//!
//! Wakes are batched: the loop says when it is about to sleep (`Mailbox::sleep`), and only
//! the first answer delivered while it sleeps wakes it. The thread committing a batch (a
//! loop, or the store's committer) answers the whole batch at once, so a loop wakes once per
//! batch, not once per request; an answer delivered while the loop is awake (its own batch's,
//! committed at the end of its turn) costs no wake at all. An answer decided on the
//! loop's own thread while it submits the write (refused at once, or committed inline with
//! `--sync none`) skips the mailbox: `answered_inline` hands it straight back, so the
//! connection answers in the same step instead of on the loop's next turn.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use mio::net::TcpStream;

use crate::http::response::Response;

/// A finished request, on its way back to the connection's loop.
pub(super) struct Completion {
    pub(super) slot: usize,
    pub(super) id: u64,
    /// `Err` if the answer was lost (the code deciding it panicked).
    pub(super) response: Result<Response, ()>,
}

/// Where the answer of one request goes: its connection's loop, slot and identity. Dropped
/// without `send` (its decider panicked, or dropped it), it delivers `Err(())`, which the
/// connection answers with a 500 and a close, so no connection waits forever.
pub(super) struct Reply {
    mailbox: Option<Arc<Mailbox>>,
    slot: usize,
    id: u64,
}

impl Reply {
    pub(super) fn new(mailbox: Arc<Mailbox>, slot: usize, id: u64) -> Reply {
        Reply {
            mailbox: Some(mailbox),
            slot,
            id,
        }
    }

    pub(super) fn send(mut self, response: Response) {
        self.deliver(Ok(response));
    }

    fn deliver(&mut self, response: Result<Response, ()>) {
        if let Some(mailbox) = self.mailbox.take() {
            let Some(response) = catch(self.slot, self.id, response) else {
                return;
            };
            mailbox.deliver(Completion {
                slot: self.slot,
                id: self.id,
                response,
            });
        }
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        self.deliver(Err(()));
    }
}

/// What this thread catches: the answer for `want` if it is delivered on this thread
/// while `answered_inline` runs.
#[derive(Default)]
struct Catch {
    want: Option<(usize, u64)>,
    caught: Option<Result<Response, ()>>,
}

thread_local! {
    static CATCH: RefCell<Catch> = RefCell::default();
}

/// Keeps `response` if this thread is catching the answer of connection `id` in `slot`;
/// otherwise gives it back, for the mailbox.
fn catch(slot: usize, id: u64, response: Result<Response, ()>) -> Option<Result<Response, ()>> {
    CATCH.with_borrow_mut(|catch| {
        if catch.want == Some((slot, id)) {
            catch.want = None;
            catch.caught = Some(response);
            None
        } else {
            Some(response)
        }
    })
}

/// Runs `submit`, which hands the `Reply` of connection `id` in `slot` to the store, and
/// returns the answer if it was delivered on this thread before `submit` returned; `None`
/// if it is still to come through the mailbox.
pub(super) fn answered_inline(
    slot: usize,
    id: u64,
    submit: impl FnOnce(),
) -> Option<Result<Response, ()>> {
    /// Stops catching however `submit` ends, a panic included.
    struct Done;
    impl Drop for Done {
        fn drop(&mut self) {
            CATCH.with_borrow_mut(|catch| catch.want = None);
        }
    }
    CATCH.with_borrow_mut(|catch| {
        catch.want = Some((slot, id));
        catch.caught = None;
    });
    let done = Done;
    submit();
    drop(done);
    CATCH.with_borrow_mut(|catch| catch.caught.take())
}

/// What the loop has not collected yet.
#[derive(Default)]
struct Inbox {
    done: Vec<Completion>,
    /// The loop is in (or about to enter) `poll` and must be woken for a completion.
    asleep: bool,
}

/// Where answers, and other loops' connections, wait for one event loop.
pub(super) struct Mailbox {
    inbox: Mutex<Inbox>,
    arrivals: Mutex<Vec<(TcpStream, SocketAddr)>>,
    waker: mio::Waker,
}

impl Mailbox {
    pub(super) fn new(waker: mio::Waker) -> Mailbox {
        Mailbox {
            inbox: Mutex::new(Inbox::default()),
            arrivals: Mutex::new(Vec::new()),
            waker,
        }
    }

    /// Leaves `completion`; wakes the loop if it sleeps (once until it collects).
    fn deliver(&self, completion: Completion) {
        let wake = {
            // A Vec of whole completions stays consistent even if a holder panicked.
            let mut inbox = self.inbox.lock().unwrap_or_else(PoisonError::into_inner);
            inbox.done.push(completion);
            std::mem::replace(&mut inbox.asleep, false)
        };
        if wake {
            let _ = self.waker.wake();
        }
    }

    /// The loop is about to sleep in `poll`: true if it may (nothing is waiting to be
    /// collected), after which the next completion wakes it; false if it must not.
    pub(super) fn sleep(&self) -> bool {
        let mut inbox = self.inbox.lock().unwrap_or_else(PoisonError::into_inner);
        inbox.asleep = inbox.done.is_empty();
        inbox.asleep
    }

    /// Takes every completion left so far; the loop is awake.
    pub(super) fn collect(&self, into: &mut Vec<Completion>) {
        let mut inbox = self.inbox.lock().unwrap_or_else(PoisonError::into_inner);
        inbox.asleep = false;
        std::mem::swap(&mut inbox.done, into);
    }

    /// Hands an accepted connection to this loop and wakes it.
    pub(super) fn hand_over(&self, stream: TcpStream, peer: SocketAddr) {
        // A Vec of whole entries stays consistent even if a holder panicked.
        let mut arrivals = self.arrivals.lock().unwrap_or_else(PoisonError::into_inner);
        arrivals.push((stream, peer));
        drop(arrivals);
        let _ = self.waker.wake();
    }

    /// Takes every connection handed over so far.
    pub(super) fn collect_arrivals(&self, into: &mut Vec<(TcpStream, SocketAddr)>) {
        let mut arrivals = self.arrivals.lock().unwrap_or_else(PoisonError::into_inner);
        std::mem::swap(&mut *arrivals, into);
    }

    /// Wakes the loop without a completion (shutdown).
    pub(super) fn wake(&self) {
        let _ = self.waker.wake();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mio::{Events, Poll, Token, Waker};
    use std::time::Duration;

    fn mailbox() -> (Poll, Arc<Mailbox>) {
        let poll = Poll::new().unwrap();
        let waker = Waker::new(poll.registry(), Token(0)).unwrap();
        (poll, Arc::new(Mailbox::new(waker)))
    }

    fn wakes(poll: &mut Poll) -> usize {
        let mut events = Events::with_capacity(8);
        poll.poll(&mut events, Some(Duration::ZERO)).unwrap();
        events.iter().count()
    }

    fn answer(mailbox: &Arc<Mailbox>, slot: usize) {
        Reply::new(Arc::clone(mailbox), slot, 0)
            .send(Response::line(crate::http::Status::Ok, "ok"));
    }

    #[test]
    fn a_sleeping_loop_is_woken_once_for_a_batch_of_answers() {
        let (mut poll, mailbox) = mailbox();
        assert!(mailbox.sleep());
        for slot in 0..5 {
            answer(&mailbox, slot);
        }
        assert_eq!(wakes(&mut poll), 1);
        let mut done = Vec::new();
        mailbox.collect(&mut done);
        let slots: Vec<usize> = done.iter().map(|c| c.slot).collect();
        assert_eq!(slots, [0, 1, 2, 3, 4]);
    }

    #[test]
    fn answers_left_while_the_loop_is_awake_wake_nobody_and_keep_it_from_sleeping() {
        let (mut poll, mailbox) = mailbox();
        answer(&mailbox, 7);
        assert_eq!(wakes(&mut poll), 0);
        assert!(!mailbox.sleep(), "an answer is waiting to be collected");
        let mut done = Vec::new();
        mailbox.collect(&mut done);
        assert_eq!(done.len(), 1);
        assert!(mailbox.sleep());
    }

    #[test]
    fn a_reply_dropped_unsent_delivers_a_lost_answer() {
        let (_poll, mailbox) = mailbox();
        drop(Reply::new(Arc::clone(&mailbox), 3, 9));
        let mut done = Vec::new();
        mailbox.collect(&mut done);
        assert!(matches!(
            done.as_slice(),
            [Completion {
                slot: 3,
                id: 9,
                response: Err(())
            }]
        ));
    }

    fn collected(mailbox: &Mailbox) -> Vec<usize> {
        let mut done = Vec::new();
        mailbox.collect(&mut done);
        done.iter().map(|c| c.slot).collect()
    }

    #[test]
    fn an_answer_decided_while_submitting_on_this_thread_skips_the_mailbox() {
        let (_poll, mailbox) = mailbox();
        let inline = answered_inline(3, 0, || answer(&mailbox, 3));
        assert!(matches!(inline, Some(Ok(_))));
        assert_eq!(collected(&mailbox), Vec::<usize>::new());
        // A Reply dropped unanswered while submitting is caught as lost.
        let lost = answered_inline(3, 0, || drop(Reply::new(Arc::clone(&mailbox), 3, 0)));
        assert!(matches!(lost, Some(Err(()))));
    }

    #[test]
    fn other_answers_and_other_threads_still_go_through_the_mailbox() {
        let (_poll, mailbox) = mailbox();
        // Another connection's answer (an inline commit drains the whole queue), and
        // this one's decided on another thread: neither is caught.
        let inline = answered_inline(1, 0, || {
            answer(&mailbox, 2);
            let other = Arc::clone(&mailbox);
            std::thread::spawn(move || answer(&other, 1))
                .join()
                .unwrap();
        });
        assert!(inline.is_none());
        assert_eq!(collected(&mailbox), vec![2, 1]);
        // Catching ends with the submit, a panicking one too.
        let panicked = std::panic::catch_unwind(|| answered_inline(4, 0, || panic!("store")));
        assert!(panicked.is_err());
        answer(&mailbox, 4);
        assert_eq!(collected(&mailbox), vec![4]);
    }
}
