//! Cranelift code for fused elementwise kernels.
//!
//! A kernel has the signature `fn(ptrs: *const *mut T, rows: i64)`: `ptrs`
//! holds its input then output base pointers. It loops over the rows; per
//! row an inner loop runs over the `n` elements in vectors of 128 bits
//! (`f32x4` or `f64x2`, the widest Cranelift emits on x86-64) and a scalar
//! tail. A full operand advances by `n` elements per row (or not at all if
//! uniform); a scalar operand is one number per row (or one in all),
//! splatted; a repeated operand (`InKind::Repeat`) is one number per run
//! of `every` elements, loaded and splatted per vector (a kernel whose
//! runs do not hold whole vectors runs its scalar loop).
//!
//! `tanh` (and `sigmoid = ½ + ½ tanh(x/2)`, `gelu`) use a rational
//! approximation accurate to f32 in f32 kernels. Kernels holding an op
//! without a vector form here (`exp`, `log`, `softplus`, and the
//! transcendental ops in f64, where the approximation is not accurate
//! enough) run a scalar loop that calls `cdl_jit_unary_f32/f64` per element.

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{self, AbiParam, InstBuilder, MemFlagsData, Type as CType, types};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{FuncId, Linkage, Module};

use cdlc_ir::{BinOp, UnOp};

use crate::JitError;
use crate::plan::{InKind, KOp, KernelSpec};

/// A compiled kernel: `ptrs` (inputs then outputs), `rows`.
pub(crate) type KernelFn = unsafe extern "C" fn(*const *mut u8, i64);

/// The JIT-compiled kernels of one plan; owns their code.
pub(crate) struct Compiled {
    _module: JITModule,
    pub fns: Vec<KernelFn>,
    pub clif: Vec<String>,
}

fn unary_code(op: UnOp) -> i64 {
    op as i64
}

fn unary_of(code: i64) -> UnOp {
    use UnOp::*;
    [
        Neg, Relu, Tanh, Sigmoid, Exp, Log, Softplus, Gelu, Abs, Sqrt, Step, Sign, GeluDeriv,
    ][code as usize]
}

/// One pointwise op in f64, as the interpreter defines it.
pub(crate) fn unary_f64(op: UnOp, x: f64) -> f64 {
    const GELU_C: f64 = 0.044_715;
    let k = (2.0 / std::f64::consts::PI).sqrt();
    match op {
        UnOp::Neg => -x,
        UnOp::Relu => {
            if x > 0.0 {
                x
            } else {
                0.0
            }
        }
        UnOp::Tanh => x.tanh(),
        UnOp::Sigmoid => {
            if x >= 0.0 {
                1.0 / (1.0 + (-x).exp())
            } else {
                let e = x.exp();
                e / (1.0 + e)
            }
        }
        UnOp::Exp => x.exp(),
        UnOp::Log => x.ln(),
        UnOp::Softplus => x.max(0.0) + (-x.abs()).exp().ln_1p(),
        UnOp::Gelu => 0.5 * x * (1.0 + (k * (x + GELU_C * x * x * x)).tanh()),
        UnOp::Abs => x.abs(),
        UnOp::Sqrt => x.sqrt(),
        UnOp::Step => f64::from(u8::from(x > 0.0)),
        UnOp::Sign => {
            if x > 0.0 {
                1.0
            } else if x < 0.0 {
                -1.0
            } else {
                0.0
            }
        }
        UnOp::GeluDeriv => {
            let t = (k * (x + GELU_C * x * x * x)).tanh();
            let du = k * (1.0 + 3.0 * GELU_C * x * x);
            0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du
        }
    }
}

/// One pointwise op in f32, as the interpreter defines it (computed in
/// f32 where the interpreter's f32 mode does).
pub(crate) fn unary_f32(op: UnOp, x: f32) -> f32 {
    match op {
        UnOp::Tanh => x.tanh(),
        UnOp::Exp => x.exp(),
        UnOp::Log => x.ln(),
        UnOp::Softplus => x.max(0.0) + (-x.abs()).exp().ln_1p(),
        UnOp::Sigmoid => {
            if x >= 0.0 {
                1.0 / (1.0 + (-x).exp())
            } else {
                let e = x.exp();
                e / (1.0 + e)
            }
        }
        other => unary_f64(other, f64::from(x)) as f32,
    }
}

extern "C" fn cdl_jit_unary_f32(code: i64, x: f32) -> f32 {
    unary_f32(unary_of(code), x)
}

extern "C" fn cdl_jit_unary_f64(code: i64, x: f64) -> f64 {
    unary_f64(unary_of(code), x)
}

/// Whether `op` has a vector form for this element type.
fn vectorizable(op: UnOp, f64_: bool) -> bool {
    match op {
        UnOp::Neg | UnOp::Relu | UnOp::Abs | UnOp::Sqrt | UnOp::Step | UnOp::Sign => true,
        UnOp::Tanh | UnOp::Sigmoid | UnOp::Gelu | UnOp::GeluDeriv => !f64_,
        UnOp::Exp | UnOp::Log | UnOp::Softplus => false,
    }
}

/// The JIT module with the native ISA and the runtime's symbols.
pub(crate) fn new_module() -> Result<JITModule, JitError> {
    let mut fb = settings::builder();
    let set = |fb: &mut settings::Builder, k: &str, v: &str| {
        fb.set(k, v)
            .map_err(|e| JitError::Internal(format!("cranelift setting {k}: {e}")))
    };
    set(&mut fb, "opt_level", "speed")?;
    set(&mut fb, "use_colocated_libcalls", "false")?;
    set(&mut fb, "is_pic", "false")?;
    let isa = cranelift_native::builder()
        .map_err(|e| JitError::Internal(format!("host ISA: {e}")))?
        .finish(settings::Flags::new(fb))
        .map_err(|e| JitError::Internal(format!("host ISA: {e}")))?;
    let mut jb = JITBuilder::with_isa(isa, cranelift_module::default_libcall_names());
    jb.symbol("cdl_jit_unary_f32", cdl_jit_unary_f32 as *const u8);
    jb.symbol("cdl_jit_unary_f64", cdl_jit_unary_f64 as *const u8);
    Ok(JITModule::new(jb))
}

/// Compiles every kernel of a plan for f32 (`f64_ = false`) or f64.
pub(crate) fn compile(specs: &[KernelSpec], f64_: bool) -> Result<Compiled, JitError> {
    let mut module = new_module()?;
    let mut ids = Vec::new();
    let mut clif = Vec::new();
    let mut ctx = module.make_context();
    let mut fctx = FunctionBuilderContext::new();
    for (i, spec) in specs.iter().enumerate() {
        let (id, text) = define(&mut module, &mut ctx, &mut fctx, spec, f64_, i)?;
        ids.push(id);
        clif.push(text);
    }
    module
        .finalize_definitions()
        .map_err(|e| JitError::Internal(format!("finalizing kernels: {e}")))?;
    let fns = ids
        .into_iter()
        .map(|id| {
            let p = module.get_finalized_function(id);
            // SAFETY: the function was defined with exactly this signature.
            unsafe { std::mem::transmute::<*const u8, KernelFn>(p) }
        })
        .collect();
    Ok(Compiled {
        _module: module,
        fns,
        clif,
    })
}

struct Emitter<'a, 'b> {
    b: &'a mut FunctionBuilder<'b>,
    f64_: bool,
    unary_ref: Option<ir::FuncRef>,
}

impl Emitter<'_, '_> {
    fn scalar_ty(&self) -> CType {
        if self.f64_ { types::F64 } else { types::F32 }
    }

    fn vec_ty(&self) -> CType {
        if self.f64_ {
            types::F64X2
        } else {
            types::F32X4
        }
    }

    fn constant(&mut self, x: f64, vector: bool) -> ir::Value {
        let s = if self.f64_ {
            self.b.ins().f64const(x)
        } else {
            self.b.ins().f32const(x as f32)
        };
        if vector {
            let t = self.vec_ty();
            self.b.ins().splat(t, s)
        } else {
            s
        }
    }

    /// `if a < b { then } else { other }`, as a compare and select that the
    /// x64 backend matches to `minps`/`maxps` where it can.
    fn select_lt(
        &mut self,
        a: ir::Value,
        b: ir::Value,
        then: ir::Value,
        other: ir::Value,
        vector: bool,
    ) -> ir::Value {
        let c = self.b.ins().fcmp(FloatCC::LessThan, a, b);
        if vector {
            let t = self.vec_ty();
            let m = self.b.ins().bitcast(t, MemFlagsData::new(), c);
            self.b.ins().bitselect(m, then, other)
        } else {
            self.b.ins().select(c, then, other)
        }
    }

    /// tanh by the rational approximation of Eigen (f32 accuracy).
    fn tanh(&mut self, x: ir::Value, vector: bool) -> ir::Value {
        let hi = self.constant(7.905_311_107_635_498, vector);
        let lo = self.constant(-7.905_311_107_635_498, vector);
        let x = self.select_lt(x, hi, x, hi, vector);
        let x = self.select_lt(lo, x, x, lo, vector);
        let x2 = self.b.ins().fmul(x, x);
        let alpha = [
            -2.760_768_477_423_55e-16,
            2.000_187_904_824_77e-13,
            -8.604_671_522_137_35e-11,
            5.122_297_090_371_14e-8,
            1.485_722_357_179_79e-5,
            6.372_619_288_754_36e-4,
            4.893_524_558_917_86e-3,
        ];
        let beta = [
            1.198_258_394_667_02e-6,
            1.185_347_056_866_54e-4,
            2.268_434_632_439e-3,
            4.893_525_185_543_85e-3,
        ];
        let mut p = self.constant(alpha[0], vector);
        for &a in &alpha[1..] {
            let c = self.constant(a, vector);
            p = self.b.ins().fma(x2, p, c);
        }
        let p = self.b.ins().fmul(x, p);
        let mut q = self.constant(beta[0], vector);
        for &bb in &beta[1..] {
            let c = self.constant(bb, vector);
            q = self.b.ins().fma(x2, q, c);
        }
        self.b.ins().fdiv(p, q)
    }

    fn unary(&mut self, op: UnOp, x: ir::Value, vector: bool) -> ir::Value {
        if !vectorizable(op, self.f64_) {
            let f = self.unary_ref.expect("declared for kernels with calls");
            let code = self.b.ins().iconst(types::I64, unary_code(op));
            let call = self.b.ins().call(f, &[code, x]);
            return self.b.inst_results(call)[0];
        }
        let zero = self.constant(0.0, vector);
        let one = self.constant(1.0, vector);
        let half = self.constant(0.5, vector);
        match op {
            UnOp::Neg => self.b.ins().fneg(x),
            UnOp::Relu => self.select_lt(zero, x, x, zero, vector),
            UnOp::Abs => self.b.ins().fabs(x),
            UnOp::Sqrt => self.b.ins().sqrt(x),
            UnOp::Step => self.select_lt(zero, x, one, zero, vector),
            UnOp::Sign => {
                let p = self.select_lt(zero, x, one, zero, vector);
                let n = self.select_lt(x, zero, one, zero, vector);
                self.b.ins().fsub(p, n)
            }
            UnOp::Tanh => self.tanh(x, vector),
            UnOp::Sigmoid => {
                let h = self.b.ins().fmul(x, half);
                let t = self.tanh(h, vector);
                self.b.ins().fma(t, half, half)
            }
            UnOp::Gelu | UnOp::GeluDeriv => {
                let k = self.constant((2.0 / std::f64::consts::PI).sqrt(), vector);
                let c = self.constant(0.044_715, vector);
                let x2 = self.b.ins().fmul(x, x);
                let inner = self.b.ins().fma(c, x2, one);
                let u = self.b.ins().fmul(x, inner);
                let u = self.b.ins().fmul(k, u);
                let t = self.tanh(u, vector);
                let one_t = self.b.ins().fadd(one, t);
                if op == UnOp::Gelu {
                    let hx = self.b.ins().fmul(half, x);
                    self.b.ins().fmul(hx, one_t)
                } else {
                    // ½ (1 + t) + ½ x (1 − t²) k (1 + 3 c x²)
                    let three_c = self.constant(3.0 * 0.044_715, vector);
                    let du = self.b.ins().fma(three_c, x2, one);
                    let du = self.b.ins().fmul(k, du);
                    let t2 = self.b.ins().fmul(t, t);
                    let sech = self.b.ins().fsub(one, t2);
                    let hx = self.b.ins().fmul(half, x);
                    let r = self.b.ins().fmul(hx, sech);
                    let r = self.b.ins().fmul(r, du);
                    self.b.ins().fma(half, one_t, r)
                }
            }
            UnOp::Exp | UnOp::Log | UnOp::Softplus => unreachable!("not vectorizable"),
        }
    }

    fn binary(&mut self, op: BinOp, a: ir::Value, b: ir::Value) -> ir::Value {
        match op {
            BinOp::Add => self.b.ins().fadd(a, b),
            BinOp::Sub => self.b.ins().fsub(a, b),
            BinOp::Mul => self.b.ins().fmul(a, b),
            BinOp::Div => self.b.ins().fdiv(a, b),
        }
    }
}

fn define(
    module: &mut JITModule,
    ctx: &mut cranelift_codegen::Context,
    fctx: &mut FunctionBuilderContext,
    spec: &KernelSpec,
    f64_: bool,
    index: usize,
) -> Result<(FuncId, String), JitError> {
    let ptr = module.target_config().pointer_type();
    let err = |e: String| JitError::Internal(format!("kernel {index}: {e}"));
    module.clear_context(ctx);
    ctx.func.signature.params.push(AbiParam::new(ptr));
    ctx.func.signature.params.push(AbiParam::new(types::I64));
    let name = format!("ew{index}");
    let id = module
        .declare_function(&name, Linkage::Local, &ctx.func.signature)
        .map_err(|e| err(e.to_string()))?;
    let needs_call = spec
        .ops
        .iter()
        .any(|o| matches!(o, KOp::Un(u, _) if !vectorizable(*u, f64_)));
    let unary_id = if needs_call {
        let fty = if f64_ { types::F64 } else { types::F32 };
        let mut sig = module.make_signature();
        sig.params.push(AbiParam::new(types::I64));
        sig.params.push(AbiParam::new(fty));
        sig.returns.push(AbiParam::new(fty));
        let sym = if f64_ {
            "cdl_jit_unary_f64"
        } else {
            "cdl_jit_unary_f32"
        };
        Some(
            module
                .declare_function(sym, Linkage::Import, &sig)
                .map_err(|e| err(e.to_string()))?,
        )
    } else {
        None
    };
    {
        let mut b = FunctionBuilder::new(&mut ctx.func, fctx);
        let unary_ref = unary_id.map(|u| module.declare_func_in_func(u, b.func));
        let elt: i64 = if f64_ { 8 } else { 4 };
        let lanes: usize = if f64_ { 2 } else { 4 };
        let n = spec.n;
        // A repeated operand is one number per vector when its runs hold
        // whole vectors; otherwise the kernel runs its scalar loop.
        let runs_whole = spec.inputs.iter().all(|k| match k {
            InKind::Repeat { every, .. } => every % lanes == 0,
            _ => true,
        });
        let nv = if needs_call || !runs_whole {
            0
        } else {
            n - n % lanes
        };
        let mf = MemFlagsData::trusted();

        let entry = b.create_block();
        let row_head = b.create_block();
        let row_body = b.create_block();
        let vhead = b.create_block();
        let vbody = b.create_block();
        let thead = b.create_block();
        let tbody = b.create_block();
        let row_next = b.create_block();
        let exit = b.create_block();
        b.append_block_params_for_function_params(entry);
        let r_var = b.declare_var(types::I64);
        let i_var = b.declare_var(types::I64);

        b.switch_to_block(entry);
        let ptrs = b.block_params(entry)[0];
        let rows = b.block_params(entry)[1];
        let n_in = spec.inputs.len();
        let n_ptr = n_in + spec.outputs.len();
        let mut bases = Vec::with_capacity(n_ptr);
        for p in 0..n_ptr {
            bases.push(b.ins().load(ptr, mf, ptrs, (p * 8) as i32));
        }
        let zero_i = b.ins().iconst(types::I64, 0);
        b.def_var(r_var, zero_i);
        b.ins().jump(row_head, &[]);

        b.switch_to_block(row_head);
        let r = b.use_var(r_var);
        let more = b.ins().icmp(IntCC::SignedLessThan, r, rows);
        b.ins().brif(more, row_body, &[], exit, &[]);

        // Per row: the operands' row bases and the splatted scalars.
        b.switch_to_block(row_body);
        let r = b.use_var(r_var);
        let mut row_base = Vec::with_capacity(n_ptr);
        let mut scalars: Vec<Option<ir::Value>> = vec![None; n_in];
        let sty = if f64_ { types::F64 } else { types::F32 };
        for p in 0..n_ptr {
            let stride = match spec.inputs.get(p) {
                Some(&kind) if kind.batched() => kind.per_row(n) as i64 * elt,
                Some(_) => 0,
                None => n as i64 * elt,
            };
            let base = if stride == 0 {
                bases[p]
            } else {
                let off = b.ins().imul_imm_s(r, stride);
                b.ins().iadd(bases[p], off)
            };
            if let Some(InKind::Scalar { .. }) = spec.inputs.get(p) {
                scalars[p] = Some(b.ins().load(sty, mf, base, 0));
            }
            row_base.push(base);
        }
        let zero_i = b.ins().iconst(types::I64, 0);
        b.def_var(i_var, zero_i);
        b.ins().jump(if nv > 0 { vhead } else { thead }, &[]);

        let mut em = Emitter {
            b: &mut b,
            f64_,
            unary_ref,
        };
        for (head, body, next, vector) in
            [(vhead, vbody, thead, true), (thead, tbody, row_next, false)]
        {
            if vector && nv == 0 {
                continue;
            }
            let limit = if vector { nv } else { n };
            em.b.switch_to_block(head);
            let i = em.b.use_var(i_var);
            let more =
                em.b.ins()
                    .icmp_imm_s(IntCC::SignedLessThan, i, limit as i64);
            em.b.ins().brif(more, body, &[], next, &[]);
            em.b.switch_to_block(body);
            let i = em.b.use_var(i_var);
            let off = em.b.ins().imul_imm_s(i, elt);
            let ty = if vector { em.vec_ty() } else { em.scalar_ty() };
            let mut vals: Vec<ir::Value> = Vec::with_capacity(spec.ops.len());
            for op in &spec.ops {
                let v = match *op {
                    KOp::Input(p) => match spec.inputs[p] {
                        InKind::Full { .. } => {
                            let addr = em.b.ins().iadd(row_base[p], off);
                            em.b.ins().load(ty, mf, addr, 0)
                        }
                        InKind::Scalar { .. } => {
                            let s = scalars[p].expect("loaded per row");
                            if vector { em.b.ins().splat(ty, s) } else { s }
                        }
                        InKind::Repeat { every, .. } => {
                            // Number `i / every`, at byte `(i / every) · elt`.
                            let run = if every.is_power_of_two() {
                                em.b.ins().ushr_imm_u(i, i64::from(every.trailing_zeros()))
                            } else {
                                em.b.ins().udiv_imm_u(i, every as i64)
                            };
                            let at = em.b.ins().imul_imm_s(run, elt);
                            let addr = em.b.ins().iadd(row_base[p], at);
                            let sty = em.scalar_ty();
                            let s = em.b.ins().load(sty, mf, addr, 0);
                            if vector { em.b.ins().splat(ty, s) } else { s }
                        }
                    },
                    KOp::Bin(o, x, y) => em.binary(o, vals[x], vals[y]),
                    KOp::Un(o, x) => em.unary(o, vals[x], vector),
                };
                vals.push(v);
            }
            for (k, &o) in spec.outputs.iter().enumerate() {
                let addr = em.b.ins().iadd(row_base[n_in + k], off);
                em.b.ins().store(mf, vals[o], addr, 0);
            }
            let step = if vector { lanes as i64 } else { 1 };
            let i2 = em.b.ins().iadd_imm_s(i, step);
            em.b.def_var(i_var, i2);
            em.b.ins().jump(head, &[]);
        }
        b.switch_to_block(row_next);
        let r = b.use_var(r_var);
        let r2 = b.ins().iadd_imm_s(r, 1);
        b.def_var(r_var, r2);
        b.ins().jump(row_head, &[]);

        b.switch_to_block(exit);
        b.ins().return_(&[]);
        b.seal_all_blocks();
        b.finalize(module.target_config());
    }
    cranelift_codegen::verify_function(&ctx.func, module.isa())
        .map_err(|e| err(format!("verifier: {e}")))?;
    let text = ctx.func.display().to_string();
    module
        .define_function(id, ctx)
        .map_err(|e| err(format!("{e:?}")))?;
    Ok((id, text))
}
