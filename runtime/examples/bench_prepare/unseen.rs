//! The workloads W6–W10 (`bench/README.md`): a GRU over lists of different
//! lengths, a binary Tree-LSTM, a convolution derived from `cyclic(n)`, a
//! p4 group convolution and a small GRU step over lists of 5 to 40.
//!
//! Every number comes from the same SplitMix64 streams as the peers in
//! `bench/peers/` draw them. The convolutions' filter banks are drawn in the
//! layout the peers use (`[out, in, taps]`, taps in offset order) and
//! rewritten here as the coefficients of the derived basis, in the order
//! `cdlc FILE --emit tying` prints its labels.

use cdlc_runtime::data::splitmix::{labels, raw, uniform, weight};

use super::{Param, Workload, line, param, vector, zeros};

/// W6: `gru[32, 128]` over lists of 16 to 64 vectors, batch 32, then
/// `dense[128, 10]`.
///
/// The input is `uniform(1, [32, 64, 32])` indexed `[example, step,
/// feature]`; example `i` has `16 + raw(3, i) mod 49` steps, the rest of its
/// row unused. A fold consumes its list from the end, so the steps are
/// written last first.
pub fn w6() -> Workload {
    gru([32, 64, 32, 128, 10], |i| {
        16 + (raw(3, i as u64) % 49) as usize
    })
}

/// W10: `gru[16, 32]` over lists of 5 to 40 vectors, batch 4, then
/// `dense[32, 10]`: W6's streams at a small step's sizes, example `i`
/// having `5 + raw(3, i) mod 36` steps.
pub fn w10() -> Workload {
    gru([4, 40, 16, 32, 10], |i| {
        5 + (raw(3, i as u64) % 36) as usize
    })
}

/// A GRU workload of `[batch, longest, features, hidden, classes]`, example
/// `i` of `length(i)` steps (as W6 describes).
fn gru([b, t_max, d, h, c]: [usize; 5], length: impl Fn(usize) -> usize) -> Workload {
    let x = uniform(1, &[b, t_max, d], 1.0);
    let y = labels(2, b, c);
    let lines = (0..b)
        .map(|i| {
            let len = length(i);
            let mut s = String::from("[");
            for (k, step) in (0..len).rev().enumerate() {
                if k > 0 {
                    s.push(',');
                }
                let at = (i * t_max + step) * d;
                vector(&mut s, &x[at..at + d]);
            }
            s.push(']');
            line(&s, y[i])
        })
        .collect();
    let mut params = Vec::new();
    let gates = [
        ("gru.Wz", "gru.Uz", "gru.bz"),
        ("gru.Wr", "gru.Ur", "gru.br"),
        ("gru.Wc", "gru.Uc", "gru.bc"),
    ];
    for (g, (w, u, bias)) in (0u64..).zip(gates) {
        params.push(param(w, &[h, h], weight(11 + g, h, h)));
        params.push(param(u, &[h, d], weight(14 + g, h, d)));
        params.push(zeros(bias, h));
    }
    params.push(zeros("gru.h0", h));
    params.push(param("dense.W", &[c, h], weight(17, c, h)));
    params.push(zeros("dense.b", c));
    Workload { lines, params }
}

/// W7: the binary Tree-LSTM of `bench/w7_treelstm.cdl` over W4's 16 trees
/// of 32 leaves (features `R[16]`, hidden 64), then `dense[64, 5]`.
///
/// Weight matrices are drawn from streams 11 (`Ei`) to 26 (`Ru`) in the
/// order the algebra declares them, the read-out from stream 27.
pub fn w7() -> Workload {
    let (k, h, c) = (16, 64, 5);
    let lines = super::w4_trees(k, c);
    const LEAF: [&str; 3] = ["treelstm.Ei", "treelstm.Eo", "treelstm.Eu"];
    const LEAF_BIAS: [&str; 3] = ["treelstm.ci", "treelstm.co", "treelstm.cu"];
    const NODE: [&str; 10] = [
        "treelstm.Li",
        "treelstm.Ri",
        "treelstm.Ll",
        "treelstm.Rl",
        "treelstm.Lr",
        "treelstm.Rr",
        "treelstm.Lo",
        "treelstm.Ro",
        "treelstm.Lu",
        "treelstm.Ru",
    ];
    const NODE_BIAS: [&str; 5] = [
        "treelstm.bi",
        "treelstm.bl",
        "treelstm.br",
        "treelstm.bo",
        "treelstm.bu",
    ];
    let mut params = Vec::new();
    for (s, name) in (11u64..).zip(LEAF) {
        params.push(param(name, &[h, k], weight(s, h, k)));
    }
    params.extend(LEAF_BIAS.into_iter().map(|name| zeros(name, h)));
    for (s, name) in (14u64..).zip(NODE) {
        params.push(param(name, &[h, h], weight(s, h, h)));
    }
    params.extend(NODE_BIAS.into_iter().map(|name| zeros(name, h)));
    params.push(param("dense.W", &[c, h], weight(27, c, h)));
    params.push(zeros("dense.b", c));
    Workload { lines, params }
}

/// W8: two convolutions derived from `cyclic(128)` with `local(2)`
/// (8 -> 32 -> 32 channels), a sum over the points and `dense[32, 10]`,
/// batch 64.
///
/// The input is `uniform(1, [64, 8, 128])`, channels first as `R[8] * Ring`
/// lays it out. Filter banks `[out, in, 5]` are `uniform(11 or 12, .,
/// 1/sqrt(in · 5))`, tap `j` reading the point at offset `j − 2`.
pub fn w8() -> Workload {
    let (b, n, d, k, c, r) = (64, 128, 8, 32, 10, 2);
    let x = uniform(1, &[b, d, n], 1.0);
    let y = labels(2, b, c);
    let per = d * n;
    let lines = (0..b)
        .map(|i| {
            let mut s = String::from("[");
            for ch in 0..d {
                if ch > 0 {
                    s.push(',');
                }
                let at = i * per + ch * n;
                vector(&mut s, &x[at..at + n]);
            }
            s.push(']');
            line(&s, y[i])
        })
        .collect();
    let taps = 2 * r + 1;
    let mut params = Vec::new();
    for (stream, (din, name, bias)) in
        (11u64..).zip([(d, "conv1.K", "conv1.b"), (k, "conv2.K", "conv2.b")])
    {
        let a = 1.0 / ((din * taps) as f64).sqrt();
        let bank = uniform(stream, &[k, din, taps], a);
        params.push(param(name, &[k * din * taps], ring_coefficients(&bank, r)));
        params.push(zeros(bias, k));
    }
    params.push(param("pool.dense.W", &[c, k], weight(13, c, k)));
    params.push(zeros("pool.dense.b", c));
    Workload { lines, params }
}

/// A ring filter bank `[pairs, 2r + 1]` (tap `j` at offset `j − r`) as the
/// coefficients of `cyclic(n)` with `local(r)`: per channel pair, offsets
/// `0, 1, …, r, −r, …, −1` (the first row's columns in order). Each basis
/// element has one entry per row, so its unit-row-norm scale is 1.
fn ring_coefficients(bank: &[f32], r: usize) -> Vec<f32> {
    let taps = 2 * r + 1;
    let mut out = Vec::with_capacity(bank.len());
    for pair in bank.chunks(taps) {
        out.extend((0..=r).map(|o| pair[r + o]));
        out.extend((0..r).map(|j| pair[j]));
    }
    out
}

/// W9: a p4 lifting convolution (1 -> 8 channels × 4 orientations) and a
/// group convolution (8 -> 8) on 16×16 images, both `local(1)`, a sum over
/// orientations and positions and `dense[8, 10]`, batch 32.
///
/// The input is `uniform(1, [32, 16, 16])`. The lifting bank `[8, 3, 3]` is
/// `uniform(11, ., 1/3)`; the group bank `[8, 8, 4, 3, 3]` (out, in, the
/// input's orientation relative to the output's, taps) is `uniform(12, .,
/// 1/sqrt(8 · 4 · 9))`; tap `[a, b]` reads the point at offset
/// `(a − 1, b − 1)`, for the output orientation 0.
pub fn w9() -> Workload {
    let (b, s, k, c) = (32, 16, 8, 10);
    let x = uniform(1, &[b, s, s], 1.0);
    let y = labels(2, b, c);
    let lines = (0..b)
        .map(|i| {
            let mut out = String::from("[");
            for row in 0..s {
                if row > 0 {
                    out.push(',');
                }
                let at = (i * s + row) * s;
                vector(&mut out, &x[at..at + s]);
            }
            out.push(']');
            line(&out, y[i])
        })
        .collect();
    let lift = uniform(11, &[k, 3, 3], 1.0 / 3.0);
    let group = uniform(12, &[k, k, 4, 3, 3], 1.0 / ((k * 4 * 9) as f64).sqrt());
    let params: Vec<Param> = vec![
        param("lifting.K", &[k * 9], grid_coefficients(&lift)),
        zeros("lifting.b", k),
        param("gconv.K", &[k * k * 4 * 9], grid_coefficients(&group)),
        zeros("gconv.b", k),
        param("pool.dense.W", &[c, k], weight(13, c, k)),
        zeros("pool.dense.b", c),
    ];
    Workload { lines, params }
}

/// 3×3 taps (row-major, tap `[a, b]` at offset `(a − 1, b − 1)`) as the
/// coefficients of p4 with `local(1)` for the output orientation 0 at
/// point (0, 0): offsets in the order the first row's columns meet them on
/// the torus, `(0, 0), (0, 1), (0, −1), (1, 0), (1, 1), (1, −1), (−1, 0),
/// (−1, 1), (−1, −1)`. The stabiliser of a row is trivial, so every basis
/// element has one entry per row and scale 1.
fn grid_coefficients(bank: &[f32]) -> Vec<f32> {
    const ORDER: [usize; 3] = [1, 2, 0];
    let mut out = Vec::with_capacity(bank.len());
    for taps in bank.chunks(9) {
        for a in ORDER {
            for b in ORDER {
                out.push(taps[a * 3 + b]);
            }
        }
    }
    out
}
