//! The stage scripts' own suite, run as part of `cargo test`: shellcheck, `packer fmt -check`,
//! `packer validate -syntax-only`, the bats suites with PATH stubs and TARGET_ROOT, stage 03 (with
//! 02, 04, 06, 07, 05) against a real containerd and a TLS registry on loopback, and the template
//! under real Packer over SSH proving the Pro token never reaches a command line. Needs root
//! (containerd, sshd, sudo) and the Debian packages `.ci/run` installs.

mod common;

#[test]
fn stage_scripts_template_and_bats_suite_pass() {
    for tool in [
        "bats",
        "shellcheck",
        "packer",
        "jq",
        "containerd",
        "ctr",
        "docker-registry",
        "skopeo",
        "openssl",
        "curl",
        "zstd",
        "python3",
        "sudo",
    ] {
        common::require_tool(tool);
    }
    let out = std::process::Command::new("bash")
        .arg("tests/stages/run.sh")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("CHECKPOINT_DISABLE", "1")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "tests/stages/run.sh failed:\n{text}");
    // The bats run really ran tests (a TAP plan with at least one test, and no failures).
    assert!(
        text.lines().any(|l| l.starts_with("1..") && l != "1..0"),
        "no bats tests ran:\n{text}"
    );
    assert!(!text.lines().any(|l| l.starts_with("not ok")), "{text}");
    // The real suites ran too (not skipped): their first tests are in the TAP output.
    for name in [
        "03 pulls all 14 pinned images through TLS into the real containerd",
        "the real template builds to the end over SSH with the null builder",
    ] {
        assert!(
            text.lines()
                .any(|l| l.starts_with("ok ") && l.contains(name)),
            "{name}: not run\n{text}"
        );
    }
}
