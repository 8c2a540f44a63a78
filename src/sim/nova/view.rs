//! A Nova server and flavor as the compute API 2.1 shows them.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::sim::core::Core;
use crate::sim::fleet::Flavor;
use crate::sim::state::SimServer;

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Self and bookmark links of a resource.
pub fn links(core: &Core, kind: &str, id: &str) -> Value {
    json!([
        {"rel": "self", "href": format!("{}/compute/v2.1/{kind}/{id}", core.base)},
        {"rel": "bookmark", "href": format!("{}/compute/{kind}/{id}", core.base)},
    ])
}

/// A flavor (detail view).
pub fn flavor(core: &Core, f: &Flavor) -> Value {
    json!({
        "id": f.id, "name": f.name, "vcpus": f.vcpus, "ram": f.ram_mb, "disk": f.disk_gb,
        "OS-FLV-EXT-DATA:ephemeral": 0, "swap": "", "rxtx_factor": 1.0,
        "os-flavor-access:is_public": true, "OS-FLV-DISABLED:disabled": false,
        "links": links(core, "flavors", &f.id),
    })
}

fn mac(id: &str) -> String {
    let h: Vec<&str> = [&id[0..2], &id[2..4], &id[4..6]].to_vec();
    format!("fa:16:3e:{}", h.join(":"))
}

/// A server (detail view) at `now`.
pub fn server(core: &Core, s: &SimServer, now: DateTime<Utc>, admin: bool) -> Value {
    let status = s.status(now);
    let (vm_state, power) = match status {
        "BUILD" => ("building", 0),
        "SHUTOFF" => ("stopped", 4),
        "ERROR" => ("error", 0),
        _ => ("active", 1),
    };
    let image = match &s.base.image_id {
        Some(id) => {
            json!({"id": id, "links": [{"rel": "bookmark", "href": format!("{}/compute/images/{id}", core.base)}]})
        }
        None => json!(""),
    };
    let (net, ip) = &s.base.address;
    let ip = s
        .ssh
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| ip.clone());
    let mut v = json!({
        "id": s.base.id,
        "name": s.base.name,
        "status": status,
        "tenant_id": s.base.project_id,
        "user_id": s.base.user_id,
        "metadata": s.metadata,
        "hostId": format!("{:x}", s.base.project_id.len() * 7919),
        "image": image,
        "flavor": {"id": s.base.flavor_id, "links": [{"rel": "bookmark", "href": format!("{}/compute/flavors/{}", core.base, s.base.flavor_id)}]},
        "created": ts(s.base.created_at),
        "updated": ts(s.updated_at),
        "addresses": if status == "BUILD" { json!({}) } else { json!({ net.as_str(): [{
            "version": 4, "addr": ip, "OS-EXT-IPS:type": "fixed",
            "OS-EXT-IPS-MAC:mac_addr": mac(&s.base.id),
        }]}) },
        "accessIPv4": "",
        "accessIPv6": "",
        "links": links(core, "servers", &s.base.id),
        "OS-DCF:diskConfig": "MANUAL",
        "progress": 0,
        "OS-EXT-AZ:availability_zone": "nova",
        "config_drive": "",
        "key_name": s.key_name,
        "OS-SRV-USG:launched_at": if status == "BUILD" { Value::Null } else { json!(ts(s.base.created_at)) },
        "OS-SRV-USG:terminated_at": null,
        "security_groups": [{"name": "default"}],
        "OS-EXT-STS:task_state": s.task_state(now),
        "OS-EXT-STS:vm_state": vm_state,
        "OS-EXT-STS:power_state": power,
        "os-extended-volumes:volumes_attached": s.base.volumes.iter().map(|id| json!({"id": id})).collect::<Vec<_>>(),
    });
    if admin {
        v["OS-EXT-SRV-ATTR:host"] = json!("sim-compute-1");
        v["OS-EXT-SRV-ATTR:hypervisor_hostname"] = json!("sim-compute-1");
        v["OS-EXT-SRV-ATTR:instance_name"] = json!(format!("instance-{}", &s.base.id[..8]));
    }
    v
}
