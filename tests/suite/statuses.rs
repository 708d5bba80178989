//! Every status the server sends, each from the request that causes it, over real TCP
//! (store failures through a test double behind the `Store` trait).

use std::sync::Arc;

use wordwire::store::{Apply, Change, Inline, Snapshot, StoreError};

use crate::support::{TestServer, auth};

fn get(server: &TestServer) -> crate::support::Reply {
    server.ask(&format!(
        "GET / HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\n\r\n",
        auth()
    ))
}

#[test]
fn post_appends_and_get_returns_the_file_bytes() {
    let server = TestServer::start("alpha\n", |_| {});
    let reply = server.ask("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
    assert_eq!((reply.status, reply.body.as_str()), (200, "added hello\n"));
    assert_eq!(server.store_bytes(), "alpha\nhello\n");
    let reply = get(&server);
    assert_eq!((reply.status, reply.body.as_str()), (200, "alpha\nhello\n"));
    assert_eq!(
        reply.header("Content-Type"),
        Some("text/plain; charset=utf-8")
    );
}

#[test]
fn every_response_has_date_and_server() {
    let server = TestServer::start("", |_| {});
    for request in [
        "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET / HTTP/1.1\r\n\r\n",
    ] {
        let reply = server.ask(request);
        assert!(
            reply.header("Date").is_some_and(|d| d.ends_with(" GMT")),
            "{}",
            reply.head
        );
        assert!(
            reply
                .header("Server")
                .is_some_and(|s| s.starts_with("wordwire/")),
            "{}",
            reply.head
        );
    }
}

#[test]
fn put_replaces_and_delete_removes() {
    let server = TestServer::start("a\nb\na\n", |_| {});
    let reply = server.ask("PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\na c");
    assert_eq!((reply.status, reply.body.as_str()), (200, "replaced 2\n"));
    assert_eq!(server.store_bytes(), "c\nb\nc\n");
    let reply = server.ask("DELETE / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nc");
    assert_eq!((reply.status, reply.body.as_str()), (200, "deleted 2\n"));
    assert_eq!(server.store_bytes(), "b\n");
}

#[test]
fn invalid_words_and_unknown_words_are_400_and_leave_the_store() {
    let server = TestServer::start("a\n", |_| {});
    for request in [
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\nnot valid",
        "PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nz y",
        "DELETE / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nz",
    ] {
        assert_eq!(server.ask(request).status, 400, "{request}");
    }
    assert_eq!(server.store_bytes(), "a\n");
}

#[test]
fn get_without_or_with_wrong_credentials_is_401_with_challenge() {
    let server = TestServer::start("", |_| {});
    let reply = server.ask("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(reply.status, 401);
    assert_eq!(
        reply.header("WWW-Authenticate"),
        Some("Basic realm=\"wordwire\", charset=\"UTF-8\"")
    );
    let reply =
        server.ask("GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Basic d3Jvbmc6d3Jvbmc=\r\n\r\n");
    assert_eq!(reply.status, 401);
}

#[test]
fn head_without_or_with_wrong_credentials_is_401_and_tells_nothing_of_the_store() {
    let server = TestServer::start("secret\nwords\n", |_| {});
    for authorization in ["", "Authorization: Basic d3Jvbmc6d3Jvbmc=\r\n"] {
        let mut client = server.connect();
        client.send(format!("HEAD / HTTP/1.1\r\nHost: x\r\n{authorization}\r\n").as_bytes());
        client.send(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
        // The HEAD response is a head alone: a body would be a leak, and so would a
        // Content-Length of the store's 13 bytes.
        let head = client.head_reply().head;
        assert!(head.starts_with("HTTP/1.1 401 Unauthorized\r\n"), "{head}");
        assert!(
            head.contains("\r\nWWW-Authenticate: Basic realm="),
            "{head}"
        );
        assert!(!head.contains("Content-Length: 13\r\n"), "{head}");
        // The next bytes are the OPTIONS response, not a body.
        assert_eq!(client.reply().status, 204);
    }
}

#[test]
fn auth_all_makes_post_need_credentials() {
    let server = TestServer::start("", |c| c.auth_all = true);
    let reply = server.ask("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\na");
    assert_eq!(reply.status, 401);
    let reply = server.ask(&format!(
        "POST / HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nContent-Length: 1\r\n\r\na",
        auth()
    ));
    assert_eq!(reply.status, 200);
}

#[test]
fn unknown_path_is_404_and_unknown_method_501_with_allow() {
    let server = TestServer::start("", |_| {});
    assert_eq!(
        server.ask("GET /other HTTP/1.1\r\nHost: x\r\n\r\n").status,
        404
    );
    let reply = server.ask("PATCH / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(reply.status, 501);
    assert_eq!(
        reply.header("Allow"),
        Some("GET, HEAD, POST, PUT, DELETE, OPTIONS")
    );
}

#[test]
fn options_is_204_with_allow_and_no_content_length() {
    let server = TestServer::start("", |_| {});
    let reply = server.ask("OPTIONS / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(reply.status, 204);
    assert_eq!(
        reply.header("Allow"),
        Some("GET, HEAD, POST, PUT, DELETE, OPTIONS")
    );
    assert_eq!(reply.header("Content-Length"), None);
}

#[test]
fn limits_give_413_414_431_and_close() {
    let server = TestServer::start("", |c| {
        c.limits.max_line = 64;
        c.limits.max_header_bytes = 128;
        c.limits.max_body = 16;
    });
    let long_target = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(100));
    let big_header = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(200)
    );
    for (request, status) in [
        (long_target, 414),
        (big_header, 431),
        (
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 17\r\n\r\n".to_owned(),
            413,
        ),
    ] {
        let mut client = server.connect();
        client.send(request.as_bytes());
        let reply = client.reply();
        assert_eq!(reply.status, status, "{request}");
        assert_eq!(reply.header("Connection"), Some("close"));
        assert!(client.closed_within(std::time::Duration::from_secs(2)));
    }
}

#[test]
fn other_http_versions_are_505() {
    let server = TestServer::start("", |_| {});
    assert_eq!(server.ask("GET / HTTP/2.0\r\nHost: x\r\n\r\n").status, 505);
    assert_eq!(server.ask("GET / HTTP/1.2\r\nHost: x\r\n\r\n").status, 505);
}

#[test]
fn malformed_requests_are_400_and_close() {
    let server = TestServer::start("", |_| {});
    for request in [
        "GET / HTTP/1.1\r\n\r\n",
        "GET  / HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET / HTTP/1.1\r\nHost : x\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
    ] {
        let mut client = server.connect();
        client.send(request.as_bytes());
        let reply = client.reply();
        assert_eq!(reply.status, 400, "{request:?}");
        assert_eq!(reply.header("Connection"), Some("close"), "{request:?}");
        assert!(
            client.closed_within(std::time::Duration::from_secs(2)),
            "{request:?}"
        );
    }
}

/// A store whose every operation fails, as a full disk would.
struct BrokenStore;

impl Apply for BrokenStore {
    fn snapshot(&self) -> Result<Snapshot, StoreError> {
        Err(BrokenStore::error())
    }
    fn apply(&self, _: &Change) -> Result<usize, StoreError> {
        Err(BrokenStore::error())
    }
}

impl BrokenStore {
    fn error() -> StoreError {
        let enospc = std::io::Error::from_raw_os_error(28);
        StoreError::io("write", "broken".as_ref(), enospc)
    }
}

#[test]
fn a_failing_store_answers_500_and_the_server_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::with_store(dir, Arc::new(Inline(BrokenStore)), |_| {});
    let mut client = server.connect();
    client.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
    let reply = client.reply();
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (500, "the store could not be read or written\n")
    );
    // The request was read whole, so the connection stays usable.
    client.send(
        format!(
            "GET / HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\n\r\n",
            auth()
        )
        .as_bytes(),
    );
    assert_eq!(client.reply().status, 500);
    assert_eq!(
        server.ask("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n").status,
        204
    );
}

/// A store that panics, standing in for a bug in a handler.
struct PanickingStore;

impl Apply for PanickingStore {
    fn snapshot(&self) -> Result<Snapshot, StoreError> {
        panic!("injected panic in snapshot")
    }
    fn apply(&self, change: &Change) -> Result<usize, StoreError> {
        panic!("injected panic in apply({change:?})")
    }
}

#[test]
fn a_panic_in_a_handler_is_500_and_close_and_the_server_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::with_store(dir, Arc::new(Inline(PanickingStore)), |_| {});
    let mut client = server.connect();
    client.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
    let reply = client.reply();
    assert_eq!(reply.status, 500);
    assert_eq!(reply.header("Connection"), Some("close"));
    assert!(client.closed_within(std::time::Duration::from_secs(2)));
    assert_eq!(
        server.ask("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n").status,
        204
    );
}
