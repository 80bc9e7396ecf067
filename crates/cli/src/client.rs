//! The CLI's one HTTP client for the origin: admin requests (publish, rollback, retrain's
//! publish) with EDGEPRICE_ADMIN_TOKEN, feedback uploads (`simulate --origin`) with
//! EDGEPRICE_EDGE_TOKEN. A non-2xx answer is an error carrying the origin's error body.

use anyhow::{Context, Result};
use serde_json::Value;

/// The media type of a signed bundle on the wire.
pub const BUNDLE_TYPE: &str = "application/vnd.edgeprice.bundle";

pub struct Origin {
    base: String,
    agent: ureq::Agent,
}

/// Which token a request carries (from the environment, never from an argument).
#[derive(Clone, Copy)]
pub enum Token {
    Admin,
    Edge,
}

impl Token {
    fn var(self) -> &'static str {
        match self {
            Token::Admin => "EDGEPRICE_ADMIN_TOKEN",
            Token::Edge => "EDGEPRICE_EDGE_TOKEN",
        }
    }
}

impl Origin {
    pub fn new(base: &str) -> Self {
        let agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        Origin { base: base.trim_end_matches('/').to_string(), agent }
    }

    /// Sends `body` to `path` (PUT or POST); the status and the answer's text.
    fn send(&self, method: &str, path: &str, token: Token, content_type: &str, body: &[u8]) -> Result<(u16, String)> {
        let secret = std::env::var(token.var()).with_context(|| format!("{} is not set", token.var()))?;
        let url = format!("{}{path}", self.base);
        let auth = format!("Bearer {secret}");
        let request = match method {
            "PUT" => self.agent.put(&url),
            _ => self.agent.post(&url),
        };
        let mut resp = request
            .header("Authorization", &auth)
            .header("Content-Type", content_type)
            .send(body)
            .with_context(|| format!("{method} {url}"))?;
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        Ok((resp.status().as_u16(), text))
    }

    /// An admin request: prints the origin's answer (its error body included, so scripts
    /// read the code), and fails on a non-2xx status.
    fn admin(&self, method: &str, path: &str, content_type: &str, body: &[u8]) -> Result<()> {
        let (status, text) = self.send(method, path, Token::Admin, content_type, body)?;
        println!("{text}");
        anyhow::ensure!((200..300).contains(&status), "{method} {}{path}: {status}", self.base);
        Ok(())
    }

    /// Publishes a signed bundle.
    pub fn publish(&self, bundle: &[u8]) -> Result<()> {
        self.admin("PUT", "/v1/policy", BUNDLE_TYPE, bundle)
    }

    /// A public GET: the body's bytes of a 2xx answer.
    fn get(&self, path: &str) -> Result<Vec<u8>> {
        let url = format!("{}{path}", self.base);
        let mut resp = self.agent.get(&url).call().with_context(|| format!("GET {url}"))?;
        let status = resp.status().as_u16();
        let bytes =
            resp.body_mut().with_config().limit(64 << 20).read_to_vec().with_context(|| format!("GET {url}"))?;
        anyhow::ensure!((200..300).contains(&status), "GET {url}: {status} {}", String::from_utf8_lossy(&bytes));
        Ok(bytes)
    }

    /// Makes an earlier policy version live again.
    pub fn rollback(&self, version: u64) -> Result<()> {
        let body = serde_json::json!({ "version": version }).to_string();
        self.admin("POST", "/v1/policy/rollback", "application/json", body.as_bytes())
    }

    /// Uploads feedback events (NDJSON lines) in batches of 1,000; any rejected event fails.
    pub fn post_feedback(&self, lines: &[String]) -> Result<()> {
        for chunk in lines.chunks(1_000) {
            let body = chunk.join("\n");
            let (status, text) =
                self.send("POST", "/v1/feedback", Token::Edge, "application/x-ndjson", body.as_bytes())?;
            anyhow::ensure!((200..300).contains(&status), "POST {}/v1/feedback: {status} {text}", self.base);
            let answer: Value = serde_json::from_str(&text).unwrap_or_default();
            let rejected = answer["rejected"].as_array().map_or(0, Vec::len);
            anyhow::ensure!(rejected == 0, "the origin rejected {rejected} events: {}", answer["rejected"]);
        }
        Ok(())
    }
}

#[derive(clap::Args)]
pub struct PublishArgs {
    #[arg(long, env = "EDGEPRICE_ORIGIN")]
    pub origin: String,
    #[arg(long)]
    pub bundle: std::path::PathBuf,
}

#[derive(clap::Args)]
pub struct RollbackArgs {
    #[arg(long, env = "EDGEPRICE_ORIGIN")]
    pub origin: String,
    #[arg(long)]
    pub to: u64,
    /// Re-issue version `--to` signed with this key as a new version (one above every
    /// published one) and publish it: the rollback edges follow. Without it only the
    /// origin rolls back, and edges keep the newer version they already run.
    #[arg(long)]
    pub key: Option<std::path::PathBuf>,
    /// Public keys trusted to have signed version `--to` (besides the built-in one and
    /// `--key`'s own).
    #[arg(long = "trusted-key")]
    pub trusted_key: Vec<std::path::PathBuf>,
    /// Days the re-issued bundle is valid.
    #[arg(long, default_value_t = 30)]
    pub valid_days: u64,
}

pub fn publish(a: PublishArgs) -> Result<()> {
    Origin::new(&a.origin).publish(&crate::files::read(&a.bundle)?)
}

pub fn rollback(a: RollbackArgs) -> Result<()> {
    let origin = Origin::new(&a.origin);
    let Some(key) = &a.key else {
        eprintln!("note: edges refuse versions older than the one they run; re-issue with --key to roll them back");
        return origin.rollback(a.to);
    };
    let signer = edgeprice_core::bundle::BundleSigner::from_json(&crate::files::read(key)?)?;
    let mut keys = crate::files::trusted(&a.trusted_key)?;
    keys.add(&signer.key_id, &signer.public_bytes())?;
    let versions: Value = serde_json::from_slice(&origin.get("/v1/policy")?).context("the origin's /v1/policy")?;
    let max = versions["max"].as_u64().context("the origin has no published version")?;
    let old = origin.get(&format!("/v1/policy/{}", a.to))?;
    let now = crate::files::now_or(None)?;
    let (draft, model) = edgeprice_core::bundle::reissue(&old, &keys, now, max + 1, a.valid_days)
        .with_context(|| format!("version {} does not verify", a.to))?;
    let bytes = signer.sign_draft(draft, &model).context("the re-issued bundle does not verify")?;
    eprintln!("re-issued version {} as version {} (key {})", a.to, max + 1, signer.key_id);
    origin.publish(&bytes)
}
