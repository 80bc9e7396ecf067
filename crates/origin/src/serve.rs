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
