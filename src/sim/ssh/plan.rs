//! Which node is which: every server booted from an `rke2-node-*` image gets a node, and the
//! kinds are chosen deterministically from the servers sorted by name. The drifted node is the
//! first ACTIVE one on a non-FIPS image, the node with the unknown host key the last such one;
//! every other node on a FIPS image is a FIPS node. When no other node is on a FIPS image, the
//! image of the first remaining ACTIVE node is made a FIPS build (its Glance property flipped by
//! the caller), so the demo always has one. Pure.

/// What a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NodeKind {
    /// What its image promises: no drift of severity error.
    Healthy,
    /// RKE2 upgraded in place, a pre-pulled image gone, a pre-pull failure recorded.
    Drifted,
    /// A FIPS build: kernel in FIPS mode, Ubuntu Pro attached with fips-updates.
    Fips,
    /// Healthy, but its host key is left out of the known_hosts the simulator writes.
    UnknownHostKey,
}

impl NodeKind {
    /// `healthy`, `drifted`, `fips`, `unknown-host-key`.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeKind::Healthy => "healthy",
            NodeKind::Drifted => "drifted",
            NodeKind::Fips => "fips",
            NodeKind::UnknownHostKey => "unknown-host-key",
        }
    }
}

impl std::fmt::Display for NodeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A server that gets a node, as the choice needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Server name (the sort key).
    pub name: String,
    /// Server id (the tie-break).
    pub id: String,
    /// The image it was booted from.
    pub image_id: String,
    /// Nova status is ACTIVE.
    pub active: bool,
    /// Its image's `fips_enabled` property is `true`.
    pub fips_image: bool,
}

/// The choice: a kind per candidate (in the order given) and the image to make a FIPS build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// One kind per candidate, in the order given.
    pub kinds: Vec<NodeKind>,
    /// An image whose `fips_enabled` must be flipped to `true` (no other node was on one).
    pub make_fips: Option<String>,
}

/// Chooses the kinds (see the module's doc).
pub fn choose(candidates: &[Candidate]) -> Plan {
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (&candidates[a], &candidates[b]);
        (&a.name, &a.id).cmp(&(&b.name, &b.id))
    });
    let pick = |from_end: bool, skip: Option<usize>, want: &dyn Fn(&Candidate) -> bool| {
        let ok = |i: &&usize| Some(**i) != skip && want(&candidates[**i]);
        if from_end {
            order.iter().rev().find(ok).copied()
        } else {
            order.iter().find(ok).copied()
        }
    };
    let first_of = |from_end: bool, skip: Option<usize>| {
        pick(from_end, skip, &|c| c.active && !c.fips_image)
            .or_else(|| pick(from_end, skip, &|c| c.active))
            .or_else(|| pick(from_end, skip, &|_| true))
    };
    let drifted = first_of(false, None);
    let unknown = first_of(true, drifted);
    let special = |i: usize| Some(i) == drifted || Some(i) == unknown;
    let has_fips = order
        .iter()
        .any(|&i| !special(i) && candidates[i].fips_image);
    let make_fips = if has_fips {
        None
    } else {
        order
            .iter()
            .find(|&&i| !special(i) && candidates[i].active)
            .or_else(|| order.iter().find(|&&i| !special(i)))
            .map(|&i| candidates[i].image_id.clone())
    };
    let kinds = (0..candidates.len())
        .map(|i| {
            let c = &candidates[i];
            if Some(i) == drifted {
                NodeKind::Drifted
            } else if Some(i) == unknown {
                NodeKind::UnknownHostKey
            } else if c.fips_image || make_fips.as_deref() == Some(c.image_id.as_str()) {
                NodeKind::Fips
            } else {
                NodeKind::Healthy
            }
        })
        .collect();
    Plan { kinds, make_fips }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(name: &str, image: &str, active: bool, fips: bool) -> Candidate {
        Candidate {
            name: name.into(),
            id: format!("id-{name}"),
            image_id: image.into(),
            active,
            fips_image: fips,
        }
    }

    #[test]
    fn drifted_first_unknown_last_fips_from_the_image() {
        let cands = [
            c("d", "i1", true, false),
            c("a", "i1", false, false),
            c("b", "i2", true, true),
            c("c", "i1", true, false),
            c("e", "i3", true, false),
        ];
        let p = choose(&cands);
        assert_eq!(p.make_fips, None);
        use NodeKind::*;
        assert_eq!(p.kinds, [Healthy, Healthy, Fips, Drifted, UnknownHostKey]);
    }

    #[test]
    fn without_a_fips_image_one_is_made() {
        let cands = [
            c("a", "i1", true, false),
            c("b", "i2", true, false),
            c("c", "i2", true, false),
            c("d", "i1", true, false),
        ];
        let p = choose(&cands);
        assert_eq!(p.make_fips.as_deref(), Some("i2"));
        use NodeKind::*;
        assert_eq!(p.kinds, [Drifted, Fips, Fips, UnknownHostKey]);
    }

    #[test]
    fn few_servers_still_get_kinds() {
        assert_eq!(choose(&[]).kinds, []);
        let one = choose(&[c("a", "i", false, true)]);
        assert_eq!(one.kinds, [NodeKind::Drifted]);
        let two = choose(&[c("a", "i", true, false), c("b", "i", true, false)]);
        assert_eq!(two.kinds, [NodeKind::Drifted, NodeKind::UnknownHostKey]);
        assert_eq!(two.make_fips, None, "nothing left to make FIPS");
    }
}
