//! Nova- and Cinder-style pagination: `limit` (capped at `osapi_max_limit`, 1000) and `marker`
//! (an id), and the `*_links` next link when a page is full.

use serde_json::{Value, json};

use super::http::{Req, encode_query};

/// `osapi_max_limit`.
pub const MAX_LIMIT: usize = 1000;

/// A page of `items` (already filtered and sorted); `id` gives an item's id. Err: the message
/// for a 400 (bad limit, unknown marker).
pub fn page<'a, T>(
    items: Vec<&'a T>,
    req: &Req,
    id: impl Fn(&T) -> &str,
) -> Result<(Vec<&'a T>, Option<String>), String> {
    let limit = match req.q("limit") {
        Some(v) => match v.parse::<usize>() {
            Ok(n) => n.min(MAX_LIMIT),
            Err(_) => {
                return Err(format!(
                    "Invalid input received: limit {v} must be a non-negative integer"
                ));
            }
        },
        None => MAX_LIMIT,
    };
    let start = match req.q("marker") {
        Some(m) => match items.iter().position(|i| id(i) == m) {
            Some(p) => p + 1,
            None => return Err(format!("marker [{m}] not found")),
        },
        None => 0,
    };
    let out: Vec<&T> = items.into_iter().skip(start).take(limit).collect();
    let next = (limit > 0 && out.len() == limit).then(|| id(out[limit - 1]).to_string());
    Ok((out, next))
}

/// The `[{"rel": "next", "href": ...}]` links for a full page (an empty array otherwise).
pub fn next_links(req: &Req, url: &str, next: Option<String>) -> Value {
    match next {
        Some(m) => {
            let mut q: Vec<(String, String)> = req
                .query
                .iter()
                .filter(|(k, _)| k != "marker")
                .cloned()
                .collect();
            q.push(("marker".into(), m));
            json!([{"rel": "next", "href": format!("{url}?{}", encode_query(&q))}])
        }
        None => json!([]),
    }
}
