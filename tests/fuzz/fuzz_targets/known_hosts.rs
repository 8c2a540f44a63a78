//! Fuzz: a known_hosts file (first line: the host, also read as a jump host) checked for a host's
//! key.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    kiln::fuzzing::known_hosts(data);
});
