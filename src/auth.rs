//! HTTP Basic credentials (RFC 7617): the configured pair and the check of an `Authorization` value.
//!
//! Here: decoding `Basic <base64>` and comparing it with the pair in time that does not depend
//! on the secret (its length included).
//! Elsewhere: where credentials come from (`cli`), which requests need them (`handler`).

use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The lab pair used when no credentials are configured. Refused off loopback.
pub const DEFAULT_USER: &str = "wordwire";
pub const DEFAULT_PASSWORD: &str = "wordwire";

/// The user and password a request must present.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    user: String,
    password: String,
    /// `user:password`, the decoded form a client sends.
    expected: Vec<u8>,
    /// SHA-256 of `expected`: what a presented pair is compared with, so that the comparison
    /// always covers 32 bytes, whatever the length of either side.
    expected_digest: [u8; 32],
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<hidden>")
            .finish()
    }
}

impl Credentials {
    pub fn new(user: impl Into<String>, password: impl Into<String>) -> Credentials {
        let user = user.into();
        let password = password.into();
        let expected = format!("{user}:{password}").into_bytes();
        let expected_digest = Sha256::digest(&expected).into();
        Credentials {
            user,
            password,
            expected,
            expected_digest,
        }
    }

    /// The documented lab pair `wordwire:wordwire`.
    pub fn lab_default() -> Credentials {
        Credentials::new(DEFAULT_USER, DEFAULT_PASSWORD)
    }

    pub fn is_lab_default(&self) -> bool {
        self.user == DEFAULT_USER && self.password == DEFAULT_PASSWORD
    }

    pub fn user(&self) -> &str {
        &self.user
    }

    pub fn password(&self) -> &str {
        &self.password
    }

    /// The `Authorization` field value a client sends for these credentials.
    pub fn header_value(&self) -> String {
        let encoded = base64::engine::general_purpose::STANDARD.encode(&self.expected);
        format!("Basic {encoded}")
    }

    /// True if `authorization` is `Basic <base64 of user:password>` for this pair.
    /// The scheme is case-insensitive (RFC 9110 §11.1). The time taken depends on what was
    /// presented, never on the configured pair: the decoded pair is hashed (time follows its
    /// own length) and the digests are compared in constant time (always 32 bytes).
    pub fn accepts(&self, authorization: Option<&[u8]>) -> bool {
        let Some(decoded) = authorization.and_then(decode_basic) else {
            return false;
        };
        // Not `decoded.ct_eq(&self.expected)`: subtle returns at once when the lengths differ,
        // which tells the length of the secret. Equal digests mean equal pairs (SHA-256 is
        // collision resistant), so nothing else is compared.
        let presented: [u8; 32] = Sha256::digest(&decoded).into();
        presented.ct_eq(&self.expected_digest).into()
    }
}

/// The `user:password` bytes of a `Basic <base64>` field value (the scheme in any case), or
/// `None` for another scheme or a token that is not base64.
fn decode_basic(value: &[u8]) -> Option<Vec<u8>> {
    let (scheme, token) = split_scheme(value)?;
    if !scheme.eq_ignore_ascii_case(b"basic") {
        return None;
    }
    base64::engine::general_purpose::STANDARD.decode(token).ok()
}

/// The user a `Basic` field value presents (what comes before the first `:`), right or wrong:
/// what an access log shows, as nginx's `$remote_user` does.
pub fn presented_user(value: &[u8]) -> Option<Vec<u8>> {
    let mut pair = decode_basic(value)?;
    let end = pair.iter().position(|&b| b == b':').unwrap_or(pair.len());
    pair.truncate(end);
    Some(pair)
}

/// Splits `scheme SP+ token68`, trimming spaces around the token.
fn split_scheme(value: &[u8]) -> Option<(&[u8], &[u8])> {
    let space = value.iter().position(|&b| b == b' ')?;
    let (scheme, rest) = value.split_at(space);
    let token = rest.trim_ascii();
    if scheme.is_empty() || token.is_empty() {
        return None;
    }
    Some((scheme, token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lab_pair_is_accepted_in_its_own_encoding() {
        let creds = Credentials::lab_default();
        assert_eq!(creds.header_value(), "Basic d29yZHdpcmU6d29yZHdpcmU=");
        assert!(creds.accepts(Some(b"Basic d29yZHdpcmU6d29yZHdpcmU=")));
    }

    #[test]
    fn the_presented_user_is_read_whatever_the_password() {
        assert_eq!(presented_user(b"Basic YWxpY2U6c2VjcmV0").unwrap(), b"alice");
        assert_eq!(
            presented_user(b"basic   YWxpY2U6d3Jvbmc= ").unwrap(),
            b"alice"
        );
        assert_eq!(
            presented_user(b"Basic YWxpY2U=").unwrap(),
            b"alice",
            "no colon"
        );
        assert_eq!(presented_user(b"Bearer YWxpY2U6c2VjcmV0"), None);
        assert_eq!(presented_user(b"Basic !!!"), None);
    }

    #[test]
    fn scheme_is_case_insensitive() {
        let creds = Credentials::lab_default();
        assert!(creds.accepts(Some(b"bAsIc d29yZHdpcmU6d29yZHdpcmU=")));
    }

    #[test]
    fn wrong_missing_or_garbled_credentials_are_refused() {
        let creds = Credentials::new("alice", "secret");
        assert!(!creds.accepts(None));
        assert!(!creds.accepts(Some(b"Basic d29yZHdpcmU6d29yZHdpcmU=")));
        assert!(!creds.accepts(Some(b"Bearer YWxpY2U6c2VjcmV0")));
        assert!(!creds.accepts(Some(b"Basic !!!")));
        assert!(!creds.accepts(Some(b"Basic")));
        assert!(creds.accepts(Some(b"Basic YWxpY2U6c2VjcmV0")));
    }

    #[test]
    fn pairs_of_any_other_length_are_refused() {
        let creds = Credentials::new("alice", "secret");
        let basic = |pair: &str| {
            let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
            creds.accepts(Some(format!("Basic {encoded}").as_bytes()))
        };
        assert!(basic("alice:secret"));
        for pair in [
            "",
            "alice:secre",
            "alice:secret\0",
            "alice:secretx",
            "alice:",
            ":secret",
        ] {
            assert!(!basic(pair), "{pair:?}");
        }
    }

    /// The CPU time this thread spends in `f`, in seconds: unlike the wall clock, it does not
    /// count the time the thread waits while other work has the CPU.
    fn timed(f: impl FnOnce()) -> f64 {
        let now = || {
            let mut ts = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: clock_gettime(2) writes one timespec at a valid pointer.
            assert_eq!(
                unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) },
                0
            );
            ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
        };
        let start = now();
        f();
        now() - start
    }

    #[test]
    fn refusing_a_pair_takes_as_long_whether_or_not_its_length_is_the_secrets() {
        // A long secret makes a length-dependent comparison visible: comparing 256 KiB byte
        // by byte, against returning at once on a length mismatch (`subtle` on slices).
        let password = "p".repeat(256 * 1024);
        let creds = Credentials::new("u", &password);
        let value = |pair: String| {
            let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
            format!("Basic {encoded}").into_bytes()
        };
        // Both wrong in their last byte; one has the secret's length, the other one byte more.
        let same_length = value(format!("u:{}q", &password[1..]));
        let longer = value(format!("u:{}qq", &password[1..]));
        // Each ratio times the two back to back in CPU time; the median of many ignores the
        // pairs that cache misses or interrupts split.
        let mut ratios: Vec<f64> = (0..31)
            .map(|_| {
                let same = timed(|| assert!(!creds.accepts(Some(&same_length))));
                let other = timed(|| assert!(!creds.accepts(Some(&longer))));
                same / other
            })
            .collect();
        ratios.sort_by(f64::total_cmp);
        let median = ratios[ratios.len() / 2];
        assert!(
            (0.8..1.25).contains(&median),
            "same length / one byte longer takes {median:.2}x: the time tells the length"
        );
    }

    #[test]
    fn debug_output_hides_the_password() {
        let text = format!("{:?}", Credentials::new("alice", "secret"));
        assert!(!text.contains("secret"), "{text}");
    }
}
