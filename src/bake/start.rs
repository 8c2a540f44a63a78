//! The one "may this build start?" policy, shared by `kiln build --headless` and the console:
//! a pure function from the preflight report, the FIPS request and the operator's
//! acknowledgement to start, ask, or refuse.

use super::fips::{ProVerdict, judge_source_image};
use super::preflight::{CheckStatus, PreflightReport};
use super::record::FipsRecord;

/// What to do about a build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartDecision {
    /// Start, recording this FIPS decision.
    Start(FipsRecord),
    /// FIPS on a source image that is not Ubuntu Pro: the operator must acknowledge that the
    /// image will NOT be FIPS-validated.
    NeedsAcknowledgement {
        /// Why the image is not Ubuntu Pro.
        reason: String,
    },
    /// A preflight check failed.
    Blocked {
        /// The failed checks, `name: detail`.
        failed: Vec<String>,
    },
}

/// Decides. `report` is None when preflight was skipped (FIPS is then judged by the source
/// image's name alone).
pub fn decide(
    report: Option<&PreflightReport>,
    fips: bool,
    source_image: &str,
    acknowledged_unvalidated: bool,
) -> StartDecision {
    if let Some(r) = report {
        let failed: Vec<String> = r
            .checks
            .iter()
            .filter(|c| c.status == CheckStatus::Fail)
            .map(|c| format!("{}: {}", c.name, c.detail))
            .collect();
        if !failed.is_empty() {
            return StartDecision::Blocked { failed };
        }
    }
    if !fips {
        return StartDecision::Start(FipsRecord::default());
    }
    let verdict = report
        .and_then(|r| r.fips_verdict.clone())
        .unwrap_or_else(|| judge_source_image(source_image, None));
    match verdict {
        ProVerdict::Pro(why) => StartDecision::Start(FipsRecord {
            requested: true,
            validated: true,
            acknowledged_unvalidated: false,
            reason: Some(why),
        }),
        ProVerdict::NotPro(reason) if acknowledged_unvalidated => {
            StartDecision::Start(FipsRecord {
                requested: true,
                validated: false,
                acknowledged_unvalidated: true,
                reason: Some(reason),
            })
        }
        ProVerdict::NotPro(reason) => StartDecision::NeedsAcknowledgement { reason },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bake::preflight::Check;

    fn report(fail: bool, verdict: Option<ProVerdict>) -> PreflightReport {
        let mut checks = vec![Check::ok("packer", "Packer v1.6.6")];
        if fail {
            checks.push(Check::fail("template", "missing", "pass --template"));
        }
        PreflightReport {
            checks,
            fips_verdict: verdict,
        }
    }

    #[test]
    fn a_failed_check_blocks_whatever_else() {
        let d = decide(Some(&report(true, None)), true, "ubuntu-pro", true);
        assert_eq!(
            d,
            StartDecision::Blocked {
                failed: vec!["template: missing".into()]
            }
        );
    }

    #[test]
    fn no_fips_starts_without_a_fips_record() {
        let d = decide(Some(&report(false, None)), false, "ubuntu-22.04", false);
        assert_eq!(d, StartDecision::Start(FipsRecord::default()));
    }

    #[test]
    fn fips_on_pro_starts_validated_and_on_plain_ubuntu_needs_an_acknowledgement() {
        let pro = ProVerdict::Pro("image property ubuntu_pro=true".into());
        let StartDecision::Start(r) = decide(Some(&report(false, Some(pro))), true, "x", false)
        else {
            panic!("Pro starts")
        };
        assert!(r.requested && r.validated && !r.acknowledged_unvalidated);
        let plain = ProVerdict::NotPro("`ubuntu-22.04` is not Ubuntu Pro".into());
        assert!(matches!(
            decide(Some(&report(false, Some(plain.clone()))), true, "x", false),
            StartDecision::NeedsAcknowledgement { .. }
        ));
        let StartDecision::Start(r) = decide(Some(&report(false, Some(plain))), true, "x", true)
        else {
            panic!("acknowledged starts")
        };
        assert!(r.requested && !r.validated && r.acknowledged_unvalidated);
    }

    #[test]
    fn skipped_preflight_judges_fips_by_the_name() {
        assert!(matches!(
            decide(None, true, "ubuntu-pro-22.04-fips", false),
            StartDecision::Start(FipsRecord {
                validated: true,
                ..
            })
        ));
        assert!(matches!(
            decide(None, true, "ubuntu-22.04", false),
            StartDecision::NeedsAcknowledgement { .. }
        ));
    }
}
