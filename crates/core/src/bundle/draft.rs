//! A new policy before its key id, plan and signature: what `edgeprice bundle` and a
//! retraining round put into a bundle. `BundleSigner::sign_draft` is the one way both sign
//! one, so their bundles carry the same validity rules and are checked the same way.

use std::collections::BTreeMap;

use super::keys::TrustedKeys;
use super::{BundleError, verify};
#[cfg(feature = "text-rules")]
use super::{manifest::Manifest, signer::BundleSigner};
use crate::features::FeatureSchema;
use crate::pricing::curve::PopulationCurve;
#[cfg(feature = "text-rules")]
use crate::pricing::rules::format_time;

pub struct Draft {
    pub policy_version: u64,
    /// Unix seconds; the bundle is valid from here (less five minutes of clock skew).
    pub created: i64,
    pub valid_days: u64,
    pub schema: FeatureSchema,
    pub rules_toml: String,
    pub page_values: BTreeMap<String, f64>,
    pub population_curve: PopulationCurve,
    /// Free-form JSON shown by `inspect` (model metrics, how it was trained).
    pub metrics: serde_json::Value,
}

#[cfg(feature = "text-rules")]
impl BundleSigner {
    /// Signs a new policy valid `created` .. `created + valid_days` (the fast-path plan
    /// lowered by `sign`), then verifies the bytes with this signer's key at `created`: a
    /// bundle that would not load is never returned.
    pub fn sign_draft(&self, draft: Draft, model: &[u8]) -> Result<Vec<u8>, BundleError> {
        let days = i64::try_from(draft.valid_days).unwrap_or(i64::MAX / 86_400 - 1);
        let manifest = Manifest {
            policy_version: draft.policy_version,
            key_id: self.key_id.clone(),
            created: format_time(draft.created),
            expires: format_time(draft.created.saturating_add(days.saturating_mul(86_400))),
            schema: draft.schema,
            rules_toml: draft.rules_toml,
            page_values: draft.page_values,
            population_curve: draft.population_curve,
            metrics: draft.metrics.into(),
            plan: None, // `sign` lowers and embeds it
        };
        let bytes = self.sign(&manifest, model)?;
        verify(&bytes, &self.own_keys()?, draft.created, None)?;
        Ok(bytes)
    }
}

/// A rollback the edges follow. Edges refuse any version older than their live one (that
/// refusal is what stops an attacker from replaying an old, validly signed bundle), so an
/// origin-side rollback alone never reaches them. The policy of `bytes` (verified against
/// `keys` at `now`) comes back as a draft of `policy_version` with the same schema, rules,
/// page values and curve, and its model bytes; signed with the merchant's key it is a new
/// version that carries the old policy. `metrics.reissue_of` records where it came from.
pub fn reissue(
    bytes: &[u8],
    keys: &TrustedKeys,
    now: i64,
    policy_version: u64,
    valid_days: u64,
) -> Result<(Draft, Vec<u8>), BundleError> {
    let old = verify(bytes, keys, now, None)?;
    let m = old.manifest();
    if policy_version <= m.policy_version {
        return Err(BundleError::Downgrade { found: policy_version, live: m.policy_version });
    }
    let mut metrics = m.metrics.value();
    if let serde_json::Value::Object(map) = &mut metrics {
        map.insert("reissue_of".into(), m.policy_version.into());
    } else {
        metrics = serde_json::json!({"reissue_of": m.policy_version});
    }
    let draft = Draft {
        policy_version,
        created: now,
        valid_days,
        schema: m.schema.clone(),
        rules_toml: m.rules_toml.clone(),
        page_values: m.page_values.clone(),
        population_curve: m.population_curve.clone(),
        metrics,
    };
    Ok((draft, super::frame(bytes)?.model.to_vec()))
}
