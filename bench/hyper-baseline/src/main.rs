//! The hyper 1.x + tokio baseline for `bench/run.sh`: the wordwire store done the
//! way a good engineer would with hyper. GET and HEAD are served from a shared
//! in-memory snapshot on the runtime's workers (no blocking hop); POST appends one
//! word to the file (fsync'd with `--sync always`, on the blocking pool) and then to
//! the snapshot; Basic auth on GET with the lab pair `wordwire:wordwire`.
//! Statuses and bodies follow wordwire's contract for GET and POST.
//!
//! Usage: `hyper-baseline --addr 127.0.0.1:PORT --store FILE [--sync always|none]`

use std::convert::Infallible;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue, WWW_AUTHENTICATE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

const MAX_BODY: usize = 8192;

/// Snapshot bytes shared with in-flight responses without copying.
struct Snapshot(Arc<Vec<u8>>);

impl AsRef<[u8]> for Snapshot {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

struct Store {
    file: Mutex<File>,
    published: RwLock<Arc<Vec<u8>>>,
    sync: bool,
    expected_auth: Vec<u8>,
}

impl Store {
    fn append(&self, word: &[u8]) -> std::io::Result<()> {
        let mut line = Vec::with_capacity(word.len() + 1);
        line.extend_from_slice(word);
        line.push(b'\n');
        let mut file = self.file.lock().unwrap();
        file.write_all(&line)?;
        if self.sync {
            file.sync_data()?;
        }
        // Extends in place unless a response still holds the old snapshot.
        let mut published = self.published.write().unwrap();
        Arc::make_mut(&mut published).extend_from_slice(&line);
        Ok(())
    }
}

fn text(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(format!("{body}\n"))));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn is_separator(b: &u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn valid_word(word: &[u8]) -> bool {
    (1..=64).contains(&word.len()) && word.iter().all(u8::is_ascii_alphanumeric)
}

fn authorized(store: &Store, request: &Request<Incoming>) -> bool {
    request
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .is_some_and(|value| value.as_bytes() == store.expected_auth.as_slice())
}

async fn serve(
    store: Arc<Store>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if request.uri().path() != "/" {
        return Ok(text(
            StatusCode::NOT_FOUND,
            "not found: the only resource is /",
        ));
    }
    match *request.method() {
        Method::GET | Method::HEAD => {
            if !authorized(&store, &request) {
                let mut response = text(StatusCode::UNAUTHORIZED, "valid credentials required");
                response.headers_mut().insert(
                    WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"wordwire\", charset=\"UTF-8\""),
                );
                return Ok(response);
            }
            let snapshot = Arc::clone(&store.published.read().unwrap());
            let mut response = Response::new(Full::new(Bytes::from_owner(Snapshot(snapshot))));
            response.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            Ok(response)
        }
        Method::POST => {
            let body = match Limited::new(request.into_body(), MAX_BODY).collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(_) => return Ok(text(StatusCode::PAYLOAD_TOO_LARGE, "body too large")),
            };
            let start = body
                .iter()
                .position(|b| !is_separator(b))
                .unwrap_or(body.len());
            let end = body
                .iter()
                .rposition(|b| !is_separator(b))
                .map_or(start, |i| i + 1);
            let word = body.slice(start..end);
            if !valid_word(&word) {
                return Ok(text(
                    StatusCode::BAD_REQUEST,
                    "word must be 1-64 ASCII letters or digits",
                ));
            }
            let result = if store.sync {
                // fsync blocks: keep it off the async workers.
                let store = Arc::clone(&store);
                let word = word.clone();
                tokio::task::spawn_blocking(move || store.append(&word))
                    .await
                    .unwrap_or_else(|_| Err(std::io::Error::other("append panicked")))
            } else {
                store.append(&word)
            };
            Ok(match result {
                Ok(()) => text(
                    StatusCode::OK,
                    &format!("added {}", String::from_utf8_lossy(&word)),
                ),
                Err(_) => text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the store could not be read or written",
                ),
            })
        }
        _ => {
            let mut response = text(StatusCode::NOT_IMPLEMENTED, "method not implemented");
            response.headers_mut().insert(
                hyper::header::ALLOW,
                HeaderValue::from_static("GET, HEAD, POST, PUT, DELETE, OPTIONS"),
            );
            Ok(response)
        }
    }
}

fn flag(args: &[String], name: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| default.to_owned())
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let addr: SocketAddr = flag(&args, "--addr", "127.0.0.1:12346")
        .parse()
        .expect("--addr must be HOST:PORT");
    let path = flag(&args, "--store", "words.txt");
    let sync = match flag(&args, "--sync", "always").as_str() {
        "always" => true,
        "none" => false,
        other => panic!("--sync must be always or none, not {other}"),
    };
    let bytes = std::fs::read(&path).unwrap_or_default();
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .expect("opening the store");
    let expected_auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("wordwire:wordwire")
    )
    .into_bytes();
    let store = Arc::new(Store {
        file: Mutex::new(file),
        published: RwLock::new(Arc::new(bytes)),
        sync,
        expected_auth,
    });
    let listener = TcpListener::bind(addr).await.expect("binding");
    println!("listening on {}", listener.local_addr().expect("bound"));
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            let service = service_fn(move |request| serve(Arc::clone(&store), request));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
