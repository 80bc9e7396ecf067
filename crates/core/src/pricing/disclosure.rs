//! What a personalized price must tell the shopper, by jurisdiction, and where the merchant
//! turns personalization off. Part of the signed rules (`[disclosure]`); without that
//! section, the built-in table below. The first jurisdiction whose countries (and regions,
//! when listed) contain the shopper's place applies; otherwise the default text.
//! Invariant: every personalized decision priced with a place carries a non-empty text.

use serde::{Deserialize, Serialize};

/// New York's Algorithmic Pricing Disclosure Act (General Business Law section 349-a):
/// this exact statement, near a price set with personal data.
pub const NEW_YORK_TEXT: &str = "THIS PRICE WAS SET BY AN ALGORITHM USING YOUR PERSONAL DATA.";
/// The EU's Omnibus Directive (2019/2161, Consumer Rights Directive art. 6(1)(ea)): the
/// consumer is informed that the price was personalized by automated decision-making.
pub const EU_TEXT: &str =
    "Personalised price: this price was set for you by automated decision-making based on your activity on this site.";
/// Everywhere else.
pub const DEFAULT_TEXT: &str = "This price was set for your visit by an automated pricing system.";

/// The EU's member states (ISO 3166-1 alpha-2).
const EU: [&str; 27] = [
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV", "LT", "LU", "MT",
    "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
];

/// Whether a jurisdiction's shoppers get personalized prices.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Personalize {
    #[default]
    On,
    /// The policy's uniform price for everyone there.
    Uniform,
    /// The list (reference) price for everyone there.
    List,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Jurisdiction {
    /// Short name, in reason codes and the decision (`us-ny`, `eu`).
    pub name: String,
    /// ISO 3166-1 alpha-2 country codes.
    pub countries: Vec<String>,
    /// Region codes within those countries (ISO 3166-2 without the country prefix, as
    /// Cloudflare's `request.cf.regionCode`); empty: the whole countries.
    #[serde(default)]
    pub regions: Vec<String>,
    /// The disclosure there; absent: the default text.
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub personalization: Personalize,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Disclosure {
    /// The text where no jurisdiction matches (or the place is unknown).
    #[serde(default = "default_text")]
    pub text: String,
    #[serde(default = "builtin_jurisdictions")]
    pub jurisdictions: Vec<Jurisdiction>,
}

fn default_text() -> String {
    DEFAULT_TEXT.to_string()
}

fn builtin_jurisdictions() -> Vec<Jurisdiction> {
    vec![
        Jurisdiction {
            name: "us-ny".into(),
            countries: vec!["US".into()],
            regions: vec!["NY".into()],
            text: Some(NEW_YORK_TEXT.into()),
            personalization: Personalize::On,
        },
        Jurisdiction {
            name: "eu".into(),
            countries: EU.iter().map(|c| c.to_string()).collect(),
            regions: Vec::new(),
            text: Some(EU_TEXT.into()),
            personalization: Personalize::On,
        },
    ]
}

impl Default for Disclosure {
    fn default() -> Self {
        Disclosure { text: default_text(), jurisdictions: builtin_jurisdictions() }
    }
}

/// Where the shopper is, as far as the caller knows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Place {
    pub country: Option<String>,
    pub region: Option<String>,
}

impl Place {
    /// A place from JSON `{"country": "US", "region": "NY"}` (either may be missing);
    /// anything that is not a short code is ignored, so a bad place prices as unknown.
    pub fn from_value(v: &serde_json::Value) -> Place {
        let code = |k: &str| {
            v.get(k)
                .and_then(serde_json::Value::as_str)
                .map(str::trim)
                .filter(|c| !c.is_empty() && c.len() <= 3 && c.bytes().all(|b| b.is_ascii_alphanumeric()))
                .map(str::to_string)
        };
        Place { country: code("country"), region: code("region") }
    }
}

/// The rule that applies at a place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied<'a> {
    /// The jurisdiction's name, or `default`.
    pub name: &'a str,
    pub text: &'a str,
    pub personalization: Personalize,
}

impl Disclosure {
    /// Checks what `Rules::from_toml` cannot: texts present and short, codes well formed.
    pub fn check(&self) -> Result<(), String> {
        let text_ok = |t: &str| !t.trim().is_empty() && t.len() <= 500;
        if !text_ok(&self.text) {
            return Err("disclosure.text must be 1 to 500 bytes".into());
        }
        for j in &self.jurisdictions {
            let code =
                |c: &String, n: usize| c.len() <= n && !c.is_empty() && c.bytes().all(|b| b.is_ascii_alphanumeric());
            if j.name.is_empty()
                || j.name.len() > 32
                || j.countries.is_empty()
                || !j.countries.iter().all(|c| code(c, 2))
            {
                return Err(format!("disclosure jurisdiction {:?}: a name and two-letter country codes", j.name));
            }
            if !j.regions.iter().all(|r| code(r, 3)) || !j.text.as_deref().is_none_or(text_ok) {
                return Err(format!(
                    "disclosure jurisdiction {:?}: region codes of 1 to 3 characters, text of 1 to 500 bytes",
                    j.name
                ));
            }
        }
        Ok(())
    }

    /// The rule at `place` (codes compared without regard to case).
    pub fn at(&self, place: &Place) -> Applied<'_> {
        let same = |a: &str, b: &Option<String>| b.as_deref().is_some_and(|b| a.eq_ignore_ascii_case(b.trim()));
        let found = self.jurisdictions.iter().find(|j| {
            j.countries.iter().any(|c| same(c, &place.country))
                && (j.regions.is_empty() || j.regions.iter().any(|r| same(r, &place.region)))
        });
        match found {
            Some(j) => Applied {
                name: &j.name,
                text: j.text.as_deref().unwrap_or(&self.text),
                personalization: j.personalization,
            },
            None => Applied { name: "default", text: &self.text, personalization: Personalize::On },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(country: &str, region: &str) -> Place {
        Place { country: Some(country.into()), region: (!region.is_empty()).then(|| region.into()) }
    }

    #[test]
    fn the_built_in_table_picks_new_york_the_eu_and_the_default() {
        let d = Disclosure::default();
        assert_eq!(d.at(&place("US", "NY")).text, NEW_YORK_TEXT);
        assert_eq!(d.at(&place("us", "ny")).name, "us-ny");
        assert_eq!(d.at(&place("US", "CA")).text, DEFAULT_TEXT);
        assert_eq!(d.at(&place("DE", "BE")).name, "eu");
        assert_eq!(d.at(&place("CH", "")).name, "default");
        assert_eq!(d.at(&Place::default()).name, "default");
        assert!(d.check().is_ok());
    }

    #[cfg(feature = "text-rules")]
    #[test]
    fn a_merchant_table_overrides_and_can_turn_personalization_off() {
        let d: Disclosure = toml::from_str(
            r#"text = "Prices here may be personalized."
[[jurisdictions]]
name = "eu"
countries = ["FR", "DE"]
personalization = "uniform""#,
        )
        .unwrap();
        let fr = d.at(&place("FR", ""));
        assert_eq!(
            (fr.name, fr.text, fr.personalization),
            ("eu", "Prices here may be personalized.", Personalize::Uniform)
        );
        assert_eq!(d.at(&place("US", "NY")).name, "default", "the built-in table is replaced, not merged");
        let bad: Disclosure = toml::from_str("[[jurisdictions]]\nname = \"x\"\ncountries = [\"USA\"]").unwrap();
        assert!(bad.check().is_err());
        assert!(
            toml::from_str::<Disclosure>("[[jurisdictions]]\nname = \"x\"\ncountries = [\"US\"]\nmystery = 1").is_err()
        );
    }
}
