//! The syntax tree of representative programs, as the parser builds it.

use crate::{cases_dir, cdl_files};

#[test]
fn syntax_trees() {
    for path in cdl_files(&cases_dir("parse")) {
        let name = crate::case_name(&path);
        let src = std::fs::read_to_string(&path).expect("readable case");
        let (tree, errors) = cdlc_grammar::parse(cdlc_grammar::FileId(0), &src);
        assert!(errors.is_empty(), "{name}: {errors:?}");
        insta::with_settings!({ snapshot_suffix => name.clone(), prepend_module_to_snapshot => false }, {
            insta::assert_debug_snapshot!("ast", tree);
        });
    }
}
