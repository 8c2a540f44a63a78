//! Neutron v2.0, as much as Packer's openstack builder and the openstack CLI use: networks
//! (list with `name`/`id`/`router:external` filters, show), one port per server (by
//! `device_id`), floating IPs (list, create, associate, delete) and an empty extension list.

use serde_json::{Value, json};

use super::core::Core;
use super::fleet::Network;
use super::http::{Req, Resp, Style};
use super::state::{FloatingIp, Token};

const STYLE: Style = Style::Neutron;

/// Handles `/network/...`.
pub fn handle(core: &Core, req: &Req, token: Option<&Token>) -> Resp {
    let path = req.path();
    if let ("GET", []) = (req.method.as_str(), path.as_slice()) {
        return Resp::json(
            200,
            &json!({"versions": [{"id": "v2.0", "status": "CURRENT",
            "links": [{"rel": "self", "href": format!("{}/network/v2.0/", core.base)}]}]}),
        );
    }
    let Some(t) = token else {
        return Resp::unauthorized(STYLE, &core.base);
    };
    let project = core.project_id(t).to_string();
    match (req.method.as_str(), path.as_slice()) {
        ("GET", ["v2.0", "extensions"]) => Resp::json(200, &json!({"extensions": []})),
        ("GET", ["v2.0", "networks"]) => {
            let list: Vec<Value> = core
                .fleet
                .networks
                .iter()
                .filter(|n| req.q("name").is_none_or(|x| n.name == x))
                .filter(|n| req.q("id").is_none_or(|x| n.id == x))
                .filter(|n| {
                    req.q("router:external")
                        .is_none_or(|x| n.external.to_string() == x.to_ascii_lowercase())
                })
                .map(network)
                .collect();
            Resp::json(200, &json!({"networks": list}))
        }
        ("GET", ["v2.0", "networks", id]) => match core.fleet.networks.iter().find(|n| n.id == *id)
        {
            Some(n) => Resp::json(200, &json!({"network": network(n)})),
            None => Resp::not_found(STYLE, &format!("Network {id} could not be found.")),
        },
        ("GET", ["v2.0", "ports"]) => {
            let st = core.lock();
            let list: Vec<Value> = st
                .servers
                .values()
                .filter(|s| req.q("device_id").is_none_or(|d| s.base.id == d))
                .filter(|s| t.admin || s.base.project_id == project)
                .map(|s| {
                    json!({"id": format!("p{}", &s.base.id[1..]), "device_id": s.base.id,
                    "network_id": core.fleet.networks[0].id, "status": "ACTIVE",
                    "fixed_ips": [{"ip_address": s.base.address.1}]})
                })
                .collect();
            Resp::json(200, &json!({"ports": list}))
        }
        ("GET", ["v2.0", "floatingips"]) => {
            let st = core.lock();
            let list: Vec<Value> = st
                .floating_ips
                .values()
                .filter(|f| t.admin || f.project_id == project)
                .filter(|f| {
                    req.q("floating_network_id")
                        .is_none_or(|n| f.network_id == n)
                })
                .filter(|f| {
                    req.q("port_id")
                        .is_none_or(|p| f.port_id.as_deref() == Some(p))
                })
                .map(fip)
                .collect();
            Resp::json(200, &json!({"floatingips": list}))
        }
        ("POST", ["v2.0", "floatingips"]) => {
            let body = match req.json() {
                Ok(b) => b,
                Err(r) => return r,
            };
            let f = &body["floatingip"];
            let Some(net) = f["floating_network_id"].as_str() else {
                return Resp::bad_request(STYLE, "floating_network_id is required");
            };
            let Some(ext) = core
                .fleet
                .networks
                .iter()
                .find(|n| n.id == net && n.external)
            else {
                return Resp::not_found(
                    STYLE,
                    &format!("External network {net} could not be found."),
                );
            };
            let mut st = core.lock();
            let n = st.floating_ips.len() + 10;
            let ip = FloatingIp {
                id: st.rng.uuid(),
                address: format!("{}.{}", ext.prefix, n % 250),
                network_id: net.into(),
                project_id: project,
                port_id: f["port_id"].as_str().map(String::from),
            };
            let out = json!({"floatingip": fip(&ip)});
            st.floating_ips.insert(ip.id.clone(), ip);
            Resp::json(201, &out)
        }
        ("PUT", ["v2.0", "floatingips", id]) => {
            let body = match req.json() {
                Ok(b) => b,
                Err(r) => return r,
            };
            let mut st = core.lock();
            match st.floating_ips.get_mut(*id) {
                Some(f) => {
                    f.port_id = body["floatingip"]["port_id"].as_str().map(String::from);
                    Resp::json(200, &json!({"floatingip": fip(f)}))
                }
                None => Resp::not_found(STYLE, &format!("Floating IP {id} could not be found")),
            }
        }
        ("DELETE", ["v2.0", "floatingips", id]) => match core.lock().floating_ips.remove(*id) {
            Some(_) => Resp::empty(204),
            None => Resp::not_found(STYLE, &format!("Floating IP {id} could not be found")),
        },
        _ => Resp::not_found(STYLE, "The resource could not be found."),
    }
}

fn network(n: &Network) -> Value {
    json!({"id": n.id, "name": n.name, "status": "ACTIVE", "admin_state_up": true,
           "router:external": n.external, "shared": n.external, "project_id": n.project_id,
           "tenant_id": n.project_id, "subnets": [format!("s{}", &n.id[1..])], "mtu": 1450})
}

fn fip(f: &FloatingIp) -> Value {
    json!({"id": f.id, "floating_ip_address": f.address, "floating_network_id": f.network_id,
           "project_id": f.project_id, "tenant_id": f.project_id, "port_id": f.port_id,
           "status": if f.port_id.is_some() { "ACTIVE" } else { "DOWN" },
           "fixed_ip_address": null, "router_id": null})
}
