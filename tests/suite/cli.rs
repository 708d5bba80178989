//! The command line: clap's errors, options after the verb, completions, man pages.
//! Here: running the binary with arguments and checking its exit status and messages.

use std::process::{Command, Output};

use wordwire::auth::Credentials;

use crate::support::{ServerProcess, TestServer, binary, run_binary};

/// Runs the binary in a temporary directory with no credentials in the environment.
fn wordwire(args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    Command::new(binary())
        .args(args)
        .current_dir(dir.path())
        .env_remove("WORDWIRE_USER")
        .env_remove("WORDWIRE_PASSWORD")
        .output()
        .expect("run wordwire")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Asserts that `args` is a flag error: exit 2, clap's usage line, and each of `expected` on stderr.
fn assert_flag_error(args: &[&str], expected: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr) = run_binary(args, dir.path());
    assert_eq!(code, Some(2), "{args:?}: {stderr}");
    assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
    assert!(stderr.contains("Usage: wordwire"), "{args:?}: {stderr}");
    for text in expected {
        assert!(
            stderr.contains(text),
            "{args:?} should say {text:?}: {stderr}"
        );
    }
}

#[test]
fn a_missing_argument_is_named_with_the_usage_line() {
    assert_flag_error(
        &["client", "put", "onlyone"],
        &[
            "the following required arguments were not provided:\n  <NEW>",
            "Usage: wordwire client put <OLD> <NEW>",
        ],
    );
}

#[test]
fn an_invalid_value_lists_the_valid_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr) = run_binary(&["serve", "--sync", "sometimes"], dir.path());
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("invalid value 'sometimes' for '--sync <SYNC>'")
            && stderr.contains("[possible values: always, none]"),
        "{stderr}"
    );
    let (code, stderr) = run_binary(&["serve", "--read-timeout", "soon"], dir.path());
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("expected seconds, e.g. 10 or 0.5"),
        "{stderr}"
    );
}

#[test]
fn replay_coverage_refuses_the_flags_of_a_run_instead_of_ignoring_them() {
    // --coverage plays nothing: a flag that shapes a run would be silently ignored.
    for (flag, named) in [
        (&["--format", "json"][..], "'--format <FORMAT>'"),
        (&["--target-cmd", "./server {port}"], "'--target-cmd <CMD>'"),
        (&["--jobs", "2"], "'--jobs <JOBS>'"),
        (&["--exact"], "'--exact'"),
        (&["--contract"], "'--contract'"),
    ] {
        let mut args = vec!["replay", "--coverage"];
        args.extend_from_slice(flag);
        assert_flag_error(
            &args,
            &[&format!(
                "the argument '--coverage' cannot be used with {named}"
            )],
        );
    }
    let alone = wordwire(&["replay", "--coverage"]);
    assert_eq!(alone.status.code(), Some(0), "{alone:?}");
    assert!(stdout(&alone).contains(" transcripts\n"), "{alone:?}");
}

#[test]
fn an_address_with_a_line_break_is_named_escaped_on_one_line() {
    // Refused as a flag value (cli::address), before any lookup; the CR LF must not split
    // the error line.
    let output = wordwire(&["client", "--addr", "127.0.0.1:1\r\nX: y", "get"]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.lines().next(),
        Some(
            "error: invalid value '127.0.0.1:1\\r\\nX: y' for '--addr <ADDR>': an address has no control characters"
        ),
        "{stderr:?}"
    );
}

#[test]
fn a_misspelt_subcommand_or_flag_gets_a_suggestion() {
    assert_flag_error(&["serv"], &["a similar subcommand exists: 'serve'"]);
    assert_flag_error(
        &["serve", "--max-bodi", "5"],
        &[
            "unexpected argument '--max-bodi'",
            "a similar argument exists: '--max-body'",
        ],
    );
}

#[test]
fn help_and_version_go_to_stdout_with_exit_0() {
    let help = wordwire(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(
        stdout(&help).contains("Usage: wordwire <COMMAND>"),
        "{}",
        stdout(&help)
    );
    // The read timeout's help names both of its cases (conn.rs: a fresh connection
    // waits in `Idle` until the read timeout, and silence there closes quietly).
    let serve = stdout(&wordwire(&["serve", "--help"]));
    assert!(
        serve.contains("Longest silence between bytes of a started request, in seconds: then 504 (see --timeout-status) and close. A new connection that sends nothing at all is closed silently after it, with no response [default: 10]"),
        "{serve}"
    );
    let version = wordwire(&["client", "--version"]);
    assert_eq!(version.status.code(), Some(0));
    assert_eq!(
        stdout(&version),
        format!("wordwire-client {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn client_options_may_follow_the_verb() {
    let server = TestServer::start("alpha\n", |config| {
        config.credentials = Credentials::new("alice", "s3cret");
    });
    let addr = server.addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let password = dir.path().join("pw");
    std::fs::write(&password, "s3cret\n").unwrap();
    let password = password.to_str().unwrap();

    let get = wordwire(&[
        "client",
        "get",
        "--addr",
        &addr,
        "--user",
        "alice",
        "--password-file",
        password,
    ]);
    assert_eq!(get.status.code(), Some(0), "{get:?}");
    assert_eq!(stdout(&get), "HTTP/1.1 200 OK\nalpha\n");

    // The same flags before the verb, with a wrong user: the server is asked, and says 401.
    let refused = wordwire(&[
        "client",
        "--addr",
        &addr,
        "--user",
        "bob",
        "--password-file",
        password,
        "get",
    ]);
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    assert!(
        stdout(&refused).starts_with("HTTP/1.1 401 Unauthorized\n"),
        "{refused:?}"
    );

    let post = wordwire(&["client", "post", "beta", "--timeout", "5", "--addr", &addr]);
    assert_eq!(stdout(&post), "HTTP/1.1 200 OK\nadded beta\n");
    assert_eq!(server.store_bytes(), "alpha\nbeta\n");
}

#[test]
fn client_timeout_names_the_timeout_flag_in_one_line_and_exits_2() {
    // Accepts and never answers: the client's --timeout is what ends the wait.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let held = std::thread::spawn(move || listener.accept().map(|(conn, _)| conn));
    let output = wordwire(&["client", "--addr", &addr, "--timeout", "0.3", "get"]);
    drop(held.join());
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert_eq!(stdout(&output), "");
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        format!("wordwire client: no answer from {addr} within 0.3 s (--timeout)\n")
    );
}

#[test]
fn bash_completion_completes_subcommands_and_flags() {
    let script = stdout(&wordwire(&["completions", "bash"]));
    let complete = |line: &str| {
        let words: Vec<&str> = line.split(' ').collect();
        let program = format!(
            "{script}\nCOMP_WORDS=({}); COMP_CWORD={}; _wordwire wordwire \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            words.join(" "),
            words.len() - 1
        );
        let output = Command::new("bash")
            .args(["--norc", "-c", &program])
            .output()
            .expect("run bash");
        assert!(output.status.success(), "{output:?}");
        stdout(&output)
    };
    assert_eq!(complete("wordwire se"), "serve\n");
    assert!(complete("wordwire serve --max-b").contains("--max-body\n"));
    let verbs = complete("wordwire client ''");
    for verb in ["post", "get", "put", "delete"] {
        assert!(verbs.contains(&format!("{verb}\n")), "{verbs}");
    }
}

#[test]
fn zsh_and_fish_completions_name_the_subcommands() {
    let zsh = stdout(&wordwire(&["completions", "zsh"]));
    assert!(zsh.starts_with("#compdef wordwire\n"), "{zsh}");
    let fish = stdout(&wordwire(&["completions", "fish"]));
    assert!(
        fish.contains("complete -c wordwire") && fish.contains("-a \"serve\""),
        "{fish}"
    );
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr) = run_binary(&["completions", "tcsh"], dir.path());
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("[possible values: bash, elvish, fish, powershell, zsh]"),
        "{stderr}"
    );
}

#[test]
fn man_pages_cover_the_binary_and_each_subcommand() {
    let page = stdout(&wordwire(&["man"]));
    assert!(page.contains(".TH wordwire 1"), "{page}");
    assert!(page.contains("wordwire\\-serve(1)"), "{page}");
    let serve = stdout(&wordwire(&["man", "serve"]));
    assert!(serve.contains(".TH wordwire-serve 1"), "{serve}");
    assert!(serve.contains("\\fB\\-\\-max\\-body\\fR"), "{serve}");
    let missing = wordwire(&["man", "nope"]);
    assert_eq!(missing.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&missing.stderr),
        "wordwire man: no subcommand \"nope\"; see wordwire --help\n"
    );
}

/// Every flag that takes an address, with the other arguments its subcommand needs.
const ADDRESS_FLAGS: [(&str, &[&str]); 5] = [
    ("--addr", &["serve"]),
    ("--addr", &["client", "get"]),
    ("--target", &["replay"]),
    ("--listen", &["record"]),
    ("--upstream", &["record"]),
];

#[test]
fn every_address_flag_refuses_https_in_one_line_that_says_why() {
    for (flag, command) in ADDRESS_FLAGS {
        let mut args = command.to_vec();
        args.extend([flag, "https://127.0.0.1:12345/"]);
        assert_flag_error(
            &args,
            &[&format!(
                "invalid value 'https://127.0.0.1:12345/' for '{flag} <"
            )],
        );
        let dir = tempfile::tempdir().unwrap();
        let (_, stderr) = run_binary(&args, dir.path());
        let first = stderr.lines().next().unwrap_or("");
        assert!(
            first.ends_with(
                "https:// is TLS, and wordwire speaks plain http:// only: give http://HOST:PORT or HOST:PORT"
            ),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn every_address_flag_says_what_is_wrong_with_an_address() {
    for (flag, command) in ADDRESS_FLAGS {
        for (typed, why) in [
            ("http://127.0.0.1:1/words", "`/words` after the address"),
            ("localhost", "no port: give localhost:PORT"),
            ("::1:80", "an IPv6 address goes in brackets"),
            ("99999", "the port `99999` is not a number from 0 to 65535"),
        ] {
            let mut args = command.to_vec();
            args.extend([flag, typed]);
            assert_flag_error(&args, &[why]);
        }
    }
}

#[test]
fn client_takes_a_url_and_a_bare_port() {
    let server = TestServer::start("", |_| {});
    let port = server.addr.port().to_string();
    let url = format!("http://{}/", server.addr);
    let localhost = format!("localhost:{port}");
    for (addr, word) in [(&url, "one"), (&port, "two"), (&localhost, "three")] {
        let post = wordwire(&["client", "--addr", addr, "post", word]);
        assert_eq!(
            stdout(&post),
            format!("HTTP/1.1 200 OK\nadded {word}\n"),
            "{addr}: {post:?}"
        );
    }
    assert_eq!(server.store_bytes(), "one\ntwo\nthree\n");
}

#[test]
fn serve_listens_on_a_bare_port_on_loopback_and_on_a_url() {
    let dir = tempfile::tempdir().unwrap();
    for addr in ["0", "http://127.0.0.1:0/"] {
        let mut command = Command::new(binary());
        command
            .args(["serve", "--addr", addr, "--store"])
            .arg(dir.path().join(format!("words{}.txt", addr.len())))
            .env_remove("WORDWIRE_USER")
            .env_remove("WORDWIRE_PASSWORD")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        let server = ServerProcess::spawn(command);
        assert!(server.addr.ip().is_loopback(), "{addr}: {}", server.addr);
        assert_ne!(server.addr.port(), 0, "{addr}");
    }
}

#[test]
fn replay_target_and_record_upstream_take_a_url() {
    let server = TestServer::start("", |_| {});
    let url = format!("http://{}/", server.addr);
    let transcript = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/transcripts/methods/options-is-204-with-allow.transcript"
    );
    let replay = wordwire(&["replay", "--target", &url, transcript]);
    assert_eq!(replay.status.code(), Some(0), "{replay:?}");
    assert!(stdout(&replay).contains("1 passed, 0 failed"), "{replay:?}");

    // record: a bare port 0 to listen on (loopback), the server as a URL.
    let mut command = Command::new(binary());
    command
        .args(["record", "--once", "--listen", "0", "--upstream", &url])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut recorder = ServerProcess::spawn(command);
    assert!(recorder.addr.ip().is_loopback(), "{}", recorder.addr);
    let post = wordwire(&[
        "client",
        "--addr",
        &recorder.addr.to_string(),
        "post",
        "relayed",
    ]);
    assert_eq!(
        stdout(&post),
        "HTTP/1.1 200 OK\nadded relayed\n",
        "{post:?}"
    );
    assert_eq!(
        recorder.wait_exit(std::time::Duration::from_secs(10)),
        Some(0)
    );
    assert_eq!(server.store_bytes(), "relayed\n");
}

#[test]
fn client_takes_user_and_password_as_curl_does_and_never_prompts() {
    let server = TestServer::start("alpha\n", |config| {
        config.credentials = Credentials::new("alice", "s3cret");
    });
    let addr = server.addr.to_string();
    for args in [
        &["client", "-u", "alice:s3cret", "--addr", &addr, "get"][..],
        &["client", "--addr", &addr, "get", "--user", "alice:s3cret"],
    ] {
        let get = wordwire(args);
        assert_eq!(get.status.code(), Some(0), "{args:?}: {get:?}");
        assert_eq!(stdout(&get), "HTTP/1.1 200 OK\nalpha\n");
    }
    // A colon in the password is the password's: only the first one splits (RFC 7617 §2).
    let wrong = wordwire(&["client", "-u", "alice:s3:cret", "--addr", &addr, "get"]);
    assert_eq!(wrong.status.code(), Some(1), "{wrong:?}");

    let dir = tempfile::tempdir().unwrap();
    let password = dir.path().join("pw");
    std::fs::write(&password, "s3cret\n").unwrap();
    let password = password.to_str().unwrap();
    for (args, said) in [
        (
            &["client", "-u", "alice:", "--addr", &addr, "get"][..],
            "wordwire client: -u alice: has no password after the colon, and the client does not prompt for one (curl would): give -u alice:PASSWORD, or -u alice with --password-file FILE or WORDWIRE_PASSWORD\n",
        ),
        (
            &["client", "-u", "alice", "--addr", &addr, "get"],
            "wordwire client: -u alice has no password, and the client does not prompt for one (curl would): give -u alice:PASSWORD, or -u alice with --password-file FILE or WORDWIRE_PASSWORD\n",
        ),
        (
            &[
                "client",
                "-u",
                "alice:s3cret",
                "--password-file",
                password,
                "get",
            ],
            "wordwire client: a password in -u USER:PASSWORD and --password-file: give one of them\n",
        ),
    ] {
        let output = wordwire(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {output:?}");
        assert_eq!(String::from_utf8_lossy(&output.stderr), said, "{args:?}");
    }
}
