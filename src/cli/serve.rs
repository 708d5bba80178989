//! The `serve` flags and their defaults, checked once into a `Config`.
//!
//! Here: flag names, defaults, value syntax (seconds with fractions, 504|408),
//! where credentials come from, and the refusal of the lab pair off loopback.
//! Elsewhere: the other subcommands' flags (`cli::client`, `replay`), running (`main`).

use std::fs;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::auth::{Credentials, DEFAULT_PASSWORD, DEFAULT_USER};
use crate::http::{HeadLimits, Status};
use crate::server::{Config, LogFormat};
use crate::store::SyncMode;

/// `wordwire serve` flags (see CONTRACT.md, "The command line").
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on: HOST:PORT, [V6]:PORT, http://HOST:PORT/, or a bare PORT
    /// (on 127.0.0.1, loopback); port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:12345", value_parser = super::address::ListenAddress)]
    pub addr: SocketAddr,
    /// The word store file (created if missing).
    #[arg(long, default_value = "words.txt")]
    pub store: PathBuf,
    #[command(flatten)]
    pub credentials: CredentialArgs,
    /// Require credentials for every method, not only GET and HEAD.
    #[arg(long)]
    pub auth_all: bool,
    /// fsync each change before answering (always), or leave it to the OS (none).
    #[arg(long, value_enum, default_value_t = Sync::Always)]
    pub sync: Sync,
    /// Longest silence between bytes of a started request, in seconds: then 504
    /// (see --timeout-status) and close. A new connection that sends nothing at
    /// all is closed silently after it, with no response.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_secs)]
    pub read_timeout: Duration,
    /// Longest time from a request's first byte to its last, in seconds.
    #[arg(long, value_name = "SECS", default_value = "30", value_parser = parse_secs)]
    pub request_timeout: Duration,
    /// Longest silence on a kept-alive connection between requests, in seconds.
    #[arg(long, value_name = "SECS", default_value = "60", value_parser = parse_secs)]
    pub idle_timeout: Duration,
    /// Status for a timed-out request: 504 (the assignment's) or 408 (RFC 9110's).
    #[arg(long, default_value_t = 504, value_parser = parse_timeout_status)]
    pub timeout_status: u16,
    /// Connections open at once; the next gets 503.
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// Longest request line, in bytes (longer: 414).
    #[arg(long, value_name = "BYTES", default_value_t = 8192, value_parser = clap::value_parser!(u32).range(16..))]
    pub max_line: u32,
    /// Largest header section, in bytes (larger: 431).
    #[arg(long, value_name = "BYTES", default_value_t = 16384, value_parser = clap::value_parser!(u32).range(16..))]
    pub max_header_bytes: u32,
    /// Event-loop threads (default: the available cores).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub threads: Option<u32>,
    /// Largest request body, in bytes (larger: 413).
    #[arg(long, value_name = "BYTES", default_value_t = 8192, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_body: u32,
    /// Access log on stderr: nginx's combined format plus the duration, JSON lines, or none.
    #[arg(long, value_enum, default_value_t = LogFormatArg::Combined)]
    pub log_format: LogFormatArg,
    /// Show every byte of every connection on stderr, escaped as in a transcript.
    #[arg(long)]
    pub trace: bool,
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormatArg {
    Combined,
    Json,
    Off,
}

/// Where credentials come from; shared by `serve` and `client`. Global, so that
/// `client get --user U` works as well as `client --user U get`.
#[derive(Debug, Clone, Args)]
pub struct CredentialArgs {
    /// User name for Basic auth (or set WORDWIRE_USER) [default: the lab pair wordwire:wordwire].
    /// `client` also takes USER:PASSWORD, as curl's -u does (never a prompt).
    #[arg(short = 'u', long, global = true)]
    pub user: Option<String>,
    /// File whose first line is the password (or set WORDWIRE_PASSWORD).
    #[arg(long, global = true, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Sync {
    Always,
    None,
    /// Debug builds only: no fsync and in-place rewrites, for the crash test's test of itself.
    #[cfg(debug_assertions)]
    #[value(hide = true)]
    UnsafeInPlace,
}

impl From<Sync> for SyncMode {
    fn from(sync: Sync) -> SyncMode {
        match sync {
            Sync::Always => SyncMode::Always,
            Sync::None => SyncMode::None,
            #[cfg(debug_assertions)]
            Sync::UnsafeInPlace => SyncMode::UnsafeInPlace,
        }
    }
}

impl CredentialArgs {
    /// The configured pair: `--user`/`WORDWIRE_USER` with `--password-file` or
    /// `WORDWIRE_PASSWORD`, or the lab pair if neither part is given.
    pub fn resolve(&self) -> Result<Credentials, String> {
        self.resolve_with(&process_env)
    }

    /// As `resolve`, reading the environment through `env` (a transcript's
    /// in-process server passes one that is empty, so it never depends on the caller's).
    pub fn resolve_with(&self, env: &Env) -> Result<Credentials, String> {
        let user = match &self.user {
            Some(user) => Some(user.clone()),
            None => env("WORDWIRE_USER")?,
        };
        let password = match &self.password_file {
            Some(path) => Some(read_password(path)?),
            None => env("WORDWIRE_PASSWORD")?,
        };
        match (user, password) {
            (None, None) => Ok(Credentials::lab_default()),
            (Some(user), Some(password)) => {
                if user.is_empty() || user.contains(':') {
                    return Err(
                        "the user name must be non-empty and contain no ':' (RFC 7617 §2)".into(),
                    );
                }
                if password.is_empty() {
                    return Err("the password is empty".into());
                }
                if user.chars().chain(password.chars()).any(char::is_control) {
                    return Err(
                        "the user name and password must not contain control characters (RFC 7617 §2)"
                            .into(),
                    );
                }
                Ok(Credentials::new(user, password))
            }
            (Some(_), None) => Err(
                "a user is set but no password: use --password-file or WORDWIRE_PASSWORD".into(),
            ),
            (None, Some(_)) => {
                Err("a password is set but no user: use --user or WORDWIRE_USER".into())
            }
        }
    }
}

/// Where `CredentialArgs::resolve_with` reads a variable: its value if set, an error if it is
/// set but not text (taken for unset, it would leave the server on the lab pair).
pub type Env = dyn Fn(&str) -> Result<Option<String>, String>;

/// The process environment, for `CredentialArgs::resolve_with`.
pub fn process_env(name: &str) -> Result<Option<String>, String> {
    env_text(name, std::env::var_os(name))
}

/// The value of the environment variable `name`, if set; an error if it is not UTF-8.
fn env_text(name: &str, value: Option<std::ffi::OsString>) -> Result<Option<String>, String> {
    value
        .map(|value| {
            value
                .into_string()
                .map_err(|_| format!("{name} is not valid UTF-8"))
        })
        .transpose()
}

/// An empty environment, for `CredentialArgs::resolve_with`.
pub fn no_env(_: &str) -> Result<Option<String>, String> {
    Ok(None)
}

impl ServeArgs {
    /// Checks the combination and builds the server's configuration,
    /// taking credentials from the flags and the process environment.
    pub fn to_config(&self) -> Result<Config, String> {
        self.to_config_with(&process_env)
    }

    /// As `to_config`, reading the environment through `env`.
    pub fn to_config_with(&self, env: &Env) -> Result<Config, String> {
        let credentials = self.credentials.resolve_with(env)?;
        if credentials.is_lab_default() && !self.addr.ip().is_loopback() {
            return Err(format!(
                "refusing to serve the lab credentials {DEFAULT_USER}:{DEFAULT_PASSWORD} on {}, which is not loopback; \
                 set WORDWIRE_USER and WORDWIRE_PASSWORD (or --user and --password-file)",
                self.addr
            ));
        }
        let mut config = Config::new(self.addr, credentials);
        config.auth_all = self.auth_all;
        config.read_timeout = self.read_timeout;
        config.request_timeout = self.request_timeout;
        config.idle_timeout = self.idle_timeout;
        config.timeout_status = match self.timeout_status {
            408 => Status::RequestTimeout,
            _ => Status::GatewayTimeout,
        };
        config.max_connections = self.max_connections as usize;
        config.trace = self.trace;
        (config.access_log, config.log_format) = match self.log_format {
            LogFormatArg::Combined => (true, LogFormat::Combined),
            LogFormatArg::Json => (true, LogFormat::Json),
            LogFormatArg::Off => (false, LogFormat::Combined),
        };
        if let Some(threads) = self.threads {
            config.threads = threads as usize;
        }
        config.limits = HeadLimits {
            max_line: self.max_line as usize,
            max_header_bytes: self.max_header_bytes as usize,
            max_body: u64::from(self.max_body),
        };
        Ok(config)
    }
}

fn read_password(path: &PathBuf) -> Result<String, String> {
    let text = fs::read_to_string(path)
        .map_err(|error| format!("cannot read password file {}: {error}", path.display()))?;
    Ok(text.lines().next().unwrap_or("").to_owned())
}

/// 504 or 408, the two statuses the contract allows for a timeout.
fn parse_timeout_status(text: &str) -> Result<u16, String> {
    match text {
        "504" => Ok(504),
        "408" => Ok(408),
        _ => Err("expected 504 or 408".into()),
    }
}

/// Seconds, possibly with a fraction (`0.5`); from a millisecond to a day (less than a
/// nanosecond would be a zero timeout).
fn parse_secs(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .parse()
        .map_err(|_| "expected seconds, e.g. 10 or 0.5".to_owned())?;
    if !super::SECONDS.contains(&secs) {
        return Err("expected seconds from 0.001 to 86400".into());
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        serve: ServeArgs,
    }

    fn parse(args: &[&str]) -> Result<ServeArgs, clap::Error> {
        Wrapper::try_parse_from(std::iter::once("serve").chain(args.iter().copied()))
            .map(|w| w.serve)
    }

    #[test]
    fn defaults_are_the_contracts() {
        let args = parse(&[]).unwrap();
        assert_eq!(args.addr, "127.0.0.1:12345".parse().unwrap());
        assert_eq!(args.store, PathBuf::from("words.txt"));
        assert_eq!(args.sync, Sync::Always);
        assert_eq!(args.read_timeout, Duration::from_secs(10));
        assert_eq!(args.request_timeout, Duration::from_secs(30));
        assert_eq!(args.idle_timeout, Duration::from_secs(60));
        assert_eq!(args.timeout_status, 504);
        assert_eq!(
            (
                args.max_connections,
                args.max_line,
                args.max_header_bytes,
                args.max_body
            ),
            (1024, 8192, 16384, 8192)
        );
    }

    #[test]
    fn seconds_may_have_a_fraction() {
        let args = parse(&["--read-timeout", "0.5"]).unwrap();
        assert_eq!(args.read_timeout, Duration::from_millis(500));
    }

    #[test]
    fn bad_values_are_refused() {
        for bad in [
            &["--read-timeout", "-1"][..],
            &["--read-timeout", "abc"],
            &["--read-timeout", "NaN"],
            // Under a nanosecond: a zero timeout, which closes every connection at once.
            &["--read-timeout", "1e-10"],
            &["--idle-timeout", "0.0009"],
            &["--timeout-status", "500"],
            &["--max-connections", "0"],
            &["--sync", "sometimes"],
            &["--addr", "nowhere"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn timeout_status_408_is_accepted() {
        assert_eq!(
            parse(&["--timeout-status", "408"]).unwrap().timeout_status,
            408
        );
    }

    #[test]
    fn the_lab_pair_is_refused_off_loopback() {
        let mut args = parse(&["--addr", "0.0.0.0:0"]).unwrap();
        args.credentials = CredentialArgs {
            user: None,
            password_file: None,
        };
        // WORDWIRE_PASSWORD may be set in the environment of whoever runs the tests.
        if std::env::var_os("WORDWIRE_PASSWORD").is_none() {
            let error = args.to_config().unwrap_err();
            assert!(
                error.contains("refusing to serve the lab credentials"),
                "{error}"
            );
        }
    }

    #[test]
    fn a_password_file_supplies_the_password() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        fs::write(&file, "s3cret\n").unwrap();
        let creds = CredentialArgs {
            user: Some("alice".into()),
            password_file: Some(file),
        }
        .resolve()
        .unwrap();
        assert_eq!((creds.user(), creds.password()), ("alice", "s3cret"));
        let creds = CredentialArgs {
            user: Some("alice".into()),
            password_file: Some(dir.path().join("missing")),
        };
        assert!(
            creds
                .resolve()
                .unwrap_err()
                .contains("cannot read password file")
        );
    }

    #[test]
    fn the_environment_supplies_credentials_and_a_half_pair_is_refused() {
        let none = CredentialArgs {
            user: None,
            password_file: None,
        };
        let env = |name: &str| {
            Ok(match name {
                "WORDWIRE_USER" => Some("bob".to_owned()),
                "WORDWIRE_PASSWORD" => Some("pw".to_owned()),
                _ => None,
            })
        };
        let creds = none.resolve_with(&env).unwrap();
        assert_eq!((creds.user(), creds.password()), ("bob", "pw"));
        let only_user = |name: &str| Ok((name == "WORDWIRE_USER").then(|| "bob".to_owned()));
        assert!(
            none.resolve_with(&only_user)
                .unwrap_err()
                .contains("no password")
        );
        assert!(none.resolve_with(&no_env).unwrap().is_lab_default());
    }

    #[test]
    fn control_characters_in_credentials_are_refused() {
        let none = CredentialArgs {
            user: None,
            password_file: None,
        };
        for (user, password) in [("bo\nb", "pw"), ("bob", "p\tw"), ("bob", "pw\x7f")] {
            let env = |name: &str| {
                Ok(match name {
                    "WORDWIRE_USER" => Some(user.to_owned()),
                    "WORDWIRE_PASSWORD" => Some(password.to_owned()),
                    _ => None,
                })
            };
            let error = none.resolve_with(&env).unwrap_err();
            assert!(
                error.contains("control characters (RFC 7617 §2)"),
                "{error}"
            );
        }
    }

    #[test]
    fn an_environment_value_that_is_not_utf8_is_an_error() {
        use std::os::unix::ffi::OsStringExt;
        assert_eq!(
            env_text(
                "WORDWIRE_PASSWORD",
                Some(std::ffi::OsString::from_vec(b"\xff".to_vec()))
            ),
            Err("WORDWIRE_PASSWORD is not valid UTF-8".to_owned())
        );
        assert_eq!(
            env_text("WORDWIRE_USER", Some("bob".into())),
            Ok(Some("bob".to_owned()))
        );
        assert_eq!(env_text("WORDWIRE_USER", None), Ok(None));
    }
}
