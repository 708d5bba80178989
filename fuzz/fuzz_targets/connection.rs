//! Fuzzes the whole connection state machine: one in-process server on
//! 127.0.0.1 (started once), each input sent on a fresh connection that is then
//! half-closed. Checks: no panic anywhere in the server (libFuzzer's panic hook
//! aborts on a panic in any thread), every byte back is a response, the server
//! still answers afterwards, and the server never writes to the store more often
//! than the socket-less model of the same bytes allows — so a rejected request,
//! or anything pipelined after it, never reaches the store.
#![no_main]

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use wordwire::auth::Credentials;
use wordwire::server::{Config, RunningServer, Server};
use wordwire_fuzz::{CountingStore, LIMITS, model};

struct Fixture {
    addr: SocketAddr,
    store: Arc<CountingStore>,
    _server: RunningServer,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut config = Config::new("127.0.0.1:0".parse().unwrap(), Credentials::lab_default());
        config.access_log = false;
        config.limits = LIMITS;
        config.read_timeout = Duration::from_millis(200);
        config.request_timeout = Duration::from_secs(1);
        config.idle_timeout = Duration::from_millis(200);
        let store = Arc::new(CountingStore::default());
        let server = Server::bind(config, store.clone()).expect("bind 127.0.0.1:0").spawn();
        Fixture { addr: server.addr(), store, _server: server }
    })
}

/// Sends `data`, half-closes, and returns everything the server sent before closing.
fn exchange(addr: SocketAddr, data: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).expect("connect to the fuzzed server");
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    stream.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    // The server may close before taking everything (after a rejection): not an error.
    let _ = stream.write_all(data);
    let _ = stream.shutdown(Shutdown::Write);
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    out
}

fuzz_target!(|data: &[u8]| {
    if data.len() > 4096 {
        return;
    }
    let fixture = fixture();
    let before = fixture.store.writes();
    let out = exchange(fixture.addr, data);
    let writes = fixture.store.writes() - before;
    let expected = model(data, false);
    assert!(
        writes <= expected.writes,
        "the server wrote {writes} times, the model allows {}",
        expected.writes
    );
    assert!(out.is_empty() || out.starts_with(b"HTTP/1.1 "), "{:?}", String::from_utf8_lossy(&out));
    if expected.requests > 0 || expected.rejected {
        assert!(!out.is_empty(), "no response to a complete or rejected request");
    }
    let alive = exchange(fixture.addr, b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(alive.starts_with(b"HTTP/1.1 204 "), "the server stopped answering");
});
