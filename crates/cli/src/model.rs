//! `train`, `score` and `features`: the behaviour model and the data set.

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use edgeprice_core::model::BehaviourModel;
use edgeprice_learn::train::{self, TrainConfig};

use crate::files::{self, read_rows, read_schema};

#[derive(Args)]
pub struct TrainArgs {
    #[arg(long)]
    pub data: PathBuf,
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Override the number of training epochs.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Override AdamW's decoupled weight decay.
    #[arg(long)]
    pub weight_decay: Option<f64>,
    /// Override the learning rate.
    #[arg(long)]
    pub learning_rate: Option<f64>,
    /// Price-response form: 1 `sigmoid(a - b (r - 1))`, 2 (default) adds the ceiling `c`.
    #[arg(long)]
    pub form: Option<u32>,
    /// The market (TOML, `markets/*.toml`) that decides the exploring log's purchases;
    /// default: market version 1. The learner sees only the log.
    #[arg(long)]
    pub market: Option<PathBuf>,
}

#[derive(Args)]
pub struct ScoreArgs {
    /// Folder with schema.json and the ONNX models (for example `models`).
    #[arg(long)]
    pub model: PathBuf,
    #[arg(long)]
    pub data: PathBuf,
    /// Use the int8 model (behaviour.int8.onnx) instead of fp32.
    #[arg(long)]
    int8: bool,
    /// Print the heads `a,b,c` instead of the probability (`c` = 1 for two-head models).
    #[arg(long)]
    pub heads: bool,
}

#[derive(Args)]
pub struct FeaturesArgs {
    #[arg(long)]
    pub model: PathBuf,
    #[arg(long)]
    pub data: PathBuf,
}

pub fn train(a: TrainArgs) -> Result<()> {
    let (data, out) = (&a.data, &a.out);
    let started = Instant::now();
    let rows = read_rows(data)?;
    let mut config = TrainConfig { seed: a.seed, market: files::market(a.market.as_deref())?, ..Default::default() };
    let (epochs, weight_decay, learning_rate, form) = (a.epochs, a.weight_decay, a.learning_rate, a.form);
    config.mlp.form = form.unwrap_or(config.mlp.form);
    anyhow::ensure!((1..=2).contains(&config.mlp.form), "--form is 1 (logistic) or 2 (with the ceiling head)");
    config.mlp.epochs = epochs.unwrap_or(config.mlp.epochs);
    config.mlp.weight_decay = weight_decay.unwrap_or(config.mlp.weight_decay);
    config.mlp.learning_rate = learning_rate.unwrap_or(config.mlp.learning_rate);
    let bar = indicatif::ProgressBar::new(config.total_epochs());
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} epochs ({elapsed})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message(format!("training on {} sessions", rows.len()));
    let trained = train::train(&rows, &config, &mut || bar.inc(1))?;
    bar.finish();
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let write = |name: &str, bytes: &[u8]| files::write(&out.join(name), bytes);
    write("behaviour.onnx", &trained.fp32)?;
    write("behaviour.int8.onnx", &trained.int8)?;
    write("schema.json", format!("{}\n", trained.schema.to_json()).as_bytes())?;
    write("metrics.json", format!("{}\n", serde_json::to_string_pretty(&trained.metrics)?).as_bytes())?;
    let cv = &trained.metrics.cross_validation;
    eprintln!(
        "5-fold CV: AUC fp32 {:.4} int8 {:.4}, log loss {:.4}, ECE {:.4}; price response MAE {:.4}; \
         fp32 {} B, int8 {} B; {:.1} s",
        cv.auc_fp32.mean,
        cv.auc_int8.mean,
        cv.log_loss_fp32.mean,
        cv.ece_fp32.mean,
        cv.price_response.mean_abs_error,
        trained.fp32.len(),
        trained.int8.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

pub fn score(a: ScoreArgs) -> Result<()> {
    let (dir, int8, heads) = (&a.model, a.int8, a.heads);
    let schema = read_schema(dir)?;
    let file = dir.join(if int8 { "behaviour.int8.onnx" } else { "behaviour.onnx" });
    let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
    let model = BehaviourModel::load(&bytes, schema.width()).with_context(|| format!("loading {}", file.display()))?;
    let rows = read_rows(&a.data)?;
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut x = Vec::with_capacity(schema.width());
    for (i, row) in rows.iter().enumerate() {
        x.clear();
        schema.transform_into(&row.session, &mut x);
        let h = model.heads(&x).with_context(|| format!("scoring data row {}", i + 1))?;
        if heads {
            writeln!(out, "{},{},{}", h.a, h.b, h.c)?;
        } else {
            writeln!(out, "{:.9}", h.purchase_probability(1.0))?;
        }
    }
    out.flush()?;
    Ok(())
}

pub fn features(a: FeaturesArgs) -> Result<()> {
    let dir = &a.model;
    let schema = read_schema(dir)?;
    let rows = read_rows(&a.data)?;
    let mut out = BufWriter::new(std::io::stdout().lock());
    writeln!(out, "{}", schema.names().join(","))?;
    for row in &rows {
        let x = schema.transform(&row.session);
        let cells: Vec<String> = x.iter().map(|v| v.to_string()).collect();
        writeln!(out, "{}", cells.join(","))?;
    }
    out.flush()?;
    Ok(())
}
