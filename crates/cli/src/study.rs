//! `study`: seeded learning loops in memory (no origin) from a cold start in a market, one
//! JSON line per round (`edgeprice_learn::train::study`).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use edgeprice_core::bundle::{self, BundleSigner};
use edgeprice_learn::train::round::RoundInputs;
use serde_json::json;

use crate::files::{self, ShopArgs, now_or, read_rows};

#[derive(Args)]
pub struct StudyArgs {
    /// A CSV in the data set's format; rows with index mod 5 = 4 are held out.
    #[arg(long)]
    data: PathBuf,
    /// The market (TOML) deciding purchases; default: market version 1.
    #[arg(long)]
    market: Option<PathBuf>,
    /// Seeded loops to run: seeds FIRST_SEED .. FIRST_SEED + SEEDS - 1.
    #[arg(long, default_value_t = 1)]
    seeds: u64,
    #[arg(long, default_value_t = 1)]
    first_seed: u64,
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    #[arg(long, default_value_t = 4)]
    visits: u32,
    #[command(flatten)]
    shop: ShopArgs,
    /// Simulated time (default 2026-12-05T12:00:00Z, when no promotion runs for the demo product).
    #[arg(long, default_value = "2026-12-05T12:00:00Z")]
    now: String,
}

/// `edgeprice study`: seeded learning loops in memory, one JSON line per round.
pub fn study(a: StudyArgs) -> Result<()> {
    let now = now_or(Some(&a.now))?;
    let market = files::market(a.market.as_deref())?;
    let rows = read_rows(&a.data)?;
    let shop = a.shop.read()?;
    let keys = bundle::default_keys()?;
    // A fixed key made for the study: its bundles are never written anywhere.
    let mut rng = edgeprice_core::rng::SplitMix64::new(0x0073_7475_6479);
    let mut secret = [0u8; 32];
    secret.chunks_mut(8).for_each(|c| c.copy_from_slice(&rng.next_u64().to_le_bytes()));
    let signer = BundleSigner::from_secret("study", &secret);
    for seed in a.first_seed..a.first_seed + a.seeds {
        let inputs = RoundInputs {
            created: now - 86_400,
            valid_days: 3650,
            seed: 42 + seed,
            ..RoundInputs::new(shop.parts(), &signer, &keys, now)
        };
        let config = edgeprice_learn::train::study::StudyConfig { rounds: a.rounds, visits: a.visits, seed };
        edgeprice_learn::train::study::run(&market, &rows, &config, &inputs, |r| {
            let mut line = serde_json::to_value(r).unwrap_or_default();
            line["seed"] = json!(seed);
            line["market"] = json!(market.family());
            println!("{line}");
        })?;
    }
    Ok(())
}
