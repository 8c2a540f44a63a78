//! The parser and stage router over real packer 1.6.6 transcripts (tests/data/packer).

mod common;

use common::e2e::STAGES;
use common::*;
use kiln::bake::events::{BuildEvent, BuildStatus, StageStatus, Stream};
use kiln::bake::machine_readable::{Record, parse_line};

#[test]
fn success_runs_every_stage_in_order() {
    let (text, exit) = transcript("success");
    assert_eq!(exit, 0);
    let (router, events, outcome) = route(&text, exit, false);
    assert_eq!(outcome.status, BuildStatus::Succeeded);
    assert_eq!(
        started(&router, &events),
        [
            "launch",
            "upload",
            "01-system-packages",
            "02-install-rke2",
            "03-prepull-images",
            "04-harden",
            "06-manifest",
            "07-validate",
            "05-cleanup"
        ]
    );
    // The null builder has no snapshot step and its artifact is not an image.
    let snapshot = router.plan().id("snapshot").unwrap();
    assert_eq!(router.statuses()[snapshot], StageStatus::Skipped);
    assert_eq!(outcome.image_id, None);
    assert!(
        router
            .statuses()
            .iter()
            .filter(|s| **s != StageStatus::Skipped)
            .all(|s| *s == StageStatus::Ok)
    );
}

#[test]
fn progress_warnings_and_escapes_are_decoded() {
    let (text, exit) = transcript("success");
    let (router, events, _) = route(&text, exit, false);
    let progress: Vec<(String, u64, u64)> = events
        .iter()
        .filter_map(|e| match e {
            BuildEvent::Progress {
                stage, done, total, ..
            } => Some((router.plan().name(*stage).to_string(), *done, *total)),
            _ => None,
        })
        .collect();
    assert!(
        progress.contains(&("03-prepull-images".into(), 11, 11)),
        "{progress:?}"
    );
    assert!(progress.contains(&("01-system-packages".into(), 6, 6)));
    let warnings: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            BuildEvent::Warning { message, .. } => Some(message.clone()),
            _ => None,
        })
        .collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("prepull-failed harbor.vitro.lan/")),
        "{warnings:?}"
    );
    // %!(PACKER_COMMA) becomes a comma again.
    let log01 = log_of(&router, &events, "01-system-packages");
    assert!(
        log01
            .iter()
            .any(|l| l == "0 upgraded, 6 newly installed, 0 to remove and 3 not upgraded."),
        "{log01:?}"
    );
    // An escaped `\n` splits into two lines (packer's escaping is lossy: a literal \n does too).
    let log02 = log_of(&router, &events, "02-install-rke2");
    let i = log02
        .iter()
        .position(|l| l == "env: INSTALL_RKE2_ARTIFACT_PATH=/tmp/rke2-artifacts")
        .expect("first half");
    assert_eq!(log02[i + 1], "INSTALL_RKE2_METHOD=tar");
    // Unicode and commas survive.
    assert!(log02.iter().any(|l| l.contains("überprüft, 校验通过")));
}

#[test]
fn stderr_lines_stay_with_their_stage_and_only_kiln_warn_lines_are_warnings() {
    let (text, exit) = transcript("success");
    let (router, events, _) = route(&text, exit, false);
    let err_stages: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            BuildEvent::Log {
                stage,
                stream: Stream::Err,
                line,
            } if line.contains("staging local checksums") => {
                Some(router.plan().name(*stage).to_string())
            }
            _ => None,
        })
        .collect();
    assert_eq!(err_stages, ["02-install-rke2"]);
    let mut state = kiln::bake::state::BuildState::new(router.plan(), t0());
    for e in &events {
        state.apply(e);
    }
    let s02 = &state.stages[router.plan().id("02-install-rke2").unwrap()];
    let warned_02 = events
        .iter()
        .filter(|e| {
            matches!(e, BuildEvent::Warning { stage, .. }
                if router.plan().name(*stage) == "02-install-rke2")
        })
        .count();
    assert_eq!(
        s02.warnings as usize, warned_02,
        "the count is the warning events, stderr lines are not warnings"
    );
    // Every stage's count matches its `warning` events exactly (the JSON contract).
    for (id, s) in state.stages.iter().enumerate() {
        let n = events
            .iter()
            .filter(|e| matches!(e, BuildEvent::Warning { stage, .. } if *stage == id))
            .count();
        assert_eq!(s.warnings as usize, n, "{}", s.name);
    }
    let kiln_warn_lines = text.matches("kiln:warn ").count();
    let warnings = events
        .iter()
        .filter(|e| matches!(e, BuildEvent::Warning { .. }))
        .count();
    assert_eq!(warnings, kiln_warn_lines, "one warning per kiln:warn line");
}

#[test]
fn stdout_and_stderr_reordered_between_runs_route_the_same() {
    // success-local was recorded in a separate run whose stdout/stderr interleaving differs.
    let (a, ea) = transcript("success");
    let (b, eb) = transcript("success-local");
    let (ra, eva, oa) = route(&a, ea, false);
    let (rb, evb, ob) = route(&b, eb, false);
    assert_eq!(oa.status, ob.status);
    for stage in ["02-install-rke2", "03-prepull-images"] {
        let mut la = log_of(&ra, &eva, stage);
        let mut lb = log_of(&rb, &evb, stage);
        la.retain(|l| !l.starts_with("Provisioning with") && !l.starts_with("Running local"));
        lb.retain(|l| !l.starts_with("Provisioning with") && !l.starts_with("Running local"));
        la.sort();
        lb.sort();
        assert_eq!(la, lb, "{stage}: same lines, whatever the order");
    }
}

#[test]
fn failed_stage_is_named_with_the_lines_that_explain_it() {
    let (text, exit) = transcript("failed");
    assert_eq!(exit, 1);
    let (router, events, outcome) = route(&text, exit, false);
    assert_eq!(outcome.status, BuildStatus::Failed);
    assert_eq!(
        outcome.failed_stage.map(|s| router.plan().name(s)),
        Some("03-prepull-images")
    );
    let why = outcome.explanation.join("\n");
    assert!(why.contains("503 Service Unavailable"), "{why}");
    assert!(why.contains("non-zero exit status: 3"), "{why}");
    for later in ["04-harden", "06-manifest", "05-cleanup", "snapshot"] {
        assert_eq!(
            router.statuses()[router.plan().id(later).unwrap()],
            StageStatus::Skipped,
            "{later}"
        );
    }
    assert!(events.iter().any(|e| matches!(
        e,
        BuildEvent::StageFinished {
            status: StageStatus::Failed,
            ..
        }
    )));
}

#[test]
fn openstack_failure_cleanup_does_not_move_the_failure_to_snapshot() {
    let (text, _) = transcript("demo-failed");
    let (router, _, outcome) = route(&text, 1, false);
    assert_eq!(
        outcome.failed_stage.map(|s| router.plan().name(s)),
        Some("03-prepull-images")
    );
    assert_eq!(
        router.statuses()[router.plan().id("snapshot").unwrap()],
        StageStatus::Skipped
    );
}

/// The text after `prefix` on the first line holding it.
fn after<'a>(text: &'a str, prefix: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.split_once(prefix).map(|(_, rest)| rest))
        .unwrap_or_else(|| panic!("no `{prefix}` line"))
}

#[test]
fn openstack_success_reports_image_name_and_id() {
    for name in ["demo-success", "openstack-success"] {
        let (text, exit) = transcript(name);
        assert_eq!(exit, 0);
        let (router, events, outcome) = route(&text, 0, false);
        assert_eq!(outcome.status, BuildStatus::Succeeded, "{name}");
        // the name packer gave the image, and the id Nova answered (`Image: <id>`, a message
        // line, not the artifact line kiln reads the id from)
        let image_name = after(&text, "Creating the image: ");
        assert!(
            image_name.starts_with("rke2-node-v1.28-") && image_name.len() == 24,
            "{image_name}"
        );
        assert_eq!(outcome.image_name.as_deref(), Some(image_name), "{name}");
        let id = after(&text, "openstack.rke2: Image: ");
        assert_eq!(id.len(), 36, "{id}");
        assert_eq!(outcome.image_id.as_deref(), Some(id), "{name}");
        assert_eq!(started(&router, &events), STAGES, "{name}");
        assert!(
            router.statuses().iter().all(|s| *s == StageStatus::Ok),
            "{name}: {:?}",
            router.statuses()
        );
        // launch covers server creation until SSH is up.
        let launch = log_of(&router, &events, "launch");
        assert!(launch.iter().any(|l| l.starts_with("Launching server")));
        assert!(launch.iter().any(|l| l == "Connected to SSH!"));
        // the snapshot: the server stopped, the image made and tagged, the server and keypair gone
        let snapshot = log_of(&router, &events, "snapshot");
        for step in [
            "Stopping server: ",
            "Creating the image: ",
            "Updating image tags to rke2-node, rke2-node-v1.28",
            "Terminating the source server: ",
            "Deleting temporary keypair: packer_",
        ] {
            assert!(
                snapshot.iter().any(|l| l.starts_with(step)),
                "{name}: no `{step}` in {snapshot:#?}"
            );
        }
        // the partial pre-pull: 03 and the gate warn about the one image Harbor lacked
        let warnings: Vec<(String, String)> = events
            .iter()
            .filter_map(|e| match e {
                BuildEvent::Warning { stage, message, .. } => {
                    Some((router.plan().name(*stage).to_string(), message.clone()))
                }
                _ => None,
            })
            .collect();
        let kube_vip = "prepull-failed harbor.vitro.lan/k8s/kube-vip/kube-vip:v0.8.0";
        assert_eq!(
            warnings
                .iter()
                .map(|(s, m)| (s.as_str(), m.as_str()))
                .filter(|(_, m)| m.starts_with("prepull-failed"))
                .collect::<Vec<_>>(),
            [("03-prepull-images", kube_vip), ("07-validate", kube_vip)],
            "{name}"
        );
    }
}

#[test]
fn openstack_failure_names_the_stage_and_the_cleanup_stays_out_of_it() {
    for name in ["demo-failed", "openstack-failed"] {
        let (text, exit) = transcript(name);
        assert_eq!(exit, 1);
        let (router, events, outcome) = route(&text, exit, false);
        assert_eq!(outcome.status, BuildStatus::Failed, "{name}");
        assert_eq!(
            outcome.failed_stage.map(|s| router.plan().name(s)),
            Some("03-prepull-images"),
            "{name}"
        );
        let why = outcome.explanation.join("\n");
        assert!(
            why.contains("none of the 14 images could be pulled"),
            "{name}: {why}"
        );
        assert!(why.contains("non-zero exit status: 1"), "{name}: {why}");
        assert_eq!(
            started(&router, &events),
            STAGES[..5].to_vec(),
            "{name}: the cleanup (server and keypair deleted) starts no stage"
        );
    }
}

#[test]
fn openstack_cancel_is_cancelled_in_the_stage_that_ran() {
    let (text, exit) = transcript("openstack-cancelled");
    assert_eq!(exit, 1);
    assert!(text.contains("Cancelling build after receiving interrupt"));
    assert!(text.contains("Terminating the source server: "));
    for asked in [true, false] {
        let (router, events, outcome) = route(&text, exit, asked);
        assert_eq!(outcome.status, BuildStatus::Cancelled);
        assert_eq!(
            outcome.failed_stage.map(|s| router.plan().name(s)),
            Some("03-prepull-images")
        );
        assert_eq!(started(&router, &events), STAGES[..5].to_vec());
        assert_eq!(
            router.statuses()[router.plan().id("snapshot").unwrap()],
            StageStatus::Skipped
        );
    }
}

/// Every transcript shipped (tests/data/packer and the demo's own), with what marks a secret:
/// none may hold one. The openstack recordings and the demo's transcripts come from builds
/// against the simulator (tests/e2e_build.rs checks them against the simulator's own passwords
/// and tokens when it records them); this is the check on what is committed.
#[test]
fn no_transcript_holds_a_secret() {
    let mut files = Vec::new();
    for dir in [data_dir(), demo_dir()] {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "log") {
                files.push(p);
            }
        }
    }
    assert!(files.len() >= 12, "{files:?}");
    for p in files {
        let text = std::fs::read_to_string(&p).unwrap();
        for marker in [
            "gAAAAA",      // a Keystone (fernet-like) token, the simulator's too
            "PRIVATE KEY", // the keypair packer generated
            "X-Auth-Token",
            "X-Subject-Token",
            "OS_PASSWORD",
            "OS_TOKEN",
            "password:",
            "password=",
            "\"password\"",
            "application_credential_secret",
            "PKR_VAR_",
            "kiln-e2e-pro-token",
        ] {
            assert!(
                !text.contains(marker),
                "{}: `{marker}` in a transcript",
                p.display()
            );
        }
    }
}

#[test]
fn cancel_is_reported_as_cancelled_not_finished() {
    let (text, exit) = transcript("cancelled");
    // Packer says "Build 'null.rke2' finished" on cancel too; kiln must not call that success.
    assert!(text.contains("Build 'null.rke2' finished"));
    let (router, _, outcome) = route(&text, exit, true);
    assert_eq!(outcome.status, BuildStatus::Cancelled);
    assert_eq!(
        outcome.failed_stage.map(|s| router.plan().name(s)),
        Some("03-prepull-images")
    );
    // Even without kiln asking (someone else sent the signal), the banner says cancelled.
    let (_, _, outcome) = route(&text, exit, false);
    assert_eq!(outcome.status, BuildStatus::Cancelled);
}

#[test]
fn crash_banner_lines_are_kept_and_the_build_fails() {
    let (text, _) = transcript("crash-banner");
    assert!(text.contains("!!! PACKER CRASH !!!"));
    let (router, events, outcome) = route(&text, 1, false);
    assert_eq!(outcome.status, BuildStatus::Failed);
    let all: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            BuildEvent::Log { line, .. } => Some(line.clone()),
            _ => None,
        })
        .collect();
    assert!(all.iter().any(|l| l.contains("!!! PACKER CRASH !!!")));
    let failed = outcome
        .failed_stage
        .map(|s| router.plan().name(s).to_string());
    assert!(failed.is_some());
    assert!(
        outcome
            .explanation
            .iter()
            .any(|l| l.contains("panic") || l.contains("CRASH")),
        "{:?}",
        outcome.explanation
    );
}

#[test]
fn template_errors_fail_with_packers_message() {
    let (text, exit) = transcript("template-error");
    let (_, _, outcome) = route(&text, exit, false);
    assert_eq!(outcome.status, BuildStatus::Failed);
    assert!(
        outcome
            .explanation
            .iter()
            .any(|l| l.contains("Unsupported attribute")),
        "{:?}",
        outcome.explanation
    );
}

#[test]
fn every_line_of_every_transcript_parses_without_loss() {
    for name in [
        "success",
        "failed",
        "cancelled",
        "crash-banner",
        "template-error",
        "demo-success",
        "demo-failed",
        "openstack-success",
        "openstack-failed",
        "openstack-cancelled",
        "success-local",
        "failed-local",
    ] {
        let (text, exit) = transcript(name);
        for line in text.lines() {
            let parsed = parse_line(line);
            if let Record::Unparsed(raw) = parsed.record {
                assert_eq!(raw, line.trim_end_matches('\r'));
            }
        }
        let _ = exit;
        // Line by line: every ui line with any text, and every line that is not CSV at all,
        // becomes at least one log line, and every log line comes from the text it was given.
        let mut router =
            kiln::bake::router::StageRouter::new(kiln::bake::plan::StagePlan::new(SCRIPTS), t0());
        for line in text.lines() {
            let mut events = Vec::new();
            router.route_stdout(line, t0(), &mut events);
            let logs: Vec<&str> = events
                .iter()
                .filter_map(|e| match e {
                    BuildEvent::Log { line, .. } => Some(line.as_str()),
                    _ => None,
                })
                .collect();
            let source = match parse_line(line).record {
                Record::Ui { text, .. } => text.into_owned(),
                Record::Unparsed(raw) => raw.to_string(),
                _ => continue,
            };
            if source.trim().is_empty() {
                continue;
            }
            assert!(!logs.is_empty(), "{name}: no log line for `{line}`");
            for l in logs {
                assert!(source.contains(l), "{name}: `{l}` is not in `{source}`");
            }
        }
    }
}

#[test]
fn a_new_script_becomes_a_stage_before_snapshot() {
    let text = "1,,ui,say,==> openstack.rke2: Provisioning with shell script: stages/08-extra.sh\n2,,ui,message,    openstack.rke2: hi\n3,,ui,say,==> openstack.rke2: Stopping server: x ...\n";
    let (router, events, _) = route(text, 0, false);
    let names: Vec<&str> = router
        .plan()
        .ordered()
        .iter()
        .map(|&i| router.plan().name(i))
        .collect();
    assert_eq!(names[names.len() - 2..], ["08-extra", "snapshot"]);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, BuildEvent::StageAdded { name, .. } if name == "08-extra"))
    );
    assert_eq!(
        log_of(&router, &events, "08-extra"),
        ["Provisioning with shell script: stages/08-extra.sh", "hi"]
    );
}
