//! Fuzz: image-manifest.json as a node (or an attacker on it) may serve it.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    kiln::fuzzing::manifest(data);
});
