//! Storing feedback: one transaction per batch, idempotent by `event_id` (a repeated id is
//! counted as a duplicate), answered after the commit. The two databases take the rows in
//! the form each reads fastest: SQLite as multi-row INSERTs of bound values (no network,
//! binding is cheap); PostgreSQL as one JSON array parsed server-side by
//! `json_to_recordset`, one text parameter per batch in a statement prepared once per
//! connection (binding 22 values per event made it re-plan an 11,000-parameter statement
//! for every 500 events).

use edgeprice_core::feedback::FeedbackEvent;
use edgeprice_core::pricing::decision::Arm;
use serde_json::{Value, json};

use super::{Store, StoreError};

/// The feedback table's columns as `insert_feedback` writes them (`received_at` is `now`).
const COLUMNS: &str = "event_id, kind, decision_id, session_id, sku, policy_version, arm, price, propensity, \
     features, purchased, revenue, at, received_at, cost, list_price, uniform_price, purchase_probability, \
     personalized, reasons, jurisdiction, disclosed";

/// One event as a row, the one definition of what goes in each column: the values in
/// `COLUMNS` order with `received_at` (`RECEIVED_AT`) left out. PostgreSQL reads them as
/// JSON; SQLite binds them, `now` in `received_at`'s place.
fn row(e: &FeedbackEvent) -> [Value; 21] {
    let c = e.columns();
    let d = c.detail.cloned().unwrap_or_default();
    [
        json!(e.event_id()),
        json!(e.kind()),
        json!(e.decision_id()),
        json!(c.session_id),
        json!(c.sku),
        json!(c.policy_version),
        json!(c.arm.map(Arm::name)),
        json!(c.price),
        json!(c.propensity),
        json!(c.features.map(|f| f.to_string())),
        json!(c.purchased.map(i64::from)),
        json!(c.revenue),
        json!(e.time()),
        json!(c.cost),
        json!(d.list_price),
        json!(d.uniform_price),
        json!(d.purchase_probability),
        json!(d.personalized.map(i64::from)),
        // JSON text: a reason may hold any character but is never split wrongly.
        json!(d.reasons.map(|r| Value::from(r).to_string())),
        json!(d.jurisdiction),
        json!(d.disclosed.map(i64::from)),
    ]
}

/// Where `received_at` stands in `COLUMNS` (`row` leaves it out).
const RECEIVED_AT: usize = 13;

/// The JSON field names and PostgreSQL types of a row (`row`'s order).
const RECORD: &str = "c0 text, c1 text, c2 text, c3 text, c4 text, c5 bigint, c6 text, c7 double precision, \
     c8 double precision, c9 text, c10 bigint, c11 double precision, c12 bigint, c13 double precision, \
     c14 double precision, c15 double precision, c16 double precision, c17 bigint, c18 text, c19 text, c20 bigint";

impl Store {
    /// Stores events in one transaction; returns (accepted, duplicates) after the commit.
    pub async fn insert_feedback(&self, events: &[FeedbackEvent], now: i64) -> Result<(usize, usize), StoreError> {
        let mut tx = self.pool.begin().await?;
        let accepted = if self.postgres {
            Self::insert_postgres(&mut tx, events, now).await?
        } else {
            Self::insert_sqlite(&mut tx, events, now).await?
        };
        tx.commit().await?;
        Ok((accepted, events.len() - accepted))
    }

    async fn insert_postgres(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        events: &[FeedbackEvent],
        now: i64,
    ) -> Result<usize, StoreError> {
        if events.is_empty() {
            return Ok(0);
        }
        let rows: Vec<Value> = events
            .iter()
            .map(|e| Value::Object(row(e).into_iter().enumerate().map(|(i, v)| (format!("c{i}"), v)).collect()))
            .collect();
        let sql = format!(
            "INSERT INTO feedback ({COLUMNS}) SELECT c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, $2, c13, \
             c14, c15, c16, c17, c18, c19, c20 FROM json_to_recordset($1::json) AS x({RECORD}) \
             ON CONFLICT (event_id) DO NOTHING"
        );
        let done =
            sqlx::query(&sql).bind(Value::Array(rows).to_string()).bind(now).execute(&mut **tx).await?.rows_affected();
        Ok(done as usize)
    }

    async fn insert_sqlite(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        events: &[FeedbackEvent],
        now: i64,
    ) -> Result<usize, StoreError> {
        const ROWS_PER_INSERT: usize = 500;
        let width = COLUMNS.split(',').count();
        let mut accepted = 0;
        for chunk in events.chunks(ROWS_PER_INSERT) {
            // SQLite binds plain `?` by position; `$n` would make it look up every parameter
            // by name (quadratic in an 11,000-parameter statement).
            let one = format!("({})", vec!["?"; width].join(", "));
            let sql = format!(
                "INSERT INTO feedback ({COLUMNS}) VALUES {} ON CONFLICT (event_id) DO NOTHING",
                vec![one; chunk.len()].join(", ")
            );
            let mut q = sqlx::query(&sql);
            for e in chunk {
                for (i, v) in row(e).into_iter().enumerate() {
                    if i == RECEIVED_AT {
                        q = q.bind(now);
                    }
                    q = match v {
                        Value::String(s) => q.bind(s),
                        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
                            (Some(v), _) => q.bind(v),
                            (None, Some(v)) => q.bind(v as i64),
                            _ => q.bind(n.as_f64()),
                        },
                        _ => q.bind(None::<String>),
                    };
                }
            }
            accepted += q.execute(&mut **tx).await?.rows_affected() as usize;
        }
        Ok(accepted)
    }
}
