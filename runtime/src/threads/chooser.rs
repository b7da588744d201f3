//! Choosing whether splitting work between two threads pays, from whole
//! steps timed while the program runs.
//!
//! Whether a second thread helps depends on the machine's state, which
//! changes while a program runs: on a shared virtual machine two busy
//! threads of one process sometimes get much less than two processors for
//! tens of seconds (`docs/performance.md`). So the choice is measured, not
//! fixed. The chooser is plain data fed with step ends and timings; the
//! clock and the kernels are the caller's, so its logic is tested with
//! synthetic timings.
//!
//! What is compared is the time of whole steps, one arm against the
//! other, not the time of the split pieces alone: a split also costs or
//! saves the rest of the step (the helper spinning while the caller works
//! alone, caches shared with it, the memory bus), and a step can gain from
//! two threads while no piece alone looks faster, or lose while every
//! piece looks faster. The choice is therefore one of the two measured
//! arms, never a mixture nobody timed.
//!
//! The schedule, counted in training steps:
//!
//! 1. `warmup` steps run untimed: the first allocates buffers and touches
//!    fresh pages. The last of two or more runs on two threads, so that the
//!    helper thread's own first work (its start, its first allocations and
//!    page faults) is not timed against the two-thread arm either; on a
//!    model whose steps take a millisecond (W1) that start is a large part
//!    of the first two-thread steps.
//! 2. `2 × per_arm` measuring steps alternate between the two arms in the
//!    order one, two, two, one, one, two, two, one, ... so that a steady
//!    drift of the machine's speed weighs on both arms alike. Each step's
//!    time is the time between its end and the previous step's end.
//!    The measurement stops early, keeping one thread, as soon as the
//!    two-thread arm has run `RUINOUS_AFTER` steps each more than `RUINOUS`
//!    times slower than every one-thread step so far: in the state in which
//!    this machine gives a process's second thread much less than a
//!    processor, a two-thread step can take several times a one-thread
//!    step, and the rest of the measurement would only repeat that.
//! 3. The arm with the lower median step time wins (the median, so that one
//!    step slowed by the machine does not decide); on a tie, or when no
//!    piece of work was large enough to split, one thread wins. Under the
//!    two-thread arm, the kinds that had large pieces split; the others
//!    stay on one thread.
//! 4. The choice holds for at least `period_steps` steps and a hold time,
//!    then step 2 runs again. The hold time starts at `first_period` after
//!    the first measurement and after every measurement that changed the
//!    choice, and doubles, up to `period`, after every measurement that
//!    confirmed it: a choice made in the first steps, or just after the
//!    machine changed, is checked again soon (a single measurement of a few
//!    steps can be misled by a moment's load, and a short run would
//!    otherwise keep it to the end), while a choice confirmed again and
//!    again costs a measurement only every `period`.
//! 5. While two threads hold, the held steps are timed too, and a
//!    measurement starts at once when the median of the last
//!    `DRIFT_STEPS` of them is more than `DRIFT` times the two-thread
//!    median the choice was made on. A second thread's worth is the other
//!    processor's, which another process can take in the middle of a
//!    hold; a one-thread step does not tell that (it slows when the
//!    machine does, whatever the other processor does), so one thread
//!    held waits for the period.
//!
//! The cost is bounded: outside step 2 no piece is timed, and within it at
//! most `per_arm` steps run with the losing choice (`RUINOUS_AFTER` when
//! two threads lose badly), against at least `period_steps` steps with the
//! winning one. A measurement started early by step 5 costs the same,
//! after at least `DRIFT_STEPS` held steps that all ran on the arm that
//! had become slow; it either moves to one thread (and step 5 stops
//! watching) or confirms two threads at the slower median, which the held
//! steps must then exceed by `DRIFT` again. The choice never changes
//! what is computed, only which thread computes which rows. The pieces'
//! own times per unit of work are still summed during step 2, for reports
//! only (`last_rates`).

use std::time::Duration;

/// How many times slower than every one-thread step each two-thread step
/// must be for a measurement to stop early (see the module comment).
const RUINOUS: f64 = 1.5;

/// How many such two-thread steps stop a measurement early.
const RUINOUS_AFTER: usize = 2;

/// How many times slower than the measured two-thread median the held
/// two-thread steps must have become to start a measurement before the
/// period (see the module comment).
const DRIFT: f64 = 1.25;

/// How many of the last held two-thread steps that median is taken over:
/// a spell of single slow steps (a page fault, a moment's preemption) does
/// not start a measurement; most of eight steps slowed does.
const DRIFT_STEPS: usize = 8;

/// The kinds of kernel whose large pieces are timed and reported
/// separately (the choice itself is by whole steps).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Matrix products and batches of them (the runtime's GEMMs).
    Products,
    /// The JIT's fused elementwise kernels, split by rows.
    Elementwise,
    /// Per-example row operations (gathers, copies, sums), split by rows.
    Rows,
}

impl Kind {
    /// Every kind, in the order reports list them.
    pub const ALL: [Kind; 3] = [Kind::Products, Kind::Elementwise, Kind::Rows];

    /// The kind's name in reports (`threads_products: 2`).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Products => "products",
            Kind::Elementwise => "elementwise",
            Kind::Rows => "rows",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The chooser's schedule (see the module comment).
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Untimed steps before the first measurement.
    pub warmup: u64,
    /// Measuring steps per arm.
    pub per_arm: u64,
    /// The longest hold time a choice reaches by being confirmed.
    pub period: Duration,
    /// The hold time after the first measurement and after a change of
    /// choice (at most `period`).
    pub first_period: Duration,
    /// The least number of steps a choice holds before it is measured again.
    pub period_steps: u64,
}

impl Default for Config {
    /// Two warm-up steps (one thread, then two), six steps per arm, a
    /// choice held for at least 100 steps and for 0.25 s at first, doubling
    /// to 2 s while it is confirmed: at most 6 steps in 112 run with the
    /// losing choice.
    fn default() -> Config {
        Config {
            warmup: 2,
            per_arm: 6,
            period: Duration::from_secs(2),
            first_period: Duration::from_millis(250),
            period_steps: 100,
        }
    }
}

/// Time and work summed over the timed pieces of one arm.
#[derive(Clone, Copy, Debug, Default)]
struct Sum {
    nanos: f64,
    work: f64,
    pieces: u64,
}

impl Sum {
    /// Nanoseconds per unit of work, or `None` without timed work.
    fn rate(&self) -> Option<f64> {
        (self.pieces > 0 && self.work > 0.0).then(|| self.nanos / self.work)
    }
}

/// What the chooser knows about one kind.
#[derive(Clone, Copy, Debug, Default)]
struct KindState {
    /// The current choice outside measurements.
    split: bool,
    /// The arms' sums in the current measurement: one thread, two threads.
    arms: [Sum; 2],
    /// The rates of the last finished measurement, for reports.
    last: [Option<f64>; 2],
}

/// Where the chooser is in its schedule.
#[derive(Clone, Copy, Debug)]
enum Phase {
    /// Before the first measurement.
    Warmup,
    /// Measuring; the value is the measuring step (0-based).
    Measuring(u64),
    /// Holding the choices made at this step and time.
    Holding { step: u64, at: Duration },
}

/// The choice between one and two threads, by whole-step times.
#[derive(Clone, Debug)]
pub struct Chooser {
    config: Config,
    step: u64,
    phase: Phase,
    kinds: [KindState; 3],
    measurements: u64,
    /// When the previous step ended, if one has.
    last_end: Option<Duration>,
    /// The current measurement's step times, in nanoseconds: one thread,
    /// two threads.
    steps: [Vec<f64>; 2],
    /// The median step times of the last finished measurement.
    last_steps: [Option<f64>; 2],
    /// How long the current choice holds (see the module comment).
    hold: Duration,
    /// The last `DRIFT_STEPS` step times of the current hold while it
    /// splits, in nanoseconds, oldest first.
    held: Vec<f64>,
    /// How many steps ran with some kind split (measuring or holding).
    split_steps: u64,
}

impl Chooser {
    /// A chooser that has not measured yet (everything on one thread).
    pub fn new(config: Config) -> Chooser {
        let mut c = Chooser {
            config,
            step: 0,
            phase: Phase::Warmup,
            kinds: [KindState::default(); 3],
            measurements: 0,
            last_end: None,
            steps: [Vec::new(), Vec::new()],
            last_steps: [None, None],
            hold: config.first_period.min(config.period),
            held: Vec::new(),
            split_steps: 0,
        };
        if config.warmup == 0 {
            c.phase = Phase::Measuring(0);
        }
        c
    }

    /// Whether work of `kind` that is large enough to split is split now.
    pub fn split(&self, kind: Kind) -> bool {
        match self.phase {
            Phase::Measuring(m) => arm(m) == 1,
            Phase::Warmup => self.config.warmup >= 2 && self.step + 1 == self.config.warmup,
            Phase::Holding { .. } => self.kinds[kind.index()].split,
        }
    }

    /// Whether pieces of work are being timed now (`record` counts them).
    pub fn measuring(&self) -> bool {
        matches!(self.phase, Phase::Measuring(_))
    }

    /// Counts one timed piece of `kind`: `work` units (multiply-adds,
    /// numbers) in `nanos`, split or not. Ignored outside measurements.
    pub fn record(&mut self, kind: Kind, split: bool, nanos: f64, work: f64) {
        if !self.measuring() {
            return;
        }
        let s = &mut self.kinds[kind.index()].arms[usize::from(split)];
        s.nanos += nanos;
        s.work += work;
        s.pieces += 1;
    }

    /// Marks the end of a step at time `now` (any fixed origin).
    pub fn end_step(&mut self, now: Duration) {
        let took = self
            .last_end
            .map(|start| now.saturating_sub(start).as_nanos() as f64);
        let split = self.split_any();
        self.split_steps += u64::from(split);
        match (self.phase, took) {
            (Phase::Measuring(m), Some(t)) => self.steps[arm(m)].push(t),
            (Phase::Holding { .. }, Some(t)) if split => {
                if self.held.len() == DRIFT_STEPS {
                    self.held.remove(0);
                }
                self.held.push(t);
            }
            _ => {}
        }
        self.last_end = Some(now);
        self.step += 1;
        self.phase = match self.phase {
            Phase::Warmup if self.step < self.config.warmup => Phase::Warmup,
            Phase::Warmup => Phase::Measuring(0),
            Phase::Measuring(m) if m + 1 < 2 * self.config.per_arm && !self.ruinous() => {
                Phase::Measuring(m + 1)
            }
            Phase::Measuring(_) => {
                self.decide();
                Phase::Holding {
                    step: self.step,
                    at: now,
                }
            }
            Phase::Holding { step, at }
                if (self.step - step >= self.config.period_steps
                    && now.saturating_sub(at) >= self.hold)
                    || self.drifted() =>
            {
                self.held.clear();
                Phase::Measuring(0)
            }
            held @ Phase::Holding { .. } => held,
        };
    }

    /// Whether two threads have already lost badly in this measurement:
    /// `RUINOUS_AFTER` two-thread steps, each more than `RUINOUS` times
    /// the slowest one-thread step.
    fn ruinous(&self) -> bool {
        let [one, two] = &self.steps;
        let slowest_one = one.iter().copied().fold(f64::NAN, f64::max);
        !one.is_empty()
            && two.len() >= RUINOUS_AFTER
            && two.iter().all(|&t| t > RUINOUS * slowest_one)
    }

    /// Whether some kind is split in the step now running.
    fn split_any(&self) -> bool {
        Kind::ALL.into_iter().any(|k| self.split(k))
    }

    /// Whether the held two-thread steps have slowed: the median of the
    /// last `DRIFT_STEPS` is more than `DRIFT` times the two-thread median
    /// the choice was made on.
    fn drifted(&self) -> bool {
        let (Some(measured), true) = (self.last_steps[1], self.held.len() == DRIFT_STEPS) else {
            return false;
        };
        let mut recent = self.held.clone();
        median(&mut recent).is_some_and(|m| m > DRIFT * measured)
    }

    /// Picks the arm with the faster median step, splits the kinds that
    /// had large pieces under it, and clears the sums.
    fn decide(&mut self) {
        let [one, two] = [0, 1].map(|a| median(&mut self.steps[a]));
        let two_wins = matches!((one, two), (Some(a), Some(b)) if b < a);
        let before = self.kinds.map(|k| k.split);
        for k in &mut self.kinds {
            k.split = two_wins && k.arms[1].pieces > 0;
            k.last = k.arms.map(|s| s.rate());
            k.arms = [Sum::default(); 2];
        }
        self.last_steps = [one, two];
        self.steps = [Vec::new(), Vec::new()];
        let first = self.config.first_period.min(self.config.period);
        self.hold = if self.measurements == 0 || before != self.kinds.map(|k| k.split) {
            first
        } else {
            (self.hold * 2).min(self.config.period)
        };
        self.measurements += 1;
    }

    /// How long the current choice holds before it is measured again, once
    /// it has also held `period_steps` steps.
    pub fn hold(&self) -> Duration {
        self.hold
    }

    /// The threads `kind`'s large work uses outside measurements: 2 or 1.
    pub fn threads(&self, kind: Kind) -> usize {
        if self.kinds[kind.index()].split { 2 } else { 1 }
    }

    /// The last finished measurement's time per unit of work of `kind`'s
    /// large pieces with one and with two threads, in nanoseconds (`None`:
    /// no work of that kind was large enough to split). For reports: the
    /// choice is made on whole steps.
    pub fn last_rates(&self, kind: Kind) -> [Option<f64>; 2] {
        self.kinds[kind.index()].last
    }

    /// The last finished measurement's median step time with one and with
    /// two threads, in nanoseconds (`None`: no step of that arm was timed).
    pub fn last_step_times(&self) -> [Option<f64>; 2] {
        self.last_steps
    }

    /// How many measurements have finished.
    pub fn measurements(&self) -> u64 {
        self.measurements
    }

    /// How many steps ran with some kind split, measuring or holding (the
    /// rest ran on one thread).
    pub fn split_steps(&self) -> u64 {
        self.split_steps
    }
}

/// The median of `times` (the mean of the middle two for an even count),
/// or `None` when empty.
fn median(times: &mut [f64]) -> Option<f64> {
    times.sort_by(f64::total_cmp);
    let n = times.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(times[n / 2]),
        _ => Some((times[n / 2 - 1] + times[n / 2]) / 2.0),
    }
}

/// The arm of measuring step `m`: 0, 1, 1, 0, 0, 1, 1, 0, ...
fn arm(m: u64) -> usize {
    (m.div_ceil(2) % 2) as usize
}

#[cfg(test)]
mod tests;
