//! Wide products: the products of one instruction list that read the same
//! left operand (a gated cell's gates, `h Wz`, `h Wr`, `h Wc`, or the
//! weight gradients `gᵀ h_l`, `gᵀ h_r`) become one product against their
//! right operands laid side by side, `A [B1 | B2 | …]`, whose output is
//! split into the original outputs.
//!
//! The pass runs on the finished plan, in every region, before the fused
//! epilogues. A group is formed in one list only, so products inside a
//! region never join products outside it. A product joins the first one of
//! its group when the instructions between them are simple (no region)
//! and write neither the shared operand, nor its right operand, nor its
//! output; the wide product then runs where the first one ran.
//!
//! Right operands that do not change during a call (parameters, and the
//! row-major copies of transposed parameters the prologue makes) are laid
//! side by side once per call, right after the prologue: concatenated,
//! then their rows interleaved. Others (a backward region's per-row
//! states) must be row-major; they are concatenated where the wide product
//! runs, or reused from an earlier group of the same list when nothing in
//! the list writes them.
//! Every output element is the same sum over the same `k` terms as before;
//! only the product's shape changes.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::epilogue::touches;
use crate::plan::*;

/// Whether products sharing their left operand are widened: only when the
/// environment variable `CDLC_WIDE` is set. Wide steps give the same
/// numbers to rounding but measured slower than plain ones on W2–W7: the
/// product kernel is no faster per multiply-add on the wide product, and
/// the splits and concatenations are extra passes over memory
/// (`docs/performance.md`), so the pass is opt-in.
pub(crate) fn wide_enabled() -> bool {
    std::env::var_os("CDLC_WIDE").is_some()
}

/// One product the pass can widen: `C [m, n] = A [m, k] B [k, n]` over
/// the rows (no per-row products), C row-major in its own buffer.
#[derive(Clone, Copy, Debug)]
struct Product {
    m: Dim,
    k: Dim,
    n: usize,
    a: Mat,
    b: Mat,
    c_buf: usize,
}

impl Product {
    /// The product `ins` is, if it has the form the pass widens.
    fn of(ins: &Instr) -> Option<Product> {
        let Instr::Gemm {
            m,
            k,
            n,
            a,
            b,
            c,
            c_buf,
            c_len,
            per_row: None,
        } = ins
        else {
            return None;
        };
        let dense = c.loc == Loc::Buf(*c_buf) && c.rs == n.fixed && c.cs == 1;
        let len = c_len.fixed == m.fixed * n.fixed && c_len.rows == m.rows;
        (dense && len && !n.rows && n.fixed > 0 && m.fixed > 0).then_some(Product {
            m: *m,
            k: *k,
            n: n.fixed,
            a: *a,
            b: *b,
            c_buf: *c_buf,
        })
    }

    /// Whether `other` reads the same left operand the same way.
    fn shares_left(&self, other: &Product) -> bool {
        let dim = |x: Dim, y: Dim| x.fixed == y.fixed && x.rows == y.rows;
        dim(self.m, other.m)
            && dim(self.k, other.k)
            && (self.a.loc, self.a.rs, self.a.cs) == (other.a.loc, other.a.rs, other.a.cs)
    }
}

/// Right operands laid side by side: each one's location, strides and
/// width, and their number of rows.
type Layout = (Vec<(Loc, usize, usize, usize)>, usize);

/// What the pass knows about the whole plan while it walks the lists.
struct Cx {
    /// The buffers the prologue fills once per call (row-major copies of
    /// parameters).
    constants: HashSet<usize>,
    num_bufs: usize,
    /// The once-per-call concatenations of right operands, by their
    /// sources and rows.
    gathers: HashMap<Layout, usize>,
    /// Those concatenations, in the order made.
    gather_code: Vec<Instr>,
}

impl Cx {
    fn buf(&mut self) -> usize {
        self.num_bufs += 1;
        self.num_bufs - 1
    }

    /// Whether `B` does not change during a call: a parameter, or a
    /// buffer the prologue fills.
    fn constant(&self, p: &Product) -> bool {
        !p.k.rows
            && match p.b.loc {
                Loc::Param(_) => true,
                Loc::Buf(x) => self.constants.contains(&x),
                _ => false,
            }
    }
}

/// Whether `B [k, n]` of `p` is row-major or column-major, so that it
/// occupies exactly `k n` numbers (per row of the context when `k` counts
/// rows, which it must then be row-major over).
fn dense_right(p: &Product) -> bool {
    let row_major = p.b.rs == p.n && p.b.cs == 1;
    row_major || (!p.k.rows && p.b.rs == 1 && p.b.cs == p.k.fixed)
}

/// Widens the products of `code` (a whole plan: the first `prologue`
/// instructions are its prologue) and of its regions; returns the new
/// number of buffers.
pub(crate) fn widen(code: &mut Vec<Instr>, prologue: usize, num_bufs: usize) -> usize {
    let mut cx = Cx {
        constants: constants(&code[..prologue]),
        num_bufs,
        gathers: HashMap::new(),
        gather_code: Vec::new(),
    };
    list(code, &mut cx);
    let gathers = std::mem::take(&mut cx.gather_code);
    code.splice(prologue..prologue, gathers);
    cx.num_bufs
}

/// The buffers the prologue fills from the parameters alone.
fn constants(prologue: &[Instr]) -> HashSet<usize> {
    prologue
        .iter()
        .filter_map(|ins| match ins {
            Instr::Row {
                ins,
                dst,
                batched: false,
                ..
            } if ins.iter().all(|i| matches!(i, (Loc::Param(_), false, _))) => Some(*dst),
            _ => None,
        })
        .collect()
}

/// Widens the products of one list, after those of its regions.
fn list(code: &mut Vec<Instr>, cx: &mut Cx) {
    for ins in code.iter_mut() {
        regions(ins, cx);
    }
    let mut local = Local::of(code);
    let mut i = 0;
    while i < code.len() {
        let Some(first) = Product::of(&code[i]) else {
            i += 1;
            continue;
        };
        let members = group(code, i, &first, cx);
        if members.len() < 2 {
            i += 1;
            continue;
        }
        let products: Vec<Product> = members
            .iter()
            .filter_map(|&j| Product::of(&code[j]))
            .collect();
        let wide = widened(&products, cx, &mut local);
        for &j in members.iter().skip(1).rev() {
            code.remove(j);
        }
        let len = wide.len();
        code.splice(i..=i, wide);
        i += len;
    }
}

/// The concatenations of right operands made in one list, reused by later
/// groups when no instruction of the list writes their sources (a
/// region's arguments).
struct Local {
    /// Whether the list has only simple instructions, whose writes are
    /// `written`.
    known: bool,
    written: HashSet<Loc>,
    made: HashMap<Layout, usize>,
}

impl Local {
    fn of(code: &[Instr]) -> Local {
        let mut written = HashSet::new();
        let mut known = true;
        for ins in code {
            match touches(ins) {
                Some((_, w)) => written.extend(w),
                None => known = false,
            }
        }
        Local {
            known,
            written,
            made: HashMap::new(),
        }
    }

    /// Whether a concatenation of `sources` made earlier in the list still
    /// holds them.
    fn reusable(&self, sources: &[(Loc, usize, usize, usize)]) -> bool {
        self.known && sources.iter().all(|s| !self.written.contains(&s.0))
    }
}

/// Widens inside the regions of a recursion op.
fn regions(ins: &mut Instr, cx: &mut Cx) {
    match ins {
        Instr::Fold(f) => f.cases.iter_mut().for_each(|c| list(&mut c.code, cx)),
        Instr::FoldBackward(f) => f.cases.iter_mut().for_each(|c| list(&mut c.code, cx)),
        Instr::Unfold(u) => list(&mut u.body, cx),
        Instr::UnfoldBackward(u) => list(&mut u.body, cx),
        Instr::Map(m) => m.cases.iter_mut().for_each(|c| list(&mut c.code, cx)),
        Instr::MapBackward(m) => m.cases.iter_mut().for_each(|c| list(&mut c.code, cx)),
        _ => {}
    }
}

/// The positions of the products that join the product at `i`: itself,
/// then every later product sharing its left operand, with a right
/// operand of the same kind (fixed for the call, or row-major), over
/// simple instructions that write neither the left operand nor its right
/// operand nor its output, and read not its output.
fn group(code: &[Instr], i: usize, first: &Product, cx: &Cx) -> Vec<usize> {
    let constant = cx.constant(first);
    let joins = |p: &Product| dense_right(p) && cx.constant(p) == constant;
    let mut members = vec![i];
    if !joins(first) {
        return members;
    }
    let (mut reads, mut writes) = (Vec::new(), vec![Loc::Buf(first.c_buf)]);
    for (j, ins) in code.iter().enumerate().skip(i + 1) {
        if let Some(p) = Product::of(ins)
            && first.shares_left(&p)
            && joins(&p)
            && !writes.contains(&p.b.loc)
            && !writes.contains(&Loc::Buf(p.c_buf))
            && !reads.contains(&Loc::Buf(p.c_buf))
        {
            members.push(j);
            writes.push(Loc::Buf(p.c_buf));
            continue;
        }
        let Some((r, w)) = touches(ins) else { break };
        if w.contains(&first.a.loc) {
            break;
        }
        reads.extend(r);
        writes.extend(w);
    }
    members
}

/// The instructions that replace a group: the right operands side by side
/// (unless laid out already, once per call or earlier in the list), the
/// wide product, and one split per original output.
fn widened(products: &[Product], cx: &mut Cx, local: &mut Local) -> Vec<Instr> {
    let first = products[0];
    let width: usize = products.iter().map(|p| p.n).sum();
    let mut code = Vec::new();
    let b = right_operands(products, width, cx, local, &mut code);
    let c = cx.buf();
    code.push(Instr::Gemm {
        m: first.m,
        k: first.k,
        n: Dim {
            fixed: width,
            rows: false,
        },
        a: first.a,
        b: Mat {
            loc: Loc::Buf(b),
            rs: width,
            cs: 1,
        },
        c: Mat {
            loc: Loc::Buf(c),
            rs: width,
            cs: 1,
        },
        c_buf: c,
        c_len: Dim {
            fixed: first.m.fixed * width,
            rows: first.m.rows,
        },
        per_row: None,
    });
    let mut at = 0;
    for p in products {
        code.push(Instr::Row {
            op: split(first.m.fixed, width, at, p.n),
            ins: vec![(Loc::Buf(c), first.m.rows, first.m.fixed * width)],
            dst: p.c_buf,
            out_size: first.m.fixed * p.n,
            batched: first.m.rows,
        });
        at += p.n;
    }
    code
}

/// The row op that takes columns `at .. at + n` of a row-major
/// `[m, width]` output: a slice when it has one row, else an index map.
fn split(m: usize, width: usize, at: usize, n: usize) -> RowOp {
    if m == 1 {
        return RowOp::Slice { start: at, len: n };
    }
    let map: Vec<u32> = (0..m)
        .flat_map(|r| (0..n).map(move |j| (r * width + at + j) as u32))
        .collect();
    RowOp::Permute { map: Arc::new(map) }
}

/// The buffer holding the right operands side by side, `[k, width]`
/// row-major (per row of the context when `k` counts rows): made once per
/// call after the prologue when none of them changes during a call, else
/// in `code` where the wide product runs (or reused from earlier in the
/// list).
fn right_operands(
    products: &[Product],
    width: usize,
    cx: &mut Cx,
    local: &mut Local,
    code: &mut Vec<Instr>,
) -> usize {
    let kf = products[0].k.fixed;
    let sources: Vec<_> = products
        .iter()
        .map(|p| (p.b.loc, p.b.rs, p.b.cs, p.n))
        .collect();
    let key = (sources, kf);
    if cx.constant(&products[0]) {
        if let Some(&b) = cx.gathers.get(&key) {
            return b;
        }
        let mut made = Vec::new();
        let b = side_by_side(products, width, cx, &mut made);
        cx.gather_code.extend(made);
        cx.gathers.insert(key, b);
        return b;
    }
    if local.reusable(&key.0)
        && let Some(&b) = local.made.get(&key)
    {
        return b;
    }
    let b = side_by_side(products, width, cx, code);
    local.made.insert(key, b);
    b
}

/// Concatenates the right operands (`k n` numbers each, per row of the
/// context when `k` counts rows, else once) and interleaves their rows
/// into `[k, width]` row-major, unless the concatenation already is.
fn side_by_side(products: &[Product], width: usize, cx: &mut Cx, code: &mut Vec<Instr>) -> usize {
    let (kf, batched) = (products[0].k.fixed, products[0].k.rows);
    let (mut concat, mut len) = (0, 0);
    for (i, p) in products.iter().enumerate().skip(1) {
        let prev = if i == 1 {
            (products[0].b.loc, kf * products[0].n)
        } else {
            (Loc::Buf(concat), len)
        };
        concat = cx.buf();
        len = prev.1 + kf * p.n;
        code.push(Instr::Row {
            op: RowOp::Concat,
            ins: vec![(prev.0, batched, prev.1), (p.b.loc, batched, kf * p.n)],
            dst: concat,
            out_size: len,
            batched,
        });
    }
    let mut map = vec![0u32; kf * width];
    let (mut base, mut at) = (0, 0);
    for p in products {
        for r in 0..kf {
            for j in 0..p.n {
                map[r * width + at + j] = (base + r * p.b.rs + j * p.b.cs) as u32;
            }
        }
        base += kf * p.n;
        at += p.n;
    }
    if map.iter().enumerate().all(|(i, &x)| x as usize == i) {
        return concat;
    }
    let dst = cx.buf();
    code.push(Instr::Row {
        op: RowOp::Permute { map: Arc::new(map) },
        ins: vec![(Loc::Buf(concat), batched, kf * width)],
        dst,
        out_size: kf * width,
        batched,
    });
    dst
}
