//! A basis' nonzero entries as the executor walks them, kept once per
//! block when the basis repeats one pattern along its leading axes.
//!
//! A gather that applies an equivariant map through its inner basis holds
//! the same inner elements for every input channel, offset by the channel
//! (`compiler/src/instantiate/structured.rs`, the `Gather` form): its
//! element `(q, j)` is element `(0, j)` moved by `q` blocks of the gathered
//! shape. Any basis whose shape and coefficient shape share leading axes
//! may be such a block diagonal; when it is, one block's table serves
//! every block, with the block's offsets added, so the table streamed for
//! every example is the channel count times smaller.

use cdlc_ir::Basis;

/// A basis' nonzero entries, sorted by flat index within one block so that
/// expanding and projecting walk the dense map in order (the coefficients,
/// far fewer, stay in cache). Block `r` holds the entries of block 0 with
/// `r · block_size` added to their indices and `r · block_elements` to
/// their elements.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct BasisTable {
    /// The flat indices of block 0's nonzero entries, ascending.
    pub index: Vec<u32>,
    /// The element each entry of block 0 belongs to.
    pub element: Vec<u32>,
    /// The entries' values, or `None` when all are 1.
    pub value: Option<Vec<f64>>,
    /// Whether every index of a block occurs exactly once (the elements
    /// are indicators of disjoint orbits covering the block, as for
    /// permutation actions): then `index` is `0..block_size` and expanding
    /// is `W[i] = c[element[i]]`.
    pub dense: bool,
    /// How many blocks the dense map is cut into (1 when it has no
    /// repeated pattern).
    pub blocks: usize,
    /// The dense map's entries per block.
    pub block_size: usize,
    /// The coefficients per block.
    pub block_elements: usize,
}

impl BasisTable {
    /// The table of `basis`, one block's entries when the basis repeats a
    /// pattern along leading axes that its shape and its coefficients'
    /// shape share (the longest such prefix that repeats is used).
    pub fn of(basis: &Basis) -> BasisTable {
        let size: usize = basis.shape.iter().product();
        let shared = basis
            .shape
            .iter()
            .zip(&basis.coeff_shape)
            .take_while(|(a, b)| a == b)
            .count();
        (1..=shared)
            .rev()
            .map(|axes| basis.shape[..axes].iter().product::<usize>())
            .filter(|&blocks| blocks > 1)
            .find(|&blocks| repeats(size, &basis.elements, blocks))
            .map_or_else(
                || BasisTable::new(size, &basis.elements),
                |blocks| BasisTable::blocked(size, &basis.elements, blocks),
            )
    }

    /// The table of a basis of `elements` over a dense map of `size`
    /// entries, as one block.
    pub fn new(size: usize, elements: &[Vec<(u32, f64)>]) -> BasisTable {
        BasisTable::blocked(size, elements, 1)
    }

    /// The table of block 0 of `elements` cut into `blocks` blocks, which
    /// the caller has checked repeat (`repeats`).
    fn blocked(size: usize, elements: &[Vec<(u32, f64)>], blocks: usize) -> BasisTable {
        let block_size = size / blocks;
        let block_elements = elements.len() / blocks;
        let mut entries: Vec<(u32, u32, f64)> = elements[..block_elements]
            .iter()
            .enumerate()
            .flat_map(|(e, es)| es.iter().map(move |&(i, v)| (i, e as u32, v)))
            .collect();
        entries.sort_by_key(|&(i, e, _)| (i, e));
        let unit = entries.iter().all(|&(_, _, v)| v == 1.0);
        let dense = entries.len() == block_size
            && entries
                .iter()
                .enumerate()
                .all(|(k, &(i, _, _))| i as usize == k);
        BasisTable {
            index: entries.iter().map(|e| e.0).collect(),
            element: entries.iter().map(|e| e.1).collect(),
            value: (!unit).then(|| entries.iter().map(|e| e.2).collect()),
            dense,
            blocks,
            block_size,
            block_elements,
        }
    }

    /// One past the largest dense index any block writes or reads.
    pub fn index_span(&self) -> usize {
        self.span(&self.index, self.block_size)
    }

    /// One past the largest coefficient any block reads or writes.
    pub fn element_span(&self) -> usize {
        self.span(&self.element, self.block_elements)
    }

    fn span(&self, of_block: &[u32], stride: usize) -> usize {
        match of_block.iter().max() {
            Some(&top) => (self.blocks - 1) * stride + top as usize + 1,
            None => 0,
        }
    }
}

/// Whether `elements`, cut into `blocks` equal runs, are block 0's run with
/// every entry's index moved by a whole block per run, and every entry of
/// block 0 inside it.
fn repeats(size: usize, elements: &[Vec<(u32, f64)>], blocks: usize) -> bool {
    if elements.is_empty() || !size.is_multiple_of(blocks) || !elements.len().is_multiple_of(blocks)
    {
        return false;
    }
    let (block_size, block_elements) = (size / blocks, elements.len() / blocks);
    let base = &elements[..block_elements];
    let inside = base
        .iter()
        .flatten()
        .all(|&(i, _)| (i as usize) < block_size);
    inside
        && elements
            .chunks_exact(block_elements)
            .enumerate()
            .skip(1)
            .all(|(r, run)| {
                let shift = r * block_size;
                run.iter().zip(base).all(|(moved, first)| {
                    moved.len() == first.len()
                        && moved.iter().zip(first).all(|(&(i, v), &(i0, v0))| {
                            i as usize == i0 as usize + shift && v == v0
                        })
                })
            })
}
