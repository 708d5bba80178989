//! The response statuses wordwire sends, each with its reason phrase.
//!
//! Here: the `Status` list, its codes and reason phrases (RFC 9110 §15).
//! Elsewhere: which status a request gets (`handler`, `http::error`, `server::conn`).

/// A status wordwire sends; there is no other, so every one has its reason phrase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Continue = 100,
    Ok = 200,
    NoContent = 204,
    BadRequest = 400,
    Unauthorized = 401,
    NotFound = 404,
    RequestTimeout = 408,
    ContentTooLarge = 413,
    UriTooLong = 414,
    RequestHeaderFieldsTooLarge = 431,
    InternalServerError = 500,
    NotImplemented = 501,
    ServiceUnavailable = 503,
    GatewayTimeout = 504,
    HttpVersionNotSupported = 505,
}

impl Status {
    /// The three-digit status code.
    pub fn code(self) -> u16 {
        self as u16
    }

    /// The reason phrase RFC 9110 §15 gives the status.
    pub fn reason(self) -> &'static str {
        match self {
            Status::Continue => "Continue",
            Status::Ok => "OK",
            Status::NoContent => "No Content",
            Status::BadRequest => "Bad Request",
            Status::Unauthorized => "Unauthorized",
            Status::NotFound => "Not Found",
            Status::RequestTimeout => "Request Timeout",
            Status::ContentTooLarge => "Content Too Large",
            Status::UriTooLong => "URI Too Long",
            Status::RequestHeaderFieldsTooLarge => "Request Header Fields Too Large",
            Status::InternalServerError => "Internal Server Error",
            Status::NotImplemented => "Not Implemented",
            Status::ServiceUnavailable => "Service Unavailable",
            Status::GatewayTimeout => "Gateway Timeout",
            Status::HttpVersionNotSupported => "HTTP Version Not Supported",
        }
    }
}

/// So that a test can write `assert_eq!(response.status, 404)`.
impl PartialEq<u16> for Status {
    fn eq(&self, code: &u16) -> bool {
        self.code() == *code
    }
}

#[cfg(test)]
mod tests {
    use super::Status;

    #[test]
    fn codes_and_reasons_are_those_of_rfc_9110() {
        assert_eq!(Status::Ok.code(), 200);
        assert_eq!(Status::ContentTooLarge.code(), 413);
        assert_eq!(Status::ContentTooLarge.reason(), "Content Too Large");
        assert_eq!(Status::GatewayTimeout, 504);
        assert_ne!(Status::RequestTimeout, 504);
    }
}
