//! Glance v2 image listing as real Glance does it, as a pure function: visibility for the
//! caller, filters (`name`/`status`/`id` with `in:`, `visibility`, repeated `tag`, `owner`,
//! `protected`, formats, `size_min`/`size_max`, `created_at`/`updated_at` with `lt:`/`gte:`...,
//! any other key as a custom property), `sort=k:dir,...` or `sort_key`/`sort_dir`, and
//! `limit` + `marker` pagination (the page is full when a `next` link may follow).

use std::cmp::Ordering;

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::sim::fleet::FleetImage;

/// Glance's `limit_param_default`.
pub const DEFAULT_LIMIT: usize = 25;
/// Glance's `api_limit_max`.
pub const MAX_LIMIT: usize = 1000;

/// Who is listing.
#[derive(Debug, Clone, Copy)]
pub struct Viewer<'a> {
    /// The token's project id.
    pub project_id: &'a str,
    /// Admin role.
    pub admin: bool,
}

/// One page.
#[derive(Debug)]
pub struct Page<'a> {
    /// The images on it.
    pub images: Vec<&'a FleetImage>,
    /// The marker of the next page, when the page was full.
    pub next_marker: Option<String>,
}

const SORT_KEYS: &[&str] = &[
    "name",
    "status",
    "container_format",
    "disk_format",
    "size",
    "id",
    "created_at",
    "updated_at",
    "visibility",
    "owner",
];

const NOT_PROPERTIES: &[&str] = &[
    "limit",
    "marker",
    "sort",
    "sort_key",
    "sort_dir",
    "name",
    "status",
    "visibility",
    "tag",
    "owner",
    "protected",
    "container_format",
    "disk_format",
    "size_min",
    "size_max",
    "created_at",
    "updated_at",
    "id",
    "os_hidden",
    "member_status",
];

/// True when `viewer` may see `img` with the `visibility` filter given (None: the default view).
pub fn visible(img: &FleetImage, viewer: Viewer<'_>, visibility: Option<&str>) -> bool {
    let own = img.owner == viewer.project_id;
    match visibility {
        None => viewer.admin || img.visibility == "public" || own,
        Some("all") => {
            viewer.admin || own || matches!(img.visibility.as_str(), "public" | "community")
        }
        Some(v) => {
            img.visibility == v && (viewer.admin || own || matches!(v, "public" | "community"))
        }
    }
}

fn in_list(value: &str, filter: &str) -> bool {
    match filter.strip_prefix("in:") {
        Some(list) => list.split(',').any(|v| v.trim_matches('"') == value),
        None => filter == value,
    }
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")
                .ok()
                .map(|n| n.and_utc())
        })
}

fn time_filter(t: DateTime<Utc>, filter: &str, key: &str) -> Result<bool, String> {
    let (op, value) = filter.split_once(':').unwrap_or(("eq", filter));
    let (op, value) = if ["eq", "neq", "lt", "lte", "gt", "gte"].contains(&op) {
        (op, value)
    } else {
        ("eq", filter)
    };
    let v = parse_time(value)
        .ok_or_else(|| format!("Unable to filter on a {key} with value {value}: not ISO 8601"))?;
    Ok(match op {
        "eq" => t == v,
        "neq" => t != v,
        "lt" => t < v,
        "lte" => t <= v,
        "gt" => t > v,
        _ => t >= v,
    })
}

fn property(img: &FleetImage, key: &str) -> Option<String> {
    img.properties.get(key).cloned()
}

fn matches(img: &FleetImage, query: &[(String, String)]) -> Result<bool, String> {
    for (k, v) in query {
        let ok = match k.as_str() {
            "limit" | "marker" | "sort" | "sort_key" | "sort_dir" | "visibility"
            | "member_status" => true,
            "name" => in_list(&img.name, v),
            "status" => in_list(&img.status, v),
            "id" => in_list(&img.id, v),
            "disk_format" => in_list(&img.disk_format, v),
            "container_format" => in_list(&img.container_format, v),
            "owner" => img.owner == *v,
            "tag" => img.tags.iter().any(|t| t == v),
            "protected" => match v.as_str() {
                "true" => img.protected,
                "false" => !img.protected,
                _ => {
                    return Err(format!(
                        "Invalid value '{v}' for 'protected' filter. Valid values are 'true' or 'false'."
                    ));
                }
            },
            "os_hidden" => v == "false",
            "size_min" | "size_max" => {
                let n: u64 = v
                    .parse()
                    .map_err(|_| format!("{k} must be an integer, got {v}"))?;
                let size = img.size.unwrap_or(0);
                if k == "size_min" {
                    size >= n
                } else {
                    size <= n
                }
            }
            "created_at" => time_filter(img.created_at, v, k)?,
            "updated_at" => time_filter(img.updated_at, v, k)?,
            other if !NOT_PROPERTIES.contains(&other) => {
                property(img, other).as_deref() == Some(v.as_str())
            }
            _ => true,
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

/// `(key, descending)` pairs from `sort=` or `sort_key`/`sort_dir`, default `created_at:desc`.
pub fn sort_keys(query: &[(String, String)]) -> Result<Vec<(String, bool)>, String> {
    let mut keys = Vec::new();
    let get = |k: &'static str| {
        query
            .iter()
            .filter(move |(q, _)| q == k)
            .map(|(_, v)| v.as_str())
    };
    if let Some(sort) = get("sort").next() {
        if get("sort_key").next().is_some() {
            return Err(
                "The 'sort' parameter cannot be combined with 'sort_key' or 'sort_dir'".into(),
            );
        }
        for part in sort.split(',') {
            let (k, dir) = part.split_once(':').unwrap_or((part, "desc"));
            keys.push((k.trim().to_string(), dir.trim().to_string()));
        }
    } else {
        let dirs: Vec<&str> = get("sort_dir").collect();
        for (i, k) in get("sort_key").enumerate() {
            let dir = dirs.get(i).or(dirs.first()).copied().unwrap_or("desc");
            keys.push((k.to_string(), dir.to_string()));
        }
    }
    if keys.is_empty() {
        keys.push(("created_at".into(), "desc".into()));
    }
    keys.into_iter()
        .map(|(k, dir)| {
            if !SORT_KEYS.contains(&k.as_str()) {
                return Err(format!("Invalid sort key: {k}. It is not available."));
            }
            match dir.as_str() {
                "asc" => Ok((k, false)),
                "desc" => Ok((k, true)),
                other => Err(format!("Invalid sort direction: {other}")),
            }
        })
        .collect()
}

fn compare(a: &FleetImage, b: &FleetImage, key: &str) -> Ordering {
    match key {
        "name" => a.name.cmp(&b.name),
        "status" => a.status.cmp(&b.status),
        "container_format" => a.container_format.cmp(&b.container_format),
        "disk_format" => a.disk_format.cmp(&b.disk_format),
        "size" => a.size.cmp(&b.size),
        "id" => a.id.cmp(&b.id),
        "updated_at" => a.updated_at.cmp(&b.updated_at),
        "visibility" => a.visibility.cmp(&b.visibility),
        "owner" => a.owner.cmp(&b.owner),
        _ => a.created_at.cmp(&b.created_at),
    }
}

/// One page of `images` for `query`, as `viewer` sees them.
pub fn list<'a>(
    images: impl Iterator<Item = &'a FleetImage>,
    query: &[(String, String)],
    viewer: Viewer<'_>,
) -> Result<Page<'a>, String> {
    let limit = match query.iter().find(|(k, _)| k == "limit") {
        Some((_, v)) => match v.parse::<i64>() {
            Ok(n) if n < 0 => return Err("limit param must be positive".into()),
            Ok(n) => (n as usize).min(MAX_LIMIT),
            Err(_) => return Err("limit param must be an integer".into()),
        },
        None => DEFAULT_LIMIT,
    };
    let keys = sort_keys(query)?;
    let visibility = query
        .iter()
        .find(|(k, _)| k == "visibility")
        .map(|(_, v)| v.as_str());
    if let Some(v) = visibility
        && !["public", "private", "shared", "community", "all"].contains(&v)
    {
        return Err(format!("Invalid visibility value: {v}"));
    }
    let mut found = Vec::new();
    for img in images {
        if visible(img, viewer, visibility) && matches(img, query)? {
            found.push(img);
        }
    }
    // Glance appends the id as the last key, descending unless the last key is ascending.
    let id_desc = keys.last().is_none_or(|(_, d)| *d);
    found.sort_by(|a, b| {
        keys.iter()
            .map(|(k, desc)| {
                let o = compare(a, b, k);
                if *desc { o.reverse() } else { o }
            })
            .find(|o| *o != Ordering::Equal)
            .unwrap_or_else(|| {
                if id_desc {
                    b.id.cmp(&a.id)
                } else {
                    a.id.cmp(&b.id)
                }
            })
    });
    let start = match query.iter().find(|(k, _)| k == "marker") {
        Some((_, m)) => match found.iter().position(|i| i.id == *m) {
            Some(p) => p + 1,
            None => return Err(format!("Invalid marker. Image {m} could not be found.")),
        },
        None => 0,
    };
    let images: Vec<&FleetImage> = found.into_iter().skip(start).take(limit).collect();
    let next_marker = (limit > 0 && images.len() == limit).then(|| images[limit - 1].id.clone());
    Ok(Page {
        images,
        next_marker,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::fleet::{Fleet, FleetSize};

    fn q(s: &str) -> Vec<(String, String)> {
        crate::sim::http::parse_query(s)
    }

    fn fleet() -> Fleet {
        Fleet::generate(
            3,
            chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap(),
            FleetSize::Demo,
        )
    }

    #[test]
    fn pages_cover_everything_once_in_default_order() {
        let f = fleet();
        let admin = Viewer {
            project_id: &f.projects[0].id,
            admin: true,
        };
        let mut seen = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let query = match &marker {
                Some(m) => q(&format!("limit=7&marker={m}")),
                None => q("limit=7"),
            };
            let page = list(f.images.iter(), &query, admin).unwrap();
            seen.extend(page.images.iter().map(|i| (i.created_at, i.id.clone())));
            match page.next_marker {
                Some(m) => marker = Some(m),
                None => break,
            }
        }
        assert_eq!(seen.len(), f.images.len());
        assert!(seen.windows(2).all(|w| w[0] >= w[1]), "newest first");
    }

    #[test]
    fn filters_sort_and_errors() {
        let f = fleet();
        let admin = Viewer {
            project_id: &f.projects[0].id,
            admin: true,
        };
        let page = list(
            f.images.iter(),
            &q("name=in:ubuntu-22.04,cirros-0.6.2&limit=100"),
            admin,
        )
        .unwrap();
        assert_eq!(page.images.len(), 2);
        let fips = list(f.images.iter(), &q("fips_enabled=true&limit=1000"), admin).unwrap();
        assert!(!fips.images.is_empty());
        assert!(
            fips.images
                .iter()
                .all(|i| i.properties["fips_enabled"] == "true")
        );
        let tagged = list(
            f.images.iter(),
            &q("tag=rke2-node&tag=rke2-node-v1.29&limit=1000"),
            admin,
        )
        .unwrap();
        assert!(
            tagged
                .images
                .iter()
                .all(|i| i.name.starts_with("rke2-node-v1.29-"))
        );
        let cut = f.images[10].created_at;
        let older = list(
            f.images.iter(),
            &q(&format!(
                "created_at=lt:{}&limit=1000",
                cut.format("%Y-%m-%dT%H:%M:%SZ")
            )),
            admin,
        )
        .unwrap();
        assert_eq!(older.images.len(), 10);
        let by_name = list(
            f.images.iter(),
            &q("sort=name:asc,created_at:desc&limit=1000"),
            admin,
        )
        .unwrap();
        assert!(by_name.images.windows(2).all(|w| w[0].name <= w[1].name));
        assert!(
            list(f.images.iter(), &q("sort=bogus:asc"), admin)
                .unwrap_err()
                .contains("bogus")
        );
        assert!(list(f.images.iter(), &q("limit=-1"), admin).is_err());
        assert!(
            list(f.images.iter(), &q("marker=nope"), admin)
                .unwrap_err()
                .contains("marker")
        );
        assert!(list(f.images.iter(), &q("created_at=lt:yesterday"), admin).is_err());
    }

    #[test]
    fn a_project_sees_public_and_its_own_only() {
        let f = fleet();
        let member = Viewer {
            project_id: &f.projects[1].id,
            admin: false,
        };
        let page = list(f.images.iter(), &q("limit=1000"), member).unwrap();
        assert!(page.images.iter().all(|i| i.visibility == "public"));
        let all = list(f.images.iter(), &q("limit=1000&visibility=all"), member).unwrap();
        assert!(all.images.iter().any(|i| i.visibility == "community"));
        assert!(all.images.iter().all(|i| i.visibility != "private"));
    }
}
