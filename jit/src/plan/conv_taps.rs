//! A gathered equivariant map's taps as runs, when the gather is a
//! convolution: what lets the executor apply the map directly
//! (`cdlc_runtime::gemm::conv`) instead of materialising the gathered
//! copies.
//!
//! The gather of a map applied through its inner basis
//! (`compiler/src/instantiate/structured.rs`, the `Gather` form) writes
//! `z[q, e, i] = Σ_j B_e[i, j] x[q, j]` for every input channel `q`; its
//! basis table keeps one block per channel (`BasisTable`), whose entries
//! are `(e·M + i, j, B_e[i, j])`. When every `z[q, e, i]` reads at most
//! one input point (the inner elements are shifts or permutations, whole
//! or partial), the gather is `z[q, e, i] = v · x[q, σ_e(i)]`. Walking the
//! entries in index order, a run continues while the index and the input
//! point both advance by one with the value unchanged; a translation
//! gives long runs (a ring's shift two, a torus' two per image row), a
//! permutation without structure runs of one. Nothing here knows of a
//! group: the runs are read off the solver's basis.

use std::sync::Arc;

use cdlc_runtime::gemm::conv::{Run, Shape};

use super::BasisTable;

/// The fewest points a run must average for the direct convolution to be
/// used: below it the runs are too short for the kernel's windows to pay
/// for their setup, and the gather is kept.
const MIN_MEAN_RUN: usize = 4;

/// A gathered map's taps as runs, with the sizes of one example.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ConvTaps {
    /// The convolution's sizes; `out_channels` is the product's, set by
    /// `with_out_channels`.
    pub shape: Shape,
    /// The runs, in the gather table's index order.
    pub runs: Arc<Vec<Run>>,
}

impl ConvTaps {
    /// The runs of `table`, a gather of `blocks` input channels whose
    /// block is `taps × out_points` entries long, when every gathered
    /// entry reads one input point and the runs are long enough
    /// (`MIN_MEAN_RUN`); `None` otherwise.
    pub fn of(table: &BasisTable, taps: usize) -> Option<ConvTaps> {
        if taps == 0 || !table.block_size.is_multiple_of(taps) || table.index.is_empty() {
            return None;
        }
        let out_points = table.block_size / taps;
        let runs = runs(table, out_points)?;
        let covered: usize = runs.iter().map(|r| r.len as usize).sum();
        if covered < MIN_MEAN_RUN * runs.len() {
            return None;
        }
        Some(ConvTaps {
            shape: Shape {
                out_channels: 0,
                in_channels: table.blocks,
                taps,
                in_points: table.block_elements,
                out_points,
            },
            runs: Arc::new(runs),
        })
    }

    /// These taps with the product's output channel count.
    pub fn with_out_channels(mut self, d: usize) -> ConvTaps {
        self.shape.out_channels = d;
        self
    }
}

/// The runs of one block's entries (sorted by index), or `None` when an
/// index occurs twice (a gathered entry reading two input points).
fn runs(table: &BasisTable, out_points: usize) -> Option<Vec<Run>> {
    let value = |k: usize| table.value.as_ref().map_or(1.0, |v| v[k]);
    let mut runs: Vec<Run> = Vec::new();
    let mut last: Option<u32> = None;
    for (k, (&index, &src)) in table.index.iter().zip(&table.element).enumerate() {
        if last.is_some_and(|l| l >= index) {
            return None;
        }
        last = Some(index);
        let (tap, out) = (index as usize / out_points, index as usize % out_points);
        let v = value(k);
        if let Some(r) = runs.last_mut()
            && r.tap as usize == tap
            && (r.out + r.len) as usize == out
            && r.src + r.len == src
            && r.value == v
        {
            r.len += 1;
            continue;
        }
        runs.push(Run {
            tap: tap as u32,
            out: out as u32,
            src,
            len: 1,
            value: v,
        });
    }
    Some(runs)
}

#[cfg(test)]
pub(crate) mod tests;
