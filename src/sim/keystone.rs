//! Keystone v3: version documents, password and application-credential auth with project or
//! domain scope, tokens in `X-Subject-Token` with an expiry, the catalog (without the services
//! the fault knobs removed), token validation, and the project list.

use chrono::SecondsFormat;
use serde_json::{Value, json};

use super::core::Core;
use super::faults::Service;
use super::http::{Req, Resp, Style};
use super::secret::random_hex;
use super::state::Token;

const STYLE: Style = Style::Keystone;
const DOMAIN_ID: &str = "default";
const DOMAIN_NAME: &str = "Default";

fn ts(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn version_doc(core: &Core) -> Value {
    json!({
        "id": "v3.14",
        "status": "stable",
        "updated": "2020-04-07T00:00:00Z",
        "links": [{"rel": "self", "href": format!("{}/", core.auth_url())}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}],
    })
}

/// Handles `/identity/...`.
pub fn handle(core: &Core, req: &Req) -> Resp {
    let path = req.path();
    match (req.method.as_str(), path.as_slice()) {
        ("GET", []) => Resp::json(300, &json!({"versions": {"values": [version_doc(core)]}})),
        ("GET", ["v3"]) => Resp::json(200, &json!({"version": version_doc(core)})),
        ("POST", ["v3", "auth", "tokens"]) => issue(core, req),
        ("GET", ["v3", "auth", "tokens"]) => validate(core, req),
        ("GET", ["v3", "projects"]) | ("GET", ["v3", "auth", "projects"]) => projects(core, req),
        _ => match authed(core, req) {
            Err(r) => r,
            Ok(_) => Resp::not_found(STYLE, "The resource could not be found."),
        },
    }
}

fn authed(core: &Core, req: &Req) -> Result<Token, Resp> {
    req.header("x-auth-token")
        .and_then(|v| core.token(v))
        .ok_or_else(|| Resp::unauthorized(STYLE, &core.base))
}

fn id_or_name(v: &Value) -> (Option<&str>, Option<&str>) {
    (v["id"].as_str(), v["name"].as_str())
}

fn domain_ok(v: &Value) -> bool {
    match id_or_name(&v["domain"]) {
        (Some(id), _) => id == DOMAIN_ID,
        (None, Some(name)) => name == DOMAIN_NAME,
        (None, None) => v["id"].is_string(), // a user or project by id needs no domain
    }
}

fn find_user(core: &Core, user: &Value) -> Option<usize> {
    if !domain_ok(user) {
        return None;
    }
    let (id, name) = id_or_name(user);
    core.fleet
        .users
        .iter()
        .position(|u| Some(u.id.as_str()) == id || (id.is_none() && Some(u.name.as_str()) == name))
}

fn unauthorized() -> Resp {
    Resp::error(
        STYLE,
        401,
        "The request you have made requires authentication.",
    )
}

fn issue(core: &Core, req: &Req) -> Resp {
    let body = match req.json() {
        Ok(b) => b,
        Err(_) => return Resp::bad_request(STYLE, "Malformed request body."),
    };
    let identity = &body["auth"]["identity"];
    let Some(methods) = identity["methods"].as_array() else {
        return Resp::bad_request(STYLE, "'methods' is a required property");
    };
    let methods: Vec<String> = methods
        .iter()
        .filter_map(|m| m.as_str().map(String::from))
        .collect();
    let (user, app_cred_project) = match methods.first().map(String::as_str) {
        Some("password") => {
            let u = &identity["password"]["user"];
            let Some(i) = find_user(core, u) else {
                return unauthorized();
            };
            if u["password"].as_str() != Some(core.secrets[i].password.as_str()) {
                return unauthorized();
            }
            (i, None)
        }
        Some("application_credential") => {
            let ac = &identity["application_credential"];
            let found = core.secrets.iter().position(|s| {
                Some(s.app_cred.0.as_str()) == ac["id"].as_str()
                    || (ac["id"].is_null() && ac["name"].as_str() == Some("kiln-sim"))
            });
            let Some(i) = found else {
                return unauthorized();
            };
            if ac["id"].is_null() && find_user(core, &ac["user"]) != Some(i) {
                return unauthorized();
            }
            if ac["secret"].as_str() != Some(core.secrets[i].app_cred.1.as_str()) {
                return unauthorized();
            }
            let project = core
                .fleet
                .projects
                .iter()
                .position(|p| p.id == core.fleet.users[i].project_id);
            (i, project)
        }
        Some("token") => {
            let Some(t) = identity["token"]["id"].as_str().and_then(|v| core.token(v)) else {
                return unauthorized();
            };
            (t.user, None)
        }
        _ => return Resp::bad_request(STYLE, "Unsupported authentication method."),
    };
    let scope = &body["auth"]["scope"];
    let (project, domain_scoped) = if let Some(p) = app_cred_project {
        if !scope.is_null() {
            return Resp::error(
                STYLE,
                401,
                "Application credentials cannot request a scope.",
            );
        }
        (Some(p), false)
    } else if scope["project"].is_object() {
        let p = &scope["project"];
        let (id, name) = id_or_name(p);
        let found = core.fleet.projects.iter().position(|x| {
            Some(x.id.as_str()) == id || (id.is_none() && Some(x.name.as_str()) == name)
        });
        let user = &core.fleet.users[user];
        match found {
            Some(i)
                if domain_ok(p) && (user.admin || core.fleet.projects[i].id == user.project_id) =>
            {
                (Some(i), false)
            }
            _ => {
                return Resp::error(
                    STYLE,
                    401,
                    "User has no access to project (or the project does not exist).",
                );
            }
        }
    } else if scope["domain"].is_object() {
        (None, true)
    } else {
        (None, false)
    };
    let now = core.now();
    let ttl =
        chrono::Duration::from_std(core.faults.token_ttl()).unwrap_or(chrono::Duration::hours(1));
    let value = format!("gAAAAA{}", random_hex(120));
    let mut st = core.lock();
    let token = Token {
        serial: st.token_serial,
        user,
        project,
        domain_scoped,
        issued_at: now,
        expires_at: now + ttl,
        methods,
        admin: core.fleet.users[user].admin,
        external: None,
    };
    st.token_serial += 1;
    st.tokens.insert(value.clone(), token.clone());
    drop(st);
    Resp::json(201, &json!({"token": token_body(core, &token)}))
        .with_header("x-subject-token", value)
}

fn token_body(core: &Core, t: &Token) -> Value {
    let user = &core.fleet.users[t.user];
    let roles: Vec<Value> = if t.admin {
        vec![
            json!({"id": "r-admin", "name": "admin"}),
            json!({"id": "r-member", "name": "member"}),
            json!({"id": "r-reader", "name": "reader"}),
        ]
    } else {
        vec![
            json!({"id": "r-member", "name": "member"}),
            json!({"id": "r-reader", "name": "reader"}),
        ]
    };
    let mut body = json!({
        "methods": t.methods,
        "user": {
            "id": user.id,
            "name": user.name,
            "domain": {"id": DOMAIN_ID, "name": DOMAIN_NAME},
            "password_expires_at": null,
        },
        "audit_ids": [random_hex(22)],
        "expires_at": ts(t.expires_at),
        "issued_at": ts(t.issued_at),
    });
    if let Some(p) = t.project {
        let p = &core.fleet.projects[p];
        body["project"] = json!({
            "id": p.id, "name": p.name, "domain": {"id": DOMAIN_ID, "name": DOMAIN_NAME},
        });
        body["is_domain"] = json!(false);
    }
    if t.domain_scoped {
        body["domain"] = json!({"id": DOMAIN_ID, "name": DOMAIN_NAME});
    }
    if t.project.is_some() || t.domain_scoped {
        body["roles"] = json!(roles);
        body["catalog"] = catalog(core, core.project_id(t));
    }
    body
}

/// The catalog for a token of `project_id`, without the services the fault knobs removed.
pub fn catalog(core: &Core, project_id: &str) -> Value {
    let entries: Vec<Value> = Service::ALL
        .iter()
        .filter(|s| !core.faults.is_missing(**s))
        .map(|s| {
            let url = match s {
                Service::Identity => core.auth_url(),
                Service::Compute => format!("{}/compute/v2.1", core.base),
                Service::Volume => format!("{}/volume/v3/{project_id}", core.base),
                other => format!("{}/{}", core.base, other.path()),
            };
            let endpoints: Vec<Value> = ["public", "internal", "admin"]
                .iter()
                .enumerate()
                .map(|(i, iface)| {
                    json!({
                        "id": format!("{}{i}", &s.name()),
                        "interface": iface,
                        "region_id": core.region,
                        "region": core.region,
                        "url": url,
                    })
                })
                .collect();
            json!({"id": s.name(), "type": s.catalog_type(), "name": s.name(), "endpoints": endpoints})
        })
        .collect();
    Value::Array(entries)
}

fn validate(core: &Core, req: &Req) -> Resp {
    if let Err(r) = authed(core, req) {
        return r;
    }
    let subject = req.header("x-subject-token").and_then(|v| core.token(v));
    match subject {
        Some(t) => Resp::json(200, &json!({"token": token_body(core, &t)})).with_header(
            "x-subject-token",
            req.header("x-subject-token")
                .unwrap_or_default()
                .to_string(),
        ),
        None => Resp::not_found(STYLE, "Could not find token."),
    }
}

fn projects(core: &Core, req: &Req) -> Resp {
    let t = match authed(core, req) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let user = &core.fleet.users[t.user];
    let list: Vec<Value> = core
        .fleet
        .projects
        .iter()
        .filter(|p| user.admin || p.id == user.project_id)
        .map(|p| {
            json!({"id": p.id, "name": p.name, "domain_id": DOMAIN_ID, "enabled": true,
                   "is_domain": false, "parent_id": DOMAIN_ID, "description": "", "tags": []})
        })
        .collect();
    Resp::json(
        200,
        &json!({"projects": list, "links": {"self": null, "next": null, "previous": null}}),
    )
}
