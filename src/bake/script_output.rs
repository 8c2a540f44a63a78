//! The stage scripts' own output protocol: `kiln:progress <done>/<total> <label>` and
//! `kiln:warn <message>` lines (design §1b).

/// What a line of script output means to the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptLine<'a> {
    /// `kiln:progress 3/11 pulled cinder-csi-plugin`.
    Progress {
        done: u64,
        total: u64,
        label: &'a str,
    },
    /// `kiln:warn prepull-failed harbor.vitro.lan/k8s/...`.
    Warning(&'a str),
    /// Anything else.
    Plain,
}

/// Classifies one line of script output. Malformed `kiln:progress` lines are plain text.
pub fn classify(line: &str) -> ScriptLine<'_> {
    let Some(rest) = line.trim_start().strip_prefix("kiln:") else {
        return ScriptLine::Plain;
    };
    if let Some(message) = rest.strip_prefix("warn ") {
        return ScriptLine::Warning(message.trim());
    }
    let Some(rest) = rest.strip_prefix("progress ") else {
        return ScriptLine::Plain;
    };
    let (counts, label) = rest.split_once(' ').unwrap_or((rest, ""));
    let Some((done, total)) = counts.split_once('/') else {
        return ScriptLine::Plain;
    };
    match (done.parse(), total.parse()) {
        (Ok(done), Ok(total)) if total > 0 => ScriptLine::Progress {
            done: std::cmp::min(done, total),
            total,
            label: label.trim(),
        },
        _ => ScriptLine::Plain,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_and_warnings() {
        assert_eq!(
            classify("kiln:progress 3/11 pulled csi-attacher:v4.6.1"),
            ScriptLine::Progress {
                done: 3,
                total: 11,
                label: "pulled csi-attacher:v4.6.1"
            }
        );
        assert_eq!(
            classify("kiln:progress 1/2"),
            ScriptLine::Progress {
                done: 1,
                total: 2,
                label: ""
            }
        );
        assert_eq!(
            classify("kiln:warn prepull-failed x:v1"),
            ScriptLine::Warning("prepull-failed x:v1")
        );
        for plain in [
            "kiln:progress x/2 a",
            "kiln:progress 1/0 a",
            "kiln:progress 12",
            "echo kiln:warn",
            "kiln:other",
        ] {
            assert_eq!(classify(plain), ScriptLine::Plain, "{plain}");
        }
    }
}
