//! Storing feedback: one transaction per batch, idempotent by `event_id` (a repeated id is
//! counted as a duplicate), answered after the commit. The two databases take the rows in
//! the form each reads fastest: SQLite as multi-row INSERTs of bound values (no network,
//! binding is cheap); PostgreSQL as `COPY ... FROM STDIN` text on a native connection
//! (its bulk-load path, no statement to plan). COPY has no `ON CONFLICT`, so it runs in a
//! savepoint: a batch holding an id already stored (a retry) fails it with a unique
//! violation, and then the same text is copied into a temporary table and inserted from
//! there with `ON CONFLICT DO NOTHING`. Either way the batch commits whole or not at all.

use std::fmt::Write as _;

use edgeprice_core::feedback::FeedbackEvent;
use edgeprice_core::pricing::decision::Arm;
use serde_json::Value;

use super::{Store, StoreError};

/// The feedback table's columns as `insert_feedback` writes them (`received_at` is `now`).
const COLUMNS: &str = "event_id, kind, decision_id, session_id, sku, policy_version, arm, price, propensity, \
     features, purchased, revenue, at, received_at, cost, list_price, uniform_price, purchase_probability, \
     personalized, reasons, jurisdiction, disclosed";

/// One stored value.
enum Cell {
    Null,
    Text(String),
    Int(i64),
    Real(f64),
}

impl<T: Into<Cell>> From<Option<T>> for Cell {
    fn from(v: Option<T>) -> Self {
        v.map_or(Cell::Null, Into::into)
    }
}
impl From<&str> for Cell {
    fn from(v: &str) -> Self {
        Cell::Text(v.to_string())
    }
}
impl From<String> for Cell {
    fn from(v: String) -> Self {
        Cell::Text(v)
    }
}
impl From<i64> for Cell {
    fn from(v: i64) -> Self {
        Cell::Int(v)
    }
}
impl From<u64> for Cell {
    // Versions are small; one past i64 would be stored as i64::MAX rather than wrap.
    fn from(v: u64) -> Self {
        Cell::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}
impl From<bool> for Cell {
    fn from(v: bool) -> Self {
        Cell::Int(i64::from(v))
    }
}
impl From<f64> for Cell {
    fn from(v: f64) -> Self {
        Cell::Real(v)
    }
}

/// One event as a row, the one definition of what goes in each column, in `COLUMNS` order
/// (`received_at` is `now`). Both databases write exactly these values.
fn row(e: &FeedbackEvent, now: i64) -> [Cell; 22] {
    let c = e.columns();
    let d = c.detail.cloned().unwrap_or_default();
    [
        e.event_id().into(),
        e.kind().into(),
        e.decision_id().into(),
        c.session_id.into(),
        c.sku.into(),
        c.policy_version.into(),
        c.arm.map(Arm::name).into(),
        c.price.into(),
        c.propensity.into(),
        c.features.map(Value::to_string).into(),
        c.purchased.into(),
        c.revenue.into(),
        e.time().into(),
        now.into(),
        c.cost.into(),
        d.list_price.into(),
        d.uniform_price.into(),
        d.purchase_probability.into(),
        d.personalized.into(),
        // JSON text: a reason may hold any character but is never split wrongly.
        d.reasons.map(|r| Value::from(r).to_string()).into(),
        d.jurisdiction.into(),
        d.disclosed.into(),
    ]
}

/// The batch in COPY's text format: a tab between columns, a newline after each row, `\N`
/// for NULL, and a backslash escape for backslash, tab, newline and carriage return (what
/// PostgreSQL reads back as the same text). Numbers are Rust's shortest round-trip form,
/// which PostgreSQL parses to the same double (events carry only finite numbers).
fn copy_text(events: &[FeedbackEvent], now: i64) -> String {
    let mut out = String::with_capacity(events.len() * 256);
    for e in events {
        for (i, cell) in row(e, now).iter().enumerate() {
            if i > 0 {
                out.push('\t');
            }
            // Writing to a String cannot fail.
            let _ = match cell {
                Cell::Null => out.write_str("\\N"),
                Cell::Int(v) => write!(out, "{v}"),
                Cell::Real(v) => write!(out, "{v}"),
                Cell::Text(s) => {
                    for ch in s.chars() {
                        match ch {
                            '\\' => out.push_str("\\\\"),
                            '\t' => out.push_str("\\t"),
                            '\n' => out.push_str("\\n"),
                            '\r' => out.push_str("\\r"),
                            c => out.push(c),
                        }
                    }
                    Ok(())
                }
            };
        }
        out.push('\n');
    }
    out
}

/// `text` (`copy_text`) into `table` by `COPY ... FROM STDIN`; the rows copied. Sending the
/// data cannot meet a constraint; `finish` reports what the server found.
async fn copy_into(conn: &mut sqlx::PgConnection, table: &str, text: &str) -> Result<u64, sqlx::Error> {
    let mut copy = conn.copy_in_raw(&format!("COPY {table} ({COLUMNS}) FROM STDIN")).await?;
    copy.send(text.as_bytes()).await?;
    copy.finish().await
}

/// SQLSTATE of a unique violation (an `event_id` already stored, or twice in one batch).
const UNIQUE_VIOLATION: &str = "23505";

impl Store {
    /// Stores events in one transaction; returns (accepted, duplicates) after the commit.
    pub async fn insert_feedback(&self, events: &[FeedbackEvent], now: i64) -> Result<(usize, usize), StoreError> {
        if events.is_empty() {
            return Ok((0, 0));
        }
        let accepted = match &self.pg {
            Some(pg) => Self::insert_postgres(pg, events, now).await?,
            None => {
                let mut tx = self.pool.begin().await?;
                let accepted = Self::insert_sqlite(&mut tx, events, now).await?;
                tx.commit().await?;
                accepted
            }
        };
        Ok((accepted, events.len() - accepted))
    }

    async fn insert_postgres(pg: &sqlx::PgPool, events: &[FeedbackEvent], now: i64) -> Result<usize, StoreError> {
        let text = copy_text(events, now);
        let mut tx = pg.begin().await?;
        sqlx::query("SAVEPOINT copy_feedback").execute(&mut *tx).await?;
        let accepted = match copy_into(&mut tx, "feedback", &text).await {
            Ok(rows) => rows as usize,
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some(UNIQUE_VIOLATION) => {
                sqlx::query("ROLLBACK TO SAVEPOINT copy_feedback").execute(&mut *tx).await?;
                sqlx::query(
                    "CREATE TEMPORARY TABLE IF NOT EXISTS feedback_in ON COMMIT DELETE ROWS \
                     AS SELECT * FROM feedback WITH NO DATA",
                )
                .execute(&mut *tx)
                .await?;
                copy_into(&mut tx, "feedback_in", &text).await?;
                let sql = format!(
                    "INSERT INTO feedback ({COLUMNS}) SELECT {COLUMNS} FROM feedback_in ON CONFLICT (event_id) DO NOTHING"
                );
                sqlx::query(&sql).execute(&mut *tx).await?.rows_affected() as usize
            }
            Err(e) => return Err(e.into()),
        };
        tx.commit().await?;
        Ok(accepted)
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
                for cell in row(e, now) {
                    q = match cell {
                        Cell::Null => q.bind(None::<String>),
                        Cell::Text(s) => q.bind(s),
                        Cell::Int(v) => q.bind(v),
                        Cell::Real(v) => q.bind(v),
                    };
                }
            }
            accepted += q.execute(&mut **tx).await?.rows_affected() as usize;
        }
        Ok(accepted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_escapes_what_copy_would_split_on() {
        let body = br#"{"event_id": "e\t1\\x", "type": "outcome", "decision_id": "d\n1", "purchased": true, "revenue": 0.1, "time": 5}"#;
        let (events, rejected) = edgeprice_core::feedback::parse_batch(body).unwrap();
        assert!(rejected.is_empty());
        let text = copy_text(&events, 7);
        let fields: Vec<&str> = text.trim_end_matches('\n').split('\t').collect();
        assert_eq!(fields.len(), COLUMNS.split(',').count());
        assert_eq!(&fields[..3], ["e\\t1\\\\x", "outcome", "d\\n1"]);
        assert_eq!((fields[3], fields[10], fields[11], fields[12], fields[13]), ("\\N", "1", "0.1", "5", "7"));
        assert_eq!(text.matches('\n').count(), 1);
    }
}
