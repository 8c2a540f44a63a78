//! Fuzz: what a node's reads print (framed files, pro, rke2, the image list; Glance properties),
//! into facts and drift.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    kiln::fuzzing::node_reads(data);
});
