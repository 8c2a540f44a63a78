//! "In use": Nova servers per image (all projects when the token allows it, else the token's
//! project) and Cinder volumes whose `volume_image_metadata` names the image (boot from volume),
//! each fetched once per listing, paginated, the two concurrently. The result says which scope
//! was used, and why it is unknown when a service could not be asked.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::CloudError;
use super::images::marker_of;
use super::session::{CloudSession, Svc};

/// How much of the cloud a usage lookup saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageScope {
    /// Every project (an admin token).
    AllProjects,
    /// Only the token's project: images other projects can see may be in use there.
    Project,
    /// The service could not be asked (no endpoint, 403, an error): nothing is proven unused.
    Unknown,
}

impl UsageScope {
    /// The narrower of two scopes (unknown < project < all projects).
    pub fn min(self, other: UsageScope) -> UsageScope {
        use UsageScope::*;
        match (self, other) {
            (Unknown, _) | (_, Unknown) => Unknown,
            (Project, _) | (_, Project) => Project,
            _ => AllProjects,
        }
    }
}

/// A server that uses an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerRef {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Project.
    pub project_id: String,
    /// Status.
    pub status: String,
    /// Its addresses, floating ones first, IPv4 before IPv6 (empty while building).
    pub addresses: Vec<String>,
}

/// A volume created from an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VolumeRef {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Project (when the API shows it: admins only).
    pub project_id: Option<String>,
    /// Status.
    pub status: String,
    /// Servers it is attached to.
    pub attached_to: Vec<String>,
}

/// Usage of every image, from one look at Nova and one at Cinder.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Usage {
    /// The narrower of the two scopes.
    pub scope: UsageScope,
    /// Nova's scope.
    pub servers_scope: UsageScope,
    /// Cinder's scope.
    pub volumes_scope: UsageScope,
    /// Servers by image id.
    pub servers: BTreeMap<String, Vec<ServerRef>>,
    /// Volumes by image id.
    pub volumes: BTreeMap<String, Vec<VolumeRef>>,
    /// Servers booted from a volume (no image of their own), by id: their volume names the
    /// image.
    pub volume_booted: BTreeMap<String, ServerRef>,
    /// Why a scope is unknown (the failed calls).
    #[serde(skip)]
    pub errors: Vec<CloudError>,
}

impl Usage {
    /// (servers, volumes) using `image_id`.
    pub fn count(&self, image_id: &str) -> (usize, usize) {
        (
            self.servers.get(image_id).map_or(0, Vec::len),
            self.volumes.get(image_id).map_or(0, Vec::len),
        )
    }
}

/// One page of Nova's `GET /servers/detail`.
#[derive(Deserialize)]
pub(crate) struct ServerPage {
    pub(crate) servers: Vec<RawServer>,
    #[serde(default)]
    pub(crate) servers_links: Vec<Link>,
}

/// One page of Cinder's `GET /volumes/detail`.
#[derive(Deserialize)]
pub(crate) struct VolumePage {
    pub(crate) volumes: Vec<RawVolume>,
    #[serde(default)]
    pub(crate) volumes_links: Vec<Link>,
}

#[derive(Deserialize)]
pub(crate) struct Link {
    rel: String,
    href: String,
}

#[derive(Deserialize)]
pub(crate) struct RawServer {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    tenant_id: String,
    #[serde(default)]
    status: String,
    /// `{"id": ...}`, or `""` for boot from volume.
    #[serde(default)]
    image: Value,
    /// Network name -> addresses.
    #[serde(default)]
    addresses: BTreeMap<String, Vec<RawAddress>>,
}

#[derive(Deserialize)]
struct RawAddress {
    addr: String,
    #[serde(default)]
    version: Option<u8>,
    #[serde(default, rename = "OS-EXT-IPS:type")]
    kind: Option<String>,
}

/// A server's addresses: floating first, then IPv4 before IPv6, each once.
fn addresses(raw: BTreeMap<String, Vec<RawAddress>>) -> Vec<String> {
    let mut all: Vec<RawAddress> = raw.into_values().flatten().collect();
    all.sort_by_key(|a| (a.kind.as_deref() != Some("floating"), a.version == Some(6)));
    let mut out: Vec<String> = Vec::new();
    for a in all {
        if !out.contains(&a.addr) {
            out.push(a.addr);
        }
    }
    out
}

#[derive(Deserialize)]
pub(crate) struct RawVolume {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    status: String,
    #[serde(default, rename = "os-vol-tenant-attr:tenant_id")]
    tenant: Option<String>,
    #[serde(default)]
    volume_image_metadata: Option<BTreeMap<String, Value>>,
    #[serde(default)]
    attachments: Vec<Attachment>,
}

#[derive(Deserialize)]
struct Attachment {
    #[serde(default)]
    server_id: Option<String>,
}

/// The marker of a page's `next` link.
pub(crate) fn next_marker(links: &[Link]) -> Option<String> {
    links
        .iter()
        .find(|l| l.rel == "next")
        .and_then(|l| marker_of(&l.href))
}

async fn all_servers(s: &CloudSession, all_projects: bool) -> Result<Vec<RawServer>, CloudError> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let mut q = vec![("limit".to_string(), "1000".to_string())];
        if all_projects {
            q.push(("all_tenants".into(), "1".into()));
        }
        if let Some(m) = &marker {
            q.push(("marker".into(), m.clone()));
        }
        let p: ServerPage = s.get_json(Svc::Nova, "/servers/detail", &q).await?;
        let n = p.servers.len();
        out.extend(p.servers);
        match next_marker(&p.servers_links) {
            Some(m) if n > 0 && Some(&m) != marker.as_ref() => marker = Some(m),
            _ => return Ok(out),
        }
    }
}

async fn all_volumes(s: &CloudSession, all_projects: bool) -> Result<Vec<RawVolume>, CloudError> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let mut q = vec![("limit".to_string(), "1000".to_string())];
        if all_projects {
            q.push(("all_tenants".into(), "1".into()));
        }
        if let Some(m) = &marker {
            q.push(("marker".into(), m.clone()));
        }
        let p: VolumePage = s.get_json(Svc::Cinder, "/volumes/detail", &q).await?;
        let n = p.volumes.len();
        out.extend(p.volumes);
        match next_marker(&p.volumes_links) {
            Some(m) if n > 0 && Some(&m) != marker.as_ref() => marker = Some(m),
            _ => return Ok(out),
        }
    }
}

/// Servers by image: all projects when Nova allows it (a 403 falls back to the project).
async fn servers(
    s: &CloudSession,
    errors: &mut Vec<CloudError>,
) -> (
    UsageScope,
    BTreeMap<String, Vec<ServerRef>>,
    BTreeMap<String, ServerRef>,
) {
    let (scope, list) = match all_servers(s, true).await {
        Ok(l) => (UsageScope::AllProjects, l),
        Err(e) if e.status() == Some(403) => match all_servers(s, false).await {
            Ok(l) => (UsageScope::Project, l),
            Err(e) => {
                errors.push(e);
                return (UsageScope::Unknown, BTreeMap::new(), BTreeMap::new());
            }
        },
        Err(e) => {
            errors.push(e);
            return (UsageScope::Unknown, BTreeMap::new(), BTreeMap::new());
        }
    };
    let (by, volume_booted) = servers_by_image(list);
    (scope, by, volume_booted)
}

/// Servers by image id, and the servers booted from a volume (`image` is `""`, or has no id)
/// by server id.
pub(crate) fn servers_by_image(
    list: Vec<RawServer>,
) -> (
    BTreeMap<String, Vec<ServerRef>>,
    BTreeMap<String, ServerRef>,
) {
    let mut by: BTreeMap<String, Vec<ServerRef>> = BTreeMap::new();
    let mut volume_booted = BTreeMap::new();
    for srv in list {
        let image = srv
            .image
            .get("id")
            .and_then(Value::as_str)
            .filter(|i| !i.is_empty())
            .map(str::to_string);
        let server = ServerRef {
            id: srv.id,
            name: srv.name,
            project_id: srv.tenant_id,
            status: srv.status,
            addresses: addresses(srv.addresses),
        };
        match image {
            Some(image) => by.entry(image).or_default().push(server),
            None => {
                volume_booted.insert(server.id.clone(), server);
            }
        }
    }
    (by, volume_booted)
}

/// Volumes by source image. Cinder silently ignores `all_tenants` for non-admins, so the scope
/// comes from the token's roles, not from the answer.
async fn volumes(
    s: &CloudSession,
    admin: bool,
    errors: &mut Vec<CloudError>,
) -> (UsageScope, BTreeMap<String, Vec<VolumeRef>>) {
    let list = match all_volumes(s, admin).await {
        Ok(l) => l,
        Err(e) => {
            errors.push(e);
            return (UsageScope::Unknown, BTreeMap::new());
        }
    };
    (
        if admin {
            UsageScope::AllProjects
        } else {
            UsageScope::Project
        },
        volumes_by_image(list),
    )
}

/// Volumes by the image their `volume_image_metadata` names (others are left out).
pub(crate) fn volumes_by_image(list: Vec<RawVolume>) -> BTreeMap<String, Vec<VolumeRef>> {
    let mut by: BTreeMap<String, Vec<VolumeRef>> = BTreeMap::new();
    for v in list {
        let Some(image) = v
            .volume_image_metadata
            .as_ref()
            .and_then(|m| m.get("image_id"))
            .and_then(Value::as_str)
            .map(String::from)
        else {
            continue;
        };
        by.entry(image).or_default().push(VolumeRef {
            id: v.id,
            name: v.name.unwrap_or_default(),
            project_id: v.tenant,
            status: v.status,
            attached_to: v
                .attachments
                .into_iter()
                .filter_map(|a| a.server_id)
                .collect(),
        });
    }
    by
}

/// Usage of every image, Nova and Cinder asked concurrently, once each.
pub async fn usage(s: &CloudSession) -> Usage {
    let admin = s.token_info().await.is_some_and(|t| t.is_admin());
    let mut nova_errors = Vec::new();
    let mut cinder_errors = Vec::new();
    let ((servers_scope, servers, volume_booted), (volumes_scope, volumes)) = tokio::join!(
        servers(s, &mut nova_errors),
        volumes(s, admin, &mut cinder_errors)
    );
    nova_errors.extend(cinder_errors);
    Usage {
        scope: servers_scope.min(volumes_scope),
        servers_scope,
        volumes_scope,
        servers,
        volumes,
        volume_booted,
        errors: nova_errors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_floating_first_then_ipv4_each_once() {
        let raw: BTreeMap<String, Vec<RawAddress>> = serde_json::from_value(serde_json::json!({
            "a-net": [
                {"addr": "fd00::5", "version": 6, "OS-EXT-IPS:type": "fixed"},
                {"addr": "10.0.0.5", "version": 4, "OS-EXT-IPS:type": "fixed"}
            ],
            "b-net": [
                {"addr": "203.0.113.9", "version": 4, "OS-EXT-IPS:type": "floating"},
                {"addr": "10.0.0.5", "version": 4}
            ]
        }))
        .unwrap();
        assert_eq!(addresses(raw), ["203.0.113.9", "10.0.0.5", "fd00::5"]);
        assert!(addresses(BTreeMap::new()).is_empty());
    }

    #[test]
    fn scopes_combine_to_the_narrowest_and_serialize_as_the_contract_says() {
        use UsageScope::*;
        assert_eq!(AllProjects.min(AllProjects), AllProjects);
        assert_eq!(AllProjects.min(Project), Project);
        assert_eq!(Project.min(Unknown), Unknown);
        assert_eq!(
            serde_json::to_string(&AllProjects).unwrap(),
            "\"all_projects\""
        );
        assert_eq!(serde_json::to_string(&Unknown).unwrap(), "\"unknown\"");
    }
}
