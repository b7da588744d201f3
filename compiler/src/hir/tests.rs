use super::*;
use crate::check::types::{Ty, TyDisplay};

/// Compiles `text` as a user file.
fn compile(text: &str) -> crate::Compilation {
    crate::compile("test.cdl", text)
}

/// Every repository example checks cleanly, and then its HIR is sound,
/// holds no error node or error type, and has a body for every layer,
/// model, algebra and coalgebra, each `Ok`.
#[test]
fn every_example_has_a_sound_and_complete_hir() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("the examples folder")
        .map(|e| e.expect("a folder entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "cdl"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "found {} examples", files.len());
    for path in files {
        let text = std::fs::read_to_string(&path).expect("an example");
        let c = compile(&text);
        assert!(!c.has_errors(), "{}: {:?}", path.display(), c.diagnostics);
        let hir = &c.checked.hir;
        assert_eq!(verify(hir, &c.checked), Vec::<String>::new());
        let owners = c.checked.defs.keys().chain(c.checked.algebras.keys());
        for id in owners {
            assert!(hir.is_ok(*id), "{}: item {} failed", path.display(), id.0);
            let body = hir.body(*id).expect("a checked definition has a body");
            for (h, e) in body.exprs.iter() {
                assert!(!matches!(e, Expr::Error), "{}: error node", path.display());
                assert!(!body.ty(h).is_error(), "{}: error type", path.display());
            }
        }
    }
}

/// The text form of a small program: names resolved to locals (a shadowed
/// `y` is two locals), an instance with its sizes, a built-in with its
/// named argument, and a `let`-bound morphism applied twice.
#[test]
fn a_body_prints_with_every_name_resolved() {
    let c = compile(
        "layer twice[n](x: R[n]) -> R[n] {\n  param W: R[n, n] = glorot\n  let y = W @ x\n  let y = relu(y) + x\n  sum(y, axis = 0) * y\n}\n\nmodel m(x: R[3]) -> R[3] {\n  let f = twice[3]\n  f(f(x))\n}\n",
    );
    assert!(!c.has_errors(), "{:?}", c.diagnostics);
    let want = "\
twice (Ok)
  l0 x: R[n]
  l1 W: R[n, n]
  l2 y: R[n]
  l3 y: R[n]
  %0 = l1 : R[n, n]
  %1 = l0 : R[n]
  %2 = %0 MatMul %1 : R[n]
  %3 = l2 : R[n]
  %4 = relu : R[n] -> R[n]
  %5 = apply %4(%3) : R[n]
  %6 = l0 : R[n]
  %7 = %5 Add %6 : R[n]
  %8 = l3 : R[n]
  %9 = sum(%8) named 0 : R
  %10 = l3 : R[n]
  %11 = %9 Mul %10 : R[n]
  %12 = block { param l1 = #0; let l2 = %2; let l3 = %7; %11 } : R[n]
  body(l0) = %12

m (Ok)
  l0 x: R[3]
  l1 f: R[3] -> R[3]
  %0 = twice[3] : R[3] -> R[3]
  %1 = l0 : R[3]
  %2 = l1 : R[3] -> R[3]
  %3 = apply %2(%1) : R[3]
  %4 = l1 : R[3] -> R[3]
  %5 = apply %4(%3) : R[3]
  %6 = block { let l1 = %0; %5 } : R[3]
  body(l0) = %6
";
    assert_eq!(print(&c.checked.hir, &c.program, &c.checked), want);
}

/// An item with an error in its text fails; the others stay `Ok`, and the
/// failed one still has its (partial) body.
#[test]
fn an_item_with_an_error_fails_and_only_it() {
    let c = compile(
        "layer bad(x: R[2]) -> R[3] {\n  x\n}\n\nlayer good(x: R[2]) -> R[2] {\n  relu(x)\n}\n",
    );
    let id = |name: &str| c.program.lookup(name).expect("declared");
    let hir = &c.checked.hir;
    assert_eq!(hir.status(id("bad")), Status::Failed);
    assert_eq!(hir.status(id("good")), Status::Ok);
    assert!(hir.body(id("bad")).is_some());
    let good = hir.body(id("good")).expect("a checked layer has a body");
    let BodyKind::Block { value, .. } = &good.kind else {
        panic!("a layer with arguments has a block body")
    };
    assert!(matches!(good.ty(*value), Ty::Tensor(..)));
}

/// The checker names an initialiser wrong when the vocabulary does not
/// list it, and builds its value with the runtime's rules: every entry of
/// the vocabulary, with its number of arguments, is one the runtime builds,
/// so a parameter of an item that checked always has its initialiser.
#[test]
fn every_initialiser_of_the_vocabulary_is_built_by_the_runtime() {
    for (name, k) in crate::builtins::INITS {
        let args = vec![0.5; *k];
        assert!(
            cdlc_runtime::init::Init::from_call(name, &args).is_some(),
            "`{name}` with {k} arguments"
        );
        assert!(cdlc_runtime::init::Init::from_call(name, &[0.5; 3]).is_none());
    }
    let c = compile("layer l(x: R[2]) -> R[2] {\n  param W: R[2, 2] = normal(0.1)\n  W @ x\n}\n");
    let id = c.program.lookup("l").expect("declared");
    let init = &c.checked.defs[&id].params[0].initialiser;
    assert_eq!(init, &Some(cdlc_runtime::init::Init::Normal(0.1)));
}

/// The status of each named item of `text`, in the order asked.
fn statuses(text: &str, names: &[&str]) -> Vec<Status> {
    let c = compile(text);
    assert!(c.has_errors(), "the program has an error");
    names
        .iter()
        .map(|n| c.checked.hir.status(c.program.lookup(n).expect("declared")))
        .collect()
}

/// A constant is evaluated on first use, inside the item that uses it: its
/// error marks the constant, not the user, which checks on.
#[test]
fn an_error_found_while_checking_another_item_marks_its_own() {
    let got = statuses("const a = b + 1\nconst b = 2 - 5\n", &["a", "b"]);
    assert_eq!(got, [Status::Ok, Status::Failed]);
}

/// A point-free definition is checked on first use too: a wrong
/// composition marks the definition it is written in, and the model
/// composing it stays `Ok` (its use of a failed item is not a new error).
#[test]
fn a_point_free_definition_checked_on_first_use_fails_alone() {
    let got = statuses(
        "model m = f >> relu\n\nlayer f = dense[2, 3] >> dense[4, 5]\n",
        &["m", "f"],
    );
    assert_eq!(got, [Status::Ok, Status::Failed]);
}

/// A cycle is found where it closes, while checking the last item on it,
/// and marks the item whose definition closes it.
#[test]
fn a_cycle_of_constants_marks_the_constant_it_runs_through() {
    let got = statuses("const a = b\nconst b = a\nconst c = 1\n", &["a", "b", "c"]);
    assert_eq!(got, [Status::Failed, Status::Ok, Status::Ok]);
}

/// Loading and naming attribute their errors too: a syntax error marks the
/// item it lies in, and a name declared twice the second declaration.
#[test]
fn syntax_and_naming_errors_mark_their_items() {
    let got = statuses(
        "layer f(x: R[2]) -> R[2] {\n  let y = relu(x)\n  (y + x)\n}\n\nlayer g(x: R[2]) -> R[2] {\n  x\n}\n",
        &["f", "g"],
    );
    assert_eq!(got, [Status::Failed, Status::Ok]);
    let c = compile("const n = 1\nconst n = 2\nconst m = 3\n");
    let failed: Vec<u32> = c
        .program
        .item_ids()
        .filter(|id| c.program.is_user_item(*id) && !c.checked.hir.is_ok(*id))
        .map(|id| id.0)
        .collect();
    let user: Vec<u32> = c
        .program
        .item_ids()
        .filter(|id| c.program.is_user_item(*id))
        .map(|id| id.0)
        .collect();
    assert_eq!(failed, [user[1]]);
}

/// The checker records per parameter whether its declaration checked, and
/// the equivariance solver skips one that did not: `b`'s unknown
/// initialiser is reported once (no W0501 for its space follows), while
/// `K`, declared soundly in the same layer, is still solved.
#[test]
fn the_solver_skips_a_parameter_whose_declaration_failed() {
    let c = compile(
        "monoid Sh = shifts(6)\nspace Seq = R[6] under Sh by shift_zero\n\nlayer f(x: Seq) -> Seq {\n  param K: equivariant Seq -> Seq = glorot\n  param b: invariant Seq = zeroes\n  relu(K @ x + b)\n}\n",
    );
    let f = c.program.lookup("f").expect("declared");
    let oks: Vec<bool> = c.checked.defs[&f].params.iter().map(|p| p.ok).collect();
    assert_eq!(oks, [true, false]);
    let codes: Vec<&str> = c.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["E0201"]);
    assert!(c.tyings.get(f, "K").is_some());
    assert!(c.tyings.get(f, "b").is_none());
}

/// The verifier can fail: a body given a reduction in the place of a
/// pointwise map is reported, naming the node and the function.
#[test]
fn the_verifier_reports_a_reduction_used_as_a_pointwise_map() {
    let mut c = compile("import std.layers\nmodel m = dense[2, 3] >> relu\n");
    assert!(!c.has_errors(), "{:?}", c.diagnostics);
    assert_eq!(verify(&c.checked.hir, &c.checked), Vec::<String>::new());
    let sum = crate::builtins::function("sum").expect("`sum` is a built-in");
    let body = c
        .checked
        .hir
        .bodies
        .values_mut()
        .find(|b| b.exprs.iter().any(|(_, e)| matches!(e, Expr::Pointwise(_))))
        .expect("the model's body composes `relu`");
    let span = body
        .exprs
        .iter()
        .next()
        .map(|(h, _)| body.exprs.span(h))
        .expect("a node");
    let at = body.exprs.append(Expr::Pointwise(sum), span).index();
    let problems = verify(&c.checked.hir, &c.checked);
    assert!(
        problems
            .iter()
            .any(|p| p.contains(&format!("node {at} uses `sum` as a pointwise map"))),
        "{problems:?}"
    );
}

/// The table the language server's hover reads: every local of a body is
/// recorded at the span of its binding name with its checked type (a tuple
/// pattern's names, a `let … in`, case binders and weights), and every use
/// resolved to a local sits at a span whose text is that local's name.
#[test]
fn locals_carry_their_binding_span_and_checked_type() {
    let text = "algebra acc[d] : ListF(R[d]) -> R[d] {\n  param z: R[d] = zeros\n  nil => z\n  cons(x, s) => let t = x + s in tanh(t)\n}\n\nmodel m(p: R[2] * R[3]) -> R[3] {\n  let (a, b) = p\n  let c = sum(a, axis = 0) * b\n  c\n}\n";
    let c = compile(text);
    assert!(!c.has_errors(), "{:?}", c.diagnostics);
    let mut seen = Vec::new();
    for id in c.checked.defs.keys().chain(c.checked.algebras.keys()) {
        let Some(body) = c.checked.hir.body(*id) else {
            continue;
        };
        for (l, local) in body.locals.iter() {
            let span = body.locals.span(l);
            assert_eq!(&text[span.range()], local.name);
            let ty = TyDisplay {
                ty: &local.ty,
                namer: &c.checked,
            };
            seen.push(format!("{}@{}: {ty}", local.name, span.start));
        }
        for (h, e) in body.exprs.iter() {
            if let Expr::Local(l) = e {
                assert_eq!(&text[body.span(h).range()], body.locals[*l].name);
                assert!(body.locals.span(*l).start < body.span(h).start);
            }
        }
    }
    seen.sort();
    let want = [
        "a@159: R[2]",
        "b@162: R[3]",
        "c@175: R[3]",
        "p@126: R[2] * R[3]",
        "s@84: R[d]",
        "t@94: R[d]",
        "x@81: R[d]",
        "z@47: R[d]",
    ];
    assert_eq!(seen, want);
}
