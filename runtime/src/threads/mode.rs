//! The process's thread mode and the per-thread chooser behind `Auto`.
//!
//! `decide(kind)` is asked once per piece of work that is large enough to
//! split; the executor calls `end_step` after each step. Under `Auto` the
//! calling thread's `Chooser` answers, and while it measures, `decide`
//! starts a timer that `Split::done` stops and records. Outside
//! measurements nothing is timed, so a decided step costs one thread-local
//! read per piece. The chooser is per thread: each thread that runs steps
//! (one per training run, or per test) measures its own work.

use super::chooser::{Chooser, Config, Kind};
use std::cell::RefCell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

/// How many threads large pieces of work may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Threads {
    /// Always this many: 1 never splits, 2 or more split every large piece
    /// in two (there is one helper thread).
    Fixed(usize),
    /// Per kind of kernel, whichever of one and two threads measured faster
    /// recently (`chooser`).
    Auto,
}

impl std::str::FromStr for Threads {
    type Err = String;

    /// `auto`, or a number of threads of at least 1.
    fn from_str(s: &str) -> Result<Threads, String> {
        match s.trim() {
            "auto" => Ok(Threads::Auto),
            n => match n.parse::<usize>() {
                Ok(n) if n >= 1 => Ok(Threads::Fixed(n)),
                _ => Err(format!(
                    "expected `auto` or a number of threads of at least 1, found `{s}`"
                )),
            },
        }
    }
}

impl std::fmt::Display for Threads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Threads::Fixed(n) => write!(f, "{n}"),
            Threads::Auto => f.write_str("auto"),
        }
    }
}

const ONE: u8 = 0;
const TWO: u8 = 1;
const AUTO: u8 = 2;

/// The process's mode: `ONE` until `set_mode` says otherwise.
static MODE: AtomicU8 = AtomicU8::new(ONE);

thread_local! {
    static CHOOSER: RefCell<Chooser> = RefCell::new(Chooser::new(Config::default()));
}

/// The origin of the chooser's clock.
fn now() -> Duration {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    ORIGIN.get_or_init(Instant::now).elapsed()
}

/// Sets how many threads large pieces of work may use. `Fixed(2)` starts
/// the helper thread now; `Auto` starts it when the first piece of work is
/// split, and on a machine (or CPU set) with one processor stays on one
/// thread. The helper, once started, is never stopped.
pub fn set_mode(threads: Threads) {
    let one_processor = std::thread::available_parallelism().is_ok_and(|n| n.get() < 2);
    let mode = match threads {
        Threads::Fixed(n) if n >= 2 => TWO,
        Threads::Auto if !one_processor => AUTO,
        _ => ONE,
    };
    if mode == TWO {
        super::start_helper();
    }
    MODE.store(mode, Ordering::Relaxed);
}

/// The mode in force.
pub fn mode() -> Threads {
    match MODE.load(Ordering::Relaxed) {
        TWO => Threads::Fixed(2),
        AUTO => Threads::Auto,
        _ => Threads::Fixed(1),
    }
}

/// Whether one piece of work is split, and its timer while the chooser
/// measures.
#[must_use = "call `done` when the work is finished"]
pub struct Split {
    split: bool,
    timer: Option<(Kind, Instant)>,
}

impl Split {
    /// Whether to cut the work in two halves for `join`.
    pub fn split(&self) -> bool {
        self.split
    }

    /// Records the finished piece's time against its `work` (in the
    /// kind's unit: multiply-adds for products, numbers touched for rows)
    /// when the chooser is measuring.
    pub fn done(self, work: usize) {
        if let Some((kind, started)) = self.timer {
            let nanos = started.elapsed().as_nanos() as f64;
            CHOOSER.with(|c| c.borrow_mut().record(kind, self.split, nanos, work as f64));
        }
    }
}

/// Whether a piece of work of `kind`, large enough that splitting could
/// pay, is split now.
pub fn decide(kind: Kind) -> Split {
    let (split, timed) = match MODE.load(Ordering::Relaxed) {
        TWO => (super::two(), false),
        AUTO => {
            let (split, timed) = CHOOSER.with(|c| {
                let c = c.borrow();
                (c.split(kind), c.measuring())
            });
            if split {
                super::start_helper();
            }
            (split && super::two(), timed)
        }
        _ => (false, false),
    };
    Split {
        split,
        timer: timed.then(|| (kind, Instant::now())),
    }
}

/// Marks the end of one step of the calling thread (the executor calls
/// it after every batch).
pub fn end_step() {
    if MODE.load(Ordering::Relaxed) == AUTO {
        let t = now();
        CHOOSER.with(|c| c.borrow_mut().end_step(t));
    }
}

/// The threads each kind's large work uses now on the calling thread (its
/// current choice under `Auto`), in `Kind::ALL` order.
pub fn choices() -> [(Kind, usize); 3] {
    let mode = MODE.load(Ordering::Relaxed);
    Kind::ALL.map(|kind| {
        let n = match mode {
            TWO if super::two() => 2,
            AUTO => CHOOSER.with(|c| c.borrow().threads(kind)),
            _ => 1,
        };
        (kind, n)
    })
}

/// The calling thread's last measured time per unit of work with one and
/// with two threads, per kind (`None` when nothing was measured).
pub fn last_rates(kind: Kind) -> [Option<f64>; 2] {
    CHOOSER.with(|c| c.borrow().last_rates(kind))
}

/// The calling thread's last measured median step time with one and with
/// two threads, in nanoseconds (`None` outside `Auto` or before the first
/// measurement).
pub fn last_step_times() -> [Option<f64>; 2] {
    match MODE.load(Ordering::Relaxed) {
        AUTO => CHOOSER.with(|c| c.borrow().last_step_times()),
        _ => [None, None],
    }
}

/// How many of the calling thread's steps the chooser ran with some kind
/// split (0 outside `Auto`).
pub fn split_steps() -> u64 {
    match MODE.load(Ordering::Relaxed) {
        AUTO => CHOOSER.with(|c| c.borrow().split_steps()),
        _ => 0,
    }
}

/// How many measurements the calling thread's chooser has finished (0
/// outside `Auto`).
pub fn measurements() -> u64 {
    match MODE.load(Ordering::Relaxed) {
        AUTO => CHOOSER.with(|c| c.borrow().measurements()),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::Threads;

    #[test]
    fn thread_modes_parse_and_print_as_the_command_line_spells_them() {
        assert_eq!("auto".parse(), Ok(Threads::Auto));
        assert_eq!("1".parse(), Ok(Threads::Fixed(1)));
        assert_eq!("2".parse(), Ok(Threads::Fixed(2)));
        for bad in ["0", "two", "-1", ""] {
            let e = bad.parse::<Threads>().expect_err(bad);
            assert!(e.contains("expected `auto` or a number"), "{e}");
        }
        assert_eq!(Threads::Auto.to_string(), "auto");
        assert_eq!(Threads::Fixed(2).to_string(), "2");
    }
}
