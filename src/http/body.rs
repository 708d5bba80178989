//! Decodes chunked request bodies (RFC 9112 §7.1) incrementally.
