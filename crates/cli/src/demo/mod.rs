//! `demo`: the whole stack on this machine, offline. The origin (SQLite, in this process),
//! the edge worker on workerd (`wrangler dev`, lean build) in front of the origin's product
//! pages, the playground's files, and simulated shoppers (data set sessions through the real
//! worker, purchases decided by the market model) at a gentle rate; one status line every
//! few seconds from the origin's own report. Ctrl-C (or `--seconds`) stops everything it
//! started; a temporary folder it made is removed.

mod shopper;
mod stack;
mod status;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use edgeprice_core::engine::Engine;
use edgeprice_core::pricing::product::Product;
use edgeprice_core::rng::SplitMix64;
use edgeprice_origin::config::Settings;

use crate::files::{self, read_rows};
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
    match dir {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
            Ok((d.to_path_buf(), false))
        }
        None => {
            let d = std::env::temp_dir().join(format!("edgeprice-demo-{}-{}", std::process::id(), token(4)?));
            std::fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
            Ok((d, true))
        }
    }
}

/// The catalog's products as shoppers see them.
fn items(catalog: &[(String, serde_json::Value)]) -> Result<Vec<Item>> {
    catalog
        .iter()
        .map(|(_, doc)| {
            let p = Product::from_value(doc.clone()).map_err(|e| anyhow::anyhow!("catalog: {e}"))?;
            Ok(Item { sku: p.sku.clone(), list_price: p.currency.to_major(p.list_price) })
        })
        .collect()
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
    let rows: Vec<_> = read_rows(&a.data)?.into_iter().map(|r| (r.session, r.revenue.unwrap_or(false))).collect();
    if rows.is_empty() {
        bail!("{} has no sessions", a.data.display());
    }
    let market = files::market(a.market.as_deref())?;
    let catalog = crate::serve::read_catalog(&root.join("www/catalog.json"))?;
    let items = items(&catalog)?;
    if items.is_empty() {
        bail!("www/catalog.json has no products");
    }
    let now = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let page_values = Engine::with_default(now())?.bundle().manifest().page_values.clone();
    let (dir, made) = work_dir(a.dir.as_deref())?;
    let result = run(&a, &root, &dir, rows, market, catalog, items, page_values, started);
    if made {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

/// Shared between the shoppers, the status line and the signal handler.
#[derive(Default)]
struct Tally {
    stop: AtomicBool,
    next: AtomicUsize,
    shoppers: AtomicU64,
    priced: AtomicU64,
    purchases: AtomicU64,
    failed: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl Tally {
    fn sent(&self) -> status::Sent {
        status::Sent {
            shoppers: self.shoppers.load(Ordering::Relaxed),
            priced: self.priced.load(Ordering::Relaxed),
            purchases: self.purchases.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn run(
    a: &DemoArgs,
    root: &Path,
    dir: &Path,
    rows: Vec<(edgeprice_core::session::Session, bool)>,
    market: edgeprice_learn::market::MarketModel,
    catalog: Vec<(String, serde_json::Value)>,
    items: Vec<Item>,
    page_values: std::collections::BTreeMap<String, f64>,
    started: Instant,
) -> Result<()> {
    let lean = !a.full_worker;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let tally = Arc::new(Tally::default());
    {
        // Ctrl-C or SIGTERM: everything stops in order (below), from the build on.
        let tally = tally.clone();
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
    }
    let what = if lean { "lean" } else { "with tract-onnx" };
    eprintln!("edgeprice demo: building the edge worker ({what}; the first build takes minutes) ...");
    let args: &[&str] = if lean { &["lean"] } else { &[] };
    stack::build(root, "build-worker", args, &dir.join("build-worker.log"), &tally.stop)?;

    // A token of the caller's is never printed; a random one is, for the console's sign-in.
    let (admin_token, shown_token) = match &a.admin_token {
        Some(t) if t.len() >= 16 => (t.clone(), "the one in EDGEPRICE_ADMIN_TOKEN".to_string()),
        Some(_) => bail!("the admin token must be at least 16 characters"),
        None => {
            let t = token(16)?;
            (t.clone(), t)
        }
    };
    let (edge_token, session_secret) = (token(16)?, token(32)?);
    let settings = Settings {
        admin_token: admin_token.clone(),
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
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let origin_url = format!("http://127.0.0.1:{}", a.origin_port);
    let worker_url = format!("http://127.0.0.1:{}", a.worker_port);
    let playground_url = format!("http://127.0.0.1:{}", a.playground_port);

    // The origin and the playground's files, on this process's runtime.
    let db = format!("sqlite://{}?mode=rwc", dir.join("origin.db").display());
    let (origin_listener, playground_listener) = runtime.block_on(async {
        let o = tokio::net::TcpListener::bind(("127.0.0.1", a.origin_port))
            .await
            .with_context(|| format!("port {} is taken (--origin-port)", a.origin_port))?;
        let p = tokio::net::TcpListener::bind(("127.0.0.1", a.playground_port))
            .await
            .with_context(|| format!("port {} is taken (--playground-port)", a.playground_port))?;
        anyhow::Ok((o, p))
    })?;
    let keys = edgeprice_origin::config::trusted_keys(&[])?;
    let until_stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let origin_task =
        runtime.spawn(crate::serve::run(db, catalog, keys, settings, origin_listener, until_stopped(stop_rx.clone())));
    let app = stack::playground(root);
    let playground_task = runtime.spawn(async move {
        let _ = axum::serve(playground_listener, app).with_graceful_shutdown(until_stopped(stop_rx)).await;
    });
    let mut worker = stack::start_worker(&stack::WorkerSettings {
        root,
        lean,
        port: a.worker_port,
        origin: &origin_url,
        edge_token: &edge_token,
        session_secret: &session_secret,
        state: dir.join("wrangler-state"),
        log: dir.join("worker.log"),
    })?;
    let outcome = (|| {
        stack::wait_up(&format!("{worker_url}/_edgeprice/status"), &mut worker, Duration::from_secs(300), &tally.stop)?;
        let first = &items.first().context("www/catalog.json has no products")?.sku;
        let (status, html) = shopper::Browser::new(&worker_url).send(&format!("/products/{first}"), None)?;
        if status != 200 || shopper::read_page(&html, first).is_none() {
            bail!(
                "the worker's first product page was not priced (HTTP {status}); worker log {}",
                worker.log.display()
            );
        }
        eprintln!("edgeprice demo: first priced page after {:.0} s", started.elapsed().as_secs_f64());
        eprintln!("  a product page through the worker: {worker_url}/products/{first}");
        eprintln!("  the merchant console:              {origin_url}/console  (admin token: {shown_token})");
        eprintln!("  the playground (being built):      {playground_url}/");
        eprintln!("  files and logs:                    {}", dir.display());
        eprintln!("  Ctrl-C stops everything.");
        shop_and_report(
            a,
            root,
            dir,
            &worker_url,
            &origin_url,
            &admin_token,
            &tally,
            &mut worker,
            &rows,
            &market,
            &items,
            &page_values,
        )
    })();
    // Stop in reverse order: shoppers (already), the worker's process group, then the servers.
    tally.stop.store(true, Ordering::Relaxed);
    worker.stop();
    let _ = stop_tx.send(true);
    runtime.block_on(async {
        let _ = tokio::time::timeout(Duration::from_secs(10), origin_task).await;
        let _ = tokio::time::timeout(Duration::from_secs(5), playground_task).await;
    });
    runtime.shutdown_timeout(Duration::from_secs(2));
    let sent = tally.sent();
    eprintln!(
        "edgeprice demo: stopped after {:.0} s; {} shoppers, {} pages priced, {} purchases. Nothing left running.",
        started.elapsed().as_secs_f64(),
        sent.shoppers,
        sent.priced,
        sent.purchases
    );
    outcome
}

/// Sends shoppers until stopped, printing a status line every `a.every` seconds; builds
/// the playground's package meanwhile.
#[allow(clippy::too_many_arguments)]
fn shop_and_report(
    a: &DemoArgs,
    root: &Path,
    dir: &Path,
    worker_url: &str,
    origin_url: &str,
    admin_token: &str,
    tally: &Arc<Tally>,
    worker: &mut stack::Group,
    rows: &[(edgeprice_core::session::Session, bool)],
    market: &edgeprice_learn::market::MarketModel,
    items: &[Item],
    page_values: &std::collections::BTreeMap<String, f64>,
) -> Result<()> {
    let began = Instant::now();
    let gap = Duration::from_secs_f64(1.0 / a.rate);
    std::thread::scope(|scope| {
        let playground =
            scope.spawn(|| match stack::build(root, "build-web", &["lean"], &dir.join("build-web.log"), &tally.stop) {
                Ok(()) => eprintln!("edgeprice demo: the playground is ready"),
                Err(e) if tally.stop.load(Ordering::Relaxed) => drop(e),
                Err(e) => eprintln!("edgeprice demo: the playground's package did not build: {e:#}"),
            });
        // Two shoppers at a time at most, each starting at its turn of the schedule.
        for _ in 0..2 {
            scope.spawn(|| {
                while !tally.stop.load(Ordering::Relaxed) {
                    let i = tally.next.fetch_add(1, Ordering::Relaxed);
                    let due = began + gap * u32::try_from(i).unwrap_or(u32::MAX);
                    while Instant::now() < due && !tally.stop.load(Ordering::Relaxed) {
                        std::thread::sleep((due - Instant::now()).min(Duration::from_millis(200)));
                    }
                    if tally.stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let mut rng = SplitMix64::for_item(a.seed, 0xde30, i as u64);
                    let (Some((s, bought)), Some(item)) =
                        (rows.get(rng.next_index(rows.len())), items.get(rng.next_index(items.len())))
                    else {
                        break; // empty inputs are refused before the shoppers start
                    };
                    tally.shoppers.fetch_add(1, Ordering::Relaxed);
                    match shopper::shop(worker_url, s, *bought, item, page_values, market, a.seed, i) {
                        Ok(v) => {
                            tally.priced.fetch_add(1, Ordering::Relaxed);
                            tally.purchases.fetch_add(u64::from(v.purchased), Ordering::Relaxed);
                        }
                        Err(e) => {
                            tally.failed.fetch_add(1, Ordering::Relaxed);
                            if let Ok(mut last) = tally.last_error.lock() {
                                *last = Some(format!("{e:#}"));
                            }
                        }
                    }
                }
            });
        }
        let mut next_line = began + Duration::from_secs(a.every);
        let mut shown_error = None;
        let mut result = Ok(());
        loop {
            std::thread::sleep(Duration::from_millis(200));
            if let Some(status) = worker.exited() {
                result = Err(anyhow::anyhow!(
                    "the worker stopped ({status}); its last lines ({}):\n{}",
                    worker.log.display(),
                    stack::tail(&worker.log, 25)
                ));
                break;
            }
            let elapsed = began.elapsed();
            if a.seconds.is_some_and(|s| elapsed >= Duration::from_secs(s)) || tally.stop.load(Ordering::Relaxed) {
                break;
            }
            if Instant::now() >= next_line {
                next_line += Duration::from_secs(a.every);
                let summary = status::summary(origin_url, admin_token);
                println!("{}", status::line(elapsed.as_secs(), tally.sent(), summary.as_ref()));
                let last = tally.last_error.lock().ok().and_then(|l| l.clone());
                if last.is_some() && last != shown_error {
                    eprintln!("edgeprice demo: a shopper failed: {}", last.as_deref().unwrap_or_default());
                    shown_error = last;
                }
            }
        }
        tally.stop.store(true, Ordering::Relaxed);
        let _ = playground.join();
        result
    })
}
