//! A property test of `cdlc fmt` over generated programs: random items and
//! expressions, written with random spacing, line breaks and comments
//! between their tokens. Whatever the input, the output parses to the same
//! tree, keeps every comment, and formatting it again changes nothing.

use crate::format::check_format;
use proptest::prelude::*;

/// What may stand between two tokens: nothing (where that is safe), spaces,
/// line breaks, blank lines, or a comment.
fn gap() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        " ",
        " ",
        " ",
        "  ",
        "\n",
        "\n  ",
        "\n\n",
        "   // note\n",
        "\t",
    ])
}

/// Tokens joined by generated gaps. Each token is one word or symbol.
fn spaced(tokens: Vec<String>) -> impl Strategy<Value = String> {
    let n = tokens.len();
    prop::collection::vec(gap(), n).prop_map(move |gaps| {
        let mut out = String::new();
        for (t, g) in tokens.iter().zip(gaps) {
            out.push_str(t);
            out.push_str(g);
        }
        out
    })
}

fn toks(s: &str) -> Vec<String> {
    s.split(' ')
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

fn name() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["x", "y", "h", "W", "acc", "z2"]).prop_map(str::to_string)
}

/// An expression as tokens.
fn expr() -> impl Strategy<Value = Vec<String>> {
    let leaf = prop_oneof![
        name().prop_map(|n| vec![n]),
        (0u32..100).prop_map(|k| vec![k.to_string()]),
        Just(toks("1.5")),
        Just(toks("dense [ 2 , n ]")),
        Just(toks("id")),
        Just(toks("fold elman [ 2 , 3 ] ( xs )")),
        Just(toks("hylo treenn [ 2 , 3 ] by halves ( xs )")),
        Just(toks("W ^ T")),
    ];
    leaf.prop_recursive(4, 24, 3, |inner| {
        let bin = prop::sample::select(vec!["+", "-", "*", "/", "@", ">>"]);
        prop_oneof![
            (inner.clone(), bin, inner.clone())
                .prop_map(|(a, op, b)| { [a, vec![op.to_string()], b].concat() }),
            inner
                .clone()
                .prop_map(|a| [toks("- ("), a, toks(")")].concat()),
            (name(), prop::collection::vec(inner.clone(), 1..3)).prop_map(|(f, args)| {
                let mut t = vec![f, "(".to_string()];
                for (i, a) in args.into_iter().enumerate() {
                    if i > 0 {
                        t.push(",".to_string());
                    }
                    t.extend(a);
                }
                t.push(")".to_string());
                t
            }),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| [
                toks("("),
                a,
                toks(","),
                b,
                toks(")")
            ]
            .concat()),
            (name(), inner.clone(), inner.clone()).prop_map(|(n, v, b)| [
                toks("( let"),
                vec![n],
                toks("="),
                v,
                toks("in"),
                b,
                toks(")")
            ]
            .concat()),
            (name(), inner.clone(), inner).prop_map(|(n, v, b)| [
                toks("{ let"),
                vec![n],
                toks("="),
                v,
                toks(";"),
                b,
                toks("}")
            ]
            .concat()),
        ]
    })
}

/// A top-level item as tokens.
fn item() -> impl Strategy<Value = Vec<String>> {
    prop_oneof![
        Just(toks("import std . layers")),
        (1u32..9).prop_map(|k| toks(&format!("const n = {k} * 2 + m"))),
        Just(toks("functor F ( A ) = nil | cons ( A , X ) | node ( X -> A * X )")),
        Just(toks("group C = perms ( 3 ) { a : ( 0 1 2 ) , b : ( 0 1 ) ( 2 ) }")),
        Just(toks("space S = R [ 3 ] under C by shift * R [ 2 ] ^ 2")),
        Just(toks("space Big = S ⊕ S ⊗ S")),
        expr().prop_map(|e| [toks("model m ="), e].concat()),
        (expr(), expr()).prop_map(|(a, b)| {
            [
                toks("layer f [ n ] ( x : R [ n ] , y : R [ n , 2 ] ) -> R [ n ] * R equivariant C {"),
                toks("param W : R [ n , n ] = normal ( 0.1 )"),
                toks("param K : equivariant S -> S where local ( 1 ) = glorot"),
                toks("let ( a , b ) ="),
                a,
                toks(";"),
                b,
                toks("}"),
            ]
            .concat()
        }),
        (expr(), expr()).prop_map(|(a, b)| {
            [
                toks("algebra g [ d ] : ListF ( R [ d ] ) -> R [ d ] { param z : R [ d ] = zeros nil =>"),
                a,
                toks("cons ( x , s ) =>"),
                b,
                toks("}"),
            ]
            .concat()
        }),
        Just(toks("train m { data = synthetic . spirals ( classes = 3 ) loss = mse lr = - 0.5 }")),
    ]
}

/// A program: items, some with doc comments.
fn program() -> impl Strategy<Value = String> {
    prop::collection::vec((any::<bool>(), item().prop_flat_map(spaced)), 1..5).prop_map(|items| {
        items
            .into_iter()
            .map(|(doc, text)| {
                if doc {
                    format!("/// About it.\n{text}")
                } else {
                    text
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn generated_programs_keep_their_tree_and_comments_and_are_stable(src in program()) {
        let out = check_format("generated", &src);
        prop_assert!(out.is_some(), "the generator wrote a program with syntax errors:\n{}", src);
    }
}
