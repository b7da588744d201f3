//! What training needs from the compiler, without IO: a model prepared for
//! training (its IR and reverse derivative), initial parameters, the data
//! signature it expects, and seeded shuffles and splits.
//!
//! The `cdlc` binary adds the IO (files, progress, checkpoints); tests use
//! these functions directly.

use crate::Compilation;
use crate::check::LossKind;
use crate::diagnostics::Diagnostic;
use crate::instantiate::{Instantiated, Unsupported};
use crate::resolve::ItemId;
use cdlc_grammar::Span;
use cdlc_runtime::data::splitmix::mix64;
use cdlc_runtime::data::{Signature, TargetType};
use cdlc_runtime::value::{DataType, Example, Tensor};

/// A model ready to train: its IR and training function.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// The instantiated model.
    pub inst: Instantiated,
    /// The training function (`NAME.train`).
    pub train: cdlc_ir::FuncId,
    /// The loss, in the IR's terms.
    pub loss: cdlc_ir::LossKind,
}

/// Why a model cannot be prepared.
#[derive(Debug)]
pub enum PrepareError {
    /// A construct this compiler cannot lower yet.
    Unsupported(Unsupported),
    /// The reverse derivative could not be built (a compiler limit).
    Autodiff(String),
    /// The reverse derivative found the forward function breaking an
    /// invariant it relies on (`AdError::Internal`): a compiler bug.
    Internal(String),
}

impl PrepareError {
    /// The error as E0617 ("not supported yet"), at the construct when it
    /// is located and else at `model`, the span of the model being
    /// prepared; an internal error as E0619. This is the only place its
    /// wording lives.
    pub fn to_diagnostic(&self, model: Span) -> Diagnostic {
        match self {
            PrepareError::Unsupported(u) => Diagnostic::error(
                "E0617",
                format!("not supported yet: {}", u.what),
                u.span,
                "cdlc cannot compile this construct yet",
            )
            .with_note("the program is valid; this compiler does not lower the construct yet")
            .with_help("write this part of the model another way; docs/status.md lists what is not built"),
            PrepareError::Autodiff(m) => Diagnostic::error(
                "E0617",
                format!("not supported yet: the reverse derivative of this model: {m}"),
                model,
                "this model's gradient cannot be derived yet",
            )
            .with_note("the program is valid; training needs a reverse derivative this compiler cannot build yet")
            .with_help("write the model without the operation named above"),
            PrepareError::Internal(m) => Diagnostic::error_without_span("E0619", m.clone())
                .with_note("this is a bug in cdlc, not a problem of the program")
                .with_help("please report it with the program and the command that showed it"),
        }
    }
}

/// The IR form of a checked loss.
pub fn ir_loss(l: LossKind) -> cdlc_ir::LossKind {
    match l {
        LossKind::Mse => cdlc_ir::LossKind::Mse,
        LossKind::CrossEntropy => cdlc_ir::LossKind::CrossEntropy,
        LossKind::BinaryCrossEntropy => cdlc_ir::LossKind::BinaryCrossEntropy,
    }
}

/// The runtime form of a checked loss.
pub fn runtime_loss(l: LossKind) -> cdlc_runtime::loss::Loss {
    use cdlc_runtime::loss::Loss;
    match l {
        LossKind::Mse => Loss::Mse,
        LossKind::CrossEntropy => Loss::CrossEntropy,
        LossKind::BinaryCrossEntropy => Loss::BinaryCrossEntropy,
    }
}

/// The loss of the train block for `model`, or the one that fits its
/// output (cross-entropy for a vector of two or more logits, mean squared
/// error otherwise).
pub fn loss_for(c: &Compilation, model: ItemId) -> LossKind {
    if let Some(t) = c.checked.trains.iter().find(|t| t.model == model) {
        return t.loss;
    }
    // Cross-entropy over one class is zero whatever the logit, with a zero
    // gradient: a single output is fitted with mean squared error instead.
    match &c.checked.defs[&model].cod {
        crate::check::types::Ty::Tensor(s, _)
            if s.len() == 1 && s[0].as_constant().is_none_or(|n| n > 1) =>
        {
            LossKind::CrossEntropy
        }
        _ => LossKind::Mse,
    }
}

/// Instantiates `model` and derives its training function under `loss`.
pub fn prepare(c: &Compilation, model: ItemId, loss: LossKind) -> Result<Prepared, PrepareError> {
    prepare_with(c, model, loss, false)
}

/// `prepare`, with the model's element-only work hoisted out of its folds
/// (`cdlc_ir::passes::hoist`) and its output work out of its unfolds
/// (`cdlc_ir::passes::hoist::unfold`) before the training function is
/// derived:
/// `inst.func` is then the hoisted forward function. Training, `cdlc run`
/// and `cdlc bench` compile this one; their results equal `prepare`'s up
/// to rounding.
pub fn prepare_hoisted(
    c: &Compilation,
    model: ItemId,
    loss: LossKind,
) -> Result<Prepared, PrepareError> {
    prepare_with(c, model, loss, true)
}

fn prepare_with(
    c: &Compilation,
    model: ItemId,
    loss: LossKind,
    hoist: bool,
) -> Result<Prepared, PrepareError> {
    let mut inst = crate::instantiate::instantiate_with(&c.program, &c.checked, &c.tyings, model)
        .map_err(PrepareError::Unsupported)?;
    if hoist {
        cdlc_ir::passes::hoist::hoist_function(&mut inst.module, inst.func);
        cdlc_ir::passes::hoist::unfold::hoist_function(&mut inst.module, inst.func);
    }
    let loss = ir_loss(loss);
    let train = cdlc_ir::autodiff::differentiate(&mut inst.module, inst.func, loss).map_err(
        |e| match e {
            cdlc_ir::autodiff::AdError::Internal { .. } => PrepareError::Internal(e.to_string()),
            _ => PrepareError::Autodiff(e.to_string()),
        },
    )?;
    Ok(Prepared { inst, train, loss })
}

/// Initial values of every slot, each drawn from its own stream of the
/// run's seed.
pub fn init_params(inst: &Instantiated, seed: u64) -> Vec<Tensor> {
    inst.slots
        .iter()
        .enumerate()
        .map(|(i, s)| s.initial_values(mix64(seed ^ mix64(i as u64 + 1))))
        .collect()
}

/// A permutation of `0..n` drawn from `seed` (Fisher–Yates).
pub fn shuffled(n: usize, seed: u64) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = (mix64(seed.wrapping_add(i as u64)) % (i as u64 + 1)) as usize;
        idx.swap(i, j);
    }
    idx
}

/// Splits examples into training and validation parts after a seeded
/// shuffle: the first `split` fraction trains.
pub fn split(examples: Vec<Example>, split: f64, seed: u64) -> (Vec<Example>, Vec<Example>) {
    let (train_at, val_at) = split_indices(examples.len(), split, seed);
    let mut slots: Vec<Option<Example>> = examples.into_iter().map(Some).collect();
    let mut take = |at: Vec<usize>| -> Vec<Example> {
        at.into_iter()
            .map(|i| slots[i].take().expect("each index once"))
            .collect()
    };
    let train = take(train_at);
    (train, take(val_at))
}

/// Which of `n` examples (by their index in the data) `split` puts in the
/// training part and which in the validation part, in the order `split`
/// gives them.
pub fn split_indices(n: usize, split: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut order = shuffled(n, mix64(seed ^ 0x5eed));
    let (n_train, _) = split_sizes(n, split);
    let val = order.split_off(n_train);
    (order, val)
}

/// How many of `n` examples train and how many validate under `split`.
pub fn split_sizes(n: usize, split: f64) -> (usize, usize) {
    let n_train = (((n as f64) * split).round() as usize).min(n);
    (n_train, n - n_train)
}

/// Why `split` cannot divide `n` examples, or `None` when it can: the
/// training part must not be empty, and a split below 1 asks for a
/// validation part, which must not be empty either. The checker asks this
/// of a synthetic data set, the trainer of loaded data.
pub fn split_problem(n: usize, split: f64) -> Option<String> {
    let (train, val) = split_sizes(n, split);
    if train == 0 {
        Some(format!(
            "`split = {split}` of {n} examples leaves no example to train on"
        ))
    } else if val == 0 && split < 1.0 {
        Some(format!(
            "`split = {split}` of {n} examples leaves no example to validate on"
        ))
    } else {
        None
    }
}

/// The data a prepared model expects: its input type and the loss's
/// target type.
pub fn expected_signature(p: &Prepared) -> Option<Signature> {
    let f = &p.inst.module.functions[p.inst.func];
    let out = &f.types[f.output()];
    let inputs = &p.inst.inputs;
    let x = if inputs.len() == 1 {
        inputs[0].clone()
    } else {
        DataType::Tuple(inputs.to_vec())
    };
    Some(Signature {
        x,
        y: target_type(&p.loss.target_type(out)?)?,
    })
}

fn target_type(t: &cdlc_ir::Type) -> Option<TargetType> {
    Some(match t {
        cdlc_ir::Type::Class(n) => TargetType::Class(*n),
        cdlc_ir::Type::Tensor(s) => TargetType::Tensor(s.clone()),
        cdlc_ir::Type::Seq(e) => TargetType::Seq(Box::new(target_type(e)?)),
        _ => return None,
    })
}
