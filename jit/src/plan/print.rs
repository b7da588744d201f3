//! The plan's text form, shown by `cdlc FILE --emit plan`.
//!
//! First the sizes: parameter slots, leaves, every buffer with its layout
//! (as the verifier first sees it defined: `batch x 16` is 16 numbers per
//! example, `4` one row shared by all), the constants and the fused
//! kernels. Then the code, one instruction a line, regions indented below
//! their recursion op. Operands and results are written `loc:size/row`
//! when held per row, `loc:size` when one row serves all, `loc:Σsize` when
//! summed over the rows. Instructions read `outputs <- op(inputs)`; a
//! basis table kept once per input channel reads `basis_expand in N
//! blocks(...)`. The
//! output is deterministic: plans hold vectors only.

use std::fmt::Write;

use super::layout::Layout;
use super::verify::{loc_name, row_op_name};
use super::*;

/// The text form of `plan`, with each buffer's layout from `layouts` and
/// each leaf's type as the IR's text form writes it.
pub(crate) fn print(plan: &Plan, layouts: &[Option<Layout>], leaf_types: &[String]) -> String {
    let mut p = Printer {
        out: String::new(),
        depth: 0,
        kernels: &plan.kernels,
    };
    p.header(plan, layouts, leaf_types);
    p.line("code:");
    p.depth = 1;
    p.code(&plan.code);
    p.depth = 0;
    p.line(&format!("output: {}", repr(&plan.output)));
    p.out
}

struct Printer<'p> {
    out: String,
    depth: usize,
    kernels: &'p [KernelSpec],
}

fn operand(loc: Loc, batched: bool, size: usize) -> String {
    match batched {
        true => format!("{}:{size}/row", loc_name(loc)),
        false => format!("{}:{size}", loc_name(loc)),
    }
}

fn part(p: &Part) -> String {
    match p.kind {
        PartKind::Batched => operand(p.loc, true, p.size),
        PartKind::Uniform => operand(p.loc, false, p.size),
        PartKind::Summed => format!("{}:Σ{}", loc_name(p.loc), p.size),
    }
}

fn parts(ps: &[Part]) -> String {
    ps.iter().map(part).collect::<Vec<_>>().join(", ")
}

fn bufs(bs: &[(usize, usize)]) -> String {
    let items: Vec<String> = bs.iter().map(|(b, s)| format!("b{b}:{s}")).collect();
    format!("[{}]", items.join(", "))
}

/// A fold's slots of values kept per node for its backward, if any.
fn kept(slots: &[(usize, usize)]) -> String {
    match slots.is_empty() {
        true => String::new(),
        false => format!(" kept {}", bufs(slots)),
    }
}

fn views(vs: &[usize]) -> String {
    let items: Vec<String> = vs.iter().map(|v| format!("v{v}")).collect();
    format!("[{}]", items.join(", "))
}

fn dim(d: Dim) -> String {
    match d.rows {
        true => format!("rows*{}", d.fixed),
        false => d.fixed.to_string(),
    }
}

fn mat(m: &Mat) -> String {
    format!("{}(rs {}, cs {})", loc_name(m.loc), m.rs, m.cs)
}

fn target(t: TargetLoc, size: usize) -> String {
    match t {
        TargetLoc::Class(i) => format!("class in{i}"),
        TargetLoc::Tensor(l, b) => operand(l, b, size),
    }
}

fn repr(r: &Repr) -> String {
    match r {
        Repr::Tensor {
            loc,
            batched,
            shape,
        } => operand(*loc, *batched, shape.iter().product()),
        Repr::Transposed {
            loc,
            batched,
            rows,
            cols,
            ..
        } => format!("transposed {}", operand(*loc, *batched, rows * cols)),
        Repr::Summed { buf, shape } => format!("b{buf}:Σ{}", shape.iter().product::<usize>()),
        Repr::Tuple(rs) => {
            let items: Vec<String> = rs.iter().map(repr).collect();
            format!("({})", items.join(", "))
        }
        Repr::Data(i) => format!("structure in{i}"),
        Repr::Field { fold, ctor, field } => {
            format!("structure in field {field} of case {ctor} of f{fold}")
        }
        Repr::Class { input } => format!("class in{input}"),
        Repr::SeqTarget { input } => format!("sequence target in{input}"),
        Repr::Seq { buf, size, unfold } => format!("sequence b{buf}:{size} of u{unfold}"),
        Repr::Nested(k) => format!("nested structure {k}"),
        Repr::NestedCt { unfold, parts } => {
            let items: Vec<String> = parts.iter().map(|(b, s)| format!("b{b}:{s}")).collect();
            format!("nested cotangent of u{unfold} [{}]", items.join(", "))
        }
        Repr::HeldCt { fold } => format!("held cotangent added into the pool of f{fold}"),
        Repr::FoldTape(f) => format!("tape of f{f}"),
        Repr::UnfoldTape(u) => format!("tape of u{u}"),
        Repr::Mapped { fold, fields } => {
            let items: Vec<String> = fields.iter().map(|fs| bufs(fs)).collect();
            format!("structure of f{fold} with fields {}", items.join(" | "))
        }
    }
}

fn kernel(i: usize, k: &KernelSpec) -> String {
    let ins: Vec<String> = k
        .inputs
        .iter()
        .map(|kind| match kind {
            InKind::Full { batched: true } => "full/row".to_string(),
            InKind::Full { batched: false } => "full".to_string(),
            InKind::Scalar { batched: true } => "scalar/row".to_string(),
            InKind::Scalar { batched: false } => "scalar".to_string(),
            InKind::Repeat { batched, every } => {
                format!("repeat {every}{}", if *batched { "/row" } else { "" })
            }
        })
        .collect();
    let ops: Vec<String> = k
        .ops
        .iter()
        .enumerate()
        .map(|(j, op)| match op {
            KOp::Input(x) => format!("%{j} = arg{x}"),
            KOp::Bin(o, a, b) => format!("%{j} = {} %{a} %{b}", o.name()),
            KOp::Un(o, a) => format!("%{j} = {} %{a}", o.name()),
        })
        .collect();
    let outs: Vec<String> = k.outputs.iter().map(|o| format!("%{o}")).collect();
    format!(
        "k{i} n={} ({}): {}; store {}",
        k.n,
        ins.join(", "),
        ops.join("; "),
        outs.join(", ")
    )
}

impl Printer<'_> {
    fn line(&mut self, s: &str) {
        for _ in 0..self.depth {
            self.out.push_str("  ");
        }
        self.out.push_str(s);
        self.out.push('\n');
    }

    fn header(&mut self, plan: &Plan, layouts: &[Option<Layout>], leaf_types: &[String]) {
        let mut s = format!(
            "plan: {} buffers, {} views, {} kernels, {} parameters",
            plan.num_bufs,
            plan.num_views,
            plan.kernels.len(),
            plan.num_params
        );
        let slots: Vec<String> = plan
            .param_offsets
            .iter()
            .enumerate()
            .map(|(i, &o)| {
                let end = plan
                    .param_offsets
                    .get(i + 1)
                    .copied()
                    .unwrap_or(plan.num_params);
                format!("param@{o}:{}", end - o)
            })
            .collect();
        let _ = write!(s, "\nparameters: {}", slots.join(", "));
        self.line(&s);
        for (i, (leaf, ty)) in plan.leaves.iter().zip(leaf_types).enumerate() {
            let path: String = leaf.path.iter().map(|k| format!(".{k}")).collect();
            self.line(&format!("leaf in{i}: input {}{path}: {ty}", leaf.input));
        }
        self.line("buffers:");
        for (b, l) in layouts.iter().enumerate() {
            let held = l.map_or("(never written)".to_string(), |l| l.to_string());
            self.line(&format!("  b{b}: {held}"));
        }
        for (b, data) in &plan.init {
            self.line(&format!("init b{b}: {} constants", data.len()));
        }
        for (i, k) in plan.kernels.iter().enumerate() {
            self.line(&kernel(i, k));
        }
    }

    fn code(&mut self, code: &[Instr]) {
        for (i, ins) in code.iter().enumerate() {
            let text = self.instr(ins);
            self.line(&format!("[{i}] {text}"));
            self.regions(ins);
        }
    }

    /// An instruction on one line (a recursion op's header).
    fn instr(&self, ins: &Instr) -> String {
        match ins {
            Instr::Elementwise {
                kernel,
                locs,
                steps,
                n_out,
                batched,
            } => {
                let n_in = locs.len() - n_out;
                let spec = self.kernels.get(*kernel);
                // A zero step reads one row of the input's kind.
                let ops: Vec<String> = locs
                    .iter()
                    .zip(steps)
                    .enumerate()
                    .map(|(i, (&l, &s))| {
                        let one = match spec.and_then(|k| k.inputs.get(i)) {
                            Some(kind) => kind.per_row(spec.map_or(0, |k| k.n)),
                            None => spec.map_or(0, |k| k.n),
                        };
                        if s > 0 {
                            operand(l, true, s)
                        } else {
                            operand(l, false, one)
                        }
                    })
                    .collect();
                let rows = if *batched { "rows" } else { "one row" };
                format!(
                    "{} <- k{kernel}({}) over {rows}",
                    ops[n_in..].join(", "),
                    ops[..n_in].join(", ")
                )
            }
            Instr::Gemm {
                m,
                k,
                n,
                a,
                b,
                c,
                c_buf,
                c_len,
                per_row,
            } => {
                let each = per_row.map_or(String::new(), |[sa, sb, sc]| {
                    format!(" per row (steps {sa}, {sb}, {sc})")
                });
                format!(
                    "{} <- gemm m={} k={} n={} A={} B={} C={}{each}",
                    operand(Loc::Buf(*c_buf), c_len.rows, c_len.fixed),
                    dim(*m),
                    dim(*k),
                    dim(*n),
                    mat(a),
                    mat(b),
                    mat(c)
                )
            }
            Instr::Fused(f) => {
                let how = match (&f.program, f.store_c) {
                    (Some(t), store) => format!(
                        "in registers{}{} or per panel",
                        if t.program.native().is_some() {
                            ", native"
                        } else {
                            ""
                        },
                        if store { "" } else { ", C unstored" }
                    ),
                    (None, _) => "per panel".to_string(),
                };
                let bc = f.broadcast.as_ref().map_or(String::new(), |b| {
                    format!(
                        "; input {} broadcast from {} (else {})",
                        b.input,
                        super::verify::loc_name(b.src),
                        self.instr(&b.expand)
                    )
                });
                format!(
                    "fused {}; then {} ({how}){bc}",
                    self.instr(&f.gemm),
                    self.instr(&f.ew)
                )
            }
            Instr::Row {
                op,
                ins,
                dst,
                out_size,
                batched,
            } => {
                let xs: Vec<String> = ins.iter().map(|&(l, b, s)| operand(l, b, s)).collect();
                format!(
                    "{} <- {}{}({})",
                    operand(Loc::Buf(*dst), *batched, *out_size),
                    row_op_name(op),
                    blocks(op),
                    xs.join(", ")
                )
            }
            Instr::SumRows { src, size, dst } => {
                format!("b{dst}:{size} <- sum_rows({})", operand(*src, true, *size))
            }
            Instr::SumCombine { a, b, sub, dst } => format!(
                "b{dst}:{} <- {} {} {}",
                a.size,
                part(a),
                if *sub { "-" } else { "+" },
                part(b)
            ),
            Instr::Loss {
                kind,
                out,
                size,
                target: t,
                dst,
            } => format!(
                "b{dst}:1/row <- {kind}({}, {})",
                operand(*out, true, *size),
                target(*t, *size)
            ),
            Instr::LossGrad {
                kind,
                out,
                size,
                target: t,
                seed,
                dst,
            } => format!(
                "b{dst}:{size}/row <- {kind}_grad({}, {}, seed {})",
                operand(*out, true, *size),
                target(*t, *size),
                operand(seed.0, seed.1, 1)
            ),
            Instr::SeqLoss {
                kind,
                out,
                size,
                unfold,
                target,
                dst,
            } => format!("b{dst}:1/row <- {kind}(sequence b{out}:{size} of u{unfold}, in{target})"),
            Instr::SeqLossGrad {
                kind,
                out,
                size,
                unfold,
                target,
                seed,
                dst,
            } => format!(
                "b{dst}:{size} per step <- {kind}_grad(sequence b{out}:{size} of u{unfold}, in{target}, seed {})",
                operand(seed.0, seed.1, 1)
            ),
            Instr::SeqSum {
                unfold,
                size,
                terms,
                out,
            } => {
                let terms: Vec<String> = terms.iter().map(|t| format!("b{t}")).collect();
                let sum = if terms.is_empty() {
                    "0".to_string()
                } else {
                    terms.join(" + ")
                };
                format!("b{out}:{size} per step of u{unfold} <- {sum}")
            }
            Instr::Fold(f) => {
                let elems = f.elems.as_ref().map_or(String::new(), elems)
                    + &f.nested.as_ref().map_or(String::new(), nested_src)
                    + &kept(&f.saved);
                format!(
                    "fold f{}: carrier {} roots {}{elems}",
                    f.id,
                    bufs(&f.carrier),
                    bufs(&f.root)
                )
            }
            Instr::FoldBackward(f) => {
                let elems = f.elems.as_ref().map_or(String::new(), elems)
                    + &f.nested.as_ref().map_or(String::new(), nested_src)
                    + &kept(&f.saved);
                format!(
                    "fold_backward f{}: carrier {} cotangents {} roots' cotangent ({}) accumulators {}{elems}",
                    f.id,
                    bufs(&f.carrier),
                    bufs(&f.ct),
                    parts(&f.root_ct),
                    accs(&f.acc)
                )
            }
            Instr::Unfold(u) => format!(
                "unfold u{}: init ({}) states {} outputs {}{}{}{}",
                u.id,
                parts(&u.init),
                bufs(&u.states),
                bufs(&u.outs),
                x_seq(&u.x_seq),
                u.local
                    .map_or(String::new(), |s| format!(" in the region, steps of u{s}")),
                flat(u.flat)
            ),
            Instr::UnfoldBackward(u) => format!(
                "unfold_backward u{}: states {} output cotangents {} state cotangents {} accumulators {}{}{}{}",
                u.id,
                bufs(&u.states),
                bufs(&u.dout),
                bufs(&u.dnext),
                accs(&u.acc),
                x_seq(&u.x_seq),
                if u.local { " in the region" } else { "" },
                flat(u.flat)
            ),
            Instr::Map(m) => {
                let outs: Vec<String> = m.out.iter().map(|fs| bufs(fs)).collect();
                format!("map over f{}: fields {}", m.fold, outs.join(" | "))
            }
            Instr::MapBackward(m) => {
                format!(
                    "map_backward over f{}: accumulators {}",
                    m.fold,
                    accs(&m.acc)
                )
            }
            Instr::Conv(c) => conv(c),
        }
    }

    /// A `map`'s regions: per constructor, the gathered fields and (in the
    /// backward) cotangents, the code over that constructor's nodes, and
    /// what it yields.
    fn map_cases(&mut self, cases: &[MapCase]) {
        for (c, mc) in cases.iter().enumerate() {
            let mut head = format!("case {c}: fields {}", bufs(&mc.fields));
            if !mc.cts.is_empty() {
                let _ = write!(head, " cotangents {}", bufs(&mc.cts));
            }
            self.line(&head);
            self.case_body(&mc.code, &mc.result);
        }
    }

    /// A recursion op's regions, indented below it.
    fn regions(&mut self, ins: &Instr) {
        self.depth += 1;
        match ins {
            Instr::Fold(f) => self.cases(&f.cases),
            Instr::FoldBackward(f) => self.cases(&f.cases),
            Instr::Map(m) => self.map_cases(&m.cases),
            Instr::MapBackward(m) => self.map_cases(&m.cases),
            Instr::Unfold(u) => {
                self.line(&format!(
                    "step: state {} element {}",
                    views(&u.state_views),
                    element_views(&u.x_views)
                ));
                self.body(&u.body);
                self.line(&format!(
                    "yield output ({}); state ({})",
                    parts(&u.result_out),
                    parts(&u.result_state)
                ));
            }
            Instr::UnfoldBackward(u) => {
                self.line(&format!(
                    "step: state {} element {} output cotangent {} state cotangent {}",
                    views(&u.state_views),
                    element_views(&u.x_views),
                    views(&u.dout_views),
                    views(&u.dnext_views)
                ));
                self.body(&u.body);
                let caps: Vec<String> = u.result_caps.iter().map(|c| parts(c)).collect();
                let dx: String = u
                    .result_dx
                    .iter()
                    .map(|(p, b)| format!("; element {} to b{b}", part(p)))
                    .collect();
                self.line(&format!(
                    "yield state ({}); captures [{}]{dx}",
                    parts(&u.result_dstate),
                    caps.join("; ")
                ));
            }
            _ => {}
        }
        self.depth -= 1;
    }

    /// A case's code, then the line of the parts it yields, one group per
    /// result.
    fn case_body(&mut self, code: &[Instr], result: &[Vec<Part>]) {
        self.body(code);
        let ys: Vec<String> = result.iter().map(|ps| format!("({})", parts(ps))).collect();
        self.line(&format!("yield {}", ys.join(", ")));
    }

    fn body(&mut self, code: &[Instr]) {
        self.depth += 1;
        self.code(code);
        self.depth -= 1;
    }

    fn cases(&mut self, cases: &[CaseCode]) {
        for (c, cc) in cases.iter().enumerate() {
            let rec: Vec<String> = cc
                .rec_args
                .iter()
                .map(|bs| {
                    let items: Vec<String> = bs.iter().map(|b| format!("b{b}")).collect();
                    format!("[{}]", items.join(", "))
                })
                .collect();
            let caps: Vec<String> = cc
                .captures
                .iter()
                .map(|&(l, s, b)| format!("b{b} <- {}", operand(l, true, s)))
                .collect();
            let mut head = format!(
                "case {c}: children [{}] fields {} captures [{}]",
                rec.join(", "),
                views(&cc.field_views),
                caps.join(", ")
            );
            if !cc.ct_views.is_empty() {
                let _ = write!(head, " cotangent {}", views(&cc.ct_views));
            }
            if !cc.own_views.is_empty() {
                let _ = write!(head, " own {}", views(&cc.own_views));
            }
            if !cc.saves.is_empty() {
                let items: Vec<String> = cc
                    .saves
                    .iter()
                    .map(|(p, s)| format!("{} to s{s}", part(p)))
                    .collect();
                let _ = write!(head, " keeps [{}]", items.join(", "));
            }
            if !cc.saved_views.is_empty() {
                let items: Vec<String> = cc
                    .saved_views
                    .iter()
                    .map(|(v, s)| format!("v{v} at s{s}"))
                    .collect();
                let _ = write!(head, " kept [{}]", items.join(", "));
            }
            for m in &cc.mapped {
                let ct =
                    m.ct.map_or(String::new(), |b| format!(" cotangent to b{b}"));
                let _ = write!(head, " mapped v{} at b{}:{}{ct}", m.view, m.buf, m.size);
            }
            for pool in &cc.nested {
                let seqs: Vec<String> =
                    pool.seqs.iter().map(|(b, s)| format!("b{b}:{s}")).collect();
                let _ = write!(head, " nested pool u{} [{}]", pool.unfold, seqs.join(", "));
                if let Some(ct) = &pool.ct {
                    let items: Vec<String> = ct.iter().map(|b| format!("b{b}")).collect();
                    let _ = write!(head, " cotangents [{}]", items.join(", "));
                }
            }
            self.line(&head);
            self.case_body(&cc.code, &cc.result);
        }
    }
}

fn elems(e: &SeqElems) -> String {
    format!(" elements from u{}: {}", e.unfold, elem_parts(&e.parts))
}

fn nested_src(n: &NestedSrc) -> String {
    format!(
        " over nested field {} of f{}, children from u{}: {}",
        n.field,
        n.outer,
        n.unfold,
        elem_parts(&n.parts)
    )
}

/// The parts of a sequence's elements a fold reads: each one's buffer and
/// size, where it is gathered and where its cotangents go.
fn elem_parts(parts: &[ElemPart]) -> String {
    let items: Vec<String> = parts
        .iter()
        .map(|p| {
            format!(
                "b{}:{} gathered in b{} cotangents b{}",
                p.seq, p.size, p.gathered, p.cotangents
            )
        })
        .collect();
    items.join(", ")
}

fn accs(accs: &[Acc]) -> String {
    let items: Vec<String> = accs
        .iter()
        .map(|a| match a.per_example {
            true => format!("b{}:{}/row", a.buf, a.size),
            false => format!("b{}:{}", a.buf, a.size),
        })
        .collect();
    format!("[{}]", items.join(", "))
}

fn x_seq(s: &[(usize, usize)]) -> String {
    let items: Vec<String> = s.iter().map(|(b, n)| format!("b{b}:{n}")).collect();
    match items.is_empty() {
        true => String::new(),
        false => format!(" over sequence {}", items.join(", ")),
    }
}

fn element_views(vs: &[(usize, usize)]) -> String {
    let items: Vec<String> = vs.iter().map(|(v, s)| format!("v{v}:{s}")).collect();
    format!("[{}]", items.join(", "))
}

/// How many blocks a basis table is walked in, when more than one (the
/// gather's table kept once per input channel).
fn blocks(op: &RowOp) -> String {
    match op {
        RowOp::BasisExpand { table } | RowOp::BasisProject { table } if table.blocks > 1 => {
            format!(" in {} blocks", table.blocks)
        }
        _ => String::new(),
    }
}

/// A direct convolution step: what it writes and reads, its sizes and its
/// runs.
fn conv(c: &ConvCode) -> String {
    let s = c.taps.shape;
    let (x, y) = (s.in_channels * s.in_points, s.out_channels * s.out_points);
    let (what, written, reads) = match c.kind {
        ConvKind::Forward => (
            "conv",
            operand(c.y, true, y),
            format!("W={} x={}", mat(&c.w), operand(c.x, true, x)),
        ),
        ConvKind::InputGrad => (
            "conv_input_grad",
            operand(c.x, true, x),
            format!("W={} dy={}", mat(&c.w), operand(c.y, true, y)),
        ),
        ConvKind::WeightGrad => (
            "conv_weight_grad",
            mat(&c.w),
            format!("x={} dy={}", operand(c.x, true, x), operand(c.y, true, y)),
        ),
    };
    format!(
        "{written} <- {what} {reads} ({} -> {} channels, {} taps, {} -> {} points, {} runs)",
        s.in_channels,
        s.out_channels,
        s.taps,
        s.in_points,
        s.out_points,
        c.taps.runs.len()
    )
}

/// How a plan line says that an unfold runs all its steps at once.
fn flat(flat: bool) -> &'static str {
    if flat { ", all steps at once" } else { "" }
}
