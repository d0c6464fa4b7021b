//! Routing: pages, embedded assets and the JSON API. Every response carries headers
//! that keep the pages from being framed or sniffed and limit scripts to our own.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::{Method, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::Request;
use serde::Serialize;

use super::assets;
use super::catalog::{annotate, by_id};
use super::public::{empty_history, status_view};
use super::server::{State, OVERVIEW_CACHE, UPTIME_CACHE};
use super::{badge, metrics};
use webmon_core::ports::PortError;
use webmon_core::read::model::{Window, DEFAULT_FAILURE_LIMIT, MAX_FAILURE_LIMIT};
use webmon_core::read::{AlertView, Overview, Uptime};
use webmon_core::report::CheckRegionStats;

/// Days of uptime history when a request names none, and the most it may ask for.
pub const UPTIME_DAYS: u32 = 90;
/// The window of a badge when a request names none.
pub const BADGE_SINCE: &str = "24h";
/// The window of `/metrics` and of the status page's states.
pub const RECENT: &str = "1h";
/// How long a client may reuse a badge.
const BADGE_CACHE: &str = "public, max-age=300";

type Reply = Response<Full<Bytes>>;

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

fn reply(
    status: StatusCode,
    content_type: &'static str,
    cache: &'static str,
    body: impl Into<Bytes>,
) -> Reply {
    let mut res = Response::new(Full::new(body.into()));
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    res
}

fn json(status: StatusCode, value: &impl Serialize) -> Reply {
    match serde_json::to_vec(value) {
        Ok(body) => reply(status, "application/json", "no-store", body),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("failed to encode the response: {e}"),
        ),
    }
}

fn error(status: StatusCode, message: &str) -> Reply {
    let body = serde_json::json!({ "error": message }).to_string();
    reply(status, "application/json", "no-store", body)
}

fn port_error(e: PortError) -> Reply {
    tracing::warn!(error = %e, "dashboard query failed");
    let status = if e.is_retriable() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    error(status, &e.to_string())
}

/// Check ids are letters, digits, `-`, `_` and `.` (see check validation), so a path
/// segment outside that set names no check and needs no decoding.
fn valid_check_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn host_allowed(req: &Request<Incoming>, state: &State) -> bool {
    let Some(allowed) = &state.allowed_hosts else {
        return true;
    };
    let host = req
        .uri()
        .authority()
        .map(|a| a.as_str().to_string())
        .or_else(|| {
            req.headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_string)
        });
    let Some(host) = host else { return true };
    // Strip the port: `[::1]:8080` -> `[::1]`, `localhost:8080` -> `localhost`.
    let name = match host.rfind(':') {
        Some(i) if !host[i..].contains(']') => &host[..i],
        _ => host.as_str(),
    };
    allowed.iter().any(|a| a.eq_ignore_ascii_case(name))
}

/// A request from another site's page (`Sec-Fetch-Site: cross-site`), other than a
/// navigation to one of the pages or a badge: a link to the dashboard works, a badge in
/// a README shows, a script elsewhere reading its API does not.
fn cross_site(req: &Request<Incoming>) -> bool {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase)
    };
    if header("sec-fetch-site").as_deref() != Some("cross-site") {
        return false;
    }
    let path = req.uri().path();
    // Badges are made to be shown on other sites' pages (a README).
    if path.starts_with("/badge/") {
        return false;
    }
    let page = path == "/" || path == "/status" || path.starts_with("/check/");
    !(page && header("sec-fetch-mode").as_deref() == Some("navigate"))
}

/// Handles one request. Never fails: errors become JSON error responses.
pub(crate) async fn handle(req: Request<Incoming>, state: Arc<State>) -> Result<Reply, Infallible> {
    if cross_site(&req) {
        return Ok(error(
            StatusCode::FORBIDDEN,
            "failed to serve: cross-site requests are refused",
        ));
    }
    if !host_allowed(&req, &state) {
        return Ok(error(
            StatusCode::MISDIRECTED_REQUEST,
            "failed to serve: unexpected Host header",
        ));
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut res = error(
            StatusCode::METHOD_NOT_ALLOWED,
            "the dashboard is read-only: use GET",
        );
        res.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return Ok(res);
    }
    let query: HashMap<String, String> = req
        .uri()
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let path = req.uri().path();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if state.status_only && !status_page_path(&segments) {
        return Ok(error(
            StatusCode::NOT_FOUND,
            &format!("no page at {path:?}"),
        ));
    }
    Ok(match segments.as_slice() {
        [""] => reply(
            StatusCode::OK,
            "text/html; charset=utf-8",
            "no-cache",
            assets::INDEX_HTML,
        ),
        ["check", id] if valid_check_id(id) => reply(
            StatusCode::OK,
            "text/html; charset=utf-8",
            "no-cache",
            assets::CHECK_HTML,
        ),
        ["status"] => reply(
            StatusCode::OK,
            "text/html; charset=utf-8",
            "no-cache",
            assets::STATUS_HTML,
        ),
        ["badge", id, file] if valid_check_id(id) => badge_reply(id, file, &query, &state).await,
        ["metrics"] => metrics_reply(&state).await,
        ["assets", name] => match assets::get(name) {
            Some((content_type, body)) => {
                reply(StatusCode::OK, content_type, "public, max-age=3600", body)
            }
            None => error(StatusCode::NOT_FOUND, &format!("no asset named {name:?}")),
        },
        ["healthz"] => reply(
            StatusCode::OK,
            "text/plain; charset=utf-8",
            "no-store",
            "ok\n",
        ),
        ["api", rest @ ..] => api(rest, &query, &state).await,
        _ => error(StatusCode::NOT_FOUND, &format!("no page at {path:?}")),
    })
}

async fn api(segments: &[&str], query: &HashMap<String, String>, state: &State) -> Reply {
    let window = match Window::since(query.get("since").map(String::as_str), state.clock.now_ms()) {
        Ok(w) => w,
        Err(reason) => return error(StatusCode::BAD_REQUEST, &reason),
    };
    let source = &state.source;
    match segments {
        ["overview"] => {
            let since = query.get("since").cloned().unwrap_or_default();
            match overview(state, window, since).await {
                Ok(v) => {
                    let now = state.clock.now_ms();
                    json(StatusCode::OK, &annotate(&v, state.catalog.as_ref(), now))
                }
                Err(e) => port_error(e),
            }
        }
        ["alerts"] => match &state.alerts {
            Some(alerts) => alerts
                .alerts(window.from_ms)
                .await
                .map_or_else(port_error, |v| {
                    json(
                        StatusCode::OK,
                        &AlertsReply {
                            available: true,
                            view: v,
                        },
                    )
                }),
            // A store without the evaluator's state (Timestream, InfluxDB): say so,
            // and the page shows no alert column.
            None => json(
                StatusCode::OK,
                &AlertsReply {
                    available: false,
                    view: AlertView::default(),
                },
            ),
        },
        ["uptime"] => match uptime_days(query) {
            Ok(days) => uptime(state, days)
                .await
                .map_or_else(port_error, |v| json(StatusCode::OK, &v)),
            Err(reason) => error(StatusCode::BAD_REQUEST, &reason),
        },
        ["status"] => status(state)
            .await
            .map_or_else(port_error, |v| json(StatusCode::OK, &v)),
        ["checks", id, what] if valid_check_id(id) => match *what {
            "uptime" => match uptime_days(query) {
                Ok(days) => uptime(state, days).await.map_or_else(port_error, |u| {
                    let mine = u.checks.iter().find(|c| c.check_id == *id);
                    let mine = mine.cloned().unwrap_or_else(|| empty_history(id, &u));
                    json(StatusCode::OK, &mine)
                }),
                Err(reason) => error(StatusCode::BAD_REQUEST, &reason),
            },
            "settings" => {
                let configured = by_id(state.catalog.as_ref());
                let value = match configured.get(*id) {
                    Some(c) => {
                        let mut v = serde_json::to_value(c).unwrap_or_default();
                        v["configured"] = true.into();
                        v
                    }
                    None => serde_json::json!({ "check_id": id, "configured": false }),
                };
                json(StatusCode::OK, &value)
            }
            "series" => source
                .series(id, window)
                .await
                .map_or_else(port_error, |v| json(StatusCode::OK, &v)),
            "phases" => source
                .phases(id, window)
                .await
                .map_or_else(port_error, |v| json(StatusCode::OK, &v)),
            "failures" => {
                let limit = match query.get("limit").map(|l| l.parse::<usize>()) {
                    None => DEFAULT_FAILURE_LIMIT,
                    Some(Ok(n)) if (1..=MAX_FAILURE_LIMIT).contains(&n) => n,
                    Some(_) => {
                        let reason =
                            format!("limit must be a number from 1 to {MAX_FAILURE_LIMIT}");
                        return error(StatusCode::BAD_REQUEST, &reason);
                    }
                };
                source
                    .failures(id, window, limit)
                    .await
                    .map_or_else(port_error, |v| json(StatusCode::OK, &v))
            }
            _ => error(
                StatusCode::NOT_FOUND,
                &format!("no API endpoint {what:?} for a check"),
            ),
        },
        _ => error(
            StatusCode::NOT_FOUND,
            &format!("no API endpoint /api/{}", segments.join("/")),
        ),
    }
}

/// The paths served in status-only mode: the status page, its data and script, and
/// the health check.
fn status_page_path(segments: &[&str]) -> bool {
    matches!(
        segments,
        ["status"] | ["api", "status"] | ["healthz"] | ["assets", "app.js" | "style.css"]
    )
}

/// `days` of an uptime request: 1 to [`UPTIME_DAYS`], default [`UPTIME_DAYS`].
fn uptime_days(query: &HashMap<String, String>) -> Result<u32, String> {
    match query.get("days").map(|d| d.parse::<u32>()) {
        None => Ok(UPTIME_DAYS),
        Some(Ok(n)) if (1..=UPTIME_DAYS).contains(&n) => Ok(n),
        Some(_) => Err(format!("days must be a number from 1 to {UPTIME_DAYS}")),
    }
}

/// The daily uptime of every check over `days`, read from the store (its daily
/// rollups, where it keeps them) at most once per [`UPTIME_CACHE`] (requests arriving
/// meanwhile wait and share the answer).
async fn uptime(state: &State, days: u32) -> Result<Uptime, PortError> {
    let mut cached = state.uptime.lock().await;
    if let Some((at, cached_days, uptime)) = cached.as_ref() {
        if *cached_days == days && at.elapsed() < UPTIME_CACHE {
            return Ok(uptime.clone());
        }
    }
    let now = state.clock.now_ms();
    let fresh = state.source.uptime(days, now).await?;
    *cached = Some((std::time::Instant::now(), days, fresh.clone()));
    Ok(fresh)
}

/// `/api/status`: the public checks' states and histories and their open incidents.
async fn status(state: &State) -> Result<super::public::StatusView, PortError> {
    let now = state.clock.now_ms();
    let window = Window::since(Some(RECENT), now).map_err(PortError::Permanent)?;
    let recent = overview(state, window, RECENT.to_string()).await?;
    let annotated = annotate(&recent, state.catalog.as_ref(), now);
    let history = uptime(state, UPTIME_DAYS).await?;
    let alerts = match &state.alerts {
        // Incidents open now (the evaluator lists those whatever the time asked).
        Some(reader) => Some(reader.alerts(now).await?),
        None => None,
    };
    let configured = by_id(state.catalog.as_ref());
    Ok(status_view(
        &state.public,
        &configured,
        &annotated,
        &history,
        alerts.as_ref(),
    ))
}

/// `/badge/{id}/uptime.svg` and `/badge/{id}/latency.svg` over `since` (default
/// [`BADGE_SINCE`]).
async fn badge_reply(
    id: &str,
    file: &str,
    query: &HashMap<String, String>,
    state: &State,
) -> Reply {
    let since = query.get("since").map_or(BADGE_SINCE, String::as_str);
    let window = match Window::since(Some(since), state.clock.now_ms()) {
        Ok(w) => w,
        Err(reason) => return error(StatusCode::BAD_REQUEST, &reason),
    };
    let draw: fn(Option<&CheckRegionStats>, &str) -> String = match file {
        "uptime.svg" => badge::uptime,
        "latency.svg" => badge::latency,
        _ => return error(StatusCode::NOT_FOUND, &format!("no badge named {file:?}")),
    };
    match state.source.stats(window, Some(id), true).await {
        Ok(stats) => {
            let mut res = reply(
                StatusCode::OK,
                "image/svg+xml",
                BADGE_CACHE,
                draw(stats.rows.first(), since.trim()),
            );
            res.headers_mut().insert(
                HeaderName::from_static("cross-origin-resource-policy"),
                HeaderValue::from_static("cross-origin"),
            );
            res
        }
        Err(e) => port_error(e),
    }
}

/// `/metrics`: the last [`RECENT`] per check and region, Prometheus text format.
async fn metrics_reply(state: &State) -> Reply {
    let now = state.clock.now_ms();
    let window = match Window::since(Some(RECENT), now) {
        Ok(w) => w,
        Err(reason) => return error(StatusCode::INTERNAL_SERVER_ERROR, &reason),
    };
    match state.source.samples(window, None).await {
        Ok(samples) => reply(
            StatusCode::OK,
            metrics::CONTENT_TYPE,
            "no-store",
            metrics::render(&samples, window),
        ),
        Err(e) => port_error(e),
    }
}

/// `/api/alerts`: whether this dashboard knows alert state, and the state.
#[derive(Serialize)]
struct AlertsReply {
    available: bool,
    #[serde(flatten)]
    view: AlertView,
}

/// The overview of `since`, read at most once per [`OVERVIEW_CACHE`]: the lock is held
/// during the query, so requests arriving meanwhile wait for it and share its answer.
async fn overview(state: &State, window: Window, since: String) -> Result<Overview, PortError> {
    let mut cached = state.overview.lock().await;
    if let Some((at, key, overview)) = cached.as_ref() {
        if key == &since && at.elapsed() < OVERVIEW_CACHE {
            return Ok(overview.clone());
        }
    }
    let fresh = state.source.overview(window).await?;
    *cached = Some((std::time::Instant::now(), since, fresh.clone()));
    Ok(fresh)
}

#[cfg(test)]
mod tests {
    use super::valid_check_id;

    #[test]
    fn check_ids_in_paths() {
        assert!(valid_check_id("api.example-1_x"));
        assert!(!valid_check_id(""));
        assert!(!valid_check_id("a%2Fb"));
        assert!(!valid_check_id("<script>"));
    }
}
