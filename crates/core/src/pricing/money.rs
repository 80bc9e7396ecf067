//! Money as integer minor units of an ISO 4217 currency: shown prices are computed and
//! compared in integers, so no binary-float drift reaches a price tag. Decimal inputs are
//! converted once, with a check that they fit the currency's minor unit.

use serde::{Deserialize, Serialize};

/// Currencies the engine accepts, with their minor-unit exponent.
const CURRENCIES: [(&str, u32); 16] = [
    ("AUD", 2),
    ("BRL", 2),
    ("CAD", 2),
    ("CHF", 2),
    ("CNY", 2),
    ("DKK", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("INR", 2),
    ("JPY", 0),
    ("KRW", 0),
    ("MXN", 2),
    ("NOK", 2),
    ("PLN", 2),
    ("SEK", 2),
    ("USD", 2),
];

/// Largest amount accepted, in minor units (10^13: ten trillion cents).
pub const MAX_MINOR: i64 = 10_000_000_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Currency {
    code: [u8; 3],
    exponent: u32,
}

impl Currency {
    pub fn parse(code: &str) -> Option<Self> {
        CURRENCIES.iter().find(|(c, _)| *c == code).map(|(c, e)| {
            let b = c.as_bytes();
            Currency { code: [b[0], b[1], b[2]], exponent: *e }
        })
    }

    pub fn code(&self) -> &str {
        std::str::from_utf8(&self.code).unwrap_or("???")
    }

    pub fn exponent(&self) -> u32 {
        self.exponent
    }

    /// Minor units per major unit (100 for cents).
    pub fn scale(&self) -> i64 {
        10i64.pow(self.exponent)
    }

    /// Converts a decimal amount to minor units; `None` when it is not finite, negative,
    /// too large, or has more decimals than the currency has minor units.
    pub fn to_minor(&self, amount: f64) -> Option<i64> {
        if !amount.is_finite() || amount < 0.0 {
            return None;
        }
        let scaled = amount * self.scale() as f64;
        let minor = scaled.round();
        if (scaled - minor).abs() > 1e-6 * scaled.abs().max(1.0) || minor > MAX_MINOR as f64 {
            return None;
        }
        Some(minor as i64)
    }

    /// Minor units as a decimal number for JSON output (exact for amounts under 2^53).
    pub fn to_major(&self, minor: i64) -> f64 {
        // Division by a power of ten gives the nearest f64, which prints as the decimal.
        minor as f64 / self.scale() as f64
    }

    /// Minor units as a decimal string, e.g. `1799` -> `"17.99"`.
    pub fn format(&self, minor: i64) -> String {
        if self.exponent == 0 {
            return minor.to_string();
        }
        let scale = self.scale();
        format!("{}.{:0width$}", minor / scale, minor % scale, width = self.exponent as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_become_exact_minor_units() {
        let usd = Currency::parse("USD").unwrap();
        assert_eq!(usd.to_minor(19.99), Some(1999));
        assert_eq!(usd.to_minor(0.1 + 0.2), Some(30));
        assert_eq!(usd.to_minor(19.995), None, "more decimals than cents");
        assert_eq!(usd.to_minor(-1.0), None);
        assert_eq!(usd.to_minor(f64::NAN), None);
        assert_eq!(usd.to_minor(1e300), None);
        assert_eq!(usd.format(1799), "17.99");
        assert_eq!(usd.format(5), "0.05");
        assert_eq!(usd.to_major(1799).to_string(), "17.99");
        let jpy = Currency::parse("JPY").unwrap();
        assert_eq!(jpy.to_minor(1200.0), Some(1200));
        assert_eq!(jpy.to_minor(1200.5), None);
        assert_eq!(jpy.format(1200), "1200");
        assert_eq!(Currency::parse("XYZ"), None);
        assert_eq!(Currency::parse("usd"), None);
    }
}
