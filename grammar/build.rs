//! Generates the parser from `src/cdl.lalrpop`.

fn main() {
    lalrpop::process_src().expect("the CDL grammar must be LR(1) and well formed");
}
