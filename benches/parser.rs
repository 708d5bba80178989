//! Parser benchmark: wordwire's `parse_head` against `httparse::Request::parse`
//! on the five inputs of issue 6. Run with `cargo bench --bench parser`.
//!
//! Each input is parsed whole per iteration; the pipeline case parses all 16
//! heads in a loop, so its time divided by 16 is the time per request. httparse
//! only splits the head into slices, while `parse_head` also checks the target,
//! Host, framing and the fields wordwire uses: the comparison is what a server
//! built on each would pay to get a usable head.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use wordwire::http::{Framing, HeadLimits, Progress, parse_head};

const LIMITS: HeadLimits = HeadLimits {
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

/// Parses every head in `input` with wordwire, skipping Content-Length bodies; returns the count.
fn ours(input: &[u8]) -> usize {
    let mut pos = 0;
    let mut count = 0;
    while pos < input.len() {
        match parse_head(&input[pos..], &LIMITS) {
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
fn theirs(input: &[u8]) -> usize {
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

fn parsers(c: &mut Criterion) {
    let pipeline = pipeline();
    let inputs: [(&str, &[u8], u64); 5] = [
        ("netcat_get", NETCAT_GET, 1),
        ("curl_get", CURL_GET, 1),
        ("browser_get_15_headers", BROWSER_GET, 1),
        ("post_with_body", POST_WITH_BODY, 1),
        ("pipeline_16", &pipeline, 16),
    ];
    for (name, input, requests) in inputs {
        assert_eq!(ours(input), requests as usize);
        assert_eq!(theirs(input), requests as usize);
        let mut group = c.benchmark_group(name);
        // Elements = requests, so criterion's throughput line reads as requests/s.
        group.throughput(Throughput::Elements(requests));
        group.bench_function("wordwire", |b| b.iter(|| ours(black_box(input))));
        group.bench_function("httparse", |b| b.iter(|| theirs(black_box(input))));
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = parsers
}
criterion_main!(benches);
