//! Mutations: byte edits for any input, token edits and deep nesting for
//! program text, and splices of two inputs.

/// A small deterministic generator (SplitMix64).
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn bits(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.bits() % n.max(1) as u64) as usize
    }
}

/// Pieces of the language and of the data formats that mutations insert.
const TOKENS: &[&str] = &[
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    ",",
    ";",
    ":",
    "->",
    "=",
    "+",
    "-",
    "*",
    "/",
    "@",
    ">>",
    "^",
    "let ",
    " in ",
    "fold ",
    "unfold ",
    "hylo ",
    " by halves",
    " take ",
    "param ",
    "layer ",
    "model ",
    "data ",
    "space ",
    "group ",
    "train ",
    "import std.layers\n",
    "R[",
    "List(",
    "tanh(",
    "relu(",
    "dense[",
    "equivariant ",
    "invariant ",
    "under ",
    "symmetric(",
    "cyclic(",
    " = glorot",
    "0",
    "1",
    "2",
    "65536",
    "4294967296",
    "18446744073709551615",
    "1e308",
    "-1",
    "NaN",
    "\"",
    "\u{feff}",
    "\r",
    "\n",
    "\r\n",
    "é",
    "{\"x\": ",
    "\"y\": ",
    "[[",
    "]]",
    "null",
    "\"cons\": [",
    "\"nil\": []",
    "\"node\": [",
    "\"leaf\": [",
];

/// A mutant of an input drawn from `pool`; nesting mutations go at most
/// `max_depth` levels deep.
pub fn mutate(pool: &[Vec<u8>], text: bool, max_depth: usize, rng: &mut Rng) -> Vec<u8> {
    let mut v = pool[rng.below(pool.len())].clone();
    let edits = 1 + rng.below(4);
    for _ in 0..edits {
        match rng.below(if text { 9 } else { 6 }) {
            0 => flip(&mut v, rng),
            1 => delete(&mut v, rng),
            2 => duplicate(&mut v, rng),
            3 => splice(&mut v, &pool[rng.below(pool.len())], rng),
            4 => set_byte(&mut v, rng),
            5 => truncate(&mut v, rng),
            6 | 7 => insert(&mut v, TOKENS[rng.below(TOKENS.len())].as_bytes(), rng),
            _ => nest(&mut v, max_depth, rng),
        }
    }
    v.truncate(crate::MAX_INPUT);
    v
}

fn flip(v: &mut [u8], rng: &mut Rng) {
    if !v.is_empty() {
        let i = rng.below(v.len());
        v[i] ^= 1 << rng.below(8);
    }
}

fn set_byte(v: &mut [u8], rng: &mut Rng) {
    const SPECIAL: [u8; 8] = [0, 0xff, 0x7f, 0x80, b'9', b'0', b'\n', b'"'];
    if !v.is_empty() {
        let i = rng.below(v.len());
        v[i] = SPECIAL[rng.below(SPECIAL.len())];
    }
}

fn delete(v: &mut Vec<u8>, rng: &mut Rng) {
    if !v.is_empty() {
        let a = rng.below(v.len());
        let b = (a + 1 + rng.below(16)).min(v.len());
        v.drain(a..b);
    }
}

fn truncate(v: &mut Vec<u8>, rng: &mut Rng) {
    let n = rng.below(v.len() + 1);
    v.truncate(n);
}

fn duplicate(v: &mut Vec<u8>, rng: &mut Rng) {
    if !v.is_empty() {
        let a = rng.below(v.len());
        let b = (a + 1 + rng.below(64)).min(v.len());
        let chunk = v[a..b].to_vec();
        let at = rng.below(v.len() + 1);
        v.splice(at..at, chunk);
    }
}

fn splice(v: &mut Vec<u8>, other: &[u8], rng: &mut Rng) {
    if !other.is_empty() {
        let a = rng.below(other.len());
        let b = (a + 1 + rng.below(128)).min(other.len());
        let at = rng.below(v.len() + 1);
        v.splice(at..at, other[a..b].iter().copied());
    }
}

fn insert(v: &mut Vec<u8>, piece: &[u8], rng: &mut Rng) {
    let at = rng.below(v.len() + 1);
    v.splice(at..at, piece.iter().copied());
}

/// Wraps a piece of the input in many levels of one opener and its closer
/// (`tanh(` … `)`, `{` … `}`, `[` … `]`, `-`), up to `max_depth` deep.
fn nest(v: &mut Vec<u8>, max_depth: usize, rng: &mut Rng) {
    const PAIRS: [(&str, &str); 6] = [
        ("tanh(", ")"),
        ("(", ")"),
        ("[", "]"),
        ("{", "}"),
        ("-", ""),
        ("{\"node\": [", "]}"),
    ];
    let (open, close) = PAIRS[rng.below(PAIRS.len())];
    let deep = rng.below(4) == 0;
    let depth = 1 + rng.below(if deep { max_depth } else { max_depth.min(50) });
    let at = rng.below(v.len() + 1);
    let end = (at + rng.below(32)).min(v.len());
    let mut out = Vec::with_capacity(v.len() + depth * (open.len() + close.len()));
    out.extend_from_slice(&v[..at]);
    (0..depth).for_each(|_| out.extend_from_slice(open.as_bytes()));
    out.extend_from_slice(&v[at..end]);
    (0..depth).for_each(|_| out.extend_from_slice(close.as_bytes()));
    out.extend_from_slice(&v[end..]);
    *v = out;
}
