fn main() {
    // Only the Node binding needs napi's linker setup; the plain core builds without it.
    if std::env::var_os("CARGO_FEATURE_NODE").is_some() {
        napi_build::setup();
    }
}
