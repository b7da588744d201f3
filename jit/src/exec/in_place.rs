//! Fold regions reading and writing the carrier's rows in place.
//!
//! A fold region reads its children's carriers from buffers the executor
//! gathers them into, row by row, and leaves its result (forward) or the
//! children's cotangents (backward) in buffers the executor then copies
//! into the carrier's or the cotangents' rows. When a group's children
//! are consecutive nodes (a level of lists stepped together, the usual
//! case), those rows are one block of the carrier: the executor then
//! points the region's buffer at that block for the group (`State::alias`)
//! and the copy is not made. The region computes the same numbers in the
//! same order; only where they are stored changes.
//!
//! Which buffers may be placed so is decided from the region's code: a
//! buffer is only moved when every instruction of the region that writes
//! it does so through `Run::ptr` (elementwise kernels, products, fused
//! products), and a gathered argument only when nothing in the region
//! writes it. A region with an instruction this file does not look into
//! (a nested recursion op, a loss, a convolution), or with lists of
//! children, nested structures or mapped fields, keeps every copy.

use super::{Elem, Run};
use crate::batch::GroupData;
use crate::plan::*;

/// The buffers of one case's region that may be placed in a carrier's or
/// cotangent's rows.
pub(super) struct InPlace {
    /// Per result component (one in a forward region, one per child then
    /// the contributions in a backward one), per flattened part: whether
    /// the part's buffer may be written in place.
    results: Vec<Vec<bool>>,
    /// Per child, per flattened carrier component: whether the gathered
    /// argument's buffer may be read in place.
    args: Vec<Vec<bool>>,
}

impl InPlace {
    /// What may be placed in `case`'s region; nothing when it has other
    /// inputs than its children and fields, or an instruction whose
    /// writes are not known here.
    pub(super) fn of(case: &CaseCode) -> InPlace {
        let writes: Option<Vec<(usize, bool)>> = if case.rec_lists.is_empty()
            && case.field_lists.is_empty()
            && case.nested.is_empty()
            && case.mapped.is_empty()
        {
            case.code
                .iter()
                .map(writes)
                .try_fold(Vec::new(), |mut all, w| {
                    all.extend(w?);
                    Some(all)
                })
        } else {
            None
        };
        let captured = |b: usize| case.captures.iter().any(|&(_, _, l)| l == b);
        let arg = |b: usize| case.rec_args.iter().flatten().any(|&a| a == b) || captured(b);
        let results = case
            .result
            .iter()
            .map(|parts| {
                parts
                    .iter()
                    .map(|p| match (p.kind, p.loc, &writes) {
                        (PartKind::Batched, Loc::Buf(b), Some(w)) => {
                            let by_ptr = w.iter().filter(|x| x.0 == b);
                            !arg(b) && by_ptr.clone().count() > 0 && by_ptr.into_iter().all(|x| x.1)
                        }
                        _ => false,
                    })
                    .collect()
            })
            .collect();
        let args = case
            .rec_args
            .iter()
            .map(|bufs| {
                bufs.iter()
                    .map(|&b| {
                        let once = case.rec_args.iter().flatten().filter(|&&a| a == b).count() == 1;
                        once && !captured(b)
                            && writes.as_ref().is_some_and(|w| w.iter().all(|x| x.0 != b))
                    })
                    .collect()
            })
            .collect();
        InPlace { results, args }
    }

    /// Whether part `c` of result component `r` may be written in place.
    pub(super) fn result(&self, r: usize, c: usize) -> bool {
        self.results
            .get(r)
            .and_then(|p| p.get(c))
            .copied()
            .unwrap_or(false)
    }

    /// Whether component `c` of child `r`'s gathered carrier may be read in
    /// place.
    pub(super) fn arg(&self, r: usize, c: usize) -> bool {
        self.args
            .get(r)
            .and_then(|p| p.get(c))
            .copied()
            .unwrap_or(false)
    }
}

/// The buffers an instruction writes, each with whether it writes it
/// through `Run::ptr`; `None` for an instruction not looked into.
fn writes(ins: &Instr) -> Option<Vec<(usize, bool)>> {
    Some(match ins {
        Instr::Elementwise { locs, n_out, .. } => locs[locs.len() - n_out..]
            .iter()
            .filter_map(|l| match *l {
                Loc::Buf(b) => Some((b, true)),
                _ => None,
            })
            .collect(),
        Instr::Gemm { c, c_buf, .. } => vec![(*c_buf, c.loc == Loc::Buf(*c_buf))],
        Instr::Fused(f) => {
            let mut w = writes(&f.gemm)?;
            w.extend(writes(&f.ew)?);
            if let Some(b) = &f.broadcast {
                w.extend(writes(&b.expand)?);
            }
            w
        }
        Instr::Row { dst, .. } | Instr::SumRows { dst, .. } | Instr::SumCombine { dst, .. } => {
            vec![(*dst, false)]
        }
        _ => return None,
    })
}

/// The first of child `r`'s nodes in group `g` when they are consecutive
/// (node `i`'s child is the first plus `i`), with `arity` children per
/// node.
pub(super) fn consecutive<T>(g: &GroupData<T>, arity: usize, r: usize) -> Option<usize> {
    let first = *g.children.get(r)? as usize;
    (0..g.len)
        .all(|i| g.children[i * arity + r] as usize == first + i)
        .then_some(first)
}

impl<T: Elem> Run<'_, T> {
    /// Points buffer `buf` at `ptr` until `clear_aliases`, unless it is
    /// placed elsewhere already; whether it is now at `ptr`.
    pub(super) fn alias(&mut self, buf: usize, ptr: *mut T) -> bool {
        let at = &mut self.st.alias[buf];
        if at.is_null() {
            *at = ptr;
            self.st.aliased.push(buf);
            self.st.placed += 1;
        }
        *at == ptr
    }

    /// Returns every placed buffer to its own storage.
    pub(super) fn clear_aliases(&mut self) {
        while let Some(b) = self.st.aliased.pop() {
            self.st.alias[b] = std::ptr::null_mut();
        }
    }
}
