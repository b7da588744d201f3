//! Train blocks: which model, which data, which loss and optimizer.

use super::Checker;
use super::types::Ty;
use crate::builtins::SYNTHETIC;
use crate::diagnostics::{Diagnostic, closest};
use crate::resolve::ItemId;
use cdlc_grammar::Span;
use cdlc_grammar::ast::{self, DefKind, ItemKind, ValueKind};
use cdlc_runtime::optim::{self, OptimConfig, OptimError};

/// The losses of §7.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LossKind {
    /// Mean squared error.
    Mse,
    /// Softmax cross-entropy from logits against a class index.
    CrossEntropy,
    /// Sigmoid cross-entropy from logits against a tensor of 0/1 targets.
    BinaryCrossEntropy,
}

impl LossKind {
    /// The loss's name in CDL.
    pub fn name(self) -> &'static str {
        match self {
            LossKind::Mse => "mse",
            LossKind::CrossEntropy => "cross_entropy",
            LossKind::BinaryCrossEntropy => "binary_cross_entropy",
        }
    }
}

/// Where a train block's data comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum DataSpec {
    /// A built-in generator with its arguments.
    Synthetic {
        /// The data set's name (`parity`).
        name: String,
        /// Its arguments by name.
        args: Vec<(String, f64)>,
    },
    /// `jsonl(path)`
    Jsonl(String),
    /// `csv(path, label = "col")`
    Csv {
        /// The file.
        path: String,
        /// The label column.
        label: String,
    },
    /// `npy(x_path, y_path)`
    Npy(String, String),
}

/// A checked train block.
#[derive(Clone, Debug)]
pub struct TrainSetup {
    /// The model's name.
    pub model_name: String,
    /// The model.
    pub model: ItemId,
    /// Where the train block names its model; run-time errors about the
    /// whole run (a non-finite loss) point here.
    pub model_span: Span,
    /// The data.
    pub data: DataSpec,
    /// Where `data` is written.
    pub data_span: Span,
    /// The loss.
    pub loss: LossKind,
    /// The optimizer, validated by the runtime's own rules and with its
    /// defaults filled in.
    pub optim: OptimConfig,
    /// Passes over the training data.
    pub epochs: u64,
    /// Examples per step.
    pub batch: u64,
    /// Fraction of the data used for training; the rest validates.
    pub split: f64,
    /// Seed of every random choice of the run.
    pub seed: u64,
}

const OPTIONS: &[&str] = &["data", "loss", "optim", "epochs", "batch", "split", "seed"];

impl Checker<'_, '_> {
    pub(super) fn check_train(&mut self, t: &ast::Train) {
        let model = match self.program.lookup(&t.model.node) {
            Some(id) if matches!(&self.program.item(id).kind, ItemKind::Def(d) if d.kind == DefKind::Model) => {
                Some(id)
            }
            found => {
                let models = self
                    .globals_where(|k| matches!(k, ItemKind::Def(d) if d.kind == DefKind::Model));
                let mut d = Diagnostic::error(
                    "E0601",
                    format!("`train {}` names no model", t.model.node),
                    t.model.span,
                    match found {
                        Some(id) => format!(
                            "this is {}",
                            super::expr::item_kind_name(&self.program.item(id).kind)
                        ),
                        None => "no model of this name".to_string(),
                    },
                );
                d = match closest(&t.model.node, models.iter().map(String::as_str)) {
                    Some(c) => d.with_help(format!("did you mean `{c}`?")),
                    None if models.is_empty() => d.with_help("declare a `model` to train"),
                    None => d.with_help(format!("the models are: {}", models.join(", "))),
                };
                self.error(d);
                None
            }
        };
        let mut data = None;
        let mut data_span = t.model.span;
        let mut loss: Option<(LossKind, Span)> = None;
        let mut optim = OptimConfig::default();
        let (mut epochs, mut batch, mut split, mut seed) = (10u64, 32u64, 0.8f64, 0u64);
        let mut split_span = None;
        let mut seen: Vec<(&str, Span)> = Vec::new();
        for o in &t.options {
            let key = o.key.node.as_str();
            if let Some((_, prev)) = seen.iter().find(|(k, _)| *k == key) {
                self.error(
                    Diagnostic::error(
                        "E0604",
                        format!("option `{key}` is given twice"),
                        o.key.span,
                        "given again here",
                    )
                    .with_label(*prev, "first given here"),
                );
                continue;
            }
            match key {
                "data" => {
                    data = self.data_spec(&o.value);
                    data_span = o.value.span;
                }
                "loss" => loss = self.loss_spec(&o.value).map(|l| (l, o.value.span)),
                "optim" => {
                    if let Some(s) = self.optim_spec(&o.value) {
                        optim = s;
                    }
                }
                "epochs" => epochs = self.whole_number(&o.value, 1).unwrap_or(epochs),
                "batch" => batch = self.whole_number(&o.value, 1).unwrap_or(batch),
                "seed" => seed = self.whole_number(&o.value, 0).unwrap_or(seed),
                "split" => match self.number(&o.value) {
                    Some(x) if x > 0.0 && x <= 1.0 => {
                        split = x;
                        split_span = Some(o.value.span);
                    }
                    Some(x) => self.error(Diagnostic::error(
                        "E0604",
                        format!("`split` is the fraction of examples used for training, found {x}"),
                        o.value.span,
                        "expected a number in (0, 1]",
                    )),
                    None => {}
                },
                _ => {
                    let mut d = Diagnostic::error(
                        "E0604",
                        format!("unknown train option `{key}`"),
                        o.key.span,
                        "not an option",
                    );
                    d = match closest(key, OPTIONS.iter().copied()) {
                        Some(c) => d.with_help(format!("did you mean `{c}`?")),
                        None => d.with_help(format!("the options are: {}", OPTIONS.join(", "))),
                    };
                    self.error(d);
                    continue;
                }
            }
            seen.push((key, o.key.span));
        }
        for required in ["data", "loss"] {
            if !seen.iter().any(|(k, _)| *k == required) {
                self.error(
                    Diagnostic::error(
                        "E0605",
                        format!("train block `{}` has no `{required}`", t.model.node),
                        t.model.span,
                        format!("`{required}` is required"),
                    )
                    .with_help(if required == "data" {
                        "add `data = synthetic.NAME(...)`, `jsonl(\"file\")`, `csv(...)` or `npy(...)`"
                    } else {
                        "add `loss = mse`, `cross_entropy` or `binary_cross_entropy`"
                    }),
                );
            }
        }
        let (Some(model), Some(data), Some((loss, loss_span))) = (model, data, loss) else {
            return;
        };
        if let Some(info) = self.out.defs.get(&model).cloned()
            && self.check_loss_fits(loss, loss_span, &info.cod, model)
        {
            let before = self.errors_here();
            self.check_synthetic_fits(&data, data_span, &info, loss);
            if self.errors_here() == before {
                self.check_synthetic_lengths(&data, data_span, model);
            }
        }
        self.check_synthetic_split(&data, split, split_span.unwrap_or(data_span));
        self.out.trains.push(TrainSetup {
            model_name: t.model.node.clone(),
            model,
            model_span: t.model.span,
            data,
            data_span,
            loss,
            optim,
            epochs,
            batch,
            split,
            seed,
        });
    }

    /// E0603 when a built-in data set's examples do not have the model's
    /// input type or the loss's target type (file data is checked when it
    /// is loaded).
    fn check_synthetic_fits(
        &mut self,
        data: &DataSpec,
        span: Span,
        info: &super::DefInfo,
        loss: LossKind,
    ) {
        let DataSpec::Synthetic { name, args } = data else {
            return;
        };
        let sig = match cdlc_runtime::data::synthetic::signature(name, args) {
            Ok(sig) => sig,
            Err(e) => {
                self.error(Diagnostic::error(
                    "E0604",
                    e.to_string(),
                    span,
                    "these arguments do not make a data set",
                ));
                return;
            }
        };
        let list = self.prelude_functor("ListF");
        let x = super::runtime_types::data_type(&self.out, &info.dom);
        let y = super::runtime_types::target_type(loss, &info.cod, list);
        let (Some(x), Some(y)) = (x, y) else {
            return;
        };
        let decl = self.def_name_span(info.item);
        if sig.x != x {
            self.error(
                Diagnostic::error(
                    "E0603",
                    format!(
                        "`synthetic.{name}` gives inputs of type {}, but `{}` takes {x}",
                        sig.x, info.name
                    ),
                    span,
                    format!("inputs of type {}", sig.x),
                )
                .with_label(decl, format!("takes {x}"))
                .with_help(
                    "train the model on data of its input type, or change the model's input",
                ),
            );
        } else if sig.y != y {
            self.error(
                Diagnostic::error(
                    "E0603",
                    format!("`synthetic.{name}` gives targets that are {}, but `{}` needs {y}", sig.y, loss.name()),
                    span,
                    format!("targets: {}", sig.y),
                )
                .with_label(decl, "the model whose output the loss compares")
                .with_help("make the model's output fit the data's targets (e.g. R[classes] for cross_entropy)"),
            );
        }
    }

    /// E0604 when `split` leaves a synthetic data set's training or
    /// validation part empty (the same rule the trainer applies to data
    /// files once they are loaded).
    fn check_synthetic_split(&mut self, data: &DataSpec, split: f64, span: Span) {
        let DataSpec::Synthetic { name, args } = data else {
            return;
        };
        let Ok(n) = cdlc_runtime::data::synthetic::samples(name, args) else {
            return;
        };
        if let Some(problem) = crate::training::split_problem(n, split) {
            self.error(
                Diagnostic::error("E0604", problem, span, "an empty part").with_help(
                    "choose a split that leaves examples on both sides, or more samples",
                ),
            );
        }
    }

    /// E0602 when the loss cannot apply to the model's output; `true` when it fits.
    fn check_loss_fits(&mut self, loss: LossKind, span: Span, out: &Ty, model: ItemId) -> bool {
        let list = self.prelude_functor("ListF");
        let element = match out {
            Ty::Data {
                co: false,
                functor,
                args,
            } if Some(*functor) == list && args.len() == 1 => &args[0],
            other => other,
        };
        let ok = match (loss, element) {
            (_, Ty::Error) => true,
            (LossKind::CrossEntropy, Ty::Tensor(s, _)) => s.len() == 1,
            (LossKind::Mse | LossKind::BinaryCrossEntropy, Ty::Tensor(..)) => true,
            _ => false,
        };
        if !ok {
            let shown = self.show(out);
            let wants = match loss {
                LossKind::CrossEntropy => "logits R[classes] (or a List of them)",
                _ => "a tensor (or a List of tensors)",
            };
            let decl = self.def_name_span(model);
            self.error(
                Diagnostic::error(
                    "E0602",
                    format!(
                        "`{}` needs {wants}, but the model gives {shown}",
                        loss.name()
                    ),
                    span,
                    format!("this loss does not apply to {shown}"),
                )
                .with_label(decl, format!("the model's output is {shown}"))
                .with_help("train a model with one tensor output, or choose a loss that fits it"),
            );
        }
        ok
    }

    fn data_spec(&mut self, v: &ast::Value) -> Option<DataSpec> {
        let ValueKind::Call { path, args } = &v.kind else {
            self.error(Diagnostic::error(
                "E0604",
                "`data` is a data set: `synthetic.NAME(...)`, `jsonl(...)`, `csv(...)` or `npy(...)`",
                v.span,
                "not a data set",
            ));
            return None;
        };
        let names: Vec<&str> = path.iter().map(|p| p.node.as_str()).collect();
        let args = args.clone().unwrap_or_default();
        match names.as_slice() {
            ["synthetic", name] => {
                let Some((_, params)) = SYNTHETIC.iter().find(|(n, _)| n == name) else {
                    let mut d = Diagnostic::error(
                        "E0604",
                        format!("unknown data set `synthetic.{name}`"),
                        path[1].span,
                        "no such data set",
                    );
                    if let Some(c) = closest(name, SYNTHETIC.iter().map(|(n, _)| *n)) {
                        d = d.with_help(format!("did you mean `synthetic.{c}`?"));
                    }
                    self.error(d);
                    return None;
                };
                let got =
                    self.named_numbers(&args, params, v.span, &format!("synthetic.{name}"))?;
                Some(DataSpec::Synthetic {
                    name: name.to_string(),
                    args: got,
                })
            }
            ["jsonl"] => match args.as_slice() {
                [ast::ValueArg { name: None, value }] => self.string(value).map(DataSpec::Jsonl),
                _ => self.bad_args(
                    v.span,
                    "`jsonl` takes one path: `jsonl(\"data/train.jsonl\")`",
                ),
            },
            ["npy"] => match args.as_slice() {
                [a, b] if a.name.is_none() && b.name.is_none() => Some(DataSpec::Npy(
                    self.string(&a.value)?,
                    self.string(&b.value)?,
                )),
                _ => self.bad_args(v.span, "`npy` takes two paths: `npy(\"x.npy\", \"y.npy\")`"),
            },
            ["csv"] => {
                let path = args
                    .iter()
                    .find(|a| a.name.is_none())
                    .and_then(|a| self.string(&a.value));
                let label = args
                    .iter()
                    .find(|a| a.name.as_ref().is_some_and(|n| n.node == "label"))
                    .and_then(|a| self.string(&a.value));
                match (path, label) {
                    (Some(path), Some(label)) if args.len() == 2 => {
                        Some(DataSpec::Csv { path, label })
                    }
                    _ => self.bad_args(
                        v.span,
                        "`csv` takes a path and a label column: `csv(\"f.csv\", label = \"y\")`",
                    ),
                }
            }
            _ => {
                let shown = names.join(".");
                let mut d = Diagnostic::error(
                    "E0604",
                    format!("unknown data source `{shown}`"),
                    v.span,
                    "not a data source",
                );
                if let Some(c) = closest(&shown, ["jsonl", "csv", "npy"]) {
                    d = d.with_help(format!("did you mean `{c}`?"));
                } else {
                    d = d.with_help(
                        "use `synthetic.NAME(...)`, `jsonl(...)`, `csv(...)` or `npy(...)`",
                    );
                }
                self.error(d);
                None
            }
        }
    }

    fn bad_args<T>(&mut self, span: Span, help: &str) -> Option<T> {
        self.error(
            Diagnostic::error("E0604", "wrong arguments for the data source", span, "here")
                .with_help(help),
        );
        None
    }

    /// Named numeric arguments, exactly the ones in `params`.
    fn named_numbers(
        &mut self,
        args: &[ast::ValueArg],
        params: &[&str],
        span: Span,
        what: &str,
    ) -> Option<Vec<(String, f64)>> {
        let mut out = Vec::new();
        let mut ok = true;
        for a in args {
            let Some(name) = &a.name else {
                self.error(
                    Diagnostic::error(
                        "E0604",
                        format!("arguments of `{what}` are named"),
                        a.value.span,
                        "unnamed argument",
                    )
                    .with_help(format!(
                        "write `{} = ...`",
                        params.first().copied().unwrap_or("name")
                    )),
                );
                ok = false;
                continue;
            };
            if !params.contains(&name.node.as_str()) {
                let mut d = Diagnostic::error(
                    "E0604",
                    format!("`{what}` has no argument `{}`", name.node),
                    name.span,
                    "unknown argument",
                );
                d = match closest(&name.node, params.iter().copied()) {
                    Some(c) => d.with_help(format!("did you mean `{c}`?")),
                    None => d.with_help(format!("its arguments are: {}", params.join(", "))),
                };
                self.error(d);
                ok = false;
                continue;
            }
            match self.number(&a.value) {
                Some(x) => out.push((name.node.clone(), x)),
                None => ok = false,
            }
        }
        for p in params {
            if ok && !out.iter().any(|(n, _)| n == p) {
                self.error(Diagnostic::error(
                    "E0604",
                    format!("`{what}` needs the argument `{p}`"),
                    span,
                    format!("`{p}` missing"),
                ));
                ok = false;
            }
        }
        ok.then_some(out)
    }

    fn loss_spec(&mut self, v: &ast::Value) -> Option<LossKind> {
        let name = match &v.kind {
            ValueKind::Call { path, args: None } if path.len() == 1 => path[0].node.as_str(),
            _ => "",
        };
        match name {
            "mse" => Some(LossKind::Mse),
            "cross_entropy" => Some(LossKind::CrossEntropy),
            "binary_cross_entropy" => Some(LossKind::BinaryCrossEntropy),
            _ => {
                let mut d = Diagnostic::error("E0604", "unknown loss", v.span, "not a loss");
                d = match closest(name, crate::builtins::LOSSES.iter().copied()) {
                    Some(c) => d.with_help(format!("did you mean `{c}`?")),
                    None => d.with_help(format!(
                        "the losses are: {}",
                        crate::builtins::LOSSES.join(", ")
                    )),
                };
                self.error(d);
                None
            }
        }
    }

    fn optim_spec(&mut self, v: &ast::Value) -> Option<OptimConfig> {
        let ValueKind::Call { path, args } = &v.kind else {
            self.error(Diagnostic::error(
                "E0604",
                "`optim` is an optimizer such as `adam(lr = 0.001)`",
                v.span,
                "not an optimizer",
            ));
            return None;
        };
        let name = path
            .iter()
            .map(|p| p.node.as_str())
            .collect::<Vec<_>>()
            .join(".");
        let Some(params) = optim::arguments(&name) else {
            let names = optim::names();
            let mut d = Diagnostic::error(
                "E0604",
                format!("unknown optimizer `{name}`"),
                v.span,
                "not an optimizer",
            );
            d = match closest(&name, names.iter().copied()) {
                Some(c) => d.with_help(format!("did you mean `{c}`?")),
                None => d.with_help(format!("the optimizers are: {}", names.join(", "))),
            };
            self.error(d);
            return None;
        };
        let call_span = path[0].span.to(path[path.len() - 1].span);
        let args = args.clone().unwrap_or_default();
        // Positional arguments take the names in the runtime's order; the
        // runtime then validates names, ranges and defaults, so the checker
        // and the trainer accept exactly the same calls.
        let mut named: Vec<(String, f64)> = Vec::with_capacity(args.len());
        let mut spans: Vec<Span> = Vec::with_capacity(args.len());
        for (i, a) in args.iter().enumerate() {
            let arg = match &a.name {
                Some(n) => n.node.clone(),
                None => match params.get(i) {
                    Some(p) => p.to_string(),
                    None => {
                        self.error(
                            Diagnostic::error(
                                "E0604",
                                format!("`{name}` takes at most {} arguments", params.len()),
                                a.value.span,
                                "one argument too many",
                            )
                            .with_help(format!("its arguments are: {}", params.join(", "))),
                        );
                        return None;
                    }
                },
            };
            named.push((arg, self.number(&a.value)?));
            spans.push(a.value.span);
        }
        let span_of = |arg: &str| {
            named
                .iter()
                .rposition(|(n, _)| n == arg)
                .map_or(call_span, |i| spans[i])
        };
        match OptimConfig::from_call(&name, &named) {
            Ok(config) => Some(config),
            Err(e) => {
                let (span, label) = match &e {
                    OptimError::UnexpectedArgument { arg, .. } => {
                        (span_of(arg), "not an argument of this optimizer")
                    }
                    OptimError::InvalidArgument { arg, .. } => (span_of(arg), "out of range"),
                    OptimError::MissingArgument { .. } | OptimError::Unknown { .. } => {
                        (call_span, "argument missing")
                    }
                };
                self.error(
                    Diagnostic::error("E0604", e.to_string(), span, label)
                        .with_help(format!("its arguments are: {}", params.join(", "))),
                );
                None
            }
        }
    }

    fn number(&mut self, v: &ast::Value) -> Option<f64> {
        match &v.kind {
            ValueKind::Number(x) => Some(*x),
            ValueKind::Call { path, args: None } if path.len() == 1 => {
                let id = self.program.lookup(&path[0].node);
                match id.filter(|id| matches!(self.program.item(*id).kind, ItemKind::Const(_))) {
                    Some(id) => self.const_value(id).map(|v| v as f64),
                    None => {
                        let c = self.globals_where(|k| matches!(k, ItemKind::Const(_)));
                        self.unknown(&path[0], "constant", c);
                        None
                    }
                }
            }
            _ => {
                self.error(Diagnostic::error(
                    "E0604",
                    "expected a number",
                    v.span,
                    "not a number",
                ));
                None
            }
        }
    }

    fn whole_number(&mut self, v: &ast::Value, min: u64) -> Option<u64> {
        let x = self.number(v)?;
        if x.fract() != 0.0 || x < min as f64 {
            self.error(Diagnostic::error(
                "E0604",
                format!("expected a whole number of at least {min}, found {x}"),
                v.span,
                "not allowed here",
            ));
            return None;
        }
        Some(x as u64)
    }

    fn string(&mut self, v: &ast::Value) -> Option<String> {
        match &v.kind {
            ValueKind::Str(s) => Some(s.clone()),
            _ => {
                self.error(Diagnostic::error(
                    "E0604",
                    "expected a string",
                    v.span,
                    "not a string",
                ));
                None
            }
        }
    }
}
