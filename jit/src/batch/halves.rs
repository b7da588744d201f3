//! The level schedule of `hylo ... by halves` over a computed sequence:
//! each row's list, of the length the sequence gives it, split into the
//! halving tree (`leaf` for one element, else `node` of the first
//! ⌊n/2⌋ elements and the rest), with the leaves' elements read from the
//! sequence's rows. Built from the lengths alone, so it serves the
//! sequences of the batch (an unfold's outputs) and of a level group (a
//! list inside a region) alike.

use super::{FoldData, GroupData};

/// One node of a halving tree before numbering.
struct Pending {
    height: usize,
    row: u32,
    /// The element (`step * rows + row` of the sequence) of a leaf.
    elem: Option<u32>,
    /// The left and right subtrees of a node (indices into the pending
    /// nodes).
    kids: [usize; 2],
}

/// Appends the halving tree of positions `lo..hi` of row `row`'s list
/// (`rows` rows in the sequence); its index.
fn split(nodes: &mut Vec<Pending>, row: usize, rows: usize, lo: usize, hi: usize) -> usize {
    if hi - lo == 1 {
        nodes.push(Pending {
            height: 0,
            row: row as u32,
            elem: Some((lo * rows + row) as u32),
            kids: [0; 2],
        });
    } else {
        let mid = lo + (hi - lo) / 2;
        let l = split(nodes, row, rows, lo, mid);
        let r = split(nodes, row, rows, mid, hi);
        nodes.push(Pending {
            height: 1 + nodes[l].height.max(nodes[r].height),
            row: row as u32,
            elem: None,
            kids: [l, r],
        });
    }
    nodes.len() - 1
}

/// The level schedule of the halving trees of lists of lengths `lens`
/// (one per row): level `h` is one group of the nodes of height `h`
/// (`leaf`, constructor 0, at height 0; `node`, constructor 1, above),
/// numbered level by level. An empty list cannot be split: the error is
/// its row.
pub(crate) fn halves_schedule<T>(lens: &[usize]) -> Result<FoldData<T>, usize> {
    let rows = lens.len();
    let mut nodes = Vec::new();
    let mut roots = Vec::with_capacity(rows);
    for (row, &n) in lens.iter().enumerate() {
        if n == 0 {
            return Err(row);
        }
        roots.push(split(&mut nodes, row, rows, 0, n));
    }
    let top = nodes.iter().map(|p| p.height).max().unwrap_or(0);
    // Numbers level by level, in the order the nodes were made.
    let mut order: Vec<usize> = (0..nodes.len()).collect();
    order.sort_by_key(|&i| nodes[i].height);
    let mut number = vec![0u32; nodes.len()];
    for (k, &i) in order.iter().enumerate() {
        number[i] = k as u32;
    }
    let mut levels = Vec::with_capacity(top + 1);
    let mut first = 0;
    for h in 0..=top {
        let members: Vec<usize> = order
            .iter()
            .copied()
            .filter(|&i| nodes[i].height == h)
            .collect();
        let leaf = h == 0;
        let children = match leaf {
            true => Vec::new(),
            false => members
                .iter()
                .flat_map(|&i| nodes[i].kids.map(|k| number[k]))
                .collect(),
        };
        let g = GroupData {
            ctor: usize::from(!leaf),
            first,
            len: members.len(),
            children,
            fields: Vec::new(),
            examples: members.iter().map(|&i| nodes[i].row).collect(),
            elems: members.iter().filter_map(|&i| nodes[i].elem).collect(),
            list_arity: 0,
            list_offsets: vec![0],
            list_children: Vec::new(),
            field_lists: Vec::new(),
            held: Vec::new(),
            nested_fields: Vec::new(),
        };
        first += members.len();
        levels.push(if g.len == 0 { Vec::new() } else { vec![g] });
    }
    Ok(FoldData {
        levels,
        roots: roots.iter().map(|&r| number[r]).collect(),
        num_nodes: nodes.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_of_five_splits_two_then_three() {
        // Row 0: [a b c d e] -> node(node(a, b), node(c, node(d, e))).
        // Row 1: [x] -> leaf(x).
        let fd: FoldData<f64> = halves_schedule(&[5, 1]).expect("non-empty lists");
        let leaves = &fd.levels[0][0];
        assert_eq!(leaves.len, 6);
        // Elements as `step * rows + row`, in the order the leaves were made.
        assert_eq!(leaves.elems, vec![0, 2, 4, 6, 8, 1]);
        assert_eq!(leaves.examples, vec![0, 0, 0, 0, 0, 1]);
        assert_eq!(fd.levels.len(), 4);
        assert_eq!(fd.num_nodes, 10);
        // Every node's children are numbered below it.
        for level in &fd.levels[1..] {
            for g in level {
                for (i, pair) in g.children.chunks(2).enumerate() {
                    assert!(pair.iter().all(|&c| (c as usize) < g.first + i));
                }
            }
        }
        // The one-element list's root is its leaf; the other's is the last node.
        assert_eq!(fd.roots, vec![9, 5]);
    }

    #[test]
    fn an_empty_list_is_refused_with_its_row() {
        let r: Result<FoldData<f32>, _> = halves_schedule(&[2, 0]);
        assert!(matches!(r, Err(1)));
    }
}
