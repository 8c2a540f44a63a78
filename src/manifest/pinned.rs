//! The pinned pre-pull list, read from `stages/03-prepull-images.sh` itself (design §1b): the
//! lines between `IMAGES=(` and `)`, each `  "<upstream ref> <harbor path>"`. No shell is run;
//! `stages/lib/common.sh`'s `pinned_images` reads the same block for stage 07, and a test holds
//! the two readers to the same answer on the real script.

use std::path::Path;

/// One pinned image: the upstream name and its path under the Harbor registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinnedImage {
    /// `registry.k8s.io/provider-os/cinder-csi-plugin:v1.30.0`.
    pub upstream: String,
    /// `k8s/provider-os/cinder-csi-plugin:v1.30.0`.
    pub harbor_path: String,
}

impl PinnedImage {
    /// The Harbor reference, `<registry>/<harbor path>`.
    pub fn harbor_ref(&self, registry: &str) -> String {
        format!("{}/{}", registry.trim_end_matches('/'), self.harbor_path)
    }
}

/// The pinned list as the script holds it, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PinnedList {
    /// The images.
    pub images: Vec<PinnedImage>,
}

/// A pinned list that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PinnedListError {
    /// No `IMAGES=(` line, or no closing `)`.
    #[error("{file}: {message}")]
    NoBlock {
        /// The script.
        file: String,
        /// What is missing.
        message: String,
    },
    /// A line inside the block that is not `  "<upstream> <path>"`.
    #[error("{file}, line {line}, column {column}: {message}")]
    BadLine {
        /// The script.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column of the first character that is wrong.
        column: usize,
        /// What is wrong.
        message: String,
    },
}

/// The Harbor registry 03 pulls from when `HARBOR_REGISTRY` is not set.
pub const DEFAULT_HARBOR_REGISTRY: &str = "harbor.vitro.lan";

impl PinnedList {
    /// Reads the list from the script's text; `file` names it in errors.
    pub fn parse(text: &str, file: &Path) -> Result<PinnedList, PinnedListError> {
        let file = file.display().to_string();
        let mut lines = text.lines().enumerate();
        if !lines.any(|(_, l)| l == "IMAGES=(") {
            return Err(PinnedListError::NoBlock {
                file,
                message: "no `IMAGES=(` line (the pinned list)".into(),
            });
        }
        let mut images = Vec::new();
        for (i, line) in lines {
            if line == ")" {
                return Ok(PinnedList { images });
            }
            images.push(parse_line(line).map_err(|(column, message)| {
                PinnedListError::BadLine {
                    file: file.clone(),
                    line: i + 1,
                    column,
                    message,
                }
            })?);
        }
        Err(PinnedListError::NoBlock {
            file,
            message: "the `IMAGES=(` block has no closing `)` line".into(),
        })
    }

    /// Reads the list from the script file.
    pub fn load(path: &Path) -> Result<PinnedList, PinnedListError> {
        let text = std::fs::read_to_string(path).map_err(|e| PinnedListError::NoBlock {
            file: path.display().to_string(),
            message: format!("cannot read the pinned list: {e}"),
        })?;
        PinnedList::parse(&text, path)
    }

    /// The pinned image whose Harbor reference (under `registry`) is `harbor_ref`.
    pub fn by_harbor_ref(&self, registry: &str, harbor_ref: &str) -> Option<&PinnedImage> {
        self.images
            .iter()
            .find(|p| p.harbor_ref(registry) == harbor_ref)
    }
}

/// One line of the block: `  "<upstream> <path>"`, or the 1-based column and what is wrong.
fn parse_line(line: &str) -> Result<PinnedImage, (usize, String)> {
    const FORMAT: &str = "want `  \"<upstream ref> <harbor path>\"` (two spaces, a quote, two \
                          fields separated by one space, a quote)";
    let Some(rest) = line.strip_prefix("  \"") else {
        let col = line
            .char_indices()
            .zip("  \"".chars())
            .find(|((_, a), b)| a != b)
            .map_or(line.chars().count().min(2) + 1, |((i, _), _)| i + 1);
        return Err((
            col,
            format!("the line does not start as the format says: {FORMAT}"),
        ));
    };
    let Some(body) = rest.strip_suffix('"') else {
        return Err((
            line.len() + 1,
            format!("no closing quote at the end of the line: {FORMAT}"),
        ));
    };
    let bad_char = body
        .char_indices()
        .find(|(_, c)| c.is_whitespace() && *c != ' ' || matches!(c, '"' | '$' | '`' | '\\'));
    if let Some((i, c)) = bad_char {
        return Err((
            3 + i + 1,
            format!("`{c}` is not allowed in the list: {FORMAT}"),
        ));
    }
    let fields: Vec<&str> = body.split(' ').collect();
    match fields.as_slice() {
        [up, path] if !up.is_empty() && !path.is_empty() => {
            if path.contains("://") || up.contains("://") {
                return Err((4, format!("a reference has a URL scheme: {FORMAT}")));
            }
            Ok(PinnedImage {
                upstream: (*up).to_string(),
                harbor_path: (*path).to_string(),
            })
        }
        _ => {
            let col = match body.find("  ") {
                Some(i) => 3 + i + 1,
                None => 4,
            };
            Err((
                col,
                format!(
                    "{} field(s) where two are needed: {FORMAT}",
                    fields.iter().filter(|f| !f.is_empty()).count()
                ),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRIPT: &str = include_str!("../../stages/03-prepull-images.sh");

    #[test]
    fn the_real_script_lists_fourteen_images_with_both_names() {
        let l = PinnedList::parse(SCRIPT, Path::new("03")).unwrap();
        assert_eq!(l.images.len(), 14);
        let csi = &l.images[1];
        assert_eq!(
            csi.upstream,
            "registry.k8s.io/provider-os/cinder-csi-plugin:v1.30.0"
        );
        assert_eq!(
            csi.harbor_ref(DEFAULT_HARBOR_REGISTRY),
            "harbor.vitro.lan/k8s/provider-os/cinder-csi-plugin:v1.30.0"
        );
        assert!(
            l.by_harbor_ref(
                "harbor.vitro.lan",
                "harbor.vitro.lan/k8s/kube-vip/kube-vip:v0.8.0"
            )
            .is_some_and(|p| p.upstream == "ghcr.io/kube-vip/kube-vip:v0.8.0")
        );
    }

    #[test]
    fn a_bad_line_is_named_with_line_and_column() {
        let text = "#!/bin/bash\nIMAGES=(\n  \"a/b:1 k8s/b:1\"\n  \"a/c:1  k8s/c:1\"\n)\n";
        let e = PinnedList::parse(text, Path::new("s.sh")).unwrap_err();
        assert!(
            matches!(
                &e,
                PinnedListError::BadLine {
                    line: 4,
                    column: 9,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.to_string().starts_with("s.sh, line 4, column 9: "), "{e}");
        for (text, line, col) in [
            ("IMAGES=(\n\t\"a b\"\n)\n", 2, 1),
            ("IMAGES=(\n  \"a b\n)\n", 2, 7),
            ("IMAGES=(\n  \"a\"\n)\n", 2, 4),
            ("IMAGES=(\n  \"a $X\"\n)\n", 2, 6),
            ("IMAGES=(\n  \"a b c\"\n)\n", 2, 4),
            ("IMAGES=(\n\n)\n", 2, 1),
        ] {
            match PinnedList::parse(text, Path::new("s")) {
                Err(PinnedListError::BadLine {
                    line: l, column: c, ..
                }) => {
                    assert_eq!((l, c), (line, col), "{text:?}")
                }
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_missing_block_is_said() {
        assert!(matches!(
            PinnedList::parse("IMAGES=(\n  \"a b\"\n", Path::new("s")),
            Err(PinnedListError::NoBlock { .. })
        ));
        let e = PinnedList::parse("echo hi\n", Path::new("s")).unwrap_err();
        assert!(e.to_string().contains("no `IMAGES=(` line"), "{e}");
    }

    /// 07 reads the list with `pinned_images` from stages/lib/common.sh; the console reads it
    /// here. On the real script both must give the same pairs, in order.
    #[test]
    fn the_gate_and_the_console_read_the_same_list() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("stages");
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg("source \"$1/lib/common.sh\"; pinned_images \"$1/03-prepull-images.sh\"")
            .arg("_")
            .arg(&root)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let shell: Vec<(String, String)> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| {
                let (a, b) = l.split_once(' ').unwrap();
                (a.to_string(), b.to_string())
            })
            .collect();
        let ours: Vec<(String, String)> = PinnedList::load(&root.join("03-prepull-images.sh"))
            .unwrap()
            .images
            .into_iter()
            .map(|p| (p.upstream, p.harbor_path))
            .collect();
        assert_eq!(shell, ours);
    }
}
