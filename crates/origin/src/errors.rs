//! The one error body on the wire, shared with the worker: `{"code": CODE, "message":
//! TEXT}` with a stable, documented CODE (openapi.yaml). Errors axum answers by itself
//! (a body over its limit, a wrong method, an unreadable body) are rewritten into it.

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::store::StoreError;

pub fn error(status: StatusCode, code: &str, message: impl std::fmt::Display) -> Response {
    (status, Json(json!({"code": code, "message": message.to_string()}))).into_response()
}

/// A store failure: logged with its detail, answered without it.
pub fn internal(e: StoreError) -> Response {
    tracing::error!(error = %e, "store error");
    error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
}

/// The code of an error status axum's own rejections answer with.
fn code_of(status: StatusCode) -> &'static str {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        s if s.is_server_error() => "internal",
        _ => "bad_request",
    }
}

/// Rewrites an error answer that is not already JSON (or an HTML page) into the error body.
pub async fn json_errors(resp: Response) -> Response {
    let status = resp.status();
    let typed = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json") || t.starts_with("text/html"));
    if !(status.is_client_error() || status.is_server_error()) || typed {
        return resp;
    }
    let reason = status.canonical_reason().unwrap_or("error").to_lowercase();
    let mut out = error(status, code_of(status), reason);
    for name in [header::RETRY_AFTER, header::ALLOW] {
        if let Some(v) = resp.headers().get(&name) {
            out.headers_mut().insert(name, v.clone());
        }
    }
    out
}
