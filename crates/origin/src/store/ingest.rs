//! Storing feedback: one transaction per batch, idempotent by `event_id` (a repeated id is
//! counted as a duplicate), answered after the commit. The two databases take the rows in
//! the form each reads fastest: SQLite as multi-row INSERTs of bound values (no network,
//! binding is cheap); PostgreSQL as `COPY ... FROM STDIN` in the binary format on a native
//! connection (its bulk-load path, no statement to plan and no text to parse: each value
//! arrives in PostgreSQL's own representation). COPY has no `ON CONFLICT`, so it runs in a
//! savepoint: a batch holding an id already stored (a retry) fails it with a unique
//! violation, and then the same text is copied into a temporary table and inserted from
//! there with `ON CONFLICT DO NOTHING`. Either way the batch commits whole or not at all.

use edgeprice_core::feedback::FeedbackEvent;
use edgeprice_core::pricing::decision::Arm;
use serde_json::Value;

use super::{Store, StoreError};

/// The feedback table's columns as `insert_feedback` writes them (`received_at` is `now`).
const COLUMNS: &str = "event_id, kind, decision_id, session_id, sku, policy_version, arm, price, propensity, \
     features, purchased, revenue, at, received_at, cost, list_price, uniform_price, purchase_probability, \
     personalized, reasons, jurisdiction, disclosed";

/// One stored value; the variant is the column's SQL type (`Int` BIGINT, `Real` DOUBLE
/// PRECISION, `Text` TEXT), which the binary COPY format must match exactly (a test checks
/// each column's variant against the migrations).
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

/// The batch in COPY's binary format: the signature, a zero flags word and a zero header
/// extension length, then per row the field count and each field as its length (-1 for
/// NULL) and bytes (BIGINT and DOUBLE PRECISION as 8 big-endian bytes, TEXT as its UTF-8
/// bytes, which the server converts from the connection's encoding like any text), then -1.
fn copy_binary(events: &[FeedbackEvent], now: i64) -> Vec<u8> {
    let mut out = Vec::with_capacity(19 + events.len() * 320 + 2);
    out.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
    out.extend_from_slice(&[0; 8]);
    for e in events {
        let cells = row(e, now);
        out.extend_from_slice(&(cells.len() as i16).to_be_bytes());
        for cell in &cells {
            match cell {
                Cell::Null => out.extend_from_slice(&(-1i32).to_be_bytes()),
                Cell::Int(v) => {
                    out.extend_from_slice(&8i32.to_be_bytes());
                    out.extend_from_slice(&v.to_be_bytes());
                }
                Cell::Real(v) => {
                    out.extend_from_slice(&8i32.to_be_bytes());
                    out.extend_from_slice(&v.to_bits().to_be_bytes());
                }
                Cell::Text(s) => {
                    // A field fits in i32: bodies are limited far below 2 GiB (`limits`).
                    out.extend_from_slice(&i32::try_from(s.len()).unwrap_or(i32::MAX).to_be_bytes());
                    out.extend_from_slice(s.as_bytes());
                }
            }
        }
    }
    out.extend_from_slice(&(-1i16).to_be_bytes());
    out
}

/// `data` (`copy_binary`) into `table` by `COPY ... FROM STDIN`; the rows copied. Sending
/// the data cannot meet a constraint; `finish` reports what the server found.
async fn copy_into(conn: &mut sqlx::PgConnection, table: &str, data: &[u8]) -> Result<u64, sqlx::Error> {
    let mut copy = conn.copy_in_raw(&format!("COPY {table} ({COLUMNS}) FROM STDIN (FORMAT binary)")).await?;
    copy.send(data).await?;
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

    /// The batch runs in its own task, to its end (commit, or rollback on an error), even
    /// when the client goes away mid-request and the handler is dropped: a transaction cut
    /// off inside its COPY left its pooled connection in a state the next requests failed
    /// on ("unexpected connection status", 500s at the start of the next load).
    async fn insert_postgres(pg: &sqlx::PgPool, events: &[FeedbackEvent], now: i64) -> Result<usize, StoreError> {
        let (pg, data) = (pg.clone(), copy_binary(events, now));
        tokio::spawn(async move { Self::copy_batch(&pg, &data).await })
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
    }

    async fn copy_batch(pg: &sqlx::PgPool, data: &[u8]) -> Result<usize, StoreError> {
        let mut tx = pg.begin().await?;
        sqlx::query("SAVEPOINT copy_feedback").execute(&mut *tx).await?;
        let accepted = match copy_into(&mut tx, "feedback", data).await {
            Ok(rows) => rows as usize,
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some(UNIQUE_VIOLATION) => {
                sqlx::query("ROLLBACK TO SAVEPOINT copy_feedback").execute(&mut *tx).await?;
                sqlx::query(
                    "CREATE TEMPORARY TABLE IF NOT EXISTS feedback_in ON COMMIT DELETE ROWS \
                     AS SELECT * FROM feedback WITH NO DATA",
                )
                .execute(&mut *tx)
                .await?;
                copy_into(&mut tx, "feedback_in", data).await?;
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

    /// Every column's SQL type in the PostgreSQL migrations, by name.
    fn column_types() -> std::collections::HashMap<String, String> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres");
        let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|f| f.unwrap().path()).collect();
        files.sort();
        let sql: String = files.iter().map(|f| std::fs::read_to_string(f).unwrap()).collect();
        let mut types = std::collections::HashMap::new();
        let table = &sql[sql.find("CREATE TABLE feedback (").unwrap()..];
        for line in table[..table.find(");").unwrap()].lines().skip(1) {
            let words: Vec<&str> = line.split_whitespace().collect();
            types.insert(words[0].to_string(), words[1].trim_end_matches(',').to_string());
        }
        for line in sql.lines().filter(|l| l.starts_with("ALTER TABLE feedback ADD COLUMN")) {
            let words: Vec<&str> = line.split_whitespace().collect();
            types.insert(words[5].to_string(), words[6].trim_end_matches(';').to_string());
        }
        types
    }

    #[test]
    fn every_cell_has_its_columns_sql_type() {
        let types = column_types();
        let body = br#"{"event_id": "d-1", "type": "decision", "decision_id": "d-1", "session_id": "s", "sku": "k", "policy_version": 3, "arm": "model", "price": 9.5, "cost": 4, "propensity": 0.5, "features": {"x": 1}, "time": 5, "list_price": 10, "uniform_price": 9, "purchase_probability": 0.2, "personalized": true, "reasons": ["a\tb"], "jurisdiction": "EU", "disclosed": false}
{"event_id": "o-1", "type": "outcome", "decision_id": "d-1", "purchased": true, "revenue": 9.5, "time": 6}"#;
        let (events, rejected) = edgeprice_core::feedback::parse_batch(body).unwrap();
        assert!(rejected.is_empty(), "{rejected:?}");
        let mut seen = std::collections::HashSet::new();
        for e in &events {
            for (name, cell) in COLUMNS.split(',').map(str::trim).zip(row(e, 7)) {
                let want = match cell {
                    Cell::Null => continue,
                    Cell::Int(_) => "BIGINT",
                    Cell::Real(_) => "DOUBLE",
                    Cell::Text(_) => "TEXT",
                };
                assert_eq!(types.get(name).map(String::as_str), Some(want), "column {name}");
                seen.insert(name);
            }
        }
        assert_eq!(seen.len(), 22, "every column checked: {seen:?}");
    }

    #[test]
    fn copy_binary_frames_each_row_and_value() {
        let body = br#"{"event_id": "e\t1", "type": "outcome", "decision_id": "d\n1", "purchased": true, "revenue": 0.1, "time": 5}"#;
        let (events, _) = edgeprice_core::feedback::parse_batch(body).unwrap();
        let data = copy_binary(&events, 7);
        assert_eq!(&data[..19], b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0");
        assert_eq!(&data[data.len() - 2..], [0xff, 0xff], "the trailer");
        let mut at = 19;
        let mut take = |n: usize| {
            at += n;
            &data[at - n..at]
        };
        assert_eq!(take(2), 22u16.to_be_bytes());
        let mut fields = Vec::new();
        for _ in 0..22 {
            let len = i32::from_be_bytes(take(4).try_into().unwrap());
            fields.push(if len < 0 { None } else { Some(take(len as usize).to_vec()) });
        }
        assert_eq!(at, data.len() - 2, "one row, then the trailer");
        assert_eq!(fields[0].as_deref(), Some(&b"e\t1"[..]), "text goes as is");
        assert_eq!(fields[2].as_deref(), Some(&b"d\n1"[..]));
        assert_eq!(fields[3], None, "no session id: NULL");
        assert_eq!(fields[10].as_deref(), Some(&1i64.to_be_bytes()[..]), "purchased");
        assert_eq!(fields[11].as_deref(), Some(&0.1f64.to_bits().to_be_bytes()[..]), "revenue");
        assert_eq!(fields[13].as_deref(), Some(&7i64.to_be_bytes()[..]), "received_at is now");
    }
}
