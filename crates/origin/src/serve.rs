//! The origin on a socket: the router served by hyper with the limit `axum::serve` leaves
//! out, a deadline for each request's headers (a slowloris client is cut off instead of
//! holding a connection forever; `limits` bounds the rest of a request). On shutdown it
//! stops accepting and gives open connections up to 10 s to finish their requests.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

use crate::http::ClientAddr;

pub async fn serve(listener: TcpListener, app: Router, header_timeout: Duration, shutdown: impl Future<Output = ()>) {
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors and the like: back off a little, keep serving.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                // The peer address names the client for the per-client limit of `http`.
                let service = TowerToHyperService::new(app.clone().layer(axum::Extension(ClientAddr(peer.ip()))));
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    let mut builder = Builder::new(TokioExecutor::new());
                    builder.http1().timer(TokioTimer::new()).header_read_timeout(header_timeout);
                    let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                    // A connection's error (a reset, a header timeout) ends that connection only.
                    let _ = watcher.watch(connection).await;
                });
            }
            () = &mut shutdown => break,
        }
    }
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(Duration::from_secs(10)) => tracing::warn!("connections still open at shutdown"),
    }
}

/// Keeps the console's rollups current: every `every`, rows received up to `lag` before
/// now are added (`Store::roll_up`). `lag` must cover the longest an insert can take to
/// commit after it read the clock: the request deadline bounds it, as a request past its
/// deadline is dropped with its transaction uncommitted. Runs until the process ends.
pub async fn roll_up_forever(store: crate::store::Store, clock: fn() -> i64, lag: Duration, every: Duration) {
    let lag = lag.as_secs_f64().ceil() as i64 + 1;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let started = std::time::Instant::now();
        match store.roll_up(clock() - lag).await {
            Ok(r) if r.decisions + r.outcomes > 0 => tracing::info!(
                through = r.through,
                decisions = r.decisions,
                outcomes = r.outcomes,
                ms = started.elapsed().as_secs_f64() * 1e3,
                "rollup"
            ),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "rollup failed"),
        }
    }
}
