//! Every fixture's response from the in-process server, as an `insta` snapshot.
//!
//! Each fixture in `fixtures/<area>/<nnn>-<behaviour>.http` is sent in one write to a
//! fresh server (store seeded from `<same name>.store` if present). Every response is
//! rendered with every CR and LF visible and the body length stated, so a snapshot diff
//! cannot hide a lost CR. The client then waits: if the server closes by itself, the
//! snapshot says `! server closed the connection` right there; if nothing arrives for
//! [`QUIET`], it says `! quiet for 1.5 s: the client half-closes`, closes its sending
//! side, and renders whatever follows up to the server's close. Last comes the store
//! file as the exchange left it (`unchanged`, or its bytes as `|` lines).

use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use wordwire::client::{ReadError, ResponseReader};
use wordwire::escape::render_lines;
use wordwire::grading::suite::transcript::{body_line, normalise, render_expect};
use wordwire::grading::target::local::LocalServer;

/// How long the client waits for more bytes before it decides the server is done
/// answering and will not close by itself. Well below the server's read timeout
/// ([`READ_TIMEOUT`]), so a request left incomplete is ended by the half-close, not
/// by a 504 that would race it.
const QUIET: Duration = Duration::from_millis(1500);
/// The server's `--read-timeout` for fixtures, in seconds.
const READ_TIMEOUT: &str = "10";
/// How long, after the half-close, the server has to finish and close.
const AFTER_HALF_CLOSE: Duration = Duration::from_secs(5);
/// More responses than any fixture asks for: a server that answers without end
/// (e.g. one that re-parses the same bad bytes) fails the snapshot instead of
/// hanging the test.
const MAX_RESPONSES: usize = 16;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("fixtures/ is readable") {
        let path = entry.expect("fixtures/ is readable").path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "http") {
            out.push(path);
        }
    }
}

/// Renders every response to `request`, where the server closed (by itself, or
/// after the client's half-close once it had been quiet for [`QUIET`]).
fn exchange(addr: std::net::SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).expect("the in-process server accepts");
    stream.write_all(request).expect("the request is sent");
    stream
        .set_read_timeout(Some(QUIET))
        .expect("a read timeout can be set");
    let half_close = stream.try_clone().expect("the socket can be cloned");
    let mut reader = ResponseReader::new(stream);
    let mut out = String::new();
    let mut half_closed = false;
    for n in 1.. {
        if n > MAX_RESPONSES {
            out.push_str(&format!(
                "! more than {MAX_RESPONSES} responses: the client stops reading\n"
            ));
            break;
        }
        match reader.read_response(n == 1 && request.starts_with(b"HEAD ")) {
            Ok(response) => {
                out.push_str(&format!("response {n}:\n"));
                let lines = render_expect(&normalise(&response.raw), Some(&body_line(&response)));
                for line in lines {
                    out.push_str(&line);
                    out.push('\n');
                }
            }
            Err(ReadError::Closed) => {
                out.push_str("! server closed the connection\n");
                break;
            }
            Err(ReadError::TimedOut { partial }) if partial.is_empty() && !half_closed => {
                out.push_str(&format!(
                    "! quiet for {} s: the client half-closes\n",
                    QUIET.as_secs_f32()
                ));
                let _ = half_close.shutdown(Shutdown::Write);
                half_close
                    .set_read_timeout(Some(AFTER_HALF_CLOSE))
                    .expect("a read timeout can be set");
                half_closed = true;
            }
            Err(e) => {
                for line in render_lines(&normalise(e.partial()), '<') {
                    out.push_str(&line);
                    out.push('\n');
                }
                out.push_str(&format!("! {e}\n"));
                break;
            }
        }
    }
    out
}

/// The store file after the exchange: `unchanged` if it holds `before`, else its bytes.
fn render_store_after(path: &Path, before: &[u8]) -> String {
    let after = std::fs::read(path).expect("the store file is readable");
    if after == before {
        return "store after: unchanged\n".to_owned();
    }
    let mut text = format!("store after ({} bytes):\n", after.len());
    for line in render_lines(&after, '|') {
        text.push_str(&line);
        text.push('\n');
    }
    text
}

fn render_fixture(path: &Path) -> (String, String) {
    let request = std::fs::read(path).expect("fixture is readable");
    let store = std::fs::read(path.with_extension("store")).ok();
    let relative = path
        .strip_prefix(fixtures_dir())
        .expect("fixture is under fixtures/")
        .to_string_lossy()
        .replace('\\', "/");
    let server = LocalServer::start_with(
        &["--read-timeout".into(), READ_TIMEOUT.into()],
        store.as_deref(),
        "the starting store",
        None,
    )
    .expect("in-process server starts");
    let mut text = format!("fixture {relative} ({} bytes)\n", request.len());
    match &store {
        Some(bytes) => text.push_str(&format!("store ({} bytes)\n", bytes.len())),
        None => text.push_str("store empty\n"),
    }
    text.push_str(&exchange(server.addr(), &request));
    text.push_str(&render_store_after(
        server.store_path(),
        store.as_deref().unwrap_or_default(),
    ));
    server.stop().expect("in-process server stops");
    let name = relative.trim_end_matches(".http").replace('/', "-");
    (name, text)
}

#[test]
fn every_fixture_response_matches_its_snapshot() {
    let mut paths = Vec::new();
    collect(&fixtures_dir(), &mut paths);
    paths.sort();
    assert!(!paths.is_empty(), "no fixtures found");
    // All at once: most fixtures spend their time waiting out QUIET.
    let rendered: Vec<(String, String)> = std::thread::scope(|scope| {
        let handles: Vec<_> = paths
            .iter()
            .map(|path| scope.spawn(move || render_fixture(path)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("rendering a fixture does not panic"))
            .collect()
    });
    for (name, text) in rendered {
        insta::assert_snapshot!(name, text);
    }
}

/// insta folds CRLF into LF and trims trailing whitespace before comparing; the rendering
/// must still tell a CRLF response from a bare-LF one, or snapshots would have no teeth.
#[test]
fn bare_lf_response_renders_differently_from_crlf() {
    let crlf = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n";
    let bare = b"HTTP/1.1 200 OK\nContent-Length: 3\n\nok\n";
    let fold = |bytes: &[u8]| {
        let text = render_lines(bytes, '<').join("\n");
        text.replace("\r\n", "\n")
            .lines()
            .map(str::trim_end)
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_ne!(fold(crlf), fold(bare));
}
