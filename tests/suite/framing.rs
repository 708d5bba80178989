//! Keep-alive, pipelining, HTTP/1.0, chunked bodies, 100-continue and HEAD over real TCP.

use std::time::Duration;

use crate::support::{TestServer, auth};

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    let server = TestServer::start("", |_| {});
    let mut client = server.connect();
    for word in ["one", "two", "three"] {
        client.send(
            format!(
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{word}",
                word.len()
            )
            .as_bytes(),
        );
        let reply = client.reply();
        assert_eq!(reply.status, 200);
        assert_eq!(reply.header("Connection"), None);
    }
    assert_eq!(server.store_bytes(), "one\ntwo\nthree\n");
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let server = TestServer::start("", |_| {});
    let mut client = server.connect();
    let mut batch = String::new();
    for word in ["a", "b", "c"] {
        batch += &format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n{word}");
    }
    batch += &format!(
        "GET / HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\n\r\n",
        auth()
    );
    client.send(batch.as_bytes());
    for word in ["a", "b", "c"] {
        assert_eq!(client.reply().body, format!("added {word}\n"));
    }
    assert_eq!(client.reply().body, "a\nb\nc\n");
}

#[test]
fn connection_close_is_honoured() {
    let server = TestServer::start("", |_| {});
    let mut client = server.connect();
    client.send(b"OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let reply = client.reply();
    assert_eq!(reply.header("Connection"), Some("close"));
    assert!(client.closed_within(Duration::from_secs(2)));
}

#[test]
fn http10_closes_unless_keep_alive_is_asked_for() {
    let server = TestServer::start("", |_| {});
    let mut client = server.connect();
    client.send(b"OPTIONS * HTTP/1.0\r\n\r\n");
    assert_eq!(client.reply().header("Connection"), Some("close"));
    assert!(client.closed_within(Duration::from_secs(2)));

    let mut client = server.connect();
    client.send(b"OPTIONS * HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_eq!(client.reply().header("Connection"), Some("keep-alive"));
    client.send(b"OPTIONS * HTTP/1.0\r\n\r\n");
    assert_eq!(client.reply().status, 204);
}

#[test]
fn a_chunked_body_is_decoded() {
    let server = TestServer::start("", |_| {});
    let reply = server.ask("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2;ext=1\r\nlo\r\n0\r\n\r\n");
    assert_eq!((reply.status, reply.body.as_str()), (200, "added hello\n"));
}

#[test]
fn a_chunked_body_with_bare_lf_framing_is_400() {
    let server = TestServer::start("", |_| {});
    let reply = server
        .ask("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n");
    assert_eq!(reply.status, 400);
    assert_eq!(server.store_bytes(), "");
}

#[test]
fn expect_100_continue_gets_continue_before_the_body() {
    let server = TestServer::start("", |_| {});
    let mut client = server.connect();
    client.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    let interim = client.reply();
    assert_eq!(interim.status, 100);
    assert!(interim.header("Date").is_some());
    client.send(b"hello");
    assert_eq!(client.reply().body, "added hello\n");
}

#[test]
fn expect_100_continue_with_a_final_answer_skips_the_body_and_closes() {
    let server = TestServer::start("", |c| c.auth_all = true);
    let mut client = server.connect();
    client.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    let reply = client.reply();
    assert_eq!(reply.status, 401);
    assert_eq!(reply.header("Connection"), Some("close"));
}

#[test]
fn head_has_get_fields_and_no_body() {
    let server = TestServer::start("alpha\nbeta\n", |_| {});
    let mut client = server.connect();
    client.send(
        format!(
            "HEAD / HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\n\r\n",
            auth()
        )
        .as_bytes(),
    );
    client.send(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
    // The HEAD response is a head alone: its Content-Length describes GET's body.
    let head = client.head_reply().head;
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.contains("\r\nContent-Length: 11\r\n"), "{head}");
    // The next bytes are the OPTIONS response, not a body.
    assert_eq!(client.reply().status, 204);
}

#[test]
fn bare_lf_requests_from_netcat_are_served() {
    let server = TestServer::start("", |_| {});
    let reply = server.ask("POST / HTTP/1.1\nHost: x\nContent-Length: 6\n\nhello\n");
    assert_eq!((reply.status, reply.body.as_str()), (200, "added hello\n"));
}

#[test]
fn absolute_form_targets_reach_the_resource() {
    let server = TestServer::start("w\n", |_| {});
    let reply = server.ask(&format!(
        "GET http://127.0.0.1:1/?q=1 HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\n\r\n",
        auth()
    ));
    assert_eq!((reply.status, reply.body.as_str()), (200, "w\n"));
}

#[test]
fn a_request_cut_short_by_the_client_gets_400_and_close() {
    let server = TestServer::start("", |_| {});
    let mut client = server.connect();
    client.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
    client.stream.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(client.reply().status, 400);
    assert_eq!(server.store_bytes(), "");
}

#[test]
fn a_body_sent_to_a_refused_request_is_read_and_dropped() {
    let server = TestServer::start("", |_| {});
    let mut client = server.connect();
    client.send(b"PATCH / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx");
    client.send(b"POST /elsewhere HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
    client.send(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(client.reply().status, 501);
    assert_eq!(client.reply().status, 404);
    assert_eq!(
        client.reply().status,
        204,
        "the bodies were not taken for requests"
    );
    assert_eq!(server.store_bytes(), "");
}
