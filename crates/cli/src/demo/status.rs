//! The demo's status line, from the origin's own summary report (`GET /v1/reports/summary`,
//! what the console draws): decisions and purchases the origin stored, profit per session
//! of the model arm and of the control group for the live policy version, and the model
//! arm's uplift over control with its 95% interval once both arms have enough sessions.

use serde_json::Value;

/// Sessions per arm before an interval is shown (fewer: the normal approximation is poor).
pub const MIN_FOR_INTERVAL: u64 = 30;

/// What the demo itself counted, beside what the origin stored.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sent {
    pub shoppers: u64,
    pub priced: u64,
    pub purchases: u64,
    pub failed: u64,
}

/// The origin's summary report, or `None` while it does not answer 200 with JSON.
pub fn summary(agent: &ureq::Agent, origin: &str, admin_token: &str) -> Option<Value> {
    let mut resp = agent
        .get(format!("{origin}/v1/reports/summary"))
        .header("Authorization", format!("Bearer {admin_token}"))
        .call()
        .ok()?;
    if resp.status() != 200 {
        return None;
    }
    serde_json::from_str(&resp.body_mut().read_to_string().ok()?).ok()
}

fn number(v: &Value) -> Option<f64> {
    v.as_f64()
}

fn estimate(e: &Value, n: u64) -> String {
    let mean = number(&e["mean"]).map_or("-".to_string(), |m| format!("{m:.2}"));
    match (number(&e["ci_low"]), number(&e["ci_high"])) {
        (Some(lo), Some(hi)) if n >= MIN_FOR_INTERVAL => format!("{mean} [{lo:.2}, {hi:.2}]"),
        _ => mean,
    }
}

/// One line: elapsed seconds, the demo's counts, and the summary of the newest policy
/// version with decisions (`summary` is the report's JSON, `None` while unreachable).
pub fn line(elapsed: u64, sent: Sent, summary: Option<&Value>) -> String {
    let mut out = format!(
        "[{elapsed:>4}s] shoppers {} · pages priced {} · bought {}{}",
        sent.shoppers,
        sent.priced,
        sent.purchases,
        if sent.failed > 0 { format!(" · failed {}", sent.failed) } else { String::new() }
    );
    let Some(summary) = summary else {
        return out + " · origin report unavailable";
    };
    let arms = summary["arms"].as_array().cloned().unwrap_or_default();
    let Some(version) = arms.iter().filter_map(|a| a["policy_version"].as_u64()).max() else {
        return out + " · origin: no feedback yet";
    };
    let live: Vec<&Value> = arms.iter().filter(|a| a["policy_version"].as_u64() == Some(version)).collect();
    let count = |f: &str| live.iter().filter_map(|a| a[f].as_u64()).sum::<u64>();
    out +=
        &format!(" | origin: policy v{version} · decisions {} · purchases {}", count("decisions"), count("purchases"));
    let arm = |name: &str| live.iter().find(|a| a["arm"] == name).copied();
    out += " · profit/session";
    let mut sizes = Vec::new();
    for name in ["model", "control"] {
        match arm(name) {
            Some(a) => {
                let n = a["decisions"].as_u64().unwrap_or(0);
                sizes.push(n);
                out += &format!(" {name} {} (n={n})", estimate(&a["profit_per_decision"], n));
            }
            None => {
                sizes.push(0);
                out += &format!(" {name} - (n=0)");
            }
        }
    }
    let enough = sizes.iter().all(|&n| n >= MIN_FOR_INTERVAL);
    let uplift = summary["ab"]
        .as_array()
        .and_then(|ab| ab.iter().find(|d| d["policy_version"].as_u64() == Some(version) && d["arm"] == "model"));
    match uplift {
        Some(d) if enough => out += &format!(" · model - control {}", estimate(&d["profit_per_decision"], u64::MAX)),
        _ => out += &format!(" · intervals from {MIN_FOR_INTERVAL} sessions per arm"),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn arm(version: u64, arm: &str, n: u64, mean: f64) -> Value {
        json!({"policy_version": version, "arm": arm, "decisions": n, "purchases": n / 5,
               "profit_per_decision": {"mean": mean, "ci_low": mean - 1.0, "ci_high": mean + 1.0}})
    }

    #[test]
    fn intervals_appear_once_both_arms_have_enough_sessions() {
        let sent = Sent { shoppers: 40, priced: 40, purchases: 6, failed: 0 };
        let few = json!({"arms": [arm(1, "model", 35, 3.0), arm(1, "control", 5, 2.0)], "ab": [
            {"policy_version": 1, "arm": "model", "profit_per_decision": {"mean": 1.0, "ci_low": -2.0, "ci_high": 4.0}}]});
        let l = line(20, sent, Some(&few));
        assert!(l.contains("policy v1 · decisions 40 · purchases 8"), "{l}");
        assert!(l.contains("model 3.00 [2.00, 4.00] (n=35)") && l.contains("control 2.00 (n=5)"), "{l}");
        assert!(l.contains("intervals from 30") && !l.contains("model - control"), "{l}");
        let many = json!({"arms": [arm(1, "model", 300, 3.0), arm(1, "control", 40, 2.0), arm(0, "model", 9, 1.0)],
            "ab": [{"policy_version": 1, "arm": "model", "profit_per_decision": {"mean": 1.0, "ci_low": -2.0, "ci_high": 4.0}}]});
        let l = line(90, sent, Some(&many));
        assert!(l.contains("model - control 1.00 [-2.00, 4.00]"), "{l}");
        assert!(line(5, sent, None).ends_with("origin report unavailable"));
        assert!(line(5, sent, Some(&json!({"arms": [], "ab": []}))).ends_with("no feedback yet"));
    }
}
