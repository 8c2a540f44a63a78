//! Glance writes on existing images: JSON-patch update (read-only attributes refused, custom
//! properties must be strings), data upload (queued -> active; qcow2 checked), tags.

use serde_json::Value;
use sha2::{Digest, Sha512};

use super::query::Viewer;
use super::view;
use super::{PATCH_TYPES, READ_ONLY, may_see, not_found, style};
use crate::sim::core::Core;
use crate::sim::fleet::FleetImage;
use crate::sim::http::{Req, Resp};

fn apply_patch(img: &mut FleetImage, ops: &[Value], req: &Req) -> Result<(), Resp> {
    for op in ops {
        let kind = op["op"].as_str().unwrap_or("");
        let path = op["path"].as_str().unwrap_or("").trim_start_matches('/');
        let value = &op["value"];
        if READ_ONLY.contains(&path) || path == "id" || path == "owner" && !value.is_string() {
            return Err(Resp::error(
                style(req),
                403,
                &format!("Attribute '{path}' is read-only."),
            ));
        }
        let bad = |m: &str| Err(Resp::bad_request(style(req), m));
        match (kind, path) {
            ("add" | "replace", "name") => match value.as_str() {
                Some(s) => img.name = s.into(),
                None => return bad("name must be a string"),
            },
            ("add" | "replace", "protected") => match value.as_bool() {
                Some(b) => img.protected = b,
                None => return bad("protected must be a boolean"),
            },
            ("add" | "replace", "visibility") => match value.as_str() {
                Some(v @ ("public" | "private" | "shared" | "community")) => {
                    img.visibility = v.into()
                }
                _ => return bad("Invalid visibility value"),
            },
            ("add" | "replace", "tags") => match value.as_array() {
                Some(a) => {
                    img.tags = a
                        .iter()
                        .filter_map(|t| t.as_str().map(String::from))
                        .collect()
                }
                None => return bad("tags must be a list"),
            },
            (
                "add" | "replace",
                "disk_format" | "container_format" | "min_disk" | "min_ram" | "os_hidden",
            ) => {}
            ("add" | "replace", prop) if !prop.is_empty() && !prop.contains('/') => {
                match value.as_str() {
                    Some(s) => {
                        if kind == "replace" && !img.properties.contains_key(prop) {
                            return Err(Resp::error(
                                style(req),
                                409,
                                &format!("Property {prop} does not exist."),
                            ));
                        }
                        img.properties.insert(prop.into(), s.into());
                    }
                    None => {
                        return bad(&format!(
                            "Provided object does not match schema 'image': {value} is not of type 'string' (property {prop})"
                        ));
                    }
                }
            }
            ("remove", prop) => {
                if img.properties.remove(prop).is_none() {
                    return Err(Resp::error(
                        style(req),
                        409,
                        &format!("Property {prop} does not exist."),
                    ));
                }
            }
            _ => return bad(&format!("Invalid JSON pointer or operation: {kind} {path}")),
        }
    }
    Ok(())
}

pub(super) fn update(core: &Core, req: &Req, viewer: Viewer<'_>, id: &str) -> Resp {
    let ctype = req.header("content-type").unwrap_or("");
    if !PATCH_TYPES.iter().any(|t| ctype.starts_with(t)) {
        return Resp::error(
            style(req),
            415,
            &format!("Unsupported Content-Type {ctype}"),
        );
    }
    let ops = match req.json() {
        Ok(Value::Array(a)) => a,
        _ => {
            return Resp::bad_request(
                style(req),
                "Request body must be a JSON array of operation objects.",
            );
        }
    };
    let now = core.now();
    let mut st = core.lock();
    let Some(img) = st.images.get_mut(id).filter(|i| may_see(i, viewer)) else {
        return not_found(req, id);
    };
    if !viewer.admin && img.owner != viewer.project_id {
        return Resp::error(
            style(req),
            403,
            "You are not permitted to modify this image.",
        );
    }
    let mut copy = img.clone();
    if let Err(r) = apply_patch(&mut copy, &ops, req) {
        return r;
    }
    copy.updated_at = now;
    *img = copy;
    Resp::json(200, &view::image(img))
}

pub(super) fn upload(core: &Core, req: &Req, viewer: Viewer<'_>, id: &str) -> Resp {
    let now = core.now();
    let mut st = core.lock();
    let Some(img) = st.images.get_mut(id).filter(|i| may_see(i, viewer)) else {
        return not_found(req, id);
    };
    if img.status != "queued" {
        return Resp::error(
            style(req),
            409,
            &format!(
                "Image status transition from {} to saving is not allowed",
                img.status
            ),
        );
    }
    if img.disk_format == "qcow2" && !req.body.starts_with(b"QFI\xfb") {
        return Resp::error(style(req), 415, "Image data is not a valid qcow2 image.");
    }
    let digest = Sha512::digest(&req.body);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    img.status = "active".into();
    img.size = Some(req.body.len() as u64);
    img.checksum = Some(hex[..32].to_string());
    img.updated_at = now;
    Resp::empty(204)
}

pub(super) fn set_tag(
    core: &Core,
    req: &Req,
    viewer: Viewer<'_>,
    id: &str,
    tag: &str,
    add: bool,
) -> Resp {
    let mut st = core.lock();
    let Some(img) = st.images.get_mut(id).filter(|i| may_see(i, viewer)) else {
        return not_found(req, id);
    };
    img.tags.retain(|t| t != tag);
    if add {
        img.tags.push(tag.to_string());
    }
    Resp::empty(204)
}
