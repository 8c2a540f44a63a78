//! Fuzz: config.toml and theme files.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    kiln::fuzzing::config_and_theme(data);
});
