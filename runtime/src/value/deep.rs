//! `Clone` and `PartialEq` for values of any depth.
//!
//! Derived implementations recurse once per level of a value, so copying
//! or comparing a tree 100 000 levels deep (or a long list, which is a
//! deep `cons` chain) would overflow the stack. These walk the value with
//! a stack of their own, as `Drop` does.

use super::Value;

impl Clone for Value {
    /// A deep copy: nodes are visited parent first, and each container is
    /// assembled from its copied fields once they are all on the output
    /// stack.
    fn clone(&self) -> Value {
        enum Work<'a> {
            Visit(&'a Value),
            Build(&'a Value),
        }
        let mut work = vec![Work::Visit(self)];
        let mut done: Vec<Value> = Vec::new();
        while let Some(w) = work.pop() {
            match w {
                Work::Visit(Value::Tensor(t)) => done.push(Value::Tensor(t.clone())),
                Work::Visit(v @ (Value::Tuple(fields) | Value::Node { fields, .. })) => {
                    work.push(Work::Build(v));
                    work.extend(fields.iter().rev().map(Work::Visit));
                }
                Work::Build(v) => {
                    let copy = assemble(v, &mut done);
                    done.push(copy);
                }
            }
        }
        done.pop().expect("the root was copied")
    }
}

/// A copy of the container `v` whose fields' copies are the last entries
/// of `done` (they are taken off it).
fn assemble(v: &Value, done: &mut Vec<Value>) -> Value {
    match v {
        Value::Node { ctor, fields } => Value::Node {
            ctor: *ctor,
            fields: done.split_off(done.len() - fields.len()),
        },
        Value::Tuple(fields) => Value::Tuple(done.split_off(done.len() - fields.len())),
        Value::Tensor(t) => Value::Tensor(t.clone()),
    }
}

impl PartialEq for Value {
    /// Structural equality, comparing pairs of positions from a stack.
    fn eq(&self, other: &Value) -> bool {
        let mut pairs = vec![(self, other)];
        while let Some(pair) = pairs.pop() {
            match pair {
                (Value::Tensor(a), Value::Tensor(b)) if a == b => {}
                (Value::Tuple(a), Value::Tuple(b)) if a.len() == b.len() => {
                    pairs.extend(a.iter().zip(b));
                }
                (Value::Node { ctor: c, fields: a }, Value::Node { ctor: d, fields: b })
                    if c == d && a.len() == b.len() =>
                {
                    pairs.extend(a.iter().zip(b))
                }
                _ => return false,
            }
        }
        true
    }
}

#[cfg(test)]
mod tests;
