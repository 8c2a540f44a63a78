//! Glance v2: version documents, image list/get/create, JSON-patch update, tags, upload with the
//! queued -> active transition, delete (403 when protected; 409 "in use" when the fault knobs
//! say the store is Ceph RBD), and a minimal schema. Errors are JSON when the client accepts
//! JSON, else HTML, as real Glance answers.

mod query;
mod view;
mod write;

pub use query::{DEFAULT_LIMIT, MAX_LIMIT, list as list_images};
pub use view::image as image_json;

use std::collections::BTreeMap;

use bytes::Bytes;
use serde_json::{Value, json};

use super::core::{Core, SimEvent};
use super::faults::DeleteInUse;
use super::fleet::FleetImage;
use super::http::{Req, Resp, Style, encode_query};
use super::state::Token;
use query::Viewer;

pub(super) const READ_ONLY: &[&str] = &[
    "created_at",
    "updated_at",
    "status",
    "checksum",
    "size",
    "virtual_size",
    "self",
    "file",
    "schema",
    "direct_url",
    "os_hash_algo",
    "os_hash_value",
    "stores",
];
pub(super) const PATCH_TYPES: &[&str] = &[
    "application/openstack-images-v2.1-json-patch",
    "application/openstack-images-v2.0-json-patch",
];

pub(super) fn style(req: &Req) -> Style {
    if req.wants_json() {
        Style::GlanceJson
    } else {
        Style::GlanceHtml
    }
}

fn versions(core: &Core) -> Value {
    let list: Vec<Value> = [
        ("v2.16", "CURRENT"),
        ("v2.15", "SUPPORTED"),
        ("v2.0", "SUPPORTED"),
    ]
    .iter()
    .map(|(id, status)| {
        json!({"id": id, "status": status,
                   "links": [{"rel": "self", "href": format!("{}/image/v2/", core.base)}]})
    })
    .collect();
    json!({"versions": list})
}

/// Handles `/image/...` for a caller holding `token` (None: unauthenticated paths only).
pub fn handle(core: &Core, req: &Req, token: Option<&Token>) -> Resp {
    let path = req.path();
    match (req.method.as_str(), path.as_slice()) {
        ("GET", []) => return Resp::json(300, &versions(core)),
        ("GET", ["versions"]) => return Resp::json(200, &versions(core)),
        _ => {}
    }
    let Some(t) = token else {
        return Resp::unauthorized(style(req), &core.base);
    };
    let viewer = Viewer {
        project_id: core.project_id(t),
        admin: t.admin,
    };
    match (req.method.as_str(), path.as_slice()) {
        ("GET", ["v2", "images"]) => list(core, req, viewer),
        ("POST", ["v2", "images"]) => create(core, req, viewer),
        ("GET", ["v2", "images", id]) => with_image(core, req, viewer, id, |img| {
            Resp::json(200, &view::image(img))
        }),
        ("PATCH", ["v2", "images", id]) => write::update(core, req, viewer, id),
        ("DELETE", ["v2", "images", id]) => delete(core, req, viewer, id),
        ("PUT", ["v2", "images", id, "file"]) => write::upload(core, req, viewer, id),
        ("GET", ["v2", "images", id, "file"]) => {
            with_image(core, req, viewer, id, |_| Resp::empty(204))
        }
        ("PUT", ["v2", "images", id, "tags", tag]) => {
            write::set_tag(core, req, viewer, id, tag, true)
        }
        ("DELETE", ["v2", "images", id, "tags", tag]) => {
            write::set_tag(core, req, viewer, id, tag, false)
        }
        ("GET", ["v2", "schemas", "image"]) => Resp::json(
            200,
            &json!({"name": "image", "properties": {}, "additionalProperties": {"type": "string"}}),
        ),
        ("GET", ["v2", "schemas", "images"]) => Resp::json(
            200,
            &json!({"name": "images", "properties": {"images": {"type": "array"}}}),
        ),
        _ => Resp::not_found(style(req), "The resource could not be found."),
    }
}

fn list(core: &Core, req: &Req, viewer: Viewer<'_>) -> Resp {
    let mut st = core.lock();
    let (ids, next_marker) = match query::list(st.images.values(), &req.query, viewer) {
        Ok(p) => (
            p.images.iter().map(|i| i.id.clone()).collect::<Vec<_>>(),
            p.next_marker,
        ),
        Err(e) => return Resp::bad_request(style(req), &e),
    };
    let rendered: Vec<Bytes> = ids.iter().filter_map(|id| st.images.json(id)).collect();
    drop(st);
    let others: Vec<(String, String)> = req
        .query
        .iter()
        .filter(|(k, _)| k != "marker")
        .cloned()
        .collect();
    let first = if others.is_empty() {
        "/v2/images".to_string()
    } else {
        format!("/v2/images?{}", encode_query(&others))
    };
    let mut tail = json!({"first": first, "schema": "/v2/schemas/images"});
    if let Some(m) = next_marker {
        let mut next = others;
        next.push(("marker".into(), m));
        tail["next"] = json!(format!("/v2/images?{}", encode_query(&next)));
    }
    // {"images": [<cached>, ...], "first": ..., "schema": ..., "next": ...}
    let tail = tail.to_string();
    let mut body =
        Vec::with_capacity(rendered.iter().map(|b| b.len() + 1).sum::<usize>() + tail.len() + 16);
    body.extend_from_slice(b"{\"images\":[");
    for (i, b) in rendered.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(b);
    }
    body.extend_from_slice(b"],");
    body.extend_from_slice(tail.get(1..).unwrap_or("}").as_bytes());
    Resp {
        status: 200,
        headers: Vec::new(),
        content_type: "application/json",
        body: Bytes::from(body),
    }
}

pub(super) fn may_see(img: &FleetImage, viewer: Viewer<'_>) -> bool {
    viewer.admin
        || img.owner == viewer.project_id
        || matches!(img.visibility.as_str(), "public" | "community")
}

pub(super) fn not_found(req: &Req, id: &str) -> Resp {
    Resp::not_found(style(req), &format!("No image found with ID {id}"))
}

fn with_image(
    core: &Core,
    req: &Req,
    viewer: Viewer<'_>,
    id: &str,
    f: impl FnOnce(&FleetImage) -> Resp,
) -> Resp {
    let st = core.lock();
    match st.images.get(id) {
        Some(img) if may_see(img, viewer) => f(img),
        _ => not_found(req, id),
    }
}

fn string_props(
    body: &serde_json::Map<String, Value>,
    req: &Req,
) -> Result<BTreeMap<String, String>, Resp> {
    let core_keys = [
        "name",
        "id",
        "visibility",
        "protected",
        "disk_format",
        "container_format",
        "min_disk",
        "min_ram",
        "tags",
        "os_hidden",
        "owner",
    ];
    let mut props = BTreeMap::new();
    for (k, v) in body {
        if READ_ONLY.contains(&k.as_str()) {
            return Err(Resp::error(
                style(req),
                403,
                &format!("Attribute '{k}' is read-only."),
            ));
        }
        if core_keys.contains(&k.as_str()) {
            continue;
        }
        match v {
            Value::String(s) => {
                props.insert(k.clone(), s.clone());
            }
            _ => {
                return Err(Resp::bad_request(
                    style(req),
                    &format!(
                        "Provided object does not match schema 'image': {v} is not of type 'string' (property {k})"
                    ),
                ));
            }
        }
    }
    Ok(props)
}

fn create(core: &Core, req: &Req, viewer: Viewer<'_>) -> Resp {
    let body = match req.json() {
        Ok(Value::Object(m)) => m,
        _ => return Resp::bad_request(style(req), "Body expected in request."),
    };
    let properties = match string_props(&body, req) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let now = core.now();
    let mut st = core.lock();
    let id = body
        .get("id")
        .and_then(Value::as_str)
        .map(String::from)
        .unwrap_or_else(|| st.rng.uuid());
    if st.images.contains_key(&id) {
        return Resp::error(
            style(req),
            409,
            &format!("Image with identifier {id} already exists!"),
        );
    }
    let visibility = body
        .get("visibility")
        .and_then(Value::as_str)
        .unwrap_or("shared");
    if !["public", "private", "shared", "community"].contains(&visibility) {
        return Resp::bad_request(
            style(req),
            &format!("Invalid visibility value: {visibility}"),
        );
    }
    let img = FleetImage {
        id: id.clone(),
        name: body
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        status: "queued".into(),
        visibility: visibility.into(),
        protected: body
            .get("protected")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        owner: viewer.project_id.to_string(),
        created_at: now,
        updated_at: now,
        size: None,
        disk_format: body
            .get("disk_format")
            .and_then(Value::as_str)
            .unwrap_or("raw")
            .into(),
        container_format: body
            .get("container_format")
            .and_then(Value::as_str)
            .unwrap_or("bare")
            .into(),
        checksum: None,
        tags: body
            .get("tags")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default(),
        properties,
    };
    let out = view::image(&img);
    let name = img.name.clone();
    st.images.insert(id.clone(), img);
    drop(st);
    core.emit(SimEvent::ImageCreated {
        id: id.clone(),
        name,
    });
    Resp::json(201, &out).with_header("location", format!("{}/image/v2/images/{id}", core.base))
}

fn delete(core: &Core, req: &Req, viewer: Viewer<'_>, id: &str) -> Resp {
    let mut st = core.lock();
    let Some(img) = st.images.get(id).filter(|i| may_see(i, viewer)) else {
        return not_found(req, id);
    };
    if !viewer.admin && img.owner != viewer.project_id {
        return Resp::error(
            style(req),
            403,
            "You are not permitted to delete this image.",
        );
    }
    if img.protected {
        return Resp::error(
            style(req),
            403,
            &format!("Image {id} is protected and cannot be deleted."),
        );
    }
    if core.faults.delete_in_use() == DeleteInUse::Conflict && st.usage_of(id) != (0, 0) {
        return Resp::error(
            style(req),
            409,
            &format!(
                "Image {id} could not be deleted because it is in use: The image cannot be deleted because it has snapshot(s)."
            ),
        );
    }
    st.images.remove(id);
    drop(st);
    core.emit(SimEvent::ImageDeleted { id: id.to_string() });
    Resp::empty(204)
}
