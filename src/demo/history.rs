//! The demo's build history, made from the simulated fleet (the same seed, so History, Images
//! and Nodes tell one story): a record for the build behind each image of the fleet (failed
//! where the image never became active), plus the failures and a cancel that made no image. It
//! is written into the demo's own temporary state directory, never the operator's.

use std::path::Path;

use chrono::Duration;

use crate::bake::events::StageStatus;
use crate::bake::plan::{PIPELINE_SCRIPTS, StagePlan};
use crate::bake::record::{BuildRecord, FipsRecord, RecordResult, RecordStore, StageRecord};
use crate::sim::fleet::{Fleet, FleetBuild};

/// Seconds each stage takes in a typical build (the recorded success's shape).
const STAGE_SECONDS: &[(&str, f64)] = &[
    ("launch", 74.0),
    ("upload", 24.0),
    ("01-system-packages", 96.0),
    ("02-install-rke2", 48.0),
    ("03-prepull-images", 335.0),
    ("04-harden", 27.0),
    ("06-manifest", 6.0),
    ("07-validate", 17.0),
    ("05-cleanup", 11.0),
    ("snapshot", 102.0),
];

/// A number from a string, for jitter that is the same on every run.
fn hash(s: &str) -> u64 {
    s.bytes().fold(1469598103934665603u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(1099511628211)
    })
}

fn stages(seed: u64, failed_at: Option<&str>, cancelled: bool) -> (Vec<StageRecord>, f64) {
    let plan = StagePlan::new(PIPELINE_SCRIPTS);
    let mut out = Vec::new();
    let mut total = 0.0;
    let mut ended = false;
    for &id in plan.ordered() {
        let name = plan.name(id);
        let base = STAGE_SECONDS
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(10.0, |(_, s)| *s);
        let jitter = 0.85 + (hash(&format!("{seed}{name}")) % 30) as f64 / 100.0;
        let (status, seconds) = if ended {
            (StageStatus::Skipped, None)
        } else if failed_at == Some(name) {
            ended = true;
            let s = (base * jitter * 0.6 * 10.0).round() / 10.0;
            total += s;
            let status = if cancelled {
                StageStatus::Cancelled
            } else {
                StageStatus::Failed
            };
            (status, Some(s))
        } else {
            let s = (base * jitter * 10.0).round() / 10.0;
            total += s;
            (StageStatus::Ok, Some(s))
        };
        out.push(StageRecord {
            name: name.to_string(),
            status,
            seconds,
        });
    }
    (out, total)
}

fn record_of(b: &FleetBuild) -> BuildRecord {
    let seed = hash(&b.run_uuid);
    let (failed_at, error) = if b.succeeded {
        (None, None)
    } else {
        (
            Some("snapshot"),
            Some(format!(
                "image {} did not become active: Glance left it {}",
                b.image.1,
                if seed.is_multiple_of(2) {
                    "queued"
                } else {
                    "killed"
                }
            )),
        )
    };
    let (stages, seconds) = stages(seed, failed_at, false);
    let pro = b.source_image.contains("pro");
    let mut r = BuildRecord::started(
        b.finished_at - Duration::milliseconds((seconds * 1000.0) as i64),
        Path::new("stages/rke2-node.pkr.hcl"),
        &[
            (
                "k8s_version".into(),
                format!("{}+rke2r1", b.kubernetes_version),
            ),
            ("source_image_name".into(), b.source_image.clone()),
            ("packer_run_uuid".into(), b.run_uuid.clone()),
        ],
        FipsRecord {
            requested: b.fips,
            validated: b.fips && pro,
            acknowledged_unvalidated: b.fips && !pro,
            reason: b.fips.then(|| {
                if pro {
                    format!("image name `{}` says Ubuntu Pro", b.source_image)
                } else {
                    format!("`{}` is not Ubuntu Pro", b.source_image)
                }
            }),
        },
        &crate::secrets::Secrets::default(),
    );
    r.finished_at = Some(b.finished_at);
    r.seconds = Some(seconds);
    r.stages = stages;
    r.result = if b.succeeded {
        RecordResult::Succeeded
    } else {
        RecordResult::Failed
    };
    r.image_id = Some(b.image.0.clone());
    r.image_name = Some(b.image.1.clone());
    r.failed_stage = failed_at.map(str::to_string);
    r.error = error;
    r
}

/// Builds that made no image: a pre-pull that met a Harbor outage, and a cancel.
fn without_images(fleet: &Fleet) -> Vec<BuildRecord> {
    let today = fleet
        .today
        .and_hms_opt(9, 0, 0)
        .map_or_else(chrono::Utc::now, |d| d.and_utc());
    [
        // the error kiln reports for the recorded failure (transcripts/failed.log, its packer.log)
        (3, "03-prepull-images", false, "03-prepull-images: none of the 14 images could be pulled from harbor.vitro.lan: ctr: failed to resolve reference \"harbor.vitro.lan/k8s/provider-os/openstack-cloud-controller-manager:v1.30.0\": failed to do request: Head \"https://harbor.vitro.lan/v2/k8s/provider-os/openstack-cloud-controller-manager/manifests/v1.30.0\": dial tcp: lookup harbor.vitro.lan on 127.0.0.53:53: no such host"),
        (17, "03-prepull-images", true, "cancelled"),
        (41, "02-install-rke2", false, "sha256 mismatch for rke2.linux-amd64.tar.gz: the artifacts in files/ are from another release"),
    ]
    .into_iter()
    .map(|(days, stage, cancelled, error)| {
        let (stages, seconds) = stages(days, Some(stage), cancelled);
        let mut r = BuildRecord::started(
            today - Duration::days(days as i64),
            Path::new("stages/rke2-node.pkr.hcl"),
            &[("k8s_version".into(), "v1.28.9+rke2r1".into())],
            FipsRecord::default(),
            &crate::secrets::Secrets::default(),
        );
        r.seconds = Some(seconds);
        r.finished_at = Some(r.started_at + Duration::milliseconds((seconds * 1000.0) as i64));
        r.stages = stages;
        r.result = if cancelled {
            RecordResult::Cancelled
        } else {
            RecordResult::Failed
        };
        r.failed_stage = Some(stage.to_string());
        r.error = Some(error.to_string());
        r
    })
    .collect()
}

/// Writes the fleet's build history into `builds_dir`. Returns how many records were written.
pub fn seed(fleet: &Fleet, builds_dir: &Path) -> std::io::Result<usize> {
    let store = RecordStore::new(builds_dir);
    let mut records: Vec<BuildRecord> = fleet.builds().iter().map(record_of).collect();
    records.extend(without_images(fleet));
    let mut n = 0;
    for r in records {
        let name = r.image_name.clone().unwrap_or_else(|| "no-image".into());
        let transcript = if r.result == RecordResult::Succeeded {
            super::transcripts().remove(0)
        } else {
            super::transcripts().remove(1)
        };
        let file = store
            .create(r, &name)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let mut file = file;
        file.append_raw(transcript.lines.iter().map(|l| l.as_bytes()))
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_history_is_the_fleets_builds_and_reads_back() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let fleet = Fleet::generate(7, today, crate::sim::fleet::FleetSize::Demo);
        let dir = tempfile::tempdir().unwrap();
        let n = seed(&fleet, dir.path()).unwrap();
        assert_eq!(n, fleet.builds().len() + 3);
        let list = RecordStore::new(dir.path()).list().unwrap();
        assert_eq!(list.len(), n);
        let records: Vec<BuildRecord> = list.into_iter().map(|r| r.unwrap().1).collect();
        // Each image of the fleet that has provenance has its build, by id.
        for b in fleet.builds() {
            assert!(
                records
                    .iter()
                    .any(|r| r.image_id.as_deref() == Some(b.image.0.as_str()))
            );
        }
        assert!(records.iter().any(|r| r.result == RecordResult::Cancelled));
        assert!(records.iter().any(|r| r.result == RecordResult::Succeeded));
        assert!(
            crate::bake::record::typical_seconds(
                &records
                    .iter()
                    .cloned()
                    .map(|r| Ok((std::path::PathBuf::new(), r)))
                    .collect::<Vec<_>>()
            )
            .is_some()
        );
    }

    #[test]
    fn the_seeded_failure_says_what_its_packer_log_says() {
        // The record of the failed build 3 days ago carries the recorded failure as its
        // packer.log: its error is the one kiln reports for that transcript.
        let t = crate::demo::transcripts().remove(1);
        let start = chrono::Utc::now();
        let mut router = crate::bake::router::StageRouter::new(
            crate::bake::plan::StagePlan::new(crate::bake::plan::PIPELINE_SCRIPTS),
            start,
        );
        let mut events = Vec::new();
        for line in &t.lines {
            router.route_stdout(line, start, &mut events);
        }
        let outcome = router.finish(
            crate::bake::router::Ending {
                exit_code: Some(t.exit_code),
                cancel_requested: false,
                escalated: false,
            },
            start,
            &mut events,
        );
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let fleet = Fleet::generate(7, today, crate::sim::fleet::FleetSize::Demo);
        let failed: Vec<BuildRecord> = without_images(&fleet)
            .into_iter()
            .filter(|r| r.failed_stage.as_deref() == Some("03-prepull-images"))
            .filter(|r| r.result == RecordResult::Failed)
            .collect();
        assert_eq!(failed.len(), 1);
        assert!(outcome.error.is_some());
        assert_eq!(failed[0].error, outcome.error);
    }
}
