//! The trace of a direct convolution (`Instr::Conv`): one helper call
//! (`straight/conv.rs`) over the step's rows, with the operands the
//! executor's `exec/conv.rs` reads and the multiply-adds it counts.

use super::*;

impl<T: Elem> Tracer<'_, T> {
    /// A convolution over `rows` rows: the weights and the source (the
    /// input forward, the output's cotangent for the input gradient; both
    /// for the weight gradient), then the buffer written.
    pub(super) fn conv(&mut self, c: &ConvCode, rows: usize) -> Result<(), Stop> {
        let s = c.taps.shape;
        let (x_size, y_size) = (s.in_channels * s.in_points, s.out_channels * s.out_points);
        let taps: usize = c.taps.runs.iter().map(|r| r.len as usize).sum();
        self.out.multiply_adds += (rows * s.out_channels * s.in_channels * taps) as u64;
        if self.out.multiply_adds > self.limits.multiply_adds {
            return Err(Stop::TooLarge);
        }
        let (ins, written) = match c.kind {
            ConvKind::Forward => ([c.w.loc, c.x], rows * y_size),
            ConvKind::InputGrad => ([c.w.loc, c.y], rows * x_size),
            ConvKind::WeightGrad => ([c.x, c.y], s.weight_span(c.w.rs, c.w.cs)),
        };
        let mut ptrs: Vec<Addr> = ins.iter().map(|&l| self.loc(l)).collect();
        let d = self.buf(c.dst);
        self.reach(d, written);
        ptrs.push(d);
        self.push(Action::Shim {
            op: Arc::new(ShimOp::Conv(Box::new(c.clone()))),
            ptrs,
            rows,
        })
    }
}
