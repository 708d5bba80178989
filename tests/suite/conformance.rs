//! RFC 9110 / RFC 9112 conformance of the parser, class by class, over TCP.
//!
//! Every rejection is sent with a valid POST pipelined behind it on the same
//! connection: the rejected request gets its status and `Connection: close`,
//! the connection closes, and the pipelined POST never reaches the store
//! (RFC 9112 §9.3: after a framing error nothing behind it can be trusted).
//! `docs/CONFORMANCE.md` is the table of these choices.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use proptest::prelude::*;
use wordwire::auth::Credentials;
use wordwire::server::Config;
use wordwire::server::memory::{self, Peer};
use wordwire::store::{Apply, Change, Inline, Snapshot, StoreError};

use crate::support::{TestServer, auth};

/// A valid request that must never run when it follows a rejected one.
const SMUGGLED: &[u8] = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\nsmuggled";
const SEED: &str = "seed\n";

fn server() -> TestServer {
    // A short read timeout so that a request the server wrongly waits on fails fast (as 504).
    TestServer::start(SEED, |c| c.read_timeout = Duration::from_secs(2))
}

/// `request`, with `SMUGGLED` pipelined behind it, gets `status`, `Connection:
/// close` and a closed connection, and the store is untouched.
fn assert_rejected(server: &TestServer, request: &[u8], status: u16) {
    let before = server.store_bytes();
    let mut client = server.connect();
    client.send(&[request, SMUGGLED].concat());
    let reply = client.reply();
    let shown = String::from_utf8_lossy(request);
    assert_eq!(reply.status, status, "{shown:?}: {}", reply.body);
    assert_eq!(reply.header("Connection"), Some("close"), "{shown:?}");
    assert!(client.closed_within(Duration::from_secs(3)), "{shown:?}");
    assert_eq!(server.store_bytes(), before, "{shown:?} reached the store");
}

/// Each of `heads` (a POST head without its final empty line) with the body
/// `hello` framed by it is accepted and stores `hello`.
fn assert_post_accepted(server: &TestServer, request: &[u8]) {
    let before = server.store_bytes();
    let mut client = server.connect();
    client.send(request);
    let reply = client.reply();
    let shown = String::from_utf8_lossy(request);
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (200, "added hello\n"),
        "{shown:?}"
    );
    assert_eq!(
        server.store_bytes(),
        format!("{before}hello\n"),
        "{shown:?}"
    );
}

fn post_with(fields: &str, body: &str) -> Vec<u8> {
    format!("POST / HTTP/1.1\r\nHost: x\r\n{fields}\r\n{body}").into_bytes()
}

// Request-line form: RFC 9112 §3, §3.2, §2.3; RFC 9110 §9.1.

#[test]
fn request_line_not_method_sp_target_sp_version_is_400_rfc9112_s3() {
    let server = server();
    for request in [
        &b"GET  / HTTP/1.1\r\nHost: x\r\n\r\n"[..], // two SP
        b"GET / HTTP/1.1 \r\nHost: x\r\n\r\n",      // SP after the version
        b" GET / HTTP/1.1\r\nHost: x\r\n\r\n",      // SP before the method
        b"GET\t/\tHTTP/1.1\r\nHost: x\r\n\r\n",     // HTAB is not SP
        b"GET /\r\nHost: x\r\n\r\n",                // HTTP/0.9 form
        b"GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n",
        b"GE(T / HTTP/1.1\r\nHost: x\r\n\r\n", // method is not a token (RFC 9110 §9.1)
        b"G\x00T / HTTP/1.1\r\nHost: x\r\n\r\n",
    ] {
        assert_rejected(&server, request, 400);
    }
}

#[test]
fn request_targets_in_no_form_of_rfc9112_s3_2_are_400() {
    let server = server();
    for request in [
        &b"GET foo HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        b"GET /a#frag HTTP/1.1\r\nHost: x\r\n\r\n", // RFC 9110 §7.1: no fragment
        b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /\x7f HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET http://user@h/ HTTP/1.1\r\nHost: x\r\n\r\n", // RFC 9110 §4.2.4: no userinfo
        b"GET ftp://h/ HTTP/1.1\r\nHost: x\r\n\r\n",
    ] {
        assert_rejected(&server, request, 400);
    }
}

#[test]
fn target_forms_reach_the_handler_rfc9112_s3_2() {
    let server = server();
    let get = |target: &str| {
        server.ask(&format!(
            "GET {target} HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\n\r\n",
            auth()
        ))
    };
    // §3.2.1 origin-form with a query, §3.2.2 absolute-form (scheme case-insensitive).
    for target in ["/", "/?q=1", "http://x/", "HTTP://x:1", "https://x/?a"] {
        assert_eq!(get(target).status, 200, "{target}");
    }
    // §3.2.4 asterisk-form and §3.2.3 authority-form are for OPTIONS and CONNECT only.
    assert_eq!(get("*").status, 400);
    assert_eq!(get("x:80").status, 400);
    assert_eq!(get("/other").status, 404);
    let options = server.ask("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(options.status, 204);
}

#[test]
fn methods_are_case_sensitive_tokens_and_unknown_ones_are_501_rfc9110_s9_1() {
    let server = server();
    for method in ["get", "PATCH", "TRACE", "CONNECT", "BREW"] {
        let reply = server.ask(&format!("{method} / HTTP/1.1\r\nHost: x\r\n\r\n"));
        assert_eq!(reply.status, 501, "{method}");
        assert!(reply.header("Allow").is_some(), "{method}");
    }
}

#[test]
fn versions_rfc9112_s2_3_malformed_is_400_and_unsupported_is_505() {
    let server = server();
    for request in [
        &b"GET / http/1.1\r\nHost: x\r\n\r\n"[..],
        b"GET / HTTP/1.10\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/a.b\r\nHost: x\r\n\r\n",
    ] {
        assert_rejected(&server, request, 400);
    }
    for request in [
        &b"GET / HTTP/2.0\r\nHost: x\r\n\r\n"[..],
        b"GET / HTTP/0.9\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.2\r\nHost: x\r\n\r\n",
    ] {
        assert_rejected(&server, request, 505);
    }
}

#[test]
fn a_request_line_over_max_line_is_414_rfc9112_s3() {
    let server = TestServer::start(SEED, |c| c.limits.max_line = 64);
    let long = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(100));
    assert_rejected(&server, long.as_bytes(), 414);
    // Empty lines before the request-line count too, so they cannot keep the parser busy.
    let blank = format!("{}GET / HTTP/1.1\r\nHost: x\r\n\r\n", "\r\n".repeat(40));
    assert_rejected(&server, blank.as_bytes(), 414);
}

#[test]
fn empty_lines_before_the_request_line_are_ignored_rfc9112_s2_2() {
    let server = server();
    assert_post_accepted(
        &server,
        b"\r\n\nPOST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
    );
}

// Field syntax: RFC 9112 §5, §5.1, §5.2, §2.2; RFC 9110 §5.1, §5.5.

#[test]
fn field_names_must_be_tokens_rfc9110_s5_1() {
    let server = server();
    for field in ["Fo@o: x", ": x", "NoColon", "Two Words: x", "X\x00Y: z"] {
        assert_rejected(&server, &post_with(&format!("{field}\r\n"), ""), 400);
    }
}

#[test]
fn whitespace_before_the_colon_is_400_rfc9112_s5_1() {
    let server = server();
    for field in [
        "Content-Length : 5",
        "Transfer-Encoding\t: chunked",
        "Host : x",
    ] {
        assert_rejected(&server, &post_with(&format!("{field}\r\n"), "hello"), 400);
    }
}

#[test]
fn obs_fold_is_rejected_not_unfolded_rfc9112_s5_2() {
    let server = server();
    // RFC 9112 §5.2 lets a server either reject obs-fold with 400 or replace it by SP; wordwire rejects.
    assert_rejected(&server, &post_with("X-A: 1\r\n  2\r\n", ""), 400);
    assert_rejected(
        &server,
        &post_with("Transfer-Encoding:\r\n chunked\r\n", "0\r\n\r\n"),
        400,
    );
    // RFC 9112 §2.2: whitespace between the start-line and the first field line.
    assert_rejected(
        &server,
        b"POST / HTTP/1.1\r\n Host: x\r\nContent-Length: 0\r\n\r\n",
        400,
    );
}

#[test]
fn controls_nul_and_bare_cr_in_fields_are_400_rfc9110_s5_5_rfc9112_s2_2() {
    let server = server();
    for field in [
        &b"X-A: a\x00b\r\n"[..],          // NUL
        b"X-A: a\x01b\r\n",               // CTL
        b"X-A: a\x7fb\r\n",               // DEL
        b"X-A: a\x0bb\r\n",               // VT
        b"X-A: a\rb\r\n",                 // bare CR inside a value
        b"X-A: a\r\r\n",                  // CR CR LF
        b"X-A: a\rContent-Length: 5\r\n", // bare CR as a would-be line end
    ] {
        let request = [&b"POST / HTTP/1.1\r\nHost: x\r\n"[..], field, b"\r\n"].concat();
        assert_rejected(&server, &request, 400);
    }
    assert_rejected(&server, b"GET / HTTP/1.1\rHost: x\r\n\r\n", 400);
}

#[test]
fn obs_text_in_values_and_bare_lf_line_ends_are_accepted_rfc9110_s5_5_rfc9112_s2_2() {
    let server = server();
    assert_post_accepted(
        &server,
        b"POST / HTTP/1.1\r\nHost: x\r\nX-Name: caf\xc3\xa9\r\nContent-Length: 5\r\n\r\nhello",
    );
    // RFC 9112 §2.2: a recipient MAY accept a lone LF as a line terminator (netcat users).
    assert_post_accepted(
        &server,
        b"POST / HTTP/1.1\nHost: x\nContent-Length: 5\n\nhello",
    );
}

#[test]
fn a_field_section_over_max_header_bytes_is_431_rfc6585_s5() {
    let server = TestServer::start(SEED, |c| c.limits.max_header_bytes = 256);
    let request = post_with(&format!("X-Big: {}\r\n", "a".repeat(300)), "");
    assert_rejected(&server, &request, 431);
    let many = post_with(&"X-A: 1\r\n".repeat(40), "");
    assert_rejected(&server, &many, 431);
}

// Host: RFC 9112 §3.2.

#[test]
fn host_is_required_once_in_http11_rfc9112_s3_2() {
    let server = server();
    assert_rejected(
        &server,
        b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
        400,
    );
    assert_rejected(
        &server,
        b"POST / HTTP/1.1\r\nHost: x\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
        400,
    );
    assert_rejected(
        &server,
        b"POST / HTTP/1.1\r\nHost: x\r\nhOsT: y\r\nContent-Length: 5\r\n\r\nhello",
        400,
    );
    // An empty host names nothing an origin server can serve (issue 13: these were served).
    for host in ["", " ", ":80"] {
        let request = format!("POST / HTTP/1.1\r\nHost:{host}\r\nContent-Length: 5\r\n\r\nhello");
        assert_rejected(&server, request.as_bytes(), 400);
    }
}

#[test]
fn absolute_form_authority_is_held_to_the_host_rules_rfc9110_s4_2_1() {
    // Issue 13: with a valid Host, each of these was answered `200 added hello`.
    let server = server();
    for target in [
        "http://:80/",
        "http://h:80x/",
        "http://[::1/",
        "http://a%/",
        "http://a\"<>/",
    ] {
        let request =
            format!("POST {target} HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello");
        assert_rejected(&server, request.as_bytes(), 400);
    }
    assert_post_accepted(
        &server,
        b"POST http://[::1]:8080/ HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
    );
}

#[test]
fn host_in_http10_is_optional_but_never_duplicated_rfc9112_s3_2() {
    let server = server();
    assert_post_accepted(
        &server,
        b"POST / HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello",
    );
    assert_rejected(
        &server,
        b"POST / HTTP/1.0\r\nHost: a\r\nHost: b\r\nContent-Length: 5\r\n\r\nhello",
        400,
    );
}

#[test]
fn host_with_an_invalid_value_is_400_rfc9112_s3_2() {
    // Before the fix in http::request these were served: the value was never checked.
    let server = server();
    for host in ["a b", "a/b", "user@host", "host:80x", "[::1", "x%zz"] {
        let request = format!("POST / HTTP/1.1\r\nHost: {host}\r\nContent-Length: 5\r\n\r\nhello");
        assert_rejected(&server, request.as_bytes(), 400);
    }
    assert_post_accepted(
        &server,
        b"POST / HTTP/1.1\r\nHost: [::1]:8080\r\nContent-Length: 5\r\n\r\nhello",
    );
}

// Content-Length: RFC 9112 §6.3, RFC 9110 §8.6.

#[test]
fn content_length_that_is_not_1_digit_is_400_rfc9110_s8_6() {
    let server = server();
    for value in [
        "+5", "-5", "0x5", "5 5", "5.0", "five", "", "5,", ",5", " 5;",
    ] {
        let request = post_with(&format!("Content-Length: {value}\r\n"), "hello");
        assert_rejected(&server, &request, 400);
    }
}

#[test]
fn content_lengths_that_differ_are_400_rfc9112_s6_3() {
    let server = server();
    assert_rejected(
        &server,
        &post_with("Content-Length: 5, 6\r\n", "hello"),
        400,
    );
    assert_rejected(
        &server,
        &post_with("Content-Length: 5\r\nContent-Length: 6\r\n", "hello"),
        400,
    );
}

#[test]
fn identical_content_lengths_and_leading_zeros_are_one_value_rfc9110_s8_6() {
    let server = server();
    // RFC 9110 §8.6: a recipient MAY accept a list of identical values as that value.
    assert_post_accepted(&server, &post_with("Content-Length: 5, 5\r\n", "hello"));
    assert_post_accepted(
        &server,
        &post_with("Content-Length: 5\r\nContent-Length: 5\r\n", "hello"),
    );
    // 1*DIGIT allows leading zeros.
    assert_post_accepted(&server, &post_with("Content-Length: 0005\r\n", "hello"));
    assert_post_accepted(&server, &post_with("Content-Length: 5, 005\r\n", "hello"));
}

#[test]
fn content_length_over_max_body_or_u64_is_413_rfc9110_s15_5_14() {
    let server = server();
    for value in [
        "8193",
        "18446744073709551615",
        "18446744073709551616",
        "99999999999999999999999999999999",
    ] {
        let request = post_with(&format!("Content-Length: {value}\r\n"), "hello");
        assert_rejected(&server, &request, 413);
    }
}

// Transfer-Encoding: RFC 9112 §6.1, §6.3, §7.

#[test]
fn transfer_encoding_other_than_chunked_is_400_rfc9112_s6_1() {
    let server = server();
    for value in [
        "gzip",              // unknown coding (RFC 9112 §6.1 SHOULD 501; the contract says 400)
        "identity",          // not a transfer coding since RFC 7230
        "chunked, gzip",     // RFC 9112 §6.3: chunked not last, MUST 400 and close
        "gzip, chunked",     // a coding wordwire cannot undo
        "chunked, chunked",  // RFC 9112 §7: chunked at most once
        "chunked, identity", // obfuscation
        "xchunked",
        "chunked-false",
        "\"chunked\"",
        "chunked;q=1",
        "chunked,",
        "",
    ] {
        let request = post_with(
            &format!("Transfer-Encoding: {value}\r\n"),
            "5\r\nhello\r\n0\r\n\r\n",
        );
        assert_rejected(&server, &request, 400);
    }
    assert_rejected(
        &server,
        &post_with(
            "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
            "5\r\nhello\r\n0\r\n\r\n",
        ),
        400,
    );
}

#[test]
fn transfer_encoding_with_content_length_is_400_rfc9112_s6_3() {
    let server = server();
    // CL.TE and TE.CL, the classic smuggling pair: RFC 9112 §6.3 lets a server reject it (MAY); wordwire does.
    assert_rejected(
        &server,
        &post_with(
            "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n",
            "5\r\nhello\r\n0\r\n\r\n",
        ),
        400,
    );
    assert_rejected(
        &server,
        &post_with(
            "Transfer-Encoding: chunked\r\nContent-Length: 30\r\n",
            "5\r\nhello\r\n0\r\n\r\n",
        ),
        400,
    );
}

#[test]
fn transfer_encoding_in_http10_is_400_rfc9112_s6_1() {
    let server = server();
    assert_rejected(
        &server,
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        400,
    );
}

#[test]
fn chunked_spelled_with_ows_or_in_any_case_is_chunked_rfc9112_s7() {
    let server = server();
    // Coding names are case-insensitive (RFC 9112 §7) and list members may carry OWS (RFC 9110 §5.6.1).
    for value in ["chunked ", "Chunked", "CHUNKED", " chunked", "chunked\t"] {
        let request = post_with(
            &format!("Transfer-Encoding: {value}\r\n"),
            "5\r\nhello\r\n0\r\n\r\n",
        );
        assert_post_accepted(&server, &request);
    }
    // `Transfer_Encoding` is another field (names are tokens), so the body is framed by Content-Length.
    assert_post_accepted(
        &server,
        &post_with(
            "Transfer_Encoding: chunked\r\nContent-Length: 5\r\n",
            "hello",
        ),
    );
}

// Chunked syntax: RFC 9112 §7.1, §7.1.1, §7.1.2.

fn chunked(body: &str) -> Vec<u8> {
    post_with("Transfer-Encoding: chunked\r\n", body)
}

#[test]
fn chunk_sizes_that_are_not_hex_or_overflow_are_400_rfc9112_s7_1() {
    let server = server();
    for body in [
        "zz\r\nhello\r\n0\r\n\r\n",
        "0x5\r\nhello\r\n0\r\n\r\n",
        "-5\r\nhello\r\n0\r\n\r\n",
        " 5\r\nhello\r\n0\r\n\r\n",
        "5 x\r\nhello\r\n0\r\n\r\n",
        "\r\nhello\r\n0\r\n\r\n",
        "10000000000000005\r\nhello\r\n0\r\n\r\n", // 2^64 + 5: no wrap-around to 5
        "fffffffffffffffff\r\n",
    ] {
        assert_rejected(&server, &chunked(body), 400);
    }
    // Within u64 but over --max-body: 413 before any data arrives.
    assert_rejected(&server, &chunked("ffffffffffffffff\r\n"), 413);
    assert_rejected(&server, &chunked("2001\r\n"), 413);
}

#[test]
fn chunk_extensions_are_checked_and_ignored_rfc9112_s7_1_1() {
    let server = server();
    assert_post_accepted(
        &server,
        &chunked("5;a=b;c=\"q;\\\"x\" ;d\r\nhello\r\n0;last\r\n\r\n"),
    );
    for body in [
        "5;\r\nhello\r\n0\r\n\r\n",
        "5;=x\r\nhello\r\n0\r\n\r\n",
        "5;a=\"open\r\nhello\r\n0\r\n\r\n",
        "5;a=b c\r\nhello\r\n0\r\n\r\n",
    ] {
        assert_rejected(&server, &chunked(body), 400);
    }
    // A chunk-size line longer than --max-line (long extensions) is 400 before it ends.
    let server = TestServer::start(SEED, |c| c.limits.max_line = 64);
    let long = format!("5;a={}\r\nhello\r\n0\r\n\r\n", "b".repeat(100));
    assert_rejected(&server, &chunked(&long), 400);
}

#[test]
fn trailer_fields_are_checked_and_discarded_rfc9112_s7_1_2() {
    let server = server();
    assert_post_accepted(
        &server,
        &chunked("5\r\nhello\r\n0\r\nX-Sum: 1\r\nContent-Length: 99\r\n\r\n"),
    );
    for trailer in ["Bad Name: x", "X-A : 1", " folded", "X-A: \x00"] {
        let body = format!("5\r\nhello\r\n0\r\n{trailer}\r\n\r\n");
        assert_rejected(&server, &chunked(&body), 400);
    }
}

#[test]
fn chunked_framing_needs_crlf_everywhere_rfc9112_s7_1() {
    let server = server();
    for body in [
        "5\nhello\r\n0\r\n\r\n",      // bare LF after the size
        "5\r\nhello\n0\r\n\r\n",      // bare LF after the data
        "5\r\nhelloX0\r\n\r\n",       // data longer than its size
        "5\r\nhell\r\n0\r\n\r\n",     // data shorter than its size
        "5\r\nhello\r\n0\n\n",        // bare LF in the last chunk
        "5\r\nhello\r\n0\r\n\n",      // bare LF ending the trailer section
        "5\rx\r\nhello\r\n0\r\n\r\n", // bare CR
    ] {
        assert_rejected(&server, &chunked(body), 400);
    }
}

// Pipelining: RFC 9112 §9.3.

#[test]
fn requests_pipelined_after_a_rejected_one_never_run_rfc9112_s9_3() {
    let server = server();
    let mut client = server.connect();
    let mut batch = post_with("Content-Length: 5\r\n", "first");
    batch.extend_from_slice(&post_with("Content-Length: 5, 6\r\n", "hello"));
    batch.extend_from_slice(&post_with("Content-Length: 5\r\n", "third"));
    batch.extend_from_slice(b"DELETE / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nseed");
    client.send(&batch);
    assert_eq!(client.reply().body, "added first\n");
    let rejected = client.reply();
    assert_eq!(rejected.status, 400);
    assert_eq!(rejected.header("Connection"), Some("close"));
    assert!(client.closed_within(Duration::from_secs(3)));
    assert_eq!(server.store_bytes(), "seed\nfirst\n");
}

#[test]
fn a_request_after_a_well_framed_refusal_still_runs_rfc9112_s9_3() {
    // A 404 or 401 leaves the framing known, so the connection and what follows go on.
    let server = server();
    let mut client = server.connect();
    let mut batch = b"POST /other HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello".to_vec();
    batch.extend_from_slice(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    batch.extend_from_slice(&post_with("Content-Length: 5\r\n", "after"));
    client.send(&batch);
    assert_eq!(client.reply().status, 404);
    assert_eq!(client.reply().status, 401);
    assert_eq!(client.reply().body, "added after\n");
    assert_eq!(server.store_bytes(), "seed\nafter\n");
}

#[test]
fn the_body_of_a_refused_request_is_never_run_as_a_request_rfc9112_s6_3() {
    // Before the fix in server::conn, a body read after a precheck refusal (404,
    // 501, 401 with --auth-all) stayed in the buffer and was parsed as the next
    // request: one request to a proxy, two to wordwire.
    let inner = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\nsmuggled";
    let server = server();
    for head in [
        "POST /other HTTP/1.1",
        "PATCH / HTTP/1.1",
        "POST * HTTP/1.1",
    ] {
        let mut client = server.connect();
        client.send(
            format!(
                "{head}\r\nHost: x\r\nContent-Length: {}\r\n\r\n{inner}",
                inner.len()
            )
            .as_bytes(),
        );
        assert!(client.reply().status >= 400, "{head}");
        client.send(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(
            client.reply().status,
            204,
            "{head}: the body was run as a request"
        );
    }
    let guarded = TestServer::start(SEED, |c| c.auth_all = true);
    let mut client = guarded.connect();
    let inner = format!(
        "DELETE / HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nContent-Length: 4\r\n\r\nseed",
        auth()
    );
    client.send(
        format!(
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{inner}",
            inner.len()
        )
        .as_bytes(),
    );
    assert_eq!(client.reply().status, 401);
    client.send(
        format!(
            "OPTIONS * HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\n\r\n",
            auth()
        )
        .as_bytes(),
    );
    assert_eq!(client.reply().status, 204);
    assert_eq!(server.store_bytes(), SEED);
    assert_eq!(guarded.store_bytes(), SEED);
}

// "A rejected request never reaches the store", for generated invalid requests.

/// A store that counts every call and holds nothing.
#[derive(Default)]
struct RecordingStore {
    calls: AtomicUsize,
}

impl RecordingStore {
    fn record(&self) {
        self.calls.fetch_add(1, Ordering::SeqCst);
    }
}

impl Apply for RecordingStore {
    fn snapshot(&self) -> Result<Snapshot, StoreError> {
        self.record();
        Ok(Arc::new(Vec::new()))
    }
    fn apply(&self, _: &Change) -> Result<usize, StoreError> {
        self.record();
        Ok(1)
    }
}

/// What the real connection state machine, driven in memory, answers to
/// `bytes`: the status of its first answer if that answer rejects the request
/// and closes (not a timeout: an unfinished request), with the store calls
/// the in-memory run made; `None` for anything else.
fn rejection_status(bytes: &[u8]) -> Option<(u16, usize)> {
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), Credentials::lab_default());
    config.access_log = false;
    let store = Arc::new(Inline(RecordingStore::default()));
    let done = memory::exchange(&config, store.clone(), &[Peer::Send(bytes.to_vec())], &[]);
    let status = *done.statuses().first()?;
    // `Connection: close` in the first answer's head.
    let closes = done
        .written
        .split(|&b| b == b'\n')
        .take_while(|line| *line != b"\r")
        .any(|line| line == b"Connection: close\r");
    let rejected = status >= 400 && status != config.timeout_status.code() && closes;
    rejected.then(|| (status, store.0.calls.load(Ordering::SeqCst)))
}

/// Whether `httparse`, a parser written independently of ours, finds the head at
/// the start of `bytes` invalid. It checks less than wordwire (no Host, framing or
/// target rules, any byte above 0x7F in a target), so only its rejections count.
fn httparse_rejects(bytes: &[u8]) -> bool {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    httparse::Request::new(&mut headers).parse(bytes).is_err()
}

/// A fault that makes any request invalid, whatever a parser makes of it, and the
/// status RFC 9110, RFC 9112 and the contract give it: the oracle that does not ask
/// wordwire's own parser what must be rejected.
#[derive(Debug, Clone)]
enum Fault {
    /// RFC 9110 §5.5: no CTL but HTAB in a field value.
    ControlInValue(u8),
    /// RFC 9112 §2.2: a CR not followed by LF (the contract: invalid).
    BareCrInValue,
    /// RFC 9112 §5.1: MUST reject whitespace between a field name and its colon.
    WhitespaceBeforeColon(u8),
    /// RFC 9112 §5.2: obs-fold (the contract: rejected).
    ObsFold,
    /// RFC 9110 §9.1: `method = token`.
    MethodNotToken(u8),
    /// RFC 9110 §5.1: `field-name = token`.
    NameNotToken(u8),
    /// RFC 9112 §3: one SP between the parts of the request-line.
    DoubleSpace,
    /// RFC 9112 §3.2: an HTTP/1.1 request MUST carry exactly one Host.
    NoHost,
    TwoHosts,
    /// RFC 9112 §3.2, RFC 9110 §7.2: a Host value that is not `uri-host [":" port]`.
    InvalidHost(u8),
    /// RFC 9110 §4.2.1 (and the contract): an empty host.
    EmptyHost(&'static str),
    /// RFC 9112 §3.2.2: the authority of an absolute-form target, held to the Host rules.
    InvalidAuthority(&'static str),
    /// RFC 9112 §6.3: Content-Length values that differ.
    ConflictingLengths,
    /// RFC 9112 §6.1 (the contract: 400).
    ChunkedAndLength,
    /// RFC 9112 §6.1 (the contract: only `chunked`).
    UnknownCoding(&'static str),
    /// RFC 9112 §2.3: not `HTTP/` DIGIT `.` DIGIT.
    MalformedVersion(&'static str),
    /// RFC 9110 §15.6.6: a version the server does not speak: 505.
    UnsupportedVersion(&'static str),
    /// RFC 9112 §7.1: `chunk-size = 1*HEXDIG`.
    BadChunkSize(&'static str),
    /// RFC 9112 §7.1 (the contract: only CRLF inside chunked framing).
    LfAfterChunkData,
    /// The contract: a Content-Length over `--max-body` is 413.
    LengthOverLimit,
}

fn fault() -> impl Strategy<Value = Fault> {
    let control = prop_oneof![0u8..=8, 0x0Bu8..=0x0C, 0x0Eu8..=0x1F, Just(0x7F)];
    // Visible bytes that are not tchar; `:` would only end the name early.
    let separator = proptest::sample::select(&b"(),/;<=>?@[\\]{}\""[..]);
    let not_reg_name = proptest::sample::select(&b" \"<>@/\\^{}|`[%"[..]);
    prop_oneof![
        control.prop_map(Fault::ControlInValue),
        Just(Fault::BareCrInValue),
        prop_oneof![Just(b' '), Just(b'\t')].prop_map(Fault::WhitespaceBeforeColon),
        Just(Fault::ObsFold),
        separator.clone().prop_map(Fault::MethodNotToken),
        separator.prop_map(Fault::NameNotToken),
        Just(Fault::DoubleSpace),
        Just(Fault::NoHost),
        Just(Fault::TwoHosts),
        not_reg_name.prop_map(Fault::InvalidHost),
        proptest::sample::select(&["", ":80", ":"][..]).prop_map(Fault::EmptyHost),
        proptest::sample::select(
            &[
                "http://:80/",
                "http://h:80x/",
                "http://[::1/",
                "http://a%/",
                "http://a\"<>/",
                "http://u@h/"
            ][..]
        )
        .prop_map(Fault::InvalidAuthority),
        Just(Fault::ConflictingLengths),
        Just(Fault::ChunkedAndLength),
        proptest::sample::select(
            &["gzip, chunked", "chunked, chunked", "identity", "xchunked"][..]
        )
        .prop_map(Fault::UnknownCoding),
        proptest::sample::select(
            &["HTTP/1.x", "http/1.1", "HTTP/11", "HTTP/1.1.1", "HTTP 1.1"][..]
        )
        .prop_map(Fault::MalformedVersion),
        proptest::sample::select(&["HTTP/2.0", "HTTP/1.2", "HTTP/0.9", "HTTP/3.0"][..])
            .prop_map(Fault::UnsupportedVersion),
        proptest::sample::select(&["5x", "g", "-5", " 5", "0x5", ""][..])
            .prop_map(Fault::BadChunkSize),
        Just(Fault::LfAfterChunkData),
        Just(Fault::LengthOverLimit),
    ]
}

/// A POST of `hello` (by Content-Length, or chunked) with `fault` in it, and the
/// status the fault must get.
fn faulty_request(fault: &Fault, chunked: bool) -> (Vec<u8>, u16) {
    let (mut method, mut target, mut version) = ("POST".to_owned(), "/".to_owned(), "HTTP/1.1");
    let mut sp = " ";
    let mut fields = vec![
        ("Host".to_owned(), "x".to_owned()),
        ("X-A".to_owned(), "1".to_owned()),
    ];
    let mut chunked = chunked;
    let (mut chunk_size, mut after_data) = ("5", "\r\n");
    let mut status = 400;
    match fault {
        Fault::ControlInValue(b) => fields[1].1 = format!("a{}b", char::from(*b)),
        Fault::BareCrInValue => fields[1].1 = "a\rb".to_owned(),
        Fault::WhitespaceBeforeColon(b) => fields[1].0.push(char::from(*b)),
        Fault::ObsFold => fields[1].1.push_str("\r\n folded"),
        Fault::MethodNotToken(b) => method.insert(2, char::from(*b)),
        Fault::NameNotToken(b) => fields[1].0.insert(1, char::from(*b)),
        Fault::DoubleSpace => sp = "  ",
        Fault::NoHost => {
            fields.remove(0);
        }
        Fault::TwoHosts => fields.push(("host".to_owned(), "x".to_owned())),
        Fault::InvalidHost(b) => fields[0].1 = format!("x{}y", char::from(*b)),
        Fault::EmptyHost(host) => fields[0].1 = (*host).to_owned(),
        Fault::InvalidAuthority(authority) => target = (*authority).to_owned(),
        Fault::ConflictingLengths => {
            chunked = false;
            fields.push(("Content-Length".to_owned(), "6".to_owned()));
        }
        Fault::ChunkedAndLength => {
            fields.push(("Content-Length".to_owned(), "5".to_owned()));
            chunked = true;
        }
        Fault::UnknownCoding(coding) => {
            chunked = false;
            fields.push(("Transfer-Encoding".to_owned(), (*coding).to_owned()));
        }
        Fault::MalformedVersion(v) => version = v,
        Fault::UnsupportedVersion(v) => {
            version = v;
            status = 505;
        }
        Fault::BadChunkSize(size) => {
            chunked = true;
            chunk_size = size;
        }
        Fault::LfAfterChunkData => {
            chunked = true;
            after_data = "\n";
        }
        Fault::LengthOverLimit => {
            chunked = false;
            fields.push(("Content-Length".to_owned(), "8193".to_owned()));
            status = 413;
        }
    }
    if !matches!(fault, Fault::UnknownCoding(_) | Fault::LengthOverLimit) {
        fields.push(if chunked {
            ("Transfer-Encoding".to_owned(), "chunked".to_owned())
        } else {
            ("Content-Length".to_owned(), "5".to_owned())
        });
    }
    let mut bytes = format!("{method}{sp}{target}{sp}{version}\r\n").into_bytes();
    for (name, value) in &fields {
        bytes.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    bytes.extend_from_slice(b"\r\n");
    if chunked {
        bytes.extend_from_slice(format!("{chunk_size}\r\nhello{after_data}0\r\n\r\n").as_bytes());
    } else {
        bytes.extend_from_slice(b"hello");
    }
    (bytes, status)
}

#[test]
fn every_known_fault_class_gets_its_status_and_never_reaches_the_store() {
    let store = Arc::new(Inline(RecordingStore::default()));
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::with_store(dir, store.clone(), |c| {
        c.read_timeout = Duration::from_secs(2);
    });
    // Every control byte but HTAB (and CR and LF, which end or break the line).
    let controls = (0u8..0x20)
        .chain([0x7F])
        .filter(|b| !b"\t\r\n".contains(b))
        .map(Fault::ControlInValue);
    let faults = controls.chain([
        Fault::BareCrInValue,
        Fault::WhitespaceBeforeColon(b'\t'),
        Fault::ObsFold,
        Fault::MethodNotToken(b'@'),
        Fault::NameNotToken(b'"'),
        Fault::DoubleSpace,
        Fault::NoHost,
        Fault::TwoHosts,
        Fault::InvalidHost(b'%'),
        Fault::EmptyHost(":80"),
        Fault::InvalidAuthority("http://[::1/"),
        Fault::ConflictingLengths,
        Fault::ChunkedAndLength,
        Fault::UnknownCoding("gzip, chunked"),
        Fault::MalformedVersion("HTTP/1.x"),
        Fault::UnsupportedVersion("HTTP/2.0"),
        Fault::BadChunkSize("5x"),
        Fault::LfAfterChunkData,
        Fault::LengthOverLimit,
    ]);
    for fault in faults {
        for chunked in [false, true] {
            let (request, status) = faulty_request(&fault, chunked);
            let mut client = server.connect();
            client.send(&[&request[..], SMUGGLED].concat());
            let reply = client.reply();
            let shown = String::from_utf8_lossy(&request);
            assert_eq!(reply.status, status, "{shown:?}: {}", reply.body);
            assert_eq!(reply.header("Connection"), Some("close"), "{shown:?}");
            assert!(client.closed_within(Duration::from_secs(3)), "{shown:?}");
        }
    }
    assert_eq!(store.0.calls.load(Ordering::SeqCst), 0);
}

/// One edit to a valid request.
#[derive(Debug, Clone)]
enum Mutation {
    Replace(proptest::sample::Index, u8),
    Insert(proptest::sample::Index, u8),
    Delete(proptest::sample::Index),
}

fn interesting_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        any::<u8>(),
        Just(b'\r'),
        Just(b'\n'),
        Just(0u8),
        Just(b' '),
        Just(b'\t'),
        Just(b':'),
        Just(b','),
        Just(b';'),
        Just(b'0'),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<proptest::sample::Index>(), interesting_byte())
            .prop_map(|(i, b)| Mutation::Replace(i, b)),
        (any::<proptest::sample::Index>(), interesting_byte())
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<proptest::sample::Index>().prop_map(Mutation::Delete),
    ]
}

fn apply(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        match *m {
            Mutation::Replace(ref i, b) if !bytes.is_empty() => {
                let i = i.index(bytes.len());
                bytes[i] = b;
            }
            Mutation::Insert(ref i, b) => bytes.insert(i.index(bytes.len() + 1), b),
            Mutation::Delete(ref i) if !bytes.is_empty() => {
                bytes.remove(i.index(bytes.len()));
            }
            _ => {}
        }
    }
    bytes
}

/// Over TCP, to a server whose store counts its calls, `request` gets `status`,
/// `Connection: close` and a closed connection, and the store is never called.
fn prop_rejected_before_the_store(request: &[u8], status: u16) -> Result<(), TestCaseError> {
    let store = Arc::new(Inline(RecordingStore::default()));
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::with_store(dir, store.clone(), |c| {
        c.read_timeout = Duration::from_secs(2);
    });
    let mut client = server.connect();
    client.send(request);
    let reply = client.reply();
    let shown = String::from_utf8_lossy(request);
    prop_assert_eq!(reply.status, status, "{:?}: {}", shown, reply.body);
    prop_assert_eq!(reply.header("Connection"), Some("close"), "{:?}", shown);
    prop_assert!(client.closed_within(Duration::from_secs(3)), "{:?}", shown);
    prop_assert_eq!(store.0.calls.load(Ordering::SeqCst), 0, "{:?}", shown);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Valid POST, PUT and DELETE requests, edited at random, with a valid POST
    /// pipelined behind. What `httparse` rejects, the connection must reject; what
    /// the connection state machine (driven in memory) rejects and closes on, over
    /// TCP the server answers with the same status, closes, and never calls the
    /// store, in memory or over TCP.
    #[test]
    fn a_rejected_request_never_reaches_the_store(
        base in prop_oneof![
            Just(&b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"[..]),
            Just(&b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"[..]),
            Just(&b"PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;e=1\r\na b\r\n0\r\nT: 1\r\n\r\n"[..]),
            Just(&b"DELETE / HTTP/1.0\r\nContent-Length: 1\r\n\r\na"[..]),
        ],
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let request = [apply(base.to_vec(), &mutations), SMUGGLED.to_vec()].concat();
        let rejection = rejection_status(&request);
        // An independent parser: a head httparse finds invalid, ours must reject too.
        prop_assert!(
            !httparse_rejects(&request) || rejection.is_some(),
            "httparse rejects, wordwire accepts: {:?}",
            String::from_utf8_lossy(&request)
        );
        prop_assume!(rejection.is_some());
        let (status, calls) = rejection.unwrap();
        prop_assert_eq!(calls, 0, "in memory: {:?}", String::from_utf8_lossy(&request));
        prop_rejected_before_the_store(&request, status)?;
    }

    /// A POST with a fault of a class the RFCs or the contract make invalid, with a
    /// valid POST pipelined behind: the status is the one the fault's class gives
    /// (not what wordwire's parser says), the server closes, and the store is untouched.
    #[test]
    fn a_request_with_a_known_fault_gets_its_status_and_never_reaches_the_store(
        fault in fault(),
        chunked in any::<bool>(),
    ) {
        let (request, status) = faulty_request(&fault, chunked);
        let request = [request, SMUGGLED.to_vec()].concat();
        prop_rejected_before_the_store(&request, status)?;
    }
}
