//! Hybrid mode (`kiln sim --external-keystone URL`): the simulator serves Nova and Cinder for a
//! REAL Keystone and the Glance in its catalog, the way a real Nova sits behind
//! keystonemiddleware. A Nova or Cinder request whose token the simulator did not issue is
//! validated against the external Keystone ([`validate`]); its project, user and roles come from
//! Keystone's answer. A server create names images the simulator's own Glance does not hold, so
//! they are read from the Glance in the token's catalog with the caller's token ([`glance`]).
//! Everything here is async and runs before the (synchronous) service handler, which gets a
//! plain [`Token`] and the images found.

mod glance;
mod validate;

pub use validate::{CACHE_INVALID_FOR, CACHE_VALID_FOR, CALL_TIMEOUT, ExternalKeystone};

use serde_json::Value;

use super::core::Core;
use super::faults::Service;
use super::fleet::FleetImage;
use super::http::{Req, Resp, Style};
use super::state::Token;

/// Why the external cloud could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HybridError {
    /// No HTTP client could be made.
    #[error("cannot make an HTTP client for the external cloud: {0}")]
    Client(String),
    /// The call failed before an answer.
    #[error("cannot reach the external {what} at {url}: {reason}")]
    Unreachable {
        /// `Keystone` or `Glance`.
        what: &'static str,
        /// The URL called.
        url: String,
        /// Why.
        reason: String,
    },
    /// An unexpected status.
    #[error("the external {what} answered {status} to {url}")]
    Status {
        /// `Keystone` or `Glance`.
        what: &'static str,
        /// The URL called.
        url: String,
        /// Its status.
        status: u16,
    },
    /// An answer that is not what the API documents.
    #[error("the external cloud's answer is malformed: {0}")]
    Malformed(String),
}

/// What the handler of one request gets from the external cloud.
#[derive(Default)]
pub struct Prepared {
    /// The caller's token, when the external Keystone knows it.
    pub token: Option<Token>,
    /// Images the request names, as the external Glance shows them to the caller.
    pub images: Vec<FleetImage>,
    /// An answer that ends the request here (the external cloud could not be asked).
    pub answer: Option<Resp>,
}

/// The images a server create names: `imageRef` and block-device mappings from an image.
fn named_images(req: &Req) -> Vec<String> {
    let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
        return Vec::new();
    };
    let s = &body["server"];
    let mut ids: Vec<String> = s["imageRef"]
        .as_str()
        .filter(|i| !i.is_empty())
        .map(String::from)
        .into_iter()
        .collect();
    ids.extend(
        s["block_device_mapping_v2"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|b| b["source_type"] == "image")
            .filter_map(|b| b["uuid"].as_str().map(String::from)),
    );
    ids.dedup();
    ids
}

fn unavailable(e: &HybridError) -> Resp {
    Resp::error(Style::Nova, 503, &e.to_string())
}

/// Validates the token of a Nova or Cinder request against the external Keystone (unless the
/// simulator issued it) and, for a server create, reads the images it names from the external
/// Glance. Other services and requests pass through untouched.
pub async fn prepare(
    core: &Core,
    ext: &ExternalKeystone,
    service: Option<Service>,
    req: &Req,
) -> Prepared {
    let mut out = Prepared::default();
    if !matches!(service, Some(Service::Compute | Service::Volume)) {
        return out;
    }
    let Some(value) = req.header("x-auth-token") else {
        return out;
    };
    if core.token(value).is_some() {
        return out;
    }
    let token = match ext.validate(value).await {
        Ok(Some(t)) => t,
        Ok(None) => return out,
        Err(e) => {
            out.answer = Some(unavailable(&e));
            return out;
        }
    };
    let creates_server = service == Some(Service::Compute)
        && req.method == "POST"
        && req.path() == ["v2.1", "servers"];
    if creates_server {
        let glance = token.external.as_ref().and_then(|e| e.glance.clone());
        for id in named_images(req) {
            if core.lock().images.contains_key(&id) {
                continue;
            }
            let Some(glance) = &glance else { break };
            match glance::image(ext.http(), glance, value, &id).await {
                Ok(Some(img)) => out.images.push(img),
                Ok(None) => {}
                Err(e) => {
                    out.answer = Some(unavailable(&e));
                    return out;
                }
            }
        }
    }
    out.token = Some(token);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn req(body: Value) -> Req {
        Req {
            method: "POST".into(),
            segments: vec!["v2.1".into(), "servers".into()],
            query: Vec::new(),
            headers: Vec::new(),
            body: bytes::Bytes::from(body.to_string()),
            base: String::new(),
        }
    }

    #[test]
    fn a_server_create_names_its_image_and_boot_volume_images() {
        let r = req(
            json!({"server": {"imageRef": "a", "block_device_mapping_v2": [
            {"source_type": "image", "destination_type": "volume", "uuid": "b"},
            {"source_type": "volume", "uuid": "c"}]}}),
        );
        assert_eq!(named_images(&r), ["a", "b"]);
        assert!(named_images(&req(json!({"server": {"imageRef": ""}}))).is_empty());
        assert!(named_images(&req(json!("nonsense"))).is_empty());
    }
}
