//! The chooser's schedule and choices, fed with synthetic timings.

use super::*;

const MS: Duration = Duration::from_millis(1);

fn config() -> Config {
    Config {
        warmup: 1,
        per_arm: 2,
        period: Duration::from_millis(100),
        first_period: Duration::from_millis(100),
        period_steps: 10,
    }
}

/// A synthetic machine: how long a whole step takes on each arm, and how
/// fast each kind's large pieces run on each arm (`None`: that kind has no
/// piece large enough to split).
struct Machine {
    step_ms: [f64; 2],
    rate: fn(Kind, bool) -> Option<f64>,
}

impl Machine {
    /// Runs one step ending `step_ms` after `now`, recording 1000 units of
    /// work of every kind that has large pieces.
    fn step(&self, c: &mut Chooser, now: &mut Duration) {
        let split = c.split(Kind::Products);
        for kind in Kind::ALL {
            if let Some(rate) = (self.rate)(kind, c.split(kind)) {
                c.record(kind, c.split(kind), rate * 1000.0, 1000.0);
            }
        }
        *now += Duration::from_secs_f64(self.step_ms[usize::from(split)] / 1000.0);
        c.end_step(*now);
    }

    /// Runs steps until the first measurement has finished.
    fn measure(&self, c: &mut Chooser, now: &mut Duration) {
        let done = c.measurements() + 1;
        while c.measurements() < done {
            self.step(c, now);
        }
    }
}

fn every_kind(_: Kind, _: bool) -> Option<f64> {
    Some(1.0)
}

#[test]
fn measuring_alternates_the_arms_in_a_balanced_order() {
    let mut c = Chooser::new(Config {
        per_arm: 4,
        ..config()
    });
    // The warm-up step runs on one thread and is not timed.
    assert!(!c.measuring() && !c.split(Kind::Products));
    c.end_step(MS);
    let mut arms = Vec::new();
    for i in 0..8 {
        assert!(c.measuring());
        arms.push(c.split(Kind::Products));
        c.end_step(MS * (2 + i));
    }
    assert_eq!(
        arms,
        [false, true, true, false, false, true, true, false],
        "one, two, two, one, ..."
    );
    assert!(!c.measuring());
    assert_eq!(c.measurements(), 1);
    // Every measuring step took 1 ms, a tie: one thread stays.
    assert_eq!(c.last_step_times(), [Some(1e6), Some(1e6)]);
    assert_eq!(c.threads(Kind::Products), 1);
}

#[test]
fn two_threads_win_on_a_faster_whole_step_though_no_piece_looks_faster() {
    // Every split piece runs slower per unit, yet the step is faster with
    // two threads (what the per-kind rates got wrong on W4).
    let m = Machine {
        step_ms: [1.0, 0.8],
        rate: |_, split| Some(if split { 1.3 } else { 1.0 }),
    };
    let (mut c, mut now) = (Chooser::new(config()), Duration::ZERO);
    m.measure(&mut c, &mut now);
    for kind in Kind::ALL {
        assert_eq!(c.threads(kind), 2, "{kind:?}");
        assert_eq!(c.last_rates(kind), [Some(1.0), Some(1.3)]);
    }
    assert_eq!(c.last_step_times(), [Some(1e6), Some(8e5)]);
}

#[test]
fn one_thread_wins_on_a_faster_whole_step_though_every_piece_looks_faster() {
    // The split pieces run faster per unit, but the rest of the step pays
    // more than they save.
    let m = Machine {
        step_ms: [1.0, 1.2],
        rate: |_, split| Some(if split { 0.6 } else { 1.0 }),
    };
    let (mut c, mut now) = (Chooser::new(config()), Duration::ZERO);
    m.measure(&mut c, &mut now);
    for kind in Kind::ALL {
        assert_eq!(c.threads(kind), 1, "{kind:?}");
        assert!(!c.split(kind));
    }
}

#[test]
fn kinds_without_large_pieces_stay_on_one_thread() {
    let m = Machine {
        step_ms: [1.0, 0.5],
        rate: |kind, _| (kind == Kind::Products).then_some(1.0),
    };
    let (mut c, mut now) = (Chooser::new(config()), Duration::ZERO);
    m.measure(&mut c, &mut now);
    assert_eq!(c.threads(Kind::Products), 2);
    assert_eq!(c.threads(Kind::Elementwise), 1);
    assert_eq!(c.threads(Kind::Rows), 1);
    assert_eq!(c.last_rates(Kind::Rows), [None, None]);
}

#[test]
fn without_anything_to_split_one_thread_stays_whatever_the_clock_says() {
    // Nothing was split, so the arms ran the same code: the difference in
    // step time is noise.
    let m = Machine {
        step_ms: [1.0, 0.5],
        rate: |_, _| None,
    };
    let (mut c, mut now) = (Chooser::new(config()), Duration::ZERO);
    m.measure(&mut c, &mut now);
    for kind in Kind::ALL {
        assert_eq!(c.threads(kind), 1);
    }
}

#[test]
fn one_slow_step_does_not_decide() {
    let mut c = Chooser::new(Config {
        per_arm: 4,
        ..config()
    });
    let mut now = MS;
    c.end_step(now);
    // Two threads are faster (0.8 ms against 1 ms), except for one step
    // the machine stalled for 50 ms: the mean would pick one thread, the
    // median picks two.
    for i in 0..8 {
        let split = c.split(Kind::Products);
        c.record(Kind::Products, split, 1000.0, 1000.0);
        let ms = match (split, i) {
            (true, 1) => 50.0,
            (true, _) => 0.8,
            (false, _) => 1.0,
        };
        now += Duration::from_secs_f64(ms / 1000.0);
        c.end_step(now);
    }
    assert_eq!(c.measurements(), 1);
    assert_eq!(c.threads(Kind::Products), 2);
}

#[test]
fn the_first_measuring_step_without_a_start_is_not_timed() {
    // Without warm-up, the first step has no previous end to start from.
    let mut c = Chooser::new(Config {
        warmup: 0,
        ..config()
    });
    let mut now = Duration::from_secs(100);
    for ms in [1.0, 0.5, 0.5, 1.0] {
        let split = c.split(Kind::Products);
        c.record(Kind::Products, split, 1.0, 1.0);
        now += Duration::from_secs_f64(ms / 1000.0);
        c.end_step(now);
    }
    assert_eq!(c.measurements(), 1);
    // One-thread steps: only the last (1 ms) was timed; two-thread: 0.5 ms.
    assert_eq!(c.last_step_times(), [Some(1e6), Some(5e5)]);
    assert_eq!(c.threads(Kind::Products), 2);
}

#[test]
fn timings_outside_a_measurement_are_ignored() {
    let m = Machine {
        step_ms: [2.0, 1.0],
        rate: every_kind,
    };
    let (mut c, mut now) = (Chooser::new(config()), Duration::ZERO);
    m.measure(&mut c, &mut now);
    assert_eq!(c.threads(Kind::Rows), 2);
    // While the choice holds, slow pieces change nothing (slow steps are
    // the subject of the drift tests below).
    c.record(Kind::Rows, true, 1e12, 1.0);
    let slow = Machine {
        step_ms: [2.0, 1.0],
        rate: |_, _| Some(1e9),
    };
    for _ in 0..9 {
        slow.step(&mut c, &mut now);
        assert!(!c.measuring());
    }
    assert_eq!(c.threads(Kind::Rows), 2);
    assert_eq!(c.measurements(), 1);
}

#[test]
fn the_choice_is_measured_again_after_the_period_and_follows_the_machine() {
    let quiet = Machine {
        step_ms: [1.0, 0.6],
        rate: every_kind,
    };
    // Two threads now lose (0.7 ms against 0.5 ms), though their steps
    // slowed by less than `DRIFT` from the measured 0.6 ms.
    let busy = Machine {
        step_ms: [0.5, 0.7],
        rate: every_kind,
    };
    let (mut c, mut now) = (Chooser::new(config()), Duration::ZERO);
    quiet.measure(&mut c, &mut now);
    assert_eq!(c.threads(Kind::Elementwise), 2);
    // The choice holds for at least `period_steps` steps and `period` of
    // time: 10 steps of 0.7 ms are not enough...
    for _ in 0..10 {
        busy.step(&mut c, &mut now);
        assert!(!c.measuring());
    }
    // ...but once 100 ms have passed too, the next step starts measuring.
    now += Duration::from_millis(100);
    busy.step(&mut c, &mut now);
    assert!(c.measuring());
    busy.measure(&mut c, &mut now);
    assert!(!c.measuring());
    assert_eq!(c.threads(Kind::Elementwise), 1);
    assert_eq!(c.measurements(), 2);
    // Many steps alone do not start a measurement before the period.
    for _ in 0..50 {
        c.end_step(now);
    }
    assert!(!c.measuring());
    assert_eq!(c.threads(Kind::Elementwise), 1);
}

#[test]
fn the_losing_arm_runs_at_most_per_arm_steps_per_period() {
    // Two threads are ruinous (10× slower). Over many periods, count the
    // steps that ran split: exactly `per_arm` per measurement.
    let m = Machine {
        step_ms: [1.0, 10.0],
        rate: every_kind,
    };
    let (mut c, mut now) = (Chooser::new(config()), Duration::ZERO);
    let (mut split_steps, mut steps) = (0u64, 0u64);
    while now < Duration::from_secs(2) {
        split_steps += u64::from(c.split(Kind::Products));
        steps += 1;
        m.step(&mut c, &mut now);
    }
    assert!(c.measurements() >= 10, "{}", c.measurements());
    assert!(
        split_steps <= c.measurements() * 2 + 2,
        "{split_steps} of {steps}"
    );
    assert_eq!(c.threads(Kind::Products), 1);
}

/// The arms of the first measurement's steps (`true`: two threads) on
/// machine `m`, with six steps per arm, and the chooser after it.
fn first_measurement(m: &Machine) -> (Vec<bool>, Chooser) {
    let mut c = Chooser::new(Config {
        per_arm: 6,
        ..config()
    });
    let mut now = Duration::ZERO;
    m.step(&mut c, &mut now);
    let mut arms = Vec::new();
    while c.measuring() {
        arms.push(c.split(Kind::Products));
        m.step(&mut c, &mut now);
    }
    (arms, c)
}

#[test]
fn a_ruinous_second_thread_stops_the_measurement_after_two_of_its_steps() {
    // Two threads 4× slower: one, two, two, and the measurement is over.
    let (arms, c) = first_measurement(&Machine {
        step_ms: [1.0, 4.0],
        rate: every_kind,
    });
    assert_eq!(arms, [false, true, true]);
    assert_eq!(c.measurements(), 1);
    assert_eq!(c.threads(Kind::Products), 1);
    assert_eq!(c.last_step_times(), [Some(1e6), Some(4e6)]);
}

#[test]
fn a_second_thread_slower_but_not_ruinous_is_measured_in_full() {
    // 1.4× slower is below the early stop's 1.5×: all twelve steps run.
    let (arms, c) = first_measurement(&Machine {
        step_ms: [1.0, 1.4],
        rate: every_kind,
    });
    assert_eq!(arms.len(), 12);
    assert_eq!(c.threads(Kind::Products), 1);
}

#[test]
fn one_fast_two_thread_step_keeps_the_measurement_going() {
    // The first two-thread step was slowed by the machine, the second was
    // fast: not every two-thread step lost badly, so the arms are measured
    // in full and the faster median, two threads, wins.
    let mut c = Chooser::new(Config {
        per_arm: 4,
        ..config()
    });
    let mut now = MS;
    c.end_step(now);
    let mut i = 0;
    while c.measuring() {
        let split = c.split(Kind::Products);
        c.record(Kind::Products, split, 1.0, 1.0);
        let ms = match (split, i) {
            (true, 1) => 20.0,
            (true, _) => 0.7,
            (false, _) => 1.0,
        };
        now += Duration::from_secs_f64(ms / 1000.0);
        c.end_step(now);
        i += 1;
    }
    assert_eq!(i, 8);
    assert_eq!(c.threads(Kind::Products), 2);
}

#[test]
fn the_last_of_several_warm_up_steps_runs_on_two_threads_untimed() {
    let mut c = Chooser::new(Config {
        warmup: 3,
        ..config()
    });
    let mut warm = Vec::new();
    let mut now = Duration::ZERO;
    while !c.measuring() {
        warm.push(c.split(Kind::Products));
        // A slow warm-up step on either arm is not timed.
        now += Duration::from_millis(50);
        c.end_step(now);
    }
    assert_eq!(warm, [false, false, true]);
    let m = Machine {
        step_ms: [1.0, 0.5],
        rate: every_kind,
    };
    m.measure(&mut c, &mut now);
    assert_eq!(c.last_step_times(), [Some(1e6), Some(5e5)]);
    assert_eq!(c.threads(Kind::Products), 2);
}

#[test]
fn a_confirmed_choice_holds_twice_as_long_each_time_up_to_the_period() {
    let m = Machine {
        step_ms: [1.0, 0.6],
        rate: every_kind,
    };
    let mut c = Chooser::new(Config {
        first_period: Duration::from_millis(25),
        ..config()
    });
    let mut now = Duration::ZERO;
    let mut holds = Vec::new();
    for _ in 0..5 {
        m.measure(&mut c, &mut now);
        holds.push(c.hold().as_millis());
    }
    assert_eq!(holds, [25, 50, 100, 100, 100]);
    assert_eq!(c.threads(Kind::Products), 2);
}

#[test]
fn a_changed_choice_is_checked_again_after_the_first_period() {
    let quiet = Machine {
        step_ms: [1.0, 0.6],
        rate: every_kind,
    };
    let busy = Machine {
        step_ms: [1.0, 1.4],
        rate: every_kind,
    };
    let mut c = Chooser::new(Config {
        first_period: Duration::from_millis(25),
        ..config()
    });
    let mut now = Duration::ZERO;
    for _ in 0..4 {
        quiet.measure(&mut c, &mut now);
    }
    assert_eq!(c.hold(), Duration::from_millis(100));
    busy.measure(&mut c, &mut now);
    assert_eq!(c.threads(Kind::Products), 1);
    assert_eq!(c.hold(), Duration::from_millis(25));
    // The new choice holds its 10 steps and 25 ms, not the full period.
    let start = now;
    while !c.measuring() {
        busy.step(&mut c, &mut now);
    }
    let held = now - start;
    assert!(
        held >= Duration::from_millis(25) && held < Duration::from_millis(30),
        "{held:?}"
    );
}

#[test]
fn a_short_run_measures_several_times_after_a_misleading_first_measurement() {
    // The first measurement sees two threads win (a moment's quiet); from
    // then on two threads lose. With a 2 s period and a 0.25 s first hold,
    // the choice is corrected within the first half second, where a fixed
    // 2 s hold would keep the wrong choice for a whole 2 s run.
    let quiet = Machine {
        step_ms: [1.0, 0.6],
        rate: every_kind,
    };
    let busy = Machine {
        step_ms: [1.0, 1.3],
        rate: every_kind,
    };
    let mut c = Chooser::new(Config {
        warmup: 1,
        per_arm: 6,
        period: Duration::from_secs(2),
        first_period: Duration::from_millis(250),
        period_steps: 100,
    });
    let mut now = Duration::ZERO;
    quiet.measure(&mut c, &mut now);
    assert_eq!(c.threads(Kind::Products), 2);
    while c.measurements() < 2 {
        busy.step(&mut c, &mut now);
    }
    assert_eq!(c.threads(Kind::Products), 1);
    assert!(now < Duration::from_millis(500), "{now:?}");
}

/// A chooser that has measured `quiet` once, with the schedule of
/// `Config::default()` except for its warm-up.
fn held_on(quiet: &Machine, now: &mut Duration) -> Chooser {
    let mut c = Chooser::new(Config {
        warmup: 1,
        ..Config::default()
    });
    quiet.measure(&mut c, now);
    c
}

#[test]
fn two_threads_held_are_measured_again_as_soon_as_their_steps_slow_down() {
    // Two threads won (0.6 ms against 1 ms); then another process takes
    // the other processor and a two-thread step takes 1.5 ms. The period
    // (100 steps and 250 ms) is far off, but after `DRIFT_STEPS` slowed
    // steps the chooser measures and moves to one thread.
    let quiet = Machine {
        step_ms: [1.0, 0.6],
        rate: every_kind,
    };
    let busy = Machine {
        step_ms: [1.0, 1.5],
        rate: every_kind,
    };
    let mut now = Duration::ZERO;
    let mut c = held_on(&quiet, &mut now);
    assert_eq!(c.threads(Kind::Products), 2);
    let mut held = 0;
    while !c.measuring() {
        busy.step(&mut c, &mut now);
        held += 1;
        assert!(held <= DRIFT_STEPS, "still holding after {held} slow steps");
    }
    assert_eq!(held, DRIFT_STEPS);
    busy.measure(&mut c, &mut now);
    assert_eq!(c.threads(Kind::Products), 1);
    assert_eq!(c.measurements(), 2);
}

#[test]
fn one_thread_held_waits_for_the_period_however_slow_its_steps() {
    // One thread won; the machine then slows every step fivefold. That
    // says nothing about a second thread, so the hold runs its period.
    let busy = Machine {
        step_ms: [1.0, 1.4],
        rate: every_kind,
    };
    let slower = Machine {
        step_ms: [5.0, 7.0],
        rate: every_kind,
    };
    let mut now = Duration::ZERO;
    let mut c = held_on(&busy, &mut now);
    assert_eq!(c.threads(Kind::Products), 1);
    for _ in 0..99 {
        slower.step(&mut c, &mut now);
        assert!(!c.measuring());
    }
    assert_eq!(c.measurements(), 1);
}

#[test]
fn a_few_slow_held_steps_do_not_start_a_measurement() {
    // Three steps in every eight are stalled tenfold (page faults, a
    // moment's preemption): the median of the last eight stays at the
    // measured 0.6 ms, so the hold runs its 100 steps.
    let quiet = Machine {
        step_ms: [1.0, 0.6],
        rate: every_kind,
    };
    let stalled = Machine {
        step_ms: [1.0, 6.0],
        rate: every_kind,
    };
    let mut now = Duration::ZERO;
    let mut c = held_on(&quiet, &mut now);
    for i in 0..99 {
        let m = if i % 8 < 3 { &stalled } else { &quiet };
        m.step(&mut c, &mut now);
        assert!(!c.measuring(), "measuring after {i} held steps");
    }
    assert_eq!(c.threads(Kind::Products), 2);
}

#[test]
fn a_slowdown_confirmed_by_a_measurement_is_not_measured_again() {
    // The machine slows both arms alike: two threads still win, now at
    // 0.9 ms. The measurement the slowdown started confirms two threads,
    // and steps at the new speed start no further measurement.
    let quiet = Machine {
        step_ms: [1.0, 0.6],
        rate: every_kind,
    };
    let slower = Machine {
        step_ms: [1.5, 0.9],
        rate: every_kind,
    };
    let mut now = Duration::ZERO;
    let mut c = held_on(&quiet, &mut now);
    slower.measure(&mut c, &mut now);
    assert_eq!(c.measurements(), 2);
    assert_eq!(c.last_step_times(), [Some(1.5e6), Some(9e5)]);
    assert_eq!(c.threads(Kind::Products), 2);
    for _ in 0..99 {
        slower.step(&mut c, &mut now);
        assert!(!c.measuring());
    }
}

#[test]
fn split_steps_count_every_step_that_ran_on_two_threads() {
    // Warm-up: one step on one thread. Measuring: six of twelve on two
    // threads. Held on two threads: every step.
    let quiet = Machine {
        step_ms: [1.0, 0.6],
        rate: every_kind,
    };
    let mut now = Duration::ZERO;
    let mut c = held_on(&quiet, &mut now);
    assert_eq!(c.split_steps(), 6);
    for _ in 0..10 {
        quiet.step(&mut c, &mut now);
    }
    assert_eq!(c.split_steps(), 16);
}
