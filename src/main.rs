//! The `edgeprice` command line: thin I/O around the library (paths, stdout, progress).

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use edgeprice::dataset::{self, Row};
use edgeprice::features::FeatureSchema;
use edgeprice::model::BehaviourModel;
use edgeprice::train::{self, TrainConfig};

#[derive(Parser)]
#[command(name = "edgeprice", version, about = "Personalized pricing at the edge: train, score, price.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train the behaviour model on a data set CSV (with 5-fold cross-validation) and write
    /// behaviour.onnx, behaviour.int8.onnx, schema.json and metrics.json to DIR.
    Train {
        #[arg(long)]
        data: PathBuf,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Override the number of training epochs.
        #[arg(long)]
        epochs: Option<usize>,
        /// Override AdamW's decoupled weight decay.
        #[arg(long)]
        weight_decay: Option<f64>,
        /// Override the learning rate.
        #[arg(long)]
        learning_rate: Option<f64>,
    },
    /// Print one purchase probability at the list price (r = 1) per data row, in row order.
    Score {
        /// Folder with schema.json and the ONNX models (for example `models`).
        #[arg(long)]
        model: PathBuf,
        #[arg(long)]
        data: PathBuf,
        /// Use the int8 model (behaviour.int8.onnx) instead of fp32.
        #[arg(long)]
        int8: bool,
        /// Print the two heads `a,b` instead of the probability.
        #[arg(long)]
        heads: bool,
    },
    /// Print the model's input vector of every data row as CSV (header: input names).
    Features {
        #[arg(long)]
        model: PathBuf,
        #[arg(long)]
        data: PathBuf,
    },
}

fn read_rows(path: &Path) -> Result<Vec<Row>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    dataset::parse(&text).with_context(|| format!("in {}", path.display()))
}

fn read_schema(dir: &Path) -> Result<FeatureSchema> {
    let path = dir.join("schema.json");
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    FeatureSchema::from_json(&bytes).with_context(|| format!("in {}", path.display()))
}

fn run_train(data: &Path, out: &Path, seed: u64, overrides: (Option<usize>, Option<f64>, Option<f64>)) -> Result<()> {
    let started = Instant::now();
    let rows = read_rows(data)?;
    let mut config = TrainConfig { seed, ..Default::default() };
    let (epochs, weight_decay, learning_rate) = overrides;
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
    let write = |name: &str, bytes: &[u8]| -> Result<()> {
        let path = out.join(name);
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))
    };
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

fn run_score(dir: &Path, data: &Path, int8: bool, heads: bool) -> Result<()> {
    let schema = read_schema(dir)?;
    let file = dir.join(if int8 { "behaviour.int8.onnx" } else { "behaviour.onnx" });
    let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
    let model = BehaviourModel::load(&bytes, schema.width()).with_context(|| format!("loading {}", file.display()))?;
    let rows = read_rows(data)?;
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut x = Vec::with_capacity(schema.width());
    for (i, row) in rows.iter().enumerate() {
        x.clear();
        schema.transform_into(&row.session, &mut x);
        let h = model.heads(&x).with_context(|| format!("scoring data row {}", i + 1))?;
        if heads {
            writeln!(out, "{},{}", h.a, h.b)?;
        } else {
            writeln!(out, "{:.9}", h.purchase_probability(1.0))?;
        }
    }
    out.flush()?;
    Ok(())
}

fn run_features(dir: &Path, data: &Path) -> Result<()> {
    let schema = read_schema(dir)?;
    let rows = read_rows(data)?;
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

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Train { data, out, seed, epochs, weight_decay, learning_rate } => {
            run_train(&data, &out, seed, (epochs, weight_decay, learning_rate))
        }
        Command::Score { model, data, int8, heads } => run_score(&model, &data, int8, heads),
        Command::Features { model, data } => run_features(&model, &data),
    }
}
