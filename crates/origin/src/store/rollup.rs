//! Rollups: the sums the console and the reports read, so that a page costs a scan of a few
//! hundred rows instead of the feedback table (1,000,000 events and more).
//!
//! `roll_up(cutoff)` adds the feedback rows received in `(through, cutoff]` and moves
//! `through` to `cutoff`, in one transaction (PostgreSQL: the state row locked, so two
//! origins never add a window twice). Invariants: a decision is counted once, in the window
//! that received it; its purchase is counted once, in the window where the later of the
//! decision and its first outcome arrived (the first outcome received counts; later ones for
//! the same decision are ignored). `cutoff` must be at or before the oldest `received_at` an
//! unfinished insert can still commit (`http` uses the request deadline for that lag).

use std::collections::BTreeMap;

use futures_util::TryStreamExt;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{ArmSums, Store, StoreError};
use edgeprice_core::session::Categorical;

/// What one `roll_up` did.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Rollup {
    /// Rows received at or before this second are in the rollups.
    pub through: i64,
    pub decisions: u64,
    /// Purchases (and non-purchases) joined to their decision in this run.
    pub outcomes: u64,
}

/// Sums per (policy version, arm, product, shown price).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PriceSums {
    pub policy_version: u64,
    pub arm: String,
    pub sku: String,
    pub price_cents: i64,
    pub decisions: u64,
    pub purchases: u64,
    pub believed_n: u64,
    pub believed_sum: f64,
    pub discount_n: u64,
    pub discount_sum: f64,
    pub list_price: Option<f64>,
}

/// Sums per (policy version, categorical column, value).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GroupSums {
    pub policy_version: u64,
    pub column: String,
    pub value: String,
    pub decisions: u64,
    pub relative_n: u64,
    pub relative_sum: f64,
    pub relative_sq: f64,
    pub personalized: u64,
    pub cap_binds: u64,
    pub disclosed: u64,
}

/// The additions of one run, keyed like the tables.
#[derive(Default)]
struct Window {
    arms: BTreeMap<(u64, String, i64), ArmSums>,
    prices: BTreeMap<(u64, String, String, i64), PriceSums>,
    groups: BTreeMap<(u64, String, String), GroupSums>,
    decisions: u64,
    outcomes: u64,
}

const HOUR: i64 = 3600;

/// A count column (BIGINT, never negative) as `u64`.
fn count(r: &AnyRow, column: &str) -> Result<u64, StoreError> {
    Ok(r.try_get::<i64, _>(column)? as u64)
}

impl Window {
    fn arm(&mut self, pv: u64, arm: &str, at: i64) -> &mut ArmSums {
        let hour = at - at.rem_euclid(HOUR);
        self.arms.entry((pv, arm.to_string(), hour)).or_insert_with(|| ArmSums {
            policy_version: pv,
            arm: arm.to_string(),
            ..ArmSums::default()
        })
    }

    fn price(&mut self, pv: u64, arm: &str, sku: &str, price: f64) -> &mut PriceSums {
        let cents = (price * 100.0).round() as i64;
        self.prices.entry((pv, arm.to_string(), sku.to_string(), cents)).or_insert_with(|| PriceSums {
            policy_version: pv,
            arm: arm.to_string(),
            sku: sku.to_string(),
            price_cents: cents,
            ..PriceSums::default()
        })
    }

    fn group(&mut self, pv: u64, column: &str, value: &str) -> &mut GroupSums {
        self.groups.entry((pv, column.to_string(), value.to_string())).or_insert_with(|| GroupSums {
            policy_version: pv,
            column: column.to_string(),
            value: value.to_string(),
            ..GroupSums::default()
        })
    }

    /// A purchase (or not) of a decision: `(pv, arm, at, sku, price, cost)`.
    fn outcome(&mut self, d: &Shown, purchased: bool, revenue: Option<f64>) {
        self.outcomes += 1;
        if !purchased {
            return;
        }
        let revenue = revenue.unwrap_or(d.price);
        let profit = revenue - d.cost.unwrap_or(0.0);
        let a = self.arm(d.policy_version, &d.arm, d.at);
        a.purchases += 1;
        a.revenue += revenue;
        a.revenue_sq += revenue * revenue;
        a.profit += profit;
        a.profit_sq += profit * profit;
        self.price(d.policy_version, &d.arm, &d.sku, d.price).purchases += 1;
    }

    fn decision(&mut self, d: &Shown, row: &AnyRow) -> Result<(), StoreError> {
        self.decisions += 1;
        self.arm(d.policy_version, &d.arm, d.at).decisions += 1;
        let believed: Option<f64> = row.try_get("purchase_probability")?;
        let list: Option<f64> = row.try_get("list_price")?;
        let p = self.price(d.policy_version, &d.arm, &d.sku, d.price);
        p.decisions += 1;
        if let Some(b) = believed {
            p.believed_n += 1;
            p.believed_sum += b;
        }
        if let Some(l) = list.filter(|l| *l > 0.0) {
            p.discount_n += 1;
            p.discount_sum += 1.0 - d.price / l;
            p.list_price = Some(l);
        }
        let uniform: Option<f64> = row.try_get("uniform_price")?;
        let personalized = row.try_get::<Option<i64>, _>("personalized")?.is_some_and(|p| p != 0);
        let disclosed = row.try_get::<Option<i64>, _>("disclosed")?.is_some_and(|p| p != 0);
        let reasons: Option<String> = row.try_get("reasons")?;
        let cap = reasons.is_some_and(|r| r.contains("\"personalization_cap\""));
        let features: Option<String> = row.try_get("features")?;
        let features = features.and_then(|f| serde_json::from_str::<serde_json::Value>(&f).ok());
        let jurisdiction: Option<String> = row.try_get("jurisdiction")?;
        let mut columns: Vec<(&str, String)> = Categorical::ALL
            .iter()
            .map(|c| c.name())
            .chain(["Weekend"])
            .filter_map(|name| {
                let v = features.as_ref()?.get(name)?;
                Some((name, v.as_str().map_or_else(|| v.to_string(), str::to_string)))
            })
            .collect();
        columns.push(("jurisdiction", jurisdiction.unwrap_or_else(|| "none".into())));
        for (column, value) in columns {
            let g = self.group(d.policy_version, column, &value);
            g.decisions += 1;
            if let Some(u) = uniform.filter(|u| *u > 0.0) {
                let r = d.price / u;
                g.relative_n += 1;
                g.relative_sum += r;
                g.relative_sq += r * r;
            }
            g.personalized += u64::from(personalized);
            g.cap_binds += u64::from(cap);
            g.disclosed += u64::from(disclosed);
        }
        Ok(())
    }
}

/// The decision fields every rollup keys on.
struct Shown {
    policy_version: u64,
    arm: String,
    at: i64,
    sku: String,
    price: f64,
    cost: Option<f64>,
}

impl Shown {
    fn of(row: &AnyRow) -> Result<Self, StoreError> {
        Ok(Shown {
            policy_version: row.try_get::<i64, _>("policy_version")? as u64,
            arm: row.try_get("arm")?,
            at: row.try_get("at")?,
            sku: row.try_get("sku")?,
            price: row.try_get("price")?,
            cost: row.try_get("cost")?,
        })
    }
}

/// Decisions received in the window, each with its first outcome received by the cutoff.
const DECISIONS: &str = "SELECT d.policy_version, d.arm, d.at, d.sku, d.price, d.cost, d.list_price, d.uniform_price, \
     d.purchase_probability, d.personalized, d.reasons, d.jurisdiction, d.disclosed, d.features, \
     (SELECT MAX(o.purchased) FROM feedback o WHERE o.decision_id = d.decision_id AND o.kind = 'outcome' \
         AND o.received_at <= $2) AS purchased, \
     (SELECT MAX(o.revenue) FROM feedback o WHERE o.decision_id = d.decision_id AND o.kind = 'outcome' \
         AND o.received_at <= $2) AS revenue \
     FROM feedback d WHERE d.kind = 'decision' AND d.received_at > $1 AND d.received_at <= $2";

/// Outcomes received in the window whose decision came in an earlier window, and that are
/// the first outcomes of their decision.
const LATE_OUTCOMES: &str = "SELECT d.policy_version, d.arm, d.at, d.sku, d.price, d.cost, \
     MAX(o.purchased) AS purchased, MAX(o.revenue) AS revenue \
     FROM feedback o JOIN feedback d ON d.decision_id = o.decision_id AND d.kind = 'decision' AND d.received_at <= $1 \
     WHERE o.kind = 'outcome' AND o.received_at > $1 AND o.received_at <= $2 \
     AND NOT EXISTS (SELECT 1 FROM feedback e WHERE e.decision_id = o.decision_id AND e.kind = 'outcome' \
         AND e.received_at <= $1) \
     GROUP BY o.decision_id, d.policy_version, d.arm, d.at, d.sku, d.price, d.cost";

impl Store {
    /// Adds the rows received in `(through, cutoff]` to the rollups (see the module header).
    pub async fn roll_up(&self, cutoff: i64) -> Result<Rollup, StoreError> {
        let mut tx = self.pool.begin().await?;
        let lock = if self.postgres() { " FOR UPDATE" } else { "" };
        let through: i64 = sqlx::query(&format!("SELECT through FROM rollup_state WHERE id = 1{lock}"))
            .fetch_one(&mut *tx)
            .await?
            .try_get("through")?;
        if cutoff <= through {
            return Ok(Rollup { through, decisions: 0, outcomes: 0 });
        }
        let events: i64 =
            sqlx::query("SELECT COUNT(*) AS n FROM feedback WHERE received_at > $1 AND received_at <= $2")
                .bind(through)
                .bind(cutoff)
                .fetch_one(&mut *tx)
                .await?
                .try_get("n")?;
        // PostgreSQL plans the joins below from its statistics of the table; after a burst of
        // inserts (a backlog, a bulk load) they may still describe a small table, and the
        // planner then scans it once per decision (minutes instead of seconds for a million
        // events, seen in `bench-console.sh`). A large window refreshes them first (sampled:
        // a fraction of a second).
        if self.postgres() && events > 10_000 {
            sqlx::query("ANALYZE feedback").execute(&mut *tx).await?;
        }
        let mut w = Window::default();
        {
            let mut rows = sqlx::query(DECISIONS).bind(through).bind(cutoff).persistent(false).fetch(&mut *tx);
            while let Some(row) = rows.try_next().await? {
                let d = Shown::of(&row)?;
                w.decision(&d, &row)?;
                if let Some(p) = row.try_get::<Option<i64>, _>("purchased")? {
                    w.outcome(&d, p != 0, row.try_get("revenue")?);
                }
            }
        }
        {
            let mut rows = sqlx::query(LATE_OUTCOMES).bind(through).bind(cutoff).persistent(false).fetch(&mut *tx);
            while let Some(row) = rows.try_next().await? {
                let d = Shown::of(&row)?;
                let purchased = row.try_get::<Option<i64>, _>("purchased")?.is_some_and(|p| p != 0);
                w.outcome(&d, purchased, row.try_get("revenue")?);
            }
        }
        for ((_, _, hour), a) in &w.arms {
            sqlx::query(
                "INSERT INTO rollup_arms (policy_version, arm, hour, decisions, purchases, revenue, revenue_sq, profit, \
                 profit_sq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (policy_version, arm, hour) DO UPDATE \
                 SET decisions = rollup_arms.decisions + excluded.decisions, \
                 purchases = rollup_arms.purchases + excluded.purchases, revenue = rollup_arms.revenue + excluded.revenue, \
                 revenue_sq = rollup_arms.revenue_sq + excluded.revenue_sq, profit = rollup_arms.profit + excluded.profit, \
                 profit_sq = rollup_arms.profit_sq + excluded.profit_sq",
            )
            .bind(a.policy_version as i64)
            .bind(&a.arm)
            .bind(*hour)
            .bind(a.decisions as i64)
            .bind(a.purchases as i64)
            .bind(a.revenue)
            .bind(a.revenue_sq)
            .bind(a.profit)
            .bind(a.profit_sq)
            .execute(&mut *tx)
            .await?;
        }
        for p in w.prices.values() {
            sqlx::query(
                "INSERT INTO rollup_prices (policy_version, arm, sku, price_cents, decisions, purchases, believed_n, \
                 believed_sum, discount_n, discount_sum, list_price) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                 ON CONFLICT (policy_version, arm, sku, price_cents) DO UPDATE \
                 SET decisions = rollup_prices.decisions + excluded.decisions, \
                 purchases = rollup_prices.purchases + excluded.purchases, \
                 believed_n = rollup_prices.believed_n + excluded.believed_n, \
                 believed_sum = rollup_prices.believed_sum + excluded.believed_sum, \
                 discount_n = rollup_prices.discount_n + excluded.discount_n, \
                 discount_sum = rollup_prices.discount_sum + excluded.discount_sum, \
                 list_price = COALESCE(excluded.list_price, rollup_prices.list_price)",
            )
            .bind(p.policy_version as i64)
            .bind(&p.arm)
            .bind(&p.sku)
            .bind(p.price_cents)
            .bind(p.decisions as i64)
            .bind(p.purchases as i64)
            .bind(p.believed_n as i64)
            .bind(p.believed_sum)
            .bind(p.discount_n as i64)
            .bind(p.discount_sum)
            .bind(p.list_price)
            .execute(&mut *tx)
            .await?;
        }
        for g in w.groups.values() {
            sqlx::query(
                "INSERT INTO rollup_groups (policy_version, col, val, decisions, relative_n, relative_sum, relative_sq, \
                 personalized, cap_binds, disclosed) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                 ON CONFLICT (policy_version, col, val) DO UPDATE \
                 SET decisions = rollup_groups.decisions + excluded.decisions, \
                 relative_n = rollup_groups.relative_n + excluded.relative_n, \
                 relative_sum = rollup_groups.relative_sum + excluded.relative_sum, \
                 relative_sq = rollup_groups.relative_sq + excluded.relative_sq, \
                 personalized = rollup_groups.personalized + excluded.personalized, \
                 cap_binds = rollup_groups.cap_binds + excluded.cap_binds, \
                 disclosed = rollup_groups.disclosed + excluded.disclosed",
            )
            .bind(g.policy_version as i64)
            .bind(&g.column)
            .bind(&g.value)
            .bind(g.decisions as i64)
            .bind(g.relative_n as i64)
            .bind(g.relative_sum)
            .bind(g.relative_sq)
            .bind(g.personalized as i64)
            .bind(g.cap_binds as i64)
            .bind(g.disclosed as i64)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("UPDATE rollup_state SET through = $1, events = events + $2 WHERE id = 1")
            .bind(cutoff)
            .bind(events)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Rollup { through: cutoff, decisions: w.decisions, outcomes: w.outcomes })
    }

    /// The rollups' horizon: rows received at or before it are counted.
    pub async fn rolled_through(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT through FROM rollup_state WHERE id = 1").fetch_one(&self.pool).await?;
        Ok(row.try_get("through")?)
    }

    /// The rows of `select` (a rollup table's columns) for one policy version or all, in
    /// `order`: the one query shape the three readers below share.
    async fn rolled(&self, select: &str, order: &str, policy_version: Option<u64>) -> Result<Vec<AnyRow>, StoreError> {
        let filter = if policy_version.is_some() { "WHERE policy_version = $1" } else { "" };
        let sql = format!("{select} {filter} ORDER BY {order}");
        let mut q = sqlx::query(&sql).persistent(false);
        if let Some(v) = policy_version {
            q = q.bind(v as i64);
        }
        Ok(q.fetch_all(&self.pool).await?)
    }

    /// Per (policy version, arm, hour): the sums; `hour` is the start (Unix seconds).
    pub async fn hourly_sums(&self, policy_version: Option<u64>) -> Result<Vec<(i64, ArmSums)>, StoreError> {
        let select = "SELECT policy_version, arm, hour, decisions, purchases, revenue, revenue_sq, profit, profit_sq \
                      FROM rollup_arms";
        self.rolled(select, "hour, policy_version, arm", policy_version)
            .await?
            .iter()
            .map(|r| {
                Ok((
                    r.try_get("hour")?,
                    ArmSums {
                        policy_version: count(r, "policy_version")?,
                        arm: r.try_get("arm")?,
                        decisions: count(r, "decisions")?,
                        purchases: count(r, "purchases")?,
                        revenue: r.try_get("revenue")?,
                        revenue_sq: r.try_get("revenue_sq")?,
                        profit: r.try_get("profit")?,
                        profit_sq: r.try_get("profit_sq")?,
                    },
                ))
            })
            .collect()
    }

    pub async fn price_sums(&self, policy_version: Option<u64>) -> Result<Vec<PriceSums>, StoreError> {
        let select = "SELECT policy_version, arm, sku, price_cents, decisions, purchases, believed_n, believed_sum, \
                      discount_n, discount_sum, list_price FROM rollup_prices";
        self.rolled(select, "sku, arm, price_cents, policy_version", policy_version)
            .await?
            .iter()
            .map(|r| {
                Ok(PriceSums {
                    policy_version: count(r, "policy_version")?,
                    arm: r.try_get("arm")?,
                    sku: r.try_get("sku")?,
                    price_cents: r.try_get("price_cents")?,
                    decisions: count(r, "decisions")?,
                    purchases: count(r, "purchases")?,
                    believed_n: count(r, "believed_n")?,
                    believed_sum: r.try_get("believed_sum")?,
                    discount_n: count(r, "discount_n")?,
                    discount_sum: r.try_get("discount_sum")?,
                    list_price: r.try_get("list_price")?,
                })
            })
            .collect()
    }

    pub async fn group_sums(&self, policy_version: Option<u64>) -> Result<Vec<GroupSums>, StoreError> {
        let select = "SELECT policy_version, col, val, decisions, relative_n, relative_sum, relative_sq, personalized, \
                      cap_binds, disclosed FROM rollup_groups";
        self.rolled(select, "col, val, policy_version", policy_version)
            .await?
            .iter()
            .map(|r| {
                Ok(GroupSums {
                    policy_version: count(r, "policy_version")?,
                    column: r.try_get("col")?,
                    value: r.try_get("val")?,
                    decisions: count(r, "decisions")?,
                    relative_n: count(r, "relative_n")?,
                    relative_sum: r.try_get("relative_sum")?,
                    relative_sq: r.try_get("relative_sq")?,
                    personalized: count(r, "personalized")?,
                    cap_binds: count(r, "cap_binds")?,
                    disclosed: count(r, "disclosed")?,
                })
            })
            .collect()
    }

    /// Events stored: the rolled-up count plus the rows received since (an index range,
    /// not a scan of the table).
    pub async fn event_count(&self) -> Result<u64, StoreError> {
        let state = sqlx::query("SELECT through, events FROM rollup_state WHERE id = 1").fetch_one(&self.pool).await?;
        let (through, rolled): (i64, i64) = (state.try_get("through")?, state.try_get("events")?);
        let recent = sqlx::query("SELECT COUNT(*) AS n FROM feedback WHERE received_at > $1")
            .bind(through)
            .fetch_one(&self.pool)
            .await?;
        Ok((rolled + recent.try_get::<i64, _>("n")?) as u64)
    }
}
