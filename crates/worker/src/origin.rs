//! Requests from the worker to the origin, each with a deadline: past it the request is
//! aborted and reported as failed, so a slow origin costs a bounded wait (and only inside
//! `wait_until` for refreshes and uploads, never in front of a shopper).

use std::time::Duration;

use futures_util::future::{Either, select};
use worker::{AbortController, Delay, Fetch, Headers, Method, Request, RequestInit, Response};

/// An origin answer, or why there is none (a short reason for the log).
pub type Answer = Result<Response, String>;

/// Sends a request with a deadline; `Err` on network failure or timeout.
pub async fn send(
    url: &str,
    method: Method,
    headers: &[(&str, &str)],
    body: Option<String>,
    timeout_ms: u64,
) -> Answer {
    let h = Headers::new();
    for (k, v) in headers {
        h.set(k, v).map_err(|e| format!("header {k}: {e}"))?;
    }
    let mut init = RequestInit::new();
    init.with_method(method).with_headers(h);
    if let Some(b) = body {
        init.with_body(Some(b.into()));
    }
    let request = Request::new_with_init(url, &init).map_err(|e| format!("request: {e}"))?;
    let controller = AbortController::default();
    let signal = controller.signal();
    let fetch = Fetch::Request(request);
    let call = Box::pin(fetch.send_with_signal(&signal));
    let deadline = Box::pin(Delay::from(Duration::from_millis(timeout_ms)));
    match select(call, deadline).await {
        Either::Left((Ok(resp), _)) => Ok(resp),
        Either::Left((Err(e), _)) => Err(format!("fetch failed: {e}")),
        Either::Right(((), _)) => {
            controller.abort();
            Err(format!("no answer within {timeout_ms} ms"))
        }
    }
}

/// Reads a body with the same kind of deadline (an origin can stall mid-body).
pub async fn body(resp: &mut Response, timeout_ms: u64) -> Result<Vec<u8>, String> {
    let read = Box::pin(resp.bytes());
    let deadline = Box::pin(Delay::from(Duration::from_millis(timeout_ms)));
    match select(read, deadline).await {
        Either::Left((Ok(b), _)) => Ok(b),
        Either::Left((Err(e), _)) => Err(format!("body: {e}")),
        Either::Right(_) => Err(format!("body not read within {timeout_ms} ms")),
    }
}
