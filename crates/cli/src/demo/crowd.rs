//! The demo's shoppers as a crowd: who they are (data set sessions, catalog products, the
//! market), when they come (a fixed schedule at `rate` a second, two at a time at most),
//! and the tally of what they did. Shopper `i` is the same session and product in every
//! run with the same seed.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use edgeprice_core::rng::SplitMix64;
use edgeprice_core::session::Session;
use edgeprice_learn::market::MarketModel;

use super::shopper::{self, Item};
use super::status::Sent;

/// What the shoppers are drawn from. `rows` and `items` are not empty (`demo` checks).
pub struct World {
    /// Data set sessions with their label (bought at list price).
    pub rows: Vec<(Session, bool)>,
    pub items: Vec<Item>,
    pub market: MarketModel,
    /// The live bundle's page value table (the page ids a session's events carry).
    pub page_values: BTreeMap<String, f64>,
    pub seed: u64,
}

/// Shared by the shoppers, the status line and the signal handler.
#[derive(Default)]
pub struct Tally {
    pub stop: AtomicBool,
    next: AtomicUsize,
    shoppers: AtomicU64,
    priced: AtomicU64,
    purchases: AtomicU64,
    failed: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl Tally {
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    pub fn sent(&self) -> Sent {
        Sent {
            shoppers: self.shoppers.load(Ordering::Relaxed),
            priced: self.priced.load(Ordering::Relaxed),
            purchases: self.purchases.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }

    /// The last shopper's error, if any.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().ok().and_then(|l| l.clone())
    }
}

/// Starts the crowd in `scope`: shoppers at `rate` a second from `began`, until stopped.
pub fn start<'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    world: &'scope World,
    worker: &'scope str,
    rate: f64,
    began: Instant,
    tally: &'scope Tally,
) {
    let gap = Duration::from_secs_f64(1.0 / rate);
    for _ in 0..2 {
        scope.spawn(move || {
            while !tally.stopped() {
                let i = tally.next.fetch_add(1, Ordering::Relaxed);
                let due = began + gap * u32::try_from(i).unwrap_or(u32::MAX);
                while Instant::now() < due && !tally.stopped() {
                    std::thread::sleep((due - Instant::now()).min(Duration::from_millis(200)));
                }
                if tally.stopped() {
                    break;
                }
                let mut rng = SplitMix64::for_item(world.seed, 0xde30, i as u64);
                let (Some(row), Some(item)) = (
                    world.rows.get(rng.next_index(world.rows.len())),
                    world.items.get(rng.next_index(world.items.len())),
                ) else {
                    break;
                };
                tally.shoppers.fetch_add(1, Ordering::Relaxed);
                match shopper::shop(worker, world, row, item, i) {
                    Ok(bought) => {
                        tally.priced.fetch_add(1, Ordering::Relaxed);
                        tally.purchases.fetch_add(u64::from(bought), Ordering::Relaxed);
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
}
