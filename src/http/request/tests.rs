//! The parser's cases, each on every prefix of its input, and its properties.

use super::*;
use proptest::prelude::*;

const LIMITS: HeadLimits = HeadLimits {
    max_line: 8192,
    max_header_bytes: 16384,
    max_body: 8192,
};

fn parse(input: &[u8]) -> Result<Progress<RequestHead>, ParseError> {
    parse_head(input, &LIMITS)
}

/// A head with no body and no flags, for struct-update in the tests.
fn head(method: Method, raw_target: &str, target: RequestTarget, version: Version) -> RequestHead {
    RequestHead {
        method,
        raw_target: raw_target.into(),
        target,
        version,
        framing: Framing::None,
        connection_close: false,
        connection_keep_alive: false,
        expect_continue: false,
        authorization: None,
    }
}

fn root() -> RequestTarget {
    RequestTarget::Path("/".into())
}

/// Every proper prefix of `input` needs more; all of it is `expected`, using every byte.
fn assert_parses_to(input: &[u8], expected: RequestHead) {
    assert_parses_with(input, &LIMITS, expected);
}

fn assert_parses_with(input: &[u8], limits: &HeadLimits, expected: RequestHead) {
    // One parser fed the prefixes in turn, as the bytes of a trickled head arrive.
    let mut parser = HeadParser::default();
    for end in 0..input.len() {
        for parsed in [
            parse_head(&input[..end], limits),
            parser.parse(&input[..end], limits),
        ] {
            assert_eq!(
                parsed,
                Ok(Progress::NeedMore),
                "prefix {:?}",
                String::from_utf8_lossy(&input[..end])
            );
        }
    }
    let expected = Ok(Progress::Done {
        value: expected,
        consumed: input.len(),
    });
    assert_eq!(parse_head(input, limits), expected);
    assert_eq!(parser.parse(input, limits), expected, "fed byte by byte");
}

/// All of `input` is rejected with `expected` (whose status is `status`);
/// each proper prefix needs more or is already rejected the same way.
fn assert_rejects(input: &[u8], expected: ParseError, status: u16) {
    assert_rejects_with(input, &LIMITS, expected, status);
}

fn assert_rejects_with(input: &[u8], limits: &HeadLimits, expected: ParseError, status: u16) {
    assert_eq!(expected.status(), status);
    let mut parser = HeadParser::default();
    let mut fed = Ok(Progress::NeedMore);
    for end in 0..input.len() {
        let parsed = parse_head(&input[..end], limits);
        match &parsed {
            Ok(Progress::NeedMore) => {}
            Err(e) if *e == expected => {}
            other => panic!(
                "prefix {:?} gave {other:?}",
                String::from_utf8_lossy(&input[..end])
            ),
        }
        // Fed the prefixes in turn, until it rejects them, a parser agrees.
        if fed == Ok(Progress::NeedMore) {
            fed = parser.parse(&input[..end], limits);
            assert_eq!(fed, parsed, "prefix of {end} bytes, fed in turn");
        }
    }
    assert_eq!(
        parse_head(input, limits),
        Err(expected.clone()),
        "{:?}",
        String::from_utf8_lossy(input)
    );
    if fed == Ok(Progress::NeedMore) {
        assert_eq!(
            parser.parse(input, limits),
            Err(expected),
            "fed byte by byte"
        );
    }
}

// Valid requests.

#[test]
fn netcat_get_with_bare_lf_is_accepted() {
    assert_parses_to(
        b"GET / HTTP/1.1\nHost: localhost\n\n",
        head(Method::Get, "/", root(), Version::Http11),
    );
}

#[test]
fn curl_get_with_credentials_is_accepted() {
    assert_parses_to(
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1:12345\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\
          Authorization:  Basic d29yZHdpcmU6d29yZHdpcmU= \t\r\n\r\n",
        RequestHead {
            authorization: Some(b"Basic d29yZHdpcmU6d29yZHdpcmU="[..].into()),
            ..head(Method::Get, "/", root(), Version::Http11)
        },
    );
}

#[test]
fn post_with_content_length_and_expect_is_accepted() {
    assert_parses_to(
        b"POST /?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-Continue\r\n\
          Connection: keep-alive\r\n\r\n",
        RequestHead {
            framing: Framing::Length(5),
            expect_continue: true,
            connection_keep_alive: true,
            ..head(Method::Post, "/?x=1", root(), Version::Http11)
        },
    );
}

#[test]
fn chunked_post_is_accepted() {
    assert_parses_to(
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:  Chunked \r\n\r\n",
        RequestHead {
            framing: Framing::Chunked,
            ..head(Method::Post, "/", root(), Version::Http11)
        },
    );
}

#[test]
fn absolute_form_without_path_means_root() {
    assert_parses_to(
        b"GET HTTP://example.com:8080?q=1 HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
        head(
            Method::Get,
            "HTTP://example.com:8080?q=1",
            root(),
            Version::Http11,
        ),
    );
}

#[test]
fn absolute_form_keeps_its_path_without_query() {
    assert_parses_to(
        b"PUT https://h/a/b?c HTTP/1.1\r\nHost: h\r\n\r\n",
        head(
            Method::Put,
            "https://h/a/b?c",
            RequestTarget::Path("/a/b".into()),
            Version::Http11,
        ),
    );
}

#[test]
fn options_asterisk_is_accepted() {
    assert_parses_to(
        b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
        head(
            Method::Options,
            "*",
            RequestTarget::Asterisk,
            Version::Http11,
        ),
    );
}

#[test]
fn http10_without_host_is_accepted() {
    assert_parses_to(
        b"GET / HTTP/1.0\r\n\r\n",
        head(Method::Get, "/", root(), Version::Http10),
    );
}

#[test]
fn http10_keep_alive_is_reported() {
    assert_parses_to(
        b"HEAD / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
        RequestHead {
            connection_keep_alive: true,
            ..head(Method::Head, "/", root(), Version::Http10)
        },
    );
}

#[test]
fn connection_list_sets_both_flags() {
    assert_parses_to(
        b"DELETE / HTTP/1.1\r\nHost: a\r\nConnection: Keep-Alive,, upgrade , CLOSE\r\n\r\n",
        RequestHead {
            connection_close: true,
            connection_keep_alive: true,
            ..head(Method::Delete, "/", root(), Version::Http11)
        },
    );
}

#[test]
fn empty_lines_before_request_line_are_skipped_and_consumed() {
    assert_parses_to(
        b"\r\n\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
        head(Method::Get, "/", root(), Version::Http11),
    );
}

#[test]
fn unknown_and_lowercase_methods_are_other() {
    assert_parses_to(
        b"PATCH / HTTP/1.1\r\nHost: a\r\n\r\n",
        head(
            Method::Other("PATCH".to_owned()),
            "/",
            root(),
            Version::Http11,
        ),
    );
    assert_parses_to(
        b"get / HTTP/1.1\r\nHost: a\r\n\r\n",
        head(
            Method::Other("get".to_owned()),
            "/",
            root(),
            Version::Http11,
        ),
    );
}

#[test]
fn authority_form_is_classified() {
    assert_parses_to(
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
        head(
            Method::Other("CONNECT".to_owned()),
            "example.com:443",
            RequestTarget::Authority,
            Version::Http11,
        ),
    );
}

#[test]
fn repeated_identical_content_lengths_are_one_value() {
    assert_parses_to(
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 005\r\ncontent-length: 5\r\n\r\n",
        RequestHead {
            framing: Framing::Length(5),
            ..head(Method::Post, "/", root(), Version::Http11)
        },
    );
}

#[test]
fn zero_content_length_is_a_length() {
    assert_parses_to(
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 000\r\n\r\n",
        RequestHead {
            framing: Framing::Length(0),
            ..head(Method::Post, "/", root(), Version::Http11)
        },
    );
}

#[test]
fn content_length_equal_to_max_body_is_accepted() {
    assert_parses_to(
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 8192\r\n\r\n",
        RequestHead {
            framing: Framing::Length(8192),
            ..head(Method::Post, "/", root(), Version::Http11)
        },
    );
}

#[test]
fn case_insensitive_names_and_obs_text_are_accepted() {
    assert_parses_to(
        b"GET / HTTP/1.1\r\nhOsT: a\r\nX-Obs: caf\xc3\xa9\t\x80\r\n\r\n",
        head(Method::Get, "/", root(), Version::Http11),
    );
}

#[test]
fn other_expectations_are_ignored() {
    assert_parses_to(
        b"POST / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\n",
        RequestHead {
            framing: Framing::Length(1),
            ..head(Method::Post, "/", root(), Version::Http11)
        },
    );
}

#[test]
fn consumed_stops_at_the_end_of_the_head() {
    let input = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello";
    let Ok(Progress::Done { consumed, .. }) = parse(input) else {
        panic!("head should be complete");
    };
    assert_eq!(&input[consumed..], b"hello");
}

#[test]
fn pipelined_requests_parse_one_after_another() {
    let input: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n\
        POST / HTTP/1.1\nHost: a\nContent-Length: 3\n\nabc\
        DELETE / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    let Ok(Progress::Done { value, consumed }) = parse(input) else {
        panic!("first head should be complete");
    };
    assert_eq!(value, head(Method::Get, "/", root(), Version::Http11));
    let input = &input[consumed..];
    let Ok(Progress::Done { value, consumed }) = parse(input) else {
        panic!("second head should be complete");
    };
    assert_eq!(value.method, Method::Post);
    assert_eq!(value.framing, Framing::Length(3));
    let input = &input[consumed + 3..];
    let Ok(Progress::Done { value, consumed }) = parse(input) else {
        panic!("third head should be complete");
    };
    assert_eq!(value.method, Method::Delete);
    assert!(value.connection_close);
    assert_eq!(consumed, input.len());
    assert_eq!(parse(&input[consumed..]), Ok(Progress::NeedMore));
}

// Limits.

fn small_limits() -> HeadLimits {
    HeadLimits {
        max_line: 16,
        max_header_bytes: 20,
        max_body: 100,
    }
}

#[test]
fn request_line_of_exactly_max_line_is_accepted() {
    // "GET /12 HTTP/1.1" is 16 bytes.
    assert_parses_with(
        b"GET /12 HTTP/1.1\r\nHost: a\r\n\r\n",
        &small_limits(),
        head(
            Method::Get,
            "/12",
            RequestTarget::Path("/12".into()),
            Version::Http11,
        ),
    );
}

#[test]
fn request_line_longer_than_max_line_is_414() {
    assert_rejects_with(
        b"GET /123 HTTP/1.1\r\nHost: a\r\n\r\n",
        &small_limits(),
        ParseError::RequestLineTooLong,
        414,
    );
}

#[test]
fn long_request_line_is_414_before_its_end_arrives() {
    let mut input = b"GET /".to_vec();
    input.resize(8193, b'a');
    assert_eq!(parse(&input[..8192]), Ok(Progress::NeedMore));
    assert_eq!(parse(&input), Err(ParseError::RequestLineTooLong));
}

#[test]
fn endless_empty_lines_before_request_line_are_414() {
    assert_eq!(parse(&b"\r\n".repeat(4096)), Ok(Progress::NeedMore));
    assert_eq!(
        parse(&b"\r\n".repeat(4097)),
        Err(ParseError::RequestLineTooLong)
    );
    assert_eq!(
        parse(&b"\n".repeat(8193)),
        Err(ParseError::RequestLineTooLong)
    );
}

#[test]
fn field_section_of_exactly_max_header_bytes_is_accepted() {
    // "Host: a\r\n" (9) + "X-Y: 12345\r\n" (12) + "\r\n" (2) = 23 bytes.
    let limits = HeadLimits {
        max_header_bytes: 23,
        ..LIMITS
    };
    assert_parses_with(
        b"GET / HTTP/1.1\r\nHost: a\r\nX-Y: 12345\r\n\r\n",
        &limits,
        head(Method::Get, "/", root(), Version::Http11),
    );
}

#[test]
fn field_section_larger_than_max_header_bytes_is_431() {
    assert_rejects_with(
        b"GET / HTTP/1.1\r\nHost: a\r\nX-Y: 123456\r\n\r\n",
        &HeadLimits {
            max_header_bytes: 23,
            ..LIMITS
        },
        ParseError::HeaderSectionTooLarge,
        431,
    );
}

#[test]
fn large_field_section_is_431_before_it_ends() {
    let mut input = b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: ".to_vec();
    input.resize(16 + 16385, b'a');
    assert_eq!(parse(&input[..input.len() - 1]), Ok(Progress::NeedMore));
    assert_eq!(parse(&input), Err(ParseError::HeaderSectionTooLarge));
}

// Rejections.

#[test]
fn malformed_request_lines_are_400() {
    for input in [
        &b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n"[..],
        b"GET /\r\nHost: a\r\n\r\n",
        b"GET / HTTP/1.1 \r\nHost: a\r\n\r\n",
        b"GET / \r\nHost: a\r\n\r\n",
        b" GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET\r\n\r\n",
    ] {
        assert_rejects(input, ParseError::MalformedRequestLine, 400);
    }
}

#[test]
fn a_tls_client_hello_is_400_at_its_first_byte() {
    // What `curl https://` sends first: a handshake record, then a ClientHello; no line end.
    let hello = b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\x00\x01\x02\x03";
    assert_rejects(hello, ParseError::TlsHandshake, 400);
    assert_eq!(
        parse(&hello[..1]),
        Err(ParseError::TlsHandshake),
        "the first byte decides"
    );
    // Also after the empty lines RFC 9112 §2.2 lets a client send first, and with a line end.
    assert_rejects(b"\r\n\n\x16\x03\x01\r\n\r\n", ParseError::TlsHandshake, 400);
    // The fault a byte-at-a-time reader meets first wins: the limit, then the record, then
    // a bare CR after it.
    let tight = HeadLimits {
        max_line: 2,
        ..LIMITS
    };
    assert_rejects_with(b"\r\n\r\n\x16", &tight, ParseError::RequestLineTooLong, 414);
    assert_rejects(b"\x16\rX\r\n\r\n", ParseError::TlsHandshake, 400);
    // Only at the start of the request-line: elsewhere 0x16 is the fault it always was.
    assert_rejects(
        b"G\x16T / HTTP/1.1\r\nHost: a\r\n\r\n",
        ParseError::InvalidMethod,
        400,
    );
}

#[test]
fn method_that_is_not_a_token_is_400() {
    assert_rejects(
        b"GE(T / HTTP/1.1\r\nHost: a\r\n\r\n",
        ParseError::InvalidMethod,
        400,
    );
    assert_rejects(
        b"G\x00T / HTTP/1.1\r\nHost: a\r\n\r\n",
        ParseError::InvalidMethod,
        400,
    );
}

#[test]
fn targets_in_no_known_form_are_400() {
    for input in [
        &b"GET foo HTTP/1.1\r\nHost: a\r\n\r\n"[..],
        b"GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET http://user@h/ HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET ftp://h/ HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET h: HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET :80 HTTP/1.1\r\nHost: a\r\n\r\n",
    ] {
        assert_rejects(input, ParseError::InvalidTarget, 400);
    }
}

#[test]
fn malformed_versions_are_400() {
    for input in [
        &b"GET / http/1.1\r\nHost: a\r\n\r\n"[..],
        b"GET / HTTP/1.10\r\nHost: a\r\n\r\n",
        b"GET / HTTP/1\r\nHost: a\r\n\r\n",
        b"GET / HTTP/a.b\r\nHost: a\r\n\r\n",
        b"GET / HTTP/11\r\nHost: a\r\n\r\n",
    ] {
        assert_rejects(input, ParseError::MalformedVersion, 400);
    }
}

#[test]
fn other_well_formed_versions_are_505() {
    for input in [
        &b"GET / HTTP/2.0\r\nHost: a\r\n\r\n"[..],
        b"GET / HTTP/0.9\r\n\r\n",
        b"GET / HTTP/1.2\r\nHost: a\r\n\r\n",
    ] {
        assert_rejects(input, ParseError::UnsupportedVersion, 505);
    }
}

#[test]
fn field_names_that_are_not_tokens_are_400() {
    for input in [
        &b"GET / HTTP/1.1\r\nHost: a\r\nFo@o: x\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nTwo Words: x\r\n\r\n",
    ] {
        assert_rejects(input, ParseError::InvalidFieldName, 400);
    }
}

#[test]
fn whitespace_before_colon_is_400() {
    assert_rejects(
        b"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
        ParseError::WhitespaceBeforeColon,
        400,
    );
    assert_rejects(
        b"GET / HTTP/1.1\r\nHost: a\r\nX-A\t: 1\r\n\r\n",
        ParseError::WhitespaceBeforeColon,
        400,
    );
}

#[test]
fn obs_fold_is_400() {
    assert_rejects(
        b"GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n  continued\r\n\r\n",
        ParseError::ObsoleteLineFolding,
        400,
    );
    assert_rejects(
        b"GET / HTTP/1.1\r\n\tHost: a\r\n\r\n",
        ParseError::ObsoleteLineFolding,
        400,
    );
}

#[test]
fn control_characters_in_values_are_400() {
    for input in [
        &b"GET / HTTP/1.1\r\nHost: a\r\nX-A: a\x00b\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: a\r\nX-A: a\x7fb\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX-A: \x01\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\x0b\r\n\r\n",
    ] {
        assert_rejects(input, ParseError::InvalidFieldValue, 400);
    }
}

#[test]
fn bare_cr_is_400() {
    for input in [
        &b"GET / HTTP/1.1\rHost: a\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: a\r\nX-A: a\rb\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\r\n",
        b"\rGET / HTTP/1.1\r\nHost: a\r\n\r\n",
    ] {
        assert_rejects(input, ParseError::BareCr, 400);
    }
}

#[test]
fn bare_cr_is_400_before_the_line_ends() {
    assert_eq!(parse(b"GET / HTTP/1.1\r"), Ok(Progress::NeedMore));
    assert_eq!(parse(b"GET / HTTP/1.1\rH"), Err(ParseError::BareCr));
}

#[test]
fn a_bare_cr_past_a_limit_gets_the_limit_status_however_the_bytes_arrive() {
    // Found by arbitrary_bytes_split_anywhere_agree_with_the_one_shot_result: whole,
    // these gave 400 (bare CR) while a byte-at-a-time peer got 431 or 414.
    let limits = HeadLimits {
        max_line: 15,
        max_header_bytes: 9,
        ..LIMITS
    };
    assert_rejects_with(
        b"POST / HTTP/1.1\r\nHost: a\r\n:::\r:",
        &limits,
        ParseError::HeaderSectionTooLarge,
        431,
    );
    assert_rejects_with(
        b"GET /aaaaaaaaaaaaaaaa\rx",
        &limits,
        ParseError::RequestLineTooLong,
        414,
    );
    // A bare CR that comes before the limit is reached is still the bare CR.
    assert_rejects_with(
        b"GET /\rxxxxxxxxxxxxxxxxxxxx\r\n",
        &limits,
        ParseError::BareCr,
        400,
    );
}

#[test]
fn http11_without_host_is_400() {
    assert_rejects(
        b"GET / HTTP/1.1\r\nAccept: */*\r\n\r\n",
        ParseError::MissingHost,
        400,
    );
}

#[test]
fn two_host_lines_are_400_even_in_http10() {
    assert_rejects(
        b"GET / HTTP/1.1\r\nHost: a\r\nHOST: a\r\n\r\n",
        ParseError::DuplicateHost,
        400,
    );
    assert_rejects(
        b"GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n",
        ParseError::DuplicateHost,
        400,
    );
}

#[test]
fn host_values_in_uri_host_port_form_are_accepted() {
    for value in [
        &b"example.com"[..],
        b"127.0.0.1:12345",
        b"[::1]:8080",
        b"[::1]",
        b"ex%41mple:",
        b"a-b_c~d!$&'()*+,;=",
    ] {
        let input = [&b"GET / HTTP/1.1\r\nHost: "[..], value, b"\r\n\r\n"].concat();
        assert_parses_to(&input, head(Method::Get, "/", root(), Version::Http11));
    }
}

#[test]
fn host_with_an_invalid_value_is_400() {
    // RFC 9112 §3.2: "a Host header field with an invalid field value" is a 400.
    for value in [
        &b"a b"[..],
        b"",
        b":80",
        b":",
        b"a/b",
        b"user@host",
        b"host:80x",
        b"host:8:0x",
        b"[::1",
        b"[::1]x",
        b"[]",
        b"ex%4",
        b"ex%zz",
        b"\"quoted\"",
        b"caf\xc3\xa9",
    ] {
        let input = [&b"GET / HTTP/1.1\r\nHost: "[..], value, b"\r\n\r\n"].concat();
        assert_rejects(&input, ParseError::InvalidHost, 400);
    }
}

#[test]
fn absolute_form_authority_follows_the_host_rules() {
    // Found by an outside audit (issue 13): these were served; Host was valid.
    for target in [
        &b"http://:80/"[..],
        b"http://h:80x/",
        b"http://[::1/",
        b"http://a%/",
        b"http://a\"<>/",
        b"http://user@h/",
        b"http:///",
        b"https://?q",
    ] {
        let input = [&b"POST "[..], target, b" HTTP/1.1\r\nHost: h\r\n\r\n"].concat();
        assert_rejects(&input, ParseError::InvalidTarget, 400);
    }
    for (target, path) in [
        ("http://[::1]:8080/a", "/a"),
        ("http://h:/", "/"),
        ("http://ex%41mple", "/"),
    ] {
        let input = format!("GET {target} HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_parses_to(
            input.as_bytes(),
            head(
                Method::Get,
                target,
                RequestTarget::Path(path.into()),
                Version::Http11,
            ),
        );
    }
}

#[test]
fn two_authorization_lines_are_400() {
    assert_rejects(
        b"GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Basic a\r\nAuthorization: Basic b\r\n\r\n",
        ParseError::DuplicateAuthorization,
        400,
    );
}

#[test]
fn malformed_content_lengths_are_400() {
    for value in [
        &b""[..],
        b"+5",
        b"-1",
        b"5 5",
        b"0x5",
        b"5,",
        b",5",
        b"five",
        b"5\t;",
    ] {
        let input = [
            &b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: "[..],
            value,
            b"\r\n\r\n",
        ]
        .concat();
        assert_rejects(&input, ParseError::InvalidContentLength, 400);
    }
}

#[test]
fn differing_content_lengths_are_400() {
    assert_rejects(
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n",
        ParseError::ConflictingContentLength,
        400,
    );
    assert_rejects(
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 50\r\n\r\n",
        ParseError::ConflictingContentLength,
        400,
    );
}

#[test]
fn transfer_encoding_with_content_length_is_400() {
    assert_rejects(
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        ParseError::ConflictingLength,
        400,
    );
    assert_rejects(
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\nHost: a\r\n\r\n",
        ParseError::ConflictingLength,
        400,
    );
}

#[test]
fn transfer_encodings_other_than_chunked_are_400() {
    for lines in [
        &b"Transfer-Encoding: gzip\r\n"[..],
        b"Transfer-Encoding: chunked, chunked\r\n",
        b"Transfer-Encoding: gzip, chunked\r\n",
        b"Transfer-Encoding: chunked, gzip\r\n",
        b"Transfer-Encoding: chunked;x=1\r\n",
        b"Transfer-Encoding:\r\n",
        b"Transfer-Encoding: chunked,\r\n",
        b"Transfer-Encoding: identity\r\n",
        b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
    ] {
        let input = [&b"POST / HTTP/1.1\r\nHost: a\r\n"[..], lines, b"\r\n"].concat();
        assert_rejects(&input, ParseError::UnsupportedTransferEncoding, 400);
    }
}

#[test]
fn transfer_encoding_in_http10_is_400() {
    assert_rejects(
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
        ParseError::TransferEncodingInHttp10,
        400,
    );
}

#[test]
fn content_length_over_max_body_is_413() {
    for value in [
        &b"8193"[..],
        b"18446744073709551615",
        b"18446744073709551616",
        b"99999999999999999999999999999",
    ] {
        let input = [
            &b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: "[..],
            value,
            b"\r\n\r\n",
        ]
        .concat();
        assert_rejects(&input, ParseError::BodyTooLarge, 413);
    }
}

// Work.

/// Feeds `input` to one `HeadParser` `step` bytes at a time; returns the
/// outcome and the bytes the parser looked at.
fn trickle(input: &[u8], step: usize) -> (Result<Progress<RequestHead>, ParseError>, usize) {
    let mut parser = HeadParser::counting();
    let mut end = 0;
    loop {
        end = (end + step).min(input.len());
        let parsed = parser.parse(&input[..end], &LIMITS);
        if parsed != Ok(Progress::NeedMore) || end == input.len() {
            return (parsed, parser.examined());
        }
    }
}

/// A head of about 15 KiB: 100 field lines, one of them 4 KiB long.
fn large_head() -> Vec<u8> {
    let mut input = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
    for i in 0..100 {
        input.extend_from_slice(format!("X-Field-{i}: {}\r\n", "v".repeat(100)).as_bytes());
    }
    input.extend_from_slice(format!("X-Long: {}\r\n\r\n", "w".repeat(4096)).as_bytes());
    input
}

/// Heads of about 8 KiB shaped against each way of looking again: many short
/// lines (a parse started afresh on each read), one long line (an unfinished
/// line scanned again from its start), a long request-line, empty lines first.
fn shaped_heads() -> Vec<(&'static str, Vec<u8>)> {
    let short = (0..800).map(|i| format!("X{i}: v\r\n")).collect::<String>();
    let long_target = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "p".repeat(8000));
    vec![
        ("large", large_head()),
        (
            "short lines",
            format!("GET / HTTP/1.1\r\nHost: a\r\n{short}\r\n").into_bytes(),
        ),
        (
            "one long line",
            format!(
                "GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n",
                "w".repeat(8000)
            )
            .into_bytes(),
        ),
        ("long request-line", long_target.into_bytes()),
        (
            "empty lines first",
            format!("{}GET / HTTP/1.1\r\nHost: a\r\n\r\n", "\r\n".repeat(4000)).into_bytes(),
        ),
    ]
}

#[test]
fn a_trickled_head_is_looked_at_a_bounded_number_of_times_per_byte() {
    // Each byte is looked at at least once (so the count misses no scan) and at
    // most three times, however the head is split. A parser that looks again
    // from the head's start, or from an unfinished line's start, on every read
    // looks at about n * n / 2 bytes of one head fed a byte at a time.
    for (shape, input) in shaped_heads() {
        let n = input.len();
        let (whole, once) = trickle(&input, n);
        assert!(
            matches!(whole, Ok(Progress::Done { consumed, .. }) if consumed == n),
            "{shape}: {whole:?}"
        );
        assert!(
            (n..=n + 2).contains(&once),
            "{shape}: one call looked at {once} of {n} bytes"
        );
        for step in [1, 2, 7, 100, 1000] {
            let (parsed, examined) = trickle(&input, step);
            assert_eq!(parsed, whole, "{shape}: fed {step} bytes at a time");
            assert!(
                (n..=3 * n).contains(&examined),
                "{shape}: fed {step} bytes at a time, it looked at {examined} bytes of a {n}-byte head"
            );
        }
    }
}

#[test]
fn the_default_parser_keeps_no_count_and_agrees_with_the_counting_one() {
    assert!(std::mem::size_of::<HeadParser>() < std::mem::size_of::<HeadParser<Examined>>());
    for (shape, input) in shaped_heads() {
        let mut plain = HeadParser::default();
        let mut counting = HeadParser::counting();
        for end in (0..=input.len()).step_by(97).chain([input.len()]) {
            assert_eq!(
                plain.parse(&input[..end], &LIMITS),
                counting.parse(&input[..end], &LIMITS),
                "{shape}: {end} bytes"
            );
        }
    }
}

// Empty lines the caller drops.

/// Feeds `input` a byte at a time, dropping what `take_empty_lines` gives back
/// after each `NeedMore`, as the connection does while idle; returns the result
/// with `consumed` counted from the start of `input`, and the bytes dropped.
fn fed_dropping_empty_lines(
    input: &[u8],
    limits: &HeadLimits,
) -> (Result<Progress<RequestHead>, ParseError>, usize) {
    let mut parser = HeadParser::default();
    let mut dropped = 0;
    let mut taking = true;
    for end in 0..=input.len() {
        match parser.parse(&input[dropped..end], limits) {
            Ok(Progress::NeedMore) if end < input.len() => {
                if taking {
                    match parser.take_empty_lines() {
                        Some(empty) => dropped += empty,
                        None => taking = false,
                    }
                }
            }
            Ok(Progress::Done { value, consumed }) => {
                let consumed = consumed + dropped;
                return (Ok(Progress::Done { value, consumed }), dropped);
            }
            other => return (other, dropped),
        }
    }
    unreachable!("the last prefix returns")
}

#[test]
fn empty_lines_the_caller_drops_still_count_toward_max_line() {
    let blank = b"\r\n\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
    let (parsed, dropped) = fed_dropping_empty_lines(blank, &LIMITS);
    assert_eq!((parsed, dropped), (parse(blank), 5));
    // 4096 CRLFs are max_line bytes: one more empty line is too many.
    let many = [
        &b"\r\n".repeat(4097)[..],
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    ]
    .concat();
    let (parsed, dropped) = fed_dropping_empty_lines(&many, &LIMITS);
    assert_eq!(parsed, Err(ParseError::RequestLineTooLong));
    assert_eq!(dropped, 8192);
    let limits = HeadLimits {
        max_line: 20,
        ..LIMITS
    };
    let line = b"\r\n\r\nGET /abcdefgh HTTP/1.1\r\nHost: a\r\n\r\n";
    assert_eq!(
        fed_dropping_empty_lines(line, &limits).0,
        Err(ParseError::RequestLineTooLong)
    );
    assert_eq!(
        parse_head(line, &limits),
        Err(ParseError::RequestLineTooLong)
    );
}

#[test]
fn take_empty_lines_keeps_a_final_cr_and_stops_at_a_request_line() {
    let mut parser = HeadParser::default();
    assert_eq!(parser.parse(b"\r\n\r", &LIMITS), Ok(Progress::NeedMore));
    assert_eq!(parser.take_empty_lines(), Some(2));
    assert_eq!(parser.parse(b"\r", &LIMITS), Ok(Progress::NeedMore));
    assert_eq!(parser.take_empty_lines(), Some(0));
    assert_eq!(parser.parse(b"\r\nG", &LIMITS), Ok(Progress::NeedMore));
    assert_eq!(parser.take_empty_lines(), None);
    assert_eq!(
        parser.parse(b"\r\nGET / HTTP/1.1\r\nHo", &LIMITS),
        Ok(Progress::NeedMore)
    );
    assert_eq!(parser.take_empty_lines(), None);
    let mut parser = HeadParser::default();
    assert_eq!(parser.parse(b"\r\rX", &LIMITS), Err(ParseError::BareCr));
}

// Properties.

/// A valid request, and what parsing it must give.
fn valid_request() -> impl Strategy<Value = (Vec<u8>, RequestHead)> {
    let method = prop_oneof![
        Just(Method::Get),
        Just(Method::Head),
        Just(Method::Post),
        Just(Method::Put),
        Just(Method::Delete),
        Just(Method::Options),
        "[A-Z]{1,8}".prop_map(Method::Other),
    ];
    (
        method,
        "/[A-Za-z0-9._~-]{0,12}",
        proptest::option::of("[a-z0-9=&]{0,8}"),
        any::<bool>(),
        0u8..3,
        0u64..=8192,
        any::<(bool, bool, bool)>(),
        proptest::collection::vec(("X-[a-z]{1,8}", "[ -~]{0,20}"), 0..4),
        proptest::collection::vec(any::<bool>(), 12),
    )
        .prop_map(
            |(method, path, query, http11, body, len, flags, extra, crlf)| {
                let method = match method {
                    // Generated tokens may collide with a known method's spelling.
                    Method::Other(name) => parse_method(name.as_bytes()).unwrap_or(Method::Get),
                    known => known,
                };
                let method_text = method.as_str();
                let raw_target = match &query {
                    Some(q) => format!("{path}?{q}"),
                    None => path.clone(),
                };
                let version = if http11 {
                    Version::Http11
                } else {
                    Version::Http10
                };
                let mut lines = vec![format!(
                    "{method_text} {raw_target} HTTP/1.{}",
                    u8::from(http11)
                )];
                if http11 || flags.0 {
                    lines.push("Host: example".to_owned());
                }
                let framing = match body {
                    1 => {
                        lines.push(format!("Content-Length: {len}"));
                        Framing::Length(len)
                    }
                    2 if http11 => {
                        lines.push("Transfer-Encoding: chunked".to_owned());
                        Framing::Chunked
                    }
                    _ => Framing::None,
                };
                if flags.1 {
                    lines.push("Connection: close".to_owned());
                }
                let authorization = flags.2.then(|| {
                    lines.push("Authorization: Basic YTpi".to_owned());
                    b"Basic YTpi"[..].into()
                });
                for (name, value) in extra {
                    lines.push(format!("{name}:{value}"));
                }
                lines.push(String::new());
                let mut bytes = Vec::new();
                for (line, crlf) in lines.iter().zip(crlf.iter().cycle()) {
                    bytes.extend_from_slice(line.as_bytes());
                    bytes.extend_from_slice(if *crlf { b"\r\n" } else { b"\n" });
                }
                let expected = RequestHead {
                    method,
                    raw_target: raw_target.into(),
                    target: RequestTarget::Path(path.into()),
                    version,
                    framing,
                    connection_close: flags.1,
                    connection_keep_alive: false,
                    expect_continue: false,
                    authorization,
                };
                (bytes, expected)
            },
        )
}

proptest! {
    #[test]
    fn parse_head_never_panics_on_arbitrary_bytes(
        input in proptest::collection::vec(any::<u8>(), 0..600),
        max_line in 0usize..64,
        max_header_bytes in 0usize..128,
    ) {
        let _ = parse_head(&input, &LIMITS);
        let _ = parse_head(&input, &HeadLimits { max_line, max_header_bytes, max_body: 10 });
    }

    #[test]
    fn parse_head_never_panics_after_a_valid_request_line(
        input in proptest::collection::vec(
            prop_oneof![any::<u8>(), Just(b'\r'), Just(b'\n'), Just(b':'), Just(b' ')],
            0..400,
        ),
    ) {
        let input = [&b"POST / HTTP/1.1\r\nHost: a\r\n"[..], &input].concat();
        let _ = parse(&input);
    }

    /// Incremental = one-shot on any bytes, not only valid heads: a prefix of a
    /// rejected input needs more or is rejected the same way, a prefix of a
    /// complete head needs more, and a prefix of a valid prefix needs more.
    /// So the status a peer gets never depends on how TCP split its bytes.
    #[test]
    fn arbitrary_bytes_split_anywhere_agree_with_the_one_shot_result(
        start in prop_oneof![
            Just(&b""[..]),
            Just(&b"GET / HTTP/1.1\r\n"[..]),
            Just(&b"POST / HTTP/1.1\r\nHost: a\r\n"[..]),
        ],
        tail in proptest::collection::vec(
            prop_oneof![
                any::<u8>(), Just(b'\r'), Just(b'\n'), Just(b':'), Just(b' '), Just(b'a'),
            ],
            0..120,
        ),
        max_line in 4usize..40,
        max_header_bytes in 4usize..60,
    ) {
        let input = [start, &tail].concat();
        let limits = HeadLimits { max_line, max_header_bytes, max_body: 100 };
        let whole = parse_head(&input, &limits);
        // A parser fed the prefixes in turn gives what parse_head gives on each.
        let mut parser = HeadParser::default();
        for end in 0..=input.len() {
            let fed = parser.parse(&input[..end], &limits);
            prop_assert_eq!(&fed, &parse_head(&input[..end], &limits), "prefix of {} bytes", end);
            if fed != Ok(Progress::NeedMore) {
                break;
            }
        }
        // The same when the empty lines before a request-line are dropped as they come.
        let blank_first = [&b"\r\n\n"[..], &input].concat();
        prop_assert_eq!(
            fed_dropping_empty_lines(&blank_first, &limits).0,
            parse_head(&blank_first, &limits)
        );
        for end in 0..input.len() {
            let prefix = parse_head(&input[..end], &limits);
            match (&whole, &prefix) {
                (_, Ok(Progress::NeedMore)) => {}
                (Err(w), Err(p)) => prop_assert_eq!(w, p, "prefix of {} bytes", end),
                (Ok(Progress::Done { consumed, .. }), Ok(Progress::Done { .. })) if end >= *consumed => {
                    prop_assert_eq!(&prefix, &parse_head(&input[..*consumed], &limits));
                }
                _ => prop_assert!(false, "prefix of {} bytes gave {:?}, whole gave {:?}", end, prefix, whole),
            }
        }
    }

    #[test]
    fn valid_request_split_anywhere_gives_the_one_shot_result(
        (input, expected) in valid_request(),
        split in any::<proptest::sample::Index>(),
    ) {
        let one_shot = parse(&input);
        prop_assert_eq!(
            &one_shot,
            &Ok(Progress::Done { value: expected, consumed: input.len() })
        );
        let split = split.index(input.len());
        prop_assert_eq!(parse(&input[..split]), Ok(Progress::NeedMore));
        prop_assert_eq!(parse(&input), one_shot);
    }
}
