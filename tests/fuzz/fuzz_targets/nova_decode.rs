//! Fuzz: Nova's servers/detail and Cinder's volumes/detail pages, Keystone's token body and
//! refusal.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    kiln::fuzzing::nova_decode(data);
});
