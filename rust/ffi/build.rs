fn main() { dlc_build_support::libtorch_rpath(); }
