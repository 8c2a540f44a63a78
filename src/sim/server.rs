//! The simulator's HTTP/1.1 server on hyper: accepts on a loopback listener until stopped,
//! parses each request, holds it while a test's gate says so, applies the fault knobs (latency,
//! injected 5xx, failing services), checks the token (in hybrid mode a Nova or Cinder token may
//! come from the external Keystone), routes by the first path segment to the service, and
//! records the answer.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use super::core::{Core, RequestRecord};
use super::faults::Service;
use super::http::{Req, Resp, Style, parse_query, segments};
use super::hybrid::{self, Prepared};
use super::{cinder, glance, keystone, neutron, nova};

/// The largest request body accepted (image uploads in tests are small).
const MAX_BODY: usize = 64 << 20;

/// Serves one connection (plain or TLS).
async fn serve_io<I>(io: I, core: Arc<Core>)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let svc = service_fn(move |req| {
        let core = core.clone();
        async move { Ok::<_, Infallible>(answer(&core, req).await) }
    });
    let _ = http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(io), svc)
        .await;
}

/// Serves until `stop` turns true; then drops every connection. With `tls`, every connection
/// is TLS first (a failed handshake just closes it).
pub async fn serve(
    listener: TcpListener,
    core: Arc<Core>,
    mut stop: watch::Receiver<bool>,
    tls: Option<TlsAcceptor>,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let core = core.clone();
                let tls = tls.clone();
                conns.spawn(async move {
                    match tls {
                        Some(acceptor) => {
                            if let Ok(s) = acceptor.accept(stream).await {
                                serve_io(s, core).await;
                            }
                        }
                        None => serve_io(stream, core).await,
                    }
                });
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    conns.abort_all();
}

fn service_of(first: Option<&str>) -> Option<Service> {
    Service::ALL.into_iter().find(|s| Some(s.path()) == first)
}

fn style_of(service: Option<Service>, req: &Req) -> Style {
    match service {
        Some(Service::Identity) => Style::Keystone,
        Some(Service::Image) if req.wants_json() => Style::GlanceJson,
        Some(Service::Image) => Style::GlanceHtml,
        Some(Service::Network) => Style::Neutron,
        Some(_) => Style::Nova,
        None => Style::Plain,
    }
}

async fn answer(core: &Core, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return to_hyper(Resp::error(
                Style::Plain,
                413,
                "request body too large or broken",
            ));
        }
    };
    let mut segs = segments(parts.uri.path());
    let service = service_of(segs.first().map(String::as_str));
    if service.is_some() {
        segs.remove(0);
    }
    let query_text = parts.uri.query().unwrap_or("").to_string();
    let req = Req {
        method: parts.method.as_str().to_string(),
        segments: segs,
        query: parse_query(&query_text),
        headers: parts
            .headers
            .iter()
            .filter_map(|(k, v)| {
                Some((
                    k.as_str().to_ascii_lowercase(),
                    v.to_str().ok()?.to_string(),
                ))
            })
            .collect(),
        body,
        base: core.base.clone(),
    };
    let path = format!("/{}", req.segments.join("/"));
    if let Some(svc) = service {
        core.gates.pass(svc, &req.method, &path).await;
    }
    let latency = core.faults.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let resp = match injected(core, service, &req) {
        Some(r) => r,
        None => {
            let prepared = match &core.hybrid {
                Some(ext) => hybrid::prepare(core, ext, service, &req).await,
                None => Prepared::default(),
            };
            let answer = match prepared.answer {
                Some(r) => r,
                None => route(core, service, &req, prepared),
            };
            match service.and_then(|svc| core.faults.lost_answer(svc, &req.method)) {
                Some(status) => Resp::error(
                    style_of(service, &req),
                    status,
                    "gateway timeout (fault injected: the request was carried out)",
                ),
                None => answer,
            }
        }
    };
    core.record(RequestRecord {
        service,
        method: req.method.clone(),
        path,
        query: query_text,
        status: resp.status,
    });
    to_hyper(resp)
}

/// The answer of a failing service or an injected 5xx, when the fault knobs say so.
fn injected(core: &Core, service: Option<Service>, req: &Req) -> Option<Resp> {
    let style = style_of(service, req);
    let svc = service?;
    if let Some(status) = core.faults.failing(svc) {
        return Some(Resp::error(
            style,
            status,
            &format!("{} is failing (fault injected)", svc.name()),
        ));
    }
    core.draw_error()
        .map(|status| Resp::error(style, status, "injected server error"))
}

fn route(core: &Core, service: Option<Service>, req: &Req, prepared: Prepared) -> Resp {
    let token = prepared
        .token
        .or_else(|| req.header("x-auth-token").and_then(|v| core.token(v)));
    match service {
        Some(Service::Identity) => keystone::handle(core, req),
        Some(Service::Image) => glance::handle(core, req, token.as_ref()),
        Some(Service::Compute) => nova::handle(core, req, token.as_ref(), &prepared.images),
        Some(Service::Volume) => cinder::handle(core, req, token.as_ref()),
        Some(Service::Network) => neutron::handle(core, req, token.as_ref()),
        None if req.segments.is_empty() => Resp::json(
            200,
            &serde_json::json!({"kiln-sim": {"identity": core.auth_url()}}),
        ),
        None => Resp::not_found(Style::Plain, "no such service in the simulator"),
    }
}

fn to_hyper(r: Resp) -> Response<Full<Bytes>> {
    let mut b = Response::builder().status(r.status);
    if !r.content_type.is_empty() {
        b = b.header("content-type", r.content_type);
    }
    for (k, v) in &r.headers {
        b = b.header(*k, v.as_str());
    }
    b = b.header(
        "x-openstack-request-id",
        format!("req-{}", super::secret::random_hex(32)),
    );
    b.body(Full::new(r.body)).unwrap_or_else(|_| {
        let mut resp = Response::new(Full::new(Bytes::from_static(b"bad header")));
        *resp.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
        resp
    })
}
