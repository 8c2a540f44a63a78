//! Secrets never reach stdout, packer.log, build.json, the log file, or any argv: a password with
//! a comma (which packer escapes as `%!(PACKER_COMMA)`), a secret that contains another (the
//! longest goes first), a var whose value embeds a secret, and the Ubuntu Pro token passed to
//! packer through its environment (`PKR_VAR_ubuntu_pro_token`), never as `-var`.

mod common;

use common::fake::{Env, json_lines};
use common::*;

const PASSWORD: &str = "Super,Secret123";
const TOKEN: &str = "C1secretPROtoken";
/// A secret-named var whose value is a prefix of the password: the password is replaced whole.
const SHORT: &str = "Super";

/// A packer that leaks everything it was given into its output, as packer would escape it, and
/// ends with an image.
fn leaky() -> Env {
    Env::script(
        "esc() { printf '%s' \"$1\" | sed 's/,/%!(PACKER_COMMA)/g'; }\n\
         echo \"1,,ui,say,==> openstack.rke2: Provisioning with shell script: stages/04-harden.sh\"\n\
         echo \"2,,ui,message,    openstack.rke2: token $PKR_VAR_ubuntu_pro_token password $(esc \"$OS_PASSWORD\")\"\n\
         echo \"2,,ui,error,==> openstack.rke2: stderr $(esc \"$OS_PASSWORD\") and $(esc \"$PKR_VAR_api_password\")\"\n\
         echo \"3,,ui,say,==> openstack.rke2: Creating the image: rke2-node-v1.28-20261125\"\n\
         echo '4,,artifact,0,builder-id,mitchellh.openstack'\n\
         echo '4,,artifact,0,id,8c1d0c3e-4f5a-4b6c-9d7e-0f1a2b3c4d5e'\n\
         exit 0\n",
    )
}

#[test]
fn secrets_with_punctuation_never_reach_output_records_logs_or_argv() {
    let env = leaky();
    let log_file = env.home().join("kiln.log");
    let out = env
        .cmd()
        .env("OS_PASSWORD", PASSWORD)
        .args(["--log-file", log_file.to_str().unwrap()])
        .args(["build", "--headless", "--json", "--skip-preflight"])
        .args(["--var", &format!("ubuntu_pro_token={TOKEN}")])
        .args(["--var", &format!("api_password={SHORT}")])
        .args(["--var", &format!("mirror=https://admin:{PASSWORD}@harbor")])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events = json_lines(&out);
    let lines: Vec<&str> = events.iter().filter_map(|e| e["line"].as_str()).collect();
    assert!(
        lines.contains(&"token <redacted> password <redacted>"),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"stderr <redacted> and <redacted>"),
        "the password whole, not <redacted>,Secret123: {lines:?}"
    );
    let dir = record_dir(env.home());
    let build_json = std::fs::read_to_string(dir.join("build.json")).unwrap();
    let record: serde_json::Value = serde_json::from_str(&build_json).unwrap();
    assert_eq!(record["vars"]["ubuntu_pro_token"], "<redacted>");
    assert_eq!(record["vars"]["mirror"], "https://admin:<redacted>@harbor");
    let files = [
        std::fs::read_to_string(dir.join("packer.log")).unwrap(),
        build_json,
        std::fs::read_to_string(&log_file).unwrap_or_default(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    ];
    for f in &files {
        for secret in [
            PASSWORD,
            "Super%!(PACKER_COMMA)Secret123",
            "Secret123",
            TOKEN,
        ] {
            assert!(!f.contains(secret), "`{secret}` leaked: {f}");
        }
    }
    // The log file got kiln's diagnostics (the packer invocation).
    assert!(
        files[2].contains("packer started"),
        "log file: {}",
        files[2]
    );
    // On packer's argv: no secret at all. In its environment: the secret vars.
    let argv = env.packer_args().unwrap().join(" ");
    assert!(
        !argv.contains(TOKEN) && !argv.contains("ubuntu_pro_token"),
        "{argv}"
    );
    assert!(!argv.contains("api_password"), "{argv}");
    assert!(
        argv.contains("mirror=https://admin:"),
        "non-secret vars stay -var: {argv}"
    );
    let penv = env.packer_env();
    assert!(
        penv.contains(&format!("PKR_VAR_ubuntu_pro_token={TOKEN}")),
        "{penv:?}"
    );
}
