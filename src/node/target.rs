//! Where to connect: `HOST[:PORT]` for a node (IPv6 as `[addr]:port`) and
//! `[USER@]HOST[:PORT]` for the jump host. Parsing only.

use std::fmt;

/// SSH's port when none is given.
pub const DEFAULT_PORT: u16 = 22;

/// A node to inspect.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// A name or address, without brackets.
    pub host: String,
    /// The SSH port.
    pub port: u16,
}

impl Target {
    /// A target on a host and port.
    pub fn new(host: impl Into<String>, port: u16) -> Target {
        Target {
            host: host.into(),
            port,
        }
    }

    /// Parses `HOST`, `HOST:PORT`, `[V6]` or `[V6]:PORT`.
    pub fn parse(text: &str) -> Result<Target, String> {
        let bad = |why: &str| format!("`{text}` is not HOST[:PORT]: {why}");
        if text.is_empty() {
            return Err(bad("empty"));
        }
        if text
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '@' || c == '/')
        {
            return Err(bad(
                "spaces, `@` and `/` are not allowed (the user is --user)",
            ));
        }
        let (host, port) = if let Some(rest) = text.strip_prefix('[') {
            let (host, after) = rest.split_once(']').ok_or_else(|| bad("no closing `]`"))?;
            match after {
                "" => (host, None),
                p => (
                    host,
                    Some(p.strip_prefix(':').ok_or_else(|| bad("text after `]`"))?),
                ),
            }
        } else if text.matches(':').count() > 1 {
            (text, None) // a bare IPv6 address
        } else {
            match text.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (text, None),
            }
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let port = match port {
            None => DEFAULT_PORT,
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| bad("the port must be a number from 1 to 65535"))?,
        };
        Ok(Target::new(host, port))
    }

    /// The address to connect to (`host:port`, brackets for IPv6).
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.port == DEFAULT_PORT {
            f.write_str(&self.host)
        } else {
            f.write_str(&self.address())
        }
    }
}

/// The one jump host nodes on private networks are reached through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JumpHost {
    /// Its user (None: the nodes' user).
    pub user: Option<String>,
    /// Its address.
    pub target: Target,
}

impl JumpHost {
    /// Parses `[USER@]HOST[:PORT]`.
    pub fn parse(text: &str) -> Result<JumpHost, String> {
        let (user, rest) = match text.rsplit_once('@') {
            Some((u, r)) => {
                if u.is_empty() || !valid_user(u) {
                    return Err(format!("`{text}` is not USER@HOST[:PORT]: bad user `{u}`"));
                }
                (Some(u.to_string()), r)
            }
            None => (None, text),
        };
        Ok(JumpHost {
            user,
            target: Target::parse(rest).map_err(|e| format!("jump host: {e}"))?,
        })
    }
}

impl fmt::Display for JumpHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.user {
            Some(u) => write!(f, "{u}@{}", self.target),
            None => write!(f, "{}", self.target),
        }
    }
}

/// A login name: letters, digits, `._-` (no spaces, no `@`).
pub fn valid_user(user: &str) -> bool {
    !user.is_empty()
        && user.len() <= 64
        && user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_ports() {
        assert_eq!(Target::parse("node-1").unwrap(), Target::new("node-1", 22));
        assert_eq!(
            Target::parse("10.0.0.5:2222").unwrap(),
            Target::new("10.0.0.5", 2222)
        );
        assert_eq!(
            Target::parse("[fd00::5]:2200").unwrap(),
            Target::new("fd00::5", 2200)
        );
        assert_eq!(
            Target::parse("fd00::5").unwrap(),
            Target::new("fd00::5", 22)
        );
        assert_eq!(Target::new("fd00::5", 2200).address(), "[fd00::5]:2200");
        assert_eq!(Target::new("n", 22).to_string(), "n");
        assert_eq!(Target::new("n", 2222).to_string(), "n:2222");
        for bad in [
            "", ":22", "n:0", "n:99999", "n:x", "u@n", "[fd00::5", "[::1]x", "a b",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn jump_hosts() {
        let j = JumpHost::parse("ops@bastion:2022").unwrap();
        assert_eq!(j.user.as_deref(), Some("ops"));
        assert_eq!(j.target, Target::new("bastion", 2022));
        assert_eq!(j.to_string(), "ops@bastion:2022");
        assert_eq!(JumpHost::parse("bastion").unwrap().user, None);
        assert!(JumpHost::parse("@bastion").is_err());
        assert!(JumpHost::parse("a b@bastion").is_err());
    }
}
