//! A second thread for the work of one training step, and the choice of
//! when to use it.
//!
//! The helper thread runs `second` of `join(first, second)` while the
//! caller runs `first`. The step's pieces
//! (halves of a matrix product or of a batch of them, halves of the rows of
//! an elementwise kernel or of a per-example operation) take microseconds,
//! so the hand-over must cost much less: between jobs the helper spins for
//! up to `SPIN` on a one-slot mailbox and only then sleeps. A second caller
//! that finds the slot taken runs both halves itself, and a caller that
//! finishes its half before the helper has started the other takes it back
//! and runs it too. So a helper the machine does not schedule (a busy
//! machine runs many more threads than it has processors) delays a step by
//! at most the half it has started, never by its wait for a processor:
//! without the take-back, two threads on such a machine ran W2's steps 20
//! times slower than one (`docs/performance.md`). Measured hand-overs for W1 (steps/s with two threads):
//! matrixmultiply's own threading 1870, `rayon::join` 2250, a rayon pool
//! thread taking one half 2400, this helper 2730 (`docs/performance.md`).
//!
//! Whether a piece of work large enough to split is split is `decide`'s
//! answer under the process's `Threads` mode: never (`Fixed(1)`, the
//! runtime's initial mode; the command line starts in `Auto`), always
//! (`Fixed(2)` or more), or measured per kind of kernel
//! while the program runs (`Auto`, see `chooser`). Splitting never
//! changes a result: each half computes its rows or columns exactly as one
//! thread would (a split product keeps the whole product's kernel).

mod chooser;
mod mode;

pub use chooser::{Chooser, Config, Kind};
pub use mode::{
    Split, Threads, choices, decide, end_step, last_rates, last_step_times, measurements, mode,
    set_mode, split_steps,
};

use std::cell::UnsafeCell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// The helper thread, once `set_threads` started it.
static HELPER: OnceLock<&'static Helper> = OnceLock::new();

/// How long the helper waits for the next job before it sleeps: the pieces
/// of one training step follow each other within microseconds.
const SPIN: std::time::Duration = std::time::Duration::from_micros(200);

/// Lets large pieces of work use two threads when `n > 1` (the default is
/// one): `set_mode(Threads::Fixed(n))`.
pub fn set_threads(n: usize) {
    set_mode(Threads::Fixed(n.max(1)));
}

/// Starts the helper thread unless it runs already. If it cannot be
/// started, everything stays on the calling thread.
fn start_helper() {
    static START: std::sync::Once = std::sync::Once::new();
    START.call_once(spawn_helper);
}

/// Spawns the helper thread and publishes it in `HELPER`.
fn spawn_helper() {
    let helper: &'static Helper = Box::leak(Box::new(Helper {
        state: AtomicU32::new(IDLE),
        job: UnsafeCell::new(None),
        panicked: AtomicBool::new(false),
        sleeping: AtomicBool::new(false),
        thread: OnceLock::new(),
    }));
    if let Ok(handle) = std::thread::Builder::new()
        .name("cdlc-helper".into())
        .spawn(move || helper.serve())
    {
        let _ = helper.thread.set(handle.thread().clone());
        let _ = HELPER.set(helper);
    }
}

/// Whether a helper thread is running, so that work is worth splitting.
pub fn two() -> bool {
    HELPER.get().is_some()
}

/// The threads work may be split between: 2 with the helper, else 1.
pub fn count() -> usize {
    if two() { 2 } else { 1 }
}

/// Runs `first` here and `second` on the helper thread if it is free, else
/// both here, and returns when both are done. A panic in either is
/// resumed here after both have finished.
///
/// # Safety
///
/// `second` may run on another thread while `first` runs here: whatever
/// the two touch must be safe to share that way (they write disjoint
/// memory), although the closures need not be `Send`.
pub unsafe fn join(first: impl FnOnce(), second: impl FnOnce()) {
    match HELPER.get() {
        // SAFETY: forwarded from the caller.
        Some(helper) => unsafe { helper.join(first, second) },
        None => {
            first();
            second();
        }
    }
}

const IDLE: u32 = 0;
const CLAIMED: u32 = 1;
const READY: u32 = 2;
const RUNNING: u32 = 3;
const DONE: u32 = 4;

/// A job, type-erased: the function that runs it and what it runs on.
type Job = (unsafe fn(*mut ()), *mut ());

/// One helper thread and its job slot. A caller claims the slot
/// (`IDLE → CLAIMED`), fills it and marks it `READY`, and runs its own
/// half. The job then goes to whichever thread moves the slot out of
/// `READY` first: the helper (`READY → RUNNING`, then `DONE`) or the
/// caller done with its half (`READY → CLAIMED`, running the job itself);
/// the caller frees the slot (`IDLE`) once the job has run.
struct Helper {
    state: AtomicU32,
    job: UnsafeCell<Option<Job>>,
    panicked: AtomicBool,
    sleeping: AtomicBool,
    thread: OnceLock<std::thread::Thread>,
}

// SAFETY: `job` is written only by the caller holding the claim, before it
// publishes `READY`, and read only by the helper after it sees `READY`;
// what it points to outlives the job (the caller waits for `DONE`, also
// when its own half panics).
unsafe impl Sync for Helper {}
unsafe impl Send for Helper {}

impl Helper {
    /// The helper thread: spins for the next job, sleeps after `SPIN`.
    fn serve(&self) {
        loop {
            let mut since = std::time::Instant::now();
            let mut spins = 0u32;
            while self.state.load(Ordering::Acquire) != READY {
                spins = spins.wrapping_add(1);
                std::hint::spin_loop();
                if spins.is_multiple_of(256) && since.elapsed() > SPIN {
                    self.sleeping.store(true, Ordering::SeqCst);
                    if self.state.load(Ordering::SeqCst) != READY {
                        std::thread::park();
                    }
                    self.sleeping.store(false, Ordering::SeqCst);
                    since = std::time::Instant::now();
                }
            }
            if self
                .state
                .compare_exchange(READY, RUNNING, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
            {
                // The caller took the job back; wait for the next one.
                continue;
            }
            self.run_job();
            self.state.store(DONE, Ordering::Release);
        }
    }

    /// See `join`.
    ///
    /// # Safety
    ///
    /// As for `join`.
    unsafe fn join(&self, first: impl FnOnce(), second: impl FnOnce()) {
        if self
            .state
            .compare_exchange(IDLE, CLAIMED, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            first();
            second();
            return;
        }
        /// Runs the closure `data` points to (an `Option` it takes).
        unsafe fn call<F: FnOnce()>(data: *mut ()) {
            // SAFETY: `data` is the `Option<F>` `join` published.
            if let Some(f) = unsafe { (*(data as *mut Option<F>)).take() } {
                f()
            }
        }
        fn call_of<F: FnOnce()>(_: &Option<F>) -> unsafe fn(*mut ()) {
            call::<F>
        }
        let mut second = Some(second);
        let run = call_of(&second);
        // SAFETY: the claim gives this thread the slot.
        unsafe { *self.job.get() = Some((run, &mut second as *mut _ as *mut ())) };
        self.state.store(READY, Ordering::SeqCst);
        if self.sleeping.load(Ordering::SeqCst)
            && let Some(t) = self.thread.get()
        {
            t.unpark();
        }
        // Runs or waits for `second` even if `first` panics: `second` lives
        // on this stack frame.
        let wait = Wait(self);
        first();
        drop(wait);
        if self.panicked.swap(false, Ordering::Relaxed) {
            panic!("a job on the helper thread panicked");
        }
    }

    /// Runs the job in the slot, if any, recording a panic in `panicked`.
    /// Called by whichever thread moved the slot out of `READY`.
    fn run_job(&self) {
        // SAFETY: see `Sync`; the slot's state gives this thread the job.
        if let Some((run, data)) = unsafe { (*self.job.get()).take() } {
            let ran =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| unsafe { run(data) }));
            if ran.is_err() {
                self.panicked.store(true, Ordering::Relaxed);
            }
        }
    }
}

/// When dropped, takes the job back if the helper has not started it (and
/// runs it, unless the caller's own half is unwinding), else waits for the
/// helper's `DONE`; then frees the slot.
struct Wait<'a>(&'a Helper);

impl Drop for Wait<'_> {
    fn drop(&mut self) {
        if self
            .0
            .state
            .compare_exchange(READY, CLAIMED, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            if std::thread::panicking() {
                // SAFETY: see `Sync`; the caller holds the slot again.
                unsafe { *self.0.job.get() = None };
            } else {
                self.0.run_job();
            }
            self.0.state.store(IDLE, Ordering::Release);
            return;
        }
        // The helper has started the job; the halves take about as long.
        // Yield now and then in case the helper was descheduled.
        let mut spins = 0u32;
        while self.0.state.load(Ordering::Acquire) != DONE {
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(1024) {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
        self.0.state.store(IDLE, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_halves_run_and_a_helper_panic_reaches_the_caller() {
        set_threads(2);
        assert!(two());
        let mut left = vec![0u64; 1000];
        let mut right = vec![0u64; 1000];
        for round in 0..100u64 {
            // SAFETY: the halves write different vectors.
            unsafe {
                join(
                    || left.iter_mut().for_each(|x| *x += round),
                    || right.iter_mut().for_each(|x| *x += 2 * round),
                )
            };
        }
        assert!(left.iter().all(|&x| x == 4950));
        assert!(right.iter().all(|&x| x == 9900));
        let caught = std::panic::catch_unwind(|| unsafe { join(|| (), || panic!("boom")) });
        assert!(caught.is_err());
        // The helper still serves jobs afterwards.
        let mut ran = false;
        unsafe { join(|| (), || ran = true) };
        assert!(ran);
    }

    /// A helper that no thread serves, as a helper the machine never
    /// schedules looks to the caller.
    fn unserved() -> Helper {
        Helper {
            state: AtomicU32::new(IDLE),
            job: UnsafeCell::new(None),
            panicked: AtomicBool::new(false),
            sleeping: AtomicBool::new(false),
            thread: OnceLock::new(),
        }
    }

    #[test]
    fn a_job_the_helper_has_not_started_is_taken_back() {
        let helper = unserved();
        let (mut left, mut right) = (0, 0);
        // Without the take-back this would wait forever.
        unsafe { helper.join(|| left = 1, || right = 2) };
        assert_eq!((left, right), (1, 2));
        assert_eq!(helper.state.load(Ordering::SeqCst), IDLE);
        // A panic in a taken-back job reaches the caller, and the slot is
        // free again afterwards.
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| unsafe {
            helper.join(|| (), || panic!("boom"))
        }));
        assert!(caught.is_err());
        assert_eq!(helper.state.load(Ordering::SeqCst), IDLE);
        // When the caller's own half panics, the job is dropped unrun.
        let mut ran = false;
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| unsafe {
            helper.join(|| panic!("first"), || ran = true)
        }));
        assert!(caught.is_err());
        assert!(!ran);
        assert_eq!(helper.state.load(Ordering::SeqCst), IDLE);
    }
}
