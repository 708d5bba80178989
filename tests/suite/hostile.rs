//! Slow and greedy clients: slowloris, idle keep-alive, clients that never read,
//! half-closed sockets, resets mid-request, more connections than the cap.
//!
//! Each test uses small timeouts and bounded loops, keeps a well-behaved client
//! being served while the hostile ones go on, and checks that the hostile ones
//! get the contract's answer (or a silent close) and release what they held.
//! No test asserts speed beyond generous bounds (a few multiples of a timeout).

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use socket2::Socket;

use crate::support::{Client, TestServer, auth};

/// A field of `/proc/self/status` in its unit (kB for memory), e.g. `VmRSS` or `Threads`.
fn proc_status(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|line| {
            let value = line.strip_prefix(field)?.strip_prefix(':')?;
            value.split_whitespace().next()?.parse().ok()
        })
        .unwrap_or_else(|| panic!("{field} not in /proc/self/status"))
}

/// A well-behaved client: a POST of `word` and a GET that shows it, on one connection.
fn served(server: &TestServer, word: &str) {
    let mut client = server.connect();
    client.send(
        format!(
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{word}",
            word.len()
        )
        .as_bytes(),
    );
    assert_eq!(client.reply().body, format!("added {word}\n"));
    client.send(
        format!(
            "GET / HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\n\r\n",
            auth()
        )
        .as_bytes(),
    );
    let reply = client.reply();
    assert_eq!(reply.status, 200);
    assert!(
        reply.body.lines().any(|line| line == word),
        "{}",
        reply.body
    );
}

/// True once the server has sent something or closed: a non-blocking peek.
fn has_answer(stream: &TcpStream) -> bool {
    stream.set_nonblocking(true).expect("nonblocking");
    let mut byte = [0u8; 1];
    let answered = match stream.peek(&mut byte) {
        Ok(_) => true,
        Err(e) => !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted),
    };
    stream.set_nonblocking(false).expect("blocking");
    answered
}

/// Opens `n` connections at once and asks OPTIONS on each: true if all get 204.
/// A refused (503) or reset connection is a `false`, never a panic.
fn admits(server: &TestServer, n: usize) -> bool {
    let streams: Vec<TcpStream> = (0..n)
        .filter_map(|_| TcpStream::connect(server.addr).ok())
        .collect();
    streams.len() == n
        && streams.into_iter().all(|mut stream| {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            if stream
                .write_all(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n")
                .is_err()
            {
                return false;
            }
            let mut head = [0u8; 12];
            stream.read_exact(&mut head).is_ok() && &head == b"HTTP/1.1 204"
        })
}

/// Waits, up to `within`, until `check` holds.
fn eventually(within: Duration, mut check: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + within;
    loop {
        if check() {
            return true;
        }
        if Instant::now() > until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn hundreds_of_trickling_connections_get_504_while_others_are_served() {
    const SLOW: usize = 200;
    let server = TestServer::start("", |c| {
        c.read_timeout = Duration::from_secs(1);
        c.request_timeout = Duration::from_secs(2);
    });
    let threads_before = proc_status("Threads");
    let rss_before = proc_status("VmRSS");
    let mut slow: Vec<Client> = (0..SLOW).map(|_| server.connect()).collect();
    for client in &mut slow {
        client.send(b"POST / HTTP/1.1\r\nHost: x\r\nX-Slow: ");
    }
    // Trickle a byte every 200 ms on each (well inside the 1 s read timeout), so
    // only the 2 s whole-request deadline can end them. A connection that has
    // its answer gets no more bytes, so our writes never race its close.
    let good = std::thread::scope(|scope| {
        let good = scope.spawn(|| {
            served(&server, "polite");
            served(&server, "patient");
        });
        let mut open = [true; SLOW];
        let until = Instant::now() + Duration::from_secs(15);
        while open.iter().any(|&o| o) && Instant::now() < until {
            for (client, open) in slow.iter_mut().zip(open.iter_mut()) {
                if *open && (has_answer(&client.stream) || client.stream.write_all(b"a").is_err()) {
                    *open = false;
                }
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        assert!(
            open.iter().all(|&o| !o),
            "some trickling connections were never cut off"
        );
        good.join()
    });
    good.expect("the well-behaved client was not served");
    let rss_during = proc_status("VmRSS");
    for client in &mut slow {
        let reply = client.reply();
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (504, "request timed out\n")
        );
        assert_eq!(reply.header("Connection"), Some("close"));
        assert!(client.closed_within(Duration::from_secs(3)));
    }
    drop(slow);
    // Memory and threads are bounded: 200 slow peers cost a few MiB, and their
    // threads end. Generous bounds, since other tests share this process.
    assert!(
        rss_during < rss_before + 256 * 1024,
        "VmRSS grew from {rss_before} kB to {rss_during} kB"
    );
    assert!(
        eventually(Duration::from_secs(10), || proc_status("Threads")
            < threads_before + 50),
        "connection threads did not end: {} before, {} now",
        threads_before,
        proc_status("Threads")
    );
    assert_eq!(server.store_bytes(), "polite\npatient\n");
}

#[test]
fn idle_keep_alive_connections_hold_slots_until_the_idle_timeout_then_close_silently() {
    const CAP: usize = 30;
    let server = TestServer::start("", |c| {
        c.max_connections = CAP;
        c.idle_timeout = Duration::from_secs(1);
    });
    let mut idle: Vec<Client> = (0..CAP).map(|_| server.connect()).collect();
    for client in &mut idle {
        client.send(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(client.reply().status, 204);
    }
    // The contract: idle keep-alive connections count toward the cap.
    let refused = server.connect().reply();
    assert_eq!(refused.status, 503);
    assert!(refused.header("Retry-After").is_some());
    for client in &mut idle {
        client
            .stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut byte = [0u8; 64];
        // Another test's signal to its child can interrupt this read: retry.
        let outcome = loop {
            match client.stream.read(&mut byte) {
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                other => break other,
            }
        };
        match outcome {
            Ok(0) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
            other => panic!(
                "an idle keep-alive connection was not closed silently: {other:?} {:?}",
                String::from_utf8_lossy(&byte)
            ),
        }
    }
    assert!(
        eventually(Duration::from_secs(5), || admits(&server, CAP)),
        "slots were not freed after the idle timeout"
    );
    served(&server, "after");
}

#[test]
fn a_client_that_never_reads_is_closed_by_the_write_timeout() {
    // 2000 words of 64 letters: each GET answer is 130 kB.
    let word = "w".repeat(64);
    let words: String = (0..2000).map(|_| format!("{word}\n")).collect();
    let server = TestServer::start(&words, |c| {
        c.read_timeout = Duration::from_millis(500);
    });
    let get = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\n\r\n",
        auth()
    );
    // 130 MB of answers: far more than the socket buffers can hold (here the
    // kernel allows up to 32 MiB to the receiver and 4 MiB to the sender).
    const REQUESTS: usize = 1000;
    let mut greedy = server.connect();
    greedy.send(get.repeat(REQUESTS).as_bytes());
    // Others are served while the server is blocked writing to the greedy client.
    served(&server, "meanwhile");
    // The server's writes time out and it closes; only then does the greedy client read.
    // Give the server six write timeouts to notice, without reading a byte.
    std::thread::sleep(Duration::from_secs(3));
    greedy
        .stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut received = 0usize;
    let mut chunk = vec![0u8; 64 * 1024];
    let all = REQUESTS * (words.len() + 100);
    while received < all {
        match greedy.stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => received += n,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => panic!("the server neither finished nor closed after {received} bytes: {e}"),
        }
    }
    assert!(
        received < all,
        "all {REQUESTS} answers were delivered: the write never blocked"
    );
}

#[test]
fn half_closed_clients_get_their_answers_and_then_eof() {
    let server = TestServer::start("", |c| c.read_timeout = Duration::from_secs(2));
    // Complete pipelined requests, then FIN: every one is answered, then the server closes.
    let mut client = server.connect();
    client.send(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\noneOPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    client.stream.shutdown(Shutdown::Write).unwrap();
    assert_eq!(client.reply().body, "added one\n");
    assert_eq!(client.reply().status, 204);
    assert!(client.closed_within(Duration::from_secs(3)));
    // A head cut short by FIN: 400 and close, nothing stored.
    let mut client = server.connect();
    client.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Le");
    client.stream.shutdown(Shutdown::Write).unwrap();
    let reply = client.reply();
    assert_eq!(reply.status, 400);
    assert_eq!(reply.header("Connection"), Some("close"));
    assert!(client.closed_within(Duration::from_secs(3)));
    // A chunked body cut short by FIN: the same.
    let mut client = server.connect();
    client.send(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\ntwo\r\n");
    client.stream.shutdown(Shutdown::Write).unwrap();
    assert_eq!(client.reply().status, 400);
    // FIN before any byte: closed silently.
    let mut client = server.connect();
    client.stream.shutdown(Shutdown::Write).unwrap();
    assert!(client.closed_within(Duration::from_secs(3)));
    assert_eq!(server.store_bytes(), "one\n");
    served(&server, "still");
}

#[test]
fn resets_mid_request_free_their_slots_and_store_nothing() {
    const CAP: usize = 8;
    let server = TestServer::start("", |c| {
        c.max_connections = CAP;
        c.read_timeout = Duration::from_secs(5);
    });
    let partials: [&[u8]; 4] = [
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhel",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
        b"POST / HTTP/1.1\r\nHo",
        b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n",
    ];
    for round in 0..40 {
        let mut stream = TcpStream::connect(server.addr).expect("connect");
        stream.write_all(partials[round % partials.len()]).unwrap();
        // Give the server the bytes before the reset, as a real client mid-request would.
        std::thread::sleep(Duration::from_millis(5));
        let socket = Socket::from(stream);
        // SO_LINGER 0: close sends RST instead of FIN.
        socket.set_linger(Some(Duration::ZERO)).unwrap();
        drop(socket);
    }
    // 40 resets through 8 slots: each thread noticed its reset and let its slot go.
    assert!(
        eventually(Duration::from_secs(10), || admits(&server, CAP)),
        "reset connections kept their slots"
    );
    assert_eq!(server.store_bytes(), "");
    served(&server, "survivor");
}

#[test]
fn connections_beyond_the_cap_get_503_and_the_admitted_ones_are_served() {
    const CAP: usize = 20;
    const TOTAL: usize = 60;
    let server = TestServer::start("", |c| {
        c.max_connections = CAP;
        c.read_timeout = Duration::from_secs(10);
    });
    let mut clients: Vec<Client> = (0..TOTAL).map(|_| server.connect()).collect();
    // The refused ones have their 503 waiting; the admitted ones have nothing yet.
    let mut refused = vec![false; TOTAL];
    let all_refusals = eventually(Duration::from_secs(10), || {
        for (client, refused) in clients.iter().zip(refused.iter_mut()) {
            *refused = *refused || has_answer(&client.stream);
        }
        refused.iter().filter(|&&r| r).count() >= TOTAL - CAP
    });
    assert!(all_refusals, "fewer than {} refusals", TOTAL - CAP);
    for (client, refused) in clients.iter_mut().zip(&refused) {
        if *refused {
            let reply = client.reply();
            assert_eq!(reply.status, 503);
            assert_eq!(reply.header("Retry-After"), Some("1"));
            assert_eq!(reply.header("Connection"), Some("close"));
            assert!(client.closed_within(Duration::from_secs(3)));
        } else {
            client.send(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
            assert_eq!(client.reply().status, 204);
        }
    }
    assert_eq!(refused.iter().filter(|&&r| !r).count(), CAP);
    drop(clients);
    assert!(
        eventually(Duration::from_secs(5), || admits(&server, CAP)),
        "service did not resume after the cap"
    );
    served(&server, "resumed");
}
