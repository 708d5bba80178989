//! Fuzzes the real connection state machine in memory (`server::memory`): the
//! input's bytes arrive whole, then again in pieces with `WouldBlock` between
//! and, by the first byte's choice, through short and blocked writes. Checks:
//! no panic and no stall anywhere in the machine; every byte out belongs to a
//! response; nothing is sent after a response that closes; the store is written
//! at most once per 200; every access-log line keeps its six quotes (client
//! bytes are escaped); and the pieces get the same answers and the same store
//! writes as the whole (incremental = one-shot for the whole connection).
//!
//! The first byte: bit 0 `--auth-all`, bits 1–3 the piece size (1–8), bit 4 the
//! peer half-closes at the end (else it falls silent: deadlines fire), bit 5
//! short and blocked writes.
#![no_main]

use std::sync::Arc;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use wordwire::auth::Credentials;
use wordwire::server::Config;
use wordwire::server::memory::{Exchange, Peer, Take, exchange};
use wordwire_fuzz::{CountingStore, LIMITS};

fn run(config: &Config, peer: &[Peer], takes: &[Take]) -> (Exchange, usize) {
    let store = Arc::new(CountingStore::default());
    let done = exchange(config, store.clone(), peer, takes);
    (done, store.writes())
}

/// The output without what may differ between the runs: `Date` lines, and
/// `100 Continue`, which is sent only when the body has not arrived with the head.
fn answers(done: &Exchange) -> Vec<u8> {
    let text = done.written.split_inclusive(|&b| b == b'\n');
    let lines = text.filter(|line| !line.starts_with(b"Date: "));
    let joined: Vec<u8> = lines.flatten().copied().collect();
    let interim = b"HTTP/1.1 100 Continue\r\n\r\n";
    let mut out = Vec::with_capacity(joined.len());
    let mut rest = &joined[..];
    while !rest.is_empty() {
        if rest.starts_with(interim) {
            rest = &rest[interim.len()..];
        } else {
            out.push(rest[0]);
            rest = &rest[1..];
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let [mode, input @ ..] = data else {
        return;
    };
    if input.len() > 4096 {
        return;
    }
    let mut config = Config::new(([127, 0, 0, 1], 0).into(), Credentials::lab_default());
    config.limits = LIMITS;
    config.auth_all = mode & 1 == 1;
    (config.read_timeout, config.request_timeout) = (Duration::from_secs(1), Duration::from_secs(3));
    let end = if mode & 0x10 != 0 { vec![Peer::HalfClose] } else { Vec::new() };
    let size = usize::from(mode >> 1 & 7) + 1;
    let takes: Vec<Take> = if mode & 0x20 != 0 {
        input.iter().map(|&b| Take::Up(usize::from(b % 5))).collect()
    } else {
        Vec::new()
    };

    let whole_peer = [vec![Peer::Send(input.to_vec())], end.clone()].concat();
    let (whole, whole_writes) = run(&config, &whole_peer, &[]);
    let mut pieces_peer: Vec<Peer> = input
        .chunks(size)
        .flat_map(|piece| [Peer::Send(piece.to_vec()), Peer::Pause])
        .collect();
    pieces_peer.extend(end);
    let (pieces, pieces_writes) = run(&config, &pieces_peer, &takes);

    for (done, writes) in [(&whole, whole_writes), (&pieces, pieces_writes)] {
        let text = &done.written;
        assert!(text.is_empty() || text.starts_with(b"HTTP/1.1 "), "{:?}", String::from_utf8_lossy(text));
        let oks = done.statuses().iter().filter(|&&s| s == 200).count();
        assert!(writes <= oks, "{writes} store writes, {oks} answers 200");
        // The access log (combined): one line per answer, and client bytes cannot add a
        // quote to it (only the request, referer and user agent are quoted).
        for line in done.log.lines() {
            assert_eq!(line.matches('"').count(), 6, "{line}");
        }
        if let Some(at) = text.windows(19).position(|w| w == b"Connection: close\r\n") {
            let after = &text[at..];
            assert!(!after.windows(9).any(|w| w == b"HTTP/1.1 "), "a response after the close");
        }
    }
    // With `Expect: 100-continue` a refusal reads and drops a body that came with
    // the head, and closes without reading one that did not: the runs may differ.
    if input.to_ascii_lowercase().windows(12).any(|w| w == b"100-continue") {
        return;
    }
    assert_eq!(
        String::from_utf8_lossy(&answers(&whole)),
        String::from_utf8_lossy(&answers(&pieces)),
        "in pieces of {size} the answers differ"
    );
    assert_eq!(whole_writes, pieces_writes, "in pieces of {size} the store writes differ");
});
