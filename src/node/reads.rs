//! What kiln reads on a node: the commands (POSIX sh, run by the login shell; exit 44 = file
//! absent, 45 = command missing) and the parsers from their output to [`NodeFacts`]. Four
//! commands run at once, each on its own channel of the node's one connection: the small files
//! together ([`super::files`]), `pro`, `rke2` and the image list each alone (any may hang).

use std::collections::BTreeSet;

use crate::manifest::{ImageManifest, ImageStore, ManifestRead, NodeFacts, Observed, ProStatus};

use super::connect::Connection;
use super::exec::{self, CommandOutput, ExecError};
use super::files;
use super::options::InspectOptions;

/// Exit status of a read whose file does not exist.
const ABSENT: u32 = files::ABSENT;
/// Exit status of a read whose command does not exist.
pub const NO_COMMAND: u32 = 45;

/// RKE2's containerd socket.
const RKE2_CONTAINERD_SOCKET: &str = "/run/k3s/containerd/containerd.sock";

/// `text` quoted for sh.
pub fn sh_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The version command: `rke2` on PATH, else where the installer puts it.
pub fn rke2_version_command() -> String {
    format!(
        "for r in rke2 /usr/local/bin/rke2 /opt/rke2/bin/rke2; do \
         if command -v \"$r\" >/dev/null 2>&1; then exec \"$r\" --version; fi; done; exit {NO_COMMAND}"
    )
}

/// The image list from containerd's k8s.io namespace on RKE2's socket, through `sudo -n` unless
/// root: RKE2's own `ctr` (else one on PATH); when it fails or is missing, `crictl` (RKE2's,
/// else PATH's). Each attempt is announced by a `kiln:try=<tool>` line; each gives up on a
/// containerd that does not answer within 3 s; their errors go to stderr.
pub fn images_command() -> String {
    let sock = RKE2_CONTAINERD_SOCKET;
    let rke2_bin = "/var/lib/rancher/rke2/bin";
    format!(
        "s=; [ \"$(id -u)\" = 0 ] || s='sudo -n'; \
         ctr=$(for c in {rke2_bin}/ctr ctr; do command -v \"$c\" 2>/dev/null && break; done); \
         crictl=$(for c in {rke2_bin}/crictl crictl; do command -v \"$c\" 2>/dev/null && break; done); \
         [ -n \"$ctr$crictl\" ] || exit {NO_COMMAND}; \
         if [ -n \"$ctr\" ]; then echo kiln:try=ctr; \
         $s \"$ctr\" --connect-timeout 3s --address {sock} --namespace k8s.io images ls -q && exit 0; fi; \
         if [ -n \"$crictl\" ]; then echo; echo kiln:try=crictl; \
         $s \"$crictl\" --runtime-endpoint unix://{sock} --timeout 3 images -o json && exit 0; fi; \
         exit 1"
    )
}

/// `pro status --format json`, when pro is there.
pub fn pro_command() -> String {
    format!("command -v pro >/dev/null 2>&1 || exit {NO_COMMAND}; exec pro status --format json")
}

/// Reads everything from a connected node. `label` names the node in messages.
pub async fn read_node(conn: &Connection, label: &str, options: &InspectOptions) -> NodeFacts {
    let run = |cmd: String| async move {
        exec::run(conn, &cmd, options.command_timeout, options.max_output).await
    };
    // the small files in one session; the commands (which may hang) each in their own
    let (paths, cap) = file_reads(options);
    let (files, pro, rke2, images) = tokio::join!(
        run(files::command(&paths, cap)),
        run(pro_command()),
        run(rke2_version_command()),
        run(images_command()),
    );
    facts_from(options, label, &files, &pro, &rke2, &images)
}

/// The small files read in one command, and the cap on each.
fn file_reads(options: &InspectOptions) -> ([String; 4], usize) {
    let paths = [
        options.manifest_path.clone(),
        "/etc/image-builder-release".to_string(),
        options.prepull_failures_path(),
        "/proc/sys/crypto/fips_enabled".to_string(),
    ];
    let cap = options.max_output / (paths.len() + 1);
    (paths, cap)
}

/// The facts from what the four reads returned: the file reader's framed output, `pro status`,
/// `rke2 --version` and the image list. `label` names the node in messages.
pub fn facts_from(
    options: &InspectOptions,
    label: &str,
    files: &Result<CommandOutput, ExecError>,
    pro: &Result<CommandOutput, ExecError>,
    rke2: &Result<CommandOutput, ExecError>,
    images: &Result<CommandOutput, ExecError>,
) -> NodeFacts {
    let (paths, cap) = file_reads(options);
    let mut files = files::split(files, paths.len(), cap).into_iter();
    let mut next = || {
        files
            .next()
            .unwrap_or_else(|| Err(ExecError::Channel("not read".into())))
    };
    let (manifest, release, failures, fips) = (next(), next(), next(), next());
    let mut truncated = Vec::new();
    let mut note = |what: &str, r: &Result<CommandOutput, ExecError>| {
        if r.as_ref().is_ok_and(|o| o.truncated) {
            truncated.push(what.to_string());
        }
    };
    note(&options.manifest_path, &manifest);
    note("/etc/image-builder-release", &release);
    note(&options.prepull_failures_path(), &failures);
    note("pro status --format json", pro);
    note("rke2 --version", rke2);
    note("the containerd image list", images);
    let manifest_text = match &manifest {
        Ok(o) if o.exit == Some(0) || o.truncated => {
            Some(String::from_utf8_lossy(&o.stdout).into_owned())
        }
        _ => None,
    };
    let source = format!("{label}:{}", options.manifest_path);
    let manifest = manifest_read(&manifest, &source);
    let image_builder_release = match (&manifest, &release) {
        (ManifestRead::Absent, Ok(o)) if o.exit == Some(0) => {
            Some(String::from_utf8_lossy(&o.stdout).into_owned())
        }
        _ => None,
    };
    NodeFacts {
        manifest_path: options.manifest_path.clone(),
        manifest,
        manifest_text,
        image_builder_release,
        prepull_failures_file: observe(&failures, "the file", |o| {
            Ok(lines(&o.stdout)
                .map(|l| l.split_whitespace().next().unwrap_or(l).to_string())
                .collect())
        }),
        fips_enabled_kernel: observe(&fips, "/proc/sys/crypto/fips_enabled", |o| {
            match String::from_utf8_lossy(&o.stdout).trim() {
                "1" => Ok(true),
                "0" => Ok(false),
                other => Err(format!(
                    "unexpected content `{}`",
                    crate::format::cut_chars(other, 40)
                )),
            }
        }),
        pro: observe(pro, "`pro`", |o| parse_pro(&o.stdout)),
        rke2_version: observe(rke2, "`rke2`", |o| parse_rke2_version(&o.stdout)),
        images: observe(images, "ctr and crictl", |o| {
            if o.truncated {
                return Err(format!(
                    "the list is longer than the {} byte bound and was cut",
                    o.stdout.len()
                ));
            }
            parse_images(&o.stdout)
        }),
        truncated,
    }
}

fn lines(bytes: &[u8]) -> impl Iterator<Item = &str> {
    std::str::from_utf8(bytes)
        .unwrap_or("")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
}

/// One read's outcome: the value, absent (44/45: `missing` is what), failed, timed out.
fn observe<T>(
    r: &Result<CommandOutput, ExecError>,
    missing: &str,
    parse: impl FnOnce(&CommandOutput) -> Result<T, String>,
) -> Observed<T> {
    match r {
        Err(ExecError::TimedOut(d)) => Observed::TimedOut(*d),
        Err(ExecError::Channel(why)) => Observed::Failed(why.clone()),
        Ok(o) => match o.exit {
            Some(0) => parse(o).map_or_else(Observed::Failed, Observed::Value),
            Some(ABSENT) | Some(NO_COMMAND) => Observed::Missing(missing.to_string()),
            Some(code) => Observed::Failed(failure(o, code)),
            None if o.truncated => parse(o).map_or_else(Observed::Failed, Observed::Value),
            None => Observed::Failed("ended without an exit status (killed?)".into()),
        },
    }
}

fn failure(o: &CommandOutput, code: u32) -> String {
    if code == files::UNREADABLE {
        return "not readable by the login user".to_string();
    }
    let err = o.stderr_line();
    if err.is_empty() {
        format!("exit status {code}")
    } else {
        format!("exit status {code}: {err}")
    }
}

fn manifest_read(r: &Result<CommandOutput, ExecError>, source: &str) -> ManifestRead {
    match r {
        Err(ExecError::TimedOut(d)) => ManifestRead::Unreadable(format!(
            "reading it did not finish within {}s",
            d.as_secs_f64()
        )),
        Err(ExecError::Channel(why)) => ManifestRead::Unreadable(why.clone()),
        Ok(o) if o.truncated => ManifestRead::Unreadable(format!(
            "larger than the {} byte bound: not a manifest kiln will parse",
            o.stdout.len()
        )),
        Ok(o) => match o.exit {
            Some(0) => match ImageManifest::parse(&String::from_utf8_lossy(&o.stdout), source) {
                Ok(m) => ManifestRead::Parsed(Box::new(m)),
                Err(e) => ManifestRead::Invalid(e),
            },
            Some(ABSENT) => ManifestRead::Absent,
            Some(code) => ManifestRead::Unreadable(failure(o, code)),
            None => ManifestRead::Unreadable("cat ended without an exit status".into()),
        },
    }
}

/// `rke2 version v1.28.15+rke2r1 (1a2b3c)` -> `v1.28.15+rke2r1`.
pub fn parse_rke2_version(stdout: &[u8]) -> Result<String, String> {
    let text = String::from_utf8_lossy(stdout);
    let first = text.lines().next().unwrap_or("").trim();
    let mut words = first.split_whitespace();
    match (words.next(), words.next(), words.next()) {
        (Some("rke2"), Some("version"), Some(v)) if v.starts_with('v') => Ok(v.to_string()),
        _ => Err(format!(
            "unexpected `rke2 --version` output `{}`",
            crate::format::cut_chars(&crate::format::plain(first), 80)
        )),
    }
}

/// `pro status --format json`: attached and the enabled services.
pub fn parse_pro(stdout: &[u8]) -> Result<ProStatus, String> {
    #[derive(serde::Deserialize)]
    struct Service {
        name: String,
        status: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct Status {
        attached: bool,
        #[serde(default)]
        services: Vec<Service>,
    }
    let s: Status = serde_json::from_slice(stdout)
        .map_err(|e| format!("`pro status --format json` is not what kiln reads: {e}"))?;
    Ok(ProStatus {
        attached: s.attached,
        enabled_services: s
            .services
            .into_iter()
            .filter(|x| x.status.as_deref() == Some("enabled"))
            .map(|x| x.name)
            .collect(),
    })
}

/// The image list: after the last `kiln:try=ctr` line one ref per line, after the last
/// `kiln:try=crictl` crictl's JSON. Image ids (`sha256:...`) are left out.
pub fn parse_images(stdout: &[u8]) -> Result<ImageStore, String> {
    let text = String::from_utf8_lossy(stdout);
    let (tool, rest) = match (
        text.rfind("kiln:try=ctr\n"),
        text.rfind("kiln:try=crictl\n"),
    ) {
        (_, Some(i)) => ("crictl", &text[i + "kiln:try=crictl\n".len()..]),
        (Some(i), None) => ("ctr", &text[i + "kiln:try=ctr\n".len()..]),
        (None, None) => {
            return Err(format!(
                "unexpected image list output `{}`",
                crate::format::cut_chars(&crate::format::plain(text.trim()), 60)
            ));
        }
    };
    let refs: BTreeSet<String> = if tool == "ctr" {
        rest.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("sha256:"))
            .map(str::to_string)
            .collect()
    } else {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Image {
            #[serde(default)]
            repo_tags: Vec<String>,
            #[serde(default)]
            repo_digests: Vec<String>,
        }
        #[derive(serde::Deserialize)]
        struct List {
            #[serde(default)]
            images: Vec<Image>,
        }
        let l: List = serde_json::from_str(rest)
            .map_err(|e| format!("crictl's image list is not JSON kiln reads: {e}"))?;
        l.images
            .into_iter()
            .flat_map(|i| i.repo_tags.into_iter().chain(i.repo_digests))
            .collect()
    };
    Ok(ImageStore {
        tool: tool.to_string(),
        refs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_quotes() {
        assert_eq!(sh_quote("/a b/it's"), r"'/a b/it'\''s'");
    }

    /// Every command is valid POSIX sh (dash) and bash: the login shell on a node is either.
    #[test]
    fn the_commands_parse_in_sh_and_bash() {
        let files = super::files::command(&["/a b".to_string(), "it's".to_string()], 10);
        for cmd in [
            images_command(),
            pro_command(),
            rke2_version_command(),
            files,
        ] {
            for shell in ["sh", "bash"] {
                let out = std::process::Command::new(shell)
                    .arg("-n")
                    .arg("-c")
                    .arg(&cmd)
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "{shell}: {cmd}\n{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }

    #[test]
    fn rke2_versions() {
        assert_eq!(
            parse_rke2_version(b"rke2 version v1.28.15+rke2r1 (1a2b3c)\ngo version go1.22\n")
                .unwrap(),
            "v1.28.15+rke2r1"
        );
        assert!(parse_rke2_version(b"command not found").is_err());
    }

    #[test]
    fn pro_status() {
        let p = parse_pro(br#"{"attached": true, "services": [{"name": "fips-updates", "status": "enabled"}, {"name": "esm-apps", "status": "disabled"}]}"#).unwrap();
        assert!(p.attached);
        assert_eq!(p.enabled_services, ["fips-updates"]);
        assert!(parse_pro(b"not json").is_err());
    }

    #[test]
    fn image_lists_from_ctr_and_crictl() {
        let s = parse_images(
            b"kiln:try=ctr\nharbor.vitro.lan/k8s/a:1\nregistry.k8s.io/a:1\nsha256:abcd\n",
        )
        .unwrap();
        assert_eq!(s.tool, "ctr");
        assert_eq!(s.refs.len(), 2);
        let s = parse_images(
            br#"kiln:try=ctr

kiln:try=crictl
{"images": [{"id": "sha256:1", "repoTags": ["h/a:1", "u/a:1"], "repoDigests": ["h/a@sha256:2"]}]}"#,
        )
        .unwrap();
        assert_eq!(s.tool, "crictl");
        assert!(s.refs.contains("u/a:1") && s.refs.contains("h/a@sha256:2"));
        assert!(parse_images(b"oops").is_err());
    }
}
