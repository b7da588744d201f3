//! Which values of a backward region recompute its forward region's.
//!
//! A fold's backward region begins by recomputing the forward case from the
//! node's arguments (`autodiff`), so its forward result is computed twice:
//! once by the fold, which keeps it as the node's carrier, and once more in
//! the backward region, which may read it (the derivative of `tanh`, of a
//! gate). `Function::recomputed` pairs each op of the backward region with
//! the op of the forward region that computes the same value: the same op
//! on operands already paired (the two regions' arguments position by
//! position, values from outside as themselves). Every op is pure, so a
//! paired value equals its forward counterpart, and a lowering may read
//! the one the fold kept instead of computing it again.

use std::collections::{HashMap, HashSet};

use crate::ir::{Block, Function, Value};

impl Function {
    /// The values of backward region `bwd` that recompute a value of
    /// forward region `fwd`, keyed by the forward value (the first such
    /// backward value). The first arguments of `bwd` are those of `fwd`;
    /// ops with regions of their own are never paired.
    pub fn recomputed(&self, fwd: Block, bwd: Block) -> HashMap<Value, Value> {
        let (f, b) = (&self.blocks[fwd], &self.blocks[bwd]);
        let mut same: HashMap<Value, Value> =
            b.args.iter().zip(&f.args).map(|(&y, &x)| (y, x)).collect();
        let inside: HashSet<Value> = b.args.iter().chain(&b.insts).copied().collect();
        let mut out = HashMap::new();
        for &v in &b.insts {
            let Some(op) = self.op(v) else { continue };
            if !op.regions().is_empty() {
                continue;
            }
            let mut renamed = op.clone();
            let mut paired = true;
            for o in renamed.operands_mut() {
                match same.get(o) {
                    Some(&x) => *o = x,
                    None => paired &= !inside.contains(o),
                }
            }
            if !paired {
                continue;
            }
            let twin = f
                .insts
                .iter()
                .copied()
                .find(|&x| self.op(x) == Some(&renamed) && self.types[x] == self.types[v]);
            if let Some(x) = twin {
                same.insert(v, x);
                out.entry(x).or_insert(v);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use crate::builder::FunctionBuilder;
    use crate::ir::{Module, Type};

    /// Two regions over the same arguments pair the ops that compute the
    /// same value from them, and only those.
    #[test]
    fn the_same_op_on_paired_operands_is_paired() {
        let module = Module::default();
        let mut b = FunctionBuilder::new(&module, "f");
        let w = b.param("w", &[3, 3]);
        let v = b.param("v", &[3, 3]);
        let t3 = Type::Tensor(vec![3]);
        let fa = b.begin_region(std::slice::from_ref(&t3));
        let fp = b.matmul(w, fa[0]);
        let fr = b.tanh(fp);
        let fwd = b.end_region(fr);
        let ba = b.begin_region(&[t3.clone(), t3]);
        let bp = b.matmul(w, ba[0]);
        let other = b.matmul(v, ba[0]);
        let br = b.tanh(bp);
        let on_ct = b.tanh(ba[1]);
        let sum = b.add(br, on_ct);
        let sum = b.add(sum, other);
        let bwd = b.end_region(sum);
        let f = b.function();
        let pairs = f.recomputed(fwd, bwd);
        assert_eq!(pairs.len(), 2);
        assert_eq!(pairs[&fp], bp);
        assert_eq!(pairs[&fr], br);
    }
}
