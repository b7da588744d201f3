//! Round trips through the safetensors reader, name and shape checking, and
//! atomic replacement.

use super::*;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cdlc-runtime-ckpt-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temporary folder is writable");
    dir
}

fn meta() -> BTreeMap<String, String> {
    [("model", "classify"), ("source_hash", "abc123")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const W: [f32; 6] = [0.5, -1.0, 2.0, 0.25, 3.5, -0.125];
const B: [f64; 2] = [1e-300, -7.0];

fn params() -> Vec<ParamView<'static>> {
    vec![
        ParamView {
            name: "enc.W",
            shape: &[2, 3],
            data: ParamSlice::F32(&W),
        },
        ParamView {
            name: "enc.b",
            shape: &[2],
            data: ParamSlice::F64(&B),
        },
    ]
}

#[test]
fn round_trip_with_metadata() {
    let dir = scratch("round");
    let path = dir.join("weights.safetensors");
    save(&path, &params(), &meta()).expect("written");
    let ck = load(&path, &[("enc.b", &[2]), ("enc.W", &[2, 3])]).expect("read back");
    assert_eq!(ck.metadata, meta());
    assert_eq!(
        ck.params[0],
        Param {
            name: "enc.b".into(),
            shape: vec![2],
            data: ParamData::F64(B.to_vec())
        }
    );
    assert_eq!(ck.params[1].data, ParamData::F32(W.to_vec()));
    assert_eq!(ck.get("enc.W").map(|p| p.shape.clone()), Some(vec![2, 3]));
    // The crate's own reader agrees on names, dtypes and shapes.
    let bytes = std::fs::read(&path).expect("readable");
    let st = SafeTensors::deserialize(&bytes).expect("valid safetensors");
    let w = st.tensor("enc.W").expect("present");
    assert_eq!((w.dtype(), w.shape()), (Dtype::F32, &[2usize, 3][..]));
    // The same parameters give the same bytes.
    assert_eq!(serialize(&params(), &meta()).expect("valid"), bytes);
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn names_and_shapes_are_checked() {
    let dir = scratch("check");
    let path = dir.join("w.safetensors");
    save(&path, &params(), &BTreeMap::new()).expect("written");
    assert!(matches!(
        load(&path, &[("enc.W", &[3, 2]), ("enc.b", &[2])]),
        Err(CheckpointError::Shape { ref name, ref expected, ref found, .. })
            if name == "enc.W" && expected == &[3, 2] && found == &[2, 3]
    ));
    assert!(matches!(
        load(&path, &[("enc.W", &[2, 3]), ("enc.b", &[2]), ("dec.W", &[1])]),
        Err(CheckpointError::Missing { ref name, .. }) if name == "dec.W"
    ));
    assert!(matches!(
        load(&path, &[("enc.W", &[2, 3])]),
        Err(CheckpointError::Unexpected { ref name, .. }) if name == "enc.b"
    ));
    assert!(read(&path).expect("valid").metadata.is_empty());
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn bad_parameters_and_files_are_errors() {
    let short = [ParamView {
        name: "w",
        shape: &[2, 2],
        data: ParamSlice::F32(&W),
    }];
    assert!(matches!(
        serialize(&short, &BTreeMap::new()),
        Err(CheckpointError::InvalidParam { .. })
    ));
    let twice = [
        ParamView {
            name: "w",
            shape: &[2],
            data: ParamSlice::F64(&B),
        },
        ParamView {
            name: "w",
            shape: &[2],
            data: ParamSlice::F64(&B),
        },
    ];
    assert!(matches!(
        serialize(&twice, &BTreeMap::new()),
        Err(CheckpointError::InvalidParam { .. })
    ));
    let p = Path::new("w.safetensors");
    assert!(matches!(
        parse(b"garbage", p),
        Err(CheckpointError::Format { .. })
    ));
    let mut bytes = serialize(&params(), &meta()).expect("valid");
    bytes.truncate(bytes.len() - 3);
    assert!(matches!(
        parse(&bytes, p),
        Err(CheckpointError::Format { .. })
    ));
    assert!(matches!(
        read(Path::new("/nonexistent/w.safetensors")),
        Err(CheckpointError::Io { .. })
    ));
}

#[test]
fn atomic_writes_replace_and_leave_no_temporary_files() {
    let dir = scratch("atomic");
    let path = dir.join("metrics.csv");
    write_atomic(&path, b"first").expect("written");
    write_atomic(&path, b"second").expect("replaced");
    assert_eq!(std::fs::read(&path).expect("readable"), b"second");
    let names: Vec<_> = std::fs::read_dir(&dir)
        .expect("listable")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("metrics.csv")]);
    // A destination in a missing folder fails without writing anything.
    assert!(write_atomic(&dir.join("missing").join("x"), b"x").is_err());
    std::fs::remove_dir_all(&dir).expect("clean up");
}
