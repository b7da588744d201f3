//! The JIT against the interpreter on models with several inputs, pair
//! inputs and pair carriers (`tests/cases/jit/inputs.cdl`): folds and
//! hylomorphisms over any input or any component of a pair input; and on
//! folds and unfolds over computed sequences (`tests/cases/jit/sequences.cdl`:
//! a list fold over a Mealy machine's or a stream's outputs, a Mealy machine
//! over another's). Each model's reverse derivative is first checked against
//! finite differences in f64 on the interpreter, then the JIT's loss,
//! gradients and outputs against the interpreter's (`jit::training_agrees`,
//! `jit::forward_agrees`), on batches whose lists and trees all differ in
//! shape.

use crate::jit::{forward_agrees, training_agrees};
use crate::{cases_dir, check_clean};
use cdlc_runtime::value::{DataType, Example, Target, Tensor, Value};

/// Builds example inputs of a model's input types: lists of lengths 1 to
/// 4 and trees of depths 1 to 3 in turn, with a varied number at every
/// position, so that the examples of one batch all have different shapes.
struct Inputs {
    /// Values built so far (tensors, list lengths, tree depths).
    count: usize,
}

impl Inputs {
    fn next(&mut self) -> usize {
        self.count += 1;
        self.count
    }

    fn value(&mut self, t: &DataType, depth: usize) -> Value {
        match t {
            DataType::Tensor(s) => {
                let k = self.next() as f64;
                let n: usize = s.iter().product();
                let data = (0..n).map(|j| (1.3 * k + 0.7 * j as f64).sin()).collect();
                Value::Tensor(Tensor::new(s.clone(), data))
            }
            DataType::Tuple(ts) => Value::Tuple(ts.iter().map(|t| self.value(t, depth)).collect()),
            DataType::Data(d) if d.is_list() => {
                let len = 1 + self.next() % 4;
                let elem = &d.ctors[1].fields[0];
                Value::list((0..len).map(|_| self.value(elem, depth)).collect())
            }
            DataType::Data(d) => {
                let recursive = |c: &cdlc_runtime::value::CtorDecl| {
                    c.fields.iter().any(|f| matches!(f, DataType::Rec(_)))
                };
                let deeper = depth < 1 + self.next() % 3;
                let ctor = d
                    .ctors
                    .iter()
                    .position(|c| recursive(c) == deeper)
                    .expect("a data type with a base and a recursive constructor");
                let fields = d.ctors[ctor]
                    .fields
                    .iter()
                    .map(|f| match f {
                        DataType::Rec(0) => self.value(t, depth + 1),
                        other => self.value(other, depth),
                    })
                    .collect();
                Value::Node {
                    ctor: ctor as u32,
                    fields,
                }
            }
            DataType::Rec(k) => panic!("no enclosing data type for X{k}"),
        }
    }
}

/// Model `name` of `tests/cases/jit/FILE.cdl`, prepared for training with
/// its default loss (cross-entropy), its initial parameters and a batch of
/// `n` examples of different shapes.
fn case(file: &str, name: &str, n: usize) -> (cdlc::training::Prepared, Vec<Tensor>, Vec<Example>) {
    case_in(&cases_dir("jit").join(format!("{file}.cdl")), Some(name), n)
}

/// Model `name` (or the program's one model) of the program at `path`, as
/// `case` prepares it.
pub(crate) fn case_in(
    path: &std::path::Path,
    name: Option<&str>,
    n: usize,
) -> (cdlc::training::Prepared, Vec<Tensor>, Vec<Example>) {
    use cdlc::training::{init_params, loss_for, prepare};
    let c = check_clean(path);
    let model = cdlc::entry_model(&c, name).expect("a model of the case");
    let p = prepare(&c, model, loss_for(&c, model)).unwrap_or_else(|e| panic!("{name:?}: {e:?}"));
    let params = init_params(&p.inst, 5);
    let mut inputs = Inputs { count: 0 };
    let batch = (0..n)
        .map(|i| {
            let xs: Vec<Value> = p.inst.inputs.iter().map(|t| inputs.value(t, 0)).collect();
            let x = if xs.len() == 1 {
                xs.into_iter().next().expect("one input")
            } else {
                Value::Tuple(xs)
            };
            Example {
                x,
                y: Target::Class(i % 3),
            }
        })
        .collect();
    (p, params, batch)
}

/// Finite differences on the interpreter (every slot takes part), then
/// the JIT against the interpreter, for model `name` of
/// `tests/cases/jit/FILE.cdl`.
#[track_caller]
pub(crate) fn check_case(file: &str, name: &str) {
    let (p, params, batch) = case(file, name, 6);
    crate::grad::check_batch_gradient(name, &p, &params, &batch);
    training_agrees(name, &p, &params, &batch);
    forward_agrees(name, &p, &params, &batch);
}

#[test]
fn a_list_and_a_vector() {
    check_case("inputs", "list_and_vector");
}

#[test]
fn a_pair_input() {
    check_case("inputs", "pair_input");
}

#[test]
fn a_list_and_a_tree() {
    check_case("inputs", "list_and_tree");
}

#[test]
fn halves_of_the_second_input() {
    check_case("inputs", "second_list_by_halves");
}

#[test]
fn a_pair_carrier_beside_a_tree() {
    check_case("inputs", "pair_carrier");
}

#[test]
fn pairs_of_pairs() {
    check_case("inputs", "nested_pairs");
}

#[test]
fn a_fold_over_a_mealy_machines_outputs() {
    check_case("sequences", "encode");
}

#[test]
fn a_mealy_machine_over_another_ones_outputs() {
    check_case("sequences", "chained");
}

#[test]
fn a_fold_over_a_streams_outputs() {
    check_case("sequences", "stream_then_fold");
}

#[test]
fn a_fold_over_the_outputs_of_a_machine_over_a_second_input() {
    check_case("sequences", "second_input");
}

#[test]
fn a_list_of_pairs() {
    check_case("inputs", "list_of_pairs");
}

#[test]
fn a_tree_whose_leaves_are_nested_pairs() {
    check_case("inputs", "tree_of_pairs");
}

#[test]
fn a_mealy_machine_over_a_list_of_pairs() {
    check_case("sequences", "mealy_of_pairs");
}
