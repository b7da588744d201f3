//! Copies, sums and zero fills of the looped step: rows of a constant
//! length written out as 128-bit vector loads and stores (a loop past
//! `UNROLL` vectors), runs of a run-time length through helpers.

use super::*;

/// Vectors handled one by one before a loop is used.
const UNROLL: usize = 32;

/// The factor of a sum.
#[derive(Clone, Copy)]
pub(super) enum Scale {
    /// A constant.
    Const(f64),
    /// A constant times a run-time row count, formed in the element type
    /// as the executor forms it for a uniform part.
    Rows(f64, ir::Value),
}

/// Sets `bytes` bytes to zero.
unsafe extern "C" fn straight_zero(dst: *mut u8, bytes: usize) {
    // SAFETY: the step addresses rows the buffer holds.
    unsafe { std::ptr::write_bytes(dst, 0, bytes) }
}

impl<T: Elem> Lx<'_, '_, T> {
    fn lanes() -> usize {
        16 / Self::elt()
    }

    fn ty(vector: bool) -> ir::Type {
        match (T::F64, vector) {
            (true, true) => types::F64X2,
            (true, false) => types::F64,
            (false, true) => types::F32X4,
            (false, false) => types::F32,
        }
    }

    fn float(&mut self, x: f64) -> ir::Value {
        match T::F64 {
            true => self.b.ins().f64const(x),
            false => self.b.ins().f32const(x as f32),
        }
    }

    /// The pieces of a row of `n` elements past `from` vectors: (byte
    /// offset, whether a vector).
    fn pieces(from: usize, n: usize) -> Vec<(i32, bool)> {
        let (lanes, e) = (Self::lanes(), Self::elt());
        let nv = n / lanes;
        let vectors = (from..nv).map(|v| ((v * 16) as i32, true));
        vectors
            .chain((nv * lanes..n).map(|i| ((i * e) as i32, false)))
            .collect()
    }

    /// `dst[0..n] = src[0..n]`; rows that overlap are copied as
    /// `ptr::copy` would (every load before any store, or a helper).
    pub(super) fn copy(&mut self, src: ir::Value, dst: ir::Value, n: usize) {
        if n / Self::lanes() > UNROLL {
            let bytes = self.int(n * Self::elt());
            return self.copy_bytes(src, dst, bytes);
        }
        let loaded: Vec<(i32, ir::Value)> = Self::pieces(0, n)
            .into_iter()
            .map(|(off, v)| (off, self.b.ins().load(Self::ty(v), data_flags(), src, off)))
            .collect();
        for (off, v) in loaded {
            self.b.ins().store(data_flags(), v, dst, off);
        }
    }

    /// Copies `rows` rows of `size` elements (overlapping as
    /// `ptr::copy`).
    pub(super) fn copy_rows(
        &mut self,
        src: ir::Value,
        dst: ir::Value,
        rows: ir::Value,
        size: usize,
    ) {
        let bytes = self.b.ins().imul_imm_s(rows, (size * Self::elt()) as i64);
        self.copy_bytes(src, dst, bytes);
    }

    fn copy_bytes(&mut self, src: ir::Value, dst: ir::Value, bytes: ir::Value) {
        let i = types::I64;
        let f = straight_memmove as *const () as usize;
        self.call(f, &[i, i, i], &[dst, src, bytes]);
    }

    /// Zeros `rows` rows of `size` elements.
    pub(super) fn zero_rows(&mut self, dst: ir::Value, rows: ir::Value, size: usize) {
        let bytes = self.b.ins().imul_imm_s(rows, (size * Self::elt()) as i64);
        let f = straight_zero as *const () as usize;
        self.call(f, &[types::I64, types::I64], &[dst, bytes]);
    }

    /// `dst[0..n] = 0`.
    pub(super) fn zero(&mut self, dst: ir::Value, n: usize) {
        self.each(dst, None, n, None);
    }

    /// `dst[0..n] += scale · src[0..n]` (`None`: plain sums).
    pub(super) fn add(&mut self, src: ir::Value, dst: ir::Value, n: usize, scale: Option<Scale>) {
        let k = scale.map(|s| match s {
            Scale::Const(x) => self.float(x),
            Scale::Rows(x, rows) => {
                let k = self.float(x);
                let r = self.b.ins().fcvt_from_uint(Self::ty(false), rows);
                self.b.ins().fmul(k, r)
            }
        });
        self.each(dst, Some(src), n, Some(k));
    }

    /// A zero fill (`add: None`) or a sum over `n` elements, in a loop of
    /// vectors past `UNROLL` of them.
    fn each(
        &mut self,
        d: ir::Value,
        s: Option<ir::Value>,
        n: usize,
        add: Option<Option<ir::Value>>,
    ) {
        let nv = n / Self::lanes();
        let from = if nv > UNROLL {
            let end = self.int(nv);
            self.for_range(end, |lx, v| {
                let off = lx.b.ins().imul_imm_s(v, 16);
                let dd = lx.b.ins().iadd(d, off);
                let ss = s.map(|s| lx.b.ins().iadd(s, off));
                lx.element(dd, ss, 0, true, add);
            });
            nv
        } else {
            0
        };
        for (off, v) in Self::pieces(from, n) {
            self.element(d, s, off, v, add);
        }
    }

    /// One vector (or number) of `each` at byte offset `off`.
    fn element(
        &mut self,
        d: ir::Value,
        s: Option<ir::Value>,
        off: i32,
        vector: bool,
        add: Option<Option<ir::Value>>,
    ) {
        let ty = Self::ty(vector);
        let v = match (add, s) {
            (Some(k), Some(s)) => {
                let x = self.b.ins().load(ty, data_flags(), s, off);
                let acc = self.b.ins().load(ty, data_flags(), d, off);
                let x = match k {
                    Some(k) => {
                        let k = if vector { self.b.ins().splat(ty, k) } else { k };
                        self.b.ins().fmul(k, x)
                    }
                    None => x,
                };
                self.b.ins().fadd(acc, x)
            }
            _ => {
                let z = self.float(0.0);
                if vector { self.b.ins().splat(ty, z) } else { z }
            }
        };
        self.b.ins().store(data_flags(), v, d, off);
    }
}
