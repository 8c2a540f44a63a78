//! Cinder v3: version documents, volumes list/detail/get with `volume_image_metadata` and
//! attachments, `all_tenants` (honoured for admins; silently ignored for everyone else, as real
//! Cinder does), `project_id`, `status`, `name` filters and pagination.

use chrono::SecondsFormat;
use serde_json::{Value, json};

use super::core::Core;
use super::fleet::FleetVolume;
use super::http::{Req, Resp, Style};
use super::page;
use super::state::Token;

const STYLE: Style = Style::Nova;

fn versions(core: &Core) -> Value {
    json!({"versions": [{"id": "v3.0", "status": "CURRENT", "version": "3.0", "min_version": "3.0",
        "updated": "2016-02-08T12:20:21Z",
        "links": [{"rel": "self", "href": format!("{}/volume/v3/", core.base)}]}]})
}

/// Handles `/volume/...`.
pub fn handle(core: &Core, req: &Req, token: Option<&Token>) -> Resp {
    let path = req.path();
    match (req.method.as_str(), path.as_slice()) {
        ("GET", []) => return Resp::json(300, &versions(core)),
        ("GET", ["v3"]) => return Resp::json(200, &versions(core)),
        _ => {}
    }
    let Some(t) = token else {
        return Resp::unauthorized(STYLE, &core.base);
    };
    let (project, rest) = match path.as_slice() {
        ["v3", project, rest @ ..] => (*project, rest),
        _ => return Resp::not_found(STYLE, "The resource could not be found."),
    };
    if project != core.project_id(t) && !t.admin {
        return Resp::bad_request(STYLE, "Malformed request url");
    }
    match (req.method.as_str(), rest) {
        ("GET", ["volumes"]) => list(core, req, t, false),
        ("GET", ["volumes", "detail"]) => list(core, req, t, true),
        ("GET", ["volumes", id]) => {
            let st = core.lock();
            match st
                .volumes
                .get(*id)
                .filter(|v| t.admin || v.project_id == core.project_id(t))
            {
                Some(v) => Resp::json(200, &json!({"volume": volume(core, v, t.admin)})),
                None => Resp::not_found(STYLE, &format!("Volume {id} could not be found.")),
            }
        }
        _ => Resp::not_found(STYLE, "The resource could not be found."),
    }
}

fn list(core: &Core, req: &Req, t: &Token, detail: bool) -> Resp {
    // cinder/volume/api.py get_all: all_tenants only counts for an admin context.
    let all = t.admin && req.flag("all_tenants");
    let own = core.project_id(t);
    let project = if all { req.q("project_id") } else { Some(own) };
    let st = core.lock();
    let mut found: Vec<&FleetVolume> = st
        .volumes
        .values()
        .filter(|v| project.is_none_or(|p| v.project_id == p))
        .filter(|v| req.q("status").is_none_or(|s| v.status == s))
        .filter(|v| req.q("name").is_none_or(|n| v.name == n))
        .collect();
    found.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    let (items, next) = match page::page(found, req, |v| &v.id) {
        Ok(p) => p,
        Err(e) => return Resp::bad_request(STYLE, &e),
    };
    let list: Vec<Value> = items
        .iter()
        .map(|v| {
            if detail {
                volume(core, v, t.admin)
            } else {
                json!({"id": v.id, "name": v.name, "links": []})
            }
        })
        .collect();
    drop(st);
    let url = format!(
        "{}/volume/v3/{own}/volumes{}",
        core.base,
        if detail { "/detail" } else { "" }
    );
    let mut body = json!({"volumes": list});
    if next.is_some() {
        body["volumes_links"] = page::next_links(req, &url, next);
    }
    Resp::json(200, &body)
}

fn volume(core: &Core, v: &FleetVolume, admin: bool) -> Value {
    let ts = v.created_at.to_rfc3339_opts(SecondsFormat::Micros, false);
    let attachments: Vec<Value> = v
        .attached_to
        .iter()
        .map(|s| {
            json!({"id": v.id, "attachment_id": format!("a{}", &v.id[1..]), "volume_id": v.id,
                        "server_id": s, "host_name": null, "attached_at": ts,
                        "device": if v.image.is_some() { "/dev/vda" } else { "/dev/vdb" }})
        })
        .collect();
    let mut out = json!({
        "id": v.id, "name": v.name, "status": v.status, "size": v.size_gb,
        "availability_zone": "nova", "created_at": ts, "updated_at": ts, "description": null,
        "volume_type": "__DEFAULT__", "snapshot_id": null, "source_volid": null, "metadata": {},
        "links": [{"rel": "self", "href": format!("{}/volume/v3/{}/volumes/{}", core.base, v.project_id, v.id)}],
        "user_id": core.fleet.users[0].id, "bootable": v.image.is_some().to_string(),
        "encrypted": false, "replication_status": null, "consistencygroup_id": null,
        "multiattach": false, "attachments": attachments, "migration_status": null,
        "group_id": null, "backup_id": null,
    });
    if let Some((id, name)) = &v.image {
        let st_img = json!({"image_id": id, "image_name": name, "container_format": "bare",
                            "disk_format": "qcow2", "min_disk": "0", "min_ram": "0"});
        out["volume_image_metadata"] = st_img;
    }
    if admin {
        out["os-vol-tenant-attr:tenant_id"] = json!(v.project_id);
        out["os-vol-host-attr:host"] = json!("sim-volume-1@lvm#lvm");
    }
    out
}
