//! `GET /metrics`: Prometheus text format. Requests by route and status and their latency are
//! recorded by the request middleware; open WebSockets and active locks are read at scrape time;
//! the sweeper counts its rounds (`housekeeping_runs_total`), so an operator sees it is alive.
//! Each server owns its registry (not the process-global one), so several servers in one
//! process do not share counters.

use actix_web::{HttpResponse, web};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

use crate::state::AppState;

/// The `Content-Type` of a scrape.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The `route` label of a request no route matched.
pub const UNMATCHED: &str = "unmatched";

/// The metrics of one server.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    durations: HistogramVec,
    websocket_connections: IntGauge,
    doc_locks_active: IntGauge,
    housekeeping_runs: IntCounterVec,
}

impl Metrics {
    /// A fresh registry with every metric registered.
    ///
    /// # Errors
    /// Only for an invalid metric definition (a bug).
    pub fn new() -> prometheus::Result<Self> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests served, by method, route pattern and status",
            ),
            &["method", "route", "status"],
        )?;
        let durations = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency in seconds, by method and route pattern",
            ),
            &["method", "route"],
        )?;
        let websocket_connections = IntGauge::new(
            "websocket_connections",
            "Open WebSocket connections on this instance",
        )?;
        let doc_locks_active = IntGauge::new("doc_locks_active", "Docs holding an unexpired lock")?;
        let housekeeping_runs = IntCounterVec::new(
            Opts::new(
                "housekeeping_runs_total",
                "Rounds of the sweeper (expired locks, trash and event purges), by outcome",
            ),
            &["outcome"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(durations.clone()))?;
        registry.register(Box::new(websocket_connections.clone()))?;
        registry.register(Box::new(doc_locks_active.clone()))?;
        registry.register(Box::new(housekeeping_runs.clone()))?;
        Ok(Self {
            registry,
            requests,
            durations,
            websocket_connections,
            doc_locks_active,
            housekeeping_runs,
        })
    }

    /// Records one served request. `route` is the matched pattern (e.g.
    /// `/api/v1/projects/{projectId}`) or [`UNMATCHED`], never the raw path.
    pub fn observe_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests
            .with_label_values(&[method, route, &status.to_string()])
            .inc();
        self.durations
            .with_label_values(&[method, route])
            .observe(seconds);
    }

    pub fn set_websocket_connections(&self, open: usize) {
        self.websocket_connections
            .set(i64::try_from(open).unwrap_or(i64::MAX));
    }

    pub fn set_doc_locks_active(&self, active: i64) {
        self.doc_locks_active.set(active);
    }

    /// Counts one finished sweeper round, `ok` or `failed`.
    pub fn count_housekeeping_run(&self, ok: bool) {
        let outcome = if ok { "ok" } else { "failed" };
        self.housekeeping_runs.with_label_values(&[outcome]).inc();
    }

    /// Every metric in the Prometheus text format.
    ///
    /// # Errors
    /// Encoding failures (not expected for well-formed metrics).
    pub fn render(&self) -> prometheus::Result<String> {
        let mut buffer = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buffer)?;
        String::from_utf8(buffer).map_err(|e| prometheus::Error::Msg(e.to_string()))
    }
}

/// The metrics of this instance, in the Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain; version=0.0.4")))]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let metrics = &state.metrics;
    metrics.set_websocket_connections(state.realtime.session.hub.open_connections());
    match toolkit_db::count_active_locks(&state.db, chrono::Utc::now()).await {
        Ok(active) => metrics.set_doc_locks_active(active),
        // Keep the last known value: a scrape should not fail because the database is slow.
        Err(error) => tracing::warn!(error = %error, "cannot count active locks for /metrics"),
    }
    match metrics.render() {
        Ok(body) => HttpResponse::Ok().content_type(CONTENT_TYPE).body(body),
        Err(error) => {
            tracing::error!(error = %error, "cannot render metrics");
            HttpResponse::InternalServerError().finish()
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn render_contains_the_recorded_metrics() {
        let metrics = Metrics::new().unwrap();
        metrics.observe_request("GET", "/api/v1/projects/{projectId}", 200, 0.012);
        metrics.observe_request("GET", UNMATCHED, 404, 0.001);
        metrics.set_websocket_connections(3);
        metrics.set_doc_locks_active(2);
        metrics.count_housekeeping_run(true);
        metrics.count_housekeeping_run(true);
        metrics.count_housekeeping_run(false);
        let text = metrics.render().unwrap();
        assert!(
            text.contains(r#"housekeeping_runs_total{outcome="ok"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(r#"housekeeping_runs_total{outcome="failed"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(
                r#"http_requests_total{method="GET",route="/api/v1/projects/{projectId}",status="200"} 1"#
            ),
            "{text}"
        );
        assert!(text.contains(r#"http_requests_total{method="GET",route="unmatched",status="404"} 1"#));
        assert!(text.contains(
            r#"http_request_duration_seconds_bucket{method="GET",route="/api/v1/projects/{projectId}",le="0.025"} 1"#
        ));
        assert!(text.contains("http_request_duration_seconds_count"));
        assert!(text.contains("websocket_connections 3"));
        assert!(text.contains("doc_locks_active 2"));
    }

    #[test]
    fn each_server_has_its_own_registry() {
        let a = Metrics::new().unwrap();
        let b = Metrics::new().unwrap();
        a.observe_request("GET", "/healthz", 200, 0.001);
        assert!(a.render().unwrap().contains("http_requests_total"));
        assert!(!b.render().unwrap().contains("http_requests_total{"));
    }
}
