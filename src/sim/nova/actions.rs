//! Nova server actions: `os-stop` (SHUTOFF after a delay), `os-start`, and `createImage` (a
//! snapshot image queued, then saving, then active; its URL in `Location`).

use std::collections::BTreeMap;

use super::{STYLE, not_found, visible};
use crate::sim::core::{Core, SimEvent};
use crate::sim::fleet::FleetImage;
use crate::sim::http::{Req, Resp};
use crate::sim::state::Token;

/// `POST /servers/{id}/action`.
pub(super) fn action(core: &Core, req: &Req, t: &Token, id: &str) -> Resp {
    let body = match req.json() {
        Ok(b) => b,
        Err(r) => return r,
    };
    let now = core.now();
    let mut st = core.lock();
    let Some(server) = visible(&st.servers, id, t, core).cloned() else {
        return not_found(id);
    };
    let status = server.status(now).to_string();
    if body.get("os-stop").is_some() {
        if status != "ACTIVE" {
            return Resp::error(
                STYLE,
                409,
                &format!(
                    "Cannot 'stop' instance {id} while it is in vm_state {}",
                    status.to_lowercase()
                ),
            );
        }
        let at = now + chrono::Duration::from_std(core.timings.server_stop).unwrap_or_default();
        if let Some(s) = st.servers.get_mut(id) {
            s.stop_at = Some(at);
            s.updated_at = now;
        }
        return Resp::empty(202);
    }
    if body.get("os-start").is_some() {
        if status != "SHUTOFF" {
            return Resp::error(
                STYLE,
                409,
                &format!(
                    "Cannot 'start' instance {id} while it is in vm_state {}",
                    status.to_lowercase()
                ),
            );
        }
        if let Some(s) = st.servers.get_mut(id) {
            s.stop_at = None;
            s.base.status = "ACTIVE".into();
        }
        return Resp::empty(202);
    }
    if let Some(ci) = body.get("createImage") {
        let Some(name) = ci["name"].as_str() else {
            return Resp::bad_request(
                STYLE,
                "Invalid input for field/attribute createImage. Value: 'name' is a required property",
            );
        };
        if status == "BUILD" {
            return Resp::error(
                STYLE,
                409,
                &format!("Cannot 'createImage' instance {id} while it is in vm_state building"),
            );
        }
        let image_id = st.rng.uuid();
        let mut properties: BTreeMap<String, String> = ci["metadata"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        properties.insert("image_type".into(), "snapshot".into());
        properties.insert("instance_uuid".into(), id.to_string());
        if let Some(base) = &server.base.image_id {
            properties.insert("base_image_ref".into(), base.clone());
        }
        let save = chrono::Duration::from_std(core.timings.image_save).unwrap_or_default();
        st.images.insert(
            image_id.clone(),
            FleetImage {
                id: image_id.clone(),
                name: name.to_string(),
                status: "queued".into(),
                visibility: "private".into(),
                protected: false,
                owner: server.base.project_id.clone(),
                created_at: now,
                updated_at: now,
                size: None,
                disk_format: "qcow2".into(),
                container_format: "bare".into(),
                checksum: None,
                tags: Vec::new(),
                properties,
            },
        );
        st.image_timeline.insert(
            image_id.clone(),
            vec![(now + save / 4, "saving"), (now + save, "active")],
        );
        drop(st);
        core.emit(SimEvent::ImageCreated {
            id: image_id.clone(),
            name: name.to_string(),
        });
        return Resp::empty(202).with_header(
            "location",
            format!("{}/image/v2/images/{image_id}", core.base),
        );
    }
    Resp::bad_request(
        STYLE,
        "There is no such action in the simulator: use os-stop, os-start or createImage.",
    )
}
