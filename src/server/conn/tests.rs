//! Every phase, driven in memory (`server::memory`) by a scripted peer: bytes
//! in chosen pieces, `WouldBlock`, short and failed writes, end of stream,
//! resets and deadlines on a virtual clock.

use std::sync::Arc;
use std::time::Duration;

use crate::auth::Credentials;
use crate::server::Config;
use crate::server::memory::{Exchange, Peer, Take, exchange};
use crate::store::{Change, Done, FileStore, Snapshot, Store, StoreError, SyncMode};

use super::buffers::{SPARE_BUFFERS, SPARE_OUTPUT};
use super::{Buffers, FIRST_READ, LINGER_TIME};

const READ: Duration = Duration::from_secs(1);
const REQUEST: Duration = Duration::from_secs(3);
const IDLE: Duration = Duration::from_secs(5);
const POST: &[u8] = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello";
const OPTIONS: &[u8] = b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n";

fn config() -> Config {
    let mut config = Config::new(([127, 0, 0, 1], 0).into(), Credentials::lab_default());
    (config.read_timeout, config.request_timeout) = (READ, REQUEST);
    config.idle_timeout = IDLE;
    config
}

/// A store on a temporary file holding `words`, committed by its own thread.
fn file_store(words: &str) -> (tempfile::TempDir, Arc<FileStore>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("words.txt");
    std::fs::write(&path, words).unwrap();
    let (store, _) = FileStore::open(&path, SyncMode::Always).unwrap();
    (dir, Arc::new(store))
}

fn run_with(peer: &[Peer], takes: &[Take]) -> (Exchange, String) {
    let (dir, store) = file_store("alpha\n");
    let done = exchange(&config(), store, peer, takes);
    let words = std::fs::read_to_string(dir.path().join("words.txt")).unwrap();
    (done, words)
}

fn run(peer: &[Peer]) -> Exchange {
    run_with(peer, &[]).0
}

fn send(bytes: &[u8]) -> Peer {
    Peer::Send(bytes.to_vec())
}

/// `bytes` one byte a read, with a `WouldBlock` between.
fn trickle(bytes: &[u8]) -> Vec<Peer> {
    bytes
        .iter()
        .flat_map(|&b| [Peer::Send(vec![b]), Peer::Pause])
        .collect()
}

/// The output without its `Date` lines, which change by the second.
fn text(done: &Exchange) -> String {
    String::from_utf8_lossy(&done.written)
        .split_inclusive("\r\n")
        .filter(|line| !line.starts_with("Date: "))
        .collect()
}

#[test]
fn a_silent_new_connection_closes_quietly_after_the_read_timeout() {
    let done = run(&[]);
    assert_eq!((done.written.len(), done.elapsed), (0, READ));
    assert!(!done.write_shut);
}

#[test]
fn a_head_and_body_in_single_bytes_are_answered_as_if_sent_whole() {
    let whole = run(&[send(POST), send(OPTIONS)]);
    let (pieces, words) = run_with(&[trickle(POST), trickle(OPTIONS)].concat(), &[]);
    assert_eq!(whole.statuses(), [200, 204]);
    assert_eq!(text(&pieces), text(&whole));
    assert_eq!(words, "alpha\nhello\n");
}

#[test]
fn a_stalled_head_gets_504_after_the_read_timeout_then_a_lingering_close() {
    let done = run(&[send(b"GET / HTTP/1.1\r\nHo")]);
    assert_eq!(done.statuses(), [504]);
    assert!(
        text(&done).contains("Connection: close\r\n"),
        "{}",
        text(&done)
    );
    assert!(done.write_shut);
    assert_eq!(done.elapsed, READ + LINGER_TIME);
}

#[test]
fn a_head_trickled_inside_the_read_timeout_gets_504_at_the_whole_request_deadline() {
    let head = b"GET / HTTP/1.1\r\nHost: a\r\nX: aaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let step = Duration::from_millis(900);
    let peer: Vec<Peer> = head
        .iter()
        .flat_map(|&b| [Peer::Send(vec![b]), Peer::Wait(step)])
        .collect();
    let done = run(&peer);
    assert_eq!(done.statuses(), [504]);
    assert!(text(&done).ends_with("request timed out\n"));
    assert_eq!(done.elapsed, REQUEST + LINGER_TIME);
}

#[test]
fn end_of_stream_inside_a_head_or_a_body_gets_400() {
    for cut in [&POST[..20], &POST[..POST.len() - 2]] {
        let done = run(&[send(cut), Peer::HalfClose]);
        assert_eq!(done.statuses(), [400], "{}", text(&done));
        assert!(text(&done).ends_with("connection closed before the request was complete\n"));
        // The peer closed first: nothing to linger for.
        assert!(!done.write_shut);
    }
}

#[test]
fn a_malformed_head_gets_its_status_and_later_bytes_are_drained_not_parsed() {
    let bad = b"GET / HTTP/1.1\r\nHost: a\r\nNo Colon\r\n\r\n";
    let done = run(&[send(bad), send(OPTIONS), send(OPTIONS)]);
    assert_eq!(done.statuses(), [400]);
    assert!(done.write_shut);
    assert_eq!(done.elapsed, LINGER_TIME);
}

#[test]
fn a_stalled_body_gets_504_and_nothing_is_written_to_the_store() {
    let (done, words) = run_with(&[send(&POST[..POST.len() - 1])], &[]);
    assert_eq!(done.statuses(), [504]);
    assert_eq!(words, "alpha\n");
}

#[test]
fn a_chunked_body_in_pieces_is_decoded_whole_and_a_bad_one_gets_400() {
    let chunked = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhe\r\n3;x=y\r\nllo\r\n0\r\n\r\n";
    let (done, words) = run_with(&trickle(chunked), &[]);
    assert_eq!(
        (done.statuses(), words.as_str()),
        (vec![200], "alpha\nhello\n")
    );
    let bad =
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n";
    let (done, words) = run_with(&[send(bad)], &[]);
    assert_eq!((done.statuses(), words.as_str()), (vec![400], "alpha\n"));
}

#[test]
fn a_refused_request_s_body_is_read_and_dropped_and_the_next_request_is_served() {
    let patch = b"PATCH / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nGET / HTTP/";
    let (done, words) = run_with(&[send(patch), Peer::Pause, send(OPTIONS)], &[]);
    assert_eq!(done.statuses(), [501, 204]);
    assert_eq!(words, "alpha\n");
}

#[test]
fn expect_100_continue_gets_100_before_the_body_and_a_refusal_without_it_closes() {
    let head = b"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n";
    let (done, words) = run_with(&[send(head), Peer::Pause, send(b"hello")], &[]);
    assert_eq!(
        (done.statuses(), words.as_str()),
        (vec![100, 200], "alpha\nhello\n")
    );
    let get = b"GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n";
    let done = run(&[send(get)]);
    assert_eq!(done.statuses(), [401]);
    assert!(text(&done).contains("Connection: close\r\n"));
}

#[test]
fn a_write_waits_for_the_committer_and_pipelined_answers_keep_their_order() {
    let get = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nAuthorization: {}\r\n\r\n",
        Credentials::lab_default().header_value()
    );
    let done = run(&[send(&[POST, get.as_bytes(), OPTIONS].concat())]);
    assert_eq!(done.statuses(), [200, 200, 204]);
    assert!(
        text(&done).contains("\r\n\r\nalpha\nhello\n"),
        "{}",
        text(&done)
    );
}

/// Drops every write's completion unsent, as a panicking committer would.
struct LosingStore;

impl Store for LosingStore {
    fn snapshot(&self) -> Result<Snapshot, StoreError> {
        Ok(Arc::new(Vec::new()))
    }
    fn submit(&self, _: Change, done: Done) {
        drop(done);
    }
}

#[test]
fn a_write_whose_answer_is_lost_gets_500_and_close() {
    let done = exchange(
        &config(),
        Arc::new(LosingStore),
        &[send(POST), send(OPTIONS)],
        &[],
    );
    assert_eq!(done.statuses(), [500]);
    assert!(text(&done).contains("Connection: close\r\n"));
    assert!(
        done.log
            .contains("(the write's answer was lost to a panic)"),
        "{}",
        done.log
    );
}

#[test]
fn short_and_blocked_writes_send_the_same_bytes_in_the_same_order() {
    let peer = [send(POST), send(OPTIONS), send(POST)];
    let whole = run(&peer);
    let takes: Vec<Take> = (0..400).map(|i| Take::Up(i % 3)).collect();
    let (pieces, _) = run_with(&peer, &takes);
    assert_eq!(whole.statuses(), [200, 204, 200]);
    assert_eq!(text(&pieces), text(&whole));
}

#[test]
fn a_peer_that_never_reads_stops_being_read_and_is_dropped_at_the_write_timeout() {
    let flood = OPTIONS.repeat(2000);
    let (done, _) = run_with(&[send(&flood)], &[Take::Never]);
    assert!(done.written.is_empty());
    let answered = done.log.lines().count();
    assert!(
        (100..2000).contains(&answered),
        "answered {answered} of 2000"
    );
    assert_eq!(done.elapsed, READ);
}

#[test]
fn a_failed_write_or_read_closes_at_once_without_more() {
    let (done, _) = run_with(&[send(OPTIONS), send(OPTIONS)], &[Take::Fail]);
    assert_eq!((done.written.len(), done.elapsed), (0, Duration::ZERO));
    let done = run(&[send(&POST[..30]), Peer::Reset]);
    assert_eq!((done.written.len(), done.elapsed), (0, Duration::ZERO));
}

#[test]
fn a_stray_crlf_after_a_request_starts_no_clock_and_draws_no_answer() {
    // Issue 13 item 1: this used to draw a 504 one read timeout later, or a
    // 400 on a half-close.
    let post = [POST, b"\r\n"].concat();
    let done = run(&[send(&post)]);
    assert_eq!((done.statuses(), done.elapsed), (vec![200], IDLE));
    let done = run(&[send(&post), Peer::HalfClose]);
    assert_eq!(done.statuses(), [200]);
    let lf_and_cr = run(&[send(&[POST, b"\n\r\n\r"].concat()), Peer::HalfClose]);
    assert_eq!(lf_and_cr.statuses(), [200]);
    // Split between CR and LF, then a request: still one request.
    let split = [
        send(&[POST, b"\r"].concat()),
        Peer::Pause,
        send(&[b"\n", OPTIONS].concat()),
    ];
    assert_eq!(run(&split).statuses(), [200, 204]);
    // A CR that is not an empty line starts a request, which is malformed.
    assert_eq!(
        run(&[send(&[POST, b"\rX"].concat())]).statuses(),
        [200, 400]
    );
}

#[test]
fn an_idle_connection_holding_only_empty_lines_gives_its_read_buffer_back() {
    // Review finding (note3.md): a stray CRLF kept the read buffer of an idle
    // connection, which holds none otherwise.
    let plain = run(&[send(POST)]);
    assert_eq!((plain.statuses(), plain.spare_reads), (vec![200], 1));
    for empty in [&b"\r\n"[..], b"\n\r\n\n"] {
        let done = run(&[send(&[POST, empty].concat())]);
        assert_eq!((done.statuses(), done.elapsed), (vec![200], IDLE));
        assert_eq!(done.spare_reads, 1, "after {empty:?}");
        // The same in a read of their own.
        let done = run(&[send(POST), Peer::Pause, send(empty)]);
        assert_eq!((done.statuses(), done.spare_reads), (vec![200], 1));
    }
}

#[test]
fn empty_lines_over_many_reads_still_count_toward_the_request_line_limit() {
    // 33 CRLFs are 66 bytes, over a max_line of 64: 414, as in one read.
    let mut config = config();
    config.limits.max_line = 64;
    let mut peer = vec![send(OPTIONS)];
    for _ in 0..33 {
        peer.extend([send(b"\r\n"), Peer::Pause]);
    }
    let (_dir, store) = file_store("alpha\n");
    let done = exchange(&config, store.clone(), &peer, &[]);
    assert_eq!(done.statuses(), [204, 414]);
    // One fewer is still only empty lines: no answer, closed at the idle timeout.
    peer.truncate(peer.len() - 2);
    let done = exchange(&config, store, &peer, &[]);
    assert_eq!((done.statuses(), done.elapsed), (vec![204], IDLE));
}

#[test]
fn a_kept_alive_connection_closes_quietly_after_the_idle_timeout() {
    let done = run(&[send(OPTIONS)]);
    assert_eq!(done.statuses(), [204]);
    assert_eq!(done.elapsed, IDLE);
    assert!(!done.write_shut);
}

#[test]
fn shutdown_closes_a_connection_whose_head_is_unfinished_at_once() {
    // Issue 14 item 3: this used to hold the shutdown for the read timeout, then 504.
    let done = run(&[send(b"GET / HTTP/1.1\r\nHo"), Peer::Shutdown]);
    assert_eq!((done.written.len(), done.elapsed), (0, LINGER_TIME));
    let done = run(&[send(&[OPTIONS, b"GET / HT"].concat()), Peer::Shutdown]);
    assert_eq!((done.statuses(), done.elapsed), (vec![204], LINGER_TIME));
    assert!(done.write_shut);
}

#[test]
fn connection_close_with_nothing_unread_closes_without_lingering() {
    let done = run(&[send(
        b"OPTIONS * HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )]);
    assert_eq!((done.statuses(), done.write_shut), (vec![204], false));
    assert_eq!(done.elapsed, Duration::ZERO);
}

#[test]
fn shutdown_closes_an_idle_connection_and_lets_a_started_body_finish_with_close() {
    let done = run(&[send(OPTIONS), Peer::Shutdown]);
    assert_eq!((done.statuses(), done.elapsed), (vec![204], Duration::ZERO));
    let (done, words) = run_with(
        &[send(&POST[..POST.len() - 3]), Peer::Shutdown, send(b"llo")],
        &[],
    );
    assert_eq!(
        (done.statuses(), words.as_str()),
        (vec![200], "alpha\nhello\n")
    );
    assert!(text(&done).contains("Connection: close\r\n"));
}

#[test]
fn a_loop_keeps_a_bounded_number_of_first_size_spares() {
    let mut buffers = Buffers::default();
    let read = buffers.read_buffer();
    assert_eq!(read.len(), FIRST_READ);
    let mut output = buffers.output_buffer();
    output.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
    output.clear();
    let kept = output.as_ptr();
    buffers.give_back(read, output);
    // The same allocation comes back with the next request.
    let again = buffers.output_buffer();
    assert_eq!(again.as_ptr(), kept);
    drop(again);
    // A read buffer that grew, and an output buffer that grew past the
    // bound, are dropped rather than kept.
    buffers.give_back(
        vec![0; 2 * FIRST_READ],
        Vec::with_capacity(SPARE_OUTPUT + 1),
    );
    assert_eq!((buffers.reads.len(), buffers.outputs.len()), (1, 0));
    for _ in 0..3 * SPARE_BUFFERS {
        buffers.give_back(vec![0; FIRST_READ], Vec::with_capacity(64));
    }
    assert_eq!(
        (buffers.reads.len(), buffers.outputs.len()),
        (SPARE_BUFFERS, SPARE_BUFFERS)
    );
}

/// Every open connection, idle ones included, holds a slot of its loop's
/// `Vec<Option<Connection>>`, so the struct's size is memory per idle
/// connection; what only a request in progress needs (the access log's
/// fields, a body, a head) lives in its boxed phase.
#[test]
#[cfg(target_pointer_width = "64")]
fn an_idle_connection_slot_stays_small() {
    // 296 bytes here; 488 with the log fields and the tracer inline.
    let size = std::mem::size_of::<Option<super::Connection>>();
    assert!(size <= 320, "a connection's slot grew to {size} bytes");
}
