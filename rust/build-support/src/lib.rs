//! Helpers for the build scripts of crates that link libtorch.

/// Emits an rpath to the libtorch the build linked against, so that test
/// binaries, the CLI and the cdylib find it without `LD_LIBRARY_PATH`.
///
/// Must be called from the build script of a crate that depends directly on
/// `torch-sys`, which exports its library folder as `DEP_TCH_LIBTORCH_LIB`.
pub fn libtorch_rpath() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    }
}
