//! The stages of a build: `launch`, `upload`, one per shell script (file name without `.sh`),
//! and `snapshot`, read from the template's text. A script the plan did not know is added before
//! `snapshot` as the build meets it.

use std::path::Path;

use super::events::StageId;

/// The first stage: server create until SSH is up.
pub const LAUNCH: &str = "launch";
/// File provisioners.
pub const UPLOAD: &str = "upload";
/// Stop server, create image, wait for it, terminate.
pub const SNAPSHOT: &str = "snapshot";

/// The pipeline's stage scripts in the order `stages/rke2-node.pkr.hcl` runs them (the process
/// document's 01, 02, 03, 04, 06, then the validation gate 07, then 05). Used where no template
/// is read: the demo, benches and tests.
pub const PIPELINE_SCRIPTS: &[&str] = &[
    "01-system-packages.sh",
    "02-install-rke2.sh",
    "03-prepull-images.sh",
    "04-harden.sh",
    "06-manifest.sh",
    "07-validate.sh",
    "05-cleanup.sh",
];
/// The ordered stages of a build. Ids are stable; the display order may gain stages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagePlan {
    names: Vec<String>,
    order: Vec<StageId>,
}

impl StagePlan {
    /// A plan of `launch`, `upload`, the given scripts' stages in order, then `snapshot`.
    pub fn new<S: AsRef<str>>(scripts: &[S]) -> Self {
        let mut plan = StagePlan {
            names: Vec::new(),
            order: Vec::new(),
        };
        plan.push(LAUNCH);
        plan.push(UPLOAD);
        for script in scripts {
            let name = stage_name_for_script(script.as_ref());
            if plan.id(&name).is_none() {
                plan.push(&name);
            }
        }
        plan.push(SNAPSHOT);
        plan
    }

    /// The plan for a template: the `.sh` scripts it names, in the order they appear.
    pub fn for_template_text(text: &str) -> Self {
        StagePlan::new(&scripts_in_template(text))
    }

    fn push(&mut self, name: &str) -> StageId {
        let id = self.names.len();
        self.names.push(name.to_string());
        self.order.push(id);
        id
    }

    /// Adds a stage before `snapshot` (or at the end), returning its id.
    pub fn insert_before_snapshot(&mut self, name: &str) -> StageId {
        let id = self.names.len();
        self.names.push(name.to_string());
        let at = self
            .order
            .iter()
            .position(|&s| self.names[s] == SNAPSHOT)
            .unwrap_or(self.order.len());
        self.order.insert(at, id);
        id
    }

    /// The id of the stage with this name.
    pub fn id(&self, name: &str) -> Option<StageId> {
        self.names.iter().position(|n| n == name)
    }

    /// The name of a stage.
    pub fn name(&self, id: StageId) -> &str {
        self.names.get(id).map_or("?", String::as_str)
    }

    /// Stage ids in display (execution) order.
    pub fn ordered(&self) -> &[StageId] {
        &self.order
    }

    /// How many stages.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// True when the plan has no stages (never, in practice).
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// `stages/03-prepull-images.sh` -> `03-prepull-images`.
pub fn stage_name_for_script(path: &str) -> String {
    let file = Path::new(path.trim())
        .file_name()
        .and_then(|f| f.to_str())
        .unwrap_or(path);
    file.strip_suffix(".sh").unwrap_or(file).to_string()
}

/// The `.sh` file names a template mentions, in order of first appearance.
pub fn scripts_in_template(text: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for line in text.lines() {
        let code = line.split('#').next().unwrap_or("");
        for piece in code.split('"') {
            if piece.ends_with(".sh") && !piece.contains(char::is_whitespace) {
                let name = stage_name_for_script(piece);
                if !found.contains(&name) {
                    found.push(name);
                }
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_from_template_keeps_script_order() {
        let tpl = r#"
  provisioner "shell" { script = "${path.root}/01-system-packages.sh" }
  # provisioner "shell" { script = "commented-out.sh" }
  provisioner "shell" { scripts = ["stages/06-manifest.sh", "stages/05-cleanup.sh"] }
"#;
        let plan = StagePlan::for_template_text(tpl);
        let names: Vec<&str> = plan.ordered().iter().map(|&i| plan.name(i)).collect();
        assert_eq!(
            names,
            [
                "launch",
                "upload",
                "01-system-packages",
                "06-manifest",
                "05-cleanup",
                "snapshot"
            ]
        );
    }

    #[test]
    fn new_stage_goes_before_snapshot() {
        let mut plan = StagePlan::new(&["a.sh"]);
        let id = plan.insert_before_snapshot("b");
        let names: Vec<&str> = plan.ordered().iter().map(|&i| plan.name(i)).collect();
        assert_eq!(names, ["launch", "upload", "a", "b", "snapshot"]);
        assert_eq!(plan.name(id), "b");
    }
}
