//! Addresses as people type them, for every flag that takes one (`serve --addr`,
//! `client --addr`, `replay --target`, `record --listen` and `--upstream`).
//!
//! Here: the accepted spellings and the one-line reason a spelling is refused, as a clap
//! value parser (so a refusal is clap's usage error, exit 2). Elsewhere: resolving a name
//! and connecting (`client`, `replay`, `record`), binding (`server`).

use std::net::{SocketAddr, ToSocketAddrs};

use clap::builder::TypedValueParser;
use clap::error::ErrorKind;

/// The host a bare port means, for listening and connecting alike: loopback, so that
/// `serve --addr 8080` is never reachable from another machine by accident.
pub const BARE_PORT_HOST: &str = "127.0.0.1";

/// Reads an address the way it is usually typed and gives it back as `HOST:PORT`
/// (`[V6]:PORT` for an IPv6 literal), the form `ToSocketAddrs` takes:
///
/// - `HOST:PORT`, `localhost:PORT`, `[::1]:PORT`, as they are;
/// - `http://HOST:PORT/` (or without the `/`; without a port, 80), since a server's
///   address is most often copied from a browser or a curl line. Only the path `/`:
///   the server has that one resource, and a path would be silently dropped;
/// - a bare `PORT`: `127.0.0.1:PORT` (`BARE_PORT_HOST`).
///
/// Refused, each with why: `https://` (wordwire speaks plain http:// only), another
/// scheme, a path, a query, credentials in the URL, no port, a port that is not 0 to
/// 65535, an unbracketed IPv6 address, an empty host, a control character.
pub fn normalize(text: &str) -> Result<String, String> {
    if text.chars().any(char::is_control) {
        return Err("an address has no control characters".into());
    }
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return match text.parse::<u16>() {
            Ok(port) => Ok(format!("{BARE_PORT_HOST}:{port}")),
            Err(_) => Err(format!("the port `{text}` is not a number from 0 to 65535")),
        };
    }
    let authority = match text.split_once("://") {
        Some((scheme, rest)) => {
            if scheme.eq_ignore_ascii_case("https") {
                return Err("https:// is TLS, and wordwire speaks plain http:// only: \
                     give http://HOST:PORT or HOST:PORT"
                    .into());
            }
            if !scheme.eq_ignore_ascii_case("http") {
                return Err(format!(
                    "a {scheme}:// URL: wordwire speaks http:// only (or give HOST:PORT)"
                ));
            }
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            let (authority, tail) = rest.split_at(end);
            if !tail.is_empty() && tail != "/" {
                return Err(format!(
                    "`{tail}` after the address: the only resource is /, give http://HOST:PORT/"
                ));
            }
            if authority.contains('@') {
                return Err("credentials do not go in the address: use --user and \
                     --password-file (or WORDWIRE_USER and WORDWIRE_PASSWORD)"
                    .into());
            }
            return host_port(authority, Some(80));
        }
        None => text,
    };
    if authority.contains('/') {
        return Err("a path after the address: give HOST:PORT or http://HOST:PORT/".into());
    }
    host_port(authority, None)
}

/// `HOST:PORT` or `[V6]:PORT`; `default_port` if there is no `:PORT` (a URL's 80).
fn host_port(authority: &str, default_port: Option<u16>) -> Result<String, String> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return Err("an IPv6 address without its closing `]`".into());
        };
        let port = match after {
            "" => None,
            _ => match after.strip_prefix(':') {
                Some(port) => Some(port),
                None => return Err(format!("`{after}` after `]`: give [V6]:PORT")),
            },
        };
        if v6.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("`{v6}` is not an IPv6 address"));
        }
        (format!("[{v6}]"), port)
    } else {
        match authority.rsplit_once(':') {
            Some((host, _)) if host.contains(':') => {
                return Err(
                    "an IPv6 address goes in brackets, with the port after them: [::1]:PORT".into(),
                );
            }
            Some((host, port)) => (host.to_owned(), Some(port)),
            None => (authority.to_owned(), None),
        }
    };
    if host.is_empty() {
        return Err("no host: give HOST:PORT, e.g. 127.0.0.1:12345, or a bare PORT".into());
    }
    let port = match (port, default_port) {
        (Some(port), _) => port
            .parse::<u16>()
            .map_err(|_| format!("the port `{port}` is not a number from 0 to 65535"))?,
        (None, Some(port)) => port,
        (None, None) => {
            return Err(format!(
                "no port: give {host}:PORT (or a bare PORT for {BARE_PORT_HOST}:PORT)"
            ));
        }
    };
    Ok(format!("{host}:{port}"))
}

/// As `normalize`, then resolved (a name's first address wins): a listening address.
pub fn resolve(text: &str) -> Result<SocketAddr, String> {
    let normalized = normalize(text)?;
    normalized
        .to_socket_addrs()
        .map_err(|error| format!("cannot resolve {normalized}: {error}"))?
        .next()
        .ok_or_else(|| format!("{normalized} resolves to no address"))
}

/// The clap value parser for an address to connect to: `normalize`, giving a `String`.
#[derive(Clone, Copy, Debug)]
pub struct Address;

/// The clap value parser for an address to listen on: `resolve`, giving a `SocketAddr`.
#[derive(Clone, Copy, Debug)]
pub struct ListenAddress;

impl TypedValueParser for Address {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        checked(cmd, arg, value, normalize)
    }
}

impl TypedValueParser for ListenAddress {
    type Value = SocketAddr;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<SocketAddr, clap::Error> {
        checked(cmd, arg, value, resolve)
    }
}

/// Runs `parse` on the value; a refusal is clap's value error with the usage line, the
/// value escaped (a CR LF in it must not split the message over two lines).
fn checked<T>(
    cmd: &clap::Command,
    arg: Option<&clap::Arg>,
    value: &std::ffi::OsStr,
    parse: fn(&str) -> Result<T, String>,
) -> Result<T, clap::Error> {
    let text = value.to_string_lossy();
    parse(&text).map_err(|reason| {
        let arg = arg.map_or_else(|| "the address".to_owned(), |arg| format!("'{arg}'"));
        let message = format!(
            "invalid value '{}' for {arg}: {reason}",
            text.escape_debug()
        );
        clap::Error::raw(ErrorKind::ValueValidation, message).format(&mut cmd.clone())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_usual_spellings_become_host_port() {
        for (typed, meant) in [
            ("127.0.0.1:12345", "127.0.0.1:12345"),
            ("localhost:8080", "localhost:8080"),
            ("[::1]:8080", "[::1]:8080"),
            ("12345", "127.0.0.1:12345"),
            ("0", "127.0.0.1:0"),
            ("http://127.0.0.1:12345/", "127.0.0.1:12345"),
            ("http://127.0.0.1:12345", "127.0.0.1:12345"),
            ("HTTP://localhost:8080/", "localhost:8080"),
            ("http://[::1]:8080/", "[::1]:8080"),
            ("http://localhost/", "localhost:80"),
            ("http://[::1]", "[::1]:80"),
        ] {
            assert_eq!(normalize(typed).as_deref(), Ok(meant), "{typed}");
        }
    }

    #[test]
    fn what_cannot_be_an_address_says_why() {
        for (typed, why) in [
            (
                "https://127.0.0.1:12345/",
                "wordwire speaks plain http:// only",
            ),
            ("HTTPS://x:1", "wordwire speaks plain http:// only"),
            ("ftp://x:1/", "a ftp:// URL"),
            ("http://x:1/words", "`/words` after the address"),
            ("http://x:1/?a", "`/?a` after the address"),
            ("http://u:p@x:1/", "credentials do not go in the address"),
            ("x:1/y", "a path after the address"),
            ("localhost", "no port: give localhost:PORT"),
            (
                "x:65536",
                "the port `65536` is not a number from 0 to 65535",
            ),
            ("x:", "the port `` is not"),
            ("65536", "the port `65536` is not a number from 0 to 65535"),
            (":80", "no host"),
            ("http://:80/", "no host"),
            ("::1:80", "an IPv6 address goes in brackets"),
            ("[::1", "without its closing `]`"),
            ("[::1]80", "`80` after `]`"),
            ("[nope]:1", "`nope` is not an IPv6 address"),
            ("x:1\r\nX: y", "no control characters"),
            ("", "no host"),
        ] {
            let error = normalize(typed).unwrap_err();
            assert!(error.contains(why), "{typed:?}: {error}");
            assert_eq!(error.lines().count(), 1, "{typed:?}: {error}");
        }
    }

    #[test]
    fn a_listening_address_is_resolved() {
        assert_eq!(resolve("8080"), Ok("127.0.0.1:8080".parse().unwrap()));
        assert_eq!(resolve("http://[::1]:0/"), Ok("[::1]:0".parse().unwrap()));
        assert!(resolve("localhost:0").unwrap().ip().is_loopback());
    }
}
