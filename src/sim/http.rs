//! The simulator's request and response values, independent of hyper: a parsed request (method,
//! path segments, decoded query pairs, headers, body) and an answer with the error body shapes
//! each OpenStack service uses.

use bytes::Bytes;
use serde_json::{Value, json};

/// A request as the service handlers see it.
#[derive(Clone)]
pub struct Req {
    /// `GET`, `POST`, ...
    pub method: String,
    /// Decoded path segments after the service prefix (`/image/v2/images` -> `["v2", "images"]`).
    pub segments: Vec<String>,
    /// Decoded query pairs, in order (keys may repeat).
    pub query: Vec<(String, String)>,
    /// Lower-case header names with their values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Bytes,
    /// `http://127.0.0.1:PORT`, for links in answers.
    pub base: String,
}

impl std::fmt::Debug for Req {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Headers carry tokens and bodies passwords: neither is shown.
        f.debug_struct("Req")
            .field("method", &self.method)
            .field("segments", &self.segments)
            .field("query", &self.query)
            .finish_non_exhaustive()
    }
}

impl Req {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of a query key.
    pub fn q(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A boolean query flag the way OpenStack reads it (`1`, `true`, `True`, `yes`).
    pub fn flag(&self, key: &str) -> bool {
        self.q(key)
            .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"))
    }

    /// The path segments as `&str`s.
    pub fn path(&self) -> Vec<&str> {
        self.segments.iter().map(String::as_str).collect()
    }

    /// The body as JSON.
    pub fn json(&self) -> Result<Value, Resp> {
        serde_json::from_slice(&self.body)
            .map_err(|e| Resp::bad_request(Style::Plain, &format!("malformed JSON body: {e}")))
    }

    /// True when the client asked for JSON (`Accept: application/json`).
    pub fn wants_json(&self) -> bool {
        self.header("accept").is_some_and(|a| a.contains("json"))
    }
}

/// How a service shapes its error bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Keystone: `{"error": {"code", "message", "title"}}`.
    Keystone,
    /// Glance (webob): `{"code": "404 Not Found", "title", "message"}` with JSON accepted,
    /// else an HTML page.
    GlanceJson,
    /// Glance without `Accept: application/json`: an HTML page.
    GlanceHtml,
    /// Nova, Cinder: `{"itemNotFound": {"code", "message"}}`.
    Nova,
    /// Neutron: `{"NeutronError": {"type", "message", "detail"}}`.
    Neutron,
    /// A plain JSON `{"error": message}` (the simulator's own paths).
    Plain,
}

/// An answer.
#[derive(Debug, Clone)]
pub struct Resp {
    /// HTTP status.
    pub status: u16,
    /// Extra headers.
    pub headers: Vec<(&'static str, String)>,
    /// `Content-Type`, when there is a body.
    pub content_type: &'static str,
    /// The body.
    pub body: Bytes,
}

fn reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        413 => "Request Entity Too Large",
        415 => "Unsupported Media Type",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Error",
    }
}

impl Resp {
    /// A JSON answer.
    pub fn json(status: u16, v: &Value) -> Resp {
        Resp {
            status,
            headers: Vec::new(),
            content_type: "application/json",
            body: Bytes::from(serde_json::to_vec(v).unwrap_or_default()),
        }
    }

    /// An answer without a body.
    pub fn empty(status: u16) -> Resp {
        Resp {
            status,
            headers: Vec::new(),
            content_type: "",
            body: Bytes::new(),
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Resp {
        self.headers.push((name, value.into()));
        self
    }

    /// An error in the service's own shape.
    pub fn error(style: Style, status: u16, message: &str) -> Resp {
        let title = reason(status);
        match style {
            Style::Keystone => Resp::json(
                status,
                &json!({"error": {"code": status, "message": message, "title": title}}),
            ),
            Style::GlanceJson => Resp::json(
                status,
                &json!({
                    "code": format!("{status} {title}"),
                    "title": title,
                    "message": format!("{message}<br /><br />\n\n\n"),
                }),
            ),
            Style::GlanceHtml => Resp {
                status,
                headers: Vec::new(),
                content_type: "text/html; charset=UTF-8",
                body: Bytes::from(format!(
                    "<html>\n <head>\n  <title>{status} {title}</title>\n </head>\n <body>\n  <h1>{status} {title}</h1>\n  {message}<br /><br />\n\n\n\n </body>\n</html>"
                )),
            },
            Style::Nova => {
                let key = match status {
                    400 => "badRequest",
                    401 => "unauthorized",
                    403 => "forbidden",
                    404 => "itemNotFound",
                    409 => "conflictingRequest",
                    _ => "computeFault",
                };
                Resp::json(
                    status,
                    &json!({ key: {"code": status, "message": message} }),
                )
            }
            Style::Neutron => Resp::json(
                status,
                &json!({"NeutronError": {"type": title.replace(' ', ""), "message": message, "detail": ""}}),
            ),
            Style::Plain => Resp::json(status, &json!({"error": message})),
        }
    }

    /// 400 in `style`.
    pub fn bad_request(style: Style, message: &str) -> Resp {
        Resp::error(style, 400, message)
    }

    /// 404 in `style`.
    pub fn not_found(style: Style, message: &str) -> Resp {
        Resp::error(style, 404, message)
    }

    /// 401 as keystonemiddleware answers it, pointing at Keystone.
    pub fn unauthorized(style: Style, auth_uri: &str) -> Resp {
        Resp::error(
            style,
            401,
            "The request you have made requires authentication.",
        )
        .with_header("www-authenticate", format!("Keystone uri=\"{auth_uri}\""))
    }
}

/// Splits `a=1&b=x%20y` into decoded pairs.
pub fn parse_query(q: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(q.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Encodes pairs as a query string.
pub fn encode_query(pairs: &[(String, String)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// Splits a path into percent-decoded, non-empty segments.
pub fn segments(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_and_path_decoding() {
        let q = parse_query("name=in:a,b&tag=x%20y&tag=z&sort=created_at:desc");
        assert_eq!(q[0], ("name".into(), "in:a,b".into()));
        assert_eq!(q[1].1, "x y");
        assert_eq!(q.len(), 4);
        assert_eq!(
            segments("/image//v2/images/a%20b"),
            ["image", "v2", "images", "a b"]
        );
        assert_eq!(
            encode_query(&[("marker".into(), "a b".into())]),
            "marker=a+b"
        );
    }

    #[test]
    fn error_shapes() {
        let r = Resp::error(Style::Nova, 404, "Server x could not be found.");
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["itemNotFound"]["code"], 404);
        let r = Resp::error(Style::GlanceHtml, 403, "protected");
        assert!(r.content_type.starts_with("text/html"));
        let r = Resp::unauthorized(Style::Keystone, "http://x/identity");
        assert_eq!(r.status, 401);
        assert!(r.headers[0].1.contains("Keystone uri="));
    }
}
