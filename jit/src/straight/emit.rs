//! Cranelift code for a trace: one function `fn(args: *const *mut u8, ctx:
//! *mut Ctx)` that runs every action in order.
//!
//! `args` holds the trace's base pointers (`Trace::bases`), filled for each
//! step; every address is one of them plus a constant. Tiny products are
//! written out as fused multiply-adds (`inline_product`, the runtime's
//! direct loop's arithmetic in its order); the others call the runtime's
//! `cdl_sgemm_batch` / `cdl_dgemm_batch`, and fused elementwise kernels
//! their compiled loop, both by address with sizes and strides as
//! constants; copies, sums and zero fills are written out as 128-bit vector
//! loads and stores (a loop past `UNROLL` vectors); row operations and
//! losses call the helpers of `shim.rs`. Nothing is looked up or decided
//! while the step runs.

use std::sync::Arc;

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{
    self, AbiParam, InstBuilder, MemFlagsData, StackSlotData, StackSlotKind, types,
};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::JITModule;
use cranelift_module::{Linkage, Module};

use crate::JitError;
use crate::exec::Elem;

use super::shim::{Ctx, shim_for};
use super::trace::{Action, Addr, ShimOp, Trace};

/// A compiled straight-line step.
pub(crate) type StepFn = unsafe extern "C" fn(*const *mut u8, *mut Ctx);

/// A straight-line step's code, with what it points at.
pub(crate) struct StepCode {
    _module: JITModule,
    /// The step.
    pub f: StepFn,
    /// Its Cranelift IR, as Cranelift prints it.
    pub clif: String,
    /// The helpers' operation descriptions, whose addresses the code holds.
    _ops: Vec<Arc<ShimOp>>,
}

/// Vectors copied, summed or cleared one by one before a loop is used.
const UNROLL: usize = 32;

/// The most fused multiply-adds (vectors or numbers) a product written out
/// in the step may take; larger ones call the runtime.
const INLINE_FMAS: usize = 1024;

/// A product's operands, as `Action::Gemm` has them.
struct Product {
    count: usize,
    steps: [usize; 3],
    dims: [usize; 3],
    a: Addr,
    sa: [usize; 2],
    b: Addr,
    sb: [usize; 2],
    c: Addr,
    rsc: usize,
}

/// Compiles `trace` for element type `T`.
pub(crate) fn compile<T: Elem>(trace: &Trace) -> Result<StepCode, JitError> {
    build(|b, args, cx| {
        let mut ops = Vec::new();
        let mut em = Emitter::<T> {
            b,
            args,
            cx,
            fma: host_fma(),
            _t: std::marker::PhantomData,
        };
        for a in &trace.actions {
            if let Action::Shim { op, .. } = a {
                ops.push(op.clone());
            }
            em.action(a);
        }
        ops
    })
}

/// Builds a step function `fn(args, ctx)` whose body `body` writes (given
/// the builder and the two parameters, in the entry block; it returns the
/// helpers' operation descriptions the code points at).
pub(crate) fn build(
    body: impl FnOnce(&mut FunctionBuilder, ir::Value, ir::Value) -> Vec<Arc<ShimOp>>,
) -> Result<StepCode, JitError> {
    let mut module = crate::codegen::new_module()?;
    let mut ctx = module.make_context();
    let mut fctx = FunctionBuilderContext::new();
    let ptr = module.target_config().pointer_type();
    ctx.func.signature.params.push(AbiParam::new(ptr));
    ctx.func.signature.params.push(AbiParam::new(ptr));
    let err = |e: String| JitError::Internal(format!("straight-line step: {e}"));
    let id = module
        .declare_function("step", Linkage::Local, &ctx.func.signature)
        .map_err(|e| err(e.to_string()))?;
    let ops = {
        let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        let args = b.block_params(entry)[0];
        let cx = b.block_params(entry)[1];
        let ops = body(&mut b, args, cx);
        b.ins().return_(&[]);
        b.seal_all_blocks();
        b.finalize(module.target_config());
        ops
    };
    let clif = ctx.func.display().to_string();
    module
        .define_function(id, &mut ctx)
        .map_err(|e| err(format!("{e:?}")))?;
    module
        .finalize_definitions()
        .map_err(|e| err(e.to_string()))?;
    let p = module.get_finalized_function(id);
    // SAFETY: the function was defined with exactly this signature.
    let f = unsafe { std::mem::transmute::<*const u8, StepFn>(p) };
    Ok(StepCode {
        _module: module,
        f,
        clif,
        _ops: ops,
    })
}

/// Whether the runtime's direct product loop runs with fused
/// multiply-adds on this processor (AVX2 and FMA, as it checks).
pub(super) fn host_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("fma");
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Moves `bytes` bytes that may overlap (a copy between rows of one buffer
/// too long to write out).
pub(super) unsafe extern "C" fn straight_memmove(dst: *mut u8, src: *const u8, bytes: usize) {
    // SAFETY: the trace addresses valid rows of the same buffer.
    unsafe { std::ptr::copy(src, dst, bytes) }
}

/// What an elementwise action stores.
#[derive(Clone, Copy)]
enum Op {
    Copy,
    Add(f64),
    Zero,
}

struct Emitter<'a, 'b, T> {
    b: &'a mut FunctionBuilder<'b>,
    args: ir::Value,
    cx: ir::Value,
    /// Whether the runtime's direct products use fused multiply-adds here.
    fma: bool,
    _t: std::marker::PhantomData<T>,
}

pub(super) fn data_flags() -> MemFlagsData {
    MemFlagsData::new().with_notrap()
}

impl<T: Elem> Emitter<'_, '_, T> {
    fn elt() -> usize {
        std::mem::size_of::<T>()
    }

    fn scalar_ty() -> ir::Type {
        if T::F64 { types::F64 } else { types::F32 }
    }

    fn vec_ty() -> ir::Type {
        if T::F64 { types::F64X2 } else { types::F32X4 }
    }

    fn float(&mut self, x: f64) -> ir::Value {
        if T::F64 {
            self.b.ins().f64const(x)
        } else {
            self.b.ins().f32const(x as f32)
        }
    }

    fn int(&mut self, x: usize) -> ir::Value {
        self.b.ins().iconst(types::I64, x as i64)
    }

    /// The address `a`: its base from the argument block plus its offset.
    fn addr(&mut self, a: Addr) -> ir::Value {
        let base = self
            .b
            .ins()
            .load(types::I64, data_flags(), self.args, (a.base * 8) as i32);
        self.b.ins().iadd_imm_s(base, (a.off * Self::elt()) as i64)
    }

    /// A stack array of the addresses `ptrs`, as the kernels and helpers
    /// take their operands.
    fn ptr_array(&mut self, ptrs: &[Addr]) -> ir::Value {
        let slot = self.b.create_sized_stack_slot(StackSlotData::new(
            StackSlotKind::ExplicitSlot,
            (8 * ptrs.len().max(1)) as u32,
            3,
        ));
        for (i, &a) in ptrs.iter().enumerate() {
            let v = self.addr(a);
            self.b
                .ins()
                .stack_store(types::I64, v, slot, (8 * i) as i32);
        }
        self.b.ins().stack_addr(types::I64, slot, 0)
    }

    fn call(&mut self, f: usize, params: &[ir::Type], args: &[ir::Value]) {
        let mut sig = ir::Signature::new(self.b.func.signature.call_conv);
        sig.params.extend(params.iter().map(|&t| AbiParam::new(t)));
        let sig = self.b.import_signature(sig);
        let callee = self.int(f);
        self.b.ins().call_indirect(sig, callee, args);
    }

    fn action(&mut self, a: &Action) {
        match a {
            Action::Gemm { .. } => self.gemm(a),
            Action::Kernel { f, ptrs, rows } => {
                let p = self.ptr_array(ptrs);
                let r = self.int(*rows);
                self.call(*f as usize, &[types::I64, types::I64], &[p, r]);
            }
            Action::Copy { src, dst, n } => self.map(*dst, Some(*src), *n, Op::Copy),
            Action::Add { src, dst, n, scale } => self.map(*dst, Some(*src), *n, Op::Add(*scale)),
            Action::Zero { dst, n } => self.map(*dst, None, *n, Op::Zero),
            Action::Shim { op, ptrs, rows } => {
                let p = self.ptr_array(ptrs);
                let o = self.int(Arc::as_ptr(op) as usize);
                let cx = self.cx;
                let r = self.int(*rows);
                self.call(shim_for::<T>() as usize, &[types::I64; 4], &[o, p, cx, r]);
            }
        }
    }

    fn gemm(&mut self, a: &Action) {
        let Action::Gemm {
            count,
            steps,
            m,
            k,
            n,
            a,
            rsa,
            csa,
            b,
            rsb,
            csb,
            c,
            rsc,
        } = *a
        else {
            unreachable!("called on products")
        };
        let product = Product {
            count,
            steps,
            dims: [m, k, n],
            a,
            sa: [rsa, csa],
            b,
            sb: [rsb, csb],
            c,
            rsc,
        };
        if self.inline_ok(&product) {
            return self.inline_product(&product);
        }
        let f = if T::F64 {
            cdlc_runtime::gemm::cdl_dgemm_batch as *const () as usize
        } else {
            cdlc_runtime::gemm::cdl_sgemm_batch as *const () as usize
        };
        let (i, fl) = (types::I64, Self::scalar_ty());
        let ints = |e: &mut Self, xs: &[usize]| xs.iter().map(|&x| e.int(x)).collect::<Vec<_>>();
        let mut args = ints(self, &[count, steps[0], steps[1], steps[2], m, k, n]);
        args.push(self.float(1.0));
        args.push(self.addr(a));
        args.extend(ints(self, &[rsa, csa]));
        args.push(self.addr(b));
        args.extend(ints(self, &[rsb, csb]));
        args.push(self.float(0.0));
        args.push(self.addr(c));
        args.extend(ints(self, &[rsc, 1]));
        let params = [i, i, i, i, i, i, i, fl, i, i, i, i, i, i, fl, i, i, i];
        self.call(f, &params, &args);
    }

    /// Whether a product is written out here: the runtime computes it in
    /// its direct loop for tiny products (`is_small` in
    /// `runtime/src/gemm.rs`: at most 1 024 multiply-adds, or at most two
    /// rows and 8 192 entries of B) with fused multiply-adds (the host has
    /// AVX2 and FMA), so the same fused multiply-adds in the same order
    /// give the same numbers; and it takes at most `INLINE_FMAS` vector
    /// operations.
    fn inline_ok(&self, p: &Product) -> bool {
        let [m, k, n] = p.dims;
        let small = m * k * n <= 1024 || (m <= 2 && k * n <= 8192);
        let lanes = 16 / Self::elt();
        let ops = p.count * m * k * n.div_ceil(lanes);
        let reach = (p.count * p.steps.iter().max().copied().unwrap_or(0)
            + m * (p.sa[0] + p.rsc)
            + k * (p.sa[1] + p.sb[0])
            + n * p.sb[1])
            * Self::elt();
        self.fma && small && p.count >= 1 && ops <= INLINE_FMAS && reach < 1 << 30
    }

    /// `C_r = A_r B_r` (or their sum, with a zero step for C) written out:
    /// each element of C is `fma(a[i, l], b[l, j], ·)` over `l` in order,
    /// from zero (or from C for the summed products after the first), as
    /// the runtime's direct loop computes it; rows of B with unit column
    /// stride are read in vectors.
    fn inline_product(&mut self, p: &Product) {
        let [m, k, n] = p.dims;
        let e = Self::elt();
        let lanes = 16 / e;
        let nv = if p.sb[1] == 1 { n / lanes } else { 0 };
        let (pa, pb, pc) = (self.addr(p.a), self.addr(p.b), self.addr(p.c));
        let mf = data_flags();
        for r in 0..p.count {
            let [oa, ob, oc] = p.steps.map(|s| r * s);
            let from_c = p.steps[2] == 0 && r > 0;
            for i in 0..m {
                let crow = (oc + i * p.rsc) * e;
                let mut acc: Vec<(ir::Value, usize, bool)> = Vec::new();
                for j in (0..nv)
                    .map(|v| (v * lanes, true))
                    .chain((nv * lanes..n).map(|j| (j, false)))
                {
                    let ty = if j.1 {
                        Self::vec_ty()
                    } else {
                        Self::scalar_ty()
                    };
                    let v = if from_c {
                        self.b.ins().load(ty, mf, pc, (crow + j.0 * e) as i32)
                    } else {
                        let z = self.float(0.0);
                        if j.1 { self.b.ins().splat(ty, z) } else { z }
                    };
                    acc.push((v, j.0, j.1));
                }
                for l in 0..k {
                    let aoff = (oa + i * p.sa[0] + l * p.sa[1]) * e;
                    let x = self.b.ins().load(Self::scalar_ty(), mf, pa, aoff as i32);
                    let xv = self.b.ins().splat(Self::vec_ty(), x);
                    for (v, j, vector) in acc.iter_mut() {
                        let boff = (ob + l * p.sb[0] + *j * p.sb[1]) * e;
                        let ty = if *vector {
                            Self::vec_ty()
                        } else {
                            Self::scalar_ty()
                        };
                        let bv = self.b.ins().load(ty, mf, pb, boff as i32);
                        let xs = if *vector { xv } else { x };
                        *v = self.b.ins().fma(xs, bv, *v);
                    }
                }
                for (v, j, _) in acc {
                    self.b.ins().store(mf, v, pc, (crow + j * e) as i32);
                }
            }
        }
    }

    /// `dst[0..n] = op(dst, src)`, in vectors then a scalar tail; rows of
    /// one buffer that overlap are copied from the end when `dst` is
    /// after `src`, as `ptr::copy` would.
    fn map(&mut self, dst: Addr, src: Option<Addr>, n: usize, op: Op) {
        let lanes = 16 / Self::elt();
        let nv = n / lanes;
        let overlap = src.is_some_and(|s| s.base == dst.base && s.off.abs_diff(dst.off) < n);
        if overlap && nv > UNROLL {
            let (d, s) = (
                self.addr(dst),
                self.addr(src.expect("overlap has a source")),
            );
            let bytes = self.int(n * Self::elt());
            let i = types::I64;
            self.call(
                straight_memmove as *const () as usize,
                &[i, i, i],
                &[d, s, bytes],
            );
            return;
        }
        let d = self.addr(dst);
        let s = src.map(|s| self.addr(s));
        let mut pieces: Vec<(usize, bool)> = Vec::new();
        if nv > UNROLL {
            self.vector_loop(d, s, nv, op);
        } else {
            pieces.extend((0..nv).map(|v| (v * 16, true)));
        }
        pieces.extend((nv * lanes..n).map(|e| (e * Self::elt(), false)));
        if overlap && dst.off > src.map_or(0, |s| s.off) {
            pieces.reverse();
        }
        for (off, vector) in pieces {
            self.element(d, s, off as i32, op, vector);
        }
    }

    /// One vector (or number) of `map` at byte offset `off`.
    fn element(&mut self, d: ir::Value, s: Option<ir::Value>, off: i32, op: Op, vector: bool) {
        let ty = if vector {
            Self::vec_ty()
        } else {
            Self::scalar_ty()
        };
        let v = match (op, s) {
            (Op::Zero, _) => {
                let z = self.float(0.0);
                if vector { self.b.ins().splat(ty, z) } else { z }
            }
            (Op::Copy, Some(s)) => self.b.ins().load(ty, data_flags(), s, off),
            (Op::Add(scale), Some(s)) => {
                let x = self.b.ins().load(ty, data_flags(), s, off);
                let acc = self.b.ins().load(ty, data_flags(), d, off);
                let k = self.float(scale);
                let k = if vector { self.b.ins().splat(ty, k) } else { k };
                let sx = self.b.ins().fmul(k, x);
                self.b.ins().fadd(acc, sx)
            }
            _ => unreachable!("copies and sums have a source"),
        };
        self.b.ins().store(data_flags(), v, d, off);
    }

    /// `nv` vectors of `map` in a loop over byte offsets.
    fn vector_loop(&mut self, d: ir::Value, s: Option<ir::Value>, nv: usize, op: Op) {
        let head = self.b.create_block();
        let body = self.b.create_block();
        let exit = self.b.create_block();
        let i = self.b.declare_var(types::I64);
        let zero = self.int(0);
        self.b.def_var(i, zero);
        self.b.ins().jump(head, &[]);
        self.b.switch_to_block(head);
        let iv = self.b.use_var(i);
        let end = self.int(nv * 16);
        let more = self.b.ins().icmp(IntCC::SignedLessThan, iv, end);
        self.b.ins().brif(more, body, &[], exit, &[]);
        self.b.switch_to_block(body);
        let iv = self.b.use_var(i);
        let dd = self.b.ins().iadd(d, iv);
        let ss = s.map(|s| self.b.ins().iadd(s, iv));
        self.element(dd, ss, 0, op, true);
        let next = self.b.ins().iadd_imm_s(iv, 16);
        self.b.def_var(i, next);
        self.b.ins().jump(head, &[]);
        self.b.switch_to_block(exit);
    }
}
