//! Entry points for fuzzing kiln's parsers of untrusted input: the fuzz targets
//! (`tests/fuzz/`, cargo-fuzz on nightly) and the replay of their corpora on stable
//! (`tests/fuzz_replay.rs`) call the same functions, so what the fuzzer found stays tested.
//! Each takes raw bytes and must never panic, hang or allocate without bound.

use std::path::Path;

/// packer's machine-readable output: every line parsed and routed to stages, then the build
/// finished, as a session would.
pub fn machine_readable(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let at = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
    let mut router = crate::bake::router::StageRouter::new(
        crate::bake::plan::StagePlan::new(crate::bake::plan::PIPELINE_SCRIPTS),
        at,
    );
    let mut state = crate::bake::state::BuildState::new(router.plan(), at);
    let mut events = Vec::new();
    for line in text.lines() {
        let _ = crate::bake::machine_readable::parse_line(line);
        router.route_stdout(line, at, &mut events);
        router.route_stderr(line, at, &mut events);
    }
    router.finish(crate::bake::router::Ending::default(), at, &mut events);
    for e in &events {
        state.apply(e);
        let _ = e.to_json(&|id| router.plan().name(id).to_string());
    }
}

/// An image manifest.
pub fn manifest(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(m) = crate::manifest::ImageManifest::parse(&text, "fuzz") {
        let _ = m.prepull_failures();
    }
}

/// A config file and a theme file.
pub fn config_and_theme(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = crate::settings::config::Config::parse(&text, Path::new("fuzz.toml"));
    let _ = crate::theme::Theme::from_text("fuzz", &text, "fuzz.toml", false);
    let _ = crate::bake::template::variables_without_default(&text);
    let _ = crate::bake::template::var_file_keys(&text);
    let _ = crate::bake::plan::scripts_in_template(&text);
}

/// A clouds.yaml: the first line names the cloud, the rest is the file. Read as the reader does
/// (the quick look for the name, then the cloud itself), and the same text taken as `KEY=VALUE`
/// lines of an environment (a sourced openrc, `OS_CLOUD` and the search path).
pub fn clouds_yaml(data: &[u8]) {
    use crate::cloud::{clouds_yaml, credentials, env};
    let text = String::from_utf8_lossy(data);
    let (cloud, yaml) = text.split_once('\n').unwrap_or((&text, ""));
    let _ = credentials::names_cloud(yaml, cloud);
    match clouds_yaml::parse(Path::new("/fuzz/clouds.yaml"), yaml, cloud) {
        Ok(c) => {
            let _ = c.describe();
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    let vars: std::collections::HashMap<&str, &str> =
        text.lines().filter_map(|l| l.split_once('=')).collect();
    let lookup = |k: &str| vars.get(k).map(|v| v.to_string());
    let _ = credentials::clouds_yaml_candidates(&lookup);
    if let Ok(c) = env::from_env(&lookup) {
        let _ = c.describe();
    }
}

/// Glance's answers as kiln decodes them: a page of `GET /v2/images` (each image, its custom
/// properties and name, the `next` link's marker), one image (`GET`/`PATCH /v2/images/ID`),
/// and an error body.
pub fn glance_decode(data: &[u8]) {
    use crate::cloud::images::{RawImage, RawPage, image_from, marker_of};
    if let Ok(page) = serde_json::from_slice::<RawPage>(data) {
        for raw in page.images {
            glance_image(raw);
        }
        let _ = page.next.as_deref().and_then(marker_of);
    }
    if let Ok(raw) = serde_json::from_slice::<RawImage>(data) {
        glance_image(raw);
    }
    let _ = crate::cloud::session::message_of(data);

    fn glance_image(raw: RawImage) {
        if let Ok(image) = image_from(raw) {
            let _ = (image.fips_enabled(), image.series());
            let _ = serde_json::to_string(&image);
        }
    }
}

/// Nova's and Cinder's answers as the usage lookup decodes them (a `servers/detail` page: each
/// server's image, `""` when booted from a volume, and addresses; a `volumes/detail` page and
/// its `volume_image_metadata`; their `next` links), and Keystone's token body (roles, the
/// catalog and its endpoints, expiry) and refusal.
pub fn nova_decode(data: &[u8]) {
    use crate::cloud::auth::{TokenInfo, refusal_message, still_fresh};
    use crate::cloud::usage::{
        ServerPage, VolumePage, next_marker, servers_by_image, volumes_by_image,
    };
    if let Ok(page) = serde_json::from_slice::<ServerPage>(data) {
        let _ = next_marker(&page.servers_links);
        let _ = serde_json::to_string(&servers_by_image(page.servers));
    }
    if let Ok(page) = serde_json::from_slice::<VolumePage>(data) {
        let _ = next_marker(&page.volumes_links);
        let _ = serde_json::to_string(&volumes_by_image(page.volumes));
    }
    if let Ok(info) = TokenInfo::from_body(data) {
        let _ = info.is_admin();
        for (interface, region) in [("public", Some("RegionOne")), ("internal", None)] {
            for service in [&["image"][..], &["compute"], &["volumev3", "block-storage"]] {
                if let Some(e) = info.endpoint(interface, region, service) {
                    let _ = reqwest::Url::parse(&e.url);
                }
            }
        }
        let now = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
        for at in [now, info.expires_at] {
            let _ = still_fresh(&info, at, now);
            let _ = still_fresh(&info, now, at);
        }
    }
    let text = String::from_utf8_lossy(data);
    let _ = refusal_message(&text);
    let _ = crate::cloud::session::message_of(data);
}

/// The host keys [`known_hosts`] checks: Ed25519, RSA, ECDSA.
const HOST_KEYS: [&str; 3] = [
    "AAAAC3NzaC1lZDI1NTE5AAAAIFAZVeqz7XRZu1SUVIxm48E1rD94L39Zm4T/9kjnllbH",
    "AAAAB3NzaC1yc2EAAAADAQABAAAAgQDCb3cp5Q2CZDpU6xqMGOy3cwWcL+NxRQdqBdjT5zAbXsJqm51EfztEkyMd0Za7vrC+5Rf3rUkCBdj6YbzlHiu1gnFYdMdFkDtzw9Xe2Pbu6C/y4gZK+V8HTEm3k5CbRYsd8ChBmr8Bcka3i2uqP6hkCdTx2XAYDF/Dt4UFGOHVYw==",
    "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBKGKALxc8lPRWEvLZ5maX0RMDWo8siJAu8wB9dLcKi5sjVYG912DmNpUm8EZIADdUFTgWpJUqe4f3dOAzc6Ry3w=",
];

/// A known_hosts file: the first line names the host (`HOST[:PORT]`, also read as a jump host
/// `[USER@]HOST[:PORT]`), the rest is the file, checked for that host and a few fixed ones with
/// an Ed25519, an RSA and an ECDSA key.
pub fn known_hosts(data: &[u8]) {
    use crate::node::known_hosts::{check_text, host_name};
    use crate::node::{JumpHost, Target};
    let text = String::from_utf8_lossy(data);
    let (first, file) = text.split_once('\n').unwrap_or((&text, ""));
    let mut hosts = vec![
        Target::new("127.0.0.1", 33493),
        Target::new("node-1.example", 22),
    ];
    if let Ok(t) = Target::parse(first) {
        let _ = (t.address(), t.to_string());
        hosts.push(t);
    }
    if let Ok(j) = JumpHost::parse(first) {
        let _ = j.to_string();
    }
    for key in HOST_KEYS {
        let Ok(key) = russh::keys::parse_public_key_base64(key) else {
            continue;
        };
        for t in &hosts {
            let _ = host_name(&t.host, t.port);
            let _ = check_text(file, &t.host, t.port, &key);
        }
    }
}

/// What a node's reads return, as `kiln inspect` turns it into facts and drift: sections
/// separated by [`NODE_SECTION`] lines are the file reader's framed output (the manifest,
/// /etc/image-builder-release, prepull-failures.txt, /proc/sys/crypto/fips_enabled), `pro status
/// --format json`, `rke2 --version`, the image list (ctr or crictl), and the Glance image's
/// properties (a JSON object of strings). Checked against the repository's pinned list.
pub fn node_reads(data: &[u8]) {
    use crate::manifest::{Expectations, PinnedList};
    use crate::node::exec::CommandOutput;
    use crate::node::{InspectOptions, NodeReport, Target, files};
    let mut sections = split_sections(data, NODE_SECTION.as_bytes());
    let mut next = || {
        Ok(CommandOutput {
            stdout: sections.next().unwrap_or_default().to_vec(),
            exit: Some(0),
            ..CommandOutput::default()
        })
    };
    let (framed, pro, rke2, images) = (next(), next(), next(), next());
    let glance_properties = next()
        .ok()
        .and_then(|o| serde_json::from_slice(&o.stdout).ok());
    let options = InspectOptions::new(Path::new("/nonexistent"));
    let facts = crate::node::reads::facts_from(&options, "fuzz", &framed, &pro, &rke2, &images);
    let _ = files::split(&framed, 4, 64);
    let pinned = PinnedList::parse(
        include_str!("../stages/03-prepull-images.sh"),
        Path::new("03-prepull-images.sh"),
    )
    .ok();
    let expect = Expectations {
        pinned,
        k8s_version: Some("v1.29.5".into()),
        glance_properties,
        ..Expectations::default()
    };
    let target = Target::new("fuzz", 22);
    let report = NodeReport::read(&target, "fuzz", facts.clone(), &expect);
    let _ = serde_json::to_string(&report);
    let _ = NodeReport::read(&target, "fuzz", facts, &Expectations::default());
}

/// The line between [`node_reads`]' sections.
pub const NODE_SECTION: &str = "\n--kiln-fuzz-section--\n";

fn split_sections<'a>(data: &'a [u8], sep: &'a [u8]) -> impl Iterator<Item = &'a [u8]> {
    let mut rest = Some(data);
    std::iter::from_fn(move || {
        let r = rest?;
        match r.windows(sep.len()).position(|w| w == sep) {
            Some(i) => {
                rest = Some(&r[i + sep.len()..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fixed_inputs_parse() {
        for key in HOST_KEYS {
            assert!(russh::keys::parse_public_key_base64(key).is_ok(), "{key}");
        }
        let pinned = crate::manifest::PinnedList::parse(
            include_str!("../stages/03-prepull-images.sh"),
            Path::new("03-prepull-images.sh"),
        );
        assert!(pinned.is_ok(), "{pinned:?}");
        let parts: Vec<&[u8]> =
            split_sections(b"a\n--kiln-fuzz-section--\nb", NODE_SECTION.as_bytes()).collect();
        assert_eq!(parts, [&b"a"[..], &b"b"[..]]);
    }
}
