//! Starting the next transcript's server while the current one plays.
//!
//! Here: `Ready` (a transcript loaded and, against a command, its server starting on
//! a thread of its own), `Lookahead` (a worker's next task, and one more begun), and
//! how many servers start ahead (`depth`) and in which order the plays go (`play_order`).
//! Elsewhere: the play (`grading::run_one`), the start on a thread
//! (`grading::target::start::Starting`), the workers (`replay::replay_all`,
//! `class::grade_all`).
//!
//! Why: a fresh Python server takes 40 to 60 ms to listen, while most transcripts
//! play in a few milliseconds, and the long ones mostly wait (an idle timeout, a
//! silence). Starts ahead overlap each start with the plays before it (at most
//! `--starts` at once: `grading::target::queue`); `--jobs` still counts the transcripts played at once, and each job has up to
//! `--ahead` more servers started. bench/SANDBOX.md has the figures.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::run_one::{Loaded, Options, load_for_play, replay_loaded, start_ahead};
use super::suite::transcript::{FormatError, Transcript};
use super::target::Target;
use super::target::foreign::Watch;
use super::target::start::Starting;
use super::verdict::TranscriptResult;

/// One transcript to play: loaded, and its server perhaps starting already.
pub struct Ready {
    path: PathBuf,
    loaded: Result<Loaded, FormatError>,
    start: Start,
}

/// Where the server of a `Ready` is.
enum Start {
    /// Started when the transcript plays: not ahead, or nothing to start.
    AtPlay,
    /// To start ahead once the command has started once (`StartGate::proven`): until
    /// then a start that cannot work fails once per play, and the gate stops the rest.
    Deferred(Box<Options>),
    Starting(Starting),
}

impl Ready {
    /// Loads `path`; with `ahead`, starts the server it plays against now (or as soon
    /// as the command has listened once), under `options.watch` (or a watch of its
    /// own, which kills it if it is dropped unplayed).
    pub fn begin(path: &Path, options: &Options, ahead: bool) -> Ready {
        let loaded = load_for_play(path, options);
        let mut ready = Ready {
            path: path.to_path_buf(),
            loaded,
            start: if ahead {
                Start::Deferred(Box::new(options.clone()))
            } else {
                Start::AtPlay
            },
        };
        ready.start_if_proven();
        ready
    }

    /// A deferred start begins if its command has listened once.
    fn start_if_proven(&mut self) {
        let Start::Deferred(options) = &self.start else {
            return;
        };
        let Target::Command(command) = &options.target else {
            self.start = Start::AtPlay;
            return;
        };
        if !command.gate.proven() {
            return;
        }
        self.start = match &self.loaded {
            Ok(Loaded::Server(t)) => {
                let watch = options
                    .watch
                    .clone()
                    .unwrap_or_else(|| Arc::new(Watch::default()));
                start_ahead(t, options, watch).map_or(Start::AtPlay, Start::Starting)
            }
            _ => Start::AtPlay,
        };
    }

    /// The transcript's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Plays it (with `options`, the same as `begin` had), waiting for its server.
    pub fn play(self, options: &Options) -> TranscriptResult {
        let starting = match self.start {
            Start::Starting(starting) => Some(starting),
            Start::AtPlay | Start::Deferred(_) => None,
        };
        replay_loaded(&self.path, self.loaded, options, starting)
    }
}

/// How many servers each job starts ahead for `options`' target: the command's
/// `--ahead` when every start has a machine of its own (a box, or `{port}` and
/// `{store}` without one); 0 for a course's fixed port or data file without a box,
/// whose starts run one at a time (`CommandTarget::shares_a_machine`), and for our
/// own server or a running one, which have nothing to start.
pub fn depth(options: &Options) -> usize {
    match &options.target {
        Target::Command(command) if !command.shares_a_machine(options.course.as_deref()) => {
            command.ahead
        }
        Target::Command(_) | Target::InProcess | Target::Addr(_) => 0,
    }
}

/// True if a server for `options` would start ahead now: its command has listened
/// once (`StartGate::proven`).
pub fn proven(options: &Options) -> bool {
    matches!(&options.target, Target::Command(command) if command.gate.proven())
}

/// A play at least this long (`Transcript::idle_estimate`) hides the starts begun
/// during it.
const LONG: Duration = Duration::from_millis(100);

/// The order to play `paths` in with `depth` servers started ahead: the long plays
/// spread evenly among the short ones, each kind in its given order; file order
/// with none ahead. The suite's long plays (idle timeouts, silences) sit together,
/// and its short ones too; played in file order, the starts of a run of short plays
/// queue for the CPU while, in the long ones, the CPU idles.
pub fn play_order(paths: &[PathBuf], depth: usize) -> Vec<usize> {
    if depth == 0 {
        return (0..paths.len()).collect();
    }
    let long: Vec<bool> = paths
        .iter()
        .map(|p| Transcript::load(p).is_ok_and(|t| t.idle_estimate() >= LONG))
        .collect();
    spread(&long)
}

/// The indices of `long`, the `true` ones spread evenly among the `false` ones.
fn spread(long: &[bool]) -> Vec<usize> {
    let (longs, shorts): (Vec<usize>, Vec<usize>) = (0..long.len()).partition(|&i| long[i]);
    if longs.is_empty() || shorts.is_empty() {
        return (0..long.len()).collect();
    }
    // A short one first: nothing starts ahead until a command has listened once,
    // and a short play shows that soonest. Then a long one, and one after each
    // `gap` short ones.
    let gap = shorts.len().div_ceil(longs.len());
    let mut order = Vec::with_capacity(long.len());
    let mut longs = longs.into_iter();
    for (n, short) in shorts.into_iter().enumerate() {
        order.push(short);
        if n % gap == 0
            && let Some(l) = longs.next()
        {
            order.push(l);
        }
    }
    order.extend(longs);
    order
}

/// A worker's tasks: the one it plays, and the next ones begun (`Ready::begin`) while
/// it does. `T` is what the worker keeps of a task besides its `Ready`.
pub struct Lookahead<T> {
    depth: usize,
    pending: VecDeque<(T, Ready)>,
}

impl<T> Lookahead<T> {
    /// `depth` tasks begun ahead of the one playing (`depth`).
    pub fn new(depth: usize) -> Lookahead<T> {
        Lookahead {
            depth,
            pending: VecDeque::new(),
        }
    }

    /// The task to play now: the oldest one begun ahead, or a fresh one from `take`;
    /// then, while `proven` says the next task's server would start now,
    /// tasks are taken and begun until `depth` are ahead. `None` when `take` has no
    /// more. Tasks whose servers cannot start yet are left to the other workers: held
    /// here, they would wait for this worker's plays while another worker idles.
    pub fn next(
        &mut self,
        mut take: impl FnMut() -> Option<(T, Ready)>,
        proven: impl Fn() -> bool,
    ) -> Option<(T, Ready)> {
        let now = self.pending.pop_front().or_else(&mut take)?;
        while self.pending.len() < self.depth && proven() {
            match take() {
                Some(task) => self.pending.push_back(task),
                None => break,
            }
        }
        for (_, ready) in &mut self.pending {
            ready.start_if_proven();
        }
        Some(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A worker takes tasks ahead only while their servers would start now: before
    /// the command has listened once it takes one task at a time, leaving the rest to
    /// the other workers (`grade --jobs 2` of a command that never listens played its
    /// transcripts one at a time, all held by the first worker).
    #[test]
    fn tasks_are_taken_ahead_only_while_their_servers_would_start() {
        let options = Options::default();
        let taken = std::cell::Cell::new(0);
        let mut take = || {
            (taken.get() < 5).then(|| {
                taken.set(taken.get() + 1);
                (
                    taken.get(),
                    Ready::begin(Path::new("none"), &options, false),
                )
            })
        };
        let mut lookahead = Lookahead::new(2);
        let mut next = |proven: bool| lookahead.next(&mut take, || proven).map(|(n, _)| n);
        assert_eq!(next(false), Some(1));
        assert_eq!(taken.get(), 1, "none taken ahead");
        assert_eq!(next(true), Some(2));
        assert_eq!(taken.get(), 4, "two taken ahead");
        assert_eq!(next(false), Some(3));
        assert_eq!(taken.get(), 4, "none more taken ahead");
        assert_eq!(next(true), Some(4));
        assert_eq!(next(true), Some(5));
        assert_eq!(next(true), None);
    }

    #[test]
    fn long_plays_are_spread_among_the_short_ones_in_their_order() {
        let l = true;
        let s = false;
        // Two long ones at the end, six short ones: a short one first, then each
        // long one before three short.
        assert_eq!(
            spread(&[s, s, s, s, s, s, l, l]),
            vec![0, 6, 1, 2, 3, 7, 4, 5]
        );
        assert_eq!(spread(&[l, s, l, s, l]), vec![1, 0, 3, 2, 4]);
        // More long ones than gaps: the rest at the end.
        assert_eq!(spread(&[l, l, l, s]), vec![3, 0, 1, 2]);
        // One kind only: as given.
        assert_eq!(spread(&[s, s, s]), vec![0, 1, 2]);
        assert_eq!(spread(&[l, l]), vec![0, 1]);
        assert_eq!(spread(&[]), Vec::<usize>::new());
    }
}
