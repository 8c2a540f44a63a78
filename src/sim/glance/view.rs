//! An image as Glance v2 shows it: core attributes, custom properties at the top level, the
//! `self`/`file`/`schema` links, timestamps with one-second precision.

use serde_json::{Map, Value, json};

use crate::sim::fleet::FleetImage;

/// Glance's timestamp format.
pub fn ts(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The JSON of one image.
pub fn image(img: &FleetImage) -> Value {
    let mut m = Map::with_capacity(24 + img.properties.len());
    for (k, v) in &img.properties {
        m.insert(k.clone(), Value::String(v.clone()));
    }
    let hash = img.checksum.as_ref().map(|c| c.repeat(4));
    let fields = json!({
        "id": img.id,
        "name": img.name,
        "status": img.status,
        "visibility": img.visibility,
        "protected": img.protected,
        "os_hidden": false,
        "checksum": img.checksum,
        "os_hash_algo": hash.as_ref().map(|_| "sha512"),
        "os_hash_value": hash,
        "owner": img.owner,
        "size": img.size,
        "virtual_size": null,
        "min_ram": 0,
        "min_disk": 0,
        "disk_format": img.disk_format,
        "container_format": img.container_format,
        "created_at": ts(img.created_at),
        "updated_at": ts(img.updated_at),
        "tags": img.tags,
        "self": format!("/v2/images/{}", img.id),
        "file": format!("/v2/images/{}/file", img.id),
        "schema": "/v2/schemas/image",
    });
    if let Value::Object(f) = fields {
        m.extend(f);
    }
    if img.status == "active" {
        m.insert("stores".into(), Value::String("fs".into()));
    }
    Value::Object(m)
}
