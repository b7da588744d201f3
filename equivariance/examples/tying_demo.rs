//! Prints the tying report for a few parameters of the spec's examples.
//! Run with `cargo run -p cdlc-equivariance --example tying_demo`.

use cdlc_equivariance::{Group, Space, action, equivariant, invariant};

fn main() {
    let s = Group::symmetric(10).unwrap();
    let pts = action(&s, "permute", &[10]).unwrap();
    let input = Space::bare(&[10]).tensor(&pts);
    let hidden = Space::bare(&[32]).tensor(&pts);
    print!(
        "{}",
        equivariant(&input, &hidden, None).unwrap().render("phi.W")
    );
    print!("{}", invariant(&hidden).unwrap().render("phi.b"));
    let sh = Group::shifts(12).unwrap();
    let seq = action(&sh, "shift_zero", &[12]).unwrap();
    print!(
        "{}",
        equivariant(&seq, &seq, Some(2))
            .unwrap()
            .render("causal_in.K")
    );
    let so3 = Group::so3();
    let v = action(&so3, "rotate", &[3]).unwrap();
    print!(
        "{}",
        equivariant(&v.tensor(&v), &v, None)
            .unwrap()
            .render("cross.W")
    );
}
