//! `demo`: the whole stack on this machine, offline. The origin (SQLite, in this process),
//! the edge worker on workerd (`wrangler dev`, lean build) in front of the origin's product
//! pages, the playground's files, and simulated shoppers (data set sessions through the real
//! worker, purchases decided by the market model) at a gentle rate; one status line every
//! few seconds from the origin's own report. Ctrl-C (or `--seconds`) stops everything it
//! started; a temporary folder it made is removed.

mod crowd;
mod shopper;
mod stack;
mod status;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use edgeprice_core::engine::Engine;
use edgeprice_core::pricing::product::Product;
use edgeprice_origin::config::Settings;

use crate::files::{self, read_rows};
use crowd::{Tally, World};
use shopper::Item;

#[derive(Args)]
pub struct DemoArgs {
    /// Folder for the origin's database, the worker's local state and the logs (kept);
    /// default: a temporary folder, removed when the demo stops.
    #[arg(long)]
    dir: Option<PathBuf>,
    #[arg(long, default_value_t = 8080)]
    origin_port: u16,
    #[arg(long, default_value_t = 8787)]
    worker_port: u16,
    #[arg(long, default_value_t = 8790)]
    playground_port: u16,
    /// Simulated shoppers per second.
    #[arg(long, default_value_t = 2.0)]
    rate: f64,
    /// Stop after this many seconds of shoppers (default: run until Ctrl-C).
    #[arg(long)]
    seconds: Option<u64>,
    /// Seconds between status lines.
    #[arg(long, default_value_t = 5)]
    every: u64,
    /// The sessions shoppers replay (the data set's CSV format).
    #[arg(long, env = "EDGEPRICE_DATA", default_value = "../shared/data/online_shoppers_train.csv")]
    data: PathBuf,
    /// The market deciding purchases (`markets/*.toml`); default: market version 1.
    #[arg(long)]
    market: Option<PathBuf>,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The worker with tract-onnx (`wrangler dev` without `--env lean`; a longer build).
    #[arg(long)]
    full_worker: bool,
    /// The origin's admin token (for the console and the reports); default: a random one,
    /// printed at start.
    #[arg(long, env = "EDGEPRICE_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
}

/// A random token of `n` bytes, hex.
fn token(n: usize) -> Result<String> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no OS randomness: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The folder of this run, and whether the demo made it (and so removes it).
fn work_dir(dir: Option<&Path>) -> Result<(PathBuf, bool)> {
    let (d, made) = match dir {
        Some(d) => (d.to_path_buf(), false),
        None => (std::env::temp_dir().join(format!("edgeprice-demo-{}-{}", std::process::id(), token(4)?)), true),
    };
    std::fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
    Ok((d, made))
}

/// The catalog's products as shoppers see them.
fn items(catalog: &[(String, serde_json::Value)]) -> Result<Vec<Item>> {
    catalog
        .iter()
        .map(|(_, doc)| {
            let p = Product::from_value(doc).map_err(|e| anyhow::anyhow!("catalog: {e}"))?;
            Ok(Item { sku: p.sku.clone(), list_price: p.currency.to_major(p.list_price) })
        })
        .collect()
}

/// The admin token, and how the start message names it: a token of the caller's is never
/// printed; a random one is, for the console's sign-in.
fn admin_token(given: Option<&str>) -> Result<(String, String)> {
    match given {
        Some(t) if t.len() >= 16 => Ok((t.to_string(), "the one in EDGEPRICE_ADMIN_TOKEN".to_string())),
        Some(_) => bail!("the admin token must be at least 16 characters"),
        None => token(16).map(|t| (t.clone(), t)),
    }
}

/// Where the three servers listen.
struct Urls {
    origin: String,
    worker: String,
    playground: String,
}

/// One run of the demo: its settings, its folder, its shoppers' world and their tally.
struct Demo<'a> {
    args: &'a DemoArgs,
    root: PathBuf,
    dir: PathBuf,
    started: Instant,
    tally: Arc<Tally>,
}

pub fn demo(a: DemoArgs) -> Result<()> {
    let started = Instant::now();
    let root = std::env::current_dir()?;
    if !root.join("wrangler.toml").is_file() || !root.join("www/catalog.json").is_file() {
        bail!("run the demo from the repository root (where wrangler.toml is)");
    }
    if !(a.rate.is_finite() && a.rate > 0.0 && a.rate <= 50.0) {
        bail!("--rate must be in (0, 50] shoppers per second");
    }
    let (admin, shown) = admin_token(a.admin_token.as_deref())?;
    let rows: Vec<_> = read_rows(&a.data)?.into_iter().map(|r| (r.session, r.revenue.unwrap_or(false))).collect();
    if rows.is_empty() {
        bail!("{} has no sessions", a.data.display());
    }
    let catalog = crate::serve::read_catalog(&root.join("www/catalog.json"))?;
    let items = items(&catalog)?;
    if items.is_empty() {
        bail!("www/catalog.json has no products");
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let world = World {
        rows,
        items,
        market: files::market(a.market.as_deref())?,
        page_values: Engine::with_default(now)?.bundle().manifest().page_values.clone(),
        seed: a.seed,
    };
    let (dir, made) = work_dir(a.dir.as_deref())?;
    let demo = Demo { args: &a, root, dir, started, tally: Arc::default() };
    let result = demo.run(catalog, &world, &admin, &shown);
    if made {
        let _ = std::fs::remove_dir_all(&demo.dir);
    }
    result
}

impl Demo<'_> {
    /// Builds the worker, starts the servers and the worker, sends shoppers until stopped,
    /// then stops everything in reverse order.
    fn run(&self, catalog: Vec<(String, serde_json::Value)>, world: &World, admin: &str, shown: &str) -> Result<()> {
        let a = self.args;
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
        // Ctrl-C or SIGTERM: everything stops in order (below), from the build on.
        let tally = self.tally.clone();
        runtime.spawn(async move {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            let terminated = async {
                match term.as_mut() {
                    Some(t) => t.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminated => {}
            }
            tally.stop.store(true, Ordering::Relaxed);
        });
        let lean = !a.full_worker;
        let what = if lean { "lean" } else { "with tract-onnx" };
        eprintln!("edgeprice demo: building the edge worker ({what}; the first build takes minutes) ...");
        let build_args: &[&str] = if lean { &["lean"] } else { &[] };
        stack::build(&self.root, "build-worker", build_args, &self.dir.join("build-worker.log"), &self.tally.stop)?;

        let (edge_token, session_secret) = (token(16)?, token(32)?);
        let settings = Settings {
            admin_token: admin.to_string(),
            edge_token: edge_token.clone(),
            // A 5 s request deadline (30 s by default) lets the rollups, and so the status
            // line, trail the shoppers by 6 s instead of 31 (`serve::roll_up_forever`).
            limits: {
                let d = edgeprice_origin::limits::Limits::default();
                edgeprice_origin::limits::Limits::new(d.edge, d.admin, Duration::from_secs(5))
            },
            header_timeout: Duration::from_secs(10),
            pusher: None,
            rollup_every: Duration::from_secs(2),
        };
        let urls = Urls {
            origin: format!("http://127.0.0.1:{}", a.origin_port),
            worker: format!("http://127.0.0.1:{}", a.worker_port),
            playground: format!("http://127.0.0.1:{}", a.playground_port),
        };

        // The origin and the playground's files, on this process's runtime.
        let (origin_listener, playground_listener) = runtime.block_on(async {
            let o = tokio::net::TcpListener::bind(("127.0.0.1", a.origin_port))
                .await
                .with_context(|| format!("port {} is taken (--origin-port)", a.origin_port))?;
            let p = tokio::net::TcpListener::bind(("127.0.0.1", a.playground_port))
                .await
                .with_context(|| format!("port {} is taken (--playground-port)", a.playground_port))?;
            anyhow::Ok((o, p))
        })?;
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let until_stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let db = format!("sqlite://{}?mode=rwc", self.dir.join("origin.db").display());
        let keys = edgeprice_origin::config::trusted_keys(&[])?;
        let origin = runtime.spawn(crate::serve::run(
            db,
            catalog,
            keys,
            settings,
            origin_listener,
            until_stopped(stop_rx.clone()),
        ));
        let app = stack::playground(&self.root);
        let playground = runtime.spawn(async move {
            let _ = axum::serve(playground_listener, app).with_graceful_shutdown(until_stopped(stop_rx)).await;
        });
        let mut worker = stack::start_worker(&stack::WorkerSettings {
            root: &self.root,
            lean,
            port: a.worker_port,
            origin: &urls.origin,
            edge_token: &edge_token,
            session_secret: &session_secret,
            state: self.dir.join("wrangler-state"),
            log: self.dir.join("worker.log"),
        })?;
        let outcome = self
            .first_page(&urls, &mut worker, world, shown)
            .and_then(|()| self.shop(&urls, admin, &mut worker, world));

        // Stop in reverse order: the shoppers (already), the worker's process group, the servers.
        self.tally.stop.store(true, Ordering::Relaxed);
        worker.stop();
        let _ = stop_tx.send(true);
        runtime.block_on(async {
            let _ = tokio::time::timeout(Duration::from_secs(10), origin).await;
            let _ = tokio::time::timeout(Duration::from_secs(5), playground).await;
        });
        runtime.shutdown_timeout(Duration::from_secs(2));
        let sent = self.tally.sent();
        eprintln!(
            "edgeprice demo: stopped after {:.0} s; {} shoppers, {} pages priced, {} purchases. Nothing left running.",
            self.started.elapsed().as_secs_f64(),
            sent.shoppers,
            sent.priced,
            sent.purchases
        );
        outcome
    }

    /// Waits for the worker, checks that it prices a page, and prints where to look.
    fn first_page(&self, urls: &Urls, worker: &mut stack::Group, world: &World, shown: &str) -> Result<()> {
        stack::wait_up(
            &format!("{}/_edgeprice/status", urls.worker),
            worker,
            Duration::from_secs(300),
            &self.tally.stop,
        )?;
        let first = &world.items.first().context("www/catalog.json has no products")?.sku;
        let (status, html) = shopper::Browser::new(&urls.worker).send(&format!("/products/{first}"), None)?;
        if status != 200 || shopper::read_page(&html, first).is_none() {
            bail!(
                "the worker's first product page was not priced (HTTP {status}); worker log {}",
                worker.log.display()
            );
        }
        eprintln!("edgeprice demo: first priced page after {:.0} s", self.started.elapsed().as_secs_f64());
        eprintln!("  a product page through the worker: {}/products/{first}", urls.worker);
        eprintln!("  the merchant console:              {}/console  (admin token: {shown})", urls.origin);
        eprintln!("  the playground (being built):      {}/", urls.playground);
        eprintln!("  files and logs:                    {}", self.dir.display());
        eprintln!("  Ctrl-C stops everything.");
        Ok(())
    }

    /// Sends shoppers until stopped, printing a status line every `--every` seconds; builds
    /// the playground's package meanwhile.
    fn shop(&self, urls: &Urls, admin: &str, worker: &mut stack::Group, world: &World) -> Result<()> {
        let (a, tally) = (self.args, &*self.tally);
        let began = Instant::now();
        std::thread::scope(|scope| {
            let log = self.dir.join("build-web.log");
            let playground =
                scope.spawn(move || match stack::build(&self.root, "build-web", &["lean"], &log, &tally.stop) {
                    Ok(()) => eprintln!("edgeprice demo: the playground is ready"),
                    Err(e) if tally.stopped() => drop(e),
                    Err(e) => eprintln!("edgeprice demo: the playground's package did not build: {e:#}"),
                });
            crowd::start(scope, world, &urls.worker, a.rate, began, tally);
            let reports = shopper::agent(Duration::from_secs(5));
            let mut next_line = began + Duration::from_secs(a.every);
            let mut shown_error = None;
            let result = loop {
                std::thread::sleep(Duration::from_millis(200));
                if let Some(status) = worker.exited() {
                    break Err(anyhow::anyhow!(
                        "the worker stopped ({status}); its last lines ({}):\n{}",
                        worker.log.display(),
                        stack::tail(&worker.log, 25)
                    ));
                }
                let elapsed = began.elapsed();
                if a.seconds.is_some_and(|s| elapsed >= Duration::from_secs(s)) || tally.stopped() {
                    break Ok(());
                }
                if Instant::now() >= next_line {
                    next_line += Duration::from_secs(a.every);
                    let summary = status::summary(&reports, &urls.origin, admin);
                    println!("{}", status::line(elapsed.as_secs(), tally.sent(), summary.as_ref()));
                    let last = tally.last_error();
                    if last.is_some() && last != shown_error {
                        eprintln!("edgeprice demo: a shopper failed: {}", last.as_deref().unwrap_or_default());
                        shown_error = last;
                    }
                }
            };
            tally.stop.store(true, Ordering::Relaxed);
            let _ = playground.join();
            result
        })
    }
}
