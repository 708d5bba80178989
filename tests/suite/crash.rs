//! Crash safety of the real binary: SIGKILL at random instants under concurrent POST, PUT and
//! DELETE, restart on the same file, and compare it with a model of what was acknowledged.
//! Also recovery at start, and SIGTERM under write load.
//!
//! The model is exact because each client owns its words (all tagged `cNN`) and sends one
//! request at a time: the client's lines, read from the file in order, must equal what its
//! acknowledged requests produced, or that plus the effect of the one request it had in
//! flight when the server died. Nothing else is allowed, except that an append torn by the
//! kill may leave a prefix of its word as the last line, which recovery keeps (a prefix of a
//! word is a word; see "Durability" in the contract). Seed lines, which no client touches,
//! must all survive in order.
//!
//! `WORDWIRE_CRASH_ROUNDS=500 cargo test --test suite crash -- --nocapture` runs a long soak;
//! `WORDWIRE_CRASH_SEED=N` fixes the random choices (the kill instants still vary).

use std::collections::HashSet;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use wordwire::client::ResponseReader;

use crate::support::{ServerProcess, auth, serve_command};

const CLIENTS: usize = 4;
const NAMES: [&str; 4] = ["ant", "bee", "cat", "dog"];
/// Rounds in a normal test run; `WORDWIRE_CRASH_ROUNDS` overrides.
const DEFAULT_ROUNDS: usize = 25;

/// A tiny xorshift generator, so that the test needs no extra crate and a seed replays choices.
struct Rng(u64);

impl Rng {
    fn from_env() -> Rng {
        let seed = std::env::var("WORDWIRE_CRASH_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64;
                nanos ^ u64::from(std::process::id()) << 32
            });
        eprintln!("crash test seed: WORDWIRE_CRASH_SEED={seed}");
        Rng(seed | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One request a client sends.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    Post(String),
    Put(String, String),
    Delete(String),
}

impl Op {
    /// What the request does to the client's lines, and the answer it must get.
    fn apply(&self, lines: &mut Vec<String>) -> (u16, String) {
        match self {
            Op::Post(word) => {
                lines.push(word.clone());
                (200, format!("added {word}\n"))
            }
            Op::Put(old, new) => {
                let mut n = 0;
                for line in lines.iter_mut().filter(|l| *l == old) {
                    *line = new.clone();
                    n += 1;
                }
                match n {
                    0 => (400, format!("{old} is not in the store\n")),
                    n => (200, format!("replaced {n}\n")),
                }
            }
            Op::Delete(word) => {
                let before = lines.len();
                lines.retain(|l| l != word);
                match before - lines.len() {
                    0 => (400, format!("{word} is not in the store\n")),
                    n => (200, format!("deleted {n}\n")),
                }
            }
        }
    }

    fn request(&self) -> Vec<u8> {
        let (method, body) = match self {
            Op::Post(w) => ("POST", w.clone()),
            Op::Put(old, new) => ("PUT", format!("{old} {new}")),
            Op::Delete(w) => ("DELETE", w.clone()),
        };
        format!(
            "{method} / HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }
}

fn tag(client: usize) -> String {
    format!("c{client:02}")
}

fn random_op(client: usize, rng: &mut Rng, rewrite_share: u64) -> Op {
    let word = |rng: &mut Rng| format!("{}{}", tag(client), NAMES[rng.below(4) as usize]);
    let roll = rng.below(100);
    if roll >= rewrite_share {
        Op::Post(word(rng))
    } else if roll.is_multiple_of(2) {
        let old = word(rng);
        let mut new = word(rng);
        while new == old {
            new = word(rng);
        }
        Op::Put(old, new)
    } else {
        Op::Delete(word(rng))
    }
}

/// One response, or `None` if the connection failed first (the server died).
fn exchange(conn: &mut ResponseReader<TcpStream>, request: &[u8]) -> Option<(u16, String)> {
    conn.get_mut().write_all(request).ok()?;
    let response = conn.read_response(false).ok()?;
    Some((
        response.status,
        String::from_utf8_lossy(&response.body).into_owned(),
    ))
}

/// What one client did in a round: its lines after its acknowledged requests, the request it
/// had in flight when the server died, and the first wrong answer, if any.
struct ClientRun {
    lines: Vec<String>,
    in_flight: Option<Op>,
    wrong: Option<String>,
    acked: usize,
}

/// Sends random requests until the server dies, checking each answer against the model.
fn drive(
    addr: SocketAddr,
    client: usize,
    mut lines: Vec<String>,
    seed: u64,
    rewrite_share: u64,
) -> ClientRun {
    let mut rng = Rng(seed | 1);
    let mut run = ClientRun {
        lines: Vec::new(),
        in_flight: None,
        wrong: None,
        acked: 0,
    };
    let Ok(stream) = TcpStream::connect(addr) else {
        run.lines = lines;
        return run;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut conn = ResponseReader::new(stream);
    loop {
        let op = random_op(client, &mut rng, rewrite_share);
        let Some(got) = exchange(&mut conn, &op.request()) else {
            run.in_flight = Some(op);
            break;
        };
        let want = op.apply(&mut lines);
        run.acked += 1;
        if got != want && run.wrong.is_none() {
            run.wrong = Some(format!(
                "client {client}: {op:?} answered {got:?}, model says {want:?}"
            ));
        }
    }
    run.lines = lines;
    run
}

/// Starts the binary, or says why it did not reach `listening on`. Only the
/// `store:` lines are kept afterwards: a soak would pile up the access log.
fn start(store: &Path, extra: &[&str]) -> Result<ServerProcess, String> {
    ServerProcess::try_spawn(serve_command(store, extra), |line| {
        line.starts_with("store")
    })
}

fn get(addr: SocketAddr) -> Option<Vec<u8>> {
    let mut conn = ResponseReader::new(TcpStream::connect(addr).ok()?);
    let request = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nConnection: close\r\n\r\n",
        auth()
    );
    conn.get_mut().write_all(request.as_bytes()).ok()?;
    Some(conn.read_response(false).ok()?.body)
}

/// Everything the file may hold, as far as the test knows.
struct Model {
    seeds: Vec<String>,
    clients: Vec<Vec<String>>,
    /// Torn prefixes too short to carry a client's tag, kept by recovery in earlier rounds.
    strays: Vec<String>,
}

/// Checks the restarted store against the model and the requests in flight at the kill, and
/// moves the model to what the file shows. Errors say what was lost or invented.
fn check(
    dir: &Path,
    addr: SocketAddr,
    model: &mut Model,
    in_flight: &[Option<Op>],
) -> Result<(), String> {
    let store = dir.join("words.txt");
    let bytes = std::fs::read(&store).map_err(|e| e.to_string())?;
    if get(addr).as_deref() != Some(&bytes[..]) {
        return Err("GET does not return the file's bytes".into());
    }
    for entry in std::fs::read_dir(dir).map_err(|e| e.to_string())? {
        let name = entry.map_err(|e| e.to_string())?.file_name();
        let name = name.to_string_lossy();
        if name.contains(".tmp.") || name.ends_with(".torn") {
            return Err(format!("{name} is left next to the store after start"));
        }
    }
    if !(bytes.is_empty() || bytes.ends_with(b"\n")) {
        return Err("the file does not end in LF".into());
    }
    let text = String::from_utf8(bytes).map_err(|_| "the file is not UTF-8".to_owned())?;
    let lines: Vec<&str> = text.lines().collect();
    if let Some(bad) = lines
        .iter()
        .find(|l| l.is_empty() || l.len() > 64 || !l.bytes().all(|b| b.is_ascii_alphanumeric()))
    {
        return Err(format!("line {bad:?} is not a word"));
    }
    let last = lines.last().copied();
    let seeds: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with('s'))
        .collect();
    if seeds != model.seeds {
        return Err(format!(
            "seed lines changed: {} of {} left",
            seeds.len(),
            model.seeds.len()
        ));
    }
    // A torn append leaves a prefix of the word it was writing, as the file's last line.
    let torn_prefix_of = |op: &Option<Op>, line: &str| {
        matches!(op, Some(Op::Post(w)) if w.len() > line.len() && w.starts_with(line))
            && last == Some(line)
    };
    for (client, lines_before) in model.clients.iter_mut().enumerate() {
        let mine: Vec<String> = lines
            .iter()
            .filter(|l| l.starts_with(&tag(client)))
            .map(|l| l.to_string())
            .collect();
        let op = &in_flight[client];
        let mut applied = lines_before.clone();
        if let Some(op) = op {
            op.apply(&mut applied);
        }
        let torn = mine.len() == lines_before.len() + 1
            && mine[..lines_before.len()] == lines_before[..]
            && torn_prefix_of(op, &mine[lines_before.len()]);
        if mine != *lines_before && mine != applied && !torn {
            return Err(format!(
                "client {client}: file has {mine:?}; acknowledged {lines_before:?}, in flight {op:?}"
            ));
        }
        *lines_before = mine;
    }
    let strays: Vec<String> = lines
        .iter()
        .filter(|l| !l.starts_with('s') && (0..CLIENTS).all(|c| !l.starts_with(&tag(c))))
        .map(|l| l.to_string())
        .collect();
    let new_stray = strays.len() == model.strays.len() + 1
        && strays[..model.strays.len()] == model.strays[..]
        && in_flight
            .iter()
            .any(|op| torn_prefix_of(op, &strays[model.strays.len()]));
    if strays != model.strays && !new_stray {
        return Err(format!("lines nobody wrote: {strays:?}"));
    }
    model.strays = strays;
    Ok(())
}

/// What a crash campaign saw.
#[derive(Debug, Default)]
struct Campaign {
    rounds: usize,
    acked: usize,
    temp_files_removed: usize,
    torn_tails: usize,
}

/// Runs `rounds` rounds of: start the server, drive the clients, SIGKILL at a random instant,
/// restart and check. Stops at the first failed check and returns its message.
fn crash_campaign(
    rounds: usize,
    seed_lines: usize,
    extra: &[&str],
    rewrite_share: u64,
    kill_after_ms: (u64, u64),
) -> Result<Campaign, String> {
    let mut rng = Rng::from_env();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("words.txt");
    let seeds: Vec<String> = (0..seed_lines).map(|i| format!("s{i:05}")).collect();
    std::fs::write(
        &store,
        seeds.iter().map(|s| format!("{s}\n")).collect::<String>(),
    )
    .unwrap();
    let mut model = Model {
        seeds,
        clients: vec![Vec::new(); CLIENTS],
        strays: Vec::new(),
    };
    let mut campaign = Campaign::default();
    let mut server = start(&store, extra)?;
    // Past `rounds`, go on (up to four times as many) until a kill has landed inside a
    // rewrite, so that every campaign exercises recovery at start.
    let mut round = 0;
    while round < rounds || (campaign.temp_files_removed == 0 && round < 4 * rounds) {
        let addr = server.addr;
        let handles: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let lines = model.clients[c].clone();
                let seed = rng.next();
                std::thread::spawn(move || drive(addr, c, lines, seed, rewrite_share))
            })
            .collect();
        let (low, high) = kill_after_ms;
        std::thread::sleep(Duration::from_millis(low + rng.below(high - low)));
        server.signal(libc::SIGKILL);
        let _ = server.child.wait();
        let runs: Vec<ClientRun> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        if let Some(wrong) = runs.iter().find_map(|r| r.wrong.clone()) {
            return Err(format!("round {round}: {wrong}"));
        }
        campaign.acked += runs.iter().map(|r| r.acked).sum::<usize>();
        let in_flight: Vec<Option<Op>> = runs.iter().map(|r| r.in_flight.clone()).collect();
        for (c, run) in runs.into_iter().enumerate() {
            model.clients[c] = run.lines;
        }
        server = start(&store, extra).map_err(|e| format!("round {round}: {e}"))?;
        let log = server.log_text();
        campaign.temp_files_removed += log.matches("left by an interrupted rewrite").count();
        campaign.torn_tails += log.matches("interrupted append").count();
        check(dir.path(), server.addr, &mut model, &in_flight)
            .map_err(|e| format!("round {round}: {e}\nstart-up log:\n{log}"))?;
        campaign.rounds += 1;
        round += 1;
    }
    Ok(campaign)
}

fn rounds_from_env() -> usize {
    std::env::var("WORDWIRE_CRASH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_ROUNDS)
}

#[test]
fn sigkill_at_random_instants_loses_no_acknowledged_change() {
    let rounds = rounds_from_env();
    match crash_campaign(rounds, 200, &[], 40, (10, 80)) {
        Ok(campaign) => {
            eprintln!("crash campaign: {campaign:?}");
            assert!(campaign.rounds >= rounds, "{campaign:?}");
            assert!(campaign.acked > 0, "no request was acknowledged");
            assert!(
                campaign.temp_files_removed > 0,
                "no restart recovered from a kill inside a rewrite: {campaign:?}"
            );
        }
        Err(failure) => panic!("{failure}"),
    }
}

/// The test of the test: against a store that rewrites in place without fsync, the same
/// check must find lost words. Debug builds only have that store (`--sync unsafe-in-place`);
/// a release build must refuse the flag.
#[test]
fn the_crash_check_catches_a_store_that_rewrites_in_place() {
    if !cfg!(debug_assertions) {
        let dir = tempfile::tempdir().unwrap();
        let output = serve_command(&dir.path().join("w.txt"), &["--sync", "unsafe-in-place"])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2));
        return;
    }
    // Many seed lines make each in-place rewrite thousands of writes long, and most requests
    // are PUT or DELETE, so a kill usually lands mid-rewrite; a few rounds are plenty.
    let outcome = crash_campaign(30, 3000, &["--sync", "unsafe-in-place"], 90, (20, 120));
    match outcome {
        Err(failure) => eprintln!(
            "caught, as it should be: {}",
            failure.lines().next().unwrap_or("")
        ),
        Ok(campaign) => panic!("the crash check passed an unsafe store: {campaign:?}"),
    }
}

#[test]
fn recovery_at_start_keeps_a_torn_word_and_removes_temp_files() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("words.txt");
    std::fs::write(&store, "alpha\nbeta\nga").unwrap();
    let temps = [".words.txt.tmp.999.0", ".words.txt.tmp.1234.7"];
    for temp in temps {
        std::fs::write(dir.path().join(temp), "half a rewr").unwrap();
    }
    std::fs::write(dir.path().join(".words.txt.tmp.mine"), "keep").unwrap();
    let server = start(&store, &[]).unwrap();
    let log = server.log_text();
    assert!(
        log.contains(
            "store: line 3 is a word without its final LF (interrupted append); added the LF"
        ),
        "{log}"
    );
    for temp in temps {
        let line = format!(
            "store: removed {}, left by an interrupted rewrite",
            dir.path().join(temp).display()
        );
        assert!(log.contains(&line), "{log}");
        assert!(!dir.path().join(temp).exists());
    }
    assert!(
        dir.path().join(".words.txt.tmp.mine").exists(),
        "not ours to remove"
    );
    assert!(!dir.path().join("words.txt.torn").exists());
    assert_eq!(
        std::fs::read_to_string(&store).unwrap(),
        "alpha\nbeta\nga\n"
    );
    assert_eq!(get(server.addr).unwrap(), b"alpha\nbeta\nga\n");
}

#[test]
fn recovery_at_start_moves_a_torn_non_word_to_the_torn_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("words.txt");
    std::fs::write(&store, b"alpha\nbe\xfft x").unwrap();
    let server = start(&store, &[]).unwrap();
    let torn = dir.path().join("words.txt.torn");
    let log = server.log_text();
    let line = format!(
        "store: final line without LF is not a word (interrupted append); moved its 6 bytes to {}",
        torn.display()
    );
    assert!(log.contains(&line), "{log}");
    assert_eq!(std::fs::read(&torn).unwrap(), b"be\xfft x\n");
    assert_eq!(std::fs::read(&store).unwrap(), b"alpha\n");
    assert_eq!(get(server.addr).unwrap(), b"alpha\n");
    drop(server);
    // A second torn tail is added to the same `.torn` file, never over it.
    std::fs::write(&store, b"alpha\n\r").unwrap();
    let server = start(&store, &[]).unwrap();
    assert_eq!(std::fs::read(&torn).unwrap(), b"be\xfft x\n\r\n");
    assert_eq!(get(server.addr).unwrap(), b"alpha\n");
}

#[test]
fn sigterm_under_write_load_exits_0_and_keeps_every_acknowledged_post() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("words.txt");
    let mut server = start(&store, &[]).unwrap();
    let addr = server.addr;
    let handles: Vec<_> = (0..CLIENTS)
        .map(|c| {
            std::thread::spawn(move || {
                let mut acked = Vec::new();
                let mut sent = Vec::new();
                'connections: while let Ok(stream) = TcpStream::connect(addr) {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                    let mut conn = ResponseReader::new(stream);
                    loop {
                        let word = format!("{}n{}", tag(c), sent.len());
                        sent.push(word.clone());
                        match exchange(&mut conn, &Op::Post(word.clone()).request()) {
                            Some((200, _)) => acked.push(word),
                            Some(other) => panic!("{word}: {other:?}"),
                            // Closed after the last answer (shutting down) or refused: reconnect.
                            None => continue 'connections,
                        }
                    }
                }
                (acked, sent)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    server.signal(libc::SIGTERM);
    assert_eq!(
        server.wait_exit(Duration::from_secs(10)),
        Some(0),
        "{}",
        server.log_text()
    );
    let text = std::fs::read_to_string(&store).unwrap();
    let lines: HashSet<&str> = text.lines().collect();
    assert_eq!(lines.len(), text.lines().count(), "a line is doubled");
    let mut all_sent = HashSet::new();
    let mut total = 0;
    for handle in handles {
        let (acked, sent) = handle.join().unwrap();
        total += acked.len();
        for word in &acked {
            assert!(
                lines.contains(word.as_str()),
                "acknowledged {word} is missing"
            );
        }
        all_sent.extend(sent);
    }
    assert!(total > 0, "no POST was acknowledged before the signal");
    for line in &lines {
        assert!(all_sent.contains(*line), "{line:?} was never sent");
    }
}
