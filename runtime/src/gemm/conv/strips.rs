//! A convolution's runs cut into strips of `LANES` output points: what
//! the blocked kernels (`conv::blocked`) read to accumulate every tap of a
//! block of output points in registers.
//!
//! For each strip and each tap, the strip's lanes that the tap reaches are
//! covered by a few *pieces*: lanes `mask` read `value · x[start + lane +
//! delta]`, one contiguous window of the input per piece (a run crossing
//! the strip gives one piece, a strip crossing a run's end two). A tap's
//! vector over a strip is then one masked load per piece, whatever the
//! group the runs came from. The strips are built once per step from the
//! runs, not per example.

use super::{Run, Shape};
use crate::float::Float;

/// Output points per strip: one 16-lane f32 register.
pub const LANES: usize = 16;

/// Lanes `mask` of a strip read `value · x[start + lane + delta]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Piece<T> {
    /// The lanes the piece covers, bit `l` for lane `l`.
    pub mask: u16,
    /// The input point minus the output point over the piece.
    pub delta: i32,
    /// The tap's value over the piece.
    pub value: T,
}

/// The runs of a convolution as strips of `LANES` output points, each
/// with its pieces per tap.
#[derive(Clone, Debug)]
pub struct Strips<T> {
    /// The convolution's sizes.
    pub shape: Shape,
    /// Every piece, strip by strip and, within a strip, tap by tap.
    pieces: Vec<Piece<T>>,
    /// `[first, end)` of strip `j`'s tap `e` pieces at `spans[j·K + e]`.
    spans: Vec<[u32; 2]>,
    /// Whether every piece's value is one (no scaling needed).
    pub unit: bool,
}

impl<T: Float> Strips<T> {
    /// The strips of `runs` for a convolution of shape `s`, or `None` when
    /// a run reaches past the shape or two runs of one tap write one
    /// output point (the blocked kernels load each lane once per tap).
    pub fn new(s: &Shape, runs: &[Run]) -> Option<Strips<T>> {
        let count = s.out_points.div_ceil(LANES);
        let taps = s.taps;
        let mut lists: Vec<Vec<Piece<T>>> = vec![Vec::new(); count * taps];
        for r in runs {
            let (out, len, src) = (r.out as usize, r.len as usize, r.src as usize);
            if r.tap as usize >= taps || out + len > s.out_points || src + len > s.in_points {
                return None;
            }
            let delta = i32::try_from(src as i64 - out as i64).ok()?;
            let mut i = out;
            while i < out + len {
                let j = i / LANES;
                let end = (out + len).min((j + 1) * LANES);
                let mask = lane_mask(i - j * LANES, end - j * LANES);
                let list = &mut lists[j * taps + r.tap as usize];
                if list.iter().any(|p| p.mask & mask != 0) {
                    return None;
                }
                list.push(Piece {
                    mask,
                    delta,
                    value: T::from_f64(r.value),
                });
                i = end;
            }
        }
        let mut pieces = Vec::new();
        let mut spans = Vec::with_capacity(lists.len());
        for list in lists {
            let first = pieces.len() as u32;
            pieces.extend(list);
            spans.push([first, pieces.len() as u32]);
        }
        let unit = pieces.iter().all(|p| p.value == T::ONE);
        Some(Strips {
            shape: *s,
            pieces,
            spans,
            unit,
        })
    }

    /// The strips of the transposed convolution (`dx = Wᵀ ⋆ dy`) as a
    /// forward one: every run read backwards (`dy`'s points as the input,
    /// `x`'s as the output), the channels swapped. `None` when a tap reads
    /// one input point from two output points (the transposed runs would
    /// write one point twice).
    pub fn transposed(s: &Shape, runs: &[Run]) -> Option<Strips<T>> {
        let t = Shape {
            out_channels: s.in_channels,
            in_channels: s.out_channels,
            taps: s.taps,
            in_points: s.out_points,
            out_points: s.in_points,
        };
        let back: Vec<Run> = runs
            .iter()
            .map(|r| Run {
                out: r.src,
                src: r.out,
                ..*r
            })
            .collect();
        Strips::new(&t, &back)
    }

    /// The number of strips.
    pub fn count(&self) -> usize {
        self.shape.out_points.div_ceil(LANES)
    }

    /// Strip `j`'s pieces of tap `e`.
    pub fn pieces(&self, j: usize, e: usize) -> &[Piece<T>] {
        let [first, end] = self.spans[j * self.shape.taps + e];
        &self.pieces[first as usize..end as usize]
    }

    /// The lanes of strip `j` that hold output points.
    pub fn lanes(&self, j: usize) -> u16 {
        let width = (self.shape.out_points - j * LANES).min(LANES);
        lane_mask(0, width)
    }
}

/// The mask of lanes `from..to` of a strip.
fn lane_mask(from: usize, to: usize) -> u16 {
    let upto = |n: usize| if n >= 16 { u16::MAX } else { (1u16 << n) - 1 };
    upto(to) & !upto(from)
}
