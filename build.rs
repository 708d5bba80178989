//! Rebuilds the binary when a transcript or fixture changes: `replay::suite`
//! compiles both trees in with `include_dir!`, which cargo does not track by itself.
//! Links the binary with packed relative relocations where the toolchain and the
//! C library take them (see `pack_relative_relocs`).

use std::env;
use std::fs;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=transcripts");
    println!("cargo:rerun-if-changed=fixtures");
    println!("cargo:rerun-if-changed=build.rs");
    if pack_relative_relocs() {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// Whether the binary can be linked with `-z pack-relative-relocs` (`DT_RELR`:
/// GNU ld 2.38, lld 15, glibc 2.36). The static tables of the dependencies (the
/// regex Unicode tables above all) hold about 9,000 pointers, each a relative
/// relocation that the dynamic loader reads at every start: as `RELA` entries
/// they are about 200 KiB of the file, read and so resident in every process,
/// `serve` included; packed they take a few KiB (bench/RESULTS.md, memory).
/// Checked by linking and running a small program with such pointers, since an
/// older linker ignores the option and an older C library refuses the result.
fn pack_relative_relocs() -> bool {
    let var = |name: &str| env::var(name).unwrap_or_default();
    if var("CARGO_CFG_TARGET_OS") != "linux"
        || var("CARGO_CFG_TARGET_ENV") != "gnu"
        || var("HOST") != var("TARGET")
    {
        return false;
    }
    let Some(out) = env::var_os("OUT_DIR").map(PathBuf::from) else {
        return false;
    };
    let source = out.join("relr_probe.c");
    let probe = out.join("relr_probe");
    let program =
        "static int x;\nint *p[4] = {&x, &x, &x, &x};\nint main(void) { return *p[3]; }\n";
    if fs::write(&source, program).is_err() {
        return false;
    }
    let linker = env::var("RUSTC_LINKER").unwrap_or_else(|_| "cc".to_string());
    let linked = Command::new(linker)
        .arg(&source)
        .arg("-o")
        .arg(&probe)
        .args([
            "-pie",
            "-fPIE",
            "-Wl,-z,pack-relative-relocs",
            "-Wl,--fatal-warnings",
        ])
        .output()
        .is_ok_and(|out| out.status.success());
    linked && Command::new(&probe).status().is_ok_and(|s| s.success())
}
