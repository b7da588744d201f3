//! Random group and monoid elements, and their action on tensors, for the
//! numerical equivariance check `cdlc check --numeric`.
//!
//! An [`Element`] is a word in the generators: discrete generators, and
//! exponentials `exp(Σ_i a_i ξ_i)` of Lie-algebra elements. It means the same
//! group element in every space, so `f(g·x) = g·f(x)` can be tested by
//! applying one element to the input and to the output of a model. Words use
//! generators only, never inverses, so monoid elements are sampled the same
//! way.
//!
//! On a space, `exp(M)·x` for `M = Σ_i a_i dρ(ξ_i)` is computed without
//! forming `exp(M)`: by scaling and squaring on the vector,
//! `exp(M)x = (exp(M / 2^s))^{2^s} x`, with `s` chosen so that
//! `‖M‖_∞ / 2^s ≤ 1/2`, and each factor a Taylor series
//! `Σ_t (M/2^s)^t x / t!` summed until its terms no longer change the result.

use crate::group::Group;
use crate::linmap::Sparse;
use crate::space::Space;

/// One step of a word.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// The discrete generator with this index.
    Generator(usize),
    /// `exp(Σ_i a_i ξ_i)` with one coefficient per Lie generator.
    Exp(Vec<f64>),
}

/// A group or monoid element as a word: `g = s_0 · s_1 · … · s_k`, which
/// acts on a vector by applying `s_k` first.
#[derive(Clone, Debug, PartialEq)]
pub struct Element {
    /// The steps, leftmost first.
    pub steps: Vec<Step>,
}

/// A small deterministic random source (SplitMix64), so that checks are
/// reproducible from a seed.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator with the given seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u = 1.0 - self.uniform();
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

impl Element {
    /// The identity.
    pub fn identity() -> Element {
        Element { steps: vec![] }
    }

    /// A random element: `len` steps, each a random discrete generator or,
    /// for a group with a Lie algebra, `exp` of a random combination with
    /// standard normal coefficients (half of the steps when both exist).
    pub fn random(group: &Group, rng: &mut Rng, len: usize) -> Element {
        let nd = group.num_discrete();
        let nl = group.num_lie();
        let mut steps = Vec::with_capacity(len);
        for _ in 0..len {
            let lie = nl > 0 && (nd == 0 || rng.uniform() < 0.5);
            if lie {
                steps.push(Step::Exp((0..nl).map(|_| rng.normal()).collect()));
            } else if nd > 0 {
                steps.push(Step::Generator(rng.below(nd)));
            }
        }
        Element { steps }
    }
}

impl Space {
    /// `g · x` for a flattened tensor `x` of this space.
    pub fn act(&self, g: &Element, x: &[f64]) -> Vec<f64> {
        assert_eq!(x.len(), self.dim(), "a tensor of this space");
        let mut y = x.to_vec();
        for step in g.steps.iter().rev() {
            y = match step {
                Step::Generator(k) => self.discrete[*k].apply(&y),
                Step::Exp(a) => {
                    let maps: Vec<Sparse<f64>> = self.lie.iter().map(|l| l.to_float()).collect();
                    exp_apply(&maps, a, &y)
                }
            };
        }
        y
    }

    /// `g · x` in `f32` (computed in `f64`).
    pub fn act_f32(&self, g: &Element, x: &[f32]) -> Vec<f32> {
        let x: Vec<f64> = x.iter().map(|&v| v as f64).collect();
        self.act(g, &x).into_iter().map(|v| v as f32).collect()
    }
}

/// `exp(Σ_i a_i M_i) x` by scaling and squaring on the vector.
fn exp_apply(maps: &[Sparse<f64>], a: &[f64], x: &[f64]) -> Vec<f64> {
    let n = x.len();
    // M as one sparse matrix: row i is Σ_k a_k M_k[i, :].
    let mut rows: Vec<Vec<(u32, f64)>> = vec![Vec::new(); n];
    for (m, &ak) in maps.iter().zip(a) {
        for (i, r) in m.rows.iter().enumerate() {
            rows[i].extend(r.iter().map(|&(c, v)| (c, ak * v)));
        }
    }
    let norm = rows
        .iter()
        .map(|r| r.iter().map(|e| e.1.abs()).sum::<f64>())
        .fold(0.0, f64::max);
    let mut s = 0u32;
    while norm / 2f64.powi(s as i32) > 0.5 {
        s += 1;
    }
    let scale = 2f64.powi(-(s as i32));
    let apply = |v: &[f64]| -> Vec<f64> {
        rows.iter()
            .map(|r| r.iter().map(|&(c, w)| w * scale * v[c as usize]).sum())
            .collect()
    };
    let mut y = x.to_vec();
    for _ in 0..(1u64 << s) {
        let mut term = y.clone();
        let mut sum = y.clone();
        for t in 1..40 {
            term = apply(&term).into_iter().map(|v| v / t as f64).collect();
            let mut changed = false;
            for (acc, v) in sum.iter_mut().zip(&term) {
                let next = *acc + v;
                changed |= next != *acc;
                *acc = next;
            }
            if !changed {
                break;
            }
        }
        y = sum;
    }
    y
}
