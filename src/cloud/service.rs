//! The services kiln calls, their catalog types, and the versioned root of each endpoint.

/// The services kiln calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Svc {
    /// Keystone.
    Keystone,
    /// Glance (v2).
    Glance,
    /// Nova (v2.1).
    Nova,
    /// Cinder (v3).
    Cinder,
}

impl Svc {
    /// Its name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Svc::Keystone => "Keystone",
            Svc::Glance => "Glance",
            Svc::Nova => "Nova",
            Svc::Cinder => "Cinder",
        }
    }

    pub(super) fn catalog_types(self) -> &'static [&'static str] {
        match self {
            Svc::Keystone => &["identity"],
            Svc::Glance => &["image"],
            Svc::Nova => &["compute"],
            Svc::Cinder => &["volumev3", "block-storage", "volume"],
        }
    }

    /// The endpoint's versioned root: Glance's catalog URL has no version, Nova's and Cinder's
    /// usually do (Cinder's with the project id).
    pub(super) fn versioned(self, url: &str) -> String {
        let u = url.trim_end_matches('/');
        let has = |v: &str| u.ends_with(v) || u.contains(&format!("{v}/"));
        match self {
            Svc::Glance if !has("/v2") => format!("{u}/v2"),
            Svc::Nova if !has("/v2.1") && !has("/v2") => format!("{u}/v2.1"),
            _ => u.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versioned_roots() {
        assert_eq!(Svc::Glance.versioned("http://g:9292"), "http://g:9292/v2");
        assert_eq!(
            Svc::Glance.versioned("http://g:9292/v2/"),
            "http://g:9292/v2"
        );
        assert_eq!(
            Svc::Nova.versioned("http://n/compute/v2.1"),
            "http://n/compute/v2.1"
        );
        assert_eq!(
            Svc::Nova.versioned("http://n:8774/v2.1/abc"),
            "http://n:8774/v2.1/abc"
        );
        assert_eq!(Svc::Nova.versioned("http://n:8774"), "http://n:8774/v2.1");
        assert_eq!(
            Svc::Cinder.versioned("http://c/volume/v3/p1"),
            "http://c/volume/v3/p1"
        );
    }
}
