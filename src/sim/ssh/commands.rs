//! What a simulated node answers to a command, as a real node's login shell would: kiln's own
//! reads recognised exactly (the `pro`, `rke2` and image-list commands compared with the
//! builders in [`crate::node::reads`]; the framed file reader of [`crate::node::files`] parsed
//! back into its `r N 'path';` calls and answered frame by frame), a few plain commands an
//! operator types (`rke2 --version`, `cat FILE...`, `pro status --format json`, `hostname`,
//! `ctr ... images ls`, with or without `sudo -n`), and for anything else
//! `sh: 1: ...: not found` with exit status 127. Pure.

use crate::node::{files, reads};

use super::content::VirtualNode;

/// A command's result.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reply {
    /// What it printed on stdout.
    pub stdout: Vec<u8>,
    /// What it printed on stderr.
    pub stderr: Vec<u8>,
    /// Its exit status.
    pub exit: u32,
}

impl Reply {
    fn out(stdout: impl Into<Vec<u8>>) -> Reply {
        Reply {
            stdout: stdout.into(),
            ..Reply::default()
        }
    }

    fn err(stderr: String, exit: u32) -> Reply {
        Reply {
            stderr: stderr.into_bytes(),
            exit,
            ..Reply::default()
        }
    }
}

/// The exit status of a command the shell cannot find.
pub const NOT_FOUND: u32 = 127;

/// The framed file reader's calls: the cap and (index, path) of each, when `command` is exactly
/// what [`files::command`] builds.
pub fn parse_file_reader(command: &str) -> Option<(usize, Vec<(usize, String)>)> {
    let at = command.find("head -c ")? + "head -c ".len();
    let digits: String = command[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let cap = digits.parse::<usize>().ok()?.checked_sub(1)?;
    let prelude = files::command(&[], cap);
    let prelude = prelude.strip_suffix("exit 0")?;
    let mut rest = command.strip_prefix(prelude)?;
    let mut calls = Vec::new();
    while rest != "exit 0" {
        let after = rest.strip_prefix("r ")?;
        let (index, after) = after.split_once(' ')?;
        let index = index.parse::<usize>().ok()?;
        let (path, after) = sh_unquote(after)?;
        rest = after.strip_prefix("; ")?;
        calls.push((index, path));
    }
    Some((cap, calls))
}

/// One word quoted as [`reads::sh_quote`] quotes (`'...'` runs joined by `\'`): the text and
/// what follows it.
fn sh_unquote(text: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut rest = text;
    let mut any = false;
    loop {
        if let Some(inner) = rest.strip_prefix('\'') {
            let end = inner.find('\'')?;
            out.push_str(&inner[..end]);
            rest = &inner[end + 1..];
            any = true;
        } else if let Some(after) = rest.strip_prefix("\\'") {
            out.push('\'');
            rest = after;
            any = true;
        } else {
            return any.then_some((out, rest));
        }
    }
}

impl VirtualNode {
    /// The answer to `command` (as sshd hands it to the login shell).
    pub fn run(&self, command: &str) -> Reply {
        if let Some((cap, calls)) = parse_file_reader(command) {
            return self.framed_files(cap, &calls);
        }
        if command == reads::pro_command() {
            return Reply::out(self.pro_status.clone());
        }
        if command == reads::rke2_version_command() {
            return Reply::out(self.rke2_version_output());
        }
        if command == reads::images_command() {
            return Reply::out(self.image_list("kiln:try=ctr\n"));
        }
        self.plain(command)
    }

    fn image_list(&self, head: &str) -> String {
        let mut out = head.to_string();
        for r in &self.images {
            out.push_str(r);
            out.push('\n');
        }
        out
    }

    /// The file reader's output: one frame per call, as the shell function prints them.
    fn framed_files(&self, cap: usize, calls: &[(usize, String)]) -> Reply {
        let mark = files::MARK;
        let mut out = Vec::new();
        for (i, path) in calls {
            match self.files.get(path) {
                Some(bytes) => {
                    out.extend_from_slice(format!("{mark} {i} 0\n").as_bytes());
                    out.extend_from_slice(&bytes[..bytes.len().min(cap + 1)]);
                    out.extend_from_slice(format!("\n{mark} end\n").as_bytes());
                }
                None if self.is_dir(path) => {
                    out.extend_from_slice(format!("{mark} {i} {}\n", files::UNREADABLE).as_bytes())
                }
                None => out.extend_from_slice(format!("{mark} {i} {}\n", files::ABSENT).as_bytes()),
            }
        }
        Reply::out(out)
    }

    fn is_dir(&self, path: &str) -> bool {
        let prefix = format!("{}/", path.trim_end_matches('/'));
        path == "/" || self.files.keys().any(|k| k.starts_with(&prefix))
    }

    /// Plain commands: words separated by spaces, no shell syntax.
    fn plain(&self, command: &str) -> Reply {
        let command = command.trim();
        if command.is_empty() {
            return Reply::default();
        }
        if command.contains(|c: char| "|&;<>()$`\\\"'*?[]{}~#\n".contains(c)) {
            return Reply::err(
                format!(
                    "sh: 1: {}: not found (a kiln sim node runs kiln's reads and plain commands only)\n",
                    crate::format::cut_chars(command, 60)
                ),
                NOT_FOUND,
            );
        }
        let mut words: Vec<&str> = command.split_whitespace().collect();
        if words.first() == Some(&"sudo") {
            words.remove(0);
            if words.first() == Some(&"-n") {
                words.remove(0);
            }
            if words.is_empty() {
                return Reply::err("usage: sudo -n command\n".into(), 1);
            }
        }
        let program = words[0].rsplit('/').next().unwrap_or(words[0]);
        let args = &words[1..];
        match (program, args) {
            ("rke2", ["--version"]) => Reply::out(self.rke2_version_output()),
            ("pro", ["status", "--format", "json"]) => Reply::out(self.pro_status.clone()),
            ("hostname", []) => Reply::out(format!("{}\n", self.hostname)),
            ("true", _) => Reply::default(),
            ("cat", paths) if !paths.is_empty() => self.cat(paths),
            ("ctr", args) if args.contains(&"images") && args.contains(&"ls") => {
                Reply::out(self.image_list(""))
            }
            _ => Reply::err(format!("sh: 1: {}: not found\n", words[0]), NOT_FOUND),
        }
    }

    fn cat(&self, paths: &[&str]) -> Reply {
        let mut reply = Reply::default();
        for p in paths {
            match self.files.get(*p) {
                Some(bytes) => reply.stdout.extend_from_slice(bytes),
                None => {
                    let why = if self.is_dir(p) {
                        "Is a directory"
                    } else {
                        "No such file or directory"
                    };
                    reply
                        .stderr
                        .extend_from_slice(format!("cat: {p}: {why}\n").as_bytes());
                    reply.exit = 1;
                }
            }
        }
        reply
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_reader_parses_back_to_its_calls() {
        let paths = vec![
            "/etc/packer-build/image-manifest.json".to_string(),
            "/a b/it's".to_string(),
            "''".to_string(),
        ];
        let cmd = files::command(&paths, 1000);
        let (cap, calls) = parse_file_reader(&cmd).unwrap();
        assert_eq!(cap, 1000);
        assert_eq!(calls, paths.into_iter().enumerate().collect::<Vec<_>>());
        assert_eq!(
            parse_file_reader(&files::command(&[], 5)),
            Some((5, vec![]))
        );
        assert_eq!(parse_file_reader("cat /etc/hostname"), None);
        let tampered = cmd.replace("exit 0", "rm -rf /; exit 0");
        assert_eq!(parse_file_reader(&tampered), None);
    }

    fn node() -> VirtualNode {
        let mut files = std::collections::BTreeMap::new();
        files.insert(
            "/etc/packer-build/m.json".to_string(),
            b"{\"a\": 1}\n".to_vec(),
        );
        files.insert("/proc/sys/crypto/fips_enabled".to_string(), b"1\n".to_vec());
        VirtualNode {
            hostname: "n1".into(),
            files,
            rke2_version: "v1.28.9+rke2r1".into(),
            pro_status: "{\"attached\": false}\n".into(),
            images: ["harbor/x:1".to_string(), "up/x:1".to_string()].into(),
            fips: true,
        }
    }

    /// The node's answers, split the way kiln splits them, read as kiln reads them.
    #[test]
    fn kiln_reads_what_the_node_answers() {
        let n = node();
        let paths = [
            "/etc/packer-build/m.json".to_string(),
            "/etc/image-builder-release".to_string(),
            "/etc/packer-build".to_string(),
            "/proc/sys/crypto/fips_enabled".to_string(),
        ];
        let r = n.run(&files::command(&paths, 4));
        assert_eq!(r.exit, 0);
        let out = crate::node::exec::CommandOutput {
            stdout: r.stdout,
            exit: Some(0),
            ..Default::default()
        };
        let split = files::split(&Ok(out), paths.len(), 4);
        let f = |i: usize| split[i].clone().unwrap();
        assert_eq!(
            (f(0).stdout.as_slice(), f(0).truncated),
            (&b"{\"a\""[..], true)
        );
        assert_eq!(f(1).exit, Some(files::ABSENT));
        assert_eq!(f(2).exit, Some(files::UNREADABLE));
        assert_eq!(f(3).stdout, b"1\n");
        let v = n.run(&reads::rke2_version_command());
        assert_eq!(
            reads::parse_rke2_version(&v.stdout).unwrap(),
            "v1.28.9+rke2r1"
        );
        let images = n.run(&reads::images_command());
        let store = reads::parse_images(&images.stdout).unwrap();
        assert_eq!((store.tool.as_str(), store.refs.len()), ("ctr", 2));
        assert!(
            !reads::parse_pro(&n.run(&reads::pro_command()).stdout)
                .unwrap()
                .attached
        );
    }

    #[test]
    fn plain_commands_and_the_rest() {
        let n = node();
        assert_eq!(n.run("hostname").stdout, b"n1\n");
        assert!(
            String::from_utf8_lossy(&n.run("rke2 --version").stdout)
                .starts_with("rke2 version v1.28.9+rke2r1 (")
        );
        assert_eq!(
            n.run("sudo -n cat /proc/sys/crypto/fips_enabled").stdout,
            b"1\n"
        );
        let missing = n.run("cat /nope");
        assert_eq!(missing.exit, 1);
        assert_eq!(missing.stderr, b"cat: /nope: No such file or directory\n");
        let unknown = n.run("frobnicate --now");
        assert_eq!(unknown.exit, NOT_FOUND);
        assert_eq!(unknown.stderr, b"sh: 1: frobnicate: not found\n");
        let piped = n.run("cat /etc/packer-build/m.json | jq .");
        assert_eq!(piped.exit, NOT_FOUND);
        assert!(piped.stdout.is_empty());
        assert_eq!(
            n.run("sudo /var/lib/rancher/rke2/bin/ctr -n k8s.io images ls -q")
                .stdout,
            b"harbor/x:1\nup/x:1\n"
        );
    }
}
