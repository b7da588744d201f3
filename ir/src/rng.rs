//! The deterministic generator of gradient checks and tests: the runtime's,
//! so that every random draw of the project comes from one algorithm.

pub use cdlc_runtime::rng::Rng;
