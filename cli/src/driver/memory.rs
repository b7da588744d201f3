//! How much memory training a model needs, estimated before anything is
//! allocated, so that a model too large for the machine is a coded error
//! (E0704) instead of an allocation abort.
//!
//! The estimate counts the initial parameters (in f64), the parameters,
//! gradients and optimizer state in the training type, and every tensor
//! value of the training function (forward and backward): once per batch
//! when it is shaped like a parameter slot, once per example otherwise. Values inside folds are counted once per example, not per
//! node, so for recursive models it is a lower bound; for feed-forward
//! models it is close. The limit is the memory the system reports as
//! available (`MemAvailable` in `/proc/meminfo`), or `FALLBACK_LIMIT` where
//! that cannot be read.

use cdlc::check::TrainSetup;
use cdlc::diagnostics::Diagnostic;
use cdlc::training::Prepared;
use cdlc_grammar::Span;
use cdlc_ir::Type;
use cdlc_runtime::optim::OptimConfig;

/// The limit when the available memory cannot be read: 64 GiB.
pub const FALLBACK_LIMIT: u128 = 64 << 30;

/// What a training run will hold in memory, in bytes, by part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Estimate {
    /// Parameters in all their copies (initial f64 values, the trained
    /// values, gradients and optimizer buffers).
    pub parameters: u128,
    /// Activations of one batch (forward and backward values).
    pub activations: u128,
}

impl Estimate {
    /// Both parts together.
    pub fn total(&self) -> u128 {
        self.parameters + self.activations
    }
}

/// The estimate for training `p` in batches of `batch` with `optim`,
/// computing in f32 (`f32`) or f64.
pub fn estimate(p: &Prepared, batch: usize, optim: &OptimConfig, f32: bool) -> Estimate {
    let width: u128 = if f32 { 4 } else { 8 };
    let params: u128 = p
        .inst
        .slots
        .iter()
        .map(|s| elements(&s.shape))
        .fold(0, u128::saturating_add);
    let buffers = match optim {
        OptimConfig::Sgd { .. } => 0,
        OptimConfig::Adam { .. } => 2,
        _ => 1,
    };
    let f = &p.inst.module.functions[p.train];
    let (mut shared, mut per_example) = (0u128, 0u128);
    for v in f.values.keys() {
        if let Some(Type::Tensor(shape)) = f.types.get(v) {
            // A value shaped like a parameter slot is taken to be that
            // parameter (or its gradient), held once per batch; every
            // other value once per example.
            if p.inst.slots.iter().any(|s| s.shape == *shape) {
                shared = shared.saturating_add(elements(shape));
            } else {
                per_example = per_example.saturating_add(elements(shape));
            }
        }
    }
    Estimate {
        parameters: params.saturating_mul(8 + width * (2 + buffers)),
        activations: per_example
            .saturating_mul(batch as u128)
            .saturating_add(shared)
            .saturating_mul(width),
    }
}

/// The entries of a tensor of `shape`, without overflow.
fn elements(shape: &[usize]) -> u128 {
    shape
        .iter()
        .fold(1u128, |a, &d| a.saturating_mul(d as u128))
}

/// The memory the system reports as available, in bytes.
pub fn available() -> Option<u128> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u128 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// E0704 at the train block when training `setup`'s model does not fit in
/// the available memory.
pub fn fits(p: &Prepared, setup: &TrainSetup, f32: bool) -> Result<(), Diagnostic> {
    let e = estimate(p, setup.batch as usize, &setup.optim, f32);
    check(e, available().unwrap_or(FALLBACK_LIMIT), setup.model_span)
}

/// E0704 at `span` when `e` exceeds `limit` bytes.
pub fn check(e: Estimate, limit: u128, span: Span) -> Result<(), Diagnostic> {
    if e.total() <= limit {
        return Ok(());
    }
    Err(Diagnostic::error(
        "E0704",
        format!(
            "training this model needs at least {} of memory ({} for parameters, gradients and optimizer state, {} for one batch's activations), but {} is available",
            human(e.total()),
            human(e.parameters),
            human(e.activations),
            human(limit)
        ),
        span,
        "this model is too large to train here",
    )
    .with_help("make the layers smaller, or lower `batch` if the activations dominate"))
}

/// A byte count in binary units, to three significant digits.
pub fn human(bytes: u128) -> String {
    let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{v:.3} {}", units[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_print_in_binary_units() {
        assert_eq!(human(512), "512 bytes");
        assert_eq!(human(80_000_000_000), "74.506 GiB");
        assert_eq!(human(3 << 20), "3.000 MiB");
    }

    #[test]
    fn the_check_compares_the_total_with_the_limit() {
        let e = Estimate {
            parameters: 600,
            activations: 500,
        };
        let span = Span::new(cdlc_grammar::FileId(0), 0, 1);
        assert!(check(e, 1100, span).is_ok());
        let d = check(e, 1099, span).expect_err("too large");
        assert_eq!(d.code, "E0704");
        assert!(
            d.message.contains("1.074 KiB") && d.message.contains("600 bytes"),
            "{}",
            d.message
        );
    }
}
