//! Nova keypairs: list, create (with the client's public key, or generated: Ed25519 with its
//! private key returned once, as Packer's temporary keypair needs), delete.

use serde_json::{Value, json};

use super::STYLE;
use crate::sim::core::Core;
use crate::sim::http::{Req, Resp};
use crate::sim::state::{Keypair, Token};

/// `GET /os-keypairs`.
pub(super) fn list(core: &Core, t: &Token) -> Resp {
    let st = core.lock();
    let uid = core.user_id(t);
    let list: Vec<Value> = st
        .keypairs
        .values()
        .filter(|k| k.user_id == uid)
        .map(|k| json!({"keypair": {"name": k.name, "public_key": k.public_key, "fingerprint": k.fingerprint}}))
        .collect();
    Resp::json(200, &json!({"keypairs": list}))
}

/// `DELETE /os-keypairs/{name}`.
pub(super) fn delete(core: &Core, t: &Token, name: &str) -> Resp {
    let mut st = core.lock();
    let uid = core.user_id(t).to_string();
    match st.keypairs.get(name) {
        Some(k) if k.user_id == uid => {
            st.keypairs.remove(name);
            Resp::empty(202)
        }
        _ => Resp::not_found(STYLE, &format!("Keypair {name} not found for user {uid}")),
    }
}

/// `POST /os-keypairs`.
pub(super) fn create(core: &Core, req: &Req, t: &Token) -> Resp {
    let body = match req.json() {
        Ok(b) => b,
        Err(r) => return r,
    };
    let k = &body["keypair"];
    let Some(name) = k["name"].as_str() else {
        return Resp::bad_request(STYLE, "'name' is a required property");
    };
    let (private_key, public_key, generated_fp) =
        match k["public_key"].as_str().filter(|p| !p.is_empty()) {
            Some(p) => (None, p.to_string(), None),
            None => match crate::sim::keygen::generate(name) {
                Some((private, public, fp)) => (Some(private), public, Some(fp)),
                None => return Resp::error(STYLE, 500, "key generation failed"),
            },
        };
    let mut st = core.lock();
    if st.keypairs.contains_key(name) {
        return Resp::error(STYLE, 409, &format!("Key pair '{name}' already exists."));
    }
    let fingerprint = generated_fp.unwrap_or_else(|| {
        let fp = st.rng.hex(32);
        fp.as_bytes()
            .chunks(2)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join(":")
    });
    let kp = Keypair {
        name: name.into(),
        public_key,
        fingerprint,
        user_id: core.user_id(t).into(),
    };
    let mut out = json!({"keypair": {"name": kp.name, "public_key": kp.public_key,
        "fingerprint": kp.fingerprint, "user_id": kp.user_id, "type": "ssh"}});
    if let Some(p) = private_key {
        out["keypair"]["private_key"] = json!(p);
    }
    st.keypairs.insert(name.into(), kp);
    Resp::json(200, &out)
}
