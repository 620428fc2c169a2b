//! The workspace's own uniffi-bindgen: generates Kotlin, Swift and Python from the built
//! library, e.g. `cargo run -p doudi-sdk --bin uniffi-bindgen -- generate --library
//! target/debug/libdoudi_sdk.so --language kotlin --out-dir target/bindings/kotlin`.

fn main() {
    uniffi::uniffi_bindgen_main()
}
