//! The five request inputs of issue 6 and the loops that parse them with wordwire
//! and with httparse, shared by `benches/parser.rs` (criterion, time) and
//! `bench/parser-instructions.rs` (callgrind, instructions).

use std::hint::black_box;

use wordwire::http::{Framing, HeadLimits, Progress, RequestHead, parse_head};

pub const LIMITS: HeadLimits = HeadLimits {
    max_line: 8192,
    max_header_bytes: 16384,
    max_body: 8192,
};

const NETCAT_GET: &[u8] = b"GET / HTTP/1.1\nHost: localhost\n\n";

const CURL_GET: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:12345\r\n\
Authorization: Basic d29yZHdpcmU6d29yZHdpcmU=\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n";

const BROWSER_GET: &[u8] = b"GET /?lang=en HTTP/1.1\r\n\
Host: 127.0.0.1:12345\r\n\
Connection: keep-alive\r\n\
Cache-Control: max-age=0\r\n\
sec-ch-ua: \"Chromium\";v=\"124\", \"Google Chrome\";v=\"124\", \"Not-A.Brand\";v=\"99\"\r\n\
sec-ch-ua-mobile: ?0\r\n\
sec-ch-ua-platform: \"Linux\"\r\n\
Upgrade-Insecure-Requests: 1\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\r\n\
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8\r\n\
Sec-Fetch-Site: none\r\n\
Sec-Fetch-Mode: navigate\r\n\
Sec-Fetch-User: ?1\r\n\
Sec-Fetch-Dest: document\r\n\
Accept-Encoding: gzip, deflate, br, zstd\r\n\
Accept-Language: en-US,en;q=0.9\r\n\r\n";

const POST_WITH_BODY: &[u8] = b"POST / HTTP/1.1\r\nHost: 127.0.0.1:12345\r\n\
User-Agent: curl/8.5.0\r\nAccept: */*\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello";

/// 16 keep-alive GETs sent back to back, as wrk's pipelining script would.
fn pipeline() -> Vec<u8> {
    CURL_GET.repeat(16)
}

/// The inputs by name, with how many requests each holds.
pub fn all() -> [(&'static str, Vec<u8>, usize); 5] {
    [
        ("netcat_get", NETCAT_GET.to_vec(), 1),
        ("curl_get", CURL_GET.to_vec(), 1),
        ("browser_get_15_headers", BROWSER_GET.to_vec(), 1),
        ("post_with_body", POST_WITH_BODY.to_vec(), 1),
        ("pipeline_16", pipeline(), 16),
    ]
}

/// Parses every head in `input` with wordwire, skipping Content-Length bodies; returns the count.
pub fn ours(input: &[u8]) -> usize {
    each_head(input, |rest| parse_head(rest, &LIMITS))
}

/// Hands `parse` the rest of `input` at each head, skipping Content-Length bodies (a
/// `parse_head` or a `HeadParser`, each head arriving whole); returns the count.
pub fn each_head<E: std::fmt::Debug>(
    input: &[u8],
    mut parse: impl FnMut(&[u8]) -> Result<Progress<RequestHead>, E>,
) -> usize {
    let mut pos = 0;
    let mut count = 0;
    while pos < input.len() {
        match parse(&input[pos..]) {
            Ok(Progress::Done { value, consumed }) => {
                pos += consumed;
                if let Framing::Length(n) = value.framing {
                    pos += n as usize;
                }
                count += 1;
                black_box(value);
            }
            other => panic!("benchmark input did not parse: {other:?}"),
        }
    }
    count
}

/// The same with httparse; the body length is read from the parsed headers.
pub fn theirs(input: &[u8]) -> usize {
    let mut pos = 0;
    let mut count = 0;
    while pos < input.len() {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(&input[pos..]) {
            Ok(httparse::Status::Complete(consumed)) => {
                pos += consumed;
                for header in request.headers.iter() {
                    if header.name.eq_ignore_ascii_case("content-length") {
                        let text = std::str::from_utf8(header.value).expect("ASCII digits");
                        pos += text.parse::<usize>().expect("a length");
                    }
                }
                count += 1;
                black_box(&request);
            }
            other => panic!("benchmark input did not parse: {other:?}"),
        }
    }
    count
}
