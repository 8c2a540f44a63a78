//! FIPS guidance: whether a source image can produce a FIPS-validated image (it must be Ubuntu
//! Pro), judged by its name and its Glance properties. What follows from the verdict is decided
//! in `start.rs`.

use std::collections::BTreeMap;

/// What FIPS needs, shown before a FIPS build.
pub const FIPS_EXPLANATION: &str = "FIPS needs an Ubuntu Pro source image: stage 04 runs `pro enable fips-updates`, \
which only works on Ubuntu Pro, and the FIPS kernel takes effect at the node's first boot. \
On a regular Ubuntu image the build still runs but the image is NOT FIPS-validated.";

/// Properties that mark an image as Ubuntu Pro, with the values that count.
const PRO_PROPERTIES: &[&str] = &[
    "ubuntu_pro",
    "os_variant",
    "os_edition",
    "product",
    "product_name",
    "license",
    "os_distro_variant",
];

/// The verdict on a source image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProVerdict {
    /// Ubuntu Pro, with the evidence.
    Pro(String),
    /// Not Ubuntu Pro, with why we think so.
    NotPro(String),
}

impl ProVerdict {
    /// True for Ubuntu Pro.
    pub fn is_pro(&self) -> bool {
        matches!(self, ProVerdict::Pro(_))
    }

    /// The evidence or reason.
    pub fn reason(&self) -> &str {
        match self {
            ProVerdict::Pro(r) | ProVerdict::NotPro(r) => r,
        }
    }
}

/// Judges a source image by name and (when the cloud answered) its properties.
pub fn judge_source_image(name: &str, properties: Option<&BTreeMap<String, String>>) -> ProVerdict {
    if let Some(props) = properties {
        for key in PRO_PROPERTIES {
            if let Some(v) = props.get(*key) {
                let v = v.to_ascii_lowercase();
                let pro = if *key == "ubuntu_pro" {
                    matches!(v.as_str(), "true" | "yes" | "1")
                } else {
                    v.split(|c: char| !c.is_ascii_alphanumeric())
                        .any(|w| w == "pro")
                };
                if pro {
                    return ProVerdict::Pro(format!("image property {key}={v}"));
                }
            }
        }
    }
    let lower = name.to_ascii_lowercase();
    if lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|w| w == "pro")
    {
        return ProVerdict::Pro(format!("image name `{name}` says Ubuntu Pro"));
    }
    let checked = if properties.is_some() {
        "its name or its properties"
    } else {
        "its name (the cloud was not asked)"
    };
    ProVerdict::NotPro(format!(
        "`{name}` is not Ubuntu Pro by {checked}; use e.g. ubuntu-pro-22.04-fips"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pro_by_name_or_property() {
        assert!(judge_source_image("ubuntu-pro-22.04-fips", None).is_pro());
        assert!(!judge_source_image("ubuntu-22.04", None).is_pro());
        assert!(
            !judge_source_image("ubuntu-22.04-production", None).is_pro(),
            "`production` is not `pro`"
        );
        let mut props = BTreeMap::new();
        props.insert("ubuntu_pro".to_string(), "true".to_string());
        assert!(judge_source_image("ubuntu-22.04", Some(&props)).is_pro());
        let mut props = BTreeMap::new();
        props.insert("os_distro".to_string(), "ubuntu".to_string());
        let v = judge_source_image("ubuntu-22.04", Some(&props));
        assert!(!v.is_pro());
        assert!(v.reason().contains("properties"));
    }
}
