//! `FunctionBuilder`: how front ends and IR passes construct functions.
//!
//! The builder appends ops to the innermost open block and fills the type
//! side table with each op's result type (from `crate::infer`). A type error
//! is a bug in the caller (the checker has already accepted the program), so
//! it panics with the op and the reason rather than returning an error.
//!
//! Parameters and inputs always go to the entry block, even while a region
//! is open, so a lowering can declare an algebra's parameters when it meets
//! them inside a case. Regions are built either with closures (`fold`,
//! `unfold_over`, ...) or explicitly with `begin_region`/`end_region` and
//! then `fold_regions`/`unfold_region`, which suits a recursive lowering that
//! cannot lend itself to a closure.

use cdlc_runtime::value::Tensor;

use crate::ir::{
    BasisId, BinOp, Block, BlockData, DataId, FoldOp, Function, LossKind, Module, Op, Param,
    ParamDecl, ReduceOp, Source, Split, Type, UnOp, UnfoldOp, Value, ValueDef,
};

/// Builds one function of a module.
pub struct FunctionBuilder<'m> {
    module: &'m Module,
    func: Function,
    open: Vec<Block>,
}

impl<'m> FunctionBuilder<'m> {
    /// Starts a function named `name` whose ops may refer to `module`'s data
    /// types and bases.
    pub fn new(module: &'m Module, name: impl Into<String>) -> FunctionBuilder<'m> {
        let func = Function::new(name);
        let entry = func.entry;
        FunctionBuilder {
            module,
            func,
            open: vec![entry],
        }
    }

    /// The module the function belongs to.
    pub fn module(&self) -> &'m Module {
        self.module
    }

    /// The function built so far.
    pub fn function(&self) -> &Function {
        &self.func
    }

    /// The type of a value built so far.
    pub fn type_of(&self, v: Value) -> &Type {
        &self.func.types[v]
    }

    /// The shape of a tensor value. Panics if `v` is not a tensor.
    pub fn shape_of(&self, v: Value) -> &[usize] {
        self.type_of(v)
            .shape()
            .unwrap_or_else(|| panic!("internal error: {v} is not a tensor"))
    }

    /// Declares a parameter slot with a qualified name (`elman.W`) and
    /// returns its value.
    pub fn param(&mut self, name: impl Into<String>, shape: &[usize]) -> Value {
        let p = self.func.params.push(ParamDecl {
            name: name.into(),
            shape: shape.to_vec(),
        });
        self.param_value(p)
    }

    /// A new `param` op reading an already declared slot.
    pub fn param_value(&mut self, p: Param) -> Value {
        let entry = self.func.entry;
        self.emit_in(entry, Op::Param(p))
    }

    /// Declares the next example input (or target) and returns its value.
    pub fn input(&mut self, ty: Type) -> Value {
        let i = u32::try_from(self.func.inputs.len()).expect("few inputs");
        self.func.inputs.push(ty);
        let entry = self.func.entry;
        self.emit_in(entry, Op::Input(i))
    }

    /// Appends any op to the innermost open block.
    pub fn op(&mut self, op: Op) -> Value {
        let block = *self.open.last().expect("a block is open");
        self.emit_in(block, op)
    }

    fn emit_in(&mut self, block: Block, op: Op) -> Value {
        let ty = crate::infer::result_type(self.module, &self.func, &op).unwrap_or_else(|e| {
            panic!(
                "internal error: building `{}` in `{}`: {e}",
                op.name(),
                self.func.name
            )
        });
        let v = self.func.values.push(ValueDef::Op(op));
        self.func.types.insert(v, ty);
        self.func.blocks[block].insts.push(v);
        v
    }

    /// A literal tensor.
    pub fn constant(&mut self, t: Tensor) -> Value {
        self.op(Op::Const(t))
    }

    /// A literal scalar.
    pub fn scalar(&mut self, x: f64) -> Value {
        self.constant(Tensor::scalar(x))
    }

    /// Zeros of a tensor or tuple-of-tensors type, or the zero cotangent
    /// of a sequence (see `Type::has_zeros`).
    pub fn zeros(&mut self, ty: Type) -> Value {
        self.op(Op::Zeros(ty))
    }

    /// An elementwise binary op with prefix broadcasting.
    pub fn binary(&mut self, op: BinOp, a: Value, b: Value) -> Value {
        self.op(Op::Binary(op, a, b))
    }

    /// `a + b`.
    pub fn add(&mut self, a: Value, b: Value) -> Value {
        self.binary(BinOp::Add, a, b)
    }

    /// `a - b`.
    pub fn sub(&mut self, a: Value, b: Value) -> Value {
        self.binary(BinOp::Sub, a, b)
    }

    /// `a * b` (elementwise).
    pub fn mul(&mut self, a: Value, b: Value) -> Value {
        self.binary(BinOp::Mul, a, b)
    }

    /// `a / b` (elementwise).
    pub fn div(&mut self, a: Value, b: Value) -> Value {
        self.binary(BinOp::Div, a, b)
    }

    /// A pointwise unary op.
    pub fn unary(&mut self, op: UnOp, x: Value) -> Value {
        self.op(Op::Unary(op, x))
    }

    /// `-x`.
    pub fn neg(&mut self, x: Value) -> Value {
        self.unary(UnOp::Neg, x)
    }

    /// `relu(x)`.
    pub fn relu(&mut self, x: Value) -> Value {
        self.unary(UnOp::Relu, x)
    }

    /// `tanh(x)`.
    pub fn tanh(&mut self, x: Value) -> Value {
        self.unary(UnOp::Tanh, x)
    }

    /// `sigmoid(x)`.
    pub fn sigmoid(&mut self, x: Value) -> Value {
        self.unary(UnOp::Sigmoid, x)
    }

    /// `W @ x`: contracts the last axis of `w` with the first of `x`.
    pub fn matmul(&mut self, w: Value, x: Value) -> Value {
        self.contract(w, x, 1)
    }

    /// An equivariant map `w` (shape `out ++ in`) applied to `x` (shape
    /// `in`): contracts all of `x`'s axes.
    pub fn apply(&mut self, w: Value, x: Value) -> Value {
        let axes = u32::try_from(self.shape_of(x).len()).expect("small rank");
        self.contract(w, x, axes)
    }

    /// Contracts the last `axes` axes of `a` with the first `axes` of `b`.
    pub fn contract(&mut self, a: Value, b: Value, axes: u32) -> Value {
        self.op(Op::Contract { a, b, axes })
    }

    /// `outer(a, b)`: shape `a ++ b`.
    pub fn outer(&mut self, a: Value, b: Value) -> Value {
        self.contract(a, b, 0)
    }

    /// `W^T` of a matrix.
    pub fn transpose(&mut self, m: Value) -> Value {
        self.permute(m, vec![1, 0])
    }

    /// Permutes axes: result axis `i` is axis `perm[i]` of `x`.
    pub fn permute(&mut self, x: Value, perm: Vec<u32>) -> Value {
        self.op(Op::Permute { x, perm })
    }

    /// A reduction over all axes (`None`) or one.
    pub fn reduce(&mut self, op: ReduceOp, x: Value, axis: Option<u32>) -> Value {
        self.op(Op::Reduce { op, x, axis })
    }

    /// `sum(x)` over all axes.
    pub fn sum(&mut self, x: Value) -> Value {
        self.reduce(ReduceOp::Sum, x, None)
    }

    /// `mean(x)` over all axes.
    pub fn mean(&mut self, x: Value) -> Value {
        self.reduce(ReduceOp::Mean, x, None)
    }

    /// `max(x)` over all axes.
    pub fn max(&mut self, x: Value) -> Value {
        self.reduce(ReduceOp::Max, x, None)
    }

    /// `softmax(x)` of a vector.
    pub fn softmax(&mut self, x: Value) -> Value {
        self.op(Op::Softmax(x))
    }

    /// `log_softmax(x)` of a vector.
    pub fn log_softmax(&mut self, x: Value) -> Value {
        self.op(Op::LogSoftmax(x))
    }

    /// The Euclidean norm over all but the first `keep` axes.
    pub fn norm(&mut self, x: Value, keep: u32) -> Value {
        self.op(Op::Norm { x, keep })
    }

    /// `gate(x) = x * sigmoid(norm(x))`, the norm taken per channel over all
    /// but the first `keep` axes and broadcast back over them.
    pub fn gate(&mut self, x: Value, keep: u32) -> Value {
        let n = self.norm(x, keep);
        let s = self.sigmoid(n);
        self.mul(x, s)
    }

    /// `concat(a, b)` of two vectors.
    pub fn concat(&mut self, a: Value, b: Value) -> Value {
        self.op(Op::Concat(a, b))
    }

    /// A tuple of values.
    pub fn tuple(&mut self, vs: Vec<Value>) -> Value {
        self.op(Op::Tuple(vs))
    }

    /// The `i`-th component of a tuple.
    pub fn get(&mut self, t: Value, i: u32) -> Value {
        self.op(Op::Get(t, i))
    }

    /// `Σ_k c_k B_k` for the module's basis `basis`.
    pub fn basis_expand(&mut self, coeffs: Value, basis: BasisId) -> Value {
        self.op(Op::BasisExpand { coeffs, basis })
    }

    /// A loss of the output `out` against `target`.
    pub fn loss(&mut self, kind: LossKind, out: Value, target: Value) -> Value {
        self.op(Op::Loss { kind, out, target })
    }

    /// Whether ops are being added to the function's top-level block (no
    /// region is open).
    pub fn at_top_level(&self) -> bool {
        self.open.len() == 1
    }

    /// Opens a region whose arguments have these types; ops go into it until
    /// `end_region`. Returns the argument values.
    pub fn begin_region(&mut self, arg_types: &[Type]) -> Vec<Value> {
        let block = self.func.blocks.push(BlockData {
            args: Vec::new(),
            insts: Vec::new(),
            result: None,
        });
        for (i, t) in arg_types.iter().enumerate() {
            let v = self.func.values.push(ValueDef::Arg {
                block,
                index: u32::try_from(i).expect("few arguments"),
            });
            self.func.types.insert(v, t.clone());
            self.func.blocks[block].args.push(v);
        }
        self.open.push(block);
        self.func.blocks[block].args.clone()
    }

    /// Closes the innermost region with its result and returns it.
    pub fn end_region(&mut self, result: Value) -> Block {
        assert!(self.open.len() > 1, "internal error: no region is open");
        let block = self.open.pop().expect("checked above");
        self.func.blocks[block].result = Some(result);
        block
    }

    /// The region argument types of each case of a fold over `data`.
    pub fn case_types(&self, data: DataId, carrier: &Type) -> Vec<Vec<Type>> {
        (0..self.module.data[data].ctors.len())
            .map(|i| self.module.case_types(data, i, carrier))
            .collect()
    }

    /// `fold` over `input` (of data type `data`): `case(b, ctor, args)` is
    /// called once per constructor, inside its region, and returns the
    /// region's carrier.
    pub fn fold(
        &mut self,
        data: DataId,
        input: Value,
        carrier: Type,
        case: impl FnMut(&mut Self, usize, &[Value]) -> Value,
    ) -> Value {
        let cases = self.build_cases(data, &carrier, case);
        self.fold_regions(data, Split::Structure, input, carrier, cases)
    }

    /// `hylo ... by halves`: folds the `TreeF`-shaped algebra over `tree`
    /// across the halving tree of the list `input`.
    pub fn hylo_halves(
        &mut self,
        tree: DataId,
        input: Value,
        carrier: Type,
        case: impl FnMut(&mut Self, usize, &[Value]) -> Value,
    ) -> Value {
        let cases = self.build_cases(tree, &carrier, case);
        self.fold_regions(tree, Split::Halves, input, carrier, cases)
    }

    fn build_cases(
        &mut self,
        data: DataId,
        carrier: &Type,
        mut case: impl FnMut(&mut Self, usize, &[Value]) -> Value,
    ) -> Vec<Block> {
        let types = self.case_types(data, carrier);
        types
            .iter()
            .enumerate()
            .map(|(i, tys)| {
                let args = self.begin_region(tys);
                let r = case(self, i, &args);
                self.end_region(r)
            })
            .collect()
    }

    /// A fold whose case regions were built with `begin_region`/`end_region`.
    pub fn fold_regions(
        &mut self,
        data: DataId,
        split: Split,
        input: Value,
        carrier: Type,
        cases: Vec<Block>,
    ) -> Value {
        self.op(Op::Fold(FoldOp {
            data,
            input,
            split,
            carrier,
            cases,
            record: false,
        }))
    }

    /// `unfold c from init over xs`: `step(b, state, x)` builds the step
    /// region and returns the tuple `(output, next state)`.
    pub fn unfold_over(
        &mut self,
        init: Value,
        xs: Value,
        step: impl FnOnce(&mut Self, Value, Value) -> Value,
    ) -> Value {
        let Type::Data(list) = *self.type_of(xs) else {
            panic!("internal error: unfold over a non-list {xs}");
        };
        let elem = self
            .module
            .list_element(list)
            .unwrap_or_else(|| panic!("internal error: unfold over a non-list {xs}"))
            .clone();
        let state = self.type_of(init).clone();
        let args = self.begin_region(&[state, elem]);
        let r = step(self, args[0], args[1]);
        let body = self.end_region(r);
        self.unfold_region(init, Source::Over(xs), body)
    }

    /// `unfold c from init take k`: `step(b, state)` builds the step region
    /// and returns the tuple `(output, next state)`.
    pub fn unfold_take(
        &mut self,
        init: Value,
        k: u32,
        step: impl FnOnce(&mut Self, Value) -> Value,
    ) -> Value {
        let state = self.type_of(init).clone();
        let args = self.begin_region(&[state]);
        let r = step(self, args[0]);
        let body = self.end_region(r);
        self.unfold_region(init, Source::Take(k), body)
    }

    /// An unfold whose step region was built with `begin_region` (arguments:
    /// the state, then the element for `Source::Over`) and `end_region`
    /// (result: `(output, next state)`).
    pub fn unfold_region(&mut self, init: Value, source: Source, body: Block) -> Value {
        let result = self.func.blocks[body]
            .result
            .expect("a closed region has a result");
        let output = match self.type_of(result) {
            Type::Tuple(ts) if ts.len() == 2 => ts[0].clone(),
            other => panic!("internal error: unfold step yields {other:?}, not a pair"),
        };
        self.op(Op::Unfold(UnfoldOp {
            init,
            source,
            output,
            body,
            record: false,
        }))
    }

    /// Finishes the function with its output value.
    pub fn finish(mut self, result: Value) -> Function {
        assert_eq!(self.open.len(), 1, "internal error: a region is still open");
        let entry = self.func.entry;
        self.func.blocks[entry].result = Some(result);
        self.func
    }
}
