//! The chooser's schedule and choices, fed with synthetic timings.

use super::*;

const MS: Duration = Duration::from_millis(1);

fn config() -> Config {
    Config {
        warmup: 1,
        per_arm: 2,
        period: Duration::from_millis(100),
        period_steps: 10,
    }
}

/// Runs one step at time `now`: every kind's large work is "timed" with
/// `ns_per_unit(kind, split)` nanoseconds per unit, 1000 units a piece.
fn step(c: &mut Chooser, now: Duration, ns_per_unit: impl Fn(Kind, bool) -> Option<f64>) {
    for kind in Kind::ALL {
        let split = c.split(kind);
        if let Some(rate) = ns_per_unit(kind, split) {
            c.record(kind, split, rate * 1000.0, 1000.0);
        }
    }
    c.end_step(now);
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
}

#[test]
fn each_kind_keeps_its_faster_choice() {
    let mut c = Chooser::new(config());
    // Products gain from a second thread, elementwise kernels lose, and
    // row operations never get large enough to be timed.
    let rates = |kind: Kind, split: bool| match (kind, split) {
        (Kind::Products, false) => Some(2.0),
        (Kind::Products, true) => Some(1.2),
        (Kind::Elementwise, false) => Some(1.0),
        (Kind::Elementwise, true) => Some(1.5),
        (Kind::Rows, _) => None,
    };
    for i in 0..5 {
        step(&mut c, MS * i, rates);
    }
    assert!(!c.measuring());
    assert_eq!(c.threads(Kind::Products), 2);
    assert_eq!(c.threads(Kind::Elementwise), 1);
    assert_eq!(c.threads(Kind::Rows), 1);
    assert!(c.split(Kind::Products) && !c.split(Kind::Elementwise));
    assert_eq!(c.last_rates(Kind::Products), [Some(2.0), Some(1.2)]);
    assert_eq!(c.last_rates(Kind::Rows), [None, None]);
}

#[test]
fn timings_outside_a_measurement_are_ignored() {
    let mut c = Chooser::new(config());
    for i in 0..5 {
        step(&mut c, MS * i, |_, split| {
            Some(if split { 1.0 } else { 2.0 })
        });
    }
    assert_eq!(c.threads(Kind::Rows), 2);
    // While the choice holds, even a very slow split piece changes nothing.
    c.record(Kind::Rows, true, 1e12, 1.0);
    for i in 5..14 {
        step(&mut c, MS * i, |_, _| None);
    }
    assert!(!c.measuring());
    assert_eq!(c.threads(Kind::Rows), 2);
}

#[test]
fn the_choice_is_measured_again_after_the_period_and_follows_the_machine() {
    let mut c = Chooser::new(config());
    let quiet = |_: Kind, split: bool| Some(if split { 0.6 } else { 1.0 });
    let busy = |_: Kind, split: bool| Some(if split { 1.5 } else { 1.0 });
    let mut now = Duration::ZERO;
    for _ in 0..5 {
        now += MS;
        step(&mut c, now, quiet);
    }
    assert_eq!(c.threads(Kind::Elementwise), 2);
    // The machine gets busy. The choice holds for at least `period_steps`
    // steps and `period` of time: 10 steps of 1 ms are not enough...
    for _ in 0..10 {
        now += MS;
        step(&mut c, now, busy);
        assert!(!c.measuring());
    }
    // ...but once 100 ms have passed too, the next step starts measuring.
    now += Duration::from_millis(100);
    step(&mut c, now, busy);
    assert!(c.measuring());
    for _ in 0..4 {
        now += MS;
        step(&mut c, now, busy);
    }
    assert!(!c.measuring());
    assert_eq!(c.threads(Kind::Elementwise), 1);
    assert_eq!(c.measurements(), 2);
    // Many quick steps alone do not start a measurement before the period.
    for _ in 0..50 {
        step(&mut c, now, quiet);
    }
    assert!(!c.measuring());
    assert_eq!(c.threads(Kind::Elementwise), 1);
}

#[test]
fn rates_compare_time_per_unit_of_work_not_time_per_piece() {
    let mut c = Chooser::new(Config {
        warmup: 0,
        ..config()
    });
    // The split arm saw twice the work in more time, but less time per unit.
    for i in 0..4 {
        let split = c.split(Kind::Products);
        let (nanos, work) = if split {
            (1500.0, 2000.0)
        } else {
            (1000.0, 1000.0)
        };
        c.record(Kind::Products, split, nanos, work);
        c.end_step(MS * i);
    }
    assert_eq!(c.threads(Kind::Products), 2);
}

#[test]
fn equal_rates_stay_on_one_thread() {
    let mut c = Chooser::new(config());
    for i in 0..5 {
        step(&mut c, MS * i, |_, _| Some(1.0));
    }
    assert_eq!(c.threads(Kind::Products), 1);
}
