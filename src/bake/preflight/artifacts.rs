//! The offline artifacts in files/: the checksum list, streamed SHA-256 (they are gigabytes) with
//! progress, and what was found for each listed file.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::HashProgress;

/// The checksum list the artifacts are verified against.
pub const CHECKSUM_FILE: &str = "sha256sum-amd64.txt";
/// Artifacts the build cannot do without (the process document's files/ list).
pub const REQUIRED_ARTIFACTS: &[&str] =
    &["rke2.linux-amd64.tar.gz", "rke2-images.linux-amd64.tar.zst"];
/// The RKE2 installer the build runs offline.
pub const INSTALLER: &str = "rke2-install.sh";

/// One `<sha256>  <file>` entry of the checksum list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChecksumEntry {
    /// Expected hex digest, lower case.
    pub sha256: String,
    /// File name inside files/.
    pub file: String,
}

/// Parses sha256sum output (`<hex>  <name>` or `<hex> *<name>`); other lines are errors by number.
pub fn parse_checksums(text: &str) -> Result<Vec<ChecksumEntry>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((hash, name)) = line.split_once(char::is_whitespace) else {
            return Err(format!("line {}: expected `<sha256>  <file>`", i + 1));
        };
        let name = name.trim_start().trim_start_matches('*');
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) || name.is_empty() {
            return Err(format!(
                "line {}: expected `<sha256>  <file>`, got `{}`",
                i + 1,
                crate::settings::toml_error::cut(line, 80)
            ));
        }
        out.push(ChecksumEntry {
            sha256: hash.to_ascii_lowercase(),
            file: name.to_string(),
        });
    }
    Ok(out)
}

/// Streams a file through SHA-256, reporting progress every MiB.
pub fn sha256_file(
    path: &Path,
    label: &str,
    progress: &HashProgress<'_>,
) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let total = file.metadata()?.len();
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut done = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        done += n as u64;
        progress(label, done, total);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// What was found for one listed artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArtifactState {
    /// Not in files/.
    Missing,
    /// Present and matching.
    Matches,
    /// Present with another digest.
    Mismatch {
        /// From the list.
        expected: String,
        /// Computed.
        got: String,
    },
    /// Present but unreadable.
    Unreadable(String),
}

/// The artifacts as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArtifactFacts {
    /// The checksum list could not be read.
    ListUnreadable {
        /// Its path.
        path: String,
        /// Why.
        error: String,
    },
    /// The checksum list is not sha256sum output.
    ListInvalid {
        /// Its path.
        path: String,
        /// The line at fault.
        error: String,
    },
    /// Every listed file, checked.
    Listed {
        /// The list's path.
        path: String,
        /// The directory.
        dir: String,
        /// (file, state) in list order.
        files: Vec<(String, ArtifactState)>,
        /// The installer script is present.
        installer_present: bool,
    },
}

/// Reads the list in `dir` and hashes every listed file that is there.
pub fn gather(dir: &Path, progress: &HashProgress<'_>) -> ArtifactFacts {
    let list = dir.join(CHECKSUM_FILE);
    let path = list.display().to_string();
    let text = match std::fs::read_to_string(&list) {
        Ok(t) => t,
        Err(e) => {
            return ArtifactFacts::ListUnreadable {
                path,
                error: e.to_string(),
            };
        }
    };
    let entries = match parse_checksums(&text) {
        Ok(e) => e,
        Err(error) => return ArtifactFacts::ListInvalid { path, error },
    };
    let files = entries
        .iter()
        .map(|entry| {
            let file = dir.join(&entry.file);
            let state = if !file.exists() {
                ArtifactState::Missing
            } else {
                match sha256_file(&file, &entry.file, progress) {
                    Ok(hash) if hash == entry.sha256 => ArtifactState::Matches,
                    Ok(got) => ArtifactState::Mismatch {
                        expected: entry.sha256.clone(),
                        got,
                    },
                    Err(e) => ArtifactState::Unreadable(e.to_string()),
                }
            };
            (entry.file.clone(), state)
        })
        .collect();
    ArtifactFacts::Listed {
        path,
        dir: dir.display().to_string(),
        files,
        installer_present: dir.join(INSTALLER).exists(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_lines_parse_and_errors_name_the_line() {
        let h = "a".repeat(64);
        let list =
            parse_checksums(&format!("{h}  rke2.linux-amd64.tar.gz\n\n{h} *x.tar\n")).unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[1].file, "x.tar");
        let err = parse_checksums(&format!("{h}  ok\nnot a line\n")).unwrap_err();
        assert!(err.starts_with("line 2"), "{err}");
    }

    #[test]
    fn present_missing_and_mismatched_files_are_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("rke2.linux-amd64.tar.gz"), b"binaries").unwrap();
        std::fs::write(dir.path().join("rke2-images.linux-amd64.tar.zst"), b"x").unwrap();
        let good = sha256_file(
            &dir.path().join("rke2.linux-amd64.tar.gz"),
            "x",
            &|_, _, _| {},
        )
        .unwrap();
        let list = format!(
            "{good}  rke2.linux-amd64.tar.gz\n{}  rke2-images.linux-amd64.tar.zst\n{}  other.tar\n",
            "0".repeat(64),
            "1".repeat(64)
        );
        std::fs::write(dir.path().join(CHECKSUM_FILE), list).unwrap();
        let ArtifactFacts::Listed {
            files,
            installer_present,
            ..
        } = gather(dir.path(), &|_, _, _| {})
        else {
            panic!("the list was readable")
        };
        assert!(!installer_present);
        assert_eq!(files[0].1, ArtifactState::Matches);
        assert!(matches!(files[1].1, ArtifactState::Mismatch { .. }));
        assert_eq!(files[2].1, ArtifactState::Missing);
    }

    #[test]
    fn hashing_reports_progress_and_known_digest() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"abc").unwrap();
        let seen = std::sync::Mutex::new(Vec::new());
        let hash = sha256_file(&p, "f", &|_, d, t| seen.lock().unwrap().push((d, t))).unwrap();
        assert_eq!(
            hash,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(*seen.lock().unwrap(), vec![(3, 3)]);
    }
}
