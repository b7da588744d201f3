//! The verifier on plans: every plan lowered from the IR test models
//! passes, and hand-built plans with one defect each fail with the check
//! and site that name the defect.
//!
//! The hand-built plans compute `relu(W x)` per example (`W` a `[3, 4]`
//! parameter, `x: R[4]` the input) and, for the region checks, a sum over
//! a list of `R[4]` by a fold. Each broken variant changes one thing.

use cdlc_ir::entity::EntityRef;
use cdlc_ir::testmodels::{all_models, list_decl, train_fn};
use cdlc_ir::{DataId, Type, UnOp};
use cdlc_runtime::value::DataType;

use super::super::error::{PlanError, PlanErrorKind, Step};
use super::super::layout::{Layout, Rows};
use super::super::*;
use super::verify;

/// The plan of `relu(W x)` around the instructions `code`, with `num_bufs`
/// buffers; buffer 0 holds three constants from the start.
fn plan(code: Vec<Instr>, kernels: Vec<KernelSpec>, num_bufs: usize) -> Plan {
    let list = Type::Data(DataId::new(0));
    Plan {
        code,
        kernels,
        num_bufs,
        num_views: 2,
        init: vec![(0, vec![1.0; 3])],
        folds: vec![FoldInfo {
            decl: list_decl(DataType::Tensor(vec![4])),
            halves: false,
            input: 1,
            over_unfold: None,
            field_sizes: vec![vec![], vec![4]],
            field_lists: vec![Vec::new(), Vec::new()],
            field_structures: vec![Vec::new(), Vec::new()],
            nested_in: None,
            nested_fields: vec![Vec::new(), Vec::new()],
            inner: None,
        }],
        unfolds: Vec::new(),
        output: Repr::Tuple(Vec::new()),
        output_type: Type::Tuple(Vec::new()),
        param_offsets: vec![0],
        num_params: 12,
        inputs: vec![Type::tensor(&[4]), list.clone()],
        leaves: vec![
            Leaf {
                input: 0,
                path: Vec::new(),
                ty: Type::tensor(&[4]),
            },
            Leaf {
                input: 1,
                path: Vec::new(),
                ty: list,
            },
        ],
        in_place: true,
    }
}

/// `b1 = W x` per example: `C[rows, 3] = X[rows, 4] Wᵀ`, as lowering
/// emits a matrix times a batched vector.
fn gemm() -> Instr {
    Instr::Gemm {
        m: Dim {
            fixed: 1,
            rows: true,
        },
        k: Dim {
            fixed: 4,
            rows: false,
        },
        n: Dim {
            fixed: 3,
            rows: false,
        },
        a: Mat {
            loc: Loc::Input(0),
            rs: 4,
            cs: 1,
        },
        b: Mat {
            loc: Loc::Param(0),
            rs: 1,
            cs: 4,
        },
        c: Mat {
            loc: Loc::Buf(1),
            rs: 3,
            cs: 1,
        },
        c_buf: 1,
        c_len: Dim {
            fixed: 3,
            rows: true,
        },
        per_row: None,
    }
}

/// A kernel of `n` numbers computing `relu` of its one input, stored
/// `outputs` times.
fn unary(n: usize, batched: bool, outputs: usize) -> KernelSpec {
    KernelSpec {
        n,
        inputs: vec![InKind::Full { batched }],
        ops: vec![KOp::Input(0), KOp::Un(UnOp::Relu, 0)],
        outputs: vec![1; outputs],
    }
}

fn relu(input: Loc, outputs: &[Loc], steps: Vec<usize>) -> Instr {
    let mut locs = vec![input];
    locs.extend(outputs);
    Instr::Elementwise {
        kernel: 0,
        locs,
        steps,
        n_out: outputs.len(),
        batched: true,
    }
}

/// The valid plan: `b1 = W x`, `b2 = relu(b1)`.
fn dense() -> Plan {
    let mut p = plan(
        vec![gemm(), relu(Loc::Buf(1), &[Loc::Buf(2)], vec![3, 3])],
        vec![unary(3, true, 1)],
        3,
    );
    p.output = Repr::Tensor {
        loc: Loc::Buf(2),
        batched: true,
        shape: vec![3],
    };
    p
}

#[track_caller]
fn fails(p: &Plan) -> PlanError {
    match verify(p) {
        Ok(_) => panic!("the verifier accepted a broken plan:\n{p:#?}"),
        Err(e) => e,
    }
}

#[test]
fn every_plan_of_the_test_models_verifies() {
    let mut verified = 0;
    for (name, mut m) in all_models() {
        let train = train_fn(&mut m);
        for (func, is_train) in [(m.forward, false), (train, true)] {
            // A model the JIT does not support is refused by lowering,
            // before there is a plan to verify.
            let Ok(plan) = crate::lower::lower(&m.module, func, is_train) else {
                continue;
            };
            if let Err(e) = verify(&plan) {
                panic!("{name} (train: {is_train}): {e}");
            }
            verified += 1;
        }
    }
    assert!(verified >= 16, "only {verified} plans were lowered");
}

#[test]
fn the_valid_plan_verifies_with_its_layouts() {
    let layouts = verify(&dense()).expect("the plan is valid");
    assert_eq!(
        layouts,
        vec![
            Some(Layout::new(Rows::One, 3)),
            Some(Layout::new(Rows::Batch, 3)),
            Some(Layout::new(Rows::Batch, 3)),
        ]
    );
}

#[test]
fn an_operand_read_past_its_buffer_is_out_of_bounds() {
    let mut p = dense();
    // Rows of 5 numbers from an input that holds 4 per example.
    let Instr::Gemm { a, .. } = &mut p.code[0] else {
        unreachable!("the first instruction is the product")
    };
    a.rs = 5;
    let e = fails(&p);
    assert_eq!(e.code(), "P003");
    assert_eq!(e.site.0, vec![Step::Code(0)]);
    assert_eq!(
        e.kind,
        PlanErrorKind::OutOfBounds {
            loc: "in0".into(),
            touches: "batch x 5 - 1".into(),
            holds: "batch x 4".into(),
        }
    );
}

#[test]
fn a_parameter_read_past_its_slot_is_out_of_bounds() {
    let mut p = dense();
    let Instr::Gemm { b, .. } = &mut p.code[0] else {
        unreachable!("the first instruction is the product")
    };
    b.cs = 5;
    assert!(matches!(
        fails(&p).kind,
        PlanErrorKind::OutOfBounds { ref loc, .. } if loc == "param@0"
    ));
}

#[test]
fn a_read_before_the_write_is_undefined() {
    let mut p = dense();
    p.code.swap(0, 1);
    let e = fails(&p);
    assert_eq!(e.code(), "P002");
    assert_eq!(e.site.0, vec![Step::Code(0)]);
    assert_eq!(e.kind, PlanErrorKind::Undefined { loc: "b1".into() });
}

#[test]
fn a_per_row_read_of_a_shared_row_is_a_rows_mismatch() {
    let mut p = dense();
    p.code[1] = relu(Loc::Buf(0), &[Loc::Buf(2)], vec![3, 3]);
    let e = fails(&p);
    assert_eq!(e.code(), "P004");
    assert_eq!(
        e.kind,
        PlanErrorKind::RowsMismatch {
            loc: "b0".into(),
            reads: "batch".into(),
            holds: "1".into(),
        }
    );
}

#[test]
fn an_output_over_its_input_is_an_overlap() {
    let mut p = dense();
    p.code[1] = relu(Loc::Buf(1), &[Loc::Buf(1)], vec![3, 3]);
    let e = fails(&p);
    assert_eq!(e.code(), "P005");
    assert_eq!(
        e.kind,
        PlanErrorKind::Overlap {
            written: "b1".into(),
            read: "b1".into(),
        }
    );
}

#[test]
fn two_outputs_in_one_buffer_overlap() {
    let mut p = dense();
    p.kernels = vec![unary(3, true, 2)];
    p.code[1] = relu(Loc::Buf(1), &[Loc::Buf(2), Loc::Buf(2)], vec![3, 3, 3]);
    let e = fails(&p);
    assert_eq!(e.code(), "P006");
    assert_eq!(e.kind, PlanErrorKind::WritesOverlap { loc: "b2".into() });
}

#[test]
fn writing_parameters_or_inputs_is_refused() {
    for (out, name) in [(Loc::Param(0), "param@0"), (Loc::Input(0), "in0")] {
        let mut p = dense();
        p.code[1] = relu(Loc::Buf(1), &[out], vec![3, 3]);
        let e = fails(&p);
        assert_eq!(e.code(), "P007");
        assert_eq!(e.kind, PlanErrorKind::ReadOnly { loc: name.into() });
    }
}

#[test]
fn a_step_that_is_not_the_kernels_stride_is_a_mismatch() {
    let mut p = dense();
    p.code[1] = relu(Loc::Buf(1), &[Loc::Buf(2)], vec![0, 3]);
    let e = fails(&p);
    assert_eq!(e.code(), "P008");
    assert_eq!(
        e.kind,
        PlanErrorKind::Mismatch {
            what: "the step of b1".into(),
            expected: 3,
            found: 0,
        }
    );
}

/// `dense` with its kernel reading `b1`'s three numbers per row each
/// `every` times, into six per row.
fn repeated(every: usize, step: usize) -> Plan {
    let mut p = dense();
    p.kernels[0].n = 6;
    p.kernels[0].inputs = vec![InKind::Repeat {
        batched: true,
        every,
    }];
    p.code[1] = relu(Loc::Buf(1), &[Loc::Buf(2)], vec![step, 6]);
    p.output = Repr::Tensor {
        loc: Loc::Buf(2),
        batched: true,
        shape: vec![6],
    };
    p
}

#[test]
fn a_repeated_operand_reads_its_runs_and_divides_the_kernel() {
    let layouts = verify(&repeated(2, 3)).expect("the plan is valid");
    assert_eq!(layouts[2], Some(Layout::new(Rows::Batch, 6)));
    let e = fails(&repeated(4, 3));
    assert_eq!(
        e.kind,
        PlanErrorKind::Mismatch {
            what: "the kernel's size modulo a repeat count".into(),
            expected: 0,
            found: 2,
        }
    );
    // Runs of one read six numbers per row of a buffer holding three.
    assert_eq!(fails(&repeated(1, 6)).code(), "P003");
    // The step of a repeated operand is its numbers per row.
    assert_eq!(
        fails(&repeated(2, 6)).kind,
        PlanErrorKind::Mismatch {
            what: "the step of b1".into(),
            expected: 3,
            found: 6,
        }
    );
}

#[test]
fn a_missing_kernel_is_out_of_range() {
    let mut p = dense();
    let Instr::Elementwise { kernel, .. } = &mut p.code[1] else {
        unreachable!("the second instruction is the kernel")
    };
    *kernel = 5;
    let e = fails(&p);
    assert_eq!(e.code(), "P001");
    assert_eq!(
        e.kind,
        PlanErrorKind::OutOfRange {
            what: "kernel",
            index: 5,
            count: 1,
        }
    );
}

#[test]
fn a_class_loss_against_a_tensor_leaf_is_refused() {
    let mut p = dense();
    p.code.push(Instr::Loss {
        kind: cdlc_ir::LossKind::CrossEntropy,
        out: Loc::Buf(2),
        size: 3,
        target: TargetLoc::Class(0),
        dst: 3,
    });
    p.num_bufs = 4;
    let e = fails(&p);
    assert_eq!(e.code(), "P009");
    assert_eq!(e.site.0, vec![Step::Code(2)]);
}

#[test]
fn a_permutation_past_its_input_is_refused() {
    let mut p = dense();
    p.code.push(Instr::Row {
        op: RowOp::Permute {
            map: std::sync::Arc::new(vec![0, 1, 7]),
        },
        ins: vec![(Loc::Input(0), true, 4)],
        dst: 3,
        out_size: 3,
        batched: true,
    });
    p.num_bufs = 4;
    let e = fails(&p);
    assert_eq!(e.code(), "P010");
    assert_eq!(
        e.kind,
        PlanErrorKind::RowOpIndex {
            op: "permute",
            needs: 8,
            len: 4,
        }
    );
}

/// A fold summing a list of `R[4]`: `nil` yields four zeros (buffer 3),
/// `cons` adds the element (view 0) to the child's sum
/// (buffer 5) into buffer 6; carrier buffer 4, roots buffer 7.
fn list_sum(cons_reads: Loc, cons_yields: usize) -> Plan {
    let cons = CaseCode {
        code: vec![Instr::Elementwise {
            kernel: 0,
            locs: vec![cons_reads, Loc::Buf(5), Loc::Buf(6)],
            steps: vec![4, 4, 4],
            n_out: 1,
            batched: true,
        }],
        rec_args: vec![vec![5]],
        field_views: vec![0],
        result: vec![vec![Part {
            loc: Loc::Buf(6),
            kind: PartKind::Batched,
            size: cons_yields,
        }]],
        ..CaseCode::default()
    };
    let nil = CaseCode {
        result: vec![vec![Part {
            loc: Loc::Buf(3),
            kind: PartKind::Uniform,
            size: 4,
        }]],
        ..CaseCode::default()
    };
    let fold = Instr::Fold(Box::new(FoldCode {
        id: 0,
        carrier: vec![(4, 4)],
        cases: vec![nil, cons],
        root: vec![(7, 4)],
        saved: Vec::new(),
        elems: None,
        nested: None,
    }));
    let mut p = plan(
        vec![fold],
        vec![KernelSpec {
            n: 4,
            inputs: vec![
                InKind::Full { batched: true },
                InKind::Full { batched: true },
            ],
            ops: vec![
                KOp::Input(0),
                KOp::Input(1),
                KOp::Bin(cdlc_ir::BinOp::Add, 0, 1),
            ],
            outputs: vec![2],
        }],
        8,
    );
    p.init.push((3, vec![0.0; 4]));
    p.output = Repr::Tensor {
        loc: Loc::Buf(7),
        batched: true,
        shape: vec![4],
    };
    p
}

#[test]
fn the_list_fold_verifies() {
    let layouts = verify(&list_sum(Loc::View(0), 4)).expect("the fold is valid");
    assert_eq!(layouts[5], Some(Layout::new(Rows::Group(0), 4)));
    assert_eq!(layouts[4], Some(Layout::new(Rows::Nodes(0), 4)));
    assert_eq!(layouts[7], Some(Layout::new(Rows::Batch, 4)));
}

#[test]
fn a_region_reading_an_outer_batch_without_gathering_it_is_a_rows_mismatch() {
    let e = fails(&list_sum(Loc::Input(0), 4));
    assert_eq!(e.code(), "P004");
    assert_eq!(
        e.site.0,
        vec![Step::Code(0), Step::Case(1), Step::Body, Step::Code(0)]
    );
    assert_eq!(
        e.kind,
        PlanErrorKind::RowsMismatch {
            loc: "in0".into(),
            reads: "group(f0)".into(),
            holds: "batch".into(),
        }
    );
}

#[test]
fn a_region_reading_a_view_its_op_does_not_point_is_undefined() {
    let e = fails(&list_sum(Loc::View(1), 4));
    assert_eq!(e.code(), "P002");
    assert_eq!(e.kind, PlanErrorKind::Undefined { loc: "v1".into() });
}

#[test]
fn a_result_of_the_wrong_size_for_the_carrier_is_a_mismatch() {
    let e = fails(&list_sum(Loc::View(0), 3));
    assert_eq!(e.code(), "P008");
    assert_eq!(
        e.site.0,
        vec![Step::Code(0), Step::Case(1), Step::Body, Step::Result]
    );
}

#[test]
fn a_regions_buffers_are_gone_after_it_and_carriers_are_over_nodes() {
    // Reading the region's sum after the fold: it is not defined there.
    let mut p = list_sum(Loc::View(0), 4);
    p.output = Repr::Tensor {
        loc: Loc::Buf(6),
        batched: true,
        shape: vec![4],
    };
    assert_eq!(
        fails(&p).kind,
        PlanErrorKind::Undefined { loc: "b6".into() }
    );
    // Reading the carrier as if it had a row per example.
    p.output = Repr::Tensor {
        loc: Loc::Buf(4),
        batched: true,
        shape: vec![4],
    };
    let e = fails(&p);
    assert_eq!(e.site.0, vec![Step::Output]);
    assert_eq!(
        e.kind,
        PlanErrorKind::RowsMismatch {
            loc: "b4".into(),
            reads: "batch".into(),
            holds: "nodes(f0)".into(),
        }
    );
}

#[test]
fn a_gathered_child_in_the_carriers_buffer_is_an_overlap() {
    let mut p = list_sum(Loc::View(0), 4);
    let Instr::Fold(f) = &mut p.code[0] else {
        unreachable!("the fold")
    };
    f.cases[1].rec_args = vec![vec![4]];
    let e = fails(&p);
    assert_eq!(e.code(), "P005");
    assert_eq!(e.site.0, vec![Step::Code(0), Step::Case(1), Step::Setup]);
}

#[test]
fn a_region_reading_more_children_than_its_node_has_is_a_mismatch() {
    // A `cons` node has one child (its tail); a second gathered carrier
    // would read a child the schedule does not list.
    let mut p = list_sum(Loc::View(0), 4);
    let Instr::Fold(f) = &mut p.code[0] else {
        unreachable!("the fold")
    };
    f.cases[1].rec_args.push(vec![9]);
    let e = fails(&p);
    assert!(
        matches!(&e.kind, PlanErrorKind::Mismatch { what, expected: 1, found: 2 } if what.contains("children")),
        "{e}"
    );
}

/// A stream of three steps from a shared initial state of three numbers
/// (buffer 0): each step's output and next state is `relu` of the state
/// (view 0) into buffer 3; states in buffer 1, outputs in buffer 2.
fn stream(body_reads: Loc, outs: usize) -> Plan {
    let body_out = Part {
        loc: Loc::Buf(3),
        kind: PartKind::Batched,
        size: 3,
    };
    let unfold = Instr::Unfold(Box::new(UnfoldCode {
        id: 0,
        init: vec![Part {
            loc: Loc::Buf(0),
            kind: PartKind::Uniform,
            size: 3,
        }],
        states: vec![(1, 3)],
        outs: vec![(2, outs)],
        body: vec![relu(body_reads, &[Loc::Buf(3)], vec![3, 3])],
        state_views: vec![0],
        x_views: Vec::new(),
        x_seq: Vec::new(),
        local: None,
        result_out: vec![body_out],
        result_state: vec![body_out],
        flat: false,
    }));
    let mut p = plan(vec![unfold], vec![unary(3, true, 1)], 4);
    p.unfolds = vec![UnfoldInfo::Take(3)];
    p.output = Repr::Seq {
        buf: 2,
        size: outs,
        unfold: 0,
    };
    p
}

#[test]
fn the_stream_verifies_with_its_per_step_buffers() {
    let layouts = verify(&stream(Loc::View(0), 3)).expect("the stream is valid");
    assert_eq!(layouts[1], Some(Layout::new(Rows::States(0), 3)));
    assert_eq!(layouts[2], Some(Layout::new(Rows::Steps(0), 3)));
    assert_eq!(layouts[3], Some(Layout::new(Rows::Batch, 3)));
}

#[test]
fn a_step_reading_the_states_buffer_instead_of_its_view_is_undefined() {
    let e = fails(&stream(Loc::Buf(1), 3));
    assert_eq!(e.code(), "P002");
    assert_eq!(e.site.0, vec![Step::Code(0), Step::Body, Step::Code(0)]);
    assert_eq!(e.kind, PlanErrorKind::Undefined { loc: "b1".into() });
}

#[test]
fn a_step_output_of_the_wrong_size_is_a_mismatch() {
    let e = fails(&stream(Loc::View(0), 4));
    assert_eq!(e.code(), "P008");
    assert_eq!(e.site.0, vec![Step::Code(0), Step::Body, Step::Result]);
    assert_eq!(
        e.kind,
        PlanErrorKind::Mismatch {
            what: "the size of a step's output".into(),
            expected: 4,
            found: 3,
        }
    );
}

/// `stream`, emitting a pair: its outputs in buffers 2 and `second`, the
/// step yielding its `relu` (buffer 3) `yields` times as the pair.
fn pair_stream(second: usize, yields: usize) -> Plan {
    let mut p = stream(Loc::View(0), 3);
    p.num_bufs = 5;
    let Instr::Unfold(u) = &mut p.code[0] else {
        unreachable!("the stream")
    };
    u.outs.push((second, 3));
    u.result_out = vec![u.result_out[0]; yields];
    let seq = Repr::Seq {
        buf: second,
        size: 3,
        unfold: 0,
    };
    p.output = Repr::Tuple(vec![p.output.clone(), seq]);
    p
}

#[test]
fn a_stream_of_pairs_verifies_with_a_buffer_per_component() {
    let layouts = verify(&pair_stream(4, 2)).expect("the stream of pairs is valid");
    assert_eq!(layouts[2], Some(Layout::new(Rows::Steps(0), 3)));
    assert_eq!(layouts[4], Some(Layout::new(Rows::Steps(0), 3)));
}

#[test]
fn a_step_yielding_one_tensor_of_a_pair_is_a_mismatch() {
    let e = fails(&pair_stream(4, 1));
    assert_eq!(e.code(), "P008");
    assert_eq!(e.site.0, vec![Step::Code(0), Step::Body, Step::Result]);
    assert_eq!(
        e.kind,
        PlanErrorKind::Mismatch {
            what: "the components of a step's output".into(),
            expected: 2,
            found: 1,
        }
    );
}

#[test]
fn both_outputs_of_a_pair_in_one_buffer_overlap() {
    let e = fails(&pair_stream(2, 2));
    assert_eq!(e.code(), "P006");
    assert_eq!(e.site.0, vec![Step::Code(0), Step::Setup]);
    assert_eq!(e.kind, PlanErrorKind::WritesOverlap { loc: "b2".into() });
}

#[test]
fn a_kernel_op_reading_a_later_op_is_out_of_range() {
    let mut p = dense();
    p.kernels[0].ops = vec![KOp::Un(UnOp::Relu, 1), KOp::Input(0)];
    let e = fails(&p);
    assert_eq!(e.code(), "P001");
    assert_eq!(e.site.0, vec![Step::Kernel(0)]);
    assert_eq!(
        e.kind,
        PlanErrorKind::OutOfRange {
            what: "earlier kernel op",
            index: 1,
            count: 0,
        }
    );
}

#[test]
fn a_class_loss_inside_a_fold_region_is_a_rows_mismatch() {
    // The rows of a level group are nodes, not examples: their classes
    // are not the batch's.
    let mut p = list_sum(Loc::View(0), 4);
    p.leaves[0].ty = Type::Class(3);
    let Instr::Fold(f) = &mut p.code[0] else {
        unreachable!("the fold")
    };
    f.cases[1].code.push(Instr::Loss {
        kind: cdlc_ir::LossKind::CrossEntropy,
        out: Loc::Buf(6),
        size: 4,
        target: TargetLoc::Class(0),
        dst: 8,
    });
    p.num_bufs = 9;
    let e = fails(&p);
    assert_eq!(e.code(), "P004");
    assert_eq!(
        e.site.0,
        vec![Step::Code(0), Step::Case(1), Step::Body, Step::Code(1)]
    );
}

/// A fold over a `Tree(X * X)`-like structure: `leaf` holds two children,
/// each one slot of a one-tensor carrier, gathered into `b2` and `b4`
/// from the pool `b1`, whose cotangents are `b3`.
fn pair_slots(parts: Vec<ElemPart>) -> NestedSrc {
    NestedSrc {
        outer: 0,
        field: 0,
        unfold: 0,
        parts,
        carrier_parts: 1,
        holds: vec![2, 0],
        views: vec![vec![Some(0), Some(1)], Vec::new()],
        field_parts: vec![vec![2], Vec::new()],
        held: false,
    }
}

fn slot(seq: usize, gathered: usize, cotangents: usize) -> ElemPart {
    ElemPart {
        seq,
        size: 3,
        gathered,
        cotangents,
    }
}

#[test]
fn a_structures_slots_share_their_components_pool_and_gather_apart() {
    let p = plan(Vec::new(), Vec::new(), 8);
    let v = super::Verifier::new(&p);
    v.nested_slots(&pair_slots(vec![slot(1, 2, 3), slot(1, 4, 3)]))
        .expect("two children of one component");
    // The second child's cotangents added somewhere else than its pool's.
    let e = v
        .nested_slots(&pair_slots(vec![slot(1, 2, 3), slot(1, 4, 5)]))
        .expect_err("a slot with cotangents of its own");
    assert!(
        matches!(&e.kind, PlanErrorKind::Mismatch { what, .. } if what.contains("slots")),
        "{e}"
    );
    // Both children gathered into one buffer.
    let e = v
        .nested_slots(&pair_slots(vec![slot(1, 2, 3), slot(1, 2, 3)]))
        .expect_err("two slots in one buffer");
    assert_eq!(e.code(), "P006", "{e}");
}

mod held;
mod nested;
