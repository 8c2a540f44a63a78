//! Fuzz: packer's machine-readable output through the parser and the stage router.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    kiln::fuzzing::machine_readable(data);
});
