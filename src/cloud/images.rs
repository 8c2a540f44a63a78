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
use super::session::{CloudSession, Svc, describe};

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

/// Glance's JSON of one image, as a map (parsing into a map and taking the known keys out is
/// several times faster than `#[serde(flatten)]`, which matters at 5,000 images).
pub(crate) type RawImage = serde_json::Map<String, Value>;

fn take_string(m: &mut RawImage, k: &str) -> Option<String> {
    match m.remove(k)? {
        Value::String(s) => Some(s),
        _ => None,
    }
}

fn take_time(m: &mut RawImage, k: &str) -> Option<DateTime<Utc>> {
    take_string(m, k)
        .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// An image from Glance's JSON; Err names what is missing.
pub(crate) fn image_from(mut m: RawImage) -> Result<Image, String> {
    let id = take_string(&mut m, "id").ok_or("an image without an id")?;
    let created_at = take_time(&mut m, "created_at")
        .ok_or_else(|| format!("image {id}: no valid created_at"))?;
    let name = take_string(&mut m, "name").unwrap_or_default();
    let tags = match m.remove("tags") {
        Some(Value::Array(a)) => a
            .into_iter()
            .filter_map(|t| match t {
                Value::String(s) => Some(s),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let image = Image {
        parsed_name: names::parse(&name),
        status: take_string(&mut m, "status").unwrap_or_default(),
        visibility: take_string(&mut m, "visibility").unwrap_or_default(),
        protected: m
            .remove("protected")
            .and_then(|v| v.as_bool())
            .unwrap_or(false),
        owner: take_string(&mut m, "owner"),
        size: m.remove("size").and_then(|v| v.as_u64()),
        disk_format: take_string(&mut m, "disk_format"),
        updated_at: take_time(&mut m, "updated_at"),
        created_at,
        tags,
        properties: m
            .into_iter()
            .filter(|(k, _)| !CORE.contains(&k.as_str()))
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, v)
            })
            .collect(),
        id,
        name,
    };
    Ok(image)
}

/// One page of `GET /v2/images`.
#[derive(Deserialize)]
pub(crate) struct RawPage {
    pub(crate) images: Vec<RawImage>,
    #[serde(default)]
    pub(crate) next: Option<String>,
}

fn invalid(call: String, message: String) -> CloudError {
    CloudError::InvalidResponse {
        service: "Glance",
        call,
        message,
    }
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
        for raw in p.images {
            out.push(
                image_from(raw).map_err(|e| invalid(describe(&Method::GET, "/images", &q), e))?,
            );
        }
        match p.next.as_deref().and_then(marker_of) {
            Some(m) if n > 0 && Some(&m) != marker.as_ref() => marker = Some(m),
            _ => return Ok(out),
        }
    }
}

/// Where two cursors walking the list from both ends have got to.
#[derive(Default)]
struct Meet {
    /// Oldest `created_at` the newest-first cursor has seen.
    down: Option<DateTime<Utc>>,
    /// Newest `created_at` the oldest-first cursor has seen.
    up: Option<DateTime<Utc>>,
    /// A cursor reached its end: it saw everything.
    complete: bool,
}

impl Meet {
    /// True when together the cursors have seen every image. (Equal times do not count: images
    /// of the same second may sit on either side of a page break.)
    fn covered(&self) -> bool {
        self.complete || matches!((self.down, self.up), (Some(d), Some(u)) if d < u)
    }
}

/// Walks from one end until the cursors meet. The newest-first cursor says (through
/// `first_page`) when its first page is in; the oldest-first one waits for that, so a list that
/// fits one page costs one request (and one token validation behind Glance), not two.
async fn cursor(
    s: &CloudSession,
    filters: &[(String, String)],
    newest_first: bool,
    meet: &std::sync::Mutex<Meet>,
    first_page: FirstPage,
) -> Result<Vec<Image>, CloudError> {
    let mut first_page = first_page;
    if let FirstPage::Wait(rx) = &mut first_page {
        // A dropped sender: the other cursor failed before its first page; its error is the
        // listing's, and this end is not asked.
        if rx.wait_for(|done| *done).await.is_err() {
            return Ok(Vec::new());
        }
    }
    let sort = if newest_first {
        "created_at:desc"
    } else {
        "created_at:asc"
    };
    let lock = || meet.lock().unwrap_or_else(|e| e.into_inner());
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        if lock().covered() {
            return Ok(out);
        }
        let mut q: Vec<(String, String)> = filters.to_vec();
        q.push(("sort".into(), sort.into()));
        q.push(("limit".into(), PAGE.to_string()));
        if let Some(m) = &marker {
            q.push(("marker".into(), m.clone()));
        }
        let p: RawPage = s.get_json(Svc::Glance, "/images", &q).await?;
        let n = p.images.len();
        for raw in p.images {
            out.push(
                image_from(raw).map_err(|e| invalid(describe(&Method::GET, "/images", &q), e))?,
            );
        }
        let next = p
            .next
            .as_deref()
            .and_then(marker_of)
            .filter(|m| n > 0 && Some(m) != marker.as_ref());
        let mut m = lock();
        if let Some(last) = out.last() {
            if newest_first {
                m.down = Some(last.created_at);
            } else {
                m.up = Some(last.created_at);
            }
        }
        if next.is_none() {
            m.complete = true;
        }
        drop(m);
        if let FirstPage::Tell(tx) = &first_page {
            let _ = tx.send(true);
        }
        if next.is_none() {
            return Ok(out);
        }
        marker = next;
    }
}

/// How a cursor takes part in the first-page handshake.
enum FirstPage {
    /// Says when the first page is in.
    Tell(tokio::sync::watch::Sender<bool>),
    /// Starts after the other cursor's first page.
    Wait(tokio::sync::watch::Receiver<bool>),
}

/// Every image matching `filters`, fetched by two cursors at once (newest first and oldest first,
/// the second from the first page on) that stop where they meet: Glance pages by marker, so this
/// is how pages run concurrently.
/// Newest first, each image once.
pub async fn list_concurrently(
    s: &CloudSession,
    filters: &[(String, String)],
) -> Result<Vec<Image>, CloudError> {
    let meet = std::sync::Mutex::new(Meet::default());
    let (tx, rx) = tokio::sync::watch::channel(false);
    let (down, up) = tokio::join!(
        cursor(s, filters, true, &meet, FirstPage::Tell(tx)),
        cursor(s, filters, false, &meet, FirstPage::Wait(rx))
    );
    let mut all = match (down, up) {
        (Ok(d), Ok(u)) => [d, u].concat(),
        (Err(e), Ok(_)) | (Ok(_), Err(e)) => return Err(e),
        (Err(d), Err(u)) => return Err(CloudError::Several { failed: vec![d, u] }),
    };
    all.sort_by(|a, b| {
        b.created_at
            .cmp(&a.created_at)
            .then_with(|| b.id.cmp(&a.id))
    });
    all.dedup_by(|a, b| a.id == b.id);
    Ok(all)
}

/// Every image whose name starts with `rke2-node-` (Glance has no prefix filter: client side).
pub async fn rke2_images(s: &CloudSession) -> Result<Vec<Image>, CloudError> {
    let mut all = list_concurrently(s, &[]).await?;
    all.retain(|i| i.name.starts_with(names::PREFIX));
    Ok(all)
}

/// Images with exactly this name (names are not unique).
pub async fn named(s: &CloudSession, name: &str) -> Result<Vec<Image>, CloudError> {
    list(s, &[("name".into(), name.into())], PAGE).await
}

/// One image; None when Glance says 404.
pub async fn get(s: &CloudSession, id: &str) -> Result<Option<Image>, CloudError> {
    let path = format!("/images/{id}");
    match s.get_json::<RawImage>(Svc::Glance, &path, &[]).await {
        Ok(r) => image_from(r)
            .map(Some)
            .map_err(|e| invalid(format!("GET {path}"), e)),
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
    let call = format!("PATCH /images/{id}");
    let raw: RawImage =
        serde_json::from_slice(&a.body).map_err(|e| invalid(call.clone(), e.to_string()))?;
    image_from(raw).map_err(|e| invalid(call, e))
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
    fn cursors_meet_only_past_equal_times() {
        let t = |s: i64| DateTime::from_timestamp(s, 0).unwrap();
        let mut m = Meet::default();
        assert!(!m.covered());
        m.down = Some(t(100));
        m.up = Some(t(100));
        assert!(
            !m.covered(),
            "the same second may hide images between the pages"
        );
        m.up = Some(t(101));
        assert!(m.covered());
        assert!(
            Meet {
                complete: true,
                ..Meet::default()
            }
            .covered()
        );
    }

    #[test]
    fn raw_images_keep_custom_properties_and_parse_names() {
        let raw: RawImage = serde_json::from_str(
            r#"{"id":"i1","name":"rke2-node-v1.28-20260301","status":"active","visibility":"public",
                "protected":true,"owner":"p","size":5,"created_at":"2026-03-01T10:00:00Z",
                "tags":["rke2-node"],"fips_enabled":"true","min_ram":0,"self":"/v2/images/i1",
                "hw_disk_bus":"scsi","os_hidden":false,"numeric":3}"#,
        )
        .unwrap();
        let img = image_from(raw).unwrap();
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
