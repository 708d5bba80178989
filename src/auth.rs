//! HTTP Basic credentials (RFC 7617): the configured pair and the check of an `Authorization` value.
//!
//! Here: decoding `Basic <base64>` and comparing in constant time.
//! Elsewhere: where credentials come from (`cli`), which requests need them (`handler`).

use base64::Engine;
use subtle::ConstantTimeEq;

/// The lab pair used when no credentials are configured. Refused off loopback.
pub const DEFAULT_USER: &str = "wordwire";
pub const DEFAULT_PASSWORD: &str = "wordwire";

/// The user and password a request must present.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    user: String,
    password: String,
    /// `user:password`, the decoded form a client sends, kept for the comparison.
    expected: Vec<u8>,
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
        Credentials {
            user,
            password,
            expected,
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
    /// The scheme is case-insensitive (RFC 9110 §11.1); the comparison of the
    /// decoded pair takes the same time wherever the bytes first differ.
    pub fn accepts(&self, authorization: Option<&[u8]>) -> bool {
        let Some(value) = authorization else {
            return false;
        };
        let Some((scheme, token)) = split_scheme(value) else {
            return false;
        };
        if !scheme.eq_ignore_ascii_case(b"basic") {
            return false;
        }
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(token) else {
            return false;
        };
        // subtle compares equal-length slices in constant time; a length mismatch
        // reveals only the length, which the user name already bounds.
        decoded.ct_eq(&self.expected).into()
    }
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
    fn debug_output_hides_the_password() {
        let text = format!("{:?}", Credentials::new("alice", "secret"));
        assert!(!text.contains("secret"), "{text}");
    }
}
