//! Parsing of `packer build -machine-readable` output lines into typed records.
//!
//! Packer prints `unix_ts,target,type,data...`, escaping `,` as `%!(PACKER_COMMA)` and newlines as
//! the two characters `\n`. Any line is accepted: crash banners, plain text and truncated lines
//! become [`Record::Unparsed`] instead of errors, so a build log never loses a line.

use std::borrow::Cow;

const COMMA_ESCAPE: &str = "%!(PACKER_COMMA)";

/// The level of a `ui` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UiLevel {
    /// `ui,say`: packer's own step announcements (`==> build: ...`).
    Say,
    /// `ui,message`: provisioner stdout (`    build: ...`).
    Message,
    /// `ui,error`: provisioner stderr and build errors.
    Error,
}

/// One parsed line of packer's machine-readable output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackerLine<'a> {
    /// The unix timestamp packer stamped the line with, when the line had one.
    pub timestamp: Option<i64>,
    /// The target column (a build name such as `openstack.rke2`); empty on `ui` lines.
    pub target: &'a str,
    /// What the line says.
    pub record: Record<'a>,
}

/// The typed content of a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record<'a> {
    /// A `ui` line, unescaped.
    Ui { level: UiLevel, text: Cow<'a, str> },
    /// `artifact-count,N`.
    ArtifactCount(u32),
    /// `artifact,N,key,value...`: the value fields re-joined with commas, unescaped.
    Artifact {
        index: u32,
        key: &'a str,
        value: Cow<'a, str>,
    },
    /// `error-count,N`.
    ErrorCount(u32),
    /// `error,text`: a build error as packer reports it at the end.
    Error(Cow<'a, str>),
    /// Any other well-formed type (`version`, `ui,..` of new levels, ...), kept verbatim.
    Other { kind: &'a str, data: &'a str },
    /// Not a machine-readable line at all (crash banners, plain output): the whole line.
    Unparsed(&'a str),
}

/// Undoes packer's escaping: `%!(PACKER_COMMA)` to `,`, `\n` to newline, `\r` to carriage return.
/// Borrows when there is nothing to undo, so the common line costs no allocation.
pub fn unescape(data: &str) -> Cow<'_, str> {
    if !data.contains('%') && !data.contains('\\') {
        return Cow::Borrowed(data);
    }
    let replaced = data.replace(COMMA_ESCAPE, ",");
    if !replaced.contains('\\') {
        return Cow::Owned(replaced);
    }
    Cow::Owned(replaced.replace("\\n", "\n").replace("\\r", "\r"))
}

/// Parses one line (without its trailing newline). Never fails.
pub fn parse_line(line: &str) -> PackerLine<'_> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let unparsed = PackerLine {
        timestamp: None,
        target: "",
        record: Record::Unparsed(line),
    };
    let mut parts = line.splitn(4, ',');
    let (Some(ts), Some(target), Some(kind)) = (parts.next(), parts.next(), parts.next()) else {
        return unparsed;
    };
    let Ok(timestamp) = ts.parse::<i64>() else {
        return unparsed;
    };
    if kind.is_empty()
        || !kind
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return unparsed;
    }
    let data = parts.next().unwrap_or("");
    let record = match kind {
        "ui" => parse_ui(data),
        "artifact-count" => data
            .trim()
            .parse()
            .map_or(Record::Other { kind, data }, Record::ArtifactCount),
        "error-count" => data
            .trim()
            .parse()
            .map_or(Record::Other { kind, data }, Record::ErrorCount),
        "error" => Record::Error(unescape(data)),
        "artifact" => parse_artifact(data),
        _ => Record::Other { kind, data },
    };
    PackerLine {
        timestamp: Some(timestamp),
        target,
        record,
    }
}

fn parse_ui(data: &str) -> Record<'_> {
    let (level, text) = data.split_once(',').unwrap_or((data, ""));
    let level = match level {
        "say" => UiLevel::Say,
        "message" => UiLevel::Message,
        "error" => UiLevel::Error,
        _ => return Record::Other { kind: "ui", data },
    };
    Record::Ui {
        level,
        text: unescape(text),
    }
}

fn parse_artifact(data: &str) -> Record<'_> {
    let mut fields = data.splitn(3, ',');
    let (Some(index), Some(key)) = (fields.next(), fields.next()) else {
        return Record::Other {
            kind: "artifact",
            data,
        };
    };
    let Ok(index) = index.parse() else {
        return Record::Other {
            kind: "artifact",
            data,
        };
    };
    Record::Artifact {
        index,
        key,
        value: unescape(fields.next().unwrap_or("")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ui_say_has_empty_target_and_text() {
        let line = parse_line("1700000000,,ui,say,==> openstack.rke2: Launching server...");
        assert_eq!(line.timestamp, Some(1_700_000_000));
        assert_eq!(line.target, "");
        assert_eq!(
            line.record,
            Record::Ui {
                level: UiLevel::Say,
                text: "==> openstack.rke2: Launching server...".into()
            }
        );
    }

    #[test]
    fn escaped_commas_and_newlines_are_restored() {
        let line = parse_line("1,,ui,message,    b: a%!(PACKER_COMMA) b\\nc");
        let Record::Ui { text, .. } = line.record else {
            panic!("not ui: {line:?}")
        };
        assert_eq!(text, "    b: a, b\nc");
    }

    #[test]
    fn artifact_lines_are_typed() {
        let line = parse_line("1,openstack.rke2,artifact,0,id,a4f3-1");
        assert_eq!(line.target, "openstack.rke2");
        assert_eq!(
            line.record,
            Record::Artifact {
                index: 0,
                key: "id",
                value: "a4f3-1".into()
            }
        );
        assert_eq!(
            parse_line("1,,artifact-count,1").record,
            Record::ArtifactCount(1)
        );
        assert_eq!(parse_line("1,,error-count,2").record, Record::ErrorCount(2));
    }

    #[test]
    fn any_line_is_accepted() {
        for raw in [
            "!!! PACKER CRASH !!!",
            "",
            "panic: runtime error: index out of range",
            "12,",
            "12,x",
            "abc,,ui,say,x",
            "1,,we!rd,x",
        ] {
            assert_eq!(parse_line(raw).record, Record::Unparsed(raw), "{raw:?}");
        }
    }

    #[test]
    fn unknown_types_are_kept() {
        let line = parse_line("1,,version,1.6.6");
        assert_eq!(
            line.record,
            Record::Other {
                kind: "version",
                data: "1.6.6"
            }
        );
        let line = parse_line("1,,ui,shout,hey");
        assert_eq!(
            line.record,
            Record::Other {
                kind: "ui",
                data: "shout,hey"
            }
        );
    }
}
