//! Rebuilds the binary when a transcript or fixture changes: `replay::suite`
//! compiles both trees in with `include_dir!`, which cargo does not track by itself.

fn main() {
    println!("cargo:rerun-if-changed=transcripts");
    println!("cargo:rerun-if-changed=fixtures");
}
