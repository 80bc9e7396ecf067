//! The origin's configuration from its environment, read once at start by `edgeprice serve`
//! (the router itself takes values, so tests build it without an environment):
//! EDGEPRICE_ADMIN_TOKEN and EDGEPRICE_EDGE_TOKEN (at least 16 characters, different),
//! EDGEPRICE_EDGE_RATE and EDGEPRICE_ADMIN_RATE as `per_second:burst` (for example
//! `1000:2000`), EDGEPRICE_CLIENT_RATE for requests without a token per client address
//! (`20:60`) and EDGEPRICE_CLIENT_IP_HEADER naming the header that carries that address
//! behind a proxy, EDGEPRICE_REQUEST_TIMEOUT_SECONDS for a whole request and
//! EDGEPRICE_HEADER_TIMEOUT_SECONDS (10 s by default) for its headers; policy pushes:
//! EDGEPRICE_PUSH_URLS (comma-separated edge endpoints), EDGEPRICE_PUSH_SECRET (the
//! `whsec_` secret the edges verify with) and EDGEPRICE_PUSH_FIRST_RETRY_SECONDS (1 s);
//! EDGEPRICE_ROLLUP_SECONDS, how often the console's rollups take in new feedback (5 s).

use std::path::Path;
use std::time::Duration;

use edgeprice_core::bundle::{self, TrustedKeys};

use crate::limits::{Limits, Rate};
use crate::push::Pusher;
use edgeprice_core::webhook::Secret;

/// A setting that is missing or wrong, named with its variable or file.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

fn bad(message: impl Into<String>) -> ConfigError {
    ConfigError(message.into())
}

/// What `serve` needs besides the database, the catalog and the listen address.
pub struct Settings {
    pub admin_token: String,
    pub edge_token: String,
    pub limits: Limits,
    pub header_timeout: Duration,
    pub pusher: Option<Pusher>,
    /// How often the rollups take in new feedback (`serve::roll_up_forever`).
    pub rollup_every: Duration,
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        let token = |name: &str| -> Result<String, ConfigError> {
            let t = std::env::var(name).map_err(|_| bad(format!("{name} is not set")))?;
            if t.len() < 16 {
                return Err(bad(format!("{name} must be at least 16 characters")));
            }
            Ok(t)
        };
        let (admin_token, edge_token) = (token("EDGEPRICE_ADMIN_TOKEN")?, token("EDGEPRICE_EDGE_TOKEN")?);
        if admin_token == edge_token {
            return Err(bad("the admin and edge tokens must differ"));
        }
        let d = Limits::default();
        let deadline = seconds("EDGEPRICE_REQUEST_TIMEOUT_SECONDS", d.request_deadline)?;
        let limits =
            Limits::new(rate("EDGEPRICE_EDGE_RATE", d.edge)?, rate("EDGEPRICE_ADMIN_RATE", d.admin)?, deadline)
                .with_client_rate(rate("EDGEPRICE_CLIENT_RATE", d.client)?)
                .with_client_ip_header(
                    std::env::var("EDGEPRICE_CLIENT_IP_HEADER").ok().filter(|h| !h.trim().is_empty()),
                );
        let header_timeout = seconds("EDGEPRICE_HEADER_TIMEOUT_SECONDS", Duration::from_secs(10))?;
        let rollup_every = seconds("EDGEPRICE_ROLLUP_SECONDS", Duration::from_secs(5))?;
        Ok(Settings { admin_token, edge_token, limits, header_timeout, pusher: pusher()?, rollup_every })
    }
}

/// The push endpoints and their secret; `None` when no endpoint is configured.
fn pusher() -> Result<Option<Pusher>, ConfigError> {
    let targets: Vec<String> = std::env::var("EDGEPRICE_PUSH_URLS")
        .unwrap_or_default()
        .split(',')
        .map(|u| u.trim().to_string())
        .filter(|u| !u.is_empty())
        .collect();
    if targets.is_empty() {
        return Ok(None);
    }
    if let Some(bad_url) = targets.iter().find(|u| !(u.starts_with("https://") || u.starts_with("http://"))) {
        return Err(bad(format!("EDGEPRICE_PUSH_URLS: {bad_url} is not an http(s) URL")));
    }
    let text = std::env::var("EDGEPRICE_PUSH_SECRET").map_err(|_| {
        bad("EDGEPRICE_PUSH_URLS is set but EDGEPRICE_PUSH_SECRET is not (make one: edgeprice push-secret)")
    })?;
    let secret = Secret::parse(&text).map_err(|e| bad(format!("EDGEPRICE_PUSH_SECRET: {e}")))?;
    let first_retry = seconds("EDGEPRICE_PUSH_FIRST_RETRY_SECONDS", Duration::from_secs(1))?;
    Ok(Some(Pusher { targets, secret, first_retry }))
}

/// A rate `per_second:burst` (or one number for both) from the environment, or `default`.
fn rate(name: &str, default: Rate) -> Result<Rate, ConfigError> {
    let Ok(text) = std::env::var(name) else { return Ok(default) };
    let (per, burst) = text.split_once(':').unwrap_or((&text, &text));
    let number = |t: &str| t.trim().parse::<f64>().map_err(|e| bad(format!("{name}: {e}")));
    let (per_second, burst) = (number(per)?, number(burst)?);
    if !(per_second > 0.0 && burst >= 1.0) {
        return Err(bad(format!("{name}: rate must be > 0 and burst >= 1")));
    }
    Ok(Rate { per_second, burst })
}

/// A duration in seconds from the environment (clamped to 0.1 s .. 1 h), or `default`.
fn seconds(name: &str, default: Duration) -> Result<Duration, ConfigError> {
    match std::env::var(name) {
        Ok(t) => {
            let s = t.trim().parse::<f64>().map_err(|e| bad(format!("{name}: {e}")))?;
            Ok(Duration::from_secs_f64(s.clamp(0.1, 3600.0)))
        }
        Err(_) => Ok(default),
    }
}

/// Keys trusted to sign bundles: each entry a public key file or `KEY_ID:HEX`; none given
/// means the built-in default bundle's key.
pub fn trusted_keys(entries: &[String]) -> Result<TrustedKeys, ConfigError> {
    let entries: Vec<&str> = entries.iter().map(|t| t.trim()).filter(|t| !t.is_empty()).collect();
    if entries.is_empty() {
        return bundle::default_keys().map_err(|e| bad(e.to_string()));
    }
    let mut keys = TrustedKeys::default();
    for entry in entries {
        let added = match entry.split_once(':') {
            Some((id, hex)) if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                keys.add_json(serde_json::json!({"key_id": id, "public_key": hex}).to_string().as_bytes())
            }
            _ => {
                let bytes = std::fs::read(entry).map_err(|e| bad(format!("reading {entry}: {e}")))?;
                keys.add_json(&bytes)
            }
        };
        added.map_err(|e| bad(format!("trusted key {entry}: {e}")))?;
    }
    Ok(keys)
}

/// The database URL `serve` connects to: for SQLite, the file's folder is made if missing
/// (the default `data/`) and a URL without `mode=` gets `mode=rwc`, so the file is created
/// on first start (sqlx's default mode opens existing files only); other URLs as given.
pub fn prepare_database(url: &str) -> Result<String, ConfigError> {
    let Some(rest) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) else {
        return Ok(url.to_string());
    };
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() || path == ":memory:" {
        return Ok(url.to_string());
    }
    if let Some(dir) = Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| bad(format!("creating {}: {e}", dir.display())))?;
    }
    if query.split('&').any(|p| p.starts_with("mode=")) {
        return Ok(url.to_string());
    }
    Ok(if query.is_empty() { format!("{url}?mode=rwc") } else { format!("{url}&mode=rwc") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sqlite_url_without_a_mode_creates_its_file() {
        let dir = std::env::temp_dir().join(format!("edgeprice-config-{}", std::process::id()));
        let file = dir.join("sub/origin.db");
        let url = format!("sqlite://{}", file.display());
        assert_eq!(prepare_database(&url).unwrap(), format!("{url}?mode=rwc"));
        assert!(dir.join("sub").is_dir(), "the folder is made");
        assert_eq!(prepare_database(&format!("{url}?cache=shared")).unwrap(), format!("{url}?cache=shared&mode=rwc"));
        assert_eq!(prepare_database(&format!("{url}?mode=ro")).unwrap(), format!("{url}?mode=ro"));
        assert_eq!(prepare_database("postgres://h/db").unwrap(), "postgres://h/db");
        let _ = std::fs::remove_dir_all(dir);
    }
}
