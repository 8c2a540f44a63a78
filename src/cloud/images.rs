//! Glance: the image domain type (core attributes, protected, tags, visibility, owner and custom
//! properties, which the typed `openstack` Image drops), paginated listing, get, lookup by name,
//! protect/unprotect (JSON patch) and delete.

use std::collections::BTreeMap;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::CloudError;
use super::names::{self, ImageName};
use super::session::{CloudSession, Svc};

/// Page size asked of Glance (its default `api_limit_max`; a smaller server limit wins).
pub const PAGE: usize = 1000;

/// An image as kiln sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Image {
    /// Id.
    pub id: String,
    /// Name ("" when unnamed).
    pub name: String,
    /// `active`, `queued`, `saving`, `killed`, `deactivated`, ...
    pub status: String,
    /// `public`, `private`, `shared`, `community`.
    pub visibility: String,
    /// Glance refuses to delete it.
    pub protected: bool,
    /// Owning project.
    pub owner: Option<String>,
    /// Bytes.
    pub size: Option<u64>,
    /// Disk format.
    pub disk_format: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Updated.
    pub updated_at: Option<DateTime<Utc>>,
    /// Tags.
    pub tags: Vec<String>,
    /// Custom properties (strings as they are; other JSON values as JSON text).
    pub properties: BTreeMap<String, String>,
    /// The name parsed (None: not the template's form).
    pub parsed_name: Option<ImageName>,
}

impl Image {
    /// A custom property.
    pub fn property(&self, key: &str) -> Option<&str> {
        self.properties.get(key).map(String::as_str)
    }

    /// `fips_enabled` as a bool (None when absent or not true/false).
    pub fn fips_enabled(&self) -> Option<bool> {
        match self.property("fips_enabled")?.to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Some(true),
            "false" | "no" | "0" => Some(false),
            _ => None,
        }
    }

    /// The series from the name (`v1.28`).
    pub fn series(&self) -> Option<&str> {
        self.parsed_name.as_ref().map(|n| n.series.as_str())
    }
}

const CORE: &[&str] = &[
    "id",
    "name",
    "status",
    "visibility",
    "protected",
    "owner",
    "size",
    "disk_format",
    "container_format",
    "created_at",
    "updated_at",
    "tags",
    "checksum",
    "os_hash_algo",
    "os_hash_value",
    "os_hidden",
    "virtual_size",
    "min_ram",
    "min_disk",
    "self",
    "file",
    "schema",
    "stores",
    "locations",
    "direct_url",
];

#[derive(Deserialize)]
struct RawImage {
    id: String,
    #[serde(default)]
    name: Option<String>,
    status: String,
    #[serde(default)]
    visibility: Option<String>,
    #[serde(default)]
    protected: bool,
    #[serde(default)]
    owner: Option<String>,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default)]
    disk_format: Option<String>,
    created_at: DateTime<Utc>,
    #[serde(default)]
    updated_at: Option<DateTime<Utc>>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(flatten)]
    extra: BTreeMap<String, Value>,
}

impl From<RawImage> for Image {
    fn from(r: RawImage) -> Self {
        let name = r.name.unwrap_or_default();
        let properties = r
            .extra
            .into_iter()
            .filter(|(k, _)| !CORE.contains(&k.as_str()))
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, v)
            })
            .collect();
        Image {
            parsed_name: names::parse(&name),
            id: r.id,
            name,
            status: r.status,
            visibility: r.visibility.unwrap_or_default(),
            protected: r.protected,
            owner: r.owner,
            size: r.size,
            disk_format: r.disk_format,
            created_at: r.created_at,
            updated_at: r.updated_at,
            tags: r.tags,
            properties,
        }
    }
}

#[derive(Deserialize)]
struct RawPage {
    images: Vec<RawImage>,
    #[serde(default)]
    next: Option<String>,
}

/// The `marker` of a `next` link (`/v2/images?limit=..&marker=ID`).
pub fn marker_of(link: &str) -> Option<String> {
    let q = link.split_once('?')?.1;
    url::form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == "marker")
        .map(|(_, v)| v.into_owned())
}

/// Every image matching `filters` (Glance query pairs), following `next` links.
pub async fn list(
    s: &CloudSession,
    filters: &[(String, String)],
    page: usize,
) -> Result<Vec<Image>, CloudError> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let mut q: Vec<(String, String)> = filters.to_vec();
        q.push(("limit".into(), page.to_string()));
        if let Some(m) = &marker {
            q.push(("marker".into(), m.clone()));
        }
        let p: RawPage = s.get_json(Svc::Glance, "/images", &q).await?;
        let n = p.images.len();
        out.extend(p.images.into_iter().map(Image::from));
        match p.next.as_deref().and_then(marker_of) {
            Some(m) if n > 0 && Some(&m) != marker.as_ref() => marker = Some(m),
            _ => return Ok(out),
        }
    }
}

/// Every image whose name starts with `rke2-node-` (Glance has no prefix filter: client side).
pub async fn rke2_images(s: &CloudSession) -> Result<Vec<Image>, CloudError> {
    let mut all = list(s, &[], PAGE).await?;
    all.retain(|i| i.name.starts_with(names::PREFIX));
    Ok(all)
}

/// Images with exactly this name (names are not unique).
pub async fn named(s: &CloudSession, name: &str) -> Result<Vec<Image>, CloudError> {
    list(s, &[("name".into(), name.into())], PAGE).await
}

/// One image; None when Glance says 404.
pub async fn get(s: &CloudSession, id: &str) -> Result<Option<Image>, CloudError> {
    match s
        .get_json::<RawImage>(Svc::Glance, &format!("/images/{id}"), &[])
        .await
    {
        Ok(r) => Ok(Some(r.into())),
        Err(e) if e.status() == Some(404) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Sets or clears `protected`.
pub async fn set_protected(
    s: &CloudSession,
    id: &str,
    protected: bool,
) -> Result<Image, CloudError> {
    let patch = serde_json::json!([{"op": "replace", "path": "/protected", "value": protected}]);
    let body = Bytes::from(patch.to_string());
    let a = s
        .call(
            Svc::Glance,
            Method::PATCH,
            &format!("/images/{id}"),
            &[],
            Some((body, "application/openstack-images-v2.1-json-patch")),
        )
        .await?;
    let raw: RawImage =
        serde_json::from_slice(&a.body).map_err(|e| CloudError::InvalidResponse {
            service: "Glance",
            call: format!("PATCH /images/{id}"),
            message: e.to_string(),
        })?;
    Ok(raw.into())
}

/// Deletes an image. A protected image is a 403, an image in use on Ceph RBD a 409: both are
/// `CloudError::Api` with that status.
pub async fn delete(s: &CloudSession, id: &str) -> Result<(), CloudError> {
    s.call(
        Svc::Glance,
        Method::DELETE,
        &format!("/images/{id}"),
        &[],
        None,
    )
    .await
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_images_keep_custom_properties_and_parse_names() {
        let raw: RawImage = serde_json::from_str(
            r#"{"id":"i1","name":"rke2-node-v1.28-20260301","status":"active","visibility":"public",
                "protected":true,"owner":"p","size":5,"created_at":"2026-03-01T10:00:00Z",
                "tags":["rke2-node"],"fips_enabled":"true","min_ram":0,"self":"/v2/images/i1",
                "hw_disk_bus":"scsi","os_hidden":false,"numeric":3}"#,
        )
        .unwrap();
        let img = Image::from(raw);
        assert!(img.protected);
        assert_eq!(img.fips_enabled(), Some(true));
        assert_eq!(img.series(), Some("v1.28"));
        assert_eq!(img.property("hw_disk_bus"), Some("scsi"));
        assert_eq!(img.property("numeric"), Some("3"));
        assert_eq!(
            img.property("self"),
            None,
            "core attributes are not properties"
        );
        assert_eq!(
            marker_of("/v2/images?limit=2&marker=abc-1"),
            Some("abc-1".into())
        );
        assert_eq!(marker_of("/v2/images?limit=2"), None);
    }
}
