//! Every error case fails with exactly the codes and lines in its header;
//! the rendered diagnostics are snapshots.

use crate::{cases_dir, cdl_files, check_error_case};

#[test]
fn error_cases() {
    let files = cdl_files(&cases_dir("errors"));
    assert!(files.len() >= 60, "found only {} error cases", files.len());
    let mut failures = Vec::new();
    for path in files {
        let name = crate::case_name(&path);
        match std::panic::catch_unwind(|| check_error_case(&path)) {
            Ok(snapshot) => {
                insta::with_settings!({ snapshot_suffix => name.clone(), prepend_module_to_snapshot => false }, {
                    insta::assert_snapshot!("error", snapshot);
                });
            }
            Err(e) => failures.push(format!(
                "{name}: {}",
                e.downcast_ref::<String>().cloned().unwrap_or_default()
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
