//! The stage scripts' own suite (shellcheck, `packer fmt -check`, `packer validate
//! -syntax-only`, bats with PATH stubs and TARGET_ROOT), run as part of `cargo test`.

mod common;

#[test]
fn stage_scripts_template_and_bats_suite_pass() {
    for tool in ["bats", "shellcheck", "packer", "jq"] {
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
}
