//! Nova (compute API 2.1): version documents, flavors, servers list/detail with the `image`,
//! `all_tenants` (admin only, else 403), `project_id`, `name` and `status` filters and
//! pagination, server create (image or boot-from-volume) / get / delete, the `os-stop`,
//! `os-start` and `createImage` actions with realistic status transitions, and keypairs. In
//! hybrid mode a server may boot from an image of the external Glance (looked up before the
//! handler runs and handed to it).

mod actions;
mod keypairs;
mod view;

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::core::{Core, SimEvent};
use super::fleet::{FleetImage, FleetServer, FleetVolume};
use super::http::{Req, Resp, Style};
use super::page;
use super::state::{SimServer, Token};

const STYLE: Style = Style::Nova;

fn version(core: &Core) -> Value {
    json!({"id": "v2.1", "status": "CURRENT", "version": "2.1", "min_version": "2.1",
           "updated": "2013-07-23T11:33:21Z",
           "links": [{"rel": "self", "href": format!("{}/compute/v2.1/", core.base)}]})
}

/// Handles `/compute/...`; `external` are images of the external Glance the request names
/// (hybrid mode).
pub fn handle(core: &Core, req: &Req, token: Option<&Token>, external: &[FleetImage]) -> Resp {
    let path = req.path();
    match (req.method.as_str(), path.as_slice()) {
        ("GET", []) => return Resp::json(200, &json!({"versions": [version(core)]})),
        ("GET", ["v2.1"]) => return Resp::json(200, &json!({"version": version(core)})),
        _ => {}
    }
    let Some(t) = token else {
        return Resp::unauthorized(STYLE, &core.base);
    };
    let rest: Vec<&str> = match path.split_first() {
        Some((&"v2.1", rest)) => rest.to_vec(),
        _ => return Resp::not_found(STYLE, "The resource could not be found."),
    };
    match (req.method.as_str(), rest.as_slice()) {
        ("GET", ["flavors"]) | ("GET", ["flavors", "detail"]) => {
            let detail = rest.len() == 2;
            let list: Vec<Value> = core.fleet.flavors.iter().map(|f| {
                if detail { view::flavor(core, f) } else { json!({"id": f.id, "name": f.name, "links": view::links(core, "flavors", &f.id)}) }
            }).collect();
            Resp::json(200, &json!({"flavors": list}))
        }
        ("GET", ["flavors", id]) => match core.fleet.flavors.iter().find(|f| f.id == *id) {
            Some(f) => Resp::json(200, &json!({"flavor": view::flavor(core, f)})),
            None => Resp::not_found(STYLE, &format!("Flavor {id} could not be found.")),
        },
        ("GET", ["servers"]) => list(core, req, t, false),
        ("GET", ["servers", "detail"]) => list(core, req, t, true),
        ("POST", ["servers"]) => create(core, req, t, external),
        ("GET", ["servers", id]) => {
            let st = core.lock();
            match visible(&st.servers, id, t, core) {
                Some(s) => Resp::json(
                    200,
                    &json!({"server": view::server(core, s, core.now(), t.admin)}),
                ),
                None => not_found(id),
            }
        }
        ("DELETE", ["servers", id]) => delete(core, t, id),
        ("POST", ["servers", id, "action"]) => actions::action(core, req, t, id),
        ("GET", ["os-keypairs"]) => keypairs::list(core, t),
        ("POST", ["os-keypairs"]) => keypairs::create(core, req, t),
        ("DELETE", ["os-keypairs", name]) => keypairs::delete(core, t, name),
        ("GET", ["os-availability-zone"]) => Resp::json(
            200,
            &json!({"availabilityZoneInfo": [{"zoneName": "nova", "zoneState": {"available": true}, "hosts": null}]}),
        ),
        _ => Resp::not_found(STYLE, "The resource could not be found."),
    }
}

pub(super) fn not_found(id: &str) -> Resp {
    Resp::not_found(STYLE, &format!("Instance {id} could not be found."))
}

pub(super) fn visible<'a>(
    servers: &'a BTreeMap<String, SimServer>,
    id: &str,
    t: &Token,
    core: &Core,
) -> Option<&'a SimServer> {
    servers
        .get(id)
        .filter(|s| t.admin || s.base.project_id == core.project_id(t))
}

fn list(core: &Core, req: &Req, t: &Token, detail: bool) -> Resp {
    let all = req.flag("all_tenants") || req.flag("all_projects");
    if all && !t.admin {
        return Resp::error(
            STYLE,
            403,
            "Policy doesn't allow os_compute_api:servers:detail:get_all_tenants to be performed.",
        );
    }
    let own = core.project_id(t);
    let project = if all {
        req.q("project_id").or(req.q("tenant_id"))
    } else {
        Some(own)
    };
    let now = core.now();
    let st = core.lock();
    let mut found: Vec<&SimServer> = st
        .servers
        .values()
        .filter(|s| project.is_none_or(|p| s.base.project_id == p))
        .filter(|s| {
            req.q("image")
                .is_none_or(|i| s.base.image_id.as_deref() == Some(i))
        })
        .filter(|s| req.q("name").is_none_or(|n| s.base.name.contains(n)))
        .filter(|s| {
            req.q("status")
                .is_none_or(|x| s.status(now).eq_ignore_ascii_case(x))
        })
        .collect();
    found.sort_by(|a, b| {
        b.base
            .created_at
            .cmp(&a.base.created_at)
            .then(b.base.id.cmp(&a.base.id))
    });
    let (items, next) = match page::page(found, req, |s| &s.base.id) {
        Ok(p) => p,
        Err(e) => return Resp::bad_request(STYLE, &e),
    };
    let list: Vec<Value> = items
        .iter()
        .map(|s| if detail { view::server(core, s, now, t.admin) } else {
            json!({"id": s.base.id, "name": s.base.name, "links": view::links(core, "servers", &s.base.id)})
        })
        .collect();
    drop(st);
    let url = format!(
        "{}/compute/v2.1/servers{}",
        core.base,
        if detail { "/detail" } else { "" }
    );
    let mut body = json!({"servers": list});
    if next.is_some() {
        body["servers_links"] = page::next_links(req, &url, next);
    }
    Resp::json(200, &body)
}

fn create(core: &Core, req: &Req, t: &Token, external: &[FleetImage]) -> Resp {
    let body = match req.json() {
        Ok(b) => b,
        Err(r) => return r,
    };
    let s = &body["server"];
    let Some(name) = s["name"].as_str() else {
        return Resp::bad_request(
            STYLE,
            "Invalid input for field/attribute server. Value: 'name' is a required property",
        );
    };
    let Some(flavor) = s["flavorRef"]
        .as_str()
        .map(|f| f.rsplit('/').next().unwrap_or(f))
    else {
        return Resp::bad_request(STYLE, "'flavorRef' is a required property");
    };
    if !core.fleet.flavors.iter().any(|f| f.id == flavor) {
        return Resp::bad_request(STYLE, &format!("Flavor {flavor} could not be found."));
    }
    let project_id = core.project_id(t).to_string();
    let now = core.now();
    let mut st = core.lock();
    let image_ref = s["imageRef"]
        .as_str()
        .filter(|i| !i.is_empty())
        .map(String::from);
    let bdm_image = s["block_device_mapping_v2"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|b| b["source_type"] == "image" && b["destination_type"] == "volume")
        })
        .and_then(|b| {
            Some((
                b["uuid"].as_str()?.to_string(),
                b["volume_size"].as_u64().unwrap_or(20),
            ))
        });
    let wanted = bdm_image
        .as_ref()
        .map(|(i, _)| i.clone())
        .or(image_ref.clone());
    let image: Option<FleetImage> = match &wanted {
        Some(id) => match st
            .images
            .get(id)
            .or_else(|| external.iter().find(|i| i.id == *id))
        {
            Some(i) if i.status == "active" => Some(i.clone()),
            _ => return Resp::bad_request(STYLE, &format!("Image {id} could not be found.")),
        },
        None => {
            return Resp::bad_request(
                STYLE,
                "Block Device Mapping is Invalid: you specified no image and no boot volume.",
            );
        }
    };
    if let Some(net) = s["networks"]
        .as_array()
        .and_then(|n| n.first())
        .and_then(|n| n["uuid"].as_str())
        && !core.fleet.networks.iter().any(|x| x.id == net)
    {
        return Resp::bad_request(STYLE, &format!("Network {net} could not be found."));
    }
    if let Some(k) = s["key_name"].as_str()
        && !st.keypairs.contains_key(k)
    {
        return Resp::bad_request(STYLE, &format!("Invalid key_name provided: {k}"));
    }
    let id = st.rng.uuid();
    let ip_n = st.next_ip;
    st.next_ip += 1;
    let ssh = st.ssh_for_new;
    let ready = now + chrono::Duration::from_std(core.timings.server_build).unwrap_or_default();
    let metadata: BTreeMap<String, String> = s["metadata"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    let mut server = SimServer {
        base: FleetServer {
            id: id.clone(),
            name: name.to_string(),
            project_id: project_id.clone(),
            user_id: core.user_id(t).to_string(),
            image_id: if bdm_image.is_some() {
                None
            } else {
                image.as_ref().map(|i| i.id.clone())
            },
            flavor_id: flavor.to_string(),
            status: "ACTIVE".into(),
            created_at: now,
            address: ("tenant-net".into(), format!("10.20.254.{}", ip_n % 250)),
            cluster: None,
            volumes: Vec::new(),
        },
        ready_at: Some(ready),
        stop_at: None,
        ssh,
        key_name: s["key_name"].as_str().map(String::from),
        metadata,
        updated_at: now,
    };
    if let (Some((_, size)), Some(img)) = (&bdm_image, &image) {
        let vid = st.rng.uuid();
        server.base.volumes.push(vid.clone());
        st.volumes.insert(
            vid.clone(),
            FleetVolume {
                id: vid,
                name: String::new(),
                project_id,
                size_gb: *size as u32,
                status: "in-use".into(),
                image: Some((img.id.clone(), img.name.clone())),
                attached_to: Some(id.clone()),
                created_at: now,
            },
        );
    }
    st.servers.insert(id.clone(), server);
    drop(st);
    core.emit(SimEvent::ServerCreated {
        id: id.clone(),
        name: name.to_string(),
    });
    Resp::json(
        202,
        &json!({"server": {
            "id": id, "links": view::links(core, "servers", &id), "OS-DCF:diskConfig": "MANUAL",
            "security_groups": [{"name": "default"}], "adminPass": super::secret::random_hex(12),
        }}),
    )
}

fn delete(core: &Core, t: &Token, id: &str) -> Resp {
    let mut st = core.lock();
    if visible(&st.servers, id, t, core).is_none() {
        return not_found(id);
    }
    if let Some(s) = st.servers.remove(id) {
        for v in s.base.volumes {
            // Boot volumes made by the server go with it; others become available.
            let made_here = st.volumes.get(&v).is_some_and(|x| x.name.is_empty());
            if made_here {
                st.volumes.remove(&v);
            } else if let Some(x) = st.volumes.get_mut(&v) {
                x.status = "available".into();
                x.attached_to = None;
            }
        }
    }
    drop(st);
    core.emit(SimEvent::ServerDeleted { id: id.to_string() });
    Resp::empty(204)
}
