//! What the fuzz targets share: a store that counts writes, and a model of the
//! connection loop without sockets (parse a head, read its body, handle it, go
//! on with the next pipelined request, stop at the first rejection).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use wordwire::auth::Credentials;
use wordwire::handler::{Action, Handler};
use wordwire::http::{BodyDecoder, Framing, HeadLimits, Progress, parse_head};
use wordwire::store::{Change, Done, Snapshot, Store, StoreError};

/// Small limits, so that the fuzzer reaches them.
pub const LIMITS: HeadLimits = HeadLimits {
    max_line: 256,
    max_header_bytes: 512,
    max_body: 256,
};

/// A store that holds nothing and counts the writes it is asked for.
#[derive(Default)]
pub struct CountingStore {
    writes: AtomicUsize,
}

impl CountingStore {
    pub fn writes(&self) -> usize {
        self.writes.load(Ordering::SeqCst)
    }

    fn write(&self) {
        self.writes.fetch_add(1, Ordering::SeqCst);
    }
}

impl Store for CountingStore {
    fn snapshot(&self) -> Result<Snapshot, StoreError> {
        Ok(Arc::new(b"seed\n".to_vec()))
    }
    fn submit(&self, _: Change, done: Done) {
        self.write();
        done(Ok(1))
    }
}

/// What the model saw in `data`.
pub struct Model {
    /// Store writes made by the requests before the first rejection.
    pub writes: usize,
    /// Requests answered before the first rejection or the end of the data.
    pub requests: usize,
    /// Whether the parser or the chunked decoder rejected something.
    pub rejected: bool,
}

/// Runs every complete pipelined request in `data` through parser, decoder and
/// handler, stopping at the first rejection or unfinished request. Every step
/// must consume bytes, so this ends within `data.len()` iterations.
pub fn model(data: &[u8], auth_all: bool) -> Model {
    let store = Arc::new(CountingStore::default());
    let handler = Handler::new(store.clone(), Credentials::lab_default(), auth_all);
    let mut rest = data;
    let mut requests = 0;
    let mut rejected = false;
    loop {
        let (head, consumed) = match parse_head(rest, &LIMITS) {
            Ok(Progress::Done { value, consumed }) => (value, consumed),
            Ok(Progress::NeedMore) => break,
            Err(error) => {
                assert!(matches!(error.status().code(), 400 | 413 | 414 | 431 | 505));
                rejected = true;
                break;
            }
        };
        assert!(consumed > 0 && consumed <= rest.len(), "no progress");
        rest = &rest[consumed..];
        let body = match head.framing {
            Framing::None => Vec::new(),
            Framing::Length(n) => {
                let n = usize::try_from(n).expect("checked against max_body");
                let Some(body) = rest.get(..n) else { break };
                rest = &rest[n..];
                body.to_vec()
            }
            Framing::Chunked => {
                let mut body = Vec::new();
                match BodyDecoder::new(Framing::Chunked, &LIMITS).decode_into(rest, &mut body) {
                    Ok((used, true)) => {
                        rest = &rest[used..];
                        body
                    }
                    Ok(_) => break,
                    Err(error) => {
                        assert!(matches!(error.status().code(), 400 | 413 | 431));
                        rejected = true;
                        break;
                    }
                }
            }
        };
        let response = match handler.precheck(&head) {
            Some(response) => response,
            None => match handler.handle(&head, &body) {
                Action::Answer(response) => response,
                Action::Submit(change) => {
                    let (tx, rx) = std::sync::mpsc::channel();
                    handler.submit(change, Box::new(move |response| tx.send(response).unwrap()));
                    rx.try_recv().expect("CountingStore answers before submit returns")
                }
            },
        };
        assert!((100..600).contains(&response.status.code()));
        requests += 1;
        assert!(requests <= data.len(), "more requests than bytes");
    }
    Model {
        writes: store.writes(),
        requests,
        rejected,
    }
}
