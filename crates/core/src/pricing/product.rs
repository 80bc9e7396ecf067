//! The product being priced: JSON in, a validated product in integer minor units out.
//! Invariant: a `Product` has a known currency, 0 <= cost <= list price, and bounded strings.

use serde::Deserialize;

use super::money::Currency;

/// Longest SKU, category or tag accepted, in bytes.
pub const MAX_NAME: usize = 256;
/// Most promotion tags on one product.
pub const MAX_TAGS: usize = 32;

#[derive(Clone, Debug, PartialEq)]
pub struct Product {
    pub sku: String,
    pub currency: Currency,
    /// The reference price, minor units.
    pub list_price: i64,
    pub cost: i64,
    /// Units in stock; `None` when the shop does not say.
    pub stock: Option<u64>,
    pub category: String,
    /// Minimum advertised price (MAP), minor units.
    pub map_price: Option<i64>,
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProductError {
    #[error("product is not valid JSON of the expected shape: {0}")]
    Malformed(String),
    #[error("unknown currency {0:?}")]
    UnknownCurrency(String),
    #[error("{field} is not a valid amount in {currency} (finite, >= 0, at most the currency's decimals)")]
    BadAmount { field: &'static str, currency: String },
    #[error("{0} is empty or longer than 256 bytes")]
    BadName(&'static str),
    #[error("cost is above the list price")]
    CostAboveList,
    #[error("list price must be positive")]
    ZeroListPrice,
}

impl ProductError {
    pub fn code(&self) -> &'static str {
        match self {
            ProductError::Malformed(_) => "product_malformed",
            ProductError::UnknownCurrency(_) => "product_unknown_currency",
            ProductError::BadAmount { .. } => "product_bad_amount",
            ProductError::BadName(_) => "product_bad_name",
            ProductError::CostAboveList => "product_cost_above_list",
            ProductError::ZeroListPrice => "product_zero_list_price",
        }
    }
}

/// A product's fields as JSON has them, before validation. JSON is read into this; the
/// browser and Node package fills it from a JS object (crates/web). `Product::from_fields`
/// validates either the same way.
#[derive(Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProductFields {
    pub sku: String,
    pub list_price: f64,
    pub cost: f64,
    pub currency: String,
    #[serde(default)]
    pub stock: Option<u64>,
    #[serde(default)]
    pub category: String,
    #[serde(default, alias = "map")]
    pub map_price: Option<f64>,
    #[serde(default)]
    pub promotion_tags: Vec<String>,
    /// Display name (catalogs carry it; pricing ignores it).
    #[serde(default)]
    pub name: Option<String>,
}

fn name_ok(s: &str, allow_empty: bool) -> bool {
    (allow_empty || !s.is_empty()) && s.len() <= MAX_NAME
}

impl Product {
    pub fn from_json(bytes: &[u8]) -> Result<Self, ProductError> {
        let raw: ProductFields = serde_json::from_slice(bytes).map_err(|e| ProductError::Malformed(e.to_string()))?;
        Self::from_fields(raw)
    }

    /// Reads a product from JSON without copying it (a category page reads a hundred).
    pub fn from_value(value: &serde_json::Value) -> Result<Self, ProductError> {
        let raw = ProductFields::deserialize(value).map_err(|e| ProductError::Malformed(e.to_string()))?;
        Self::from_fields(raw)
    }

    /// Validates fields read from JSON or elsewhere: a known currency, amounts exact in it,
    /// bounded names, 0 < list price, cost <= list price.
    pub fn from_fields(raw: ProductFields) -> Result<Self, ProductError> {
        let currency = Currency::parse(&raw.currency)
            .ok_or_else(|| ProductError::UnknownCurrency(raw.currency.chars().take(16).collect()))?;
        let amount = |field: &'static str, v: f64| {
            currency.to_minor(v).ok_or(ProductError::BadAmount { field, currency: currency.code().to_string() })
        };
        if !name_ok(&raw.sku, false) {
            return Err(ProductError::BadName("sku"));
        }
        if !name_ok(&raw.category, true) {
            return Err(ProductError::BadName("category"));
        }
        if raw.promotion_tags.len() > MAX_TAGS || !raw.promotion_tags.iter().all(|t| name_ok(t, false)) {
            return Err(ProductError::BadName("promotion_tags"));
        }
        let list_price = amount("list_price", raw.list_price)?;
        let cost = amount("cost", raw.cost)?;
        let map_price = raw.map_price.map(|m| amount("map_price", m)).transpose()?;
        if list_price == 0 {
            return Err(ProductError::ZeroListPrice);
        }
        if cost > list_price {
            return Err(ProductError::CostAboveList);
        }
        Ok(Product {
            sku: raw.sku,
            currency,
            list_price,
            cost,
            stock: raw.stock,
            category: raw.category,
            map_price,
            tags: raw.promotion_tags,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let p = Product::from_json(
            br#"{"sku":"A1","list_price":49.99,"cost":20,"currency":"USD","stock":3,"category":"shoes"}"#,
        )
        .unwrap();
        assert_eq!((p.list_price, p.cost, p.stock), (4999, 2000, Some(3)));
        let bad = |json: &str| Product::from_json(json.as_bytes()).unwrap_err().code();
        assert_eq!(bad(r#"{"sku":"A1","list_price":10,"cost":20,"currency":"USD"}"#), "product_cost_above_list");
        assert_eq!(bad(r#"{"sku":"A1","list_price":10,"cost":2,"currency":"XXX"}"#), "product_unknown_currency");
        assert_eq!(bad(r#"{"sku":"A1","list_price":-10,"cost":2,"currency":"USD"}"#), "product_bad_amount");
        assert_eq!(bad(r#"{"sku":"A1","list_price":"ten","cost":2,"currency":"USD"}"#), "product_malformed");
        assert_eq!(bad(r#"{"sku":"","list_price":10,"cost":2,"currency":"USD"}"#), "product_bad_name");
        assert_eq!(bad(r#"{"sku":"A1","list_price":0,"cost":0,"currency":"USD"}"#), "product_zero_list_price");
        let long = format!(r#"{{"sku":"{}","list_price":10,"cost":2,"currency":"USD"}}"#, "x".repeat(1 << 20));
        assert_eq!(bad(&long), "product_bad_name");
    }
}
