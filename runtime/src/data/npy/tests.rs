//! Reading npy arrays written byte by byte in the format numpy documents.

use std::path::PathBuf;

use super::*;

/// An npy version 1.0 file: magic, header length, a header dictionary padded
/// with spaces to a multiple of 64 bytes and ending in a newline, then data.
fn npy(descr: &str, fortran: bool, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let fortran = if fortran { "True" } else { "False" };
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

fn f64s(v: &[f64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn read(bytes: &[u8]) -> Result<Array, DataError> {
    read_bytes(bytes, PathBuf::from("a.npy"))
}

/// A scratch folder for this test process.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cdlc-runtime-npy-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temporary folder is writable");
    dir
}

#[test]
fn dtypes_are_widened() {
    let a = read(&npy("<f8", false, &[2, 2], &f64s(&[1.0, 2.0, 3.0, 4.5]))).expect("valid");
    assert_eq!(
        a,
        Array {
            shape: vec![2, 2],
            data: vec![1.0, 2.0, 3.0, 4.5]
        }
    );
    let f32s: Vec<u8> = [0.5f32, -1.0]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    assert_eq!(
        read(&npy("<f4", false, &[2], &f32s)).expect("valid").data,
        vec![0.5, -1.0]
    );
    let be: Vec<u8> = [7i32, -3].iter().flat_map(|x| x.to_be_bytes()).collect();
    assert_eq!(
        read(&npy(">i4", false, &[2], &be)).expect("valid").data,
        vec![7.0, -3.0]
    );
    let i64s: Vec<u8> = [2i64, 0].iter().flat_map(|x| x.to_le_bytes()).collect();
    assert_eq!(
        read(&npy("<i8", false, &[2], &i64s)).expect("valid").data,
        vec![2.0, 0.0]
    );
    assert_eq!(
        read(&npy("|u1", false, &[3], &[0, 1, 255]))
            .expect("valid")
            .data,
        vec![0.0, 1.0, 255.0]
    );
    assert_eq!(
        read(&npy("|b1", false, &[2], &[1, 0])).expect("valid").data,
        vec![1.0, 0.0]
    );
}

#[test]
fn fortran_order_is_reordered() {
    // [[1, 2, 3], [4, 5, 6]] stored column by column: 1 4 2 5 3 6.
    let a = read(&npy(
        "<f8",
        true,
        &[2, 3],
        &f64s(&[1.0, 4.0, 2.0, 5.0, 3.0, 6.0]),
    ))
    .expect("valid");
    assert_eq!(a.data, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    // A 2 x 2 x 2 array: element (i, j, k) = 100 i + 10 j + k.
    let mut col_major = Vec::new();
    for k in 0..2 {
        for j in 0..2 {
            for i in 0..2 {
                col_major.push(f64::from(100 * i + 10 * j + k));
            }
        }
    }
    let a = read(&npy("<f8", true, &[2, 2, 2], &f64s(&col_major))).expect("valid");
    assert_eq!(
        a.data,
        vec![0.0, 1.0, 10.0, 11.0, 100.0, 101.0, 110.0, 111.0]
    );
}

#[test]
fn damaged_files_are_errors() {
    assert!(matches!(
        read(b"not an npy file"),
        Err(DataError::Syntax { .. })
    ));
    let short = npy("<f8", false, &[4], &f64s(&[1.0, 2.0]));
    assert!(matches!(read(&short), Err(DataError::Syntax { .. })));
    let huge = npy("<f8", false, &[1 << 40, 1 << 40, 1 << 40], &f64s(&[1.0]));
    assert!(matches!(read(&huge), Err(DataError::Syntax { .. })));
    let large = npy("<f8", false, &[1 << 40], &f64s(&[1.0]));
    assert!(matches!(read(&large), Err(DataError::Syntax { .. })));
    assert!(matches!(
        read(&npy("<c16", false, &[1], &[0; 16])),
        Err(DataError::Syntax { .. })
    ));
}

#[test]
fn load_pairs_inputs_and_targets() {
    let dir = scratch("load");
    let (xp, yp) = (dir.join("x.npy"), dir.join("y.npy"));
    std::fs::write(
        &xp,
        npy(
            "<f8",
            false,
            &[3, 2],
            &f64s(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
        ),
    )
    .expect("write");
    let labels: Vec<u8> = [0i64, 2, 1].iter().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(&yp, npy("<i8", false, &[3], &labels)).expect("write");
    let ex =
        load(&xp, &yp, &DataType::Tensor(vec![2]), &TargetType::Class(3)).expect("valid files");
    assert_eq!(ex.len(), 3);
    assert_eq!(ex[1].x, Value::Tensor(Tensor::new(vec![2], vec![3.0, 4.0])));
    assert_eq!(ex[1].y, Target::Class(2));

    // A class beyond range names its example.
    let err =
        load(&xp, &yp, &DataType::Tensor(vec![2]), &TargetType::Class(2)).expect_err("class 2");
    assert!(
        matches!(
            err,
            DataError::Mismatch {
                at: Location::Index(1),
                ..
            }
        ),
        "{err}"
    );
    // A wrong per-example shape names what was expected and found.
    let err = load(&xp, &yp, &DataType::Tensor(vec![3]), &TargetType::Class(3)).expect_err("shape");
    let DataError::Mismatch { mismatch, .. } = err else {
        panic!("expected a mismatch")
    };
    assert_eq!(
        (mismatch.expected.as_str(), mismatch.found.as_str()),
        ("R[3]", "R[2]")
    );

    // Tensor targets, and a count mismatch between the files.
    std::fs::write(&yp, npy("<f8", false, &[3, 1], &f64s(&[0.5, 1.5, 2.5]))).expect("write");
    let ex = load(
        &xp,
        &yp,
        &DataType::Tensor(vec![2]),
        &TargetType::Tensor(vec![1]),
    )
    .expect("valid files");
    assert_eq!(ex[2].y, Target::Tensor(Tensor::new(vec![1], vec![2.5])));
    std::fs::write(&yp, npy("<f8", false, &[2, 1], &f64s(&[0.5, 1.5]))).expect("write");
    let err = load(
        &xp,
        &yp,
        &DataType::Tensor(vec![2]),
        &TargetType::Tensor(vec![1]),
    )
    .expect_err("count");
    assert!(matches!(err, DataError::Layout { .. }));
    let err = load(
        &xp,
        &yp,
        &DataType::list(DataType::Tensor(vec![2])),
        &TargetType::Class(2),
    )
    .expect_err("a list input");
    assert!(matches!(err, DataError::Layout { .. }));
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn non_finite_values_name_their_example_and_position() {
    let dir = scratch("nonfinite");
    let (xp, yp) = (dir.join("x.npy"), dir.join("y.npy"));
    let xs = [1.0, 2.0, 3.0, f64::NAN, 5.0, 6.0];
    std::fs::write(&xp, npy("<f8", false, &[3, 2], &f64s(&xs))).expect("write");
    let labels: Vec<u8> = [0i64, 2, 1].iter().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(&yp, npy("<i8", false, &[3], &labels)).expect("write");
    let err = load(&xp, &yp, &DataType::Tensor(vec![2]), &TargetType::Class(3)).expect_err("NaN");
    let DataError::Mismatch { at, mismatch, .. } = err else {
        panic!("expected a mismatch")
    };
    assert_eq!((at, mismatch.path.as_str()), (Location::Index(1), "x[1]"));
    assert!(mismatch.found.starts_with("NaN"), "{}", mismatch.found);

    // A tensor target beyond the f32 range is refused too.
    let fine = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    std::fs::write(&xp, npy("<f8", false, &[3, 2], &f64s(&fine))).expect("write");
    std::fs::write(&yp, npy("<f8", false, &[3, 1], &f64s(&[0.5, 1e300, 2.5]))).expect("write");
    let err = load(
        &xp,
        &yp,
        &DataType::Tensor(vec![2]),
        &TargetType::Tensor(vec![1]),
    )
    .expect_err("1e300");
    assert!(
        matches!(err, DataError::Mismatch { at: Location::Index(1), ref mismatch, .. }
            if mismatch.path == "y[0]" && mismatch.found.contains("3.4e38")),
        "{err}"
    );
}
