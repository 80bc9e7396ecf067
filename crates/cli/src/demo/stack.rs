//! The processes and servers the demo starts besides the origin: the builds (the scripts CI
//! runs), the worker under `wrangler dev` on workerd (offline, in its own process group so
//! that wrangler, its build watcher and workerd stop together), and the playground's static
//! files. Invariant: every process group it starts is stopped when its handle is dropped,
//! on every path, so nothing outlives the demo.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// The settings that keep wrangler offline (TOOLCHAIN.md: with these, `wrangler dev` made no
/// outside connection).
const OFFLINE: [(&str, &str); 4] = [
    ("WRANGLER_SEND_METRICS", "false"),
    ("WRANGLER_SEND_ERROR_REPORTS", "false"),
    ("WRANGLER_HIDE_BANNER", "true"),
    ("CLOUDFLARE_CF_FETCH_ENABLED", "false"),
];

/// The worker's first build without wasm-opt (about 30 s less on a fresh machine; the
/// module is larger, not different): `scripts/build-worker.sh` reuses an optimized build when
/// there is one.
const QUICK_BUILD: [(&str, &str); 1] = [("EDGEPRICE_WASM_OPT", "0")];

/// The last lines of a log, for an error message.
pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A child process in its own process group, stopped (the whole group: a script, cargo,
/// wasm-opt; wrangler and workerd) when asked or when dropped.
pub struct Group {
    child: Child,
    pub log: PathBuf,
    stopped: bool,
}

impl Group {
    /// Starts `cmd` with its output in `log`.
    fn spawn(mut cmd: Command, log: &Path) -> Result<Group> {
        let out = File::create(log).with_context(|| format!("creating {}", log.display()))?;
        // Its own group: Ctrl-C at the terminal reaches only the demo, which stops the
        // group itself, children included.
        cmd.stdin(Stdio::null()).stdout(out.try_clone()?).stderr(out).process_group(0);
        let child = cmd.spawn().with_context(|| format!("starting {cmd:?}"))?;
        Ok(Group { child, log: log.to_path_buf(), stopped: false })
    }

    /// Whether the process has exited (with its status).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGTERM to the group, SIGKILL to whatever is left of it after five seconds.
    pub fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        let group = format!("-{}", self.child.id());
        let signal = |sig: &str| {
            let _ = Command::new("kill").args([sig, "--", &group]).stderr(Stdio::null()).status();
        };
        signal("-TERM");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && group_alive(self.child.id()) {
            let _ = self.child.try_wait();
            std::thread::sleep(Duration::from_millis(100));
        }
        signal("-KILL");
        let _ = self.child.wait();
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether any process of group `pgid` is still running (`kill -0` to the group).
fn group_alive(pgid: u32) -> bool {
    Command::new("kill")
        .args(["-0", "--", &format!("-{pgid}")])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs a build script (`bash scripts/NAME.sh ARGS`) with its output in `log`; stops it
/// (and fails) when `stop` is set.
pub fn build(root: &Path, script: &str, args: &[&str], log: &Path, stop: &AtomicBool) -> Result<()> {
    let mut cmd = Command::new("bash");
    cmd.arg(format!("scripts/{script}.sh")).args(args).current_dir(root).envs(QUICK_BUILD);
    let mut group = Group::spawn(cmd, log)?;
    loop {
        if let Some(status) = group.exited() {
            group.stop(); // anything the script left behind in its group
            if !status.success() {
                bail!("scripts/{script}.sh failed ({status}); its last lines ({}):\n{}", log.display(), tail(log, 25));
            }
            return Ok(());
        }
        if stop.load(Ordering::Relaxed) {
            group.stop();
            bail!("stopped while scripts/{script}.sh was running");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// How the worker is started.
pub struct WorkerSettings<'a> {
    pub root: &'a Path,
    /// `lean` (`wrangler.toml`'s `[env.lean]`) or the default build.
    pub lean: bool,
    pub port: u16,
    pub origin: &'a str,
    pub edge_token: &'a str,
    pub session_secret: &'a str,
    /// KV, queues and caches of this run (`--persist-to`).
    pub state: PathBuf,
    pub log: PathBuf,
}

/// `wrangler dev` on workerd, offline, in its own process group.
pub fn start_worker(s: &WorkerSettings) -> Result<Group> {
    let mut cmd = Command::new("npx");
    cmd.args(["wrangler", "dev", "--ip", "127.0.0.1", "--port", &s.port.to_string(), "--log-level", "warn"]);
    if s.lean {
        cmd.args(["--env", "lean"]);
    }
    cmd.arg("--persist-to").arg(&s.state);
    for (name, value) in [("ORIGIN", s.origin), ("EDGE_TOKEN", s.edge_token), ("SESSION_SECRET", s.session_secret)] {
        cmd.arg("--var").arg(format!("{name}:{value}"));
    }
    // wrangler runs the worker's build command again at start: the same settings, so it
    // finds the build just made.
    cmd.envs(OFFLINE).envs(QUICK_BUILD).current_dir(s.root);
    Group::spawn(cmd, &s.log).context("starting `npx wrangler dev` (is `npm ci` done? scripts/setup.sh demo)")
}

/// Polls `url` until it answers 200, the worker exits, `stop` is set, or `limit` passes.
pub fn wait_up(url: &str, worker: &mut Group, limit: Duration, stop: &AtomicBool) -> Result<()> {
    let agent = super::shopper::agent(Duration::from_secs(5));
    let start = Instant::now();
    while start.elapsed() < limit {
        if stop.load(Ordering::Relaxed) {
            bail!("stopped while the worker was starting");
        }
        if let Some(status) = worker.exited() {
            bail!(
                "wrangler dev exited ({status}); its last lines ({}):\n{}",
                worker.log.display(),
                tail(&worker.log, 25)
            );
        }
        if agent.get(url).call().is_ok_and(|r| r.status() == 200) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    bail!(
        "{url} did not answer within {limit:?}; the worker's log ({}):\n{}",
        worker.log.display(),
        tail(&worker.log, 25)
    )
}

/// The playground's files: `www/` at `/`, and the lean web package at `/pkg/web/` (where
/// `www/app.js` imports it from; the lean build has the same API without tract-onnx).
pub fn playground(root: &Path) -> axum::Router {
    let www = root.join("www");
    let pkg = root.join("pkg/web-lean");
    axum::Router::new()
        .route("/", axum::routing::get(|| async { axum::response::Redirect::temporary("/www/index.html") }))
        .route("/www/{file}", axum::routing::get(move |p: axum::extract::Path<String>| file(www.clone(), p.0)))
        .route("/pkg/web/{*file}", axum::routing::get(move |p: axum::extract::Path<String>| file(pkg.clone(), p.0)))
}

/// One file under `dir` (no `..`, no hidden names), with its media type.
async fn file(dir: PathBuf, name: String) -> axum::response::Response {
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;
    let ok = !name.is_empty() && name.split('/').all(|part| !part.is_empty() && !part.starts_with('.'));
    let kind = match name.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript",
        Some("css") => "text/css",
        Some("json") => "application/json",
        Some("wasm") => "application/wasm",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    };
    if !ok {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    }
    match tokio::fs::read(dir.join(&name)).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, "no-store")], bytes).into_response(),
        Err(_) => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}
