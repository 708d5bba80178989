//! What can be wrong with a request message, and the status each fault becomes.
//!
//! Here: the `ParseError` enum and its mapping to a status code.
//! Elsewhere: detecting the faults (`http::request`, `http::body`).

use super::Status;

/// A request message that cannot be accepted. After any of these the framing
/// of the connection is in doubt, so the server answers and closes.
///
/// The `Display` of each variant is the body of the error response, so it is a
/// short lowercase reason a client can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The request-line is not `method SP request-target SP HTTP-version`.
    /// Example: `GET  / HTTP/1.1` (two spaces) or `GET /`. Becomes 400, then close.
    #[error("malformed request line")]
    MalformedRequestLine,

    /// The request starts with the byte a TLS handshake record starts with (0x16): a client
    /// that speaks https:// to this plain-HTTP server. Rejected at that first byte, so the
    /// client is told at once instead of after the read timeout.
    /// Example: `curl https://127.0.0.1:8080/`. Becomes 400, then close.
    #[error("a tls handshake: this server speaks http://, not https://")]
    TlsHandshake,

    /// The method is not a token.
    /// Example: `GE(T / HTTP/1.1`. Becomes 400, then close.
    #[error("invalid method")]
    InvalidMethod,

    /// The request-target has a byte outside visible ASCII or is in no known form.
    /// Example: `GET foo HTTP/1.1` or `GET /a#frag HTTP/1.1`. Becomes 400, then close.
    #[error("invalid request target")]
    InvalidTarget,

    /// The HTTP-version is not `HTTP/` DIGIT `.` DIGIT.
    /// Example: `GET / HTTP/1.10` or `GET / http/1.1`. Becomes 400, then close.
    #[error("malformed http version")]
    MalformedVersion,

    /// A well-formed version other than HTTP/1.0 or HTTP/1.1.
    /// Example: `GET / HTTP/2.0`. Becomes 505, then close.
    #[error("http version not supported")]
    UnsupportedVersion,

    /// The request-line (with any empty lines before it) is longer than the line limit.
    /// Example: `GET /aaaa…` with more than `--max-line` bytes and no line end. Becomes 414, then close.
    #[error("request line too long")]
    RequestLineTooLong,

    /// The field section (or the trailer section of a chunked body) is larger than its limit.
    /// Example: more than `--max-header-bytes` of field lines. Becomes 431, then close.
    #[error("request header fields too large")]
    HeaderSectionTooLarge,

    /// A field line does not start with a token followed by a colon.
    /// Example: `Fo@o: x`, `: x` or `NoColon`. Becomes 400, then close.
    #[error("invalid header field name")]
    InvalidFieldName,

    /// Whitespace between a field name and its colon (RFC 9112 §5.1).
    /// Example: `Host : example`. Becomes 400, then close.
    #[error("whitespace before colon in header field")]
    WhitespaceBeforeColon,

    /// A field line that starts with whitespace, the obsolete line folding (RFC 9112 §5.2).
    /// Example: `X-A: 1\r\n  continued\r\n`. Becomes 400, then close.
    #[error("obsolete line folding is not accepted")]
    ObsoleteLineFolding,

    /// A field value with a control character other than HTAB.
    /// Example: `X-A: a\x00b` or `X-A: a\x7fb`. Becomes 400, then close.
    #[error("invalid header field value")]
    InvalidFieldValue,

    /// A CR that is not followed by LF.
    /// Example: `GET / HTTP/1.1\rHost: x`. Becomes 400, then close.
    #[error("bare carriage return")]
    BareCr,

    /// An HTTP/1.1 request without a Host field.
    /// Example: `GET / HTTP/1.1\r\n\r\n`. Becomes 400, then close.
    #[error("missing host header")]
    MissingHost,

    /// More than one Host field line (RFC 9112 §3.2).
    /// Example: `Host: a` and `Host: b`. Becomes 400, then close.
    #[error("more than one host header")]
    DuplicateHost,

    /// A Host field whose value is not `uri-host [ ":" port ]` (RFC 9112 §3.2).
    /// Example: `Host: a b` or `Host: user@host`. Becomes 400, then close.
    #[error("invalid host header")]
    InvalidHost,

    /// More than one Authorization field line (it is not a list field, RFC 9110 §5.3).
    /// Example: `Authorization: Basic a` and `Authorization: Basic b`. Becomes 400, then close.
    #[error("more than one authorization header")]
    DuplicateAuthorization,

    /// A Content-Length that is not 1*DIGIT (or a list of them).
    /// Example: `Content-Length: +5`, `Content-Length: 5 5` or `Content-Length:`. Becomes 400, then close.
    #[error("invalid content length")]
    InvalidContentLength,

    /// Content-Length values that differ (RFC 9112 §6.3).
    /// Example: `Content-Length: 5, 6` or two lines `5` and `6`. Becomes 400, then close.
    #[error("conflicting content length values")]
    ConflictingContentLength,

    /// Both `Transfer-Encoding` and `Content-Length` were sent (RFC 9112 §6.1).
    /// Example: `Content-Length: 5` plus `Transfer-Encoding: chunked`. Becomes 400, then close.
    #[error("request has both transfer-encoding and content-length")]
    ConflictingLength,

    /// A Transfer-Encoding other than exactly `chunked`.
    /// Example: `Transfer-Encoding: gzip, chunked` or `chunked, chunked`. Becomes 400, then close.
    #[error("unsupported transfer encoding")]
    UnsupportedTransferEncoding,

    /// Transfer-Encoding in an HTTP/1.0 request (RFC 9112 §6.1).
    /// Example: `POST / HTTP/1.0` with `Transfer-Encoding: chunked`. Becomes 400, then close.
    #[error("transfer encoding is not allowed in http/1.0")]
    TransferEncodingInHttp10,

    /// The body is larger than the body limit, announced or decoded.
    /// Example: `Content-Length: 99999999999999999999999`. Becomes 413, then close.
    #[error("request body too large")]
    BodyTooLarge,

    /// A chunk-size line that does not start with hex digits, or has junk after them.
    /// Example: `zz\r\n` or `5x\r\n`. Becomes 400, then close.
    #[error("invalid chunk size")]
    InvalidChunkSize,

    /// A chunk-size that does not fit in 64 bits.
    /// Example: `10000000000000000\r\n`. Becomes 400, then close.
    #[error("chunk size too large")]
    ChunkSizeOverflow,

    /// A chunk extension that is not `;name[=token-or-quoted-string]`.
    /// Example: `5;=x\r\n` or `5;a="unterminated\r\n`. Becomes 400, then close.
    #[error("invalid chunk extension")]
    InvalidChunkExtension,

    /// A chunk-size line longer than the line limit.
    /// Example: `5;` followed by more than `--max-line` bytes without CRLF. Becomes 400, then close.
    #[error("chunk size line too long")]
    ChunkLineTooLong,

    /// A chunk-size line or trailer line not ended by CRLF.
    /// Example: `5\nhello\r\n`. Becomes 400, then close.
    #[error("chunked framing requires crlf line endings")]
    MissingChunkCrlf,

    /// Chunk data not followed by CRLF: the data is longer or shorter than its chunk-size
    /// said (the usual mistake), or ends in a bare LF.
    /// Example: `5\r\nhelloX\r\n`. Becomes 400, then close.
    #[error("chunk data not followed by crlf: is its chunk-size right?")]
    ChunkDataNotTerminated,

    /// A trailer field line that breaks the field-line grammar.
    /// Example: `0\r\nBad Name: x\r\n\r\n`. Becomes 400, then close.
    #[error("invalid trailer field")]
    InvalidTrailer,
}

impl ParseError {
    /// The response status for this fault: 400, 413, 414, 431 or 505.
    pub fn status(&self) -> Status {
        match self {
            ParseError::UnsupportedVersion => Status::HttpVersionNotSupported,
            ParseError::RequestLineTooLong => Status::UriTooLong,
            ParseError::HeaderSectionTooLarge => Status::RequestHeaderFieldsTooLarge,
            ParseError::BodyTooLarge => Status::ContentTooLarge,
            ParseError::MalformedRequestLine
            | ParseError::TlsHandshake
            | ParseError::InvalidMethod
            | ParseError::InvalidTarget
            | ParseError::MalformedVersion
            | ParseError::InvalidFieldName
            | ParseError::WhitespaceBeforeColon
            | ParseError::ObsoleteLineFolding
            | ParseError::InvalidFieldValue
            | ParseError::BareCr
            | ParseError::MissingHost
            | ParseError::DuplicateHost
            | ParseError::InvalidHost
            | ParseError::DuplicateAuthorization
            | ParseError::InvalidContentLength
            | ParseError::ConflictingContentLength
            | ParseError::ConflictingLength
            | ParseError::UnsupportedTransferEncoding
            | ParseError::TransferEncodingInHttp10
            | ParseError::InvalidChunkSize
            | ParseError::ChunkSizeOverflow
            | ParseError::InvalidChunkExtension
            | ParseError::ChunkLineTooLong
            | ParseError::MissingChunkCrlf
            | ParseError::ChunkDataNotTerminated
            | ParseError::InvalidTrailer => Status::BadRequest,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ParseError;

    #[test]
    fn limits_and_version_map_to_their_own_statuses() {
        assert_eq!(ParseError::UnsupportedVersion.status(), 505);
        assert_eq!(ParseError::RequestLineTooLong.status(), 414);
        assert_eq!(ParseError::HeaderSectionTooLarge.status(), 431);
        assert_eq!(ParseError::BodyTooLarge.status(), 413);
        assert_eq!(ParseError::BareCr.status(), 400);
    }

    #[test]
    fn messages_are_one_short_lowercase_line() {
        let all = [
            ParseError::MalformedRequestLine,
            ParseError::TlsHandshake,
            ParseError::InvalidMethod,
            ParseError::InvalidTarget,
            ParseError::MalformedVersion,
            ParseError::UnsupportedVersion,
            ParseError::RequestLineTooLong,
            ParseError::HeaderSectionTooLarge,
            ParseError::InvalidFieldName,
            ParseError::WhitespaceBeforeColon,
            ParseError::ObsoleteLineFolding,
            ParseError::InvalidFieldValue,
            ParseError::BareCr,
            ParseError::MissingHost,
            ParseError::DuplicateHost,
            ParseError::InvalidHost,
            ParseError::DuplicateAuthorization,
            ParseError::InvalidContentLength,
            ParseError::ConflictingContentLength,
            ParseError::ConflictingLength,
            ParseError::UnsupportedTransferEncoding,
            ParseError::TransferEncodingInHttp10,
            ParseError::BodyTooLarge,
            ParseError::InvalidChunkSize,
            ParseError::ChunkSizeOverflow,
            ParseError::InvalidChunkExtension,
            ParseError::ChunkLineTooLong,
            ParseError::MissingChunkCrlf,
            ParseError::ChunkDataNotTerminated,
            ParseError::InvalidTrailer,
        ];
        for e in all {
            let msg = e.to_string();
            assert!(!msg.is_empty() && msg.len() < 60, "{msg}");
            assert!(!msg.contains('\n'), "{msg}");
            assert_eq!(msg, msg.to_lowercase(), "{msg}");
        }
    }
}
