//! The largest problems the crate accepts, checked at its entry points
//! before anything is allocated.
//!
//! Groups, actions and the solver build objects whose size is a group's
//! size parameter, a space's number of points, or (for the solver) the
//! number of pairs of input and output points of the inner problem left
//! after channels are factored out (or, under `local(r)` and a monomial
//! action, the pairs the radius keeps). Each is checked against a limit here
//! first, with overflow-checked arithmetic, and refused with an error that
//! names the size; a refused problem allocates nothing.

/// The most points a group may act on, or a space may have: 2^24.
pub const MAX_POINTS: usize = 1 << 24;

/// The most (output point, input point) pairs the solver's inner problem
/// may have: 2^28, about 1 GiB of orbit labels.
pub const MAX_PAIRS: u128 = 1 << 28;

/// The most pairs of points `local(r)` may keep of an inner problem that
/// is solved on the kept pairs alone (monomial actions, `solve/support.rs`):
/// 2^24, about 350 MiB for the pairs, their union-find and their labels
/// (a 5-tap kernel on 3 million points, or a 3×3 p4 group convolution on
/// 256×256 images).
pub const MAX_KEPT: u128 = 1 << 24;

/// The number of points of a tensor of `shape`, or `None` when the product
/// overflows.
pub fn points(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d))
}

/// Whether a space of `shape` is within `MAX_POINTS`.
pub fn fits(shape: &[usize]) -> bool {
    points(shape).is_some_and(|n| n <= MAX_POINTS)
}

#[cfg(test)]
mod tests {
    use crate::{
        ActionError, Group, GroupError, MAX_POINTS, SolveError, Space, SpaceError, action,
        equivariant,
    };

    #[test]
    fn each_entry_point_refuses_sizes_beyond_its_limit_without_allocating() {
        assert!(matches!(
            Group::symmetric(MAX_POINTS + 1),
            Err(GroupError::TooLarge { .. })
        ));
        assert!(matches!(
            Group::cyclic(usize::MAX),
            Err(GroupError::TooLarge { .. })
        ));
        let c = Group::cyclic(4).unwrap();
        assert!(matches!(
            action(&c, "permute", &[usize::MAX, 3]),
            Err(ActionError::TooLarge { .. })
        ));
        assert!(matches!(
            action(&c, "trivial", &[1 << 13, 1 << 12]),
            Err(ActionError::TooLarge { .. })
        ));
        let s = Group::symmetric(200).unwrap();
        let node = action(&s, "permute", &[200]).unwrap();
        let edge = node.tensor(&node);
        assert!(matches!(
            equivariant(&edge, &edge, None),
            Err(SolveError::TooLarge { .. })
        ));
        assert!(matches!(node.power(5), Err(SpaceError::TooLarge { .. })));
        assert!(matches!(
            action(&Group::trivial(), "trivial", &[1])
                .unwrap()
                .power(1000),
            Err(SpaceError::TooLarge { .. })
        ));
        // Within the limits nothing changes.
        assert_eq!(equivariant(&node, &node, None).unwrap().free(), 2);
        assert!(Space::scalar(None).power(3).is_ok());
    }
}
