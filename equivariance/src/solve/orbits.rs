//! Orbits of index pairs: a union-find with signs and zeros.
//!
//! An unknown `W[u]` is tied to its representative `W[root]` by a sign,
//! `W[u] = sign(u) · W[root]`. A union records an equation `W[u] = s · W[v]`
//! with `s = ±1`; a union that closes a cycle with the wrong sign forces the
//! whole component to zero (`W = −W`), and so does an equation `W[u] = 0`.
//!
//! This solves exactly every constraint system whose equations have at most
//! two terms with coefficients `±1`: permutation actions (the orbits of
//! index pairs), signed permutations, and partial permutations such as the
//! truncating shift.

/// A union-find over unknowns with a sign on every edge and a zero flag on
/// every root.
pub(crate) struct Dsu {
    parent: Vec<u32>,
    sign: Vec<i8>,
    size: Vec<u32>,
    zero: Vec<bool>,
}

impl Dsu {
    /// `n` unknowns, each alone.
    pub(crate) fn new(n: usize) -> Dsu {
        Dsu {
            parent: (0..n as u32).collect(),
            sign: vec![1; n],
            size: vec![1; n],
            zero: vec![false; n],
        }
    }

    /// The root of `u` and the sign with `W[u] = sign · W[root]`
    /// (path halving keeps that invariant on every node it moves).
    pub(crate) fn find(&mut self, u: u32) -> (u32, i8) {
        let mut x = u;
        let mut s = 1i8;
        loop {
            let p = self.parent[x as usize];
            if p == x {
                return (x, s);
            }
            let gp = self.parent[p as usize];
            // W[x] = sign[x]·W[p] = sign[x]·sign[p]·W[gp].
            self.sign[x as usize] *= self.sign[p as usize];
            self.parent[x as usize] = gp;
            s *= self.sign[x as usize];
            x = gp;
        }
    }

    /// Records `W[u] = s · W[v]`.
    pub(crate) fn union(&mut self, u: u32, v: u32, s: i8) {
        let (ru, su) = self.find(u);
        let (rv, sv) = self.find(v);
        // W[ru] = su·W[u] = su·s·W[v] = su·s·sv·W[rv].
        let rel = su * s * sv;
        if ru == rv {
            if rel != 1 {
                self.zero[ru as usize] = true;
            }
            return;
        }
        let (child, root) = if self.size[ru as usize] < self.size[rv as usize] {
            (ru, rv)
        } else {
            (rv, ru)
        };
        self.parent[child as usize] = root;
        self.sign[child as usize] = rel;
        self.size[root as usize] += self.size[child as usize];
        self.zero[root as usize] |= self.zero[child as usize];
    }

    /// Records `W[u] = 0`.
    pub(crate) fn set_zero(&mut self, u: u32) {
        let (r, _) = self.find(u);
        self.zero[r as usize] = true;
    }

    /// Labels every unknown: `0` when it is forced to zero, else `±(k+1)`
    /// where `k` numbers the components in order of their first unknown,
    /// and the first unknown of each component has sign `+`.
    pub(crate) fn labels(&mut self) -> (Vec<i32>, usize) {
        let n = self.parent.len();
        let mut label_of_root = vec![0i32; n];
        let mut first_sign = vec![1i8; n];
        let mut labels = vec![0i32; n];
        let mut count = 0usize;
        for u in 0..n as u32 {
            let (r, s) = self.find(u);
            if self.zero[r as usize] {
                continue;
            }
            if label_of_root[r as usize] == 0 {
                count += 1;
                label_of_root[r as usize] = count as i32;
                first_sign[r as usize] = s;
            }
            labels[u as usize] = label_of_root[r as usize] * (s * first_sign[r as usize]) as i32;
        }
        (labels, count)
    }
}
