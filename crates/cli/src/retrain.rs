//! `retrain`: the next model from logged feedback, signed as bundle N+1 and published only
//! when the promotion gate (`edgeprice_learn::train::gate`) passes.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use edgeprice_core::bundle::BundleSigner;
use edgeprice_core::engine::Engine;
use edgeprice_learn::train::round::{RoundInputs, propose};
use serde_json::json;

use crate::client::Origin;
use crate::evaluate::{load_events, logged_for, print_evaluation};
use crate::files::{self, ShopArgs, now_or, read, trusted};

#[derive(Args)]
pub struct RetrainArgs {
    #[arg(long, conflicts_with = "db")]
    log: Option<PathBuf>,
    #[arg(long)]
    db: Option<String>,
    /// The live bundle: the baseline of the promotion gate; the new bundle is its version + 1.
    #[arg(long)]
    live: PathBuf,
    #[command(flatten)]
    shop: ShopArgs,
    /// Signing key (secret key file of `edgeprice keygen`).
    #[arg(long)]
    key: PathBuf,
    #[arg(long)]
    out: PathBuf,
    /// Publish to this origin when the gate passes (admin token from EDGEPRICE_ADMIN_TOKEN).
    #[arg(long)]
    origin: Option<String>,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    #[arg(long)]
    now: Option<String>,
    /// Creation time written into the bundle (default: now).
    #[arg(long)]
    created: Option<String>,
    #[arg(long, default_value_t = 30)]
    valid_days: u64,
    #[arg(long)]
    trusted_key: Vec<PathBuf>,
    #[arg(long)]
    json: bool,
}

pub fn retrain(a: RetrainArgs) -> Result<()> {
    let now = now_or(a.now.as_deref())?;
    let shop = a.shop.read()?;
    let keys = trusted(&a.trusted_key)?;
    let live = Engine::new(&read(&a.live)?, &keys, now).context("the live bundle")?;
    let events = load_events(a.log.as_deref(), a.db.as_deref())?;
    let logged = logged_for(&events, &shop.product, &shop.page_values)?;
    let signer = BundleSigner::from_json(&read(&a.key)?)?;
    let inputs = RoundInputs {
        created: now_or(a.created.as_deref())?,
        valid_days: a.valid_days,
        seed: a.seed,
        ..RoundInputs::new(shop.parts(), &signer, &keys, now)
    };
    let proposal = propose(logged, &live, &inputs)?;
    let (bytes, version) = (proposal.bytes, proposal.candidate.policy_version());
    files::write(&a.out, &bytes)?;
    let v = proposal.verdict;
    let (new_eval, live_eval, diff, promote, reason) = (v.candidate, v.live, v.uplift, v.promote, v.reason);
    let (diff_live_dm, diff_explored, explored) = (v.uplift_live_dm, v.uplift_explored, v.explored);
    let mut published = false;
    if promote && let Some(origin) = &a.origin {
        Origin::new(origin).publish(&bytes)?;
        published = true;
    }
    let report = json!({
        "policy_version": version, "bundle": a.out, "trained_on": proposal.trained_on,
        "gate_decisions": proposal.gate_decisions,
        "candidate_dr": new_eval.dr, "live_dr": live_eval.dr, "uplift": diff, "uplift_live_dm": diff_live_dm,
        "uplift_explored": diff_explored, "explored_decisions": explored,
        "promote": promote, "published": published, "reason": reason,
    });
    if a.json {
        println!("{report}");
    } else {
        print_evaluation(&format!("candidate v{version}"), &new_eval);
        print_evaluation(&format!("live v{}", live.policy_version()), &live_eval);
        println!("{reason}{}", if published { "; published" } else { "" });
    }
    Ok(())
}
