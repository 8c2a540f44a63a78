//! The Nodes table: one row per Nova server booted from an `rke2-node-*` image (directly or from
//! a volume made from one), with its addresses, its image (name, age, retention standing) and
//! where its inspection is.

use crate::app::widgets::table::{Cell, Column, SortKey, TableRow};
use crate::cloud::usage::ServerRef;
use crate::format::age;
use crate::inventory::{ImageReport, Inventory};
use crate::retention::{Reason, Verdict};

use super::Inspection;

/// The table's columns.
pub const COLUMNS: &[Column] = &[
    Column::fit("", 1, 1),
    Column::fit("NAME", 10, 34),
    Column::fit("ADDRESS", 7, 22).optional(1),
    Column::fit("IMAGE", 10, 34),
    Column::fit_right("AGE", 3, 6).optional(2),
    Column::fit("IMAGE STANDING", 8, 16).optional(0),
    Column::fit("STATUS", 6, 8).optional(3),
    Column::fill("INSPECTION"),
];

/// A node: a server and the image it runs.
#[derive(Debug, Clone)]
pub struct NodeRow {
    /// The server.
    pub server: ServerRef,
    /// Booted from a volume made from the image (not from the image itself).
    pub from_volume: bool,
    /// The image it was booted from.
    pub image: ImageReport,
    /// Seconds since the image was created, at the listing.
    pub image_age_seconds: i64,
    /// Marked for inspection.
    pub marked: bool,
    /// Where its inspection is (copied in from the page for the table).
    pub inspection: Option<Inspection>,
    /// The SSH endpoint when it is not the address's port 22 (the demo's nodes): shown instead.
    pub endpoint: Option<std::net::SocketAddr>,
}

impl NodeRow {
    /// The image is kept only because nodes use it: past the retention age, and the newest of
    /// nothing. The cluster should roll to a newer image.
    pub fn kept_only_in_use(&self) -> bool {
        self.image.verdict == Verdict::Keep && self.image.reasons == [Reason::InUse]
    }

    /// What the IMAGE STANDING column says.
    pub fn standing(&self) -> (&'static str, &'static str) {
        if self.kept_only_in_use() {
            ("past retention", "warning")
        } else if self.image.reasons.contains(&Reason::Newest) {
            ("newest", "ok")
        } else if self.image.reasons.contains(&Reason::LatestInSeries) {
            ("latest of series", "ok")
        } else if self.image.reasons.contains(&Reason::YoungerThanMinAge) {
            ("young", "text")
        } else {
            ("kept", "text")
        }
    }

    /// The address kiln connects to: the first (floating first).
    pub fn address(&self) -> Option<&str> {
        self.server.addresses.first().map(String::as_str)
    }
}

/// What the INSPECTION column says, and its style.
pub fn inspection_cell(i: Option<&Inspection>) -> (String, &'static str) {
    match i {
        None => ("-".into(), "dim"),
        Some(Inspection::Queued) => ("queued".into(), "stage_pending"),
        Some(Inspection::Connecting) => ("connecting".into(), "stage_running"),
        Some(Inspection::Reading) => ("reading".into(), "stage_running"),
        Some(Inspection::Stopped) => ("stopped".into(), "warning"),
        Some(Inspection::Done(r)) if !r.ok => (
            format!(
                "NOT READ: {}",
                crate::format::plain(r.error.as_deref().unwrap_or(""))
            ),
            "error",
        ),
        Some(Inspection::Done(r)) => {
            use crate::manifest::Severity::*;
            let n = |s| r.drift.iter().filter(|f| f.severity == s).count();
            match (n(Error), n(Warning), n(Info)) {
                (0, 0, _) => ("ok".into(), "ok"),
                (0, w, _) => (format!("ok, {w} warning(s)"), "warning"),
                (e, w, _) => (format!("DRIFT: {e} error(s), {w} warning(s)"), "error"),
            }
        }
    }
}

impl TableRow for NodeRow {
    fn cells(&self) -> Vec<Cell> {
        let (standing, standing_style) = self.standing();
        let (inspection, inspection_style) = inspection_cell(self.inspection.as_ref());
        let image = if self.from_volume {
            format!("{} (volume)", self.image.name)
        } else {
            self.image.name.clone()
        };
        vec![
            Cell::new(if self.marked { "•" } else { " " }, "title"),
            Cell::new(self.server.name.clone(), "text"),
            Cell::new(
                match self.endpoint {
                    Some(e) => e.to_string(),
                    None => self.address().unwrap_or("-").to_string(),
                },
                "dim",
            ),
            Cell::new(image, "text"),
            Cell::new(age(self.image_age_seconds), "text"),
            Cell::new(standing, standing_style),
            Cell::new(
                self.server.status.clone(),
                if self.server.status == "ACTIVE" {
                    "text"
                } else {
                    "warning"
                },
            ),
            Cell::new(inspection, inspection_style),
        ]
    }

    fn sort_key(&self, col: usize) -> SortKey {
        match col {
            4 => SortKey::Number(self.image_age_seconds as f64),
            _ => SortKey::Text(self.cells()[col].text.to_lowercase()),
        }
    }
}

/// The nodes of an inventory: servers booted from its images, then servers booted from volumes
/// made from them; by name. `endpoints`: SSH endpoints by server id where not `address:22`.
pub fn rows(
    inv: &Inventory,
    endpoints: &std::collections::BTreeMap<String, std::net::SocketAddr>,
) -> Vec<NodeRow> {
    let mut out = Vec::new();
    for image in &inv.images {
        let age = (inv.at - image.created_at).num_seconds();
        let row = |server: &ServerRef, from_volume: bool| NodeRow {
            server: server.clone(),
            from_volume,
            image: image.clone(),
            image_age_seconds: age,
            marked: false,
            inspection: None,
            endpoint: endpoints.get(&server.id).copied(),
        };
        out.extend(image.servers.iter().map(|s| row(s, false)));
        for v in &image.volumes {
            for id in &v.attached_to {
                if let Some(s) = inv.volume_booted.get(id) {
                    out.push(row(s, true));
                }
            }
        }
    }
    out.sort_by(|a, b| {
        a.server
            .name
            .cmp(&b.server.name)
            .then(a.server.id.cmp(&b.server.id))
    });
    out.dedup_by(|a, b| a.server.id == b.server.id);
    out
}
