//! `cdlc-fuzz`: long fuzzing campaigns.
//!
//! `cdlc-fuzz TARGET SECONDS [SEED] [MAX_DEPTH]` runs one target (or `all`,
//! in turn) for about SECONDS each. Inputs that panic are written to
//! `fuzz/crashes/TARGET-N` with their message on standard error. The work
//! runs in a child process that writes each input to
//! `fuzz/crashes/current-TARGET` before trying it, so an input that aborts
//! the process (a stack overflow, an allocation failure) is kept too, as
//! `TARGET-abort-N`, and the campaign goes on with the next seed.

use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use cdlc_fuzz::{Budget, TARGETS, Target};

fn crashes() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("crashes")
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--worker") {
        return worker(&args[1..]);
    }
    let usage = "usage: cdlc-fuzz TARGET|all SECONDS [SEED] [MAX_DEPTH]";
    let (Some(which), Some(seconds)) = (args.first(), args.get(1).and_then(|s| s.parse().ok()))
    else {
        eprintln!("{usage}");
        return ExitCode::from(2);
    };
    let seed: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let depth: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(100);
    let targets: Vec<Target> = TARGETS
        .iter()
        .copied()
        .filter(|t| which == "all" || t.name() == which)
        .collect();
    if targets.is_empty() {
        eprintln!("{usage}");
        return ExitCode::from(2);
    }
    let _ = std::fs::create_dir_all(crashes());
    for t in targets {
        campaign(t, seconds, seed, depth);
    }
    ExitCode::SUCCESS
}

/// Runs workers for `target` until `seconds` have passed, restarting after
/// an abort with the next seed.
fn campaign(target: Target, seconds: u64, seed: u64, depth: usize) {
    let started = Instant::now();
    let mut seed = seed;
    let mut aborts = 0;
    while started.elapsed() < Duration::from_secs(seconds) {
        let left = seconds.saturating_sub(started.elapsed().as_secs()).max(1);
        let status = Command::new(std::env::current_exe().expect("this program"))
            .args([
                "--worker",
                target.name(),
                &left.to_string(),
                &seed.to_string(),
            ])
            .arg(depth.to_string())
            .status()
            .expect("a worker process");
        if status.success() {
            break;
        }
        aborts += 1;
        let current = crashes().join(format!("current-{}", target.name()));
        let kept = crashes().join(format!("{}-abort-{seed}", target.name()));
        let _ = std::fs::rename(&current, &kept);
        eprintln!(
            "{}: the worker aborted ({status}); input kept as {}",
            target.name(),
            kept.display()
        );
        seed += 1;
    }
    eprintln!(
        "{}: {:.0} s, {aborts} abort(s)",
        target.name(),
        started.elapsed().as_secs_f64()
    );
}

/// One worker: `--worker TARGET SECONDS SEED MAX_DEPTH`.
fn worker(args: &[String]) -> ExitCode {
    let target = TARGETS
        .iter()
        .copied()
        .find(|t| Some(t.name()) == args.first().map(String::as_str));
    let num = |i: usize| args.get(i).and_then(|s| s.parse::<u64>().ok());
    let (Some(target), Some(seconds), Some(seed), Some(depth)) = (target, num(1), num(2), num(3))
    else {
        return ExitCode::from(2);
    };
    let current = crashes().join(format!("current-{}", target.name()));
    let budget = Budget {
        runs: u64::MAX,
        time: Duration::from_secs(seconds),
        max_depth: depth as usize,
    };
    let report = cdlc_fuzz::run(target, seed, budget, &mut |input| {
        let _ = std::fs::write(&current, input);
    });
    let _ = std::fs::remove_file(&current);
    for (i, f) in report.failures.iter().enumerate() {
        let path = crashes().join(format!("{}-{seed}-{i}", target.name()));
        let _ = std::fs::write(&path, &f.input);
        eprintln!(
            "{}: panic `{}`; input kept as {}",
            target.name(),
            f.message,
            path.display()
        );
    }
    eprintln!(
        "{}: {} inputs, {} distinct panic(s)",
        target.name(),
        report.runs,
        report.failures.len()
    );
    ExitCode::SUCCESS
}
