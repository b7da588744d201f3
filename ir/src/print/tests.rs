use crate::print::print_module;
use crate::testmodels::{dense_model, elman_model, mealy_model, tree_model};

#[test]
fn dense_forward() {
    insta::assert_snapshot!(print_module(&dense_model().module));
}

#[test]
fn elman_forward() {
    insta::assert_snapshot!(print_module(&elman_model().module));
}

#[test]
fn tree_forward() {
    insta::assert_snapshot!(print_module(&tree_model().module));
}

#[test]
fn mealy_forward() {
    insta::assert_snapshot!(print_module(&mealy_model().module));
}

#[test]
fn printing_is_deterministic() {
    let a = print_module(&elman_model().module);
    let b = print_module(&elman_model().module);
    assert_eq!(a, b);
}

#[test]
fn a_list_of_children_prints_as_list_of_x() {
    use cdlc_runtime::value::{CtorDecl, DataDecl, DataType};
    let rose = DataDecl {
        name: "Rose(R[2])".into(),
        ctors: vec![CtorDecl {
            name: "rose".into(),
            fields: vec![DataType::Tensor(vec![2]), DataType::list(DataType::Rec(0))],
        }],
    };
    let mut module = crate::ir::Module::new();
    module.add_data(std::sync::Arc::new(rose));
    assert_eq!(
        print_module(&module),
        "data0 Rose(R[2]) = rose(R[2], List(X))\n"
    );
}

#[test]
fn a_tree_of_children_prints_as_a_nested_field_and_reads_back() {
    use cdlc_runtime::value::{CtorDecl, DataDecl, DataType};
    let kids = DataDecl {
        name: "Kids(R)".into(),
        ctors: vec![CtorDecl {
            name: "kids".into(),
            fields: vec![DataType::Tensor(vec![]), DataType::tree(DataType::Rec(0))],
        }],
    };
    let mut module = crate::ir::Module::new();
    module.add_data(std::sync::Arc::new(kids.clone()));
    let text = print_module(&module);
    assert_eq!(
        text,
        "data0 Kids(R) = kids(R, nested {Tree(X) = leaf(X1) | node(X, X)})\n"
    );
    let back = crate::parse::module(&text).expect("the text reads back");
    assert_eq!(
        *back.data.iter().next().expect("one data type").1.decl,
        kids
    );
}

#[test]
fn a_large_constant_prints_every_value() {
    let mut m = crate::Module::default();
    let mut b = crate::builder::FunctionBuilder::new(&m, "big");
    let c = b.constant(cdlc_runtime::value::Tensor::new(
        vec![4, 5],
        (0..20).map(f64::from).collect(),
    ));
    let f = b.finish(c);
    m.functions.push(f);
    let text = crate::print::print_module(&m);
    assert!(
        text.contains(
            "const [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0, 17.0, 18.0, 19.0] : R[4, 5]"
        ),
        "{text}"
    );
}
