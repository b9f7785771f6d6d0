//! `METRICS_BIND`: a second listener that serves `GET /metrics` in the Prometheus text format,
//! from the recorder of `metrics-exporter-prometheus` (built with the crate's `metrics`
//! feature). The public port never serves metrics.
//!
//! The listener is a few lines of hyper rather than the exporter's own `http-listener`
//! feature, so the apps keep the header-read timeout of their main port and pull no second
//! HTTP server stack.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// The upstream-duration histogram's buckets, in seconds: DingTalk answers in tens of
/// milliseconds when well, and the default timeout is 5 s.
const DURATION_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The process's recorder: installed by the first call, shared by every later one (the
/// `metrics` recorder is process-global, and tests start several apps in one process).
///
/// # Errors
/// A message when another recorder was installed first.
pub fn recorder() -> Result<PrometheusHandle, String> {
    static HANDLE: Mutex<Option<PrometheusHandle>> = Mutex::new(None);
    let mut handle = HANDLE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(handle) = &*handle {
        return Ok(handle.clone());
    }
    let installed = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full("dingtalk_login_upstream_request_duration_seconds".into()),
            &DURATION_BUCKETS,
        )
        .and_then(PrometheusBuilder::install_recorder)
        .map_err(|e| format!("METRICS_BIND: cannot install the metrics recorder: {e}"))?;
    // Upkeep drains the histograms' recent samples; without it they grow between scrapes.
    let upkeep = installed.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            upkeep.run_upkeep();
        }
    });
    *handle = Some(installed.clone());
    Ok(installed)
}

/// Listens on `bind` and serves `GET /metrics` until the process ends; returns the address
/// (`bind` may name port 0).
///
/// # Errors
/// A message naming `METRICS_BIND` when the address cannot be bound.
pub async fn serve(bind: SocketAddr) -> Result<SocketAddr, String> {
    let handle = recorder()?;
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|e| format!("cannot listen on METRICS_BIND={bind}: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("METRICS_BIND={bind}: {e}"))?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                // Out of file descriptors and the like: wait instead of spinning.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            let handle = handle.clone();
            let service = hyper::service::service_fn(move |req| {
                let reply = answer(&req, &handle);
                async move { Ok::<_, Infallible>(reply) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), service);
            tokio::spawn(async move {
                let _ = connection.await;
            });
        }
    });
    Ok(addr)
}

fn answer<B>(req: &hyper::Request<B>, handle: &PrometheusHandle) -> hyper::Response<String> {
    let (status, content_type, body) = match (req.method().as_str(), req.uri().path()) {
        ("GET", "/metrics") => (200, "text/plain; version=0.0.4", handle.render()),
        (_, "/metrics") => (405, "text/plain", "method not allowed\n".to_owned()),
        _ => (404, "text/plain", "not found\n".to_owned()),
    };
    hyper::Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(body)
        .unwrap_or_default()
}
