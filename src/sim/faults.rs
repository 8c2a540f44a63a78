//! Fault injection, changeable while the simulator runs: latency, a 5xx rate, the lifetime of new
//! tokens and revoking the issued ones, services missing from the catalog, services that always
//! fail, and how Glance treats deleting an image that is still in use.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A service of the simulated cloud, by its catalog type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Service {
    /// Keystone (`identity`).
    Identity,
    /// Glance (`image`).
    Image,
    /// Nova (`compute`).
    Compute,
    /// Cinder (`volumev3`).
    Volume,
    /// Neutron (`network`).
    Network,
}

impl Service {
    /// Every service, in catalog order.
    pub const ALL: [Service; 5] = [
        Service::Identity,
        Service::Image,
        Service::Compute,
        Service::Volume,
        Service::Network,
    ];

    /// The catalog type.
    pub fn catalog_type(self) -> &'static str {
        match self {
            Service::Identity => "identity",
            Service::Image => "image",
            Service::Compute => "compute",
            Service::Volume => "volumev3",
            Service::Network => "network",
        }
    }

    /// The service's name in the catalog.
    pub fn name(self) -> &'static str {
        match self {
            Service::Identity => "keystone",
            Service::Image => "glance",
            Service::Compute => "nova",
            Service::Volume => "cinderv3",
            Service::Network => "neutron",
        }
    }

    /// The first path segment the simulator serves it under.
    pub fn path(self) -> &'static str {
        match self {
            Service::Identity => "identity",
            Service::Image => "image",
            Service::Compute => "compute",
            Service::Volume => "volume",
            Service::Network => "network",
        }
    }
}

/// What Glance does when asked to delete an image that servers or volumes still use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeleteInUse {
    /// File or Swift store: the image is deleted anyway (why kiln checks first).
    #[default]
    Delete,
    /// Ceph RBD with copy-on-write clones: 409 Conflict, "image is in use".
    Conflict,
}

/// The fault knobs. Shared by the running simulator; every setter takes effect at once.
#[derive(Debug)]
pub struct Faults {
    latency_us: AtomicU64,
    /// 5xx probability in millionths.
    error_ppm: AtomicU64,
    token_ttl_s: AtomicU64,
    /// Tokens issued before this counter value are rejected (revocation).
    revoked_before: AtomicU64,
    inner: Mutex<Knobs>,
}

#[derive(Debug, Default)]
struct Knobs {
    missing: Vec<Service>,
    failing: BTreeMap<Service, u16>,
    lost: BTreeMap<(Service, String), u16>,
    delete_in_use: DeleteInUse,
}

/// The initial fault settings (`kiln sim`'s flags).
#[derive(Debug, Clone, PartialEq)]
pub struct FaultSettings {
    /// Added to every answer.
    pub latency: Duration,
    /// Probability (0..=1) that a request is answered with a 5xx.
    pub error_rate: f64,
    /// Lifetime of new tokens.
    pub token_ttl: Duration,
}

impl Default for FaultSettings {
    fn default() -> Self {
        FaultSettings {
            latency: Duration::ZERO,
            error_rate: 0.0,
            token_ttl: Duration::from_secs(3600),
        }
    }
}

impl Faults {
    /// Knobs set to `s`.
    pub fn new(s: &FaultSettings) -> Self {
        let f = Faults {
            latency_us: AtomicU64::new(0),
            error_ppm: AtomicU64::new(0),
            token_ttl_s: AtomicU64::new(0),
            revoked_before: AtomicU64::new(0),
            inner: Mutex::new(Knobs::default()),
        };
        f.set_latency(s.latency);
        f.set_error_rate(s.error_rate);
        f.set_token_ttl(s.token_ttl);
        f
    }

    /// Every answer waits this long first.
    pub fn set_latency(&self, d: Duration) {
        self.latency_us.store(
            d.as_micros().min(u64::MAX as u128) as u64,
            Ordering::Relaxed,
        );
    }

    /// The current added latency.
    pub fn latency(&self) -> Duration {
        Duration::from_micros(self.latency_us.load(Ordering::Relaxed))
    }

    /// Probability (clamped to 0..=1) that a request gets a 500, 502, 503 or 504.
    pub fn set_error_rate(&self, p: f64) {
        let p = if p.is_finite() {
            p.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self.error_ppm
            .store((p * 1_000_000.0) as u64, Ordering::Relaxed);
    }

    /// The 5xx probability in millionths.
    pub(crate) fn error_ppm(&self) -> u64 {
        self.error_ppm.load(Ordering::Relaxed)
    }

    /// Lifetime of tokens issued from now on (at least one second).
    pub fn set_token_ttl(&self, d: Duration) {
        self.token_ttl_s
            .store(d.as_secs().max(1), Ordering::Relaxed);
    }

    /// Lifetime of new tokens.
    pub fn token_ttl(&self) -> Duration {
        Duration::from_secs(self.token_ttl_s.load(Ordering::Relaxed))
    }

    /// Rejects every token issued so far (as if they had expired or been revoked): the next
    /// call with one gets 401.
    pub fn expire_tokens(&self, issued_up_to: u64) {
        self.revoked_before
            .fetch_max(issued_up_to, Ordering::Relaxed);
    }

    /// Tokens with a serial below this are rejected.
    pub(crate) fn revoked_before(&self) -> u64 {
        self.revoked_before.load(Ordering::Relaxed)
    }

    fn knobs(&self) -> std::sync::MutexGuard<'_, Knobs> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Leaves `service` out of the catalogs of new tokens (or puts it back).
    pub fn set_missing(&self, service: Service, missing: bool) {
        let mut k = self.knobs();
        k.missing.retain(|s| *s != service);
        if missing {
            k.missing.push(service);
        }
    }

    /// True when `service` is left out of the catalog.
    pub fn is_missing(&self, service: Service) -> bool {
        self.knobs().missing.contains(&service)
    }

    /// Every call to `service` (token issue excepted) answers `status`; None restores it.
    pub fn set_failing(&self, service: Service, status: Option<u16>) {
        let mut k = self.knobs();
        match status {
            Some(code) => k.failing.insert(service, code),
            None => k.failing.remove(&service),
        };
    }

    /// The status every call to `service` answers, when set.
    pub fn failing(&self, service: Service) -> Option<u16> {
        self.knobs().failing.get(&service).copied()
    }

    /// Calls to `service` with `method` are carried out, then answered `status` (a gateway that
    /// timed out after the service did the work: the client cannot tell it happened); None
    /// restores them.
    pub fn set_lost_answer(&self, service: Service, method: &str, status: Option<u16>) {
        let mut k = self.knobs();
        let key = (service, method.to_ascii_uppercase());
        match status {
            Some(code) => k.lost.insert(key, code),
            None => k.lost.remove(&key),
        };
    }

    /// The status a carried-out call to `service` with `method` is answered, when set.
    pub fn lost_answer(&self, service: Service, method: &str) -> Option<u16> {
        self.knobs()
            .lost
            .get(&(service, method.to_ascii_uppercase()))
            .copied()
    }

    /// How Glance treats deleting an image in use.
    pub fn set_delete_in_use(&self, d: DeleteInUse) {
        self.knobs().delete_in_use = d;
    }

    /// The current delete behaviour.
    pub fn delete_in_use(&self) -> DeleteInUse {
        self.knobs().delete_in_use
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knobs_round_trip_and_clamp() {
        let f = Faults::new(&FaultSettings::default());
        f.set_error_rate(1.7);
        assert_eq!(f.error_ppm(), 1_000_000);
        f.set_error_rate(f64::NAN);
        assert_eq!(f.error_ppm(), 0);
        f.set_token_ttl(Duration::ZERO);
        assert_eq!(f.token_ttl(), Duration::from_secs(1));
        f.set_missing(Service::Volume, true);
        assert!(f.is_missing(Service::Volume));
        f.set_missing(Service::Volume, false);
        assert!(!f.is_missing(Service::Volume));
        f.set_failing(Service::Compute, Some(500));
        assert_eq!(f.failing(Service::Compute), Some(500));
        f.expire_tokens(10);
        f.expire_tokens(3);
        assert_eq!(f.revoked_before(), 10);
    }
}
