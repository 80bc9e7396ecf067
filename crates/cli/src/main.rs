//! The `edgeprice` command line: a dispatcher to one small module per command group, each
//! thin I/O around the library crates (paths, stdout, progress, the origin's HTTP API).

use anyhow::Result;
use clap::{Parser, Subcommand};

mod bundle;
mod client;
mod demo;
mod evaluate;
mod files;
#[cfg(feature = "full")]
mod model;
mod price;
#[cfg(feature = "full")]
mod retrain;
mod serve;
#[cfg(feature = "full")]
mod sign;
mod simulate;
#[cfg(feature = "full")]
mod study;

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
    #[cfg(feature = "full")]
    Train(model::TrainArgs),
    /// Print one purchase probability at the list price (r = 1) per data row, in row order.
    #[cfg(feature = "full")]
    Score(model::ScoreArgs),
    /// Print the model's input vector of every data row as CSV (header: input names).
    #[cfg(feature = "full")]
    Features(model::FeaturesArgs),
    /// Make an Ed25519 signing key: writes the secret key file KEY (keep it private) and
    /// KEY.pub.json, and prints the public key file.
    Keygen(bundle::KeygenArgs),
    /// Build and sign a policy bundle from a model folder and a rules file.
    #[cfg(feature = "full")]
    Bundle(sign::BundleArgs),
    /// Verify a bundle: exit 0 when valid, non-zero with the reason code otherwise.
    Verify(bundle::VerifyArgs),
    /// Sign a bundle that verifies again, with another key, in the current format (same
    /// policy version, validity, rules and model).
    Resign(bundle::ResignArgs),
    /// Print a bundle's manifest and parsed rules as JSON (signature not checked).
    Inspect(bundle::InspectArgs),
    /// Run the origin service: publish and serve bundles, store feedback. Tokens come from
    /// the environment: EDGEPRICE_ADMIN_TOKEN and EDGEPRICE_EDGE_TOKEN.
    Serve(serve::ServeArgs),
    /// Publish a bundle to an origin (admin token from EDGEPRICE_ADMIN_TOKEN).
    Publish(client::PublishArgs),
    /// Make an earlier policy version live again at an origin (admin token from the
    /// environment); with --key, re-issued as a new version so that edges follow.
    Rollback(client::RollbackArgs),
    /// Print a new random secret for policy pushes (`whsec_...`): EDGEPRICE_PUSH_SECRET at
    /// the origin, POLICY_PUSH_SECRET at the worker.
    PushSecret,
    /// Replay the sessions of a CSV through a policy (a bundle, list, uniform or oracle), the
    /// market model deciding purchases; prints profit, revenue and conversion per session.
    Simulate(simulate::SimulateArgs),
    /// Off-policy estimates (IPS, SNIPS, doubly robust) of a policy's profit per session
    /// from logged feedback.
    Evaluate(evaluate::EvaluateArgs),
    /// Train the next model from logged feedback, build bundle N+1, and publish it only if
    /// its doubly robust estimate beats the live policy's.
    #[cfg(feature = "full")]
    Retrain(retrain::RetrainArgs),
    /// Seeded learning loops in memory (no origin) from a cold start in a market: one JSON
    /// line per round with the live policy against the best uniform price and the feature
    /// oracle on held-out sessions, and each gate call with its ground truth.
    #[cfg(feature = "full")]
    Study(study::StudyArgs),
    /// Price sessions for a product: one decision JSON (or one per line with --sessions).
    Price(price::PriceArgs),
    /// The whole stack on this machine, offline: the origin (SQLite), the edge worker on
    /// workerd in front of its product pages, the playground, and simulated shoppers; one
    /// status line every few seconds. Run from the repository root; Ctrl-C stops it all.
    Demo(demo::DemoArgs),
}

fn main() -> Result<()> {
    match Cli::parse().command {
        #[cfg(feature = "full")]
        Command::Train(a) => model::train(a),
        #[cfg(feature = "full")]
        Command::Score(a) => model::score(a),
        #[cfg(feature = "full")]
        Command::Features(a) => model::features(a),
        Command::Keygen(a) => bundle::keygen(a),
        #[cfg(feature = "full")]
        Command::Bundle(a) => sign::bundle(a),
        Command::Verify(a) => bundle::verify(a),
        Command::Inspect(a) => bundle::inspect(a),
        Command::Resign(a) => bundle::resign(a),
        Command::Serve(a) => serve::serve(a),
        Command::Publish(a) => client::publish(a),
        Command::Rollback(a) => client::rollback(a),
        Command::PushSecret => bundle::push_secret(),
        Command::Simulate(a) => simulate::simulate(a),
        Command::Evaluate(a) => evaluate::evaluate(a),
        #[cfg(feature = "full")]
        Command::Retrain(a) => retrain::retrain(a),
        #[cfg(feature = "full")]
        Command::Study(a) => study::study(a),
        Command::Price(a) => price::price(a),
        Command::Demo(a) => demo::demo(a),
    }
}
