//! Shared by the fuzz targets: the invariant every decision must keep, whatever the input.
#![allow(dead_code)] // each target uses what it needs
use edgeprice_core::engine::Engine;
use edgeprice_core::pricing::candidates::allowed;
use edgeprice_core::pricing::decision::{Arm, Decision};
use edgeprice_core::pricing::product::Product;
use edgeprice_core::pricing::rules::ControlPrice;

pub const NOW: i64 = 1_795_867_200; // 2026-11-28T12:00:00Z

/// The shipped bundle's engine, verified once per process (not per input).
pub fn engine() -> &'static Engine {
    static ENGINE: std::sync::OnceLock<Engine> = std::sync::OnceLock::new();
    ENGINE.get_or_init(|| Engine::with_default(NOW).unwrap())
}

/// A shown price is the list price (fallback, a list-price control group), the uniform price
/// (a uniform-price control group, an allowed price) or one the rules allow; the
/// propensities of the candidates sum to 1 and the shown one is among them.
pub fn check(engine: &Engine, product: &Product, d: &Decision) {
    let b = engine.bundle();
    let allowed = allowed(product, b.rules(), NOW);
    match d.arm {
        Arm::Control if b.rules().exploration.control == ControlPrice::Uniform => {
            assert_eq!(d.uniform_price, Some(product.currency.to_major(d.price_minor)), "{d:?}");
            assert!(allowed.candidates.iter().any(|c| c.price == d.price_minor), "{d:?} not in {allowed:?}")
        }
        Arm::Fallback | Arm::Control => assert_eq!(d.price_minor, product.list_price, "{d:?}"),
        Arm::Model | Arm::Explore => {
            assert!(allowed.candidates.iter().any(|c| c.price == d.price_minor), "{d:?} not in {allowed:?}")
        }
    }
    let total: f64 = d.candidates.iter().map(|c| c.propensity).sum();
    assert!((total - 1.0).abs() < 1e-9, "propensities sum to {total}: {d:?}");
    assert!(d.candidates.iter().any(|c| c.price_minor == d.price_minor && c.propensity == d.propensity), "{d:?}");
    assert!(d.propensity > 0.0 && d.propensity <= 1.0, "{d:?}");
    if let Some(p) = d.purchase_probability {
        assert!((0.0..=1.0).contains(&p), "{d:?}");
    }
}
