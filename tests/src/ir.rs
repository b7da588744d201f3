//! The forward and reverse IR of small models, as a person reads them.

use crate::{cases_dir, cdl_files, check_clean};
use cdlc::training::{loss_for, prepare};

#[test]
fn forward_and_reverse_ir() {
    for path in cdl_files(&cases_dir("ir")) {
        let name = crate::case_name(&path);
        let c = check_clean(&path);
        let model = cdlc::entry_model(&c, None).expect("one model");
        let p = prepare(&c, model, loss_for(&c, model)).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let m = &p.inst.module;
        let text = format!(
            "{}\n{}",
            cdlc_ir::print::print_function(m, &m.functions[p.inst.func]),
            cdlc_ir::print::print_function(m, &m.functions[p.train])
        );
        insta::with_settings!({ snapshot_suffix => name.clone(), prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!("ir", text);
        });
    }
}
