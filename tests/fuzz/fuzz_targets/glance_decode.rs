//! Fuzz: Glance's answers: an image list page with its next link, one image, an error body.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    kiln::fuzzing::glance_decode(data);
});
