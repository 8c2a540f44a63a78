//! Reading one image from the external Glance with the caller's token (hybrid mode), as a real
//! Nova does before it boots a server: `GET {glance}/v2/images/{id}`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::HybridError;
use crate::sim::fleet::FleetImage;

/// The image `id` as the Glance at `glance` (its catalog URL) shows it to `token`; None when
/// Glance says 404 (or 403: not visible to that project).
pub async fn image(
    http: &reqwest::Client,
    glance: &str,
    token: &str,
    id: &str,
) -> Result<Option<FleetImage>, HybridError> {
    let root = glance.trim_end_matches('/');
    let root = root.strip_suffix("/v2").unwrap_or(root);
    let url = format!("{root}/v2/images/{id}");
    let unreachable = |e: reqwest::Error| HybridError::Unreachable {
        what: "Glance",
        url: url.clone(),
        reason: e.to_string(),
    };
    let resp = http
        .get(&url)
        .header("x-auth-token", token)
        .header("accept", "application/json")
        .send()
        .await
        .map_err(unreachable)?;
    match resp.status().as_u16() {
        200 => {}
        403 | 404 => return Ok(None),
        status => {
            return Err(HybridError::Status {
                what: "Glance",
                url,
                status,
            });
        }
    }
    let body = resp.bytes().await.map_err(unreachable)?;
    let v: Value = serde_json::from_slice(&body)
        .map_err(|e| HybridError::Malformed(format!("Glance image {id}: {e}")))?;
    Ok(Some(from_glance(&v)))
}

/// The fields of a Glance v2 image a server or a volume refers to.
fn from_glance(v: &Value) -> FleetImage {
    let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
    let t = |k: &str| {
        v[k].as_str()
            .and_then(|x| DateTime::parse_from_rfc3339(x).ok())
            .map(|x| x.with_timezone(&Utc))
            .unwrap_or_default()
    };
    FleetImage {
        id: s("id"),
        name: s("name"),
        status: s("status"),
        visibility: s("visibility"),
        protected: v["protected"].as_bool().unwrap_or(false),
        owner: s("owner"),
        created_at: t("created_at"),
        updated_at: t("updated_at"),
        size: v["size"].as_u64(),
        disk_format: s("disk_format"),
        container_format: s("container_format"),
        checksum: v["checksum"].as_str().map(String::from),
        tags: v["tags"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x.as_str().map(String::from))
            .collect(),
        properties: BTreeMap::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_glance_image_keeps_what_servers_and_volumes_need() {
        let i = from_glance(&json!({
            "id": "i1", "name": "rke2-node-v1.28-20260301", "status": "active",
            "visibility": "private", "protected": true, "size": 4096,
            "created_at": "2026-03-01T00:00:00Z", "tags": ["a"], "disk_format": "raw",
        }));
        assert_eq!(
            (i.id.as_str(), i.name.as_str(), i.status.as_str()),
            ("i1", "rke2-node-v1.28-20260301", "active")
        );
        assert!(i.protected);
        assert_eq!(i.size, Some(4096));
        assert_eq!(i.tags, ["a"]);
        assert_eq!(i.created_at.to_rfc3339(), "2026-03-01T00:00:00+00:00");
    }
}
