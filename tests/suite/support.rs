//! Shared by the integration tests: starting servers (in-process and as the binary),
//! clients that speak raw bytes, credentials and temporary stores.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wordwire::auth::Credentials;
use wordwire::client::ResponseReader;
use wordwire::server::{Config, RunningServer, Server};
use wordwire::store::{FileStore, Store, SyncMode};

/// `Authorization` value of the lab pair.
pub fn auth() -> String {
    Credentials::lab_default().header_value()
}

/// An in-process server on a temporary store.
pub struct TestServer {
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    running: Option<RunningServer>,
}

impl TestServer {
    /// Contract defaults with `adjust` applied, on a store holding `words`.
    pub fn start(words: &str, adjust: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("words.txt");
        std::fs::write(&path, words).expect("seed store");
        let (store, _) = FileStore::open(&path, SyncMode::Always).expect("open store");
        TestServer::with_store(dir, Arc::new(store), adjust)
    }

    /// A server over any `Store`, e.g. one that fails on purpose.
    pub fn with_store(
        dir: tempfile::TempDir,
        store: Arc<dyn Store>,
        adjust: impl FnOnce(&mut Config),
    ) -> TestServer {
        let mut config = Config::new("127.0.0.1:0".parse().unwrap(), Credentials::lab_default());
        config.access_log = false;
        adjust(&mut config);
        let running = Server::bind(config, store).expect("bind").spawn();
        TestServer {
            addr: running.addr(),
            dir,
            running: Some(running),
        }
    }

    pub fn store_path(&self) -> PathBuf {
        self.dir.path().join("words.txt")
    }

    pub fn store_bytes(&self) -> String {
        std::fs::read_to_string(self.store_path()).expect("read store")
    }

    pub fn connect(&self) -> Client {
        Client::connect(self.addr)
    }

    /// Sends `request` on a new connection and returns the first response.
    pub fn ask(&self, request: &str) -> Reply {
        let mut client = self.connect();
        client.send(request.as_bytes());
        client.reply()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            let _ = running.shutdown();
        }
    }
}

/// One parsed response: its status, its head as text, its body as text.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.split("\r\n").skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// A raw TCP client: bytes out on `stream`, responses read by the crate's `ResponseReader`.
pub struct Client {
    pub stream: TcpStream,
    reader: ResponseReader<TcpStream>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let reader = ResponseReader::new(stream.try_clone().expect("clone the socket"));
        Client { stream, reader }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
    }

    /// Reads one response; panics if none arrives (close, timeout, malformed).
    pub fn reply(&mut self) -> Reply {
        self.read(false)
    }

    /// Reads the answer to a HEAD request: a head and no body, whatever Content-Length says.
    pub fn head_reply(&mut self) -> Reply {
        self.read(true)
    }

    fn read(&mut self, after_head: bool) -> Reply {
        let response = self
            .reader
            .read_response(after_head)
            .unwrap_or_else(|error| {
                panic!(
                    "no response: {error}; got {:?}",
                    String::from_utf8_lossy(error.partial())
                )
            });
        Reply {
            status: response.status,
            head: String::from_utf8(response.head().to_vec()).expect("ASCII head"),
            body: String::from_utf8(response.body).expect("UTF-8 body"),
        }
    }

    /// True if the server closes the connection (EOF or reset) within `within`, with no more bytes.
    pub fn closed_within(&mut self, within: Duration) -> bool {
        self.stream.set_read_timeout(Some(within)).unwrap();
        if !self.reader.buffered().is_empty() {
            return false;
        }
        let mut chunk = [0u8; 64];
        match self.stream.read(&mut chunk) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
        }
    }
}

/// The `wordwire serve` binary, started on port 0.
pub struct ServerProcess {
    pub child: Child,
    pub addr: SocketAddr,
    pub log: Arc<Mutex<Vec<String>>>,
}

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_wordwire")
}

/// How the tests start the Python implementations and clients (`tests/impls`, `tests/clients`):
/// the `python3` on PATH, by the path of its interpreter, with `-S`. The suite starts some
/// hundreds of them, and a version manager's `python3` is a shell script that execs the
/// interpreter (pyenv's: 350 ms a start on a loaded 2-core machine, against 150 ms direct),
/// while `-S` skips `site`, whose `.pth` files import packages the scripts never use
/// (certifi: 30-40 ms). The scripts use only the standard library.
pub fn python3() -> &'static str {
    static PYTHON: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PYTHON.get_or_init(|| {
        // The system's interpreter first: a box (the grader's default) runs what the
        // system directories hold, and pyenv's `python3` is a shell script elsewhere.
        if Path::new("/usr/bin/python3").is_file() {
            return "/usr/bin/python3 -S".to_owned();
        }
        let executable = Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            // Pasted into commands as it is: a path that needs quoting is not used.
            .filter(|path| {
                !path.is_empty()
                    && path
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "/._-+".contains(c))
            });
        match executable {
            Some(path) => format!("{path} -S"),
            None => "python3 -S".to_owned(),
        }
    })
}

/// A `Command` for `wordwire serve` with a clean credential environment.
pub fn serve_command(store: &Path, extra: &[&str]) -> Command {
    let mut command = Command::new(binary());
    command
        .arg("serve")
        .args(["--addr", "127.0.0.1:0", "--store"])
        .arg(store)
        .args(extra)
        .env_remove("WORDWIRE_USER")
        .env_remove("WORDWIRE_PASSWORD")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

impl ServerProcess {
    /// Spawns `command` and waits for its `listening on` line; the rest of stderr is collected.
    pub fn spawn(command: Command) -> ServerProcess {
        ServerProcess::try_spawn(command, |_| true).unwrap_or_else(|log| panic!("{log}"))
    }

    /// Spawns `command` and waits for its `listening on` line, or returns what it
    /// logged if it exits first. After start-up only the lines `keep` accepts are
    /// collected (a long soak would pile up the access log).
    pub fn try_spawn(
        mut command: Command,
        keep: fn(&str) -> bool,
    ) -> Result<ServerProcess, String> {
        let mut child = command
            .spawn()
            .map_err(|e| format!("spawn wordwire: {e}"))?;
        let stderr = child.stderr.take().expect("piped stderr");
        let mut lines = BufReader::new(stderr).lines();
        let log = Arc::new(Mutex::new(Vec::new()));
        let addr = loop {
            let Some(Ok(line)) = lines.next() else {
                let _ = child.wait();
                return Err(format!(
                    "server exited before listening:\n{}",
                    log.lock().unwrap().join("\n")
                ));
            };
            log.lock().unwrap().push(line.clone());
            if let Some(addr) = line.strip_prefix("listening on ") {
                break addr.parse().expect("address");
            }
        };
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if keep(&line) {
                    sink.lock().unwrap().push(line);
                }
            }
        });
        Ok(ServerProcess { child, addr, log })
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) with a pid we own and a valid signal number.
        let rc = unsafe { libc::kill(self.child.id() as i32, signal) };
        assert_eq!(rc, 0, "kill failed");
    }

    /// Waits up to `within` for the process to exit; returns its exit code.
    pub fn wait_exit(&mut self, within: Duration) -> Option<i32> {
        let until = Instant::now() + within;
        while Instant::now() < until {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    /// Waits up to five seconds for a log line containing `needle`, and returns that line.
    pub fn wait_for_log_line(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(line) = self.log_text().lines().find(|l| l.contains(needle)) {
                return line.to_owned();
            }
            assert!(
                Instant::now() < deadline,
                "no log line with {needle:?}:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the binary to completion with `args`, returning (exit code, stderr).
pub fn run_binary(args: &[&str], dir: &Path) -> (Option<i32>, String) {
    let output = Command::new(binary())
        .args(args)
        .current_dir(dir)
        .env_remove("WORDWIRE_USER")
        .env_remove("WORDWIRE_PASSWORD")
        .output()
        .expect("run wordwire");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// As `run_binary`, with stdin empty, but fails the test instead of hanging if the binary has
/// not exited within `within` (a start that should be refused, a recording that should stop).
pub fn run_binary_within(args: &[&str], dir: &Path, within: Duration) -> (Option<i32>, String) {
    let mut command = Command::new(binary());
    command
        .args(args)
        .current_dir(dir)
        .env_remove("WORDWIRE_USER")
        .env_remove("WORDWIRE_PASSWORD");
    let output = output_within(&mut command, within);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.code(), stderr)
}

/// The project's transcripts under `part` (`transcripts` or a directory in it) of the
/// checkout: those `transcripts/SUITE` lists, so that a file a user copied into
/// `transcripts/` (docs/LAB.md, step 4) is not graded by the tests.
pub fn suite_files(part: &str) -> Vec<PathBuf> {
    suite_files_in(Path::new(env!("CARGO_MANIFEST_DIR")), part)
}

/// As `suite_files`, in the checkout (or copy) at `root`.
pub fn suite_files_in(root: &Path, part: &str) -> Vec<PathBuf> {
    let under = root.join(part);
    wordwire::grading::suite::builtin::listed(&root.join("transcripts"))
        .expect("transcripts/SUITE lists the suite")
        .into_iter()
        .filter(|path| path.starts_with(&under))
        .collect()
}

/// A directory for test files that a box must not reach, outside `/tmp` (which a box sees
/// as its own, so a path under it is hidden rather than refused): cargo's test directory,
/// or `/var/tmp` when the checkout itself lies under `/tmp`.
pub fn outside_tmp() -> PathBuf {
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    if !target.starts_with("/tmp") {
        return target;
    }
    let var = PathBuf::from("/var/tmp");
    if var.is_dir() { var } else { target }
}

/// `tests/impls/`: the small servers and clients the grading tests grade.
pub fn impls() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/impls")
}

/// Spawns `command` with stdout and stderr piped and collects them, as
/// `Command::output` does, but kills it (and fails the test) if it has not exited
/// within `within`.
pub fn output_within(command: &mut Command, within: Duration) -> std::process::Output {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let read = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let out = read(Box::new(child.stdout.take().expect("piped stdout")));
    let err = read(Box::new(child.stderr.take().expect("piped stderr")));
    let deadline = Instant::now() + within;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command:?} still running after {within:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    std::process::Output {
        status,
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
    }
}
