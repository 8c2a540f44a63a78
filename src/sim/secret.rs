//! Throwaway secrets for one simulator run (passwords, tokens, application-credential secrets):
//! unpredictable per process, drawn from the standard library's randomly keyed SipHash. They
//! protect nothing real; they only keep tests honest about sending the right credential.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// `n` random lower-case hex characters.
pub fn random_hex(n: usize) -> String {
    let keys = RandomState::new();
    let mut out = String::with_capacity(n + 16);
    while out.len() < n {
        let mut h = keys.build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out.truncate(n);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn secrets_differ_and_have_the_length_asked() {
        let a = super::random_hex(40);
        let b = super::random_hex(40);
        assert_eq!(a.len(), 40);
        assert_ne!(a, b);
    }
}
