//! End to end with real parts: `kiln build --headless --json` (the real binary) runs Debian's
//! packer 1.6.6 on the real `stages/rke2-node.pkr.hcl` and stage scripts against kiln's
//! simulator, with a real OpenSSH server on 127.0.0.1 standing in for the build VM (the lab:
//! tests/common/e2e.rs, tests/e2e/vm.sh). Three builds, each in its own lab: one that succeeds
//! (its image in Glance with the template's provenance, then `kiln images` calls it the newest
//! and keeps it), one whose stage 03 fails, one cancelled while stage 03 runs. After each the
//! simulator holds no server and no keypair of the build. Each build's packer.log must hold no
//! secret; with `KILN_E2E_RECORD=DIR` it is written there as a transcript
//! (tests/data/packer/record-demo.sh: the demo's recordings).

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use common::e2e::{Lab, Run, STAGES, Scenario};
use serde_json::Value;

/// A build of this lab takes about 15 s alone; generous for a loaded 2-core machine.
const LIMIT: Duration = Duration::from_secs(240);

/// Host paths a stage would write on a real VM: none may appear (or vanish) because of a build.
const HOST_PATHS: &[&str] = &[
    "/etc/packer-build",
    "/var/tmp/kiln-build",
    "/var/lib/kiln-build",
    "/opt/rke2-artifacts",
    "/opt/install.sh",
    "/usr/local/bin/rke2",
    "/etc/sysctl.d/90-rke2-node.conf",
    "/etc/modules-load.d/rke2.conf",
    "/etc/ssh/sshd_config.d/10-rke2-node.conf",
    "/etc/rancher/rke2",
    "/var/lib/rancher/rke2",
];

fn host_state() -> BTreeMap<&'static str, bool> {
    HOST_PATHS
        .iter()
        .map(|p| (*p, Path::new(p).exists()))
        .collect()
}

fn sha256_hex(path: &Path) -> String {
    use sha2::Digest;
    let bytes = std::fs::read(path).unwrap();
    sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Stage names of `stage_started`, in order, and every stage finished after it started, with
/// `last_status` for the last one and `ok` for the others.
fn assert_stages(run: &Run, expected: &[&str], last_status: &str) {
    assert_eq!(run.started(), expected, "{}", run.dump());
    let finished = run.finished_stages();
    let want: Vec<(String, String)> = expected
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let status = if i + 1 == expected.len() {
                last_status
            } else {
                "ok"
            };
            (s.to_string(), status.to_string())
        })
        .collect();
    assert_eq!(finished, want, "{}", run.dump());
    // each stage starts after the previous one finished: started, finished, started, ...
    let order: Vec<String> = run
        .events
        .iter()
        .filter_map(|e| match e["event"].as_str() {
            Some(k @ ("stage_started" | "stage_finished")) => {
                Some(format!("{k} {}", e["stage"].as_str().unwrap_or("?")))
            }
            _ => None,
        })
        .collect();
    let interleaved: Vec<String> = expected
        .iter()
        .flat_map(|s| [format!("stage_started {s}"), format!("stage_finished {s}")])
        .collect();
    assert_eq!(order, interleaved, "{}", run.dump());
    // a progress line belongs to the stage running then
    let mut current = String::new();
    for e in &run.events {
        match e["event"].as_str() {
            Some("stage_started") => current = e["stage"].as_str().unwrap_or("").to_string(),
            Some("progress") => assert_eq!(e["stage"], current.as_str(), "{e}"),
            _ => {}
        }
    }
}

/// Everything a build could leave in the cloud is gone: the servers are the seeded ones and
/// there is no keypair (packer's temporary keypair was deleted).
fn assert_nothing_left(lab: &Lab, servers_before: &std::collections::BTreeSet<String>) {
    assert_eq!(&lab.servers(), servers_before, "a server was left behind");
    assert!(
        lab.keypairs().is_empty(),
        "keypairs left behind: {:?}",
        lab.keypairs()
    );
}

fn progress_of<'a>(run: &'a Run, stage: &str) -> Vec<&'a Value> {
    run.of("progress")
        .into_iter()
        .filter(|e| e["stage"] == stage)
        .collect()
}

fn warnings(run: &Run) -> Vec<(String, String)> {
    run.of("warning")
        .iter()
        .map(|e| {
            (
                e["stage"].as_str().unwrap_or("?").to_string(),
                e["message"].as_str().unwrap_or("?").to_string(),
            )
        })
        .collect()
}

const KUBE_VIP: &str = "harbor.vitro.lan/k8s/kube-vip/kube-vip:v0.8.0";

#[test]
fn a_build_runs_every_stage_in_order_and_its_image_is_in_glance_the_newest_and_kept() {
    let lab = Lab::new();
    let host_before = host_state();
    let servers_before = lab.servers();
    let images_before = lab.sim.image_count();
    // the template and scripts packer runs are the repository's, byte for byte
    for f in ["rke2-node.pkr.hcl", "03-prepull-images.sh", "lib/common.sh"] {
        assert_eq!(
            std::fs::read(lab.workspace.join("stages").join(f)).unwrap(),
            std::fs::read(Path::new(common::e2e::REPO).join("stages").join(f)).unwrap(),
            "{f}"
        );
    }
    let token = format!("kiln-e2e-pro-token-{}", std::process::id());
    let mut cmd = lab.kiln();
    cmd.args(lab.build_args()).env("UBUNTU_PRO_TOKEN", &token);
    lab.prepare(Scenario::Partial03);
    let run = lab.run(&mut cmd, LIMIT, |_| false);
    eprintln!(
        "build: {:.1} s wall, kiln {:.2} s CPU, {} KiB peak RSS",
        run.wall.as_secs_f64(),
        run.usage.cpu,
        run.usage.peak_rss_kib
    );
    assert_eq!(run.code, Some(0), "{}", run.dump());

    // preflight: every check ok against the simulator (credentials, source image, free name)
    let pre = run.of("preflight");
    assert_eq!(pre.len(), 1);
    let checks = pre[0]["checks"].as_array().unwrap();
    assert!(checks.iter().all(|c| c["status"] == "ok"), "{}", pre[0]);
    for name in [
        "packer",
        "template",
        "credentials",
        "source image",
        "image name",
    ] {
        assert!(checks.iter().any(|c| c["name"] == name), "no {name} check");
    }

    assert_stages(&run, STAGES, "ok");
    // every script reported its own steps to the end (done == total on its last line)
    for stage in &STAGES[2..9] {
        let p = progress_of(&run, stage);
        let last = p.last().unwrap_or_else(|| panic!("no progress in {stage}"));
        assert_eq!(last["done"], last["total"], "{stage}: {last}");
    }
    // the partial pre-pull: 03 and the gate warn about the one missing image, nothing else does
    let prepull = format!("prepull-failed {KUBE_VIP}");
    let w = warnings(&run);
    let w: Vec<(&str, &str)> = w.iter().map(|(s, m)| (s.as_str(), m.as_str())).collect();
    assert_eq!(
        w,
        [
            ("03-prepull-images", prepull.as_str()),
            (
                "03-prepull-images",
                "1 image(s) not pre-pulled, listed in /etc/packer-build/prepull-failures.txt"
            ),
            ("07-validate", prepull.as_str()),
            (
                "07-validate",
                "1 pinned image(s) not in the image (partial pre-pulls allowed, prepull_strict=false): nodes pull them from the registry at boot"
            ),
        ]
    );

    let f = run.finished();
    let today = chrono::Utc::now().date_naive();
    let name = format!("rke2-node-v1.28-{}", today.format("%Y%m%d"));
    assert_eq!(f["status"], "succeeded");
    assert_eq!(f["image_name"], name.as_str());
    assert_eq!(f["failed_stage"], Value::Null);
    assert_eq!(f["error"], Value::Null);
    let id = f["image_id"].as_str().expect("an image id").to_string();

    // the image in the simulator's Glance, with the template's provenance
    assert_eq!(lab.sim.image_count(), images_before + 1);
    let img = lab.sim.image(&id).expect("the image is in Glance");
    assert_eq!(img.name, name);
    assert_eq!(img.status, "active");
    let mut tags = img.tags.clone();
    tags.sort();
    assert_eq!(tags, ["rke2-node", "rke2-node-v1.28"]);
    let p = &img.properties;
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(lab.root().join("etc/packer-build/image-manifest.json")).unwrap(),
    )
    .unwrap();
    let checksum = sha256_hex(&lab.workspace.join("files/sha256sum-amd64.txt"));
    for (k, v) in [
        ("rke2_version", "v1.28.15+rke2r1"),
        ("kubernetes_version", "v1.28.15"),
        ("fips_enabled", "false"),
        ("build_date", &today.format("%Y-%m-%d").to_string()),
        ("source_image", "ubuntu-22.04"),
        ("os_distro", "ubuntu"),
        ("os_version", "22.04"),
        ("manifest_schema_version", "1.0"),
        ("hw_qemu_guest_agent", "yes"),
        ("rke2_airgapped_checksum", &checksum),
    ] {
        assert_eq!(
            p.get(k).map(String::as_str),
            Some(v),
            "property {k}: {p:#?}"
        );
    }
    // the run's UUID: the same in Glance, in the image's manifest and in packer-manifest.json
    let uuid = p.get("packer_run_uuid").expect("packer_run_uuid");
    assert_eq!(uuid.len(), 36, "{uuid}");
    assert_eq!(manifest["packer_run_uuid"], uuid.as_str());
    assert_eq!(manifest["image_name"], name.as_str());
    assert_eq!(manifest["rke2_airgapped_checksum"], checksum.as_str());
    assert_eq!(manifest["prepull_failures"], serde_json::json!([KUBE_VIP]));
    assert_eq!(manifest["prepulled_images"].as_array().unwrap().len(), 13);
    let pm: Value = serde_json::from_str(
        &std::fs::read_to_string(lab.workspace.join("packer-manifest.json")).unwrap(),
    )
    .unwrap();
    let last = pm["builds"].as_array().unwrap().last().unwrap();
    assert_eq!(last["artifact_id"], id.as_str());
    assert_eq!(last["custom_data"]["packer_run_uuid"], uuid.as_str());

    // `kiln images --json`: the new image is the newest and is kept
    let out = lab.kiln().args(["images", "--json"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ours = list
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == id.as_str())
        .unwrap_or_else(|| panic!("{id} not listed: {list}"));
    assert_eq!(ours["name"], name.as_str());
    assert_eq!(ours["verdict"], "keep", "{ours}");
    assert!(
        ours["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "newest"),
        "{ours}"
    );
    assert_eq!(ours["fips_enabled"], false);
    assert_eq!(ours["series"], "v1.28");

    // the record: the result, and packer's raw machine-readable log
    let record = lab.last_record();
    let rec: Value =
        serde_json::from_str(&std::fs::read_to_string(record.join("build.json")).unwrap()).unwrap();
    assert_eq!(rec["result"], "succeeded");
    assert_eq!(rec["image_id"], id.as_str());
    let log = std::fs::read_to_string(record.join("packer.log")).unwrap();
    assert!(
        log.contains(",openstack.rke2,artifact,0,id,"),
        "not raw: {log}"
    );
    assert!(log.contains("Provisioning with shell script: stages/05-cleanup.sh"));
    // packer named the flavor (m1.large); Nova knows it by id: packer looked the id up
    assert!(
        log.contains("Verified flavor. ID: 4\n"),
        "the flavor was not looked up by name"
    );

    // no secret anywhere: the users' passwords, every token Keystone issued, the Pro token
    let secrets = lab.secrets(&[&token]);
    assert!(secrets.len() >= 4, "passwords, a token, the Pro token");
    let build_json = std::fs::read_to_string(record.join("build.json")).unwrap();
    for (what, text) in [
        ("events", run.dump()),
        ("packer.log", log),
        ("build.json", build_json),
    ] {
        for (i, secret) in secrets.iter().enumerate() {
            assert!(!text.contains(secret.as_str()), "secret #{i} is in {what}");
        }
    }

    // the stages changed the VM root, never the host: they ran the stubs (containerd and ctr
    // out of the airgap tarball), and 05 generalized the disk
    let calls = std::fs::read_to_string(lab.vm.join("calls.log")).unwrap();
    for call in [
        "sudo bash -c",
        "apt-get",
        "systemctl enable",
        "ctr ",
        "containerd --config",
        "cloud-init clean",
    ] {
        assert!(calls.contains(call), "no `{call}` in the stub calls");
    }
    let root = lab.root();
    assert!(
        root.join("opt/rke2-artifacts/sha256sum-amd64.txt")
            .is_file()
    );
    assert!(root.join("usr/local/bin/rke2").is_file());
    assert_eq!(
        std::fs::read_to_string(root.join("etc/machine-id")).unwrap(),
        ""
    );
    assert!(!root.join("etc/ssh/ssh_host_ed25519_key").exists());
    assert_eq!(std::fs::read_dir(root.join("var/tmp")).unwrap().count(), 0);
    assert_eq!(host_state(), host_before, "a host path changed");

    assert_nothing_left(&lab, &servers_before);
    assert!(lab.marked().is_empty(), "kiln or packer still running");
    lab.record_transcript("success", 0, &[&token]);
}

#[test]
fn a_stage_that_fails_fails_the_build_naming_it_and_leaves_nothing_behind() {
    let lab = Lab::new();
    let servers_before = lab.servers();
    let images_before = lab.sim.image_count();
    let run = lab.build(Scenario::Fail03, LIMIT, |_| false);
    assert_eq!(run.code, Some(1), "{}", run.dump());
    assert_stages(&run, &STAGES[..5], "failed");
    let f = run.finished();
    assert_eq!(f["status"], "failed", "{}", run.dump());
    assert_eq!(f["failed_stage"], "03-prepull-images");
    assert_eq!(f["image_id"], Value::Null);
    // the error is the script's own verdict (`die`: `<stage>: why`), not one of its ctr lines
    let error = f["error"].as_str().expect("an error");
    assert!(
        error.starts_with("03-prepull-images: none of the 14 images could be pulled from harbor.vitro.lan: ctr: failed to resolve reference"),
        "{error}"
    );
    // the stage's own words explain the failure
    let logs: Vec<&str> = run
        .of("log")
        .iter()
        .filter(|e| e["stage"] == "03-prepull-images")
        .filter_map(|e| e["line"].as_str())
        .collect();
    assert!(
        logs.iter()
            .any(|l| l.contains("03-prepull-images: none of the 14 images could be pulled")),
        "{logs:#?}"
    );
    assert_eq!(
        warnings(&run)
            .iter()
            .filter(|(s, m)| s == "03-prepull-images" && m.starts_with("prepull-failed "))
            .count(),
        14
    );
    let rec: Value = serde_json::from_str(
        &std::fs::read_to_string(lab.last_record().join("build.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(rec["result"], "failed");
    assert_eq!(rec["failed_stage"], "03-prepull-images");
    // the record keeps the whole explanation, the verdict first
    assert!(
        rec["error"].as_str().unwrap().starts_with(error),
        "{}",
        rec["error"]
    );
    // stages after 03 never ran on the VM
    assert!(!lab.root().join("etc/modules-load.d/rke2.conf").exists());
    assert_eq!(lab.sim.image_count(), images_before, "no image was made");
    assert_nothing_left(&lab, &servers_before);
    assert!(lab.marked().is_empty(), "kiln or packer still running");
    lab.record_transcript("failed", 1, &[]);
}

#[test]
fn a_build_cancelled_while_a_stage_runs_is_cancelled_and_leaves_nothing_behind() {
    let lab = Lab::new();
    let servers_before = lab.servers();
    let images_before = lab.sim.image_count();
    // SIGINT to kiln once stage 03's script is running (its containerd is up; the pulls hang)
    let run = lab.build(Scenario::Hang03, LIMIT, |e| {
        e["event"] == "progress" && e["stage"] == "03-prepull-images" && e["done"] == 1
    });
    assert_eq!(run.code, Some(130), "{}", run.dump());
    assert_stages(&run, &STAGES[..5], "cancelled");
    let f = run.finished();
    assert_eq!(f["status"], "cancelled", "{}", run.dump());
    assert_eq!(f["image_id"], Value::Null);
    // the pulls never finished
    assert_eq!(progress_of(&run, "03-prepull-images").len(), 1);
    assert_eq!(lab.sim.image_count(), images_before, "no image was made");
    assert_nothing_left(&lab, &servers_before);
    assert!(lab.marked().is_empty(), "kiln or packer still running");
    lab.record_transcript("cancelled", 1, &[]);
    // the remote command outlives packer's session (as on a server until it is deleted)
    lab.kill_vm_sessions();
}
