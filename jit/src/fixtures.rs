//! Models the unit tests of several modules lower: their IR text, as
//! `cdlc --emit ir` prints it, read back.

use cdlc_ir::{FuncId, LossKind, Module};

/// The grove model's IR, as `cdlc --emit ir` prints it: `node(a, ts)`
/// folds its list of trees, each tree's leaves being the node's children.
pub(crate) const GROVE: &str = "\
data0 Grove(R[2]) = tip(R[2]) | node(R[2], nested {List(Tree(X)) = nil | cons({Tree(X) = leaf(X2) | node(X, X)}, X)})
data1 Tree(R[2]) = leaf(R[2]) | node(X, X)
data2 List(Tree(R[2])) = nil | cons(Tree(R[2]), X)

function grove {
    params grove_alg.E: R[2, 2], grove_alg.trees.s: R[2], grove_alg.trees.kid_sum.M: R[2, 2]
    inputs Grove(R[2])
    %0 = input 0 : Grove(R[2])
    %1 = param grove_alg.E : R[2, 2]
    %8 = param grove_alg.trees.s : R[2]
    %11 = param grove_alg.trees.kid_sum.M : R[2, 2]
    %23 = fold Grove(R[2]) %0 : R[2] {
        tip(%2: R[2]) {
            %3 = matmul %1, %2 : R[2]
            %4 = tanh %3 : R[2]
            yield %4
        }
        node(%5: R[2], %6: List(Tree(R[2]))) {
            %7 = matmul %1, %5 : R[2]
            %20 = fold List(Tree(R[2])) %6 : R[2] {
                nil() {
                    yield %8
                }
                cons(%9: Tree(R[2]), %10: R[2]) {
                    %18 = fold Tree(R[2]) %9 : R[2] {
                        leaf(%12: R[2]) {
                            yield %12
                        }
                        node(%13: R[2], %14: R[2]) {
                            %15 = add %13, %14 : R[2]
                            %16 = matmul %11, %15 : R[2]
                            %17 = tanh %16 : R[2]
                            yield %17
                        }
                    }
                    %19 = add %18, %10 : R[2]
                    yield %19
                }
            }
            %21 = add %7, %20 : R[2]
            %22 = tanh %21 : R[2]
            yield %22
        }
    }
    return %23
}
";

/// The grove module and its forward function, or (`train`) its training
/// function with a cross-entropy loss.
pub(crate) fn grove(train: bool) -> (Module, FuncId) {
    model(GROVE, train)
}

/// The module of IR text `ir` and its first function, or (`train`) its
/// training function with a cross-entropy loss.
fn model(ir: &str, train: bool) -> (Module, FuncId) {
    let mut module: Module = cdlc_ir::parse::module(ir).expect("the fixture's IR reads");
    let forward: FuncId = module
        .functions
        .iter()
        .map(|(id, _)| id)
        .next()
        .expect("the fixture's function");
    let func = if train {
        cdlc_ir::autodiff::differentiate(&mut module, forward, LossKind::CrossEntropy)
            .expect("the fixture differentiates")
    } else {
        forward
    };
    (module, func)
}

/// The bush model's IR, as `cdlc --emit ir` prints it: `node(a, r)` folds
/// its rose tree, each rose node holding one of the node's children and a
/// list of its own children.
pub(crate) const BUSH: &str = "\
data0 Bush(R[2]) = tip(R[2]) | node(R[2], nested {Rose(X) = rose(X1, {List(X) = nil | cons(X1, X)})})
data1 Rose(R[2]) = rose(R[2], List(X))
data2 List(R[2]) = nil | cons(R[2], X)

function bush {
    params bush_alg.E: R[2, 2], bush_alg.kids.W: R[2, 2], bush_alg.kids.sumkids.z: R[2]
    inputs Bush(R[2])
    %0 = input 0 : Bush(R[2])
    %1 = param bush_alg.E : R[2, 2]
    %8 = param bush_alg.kids.W : R[2, 2]
    %11 = param bush_alg.kids.sumkids.z : R[2]
    %22 = fold Bush(R[2]) %0 : R[2] {
        tip(%2: R[2]) {
            %3 = matmul %1, %2 : R[2]
            %4 = tanh %3 : R[2]
            yield %4
        }
        node(%5: R[2], %6: Rose(R[2])) {
            %7 = matmul %1, %5 : R[2]
            %19 = fold Rose(R[2]) %6 : R[2] {
                rose(%9: R[2], %10: Seq(R[2])) {
                    %15 = fold List(R[2]) %10 : R[2] {
                        nil() {
                            yield %11
                        }
                        cons(%12: R[2], %13: R[2]) {
                            %14 = add %12, %13 : R[2]
                            yield %14
                        }
                    }
                    %16 = matmul %8, %15 : R[2]
                    %17 = add %9, %16 : R[2]
                    %18 = tanh %17 : R[2]
                    yield %18
                }
            }
            %20 = add %7, %19 : R[2]
            %21 = tanh %20 : R[2]
            yield %21
        }
    }
    return %22
}
";

/// The bush module and its forward function, or (`train`) its training
/// function with a cross-entropy loss.
pub(crate) fn bush(train: bool) -> (Module, FuncId) {
    model(BUSH, train)
}

/// The stem bush model's IR, as `cdlc --emit ir` prints it: `node(a, r)`
/// folds its stem, each stem node holding one of the node's children and
/// (`stem`) a binary tree of its own children, a nested field inside the
/// nested field.
pub(crate) const STEM_BUSH: &str = "\
data0 Bush(R[2]) = tip(R[2]) | node(R[2], nested {Stem(X) = stop(X1) | stem(X1, {Tree(X) = leaf(X1) | node(X, X)})})
data1 Stem(R[2]) = stop(R[2]) | stem(R[2], nested {Tree(X) = leaf(X1) | node(X, X)})
data2 Tree(R[2]) = leaf(R[2]) | node(X, X)

function stem_bush {
    params bush.E: R[2, 2], bush.stems.kid_sum.M: R[2, 2]
    inputs Bush(R[2])
    %0 = input 0 : Bush(R[2])
    %1 = param bush.E : R[2, 2]
    %11 = param bush.stems.kid_sum.M : R[2, 2]
    %24 = fold Bush(R[2]) %0 : R[2] {
        tip(%2: R[2]) {
            %3 = matmul %1, %2 : R[2]
            %4 = tanh %3 : R[2]
            yield %4
        }
        node(%5: R[2], %6: Stem(R[2])) {
            %7 = matmul %1, %5 : R[2]
            %21 = fold Stem(R[2]) %6 : R[2] {
                stop(%8: R[2]) {
                    yield %8
                }
                stem(%9: R[2], %10: Tree(R[2])) {
                    %18 = fold Tree(R[2]) %10 : R[2] {
                        leaf(%12: R[2]) {
                            yield %12
                        }
                        node(%13: R[2], %14: R[2]) {
                            %15 = add %13, %14 : R[2]
                            %16 = matmul %11, %15 : R[2]
                            %17 = tanh %16 : R[2]
                            yield %17
                        }
                    }
                    %19 = add %9, %18 : R[2]
                    %20 = tanh %19 : R[2]
                    yield %20
                }
            }
            %22 = add %7, %21 : R[2]
            %23 = tanh %22 : R[2]
            yield %23
        }
    }
    return %24
}
";

/// The stem bush module and its forward function, or (`train`) its
/// training function with a cross-entropy loss.
pub(crate) fn stem_bush(train: bool) -> (Module, FuncId) {
    model(STEM_BUSH, train)
}
