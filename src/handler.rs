//! What a well-formed request means: the contract's method table, in one place.
//!
//! Here: routing (`/` only), credentials, body interpretation, and mapping each
//! outcome (including store failures) to a status and one-line body.
//! Elsewhere: parsing (`http`), reading the body and writing the answer (`server::conn`),
//! the file (`store`, reached only through the `Store` trait).

use std::sync::Arc;

use crate::auth::Credentials;
use crate::http::response::Response;
use crate::http::{Method, RequestHead, RequestTarget, Status};
use crate::store::{Change, Deferred, Done, Store, StoreError};
use crate::word::{InvalidWord, Word};

/// Turns requests into responses against one store.
pub struct Handler {
    store: Arc<dyn Store>,
    credentials: Credentials,
    auth_all: bool,
}

/// What `Handler::handle` decided.
#[derive(Debug)]
pub enum Action {
    /// The answer, known now.
    Answer(Response),
    /// A write the store must decide: pass it to `Handler::submit`.
    Submit(Change),
}

/// Why a well-formed request was refused; the `Display` is the body on the wire.
#[derive(Debug, thiserror::Error)]
enum Refusal {
    /// A POST or DELETE body that is not one word. Example: `hello world`. 400.
    #[error(transparent)]
    InvalidWord(#[from] InvalidWord),
    /// A PUT body that is not two words. Example: `hello`. 400.
    #[error("body must be two words: OLD NEW")]
    NotTwoWords,
    /// PUT or DELETE of a word the store does not hold. Example: `DELETE` with body `absent`. 400.
    #[error("{0} is not in the store")]
    NotInStore(Word),
}

impl Handler {
    pub fn new(store: Arc<dyn Store>, credentials: Credentials, auth_all: bool) -> Handler {
        Handler {
            store,
            credentials,
            auth_all,
        }
    }

    /// The answer that the head alone decides (unknown method, unknown path,
    /// missing credentials), or `None` if the body is needed. The connection
    /// calls this before reading a body, so that `Expect: 100-continue` can be
    /// answered with a final status instead (RFC 9110 §10.1.1).
    pub fn precheck(&self, head: &RequestHead) -> Option<Response> {
        if let Method::Other(_) = head.method {
            return Some(
                Response::line(Status::NotImplemented, "method not implemented").with_allow(),
            );
        }
        match (&head.target, &head.method) {
            (RequestTarget::Path(path), _) if path == "/" => {}
            // RFC 9112 §3.2.4: the asterisk-form is only for OPTIONS.
            (RequestTarget::Asterisk, Method::Options) => {}
            (RequestTarget::Asterisk, _) => {
                return Some(Response::line(
                    Status::BadRequest,
                    "the * target is only for OPTIONS",
                ));
            }
            // RFC 9112 §3.2.3: the authority-form is only for CONNECT (a 501 above).
            (RequestTarget::Authority, _) => {
                return Some(Response::line(
                    Status::BadRequest,
                    "the authority-form target is only for CONNECT",
                ));
            }
            (RequestTarget::Path(_), _) => {
                return Some(Response::line(
                    Status::NotFound,
                    "not found: the only resource is /",
                ));
            }
        }
        let needs_credentials = self.auth_all || matches!(head.method, Method::Get | Method::Head);
        if needs_credentials && !self.credentials.accepts(head.authorization.as_deref()) {
            return Some(
                Response::line(Status::Unauthorized, "valid credentials required").with_challenge(),
            );
        }
        None
    }

    /// What a request whose `precheck` passed comes to, given its body: an answer now (a
    /// read, OPTIONS, a body that is not what the method needs), or a change for `submit`.
    /// Call it only after `precheck` returned `None`: it does not check again.
    pub fn handle(&self, head: &RequestHead, body: &[u8]) -> Action {
        match self.write_of(head, body) {
            None => Action::Answer(self.read(head)),
            Some(Err(refusal)) => {
                Action::Answer(Response::line(Status::BadRequest, refusal.to_string()))
            }
            Some(Ok(change)) => Action::Submit(change),
        }
    }

    /// Hands `change` to the store; `done` gets the answer once the store has decided it
    /// (from the store's committer, maybe, or before this returns). Never blocks on the disk.
    pub fn submit(&self, change: Change, done: Box<dyn FnOnce(Response) + Send>) {
        let done = concluding(&change, done);
        self.store.submit(change, done);
    }

    /// As `submit`, leaving the commit to the caller's `commit_deferred` where the store
    /// allows (`Store::submit_deferred`).
    pub fn submit_deferred(
        &self,
        change: Change,
        done: Box<dyn FnOnce(Response) + Send>,
        deferred: &mut Deferred,
    ) {
        let done = concluding(&change, done);
        self.store.submit_deferred(change, done, deferred);
    }

    /// Commits what `submit_deferred` left in `deferred` (`Store::commit_deferred`): may
    /// block on the disk, and delivers the answers of that batch before it returns.
    pub fn commit_deferred(&self, deferred: &mut Deferred) {
        self.store.commit_deferred(deferred);
    }

    /// GET, HEAD and OPTIONS, which read and never wait.
    fn read(&self, head: &RequestHead) -> Response {
        match head.method {
            Method::Get | Method::Head => match self.store.snapshot() {
                Ok(words) => Response::words(words),
                Err(error) => store_failure(&error),
            },
            Method::Options => Response::options(),
            _ => unreachable!("write_of takes POST, PUT and DELETE; precheck answers the rest"),
        }
    }

    /// The change a POST, PUT or DELETE body asks for, or why it is refused; `None` for
    /// the other methods.
    fn write_of(&self, head: &RequestHead, body: &[u8]) -> Option<Result<Change, Refusal>> {
        let change = match head.method {
            Method::Get | Method::Head | Method::Options => return None,
            Method::Post => Word::parse(trim(body))
                .map(Change::Append)
                .map_err(Refusal::from),
            Method::Put => two_words(body).map(|(old, new)| Change::Replace { old, new }),
            Method::Delete => Word::parse(trim(body))
                .map(Change::Delete)
                .map_err(Refusal::from),
            Method::Other(_) => unreachable!("precheck answers every other method with 501"),
        };
        Some(change)
    }
}

/// A PUT body: exactly two words.
fn two_words(body: &[u8]) -> Result<(Word, Word), Refusal> {
    let mut parts = body
        .split(|b| is_separator(*b))
        .filter(|part| !part.is_empty());
    let (Some(old), Some(new), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(Refusal::NotTwoWords);
    };
    match (Word::parse(old), Word::parse(new)) {
        (Ok(old), Ok(new)) => Ok((old, new)),
        (Err(invalid), _) | (_, Err(invalid)) => Err(invalid.into()),
    }
}

/// The store's callback for `change`: turns its outcome into the answer `done` gets.
fn concluding(change: &Change, done: Box<dyn FnOnce(Response) + Send>) -> Done {
    let asked = change.clone();
    Box::new(move |result| done(conclude(&asked, result)))
}

/// The answer to `change` given the store's outcome (how many lines it changed).
fn conclude(change: &Change, result: Result<usize, StoreError>) -> Response {
    let outcome = match (change, result) {
        (_, Err(error)) => return store_failure(&error),
        (Change::Append(word), Ok(_)) => Ok(format!("added {word}")),
        (Change::Replace { old, .. }, Ok(0)) => Err(Refusal::NotInStore(old.clone())),
        (Change::Replace { .. }, Ok(n)) => Ok(format!("replaced {n}")),
        (Change::Delete(word), Ok(0)) => Err(Refusal::NotInStore(word.clone())),
        (Change::Delete(_), Ok(n)) => Ok(format!("deleted {n}")),
    };
    match outcome {
        Ok(text) => Response::line(Status::Ok, text),
        Err(refusal) => Response::line(Status::BadRequest, refusal.to_string()),
    }
}

/// 500 for a store failure. The details go to the log (as the cause), not to the peer.
fn store_failure(error: &StoreError) -> Response {
    let response = match error {
        StoreError::ReadOnly { .. } => Response::line(
            Status::InternalServerError,
            "store is read-only after a write failure; restart the server",
        ),
        _ => Response::line(
            Status::InternalServerError,
            "the store could not be read or written",
        ),
    };
    response.with_cause(format!("store: {error}"))
}

/// The separators the contract trims from bodies: SP, HTAB, CR, LF.
fn is_separator(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\r' | b'\n')
}

fn trim(body: &[u8]) -> &[u8] {
    let start = body
        .iter()
        .position(|b| !is_separator(*b))
        .unwrap_or(body.len());
    let end = body
        .iter()
        .rposition(|b| !is_separator(*b))
        .map_or(start, |i| i + 1);
    &body[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{Framing, Version};
    use crate::store::{Apply, Inline, Snapshot};
    use std::sync::Mutex;

    /// The store as a list of lines, for deciding outcomes without a disk.
    #[derive(Default)]
    struct MemoryStore {
        lines: Mutex<Vec<Word>>,
        failing: bool,
    }

    impl MemoryStore {
        fn fail_if_asked(&self) -> Result<(), StoreError> {
            if self.failing {
                return Err(StoreError::io(
                    "write",
                    "memory".as_ref(),
                    std::io::Error::other("injected"),
                ));
            }
            Ok(())
        }
    }

    impl Apply for MemoryStore {
        fn snapshot(&self) -> Result<Snapshot, StoreError> {
            self.fail_if_asked()?;
            let lines = self.lines.lock().unwrap();
            let mut bytes = Vec::new();
            for word in lines.iter() {
                bytes.extend_from_slice(word.as_bytes());
                bytes.push(b'\n');
            }
            Ok(Arc::new(bytes))
        }
        fn apply(&self, change: &Change) -> Result<usize, StoreError> {
            self.fail_if_asked()?;
            let mut lines = self.lines.lock().unwrap();
            let before = lines.len();
            match change {
                Change::Append(word) => lines.push(word.clone()),
                Change::Replace { old, new } => {
                    let matching = lines.iter_mut().filter(|line| *line == old);
                    return Ok(matching.map(|line| *line = new.clone()).count());
                }
                Change::Delete(word) => lines.retain(|line| line != word),
            }
            Ok(before.abs_diff(lines.len()))
        }
    }

    fn handler_with(store: MemoryStore, auth_all: bool) -> Handler {
        Handler::new(
            Arc::new(Inline(store)),
            Credentials::lab_default(),
            auth_all,
        )
    }

    fn request(method: Method, path: &str, authorized: bool) -> RequestHead {
        RequestHead {
            method,
            raw_target: path.into(),
            target: RequestTarget::Path(path.into()),
            version: Version::Http11,
            framing: Framing::None,
            connection_close: false,
            connection_keep_alive: false,
            expect_continue: false,
            authorization: authorized
                .then(|| Credentials::lab_default().header_value().as_bytes().into()),
        }
    }

    /// What the connection does with a request: `precheck`, then `handle`, then `submit`.
    fn respond(handler: &Handler, head: &RequestHead, body: &[u8]) -> Response {
        if let Some(response) = handler.precheck(head) {
            return response;
        }
        match handler.handle(head, body) {
            Action::Answer(response) => response,
            Action::Submit(change) => {
                let (tx, rx) = std::sync::mpsc::channel();
                handler.submit(change, Box::new(move |response| tx.send(response).unwrap()));
                rx.try_recv()
                    .expect("an Inline store answers before submit returns")
            }
        }
    }

    fn answer(handler: &Handler, method: Method, body: &str) -> (u16, String) {
        let authorized = true;
        let response = respond(handler, &request(method, "/", authorized), body.as_bytes());
        let text = String::from_utf8(response.body.as_bytes().to_vec()).unwrap();
        (response.status.code(), text)
    }

    #[test]
    fn post_then_get_returns_the_words_as_lines() {
        let handler = handler_with(MemoryStore::default(), false);
        assert_eq!(
            answer(&handler, Method::Post, " hello\r\n"),
            (200, "added hello\n".into())
        );
        assert_eq!(
            answer(&handler, Method::Post, "world"),
            (200, "added world\n".into())
        );
        assert_eq!(
            answer(&handler, Method::Get, ""),
            (200, "hello\nworld\n".into())
        );
    }

    #[test]
    fn post_of_anything_but_one_word_is_400() {
        let handler = handler_with(MemoryStore::default(), false);
        for body in ["", "two words", "dash-ed", &"a".repeat(65)] {
            let (status, text) = answer(&handler, Method::Post, body);
            assert_eq!(
                (status, text.as_str()),
                (400, "word must be 1-64 ASCII letters or digits\n"),
                "{body:?}"
            );
        }
    }

    #[test]
    fn put_replaces_every_occurrence_and_says_how_many() {
        let handler = handler_with(MemoryStore::default(), false);
        for word in ["a", "b", "a"] {
            answer(&handler, Method::Post, word);
        }
        assert_eq!(
            answer(&handler, Method::Put, "a\tz\n"),
            (200, "replaced 2\n".into())
        );
        assert_eq!(answer(&handler, Method::Get, ""), (200, "z\nb\nz\n".into()));
    }

    #[test]
    fn put_needs_exactly_two_words_and_a_known_old_word() {
        let handler = handler_with(MemoryStore::default(), false);
        answer(&handler, Method::Post, "a");
        assert_eq!(
            answer(&handler, Method::Put, "a"),
            (400, "body must be two words: OLD NEW\n".into())
        );
        assert_eq!(
            answer(&handler, Method::Put, "a b c"),
            (400, "body must be two words: OLD NEW\n".into())
        );
        assert_eq!(answer(&handler, Method::Put, "a b!").0, 400);
        assert_eq!(
            answer(&handler, Method::Put, "x y"),
            (400, "x is not in the store\n".into())
        );
    }

    #[test]
    fn delete_removes_every_occurrence_or_is_400() {
        let handler = handler_with(MemoryStore::default(), false);
        for word in ["a", "b", "a"] {
            answer(&handler, Method::Post, word);
        }
        assert_eq!(
            answer(&handler, Method::Delete, "a"),
            (200, "deleted 2\n".into())
        );
        assert_eq!(
            answer(&handler, Method::Delete, "a"),
            (400, "a is not in the store\n".into())
        );
        assert_eq!(answer(&handler, Method::Get, ""), (200, "b\n".into()));
    }

    #[test]
    fn get_without_credentials_is_401_with_a_challenge() {
        let handler = handler_with(MemoryStore::default(), false);
        let response = respond(&handler, &request(Method::Get, "/", false), b"");
        assert_eq!(response.status, 401);
        assert!(response.challenge);
        let response = respond(&handler, &request(Method::Post, "/", false), b"word");
        assert_eq!(
            response.status, 200,
            "POST needs no credentials without --auth-all"
        );
    }

    #[test]
    fn auth_all_guards_every_method() {
        let handler = handler_with(MemoryStore::default(), true);
        for method in [Method::Post, Method::Put, Method::Delete, Method::Options] {
            assert_eq!(
                respond(&handler, &request(method, "/", false), b"x").status,
                401
            );
        }
    }

    #[test]
    fn unknown_paths_are_404_and_unknown_methods_501_with_allow() {
        let handler = handler_with(MemoryStore::default(), false);
        assert_eq!(
            respond(&handler, &request(Method::Get, "/words", true), b"").status,
            404
        );
        let response = respond(
            &handler,
            &request(Method::Other("PATCH".into()), "/", true),
            b"",
        );
        assert_eq!((response.status.code(), response.allow), (501, true));
    }

    #[test]
    fn options_is_204_with_allow_and_asterisk_is_only_for_options() {
        let handler = handler_with(MemoryStore::default(), false);
        let mut head = request(Method::Options, "*", false);
        head.target = RequestTarget::Asterisk;
        let response = respond(&handler, &head, b"");
        assert_eq!((response.status.code(), response.allow), (204, true));
        head.method = Method::Get;
        assert_eq!(respond(&handler, &head, b"").status, 400);
    }

    #[test]
    fn a_failing_store_is_500_for_reads_and_writes() {
        let store = MemoryStore {
            failing: true,
            ..MemoryStore::default()
        };
        let handler = handler_with(store, false);
        for (method, body) in [
            (Method::Get, ""),
            (Method::Post, "a"),
            (Method::Put, "a b"),
            (Method::Delete, "a"),
        ] {
            assert_eq!(answer(&handler, method, body).0, 500);
        }
    }
}
