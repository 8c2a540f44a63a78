//! A REAL Keystone 30 + Glance 33 on 127.0.0.1 for tests (tests/cloud/start-openstack.sh), with
//! optional knobs (token lifetime, Glance page caps), more services in its catalog (e.g. the
//! simulator's Nova and Cinder) and each service's access log. Dropping the handle stops both
//! services by their PIDs on every exit path; on a panic the state dir (logs) is kept.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn cloud_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cloud")
}

/// The running services.
pub struct RealCloud {
    dir: Option<tempfile::TempDir>,
    /// The openrc's variables.
    pub openrc: BTreeMap<String, String>,
}

impl RealCloud {
    fn state(&self) -> PathBuf {
        self.dir
            .as_ref()
            .map(|d| d.path().join("state"))
            .unwrap_or_default()
    }

    /// Starts Keystone and Glance with `knobs` (KILN_KEYSTONE_TOKEN_EXPIRATION, ...).
    pub fn start(knobs: &[(&str, &str)]) -> RealCloud {
        let mut cloud = RealCloud {
            dir: Some(tempfile::tempdir().unwrap()),
            openrc: BTreeMap::new(),
        };
        let mut cmd = Command::new("bash");
        cmd.arg(cloud_dir().join("start-openstack.sh"))
            .arg(cloud.state());
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy().to_string();
            if k.starts_with("OS_")
                || k.starts_with("PKR_VAR_")
                || (k.starts_with("KILN_") && k != "KILN_OPENSTACK_VENV")
            {
                cmd.env_remove(&k);
            }
        }
        let out = cmd
            .envs(knobs.iter().copied())
            .stdin(Stdio::null())
            .output()
            .expect("run start-openstack.sh");
        assert!(
            out.status.success(),
            "start-openstack.sh failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let text = std::fs::read_to_string(cloud.state().join("openrc")).unwrap();
        cloud.openrc = text
            .lines()
            .filter_map(|l| l.strip_prefix("export ")?.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert!(cloud.openrc.contains_key("OS_AUTH_URL"), "{text}");
        cloud
    }

    /// Glance's sqlite database (tests backdate `created_at` there: the API makes it read-only).
    #[allow(dead_code)]
    pub fn glance_db(&self) -> PathBuf {
        self.state().join("glance/glance.db")
    }

    /// Adds a service of `kind` (`compute`, `volumev3`) named `name` at `url` to the catalog
    /// (tests/cloud/osctl.py register-endpoint, as the openrc's admin).
    #[allow(dead_code)]
    pub fn register_endpoint(&self, kind: &str, name: &str, url: &str) {
        let mut cmd = Command::new("python3");
        cmd.arg(cloud_dir().join("osctl.py"))
            .args(["register-endpoint", kind, name, url]);
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("OS_") {
                cmd.env_remove(&k);
            }
        }
        let out = cmd
            .envs(&self.openrc)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null())
            .output()
            .expect("run osctl.py register-endpoint");
        assert!(
            out.status.success(),
            "register-endpoint {kind} {url}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The access log of `service` (`keystone`, `glance`): one line a request answered so far.
    #[allow(dead_code)]
    pub fn access_log(&self, service: &str) -> String {
        std::fs::read_to_string(self.state().join(format!("{service}-access.log")))
            .unwrap_or_default()
    }

    /// An openrc variable.
    pub fn var(&self, k: &str) -> String {
        self.openrc.get(k).cloned().unwrap_or_default()
    }
}

impl Drop for RealCloud {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(cloud_dir().join("stop-openstack.sh"))
            .arg(self.state())
            .stdin(Stdio::null())
            .status();
        if std::thread::panicking()
            && let Some(dir) = self.dir.take()
        {
            eprintln!(
                "kept the cloud's state and logs in {}",
                dir.keep().display()
            );
        }
    }
}
