//! Read, whole-request and idle timeouts, and the connection cap, over real TCP.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::support::TestServer;

fn short(config: &mut wordwire::server::Config) {
    config.read_timeout = Duration::from_millis(300);
    config.request_timeout = Duration::from_millis(1500);
    config.idle_timeout = Duration::from_millis(600);
}

#[test]
fn a_stalled_head_gets_504_and_close() {
    let server = TestServer::start("", short);
    let mut client = server.connect();
    client.send(b"GET / HTTP/1.1\r\nHost:");
    let reply = client.reply();
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (504, "request timed out\n")
    );
    assert_eq!(reply.header("Connection"), Some("close"));
    assert!(client.closed_within(Duration::from_secs(2)));
}

#[test]
fn a_stalled_body_gets_504() {
    let server = TestServer::start("", short);
    let mut client = server.connect();
    client.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhe");
    assert_eq!(client.reply().status, 504);
    assert_eq!(server.store_bytes(), "");
}

#[test]
fn timeout_status_408_replaces_504() {
    let server = TestServer::start("", |c| {
        short(c);
        c.timeout_status = wordwire::http::Status::RequestTimeout;
    });
    let mut client = server.connect();
    client.send(b"GET / HTTP/1.1\r\n");
    assert_eq!(client.reply().status, 408);
}

#[test]
fn a_trickling_request_hits_the_whole_request_deadline() {
    // One byte every 50 ms never lets the 1 s read timeout expire, and the head
    // never ends, so only the 2 s whole-request deadline can answer while the
    // bytes still flow. Without that deadline the answer would come only after
    // the trickle stops (at 6 s) plus a read timeout.
    let request_timeout = Duration::from_secs(2);
    let trickle_for = Duration::from_secs(6);
    let server = TestServer::start("", |c| {
        c.read_timeout = Duration::from_secs(1);
        c.request_timeout = request_timeout;
    });
    let mut client = server.connect();
    let mut writer = client.stream.try_clone().expect("clone the socket");
    let answered = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let trickler = std::thread::spawn({
        let answered = Arc::clone(&answered);
        move || {
            let head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ";
            let mut bytes = head.iter().chain(std::iter::repeat(&b'a'));
            while started.elapsed() < trickle_for && !answered.load(Ordering::SeqCst) {
                let byte = *bytes.next().expect("an endless iterator");
                if writer.write_all(&[byte]).is_err() {
                    return false;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            // True if the trickle ran its full time: nothing cut it off.
            !answered.load(Ordering::SeqCst)
        }
    });
    let reply = client.reply();
    let elapsed = started.elapsed();
    answered.store(true, Ordering::SeqCst);
    let trickled_to_the_end = trickler.join().expect("the trickler does not panic");
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (504, "request timed out\n")
    );
    assert!(
        elapsed >= request_timeout,
        "answered after {elapsed:?}, before the whole-request deadline"
    );
    assert!(
        elapsed < trickle_for && !trickled_to_the_end,
        "answered after {elapsed:?}, only once the trickle had stopped: \
         the read timeout answered, not the whole-request deadline"
    );
    assert_eq!(reply.header("Connection"), Some("close"));
}

#[test]
fn an_idle_keep_alive_connection_is_closed_silently() {
    let server = TestServer::start("", short);
    let mut client = server.connect();
    client.send(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(client.reply().status, 204);
    assert!(
        client.closed_within(Duration::from_secs(3)),
        "idle connection should be closed without a response"
    );
}

#[test]
fn the_connection_cap_answers_503_with_retry_after_and_recovers() {
    let server = TestServer::start("", |c| c.max_connections = 2);
    let mut held = [server.connect(), server.connect()];
    // Make sure both are admitted before the third arrives.
    for client in &mut held {
        client.send(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(client.reply().status, 204);
    }
    let mut third = server.connect();
    let reply = third.reply();
    assert_eq!(reply.status, 503);
    assert_eq!(reply.header("Retry-After"), Some("1"));
    assert_eq!(reply.header("Connection"), Some("close"));
    drop(held);
    // Service resumes as soon as the slots free up.
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let mut client = server.connect();
        client.send(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
        if client.reply().status == 204 {
            break;
        }
        assert!(
            Instant::now() < until,
            "the server never recovered from the cap"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_stalled_client_does_not_block_others() {
    let server = TestServer::start("", |c| c.read_timeout = Duration::from_secs(5));
    let mut stalled = server.connect();
    stalled.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab");
    let reply = server.ask("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(reply.status, 204);
}

#[test]
fn a_refused_client_that_is_still_sending_is_not_reset() {
    // RFC 9112 §9.6: a server that closes while the peer is still sending makes
    // the peer's kernel answer with a reset, so a client that writes its whole
    // request before reading fails on a write and never sees the answer. The
    // server lingers after a 503 as after any other close.
    let server = TestServer::start("", |c| c.max_connections = 1);
    let mut held = server.connect();
    held.send(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(held.reply().status, 204);
    let mut refused = server.connect();
    // Let the server accept and answer before the request starts to arrive.
    std::thread::sleep(Duration::from_millis(100));
    refused.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n");
    std::thread::sleep(Duration::from_millis(100));
    let second_write = refused.stream.write_all(b"hello");
    assert!(
        second_write.is_ok(),
        "the refused connection was reset: {second_write:?}"
    );
    let reply = refused.reply();
    assert_eq!(reply.status, 503);
    assert!(refused.closed_within(Duration::from_secs(2)));
}
