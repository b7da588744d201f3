//! The `cdlc` command line.

fn main() {
    eprintln!("cdlc: the command line is being assembled; see README.md");
    std::process::exit(2);
}
