//! known_hosts: is this host key the one recorded for this host, another one (changed), or not
//! recorded at all; and recording a trusted one. OpenSSH's format: plain, `[host]:port` and
//! hashed (`|1|salt|hash`) names, `*`/`?` wildcards and `!` negation, `@revoked` lines
//! (`@cert-authority` lines are skipped: kiln does not trust host certificates). Line numbers
//! count every line, comments included, so a message points at the line an editor shows.

use std::io::Write;
use std::path::{Path, PathBuf};

use data_encoding::BASE64;
use hmac::{KeyInit, Mac};
use russh::keys::{HashAlg, PublicKey};

/// What known_hosts says about a host's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKeyCheck {
    /// Recorded at this line.
    Known {
        /// 1-based line.
        line: usize,
    },
    /// The host is recorded with another key of the same type: possibly a man in the middle.
    Changed {
        /// 1-based line of the recorded key.
        line: usize,
    },
    /// This key is listed as `@revoked`.
    Revoked {
        /// 1-based line.
        line: usize,
    },
    /// The host is not recorded with a key of this type.
    Unknown {
        /// Lines holding keys of other types for this host (1-based line, algorithm).
        other_types: Vec<(usize, String)>,
    },
}

/// A known_hosts file that cannot be read or written.
#[derive(Debug, thiserror::Error)]
#[error("known_hosts {path}: {cause}")]
pub struct KnownHostsError {
    /// The file.
    pub path: PathBuf,
    /// Why.
    pub cause: String,
}

/// The SHA256 fingerprint OpenSSH prints (`SHA256:...`).
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// The name a host has in known_hosts: `host` on port 22, `[host]:port` otherwise.
pub fn host_name(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    }
}

/// Checks `key` for `host`:`port` against the file at `path` (a missing file knows nothing).
pub fn check(
    path: &Path,
    host: &str,
    port: u16,
    key: &PublicKey,
) -> Result<HostKeyCheck, KnownHostsError> {
    let text = match std::fs::read(path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(KnownHostsError {
                path: path.to_path_buf(),
                cause: e.to_string(),
            });
        }
    };
    Ok(check_text(&text, host, port, key))
}

/// [`check`] on the file's text.
pub fn check_text(text: &str, host: &str, port: u16, key: &PublicKey) -> HostKeyCheck {
    let name = host_name(host, port);
    let algorithm = key.algorithm().to_string();
    let mut changed = None;
    let mut known = None;
    let mut other_types = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let Some(entry) = Entry::parse(line) else {
            continue;
        };
        if entry.marker == Some("@cert-authority") || !matches_host(entry.hosts, &name) {
            continue;
        }
        let Ok(recorded) = russh::keys::parse_public_key_base64(entry.key_base64) else {
            continue; // OpenSSH skips a line it cannot read
        };
        let same_key = recorded.key_data() == key.key_data();
        if entry.marker == Some("@revoked") {
            if same_key {
                return HostKeyCheck::Revoked { line: i + 1 };
            }
            continue;
        }
        if same_key {
            known.get_or_insert(i + 1);
        } else if recorded.algorithm().to_string() == algorithm {
            changed.get_or_insert(i + 1);
        } else {
            other_types.push((i + 1, recorded.algorithm().to_string()));
        }
    }
    match (known, changed) {
        (Some(line), _) => HostKeyCheck::Known { line },
        (None, Some(line)) => HostKeyCheck::Changed { line },
        (None, None) => HostKeyCheck::Unknown { other_types },
    }
}

/// Appends `host`:`port` with `key` to the file (created 0600, its folder 0700, when missing)
/// and returns the 1-based line written. Appends from parallel connections never interleave.
pub fn record(
    path: &Path,
    host: &str,
    port: u16,
    key: &PublicKey,
) -> Result<usize, KnownHostsError> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let err = |cause: String| KnownHostsError {
        path: path.to_path_buf(),
        cause,
    };
    let openssh = key.to_openssh().map_err(|e| err(e.to_string()))?;
    let _guard = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(dir) = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty() && !d.exists())
    {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| err(format!("cannot create its folder: {e}")))?;
    }
    let existing = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(err(e.to_string())),
    };
    let needs_newline = existing.last().is_some_and(|b| *b != b'\n');
    let line = existing.split(|b| *b == b'\n').count() - usize::from(!needs_newline) + 1;
    let line = if existing.is_empty() { 1 } else { line };
    let mut entry = String::new();
    if needs_newline {
        entry.push('\n');
    }
    entry.push_str(&format!("{} {openssh}\n", host_name(host, port)));
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| err(e.to_string()))?;
    file.write_all(entry.as_bytes())
        .map_err(|e| err(e.to_string()))?;
    Ok(line)
}

use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};

/// One known_hosts line's fields.
struct Entry<'a> {
    marker: Option<&'a str>,
    hosts: &'a str,
    key_base64: &'a str,
}

impl<'a> Entry<'a> {
    fn parse(line: &'a str) -> Option<Entry<'a>> {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            return None;
        }
        let mut fields = line.split_ascii_whitespace();
        let mut first = fields.next()?;
        let marker = if first.starts_with('@') {
            let m = first;
            first = fields.next()?;
            Some(m)
        } else {
            None
        };
        let _algorithm = fields.next()?;
        let key_base64 = fields.next()?;
        Some(Entry {
            marker,
            hosts: first,
            key_base64,
        })
    }
}

/// Whether a comma-separated pattern list matches `name` (`host` or `[host]:port`): a negated
/// match wins over any other.
fn matches_host(patterns: &str, name: &str) -> bool {
    let mut matched = false;
    for p in patterns.split(',') {
        if let Some(hashed) = p.strip_prefix("|1|") {
            if hashed_matches(hashed, name) {
                matched = true;
            }
        } else if let Some(neg) = p.strip_prefix('!') {
            if wildcard(neg, name) {
                return false;
            }
        } else if wildcard(p, name) {
            matched = true;
        }
    }
    matched
}

/// `salt|hash` (base64) against HMAC-SHA1(salt, name).
fn hashed_matches(hashed: &str, name: &str) -> bool {
    let Some((salt, hash)) = hashed.split_once('|') else {
        return false;
    };
    let (Ok(salt), Ok(hash)) = (
        BASE64.decode(salt.as_bytes()),
        BASE64.decode(hash.as_bytes()),
    ) else {
        return false;
    };
    let Ok(mac) = <hmac::Hmac<sha1::Sha1> as KeyInit>::new_from_slice(&salt) else {
        return false;
    };
    mac.chain_update(name.as_bytes())
        .verify_slice(&hash)
        .is_ok()
}

/// OpenSSH's pattern match: `*` any run, `?` one character, case-insensitive.
fn wildcard(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.to_ascii_lowercase().chars().collect();
    let n: Vec<char> = name.to_ascii_lowercase().chars().collect();
    let (mut pi, mut ni) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED1: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIBJgpIhghkn2rf+KIFxfhjLnmczErrew6yUxic6zoa8N";
    const ED2: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIBQW3xNYnQ5bu3prs8WSMBnPT4lmRX8VXr6GvQPqJphx";
    const ECDSA: &str = "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBKNbiFfPxqi/rOUqCfaZRF6HAAJVuI3M+HrkjyvVNIPrUbcJhHwanTC7JzPNturyQfRIpwfvD28xf6SyWSl5Z50=";

    fn key(b64: &str) -> PublicKey {
        russh::keys::parse_public_key_base64(b64).unwrap()
    }

    #[test]
    fn known_changed_unknown_with_lines_counting_comments() {
        let text = format!(
            "# a comment\n\n[10.0.0.5]:2222 ssh-ed25519 {ED1}\nnode-1 ssh-ed25519 {ED2}\nnode-2 ecdsa-sha2-nistp256 {ECDSA}\n"
        );
        assert_eq!(
            check_text(&text, "10.0.0.5", 2222, &key(ED1)),
            HostKeyCheck::Known { line: 3 }
        );
        assert_eq!(
            check_text(&text, "10.0.0.5", 22, &key(ED1)),
            HostKeyCheck::Unknown {
                other_types: vec![]
            }
        );
        assert_eq!(
            check_text(&text, "node-1", 22, &key(ED1)),
            HostKeyCheck::Changed { line: 4 }
        );
        assert_eq!(
            check_text(&text, "node-2", 22, &key(ED1)),
            HostKeyCheck::Unknown {
                other_types: vec![(5, "ecdsa-sha2-nistp256".into())]
            }
        );
    }

    #[test]
    fn one_matching_key_among_several_is_known() {
        let text = format!("node-1 ssh-ed25519 {ED2}\nnode-1 ssh-ed25519 {ED1}\n");
        assert_eq!(
            check_text(&text, "node-1", 22, &key(ED1)),
            HostKeyCheck::Known { line: 2 }
        );
    }

    #[test]
    fn hashed_wildcard_negated_tabs_and_markers() {
        // `ssh-keygen -H` of "node-7" with this salt
        let salt = BASE64.encode(b"0123456789abcdefghij");
        let mac = <hmac::Hmac<sha1::Sha1> as KeyInit>::new_from_slice(b"0123456789abcdefghij")
            .unwrap()
            .chain_update(b"node-7")
            .finalize()
            .into_bytes();
        let hashed = format!("|1|{salt}|{}", BASE64.encode(&mac));
        let text = format!(
            "{hashed} ssh-ed25519 {ED1}\n*.lab,!bad.lab\tssh-ed25519\t{ED1}\n@cert-authority * ssh-ed25519 {ED2}\n@revoked node-9 ssh-ed25519 {ED2}\nnode-9 ssh-ed25519 {ED2}\n"
        );
        assert_eq!(
            check_text(&text, "node-7", 22, &key(ED1)),
            HostKeyCheck::Known { line: 1 }
        );
        assert_eq!(
            check_text(&text, "a.LAB", 22, &key(ED1)),
            HostKeyCheck::Known { line: 2 }
        );
        assert_eq!(
            check_text(&text, "bad.lab", 22, &key(ED1)),
            HostKeyCheck::Unknown {
                other_types: vec![]
            }
        );
        assert_eq!(
            check_text(&text, "node-9", 22, &key(ED2)),
            HostKeyCheck::Revoked { line: 4 }
        );
    }

    #[test]
    fn a_broken_line_is_skipped_not_fatal() {
        let text = format!("node-1 ssh-ed25519 !!!notbase64\nnode-1\nnode-1 ssh-ed25519 {ED1}\n");
        assert_eq!(
            check_text(&text, "node-1", 22, &key(ED1)),
            HostKeyCheck::Known { line: 3 }
        );
    }

    #[test]
    fn recording_appends_and_returns_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ssh/known_hosts");
        assert_eq!(record(&path, "10.0.0.5", 2222, &key(ED1)).unwrap(), 1);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"# no newline at the end")
            .unwrap();
        assert_eq!(record(&path, "node-1", 22, &key(ED2)).unwrap(), 3);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("[10.0.0.5]:2222 ssh-ed25519 "), "{text}");
        assert_eq!(
            check(&path, "node-1", 22, &key(ED2)).unwrap(),
            HostKeyCheck::Known { line: 3 }
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(
            check(&dir.path().join("none"), "x", 22, &key(ED1)).unwrap(),
            HostKeyCheck::Unknown {
                other_types: vec![]
            }
        );
    }

    #[test]
    fn fingerprints_are_openssh_sha256() {
        assert!(fingerprint(&key(ED1)).starts_with("SHA256:"));
    }
}
