//! Products with an epilogue: elementwise work on a product's output (a
//! bias, an activation, a recurrent cell's `tanh(x U + h W + b)`) done
//! while the output is still in registers or in cache, instead of in a
//! second pass over memory.
//!
//! The product's rows are grouped into *units* (one example's rows, or one
//! product of a batch of per-example products). Two ways of applying the
//! epilogue, chosen by the kernel the whole product takes:
//!
//! - in the direct or the blocked AVX-512 kernel (`direct`, `blocked`,
//!   f32), when the epilogue is a `Program` of the ops it knows, each
//!   `8 × 32` tile of C runs the program while it is in registers, right
//!   after its last multiply-add (in `blocked`, after the last block of
//!   the depth);
//! - otherwise (tiny products, matrixmultiply's, f64, or ops without a
//!   vector form here) the product runs over panels of units whose A and C
//!   rows fit in half of the L2 cache, and the caller's `panel` callback
//!   (the JIT's compiled kernel) runs over each panel's units right after
//!   it, while those rows are still cached.
//!
//! Either way every element of C is summed exactly as the plain product
//! sums it (the whole product's kernel is kept for every panel), and the
//! program computes the same ops in the same order as the compiled kernel,
//! so the results equal the unfused step's.

use super::{GemmScalar, Kernel, Product, SPLIT, blocked, direct, dots};
use crate::threads;
pub use native::{Act, Native, Src, Terms};
use tile::Slot;
pub(super) use tile::{TILE_ROWS, Tile};

mod native;
mod tile;

/// One op of an epilogue program; operands name earlier ops by position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EpOp {
    /// The product's element.
    C,
    /// The element of operand `i` at the same place.
    Input(usize),
    /// `a + b`.
    Add(usize, usize),
    /// `a - b`.
    Sub(usize, usize),
    /// `a * b`.
    Mul(usize, usize),
    /// `a / b`.
    Div(usize, usize),
    /// `-a`.
    Neg(usize),
    /// `max(a, 0)`, as `0 < a ? a : 0`.
    Relu(usize),
    /// `0 < a ? 1 : 0`.
    Step(usize),
    /// `tanh a` by the compiled kernels' rational approximation.
    Tanh(usize),
    /// `½ + ½ tanh(a/2)`.
    Sigmoid(usize),
}

/// An epilogue: ops in order (each reads only earlier ones) and the ops
/// whose values are stored, in the order of the outputs; with its native
/// form (`native`), recognised when it is made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    /// The ops.
    pub ops: Vec<EpOp>,
    /// The stored ops, one per output.
    pub outputs: Vec<usize>,
    native: Option<Native>,
}

/// The most ops, operands and outputs a program run in registers may have.
const MAX_OPS: usize = 32;
const MAX_INPUTS: usize = 8;
const MAX_OUTPUTS: usize = 4;

impl Program {
    /// The program of `ops` storing `outputs`, with its native form when
    /// it has one (`native.rs`).
    pub fn new(ops: Vec<EpOp>, outputs: Vec<usize>) -> Program {
        let ordered = reads_earlier(&ops) && outputs.iter().all(|&o| o < ops.len());
        let native = ordered.then(|| native::recognise(&ops, &outputs)).flatten();
        Program {
            ops,
            outputs,
            native,
        }
    }

    /// The same program run op by op, without its native form (to compare
    /// the two).
    pub fn general(self) -> Program {
        Program {
            native: None,
            ..self
        }
    }

    /// The native form the direct and the blocked kernels run instead of
    /// the ops, if the program has one.
    pub fn native(&self) -> Option<&Native> {
        self.native.as_ref()
    }

    /// Whether the direct kernel can run this program in registers.
    pub fn fits(&self, inputs: usize) -> bool {
        let reads_ok = reads_earlier(&self.ops)
            && self.ops.iter().all(|op| match *op {
                EpOp::Input(x) => x < inputs,
                _ => true,
            });
        reads_ok
            && self.ops.len() <= MAX_OPS
            && inputs <= MAX_INPUTS
            && self.outputs.len() <= MAX_OUTPUTS
            && self.outputs.iter().all(|&o| o < self.ops.len())
    }
}

/// Whether every op reads only earlier ops.
fn reads_earlier(ops: &[EpOp]) -> bool {
    ops.iter().enumerate().all(|(i, op)| match *op {
        EpOp::C | EpOp::Input(_) => true,
        EpOp::Add(a, b) | EpOp::Sub(a, b) | EpOp::Mul(a, b) | EpOp::Div(a, b) => a < i && b < i,
        EpOp::Neg(a) | EpOp::Relu(a) | EpOp::Step(a) | EpOp::Tanh(a) | EpOp::Sigmoid(a) => a < i,
    })
}

/// Where an operand's element of product `r`, row `i`, column `j` is:
/// `ptr + r * step + i * rs + j * cs` (`cs` is 0 for a number repeated
/// along the row, `rs` 0 for a row shared by all rows).
#[derive(Clone, Copy, Debug)]
pub struct Operand<T> {
    /// The element of product 0, row 0, column 0.
    pub ptr: *const T,
    /// Elements between products (a batch of per-example products).
    pub step: isize,
    /// Elements between rows.
    pub rs: isize,
    /// Elements between columns: 1 or 0.
    pub cs: isize,
}

/// Where an output's element of product `r`, row `i`, column `j` is:
/// `ptr + r * step + i * rs + j`.
#[derive(Clone, Copy, Debug)]
pub struct Output<T> {
    /// The element of product 0, row 0, column 0.
    pub ptr: *mut T,
    /// Elements between products.
    pub step: isize,
    /// Elements between rows.
    pub rs: isize,
}

/// A program with its operands and outputs, for the direct kernel.
pub type InRegisters<'a, T> = (&'a Program, &'a [Operand<T>], &'a [Output<T>]);

/// A product (or a batch of `count` per-example products, see
/// `cdl_sgemm_batch`; never summed) and the epilogue to apply to it.
pub struct Fused<'a, T> {
    /// The number of products.
    pub count: usize,
    /// The steps of A, B and C between products.
    pub steps: [isize; 3],
    /// Rows of C per unit when `count == 1` (every unit's rows are
    /// consecutive); a product is a unit when `count > 1`.
    pub unit_rows: usize,
    /// `m, k, n`.
    pub dims: [usize; 3],
    /// A, its row and column strides.
    pub a: (*const T, isize, isize),
    /// B, its row and column strides.
    pub b: (*const T, isize, isize),
    /// C (contiguous rows) and its row stride.
    pub c: (*mut T, isize),
    /// The program to run in registers when the direct kernel takes the
    /// product (`Program::fits`), with its operands and outputs.
    pub program: Option<InRegisters<'a, T>>,
    /// Whether C must be written when the program runs in registers
    /// (false when only the program reads it; C is always written when
    /// the epilogue runs per panel).
    pub store_c: bool,
    /// Applies the epilogue to units `from..to` once their rows of C are
    /// written; used whenever the program does not run in registers.
    pub panel: &'a dyn Fn(usize, usize),
}

/// Bytes of A's and C's rows one panel may hold: half of the 2 MiB L2
/// cache of this machine's cores, so that B's packed blocks and the
/// epilogue's operands keep the other half.
const PANEL_BYTES: usize = 1 << 20;

impl<T: GemmScalar> Fused<'_, T> {
    /// The number of units.
    fn units(&self) -> usize {
        if self.count == 1 {
            self.dims[0] / self.unit_rows.max(1)
        } else {
            self.count
        }
    }

    /// The product of units `from..to` (one product's rows when
    /// `count == 1`, product `from` otherwise).
    fn product(&self, from: usize, to: usize) -> Product<T> {
        let [m, k, n] = self.dims;
        let [sa, sb, sc] = self.steps;
        let (a, rsa, csa) = self.a;
        let (b, rsb, csb) = self.b;
        let (c, rsc) = self.c;
        let p = Product {
            m,
            k,
            n,
            alpha: T::ONE,
            a,
            rsa,
            csa,
            b,
            rsb,
            csb,
            beta: T::ZERO,
            c,
            rsc,
            csc: 1,
        };
        if self.count == 1 {
            let first = (from * self.unit_rows) as isize;
            Product {
                m: (to - from) * self.unit_rows,
                a: a.wrapping_offset(first * rsa),
                c: c.wrapping_offset(first * rsc),
                ..p
            }
        } else {
            let r = from as isize;
            Product {
                a: a.wrapping_offset(r * sa),
                b: b.wrapping_offset(r * sb),
                c: c.wrapping_offset(r * sc),
                ..p
            }
        }
    }

    /// Units per panel: as many as fit `PANEL_BYTES` with their rows of A
    /// and C, at least one.
    fn panel_units(&self) -> usize {
        let [m, k, n] = self.dims;
        let rows = if self.count == 1 { self.unit_rows } else { m };
        let bytes = rows * (k + n) * std::mem::size_of::<T>();
        (PANEL_BYTES / bytes.max(1)).max(1)
    }

    /// Units `from..to` on this thread: in registers (`tiles`), or panel
    /// by panel, each followed by the epilogue.
    ///
    /// # Safety
    ///
    /// As for `run`.
    unsafe fn serial(&self, from: usize, to: usize, kernel: Kernel, tiles: Option<&Tiles>) {
        if let Some(t) = tiles {
            // One slot per op, for every tile of every piece on this thread
            // (none for a native form, which keeps its values in registers).
            let ops = if t.program.native.is_some() {
                0
            } else {
                t.program.ops.len()
            };
            let mut slots = vec![Slot::ZERO; ops];
            for (lo, hi) in self.in_register_pieces(from, to) {
                let p = self.product(lo, hi);
                let mut tile = t.at(self, lo, &mut slots);
                // SAFETY: the caller vouched for the product and the
                // program's operands and outputs; `tiles` is only made for
                // f32 products the direct or the blocked kernel takes.
                unsafe {
                    match kernel {
                        Kernel::Blocked => blocked::run_fused(cast(p), &mut tile),
                        _ => direct::run_fused(cast(p), &mut tile),
                    }
                }
            }
            return;
        }
        let step = self.panel_units();
        let mut u = from;
        while u < to {
            let end = (u + step).min(to);
            if self.count == 1 {
                // SAFETY: forwarded from the caller.
                unsafe { self.product(u, end).with(kernel) };
            } else {
                for r in u..end {
                    // SAFETY: forwarded from the caller.
                    unsafe { self.product(r, r + 1).with(kernel) };
                }
            }
            (self.panel)(u, end);
            u = end;
        }
    }

    /// The pieces the direct kernel runs with the program: all units at
    /// once for one product (the kernel walks it in tiles), else one
    /// product at a time.
    fn in_register_pieces(&self, from: usize, to: usize) -> Vec<(usize, usize)> {
        if self.count == 1 {
            vec![(from, to)]
        } else {
            (from..to).map(|r| (r, r + 1)).collect()
        }
    }
}

/// Runs the product and its epilogue: in halves of the units on two
/// threads when the product is large enough and `threads::decide` splits
/// products now, else on this thread.
///
/// # Safety
///
/// As for `cdl_sgemm_batch` (with C's rows contiguous and, with several
/// products, apart from each other); every operand and output of the
/// program holds the elements its strides reach for every unit; the
/// outputs overlap neither each other, A, B, C nor an operand; `panel` may
/// be called for any range of units whose rows of C are written.
pub unsafe fn run<T: GemmScalar>(f: &Fused<'_, T>) {
    let units = f.units();
    if units == 0 {
        return;
    }
    let [m, k, n] = f.dims;
    let whole = Product {
        m,
        ..f.product(0, if f.count == 1 { units } else { 1 })
    };
    let kernel = whole.kernel();
    let tiles = match &f.program {
        Some((p, ins, outs)) if in_registers::<T>([m, k, n], whole.csb, p, ins.len()) => {
            Some(Tiles::new(p, ins, outs))
        }
        _ => None,
    };
    let work = f
        .count
        .saturating_mul(m)
        .saturating_mul(k)
        .saturating_mul(n);
    let decision = (work >= SPLIT && units >= 2).then(|| threads::decide(threads::Kind::Products));
    let h = match &decision {
        Some(d) if d.split() => units / 2,
        _ => units,
    };
    // SAFETY: forwarded from the caller; the halves write disjoint units of
    // C and of the outputs, and only read A, B and the operands.
    unsafe {
        if h < units {
            threads::join(
                || f.serial(0, h, kernel, tiles.as_ref()),
                || f.serial(h, units, kernel, tiles.as_ref()),
            );
        } else {
            f.serial(0, units, kernel, tiles.as_ref());
        }
    }
    if let Some(d) = decision {
        d.done(work);
    }
}

/// Whether `run` applies `program` (reading `inputs` operands) in
/// registers for a product of sizes `[m, k, n]` (all the products' rows
/// when there is one product) whose B has column stride `csb`, in `T`: in
/// f32 when the direct or the blocked kernel takes the product and the
/// program fits.
pub fn in_registers<T: GemmScalar>(
    [m, k, n]: [usize; 3],
    csb: isize,
    program: &Program,
    inputs: usize,
) -> bool {
    let p = Product::<f32> {
        m,
        k,
        n,
        alpha: 1.0,
        a: std::ptr::null(),
        rsa: 0,
        csa: 0,
        b: std::ptr::null(),
        rsb: 0,
        csb,
        beta: 0.0,
        c: std::ptr::null_mut(),
        rsc: 0,
        csc: 1,
    };
    // `dots`, which runs no program, needs A's and B's strides, unknown
    // here: a product it might take is not run in registers by `blocked`
    // (`direct` takes before `dots`).
    let tiled = match p.kernel() {
        Kernel::Direct => true,
        Kernel::Blocked => !dots::may_take(m),
        _ => false,
    };
    is_f32::<T>() && program.fits(inputs) && tiled
}

fn is_f32<T: 'static>() -> bool {
    std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>()
}

/// `p` as the f32 product it is (`is_f32` was checked).
fn cast<T: GemmScalar>(p: Product<T>) -> Product<f32> {
    let any: &dyn std::any::Any = &p;
    *any.downcast_ref::<Product<f32>>()
        .expect("only f32 products run in registers")
}

/// A program with its operands and outputs, in f32.
struct Tiles<'a> {
    program: &'a Program,
    ins: Vec<Operand<f32>>,
    outs: Vec<Output<f32>>,
}

impl<'a> Tiles<'a> {
    fn new<T: 'static>(program: &'a Program, ins: &[Operand<T>], outs: &[Output<T>]) -> Tiles<'a> {
        Tiles {
            program,
            ins: ins
                .iter()
                .map(|o| Operand {
                    ptr: o.ptr as *const f32,
                    step: o.step,
                    rs: o.rs,
                    cs: o.cs,
                })
                .collect(),
            outs: outs
                .iter()
                .map(|o| Output {
                    ptr: o.ptr as *mut f32,
                    step: o.step,
                    rs: o.rs,
                })
                .collect(),
        }
    }

    /// The tile program for the piece starting at unit `first`: every
    /// pointer moved to that unit's first row (or product).
    fn at<'s, T: GemmScalar>(
        &'s self,
        f: &Fused<'_, T>,
        first: usize,
        slots: &'s mut [Slot],
    ) -> Tile<'s> {
        let (rows, prods) = if f.count == 1 {
            ((first * f.unit_rows) as isize, 0)
        } else {
            (0, first as isize)
        };
        let mut t = Tile {
            ops: &self.program.ops,
            outputs: &self.program.outputs,
            ins: [(std::ptr::null(), 0, 0); MAX_INPUTS],
            outs: [(std::ptr::null_mut(), 0); MAX_OUTPUTS],
            slots,
            native: self.program.native,
            store_c: f.store_c,
        };
        for (slot, o) in t.ins.iter_mut().zip(&self.ins) {
            let at = prods * o.step + rows * o.rs;
            *slot = (o.ptr.wrapping_offset(at), o.rs, o.cs);
        }
        for (slot, o) in t.outs.iter_mut().zip(&self.outs) {
            let at = prods * o.step + rows * o.rs;
            *slot = (o.ptr.wrapping_offset(at), o.rs);
        }
        t
    }
}

#[cfg(test)]
mod tests;
