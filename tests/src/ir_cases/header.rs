//! The `;` lines of a case file: what to check and with which settings.
//!
//! A line `; key: rest` whose key is a lower-case word is a directive and
//! must be one of those below; any other `;` line is a comment.
//!
//! - `; run: NAME(ARGS) == VALUE`: the interpreter's output of function
//!   `NAME` on `ARGS` equals `VALUE` (relative error at most `EXACT`);
//!   `== error WORDS`: the interpreter refuses the input with an error
//!   whose name or text contains `WORDS`; `NAME.train(X, TARGET)` calls the
//!   training function the runner builds (with `; loss:`), whose value is
//!   `(loss, gradient of each slot...)` for one example;
//! - `; run: jit == interp`: the JIT's training step (loss and gradients)
//!   and forward outputs equal the interpreter's, in f64 and f32;
//! - `; grad: fd`: the reverse derivative agrees with central finite
//!   differences in f64;
//! - `; jvp: fd`: the forward derivative (`cdlc_ir::jvp`) agrees with
//!   central finite differences in f64 along a random direction;
//!   `; inputs: positive` draws its tensor inputs from `[0.5, 1.5)` (for
//!   `log`, `sqrt`, divisors);
//! - `; loss: mse` (or `cross_entropy`, `binary_cross_entropy`): the loss
//!   the model is trained with, for `jit == interp` and `grad`;
//! - `; model: NAME`: the model function (by default every function but
//!   training functions is a model, checked one after the other); a
//!   model's training function is `NAME.train` if the file has one,
//!   otherwise `autodiff::differentiate` of the model under the loss;
//! - `; batch: N` (default 4), `; seed: S ...` (default 1; each check runs
//!   once per seed), `; threads: 2` (the runtime's helper thread);
//! - `; param: NAME = VALUE`: a parameter's value for `run: NAME(..)`;
//! - `; fails: WORDS`: in `tests/cases/ir_failing/` only, the check above
//!   must fail with a message containing `WORDS`.

use cdlc_ir::LossKind;

/// What one directive checks.
#[derive(Clone, Debug, PartialEq)]
pub enum Check {
    /// `run: NAME(ARGS) == VALUE`.
    Call {
        /// The function.
        function: String,
        /// The arguments as written.
        args: String,
        /// The expected value as written.
        want: String,
    },
    /// `run: jit == interp`.
    JitAgainstInterpreter,
    /// `grad: fd`.
    FiniteDifferences,
    /// `jvp: fd`.
    ForwardDifferences,
}

/// A check and the line it is written on.
#[derive(Clone, Debug, PartialEq)]
pub struct Directive {
    /// The 1-based line.
    pub line: usize,
    /// What to check.
    pub check: Check,
}

/// Everything a case file's header says.
#[derive(Clone, Debug, PartialEq)]
pub struct Header {
    /// The checks, in file order.
    pub checks: Vec<Directive>,
    /// The loss, if given.
    pub loss: Option<LossKind>,
    /// The model function's name, if given.
    pub model: Option<String>,
    /// Examples per batch.
    pub batch: usize,
    /// The seeds each random check runs with.
    pub seeds: Vec<u64>,
    /// Threads for the runtime, if given.
    pub threads: Option<usize>,
    /// Parameter values: line, name and value as written.
    pub params: Vec<(usize, String, String)>,
    /// Whether `jvp: fd` draws its tensor inputs from `[0.5, 1.5)`.
    pub positive: bool,
}

/// Reads the header; an error names the line.
pub fn read(text: &str) -> Result<Header, (usize, String)> {
    let mut h = Header {
        checks: Vec::new(),
        loss: None,
        model: None,
        batch: 4,
        seeds: vec![1],
        threads: None,
        params: Vec::new(),
        positive: false,
    };
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let Some(rest) = raw.trim().strip_prefix(';') else {
            continue;
        };
        let Some((key, value)) = rest.trim().split_once(':') else {
            continue;
        };
        if !key.chars().all(|c| c.is_ascii_lowercase()) || key.is_empty() {
            continue;
        }
        h.directive(line, key, value.trim())
            .map_err(|m| (line, m))?;
    }
    if h.checks.is_empty() {
        return Err((
            1,
            "the file checks nothing: add a `; run:`, `; grad:` or `; jvp:` line".to_string(),
        ));
    }
    Ok(h)
}

impl Header {
    fn directive(&mut self, line: usize, key: &str, value: &str) -> Result<(), String> {
        match key {
            "run" => self.checks.push(Directive {
                line,
                check: run(value)?,
            }),
            "grad" if value == "fd" => self.checks.push(Directive {
                line,
                check: Check::FiniteDifferences,
            }),
            "grad" => return Err(format!("expected `; grad: fd`, found `; grad: {value}`")),
            "jvp" if value == "fd" => self.checks.push(Directive {
                line,
                check: Check::ForwardDifferences,
            }),
            "jvp" => return Err(format!("expected `; jvp: fd`, found `; jvp: {value}`")),
            "inputs" if value == "positive" => self.positive = true,
            "inputs" => {
                return Err(format!(
                    "expected `; inputs: positive`, found `; inputs: {value}`"
                ));
            }
            "loss" => self.loss = Some(loss(value)?),
            "model" => self.model = Some(value.to_string()),
            // What a deliberately wrong case must report; read by the test
            // of the runner itself.
            "fails" => {}
            "batch" => self.batch = number(value, "a batch size")?,
            "threads" => self.threads = Some(number(value, "a number of threads")?),
            "seed" => {
                self.seeds = value
                    .split_whitespace()
                    .map(|s| number(s, "a seed"))
                    .collect::<Result<_, _>>()?;
            }
            "param" => {
                let (name, v) = value
                    .split_once('=')
                    .ok_or_else(|| format!("expected `; param: NAME = VALUE`, found `{value}`"))?;
                self.params
                    .push((line, name.trim().to_string(), v.trim().to_string()));
            }
            other => {
                return Err(format!(
                    "unknown directive `{other}:` (run, grad, jvp, loss, model, batch, seed, threads, inputs, param, fails)"
                ));
            }
        }
        Ok(())
    }
}

/// `jit == interp` or `NAME(ARGS) == VALUE`.
fn run(value: &str) -> Result<Check, String> {
    let (lhs, rhs) = value
        .split_once("==")
        .ok_or_else(|| format!("expected `LEFT == RIGHT` after `run:`, found `{value}`"))?;
    let (lhs, rhs) = (lhs.trim(), rhs.trim());
    if lhs == "jit" {
        return if rhs == "interp" {
            Ok(Check::JitAgainstInterpreter)
        } else {
            Err(format!("expected `jit == interp`, found `jit == {rhs}`"))
        };
    }
    let (function, args) = lhs
        .split_once('(')
        .and_then(|(f, a)| Some((f.trim(), a.strip_suffix(')')?)))
        .ok_or_else(|| format!("expected `NAME(ARGS)` before `==`, found `{lhs}`"))?;
    Ok(Check::Call {
        function: function.to_string(),
        args: args.to_string(),
        want: rhs.to_string(),
    })
}

fn loss(value: &str) -> Result<LossKind, String> {
    [
        LossKind::CrossEntropy,
        LossKind::BinaryCrossEntropy,
        LossKind::Mse,
    ]
    .into_iter()
    .find(|k| k.name() == value)
    .ok_or_else(|| {
        format!("expected a loss (cross_entropy, binary_cross_entropy, mse), found `{value}`")
    })
}

fn number<T: std::str::FromStr>(value: &str, what: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("expected {what}, found `{value}`"))
}
