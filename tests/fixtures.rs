//! Every fixture's response from the in-process server, as an `insta` snapshot.
//!
//! Each fixture in `fixtures/<area>/<nnn>-<behaviour>.http` is sent in one write to a
//! fresh server (store seeded from `<same name>.store` if present), the sending side is
//! then closed, and every response up to the close is rendered with every CR and LF
//! visible and the body length stated, so a snapshot diff cannot hide a lost CR.

use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use wordwire::client::{ReadError, ResponseReader};
use wordwire::replay::local::LocalServer;
use wordwire::replay::transcript::{body_line, normalise, render_expect, render_lines};

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

/// Renders every response to `request` until the server closes (or goes quiet for 3 s).
fn exchange(addr: std::net::SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).expect("the in-process server accepts");
    stream.write_all(request).expect("the request is sent");
    let _ = stream.shutdown(Shutdown::Write);
    stream
        .set_read_timeout(Some(Duration::from_secs(3)))
        .expect("a read timeout can be set");
    let mut reader = ResponseReader::new(stream);
    let mut out = String::new();
    for n in 1.. {
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
                out.push_str("! connection closed\n");
                break;
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

fn render_fixture(path: &Path) -> (String, String) {
    let request = std::fs::read(path).expect("fixture is readable");
    let store = std::fs::read(path.with_extension("store")).ok();
    let relative = path
        .strip_prefix(fixtures_dir())
        .expect("fixture is under fixtures/")
        .to_string_lossy()
        .replace('\\', "/");
    let server = LocalServer::start_with(
        &["--read-timeout".into(), "2".into()],
        store.as_deref(),
        None,
    )
    .expect("in-process server starts");
    let mut text = format!("fixture {relative} ({} bytes)\n", request.len());
    match &store {
        Some(bytes) => text.push_str(&format!("store ({} bytes)\n", bytes.len())),
        None => text.push_str("store empty\n"),
    }
    text.push_str(&exchange(server.addr(), &request));
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
    let rendered: Vec<(String, String)> = std::thread::scope(|scope| {
        let handles: Vec<_> = paths
            .chunks(paths.len().div_ceil(4))
            .map(|chunk| {
                scope.spawn(move || chunk.iter().map(|p| render_fixture(p)).collect::<Vec<_>>())
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("rendering a fixture does not panic"))
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
