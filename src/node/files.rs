//! Several small files read in ONE command on a node (one session, one shell, instead of one
//! each: every session costs the node a fork of sshd and a login shell). Each file is framed:
//! `<MARK> <index> <status>` on its own line (0 read, 44 absent, 13 not readable), then for 0
//! its bytes (at most a cap) and `\n<MARK> end`. The frames are split back into one
//! [`CommandOutput`] per file, so each is judged as if it had been read alone.

use super::exec::{CommandOutput, ExecError};
use super::reads::sh_quote;

/// The frame marker (a file holding this exact line could fake a frame; a node could lie about
/// its files anyway).
pub const MARK: &str = "kiln-file-frame-5d1c";
/// Exit status of an absent file.
pub const ABSENT: u32 = 44;
/// Exit status of a file that cannot be read.
pub const UNREADABLE: u32 = 13;

/// The command reading `paths`, each cut at `cap` bytes (one more is read to know it was cut).
pub fn command(paths: &[String], cap: usize) -> String {
    let mut s = format!(
        "r() {{ if [ ! -e \"$2\" ]; then printf '%s %s {ABSENT}\\n' {MARK} \"$1\"; \
         elif [ ! -r \"$2\" ] || [ -d \"$2\" ]; then printf '%s %s {UNREADABLE}\\n' {MARK} \"$1\"; \
         else printf '%s %s 0\\n' {MARK} \"$1\"; head -c {} -- \"$2\"; printf '\\n%s end\\n' {MARK}; fi; }}; ",
        cap + 1
    );
    for (i, p) in paths.iter().enumerate() {
        s.push_str(&format!("r {i} {}; ", sh_quote(p)));
    }
    s.push_str("exit 0");
    s
}

/// Splits the command's result into one result per file (`count` of them), each cut at `cap`.
pub fn split(
    result: &Result<CommandOutput, ExecError>,
    count: usize,
    cap: usize,
) -> Vec<Result<CommandOutput, ExecError>> {
    let out = match result {
        Err(e) => return vec![Err(e.clone()); count],
        Ok(o) => o,
    };
    let mut files: Vec<Option<CommandOutput>> = vec![None; count];
    let bytes = &out.stdout;
    let header = format!("{MARK} ");
    let end = format!("\n{MARK} end\n");
    let mut at = 0;
    while at < bytes.len() {
        let Some(rest) = bytes[at..].strip_prefix(header.as_bytes()) else {
            break;
        };
        let Some(nl) = rest.iter().position(|b| *b == b'\n') else {
            break;
        };
        let line = String::from_utf8_lossy(&rest[..nl]).into_owned();
        let mut fields = line.split(' ');
        let (Some(Ok(i)), Some(Ok(status))) = (
            fields.next().map(str::parse::<usize>),
            fields.next().map(str::parse::<u32>),
        ) else {
            break;
        };
        let body_start = at + header.len() + nl + 1;
        if i >= count {
            break;
        }
        if status != 0 {
            files[i] = Some(CommandOutput {
                exit: Some(status),
                ..CommandOutput::default()
            });
            at = body_start;
            continue;
        }
        match find(&bytes[body_start..], end.as_bytes()) {
            Some(len) => {
                let body = &bytes[body_start..body_start + len];
                files[i] = Some(CommandOutput {
                    stdout: body[..body.len().min(cap)].to_vec(),
                    exit: Some(0),
                    truncated: body.len() > cap,
                    ..CommandOutput::default()
                });
                at = body_start + len + end.len();
            }
            None => {
                // cut by the output bound (or the timeout): what came, marked cut
                let body = &bytes[body_start..];
                files[i] = Some(CommandOutput {
                    stdout: body[..body.len().min(cap)].to_vec(),
                    exit: None,
                    truncated: true,
                    ..CommandOutput::default()
                });
                break;
            }
        }
    }
    files
        .into_iter()
        .map(|f| {
            f.ok_or_else(|| {
                let why = out.stderr_line();
                ExecError::Channel(if why.is_empty() {
                    "the file reader printed nothing for it".to_string()
                } else {
                    format!("the file reader failed: {why}")
                })
            })
        })
        .collect()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the command in a local sh over real files.
    fn run_local(paths: &[String], cap: usize) -> CommandOutput {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(command(paths, cap))
            .output()
            .unwrap();
        CommandOutput {
            stdout: out.stdout,
            stderr: out.stderr,
            exit: out.status.code().map(|c| c as u32),
            truncated: false,
        }
    }

    #[test]
    fn files_are_framed_and_split_back() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a b's.json");
        std::fs::write(&a, "{\"x\": 1}\n").unwrap();
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "").unwrap();
        let no_newline = dir.path().join("n");
        std::fs::write(&no_newline, format!("1{MARK} end")).unwrap();
        let big = dir.path().join("big");
        std::fs::write(&big, "x".repeat(100)).unwrap();
        let paths: Vec<String> = [
            a.clone(),
            dir.path().join("missing"),
            empty,
            no_newline,
            big,
            dir.path().to_path_buf(),
        ]
        .iter()
        .map(|p| p.display().to_string())
        .collect();
        let out = run_local(&paths, 10);
        let files = split(&Ok(out), paths.len(), 10);
        let f = |i: usize| files[i].clone().unwrap();
        assert_eq!(f(0).stdout, b"{\"x\": 1}\n");
        assert_eq!(f(0).exit, Some(0));
        assert_eq!(f(1).exit, Some(ABSENT));
        assert_eq!((f(2).stdout.len(), f(2).exit), (0, Some(0)));
        assert_eq!(f(3).stdout, b"1kiln-file");
        assert!(f(3).truncated);
        assert_eq!((f(4).stdout.len(), f(4).truncated), (10, true));
        assert_eq!(
            f(5).exit,
            Some(UNREADABLE),
            "a directory is not a file to read"
        );
    }

    #[test]
    fn a_cut_or_failed_read_is_said_per_file() {
        let cut = CommandOutput {
            stdout: format!("{MARK} 0 0\nabc").into_bytes(),
            truncated: true,
            ..CommandOutput::default()
        };
        let files = split(&Ok(cut), 2, 100);
        let first = files[0].clone().unwrap();
        assert!(first.truncated && first.exit.is_none());
        assert!(matches!(files[1], Err(ExecError::Channel(_))));
        let timed_out = split(
            &Err(ExecError::TimedOut(std::time::Duration::from_secs(3))),
            3,
            9,
        );
        assert!(
            timed_out
                .iter()
                .all(|r| matches!(r, Err(ExecError::TimedOut(_))))
        );
    }
}
