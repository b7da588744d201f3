//! Which ops of a block its result depends on.
//!
//! A backward region recomputes its forward region before the reverse
//! walk, and the walk may need none of a recomputed value: the reverse of
//! `W @ x` with respect to `W` reads `x` and the cotangent, never the
//! product. `Function::live_insts` gives the ops of a block that the
//! block's result reaches, so a lowering can leave the others out. Every
//! op is pure, so leaving out an op whose value nothing reads changes no
//! result.

use std::collections::HashSet;

use crate::ir::{Block, Function, Value};

impl Function {
    /// The ops of `block` that its result depends on, through operands and
    /// through the values that nested regions read from outside, in
    /// evaluation order.
    pub fn live_insts(&self, block: Block) -> Vec<Value> {
        self.live_insts_given(block, &HashSet::new())
    }

    /// The ops of `block` that its result depends on when the values in
    /// `given` are known without computing them (a lowering that reads them
    /// from where an earlier op left them): those values and the ops only
    /// they read are left out.
    pub fn live_insts_given(&self, block: Block, given: &HashSet<Value>) -> Vec<Value> {
        let data = &self.blocks[block];
        let mut needed: HashSet<Value> = data.result.into_iter().collect();
        let mut live = Vec::new();
        for &v in data.insts.iter().rev() {
            if !needed.contains(&v) || given.contains(&v) {
                continue;
            }
            let op = self.op(v).expect("block insts are ops");
            needed.extend(op.operands());
            needed.extend(self.free_values(&op.regions()));
            live.push(v);
        }
        live.reverse();
        live
    }
}

#[cfg(test)]
mod tests {
    use crate::builder::FunctionBuilder;
    use crate::ir::{Module, Type};

    /// A region computing a product it does not yield keeps only the ops
    /// its result reads.
    #[test]
    fn an_unread_product_is_not_live() {
        let module = Module::default();
        let mut b = FunctionBuilder::new(&module, "f");
        let w = b.param("w", &[3, 2]);
        let args = b.begin_region(&[Type::Tensor(vec![2]), Type::Tensor(vec![3])]);
        let unread = b.matmul(w, args[0]);
        let used = b.tanh(args[1]);
        let twice = b.add(used, used);
        let block = b.end_region(twice);
        let f = b.function();
        assert_eq!(f.blocks[block].insts, vec![unread, used, twice]);
        assert_eq!(f.live_insts(block), vec![used, twice]);
    }

    /// A given value is not computed, and neither is an op only it reads.
    #[test]
    fn a_given_value_and_what_only_it_reads_are_not_live() {
        let module = Module::default();
        let mut b = FunctionBuilder::new(&module, "f");
        let w = b.param("w", &[3, 3]);
        let args = b.begin_region(&[Type::Tensor(vec![3])]);
        let product = b.matmul(w, args[0]);
        let given = b.tanh(product);
        let squared = b.mul(given, given);
        let block = b.end_region(squared);
        let f = b.function();
        let known = [given].into_iter().collect();
        assert_eq!(f.live_insts(block), vec![product, given, squared]);
        assert_eq!(f.live_insts_given(block, &known), vec![squared]);
    }

    /// An op whose value only a nested fold's region reads is live, and
    /// so is the fold.
    #[test]
    fn a_value_read_inside_a_nested_region_is_live() {
        let mut module = Module::default();
        let list = crate::testmodels::vec_list(&mut module, 2);
        let mut b = FunctionBuilder::new(&module, "f");
        let xs = b.input(Type::Data(list));
        let w = b.param("w", &[2, 2]);
        let outer = b.begin_region(&[Type::Tensor(vec![2])]);
        let unread = b.tanh(outer[0]);
        let read = b.sigmoid(outer[0]);
        let fold = b.fold(list, xs, Type::Tensor(vec![2]), |b, c, args| {
            if c == 0 {
                read
            } else {
                let y = b.matmul(w, args[0]);
                b.add(y, args[1])
            }
        });
        let block = b.end_region(fold);
        let f = b.function();
        assert_eq!(f.blocks[block].insts, vec![unread, read, fold]);
        assert_eq!(f.live_insts(block), vec![read, fold]);
    }
}
