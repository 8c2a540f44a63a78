//! Fuzz: a clouds.yaml (first line: the cloud's name) and the same text as OS_* variables.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    kiln::fuzzing::clouds_yaml(data);
});
