//! Exports for analysts: `GET /v1/export/decisions.csv` (admin) streams every decision
//! with its outcome as CSV (RFC 4180), filtered by `policy_version` and by decision time
//! `from` <= at < `to` (Unix seconds). Rows go out as the database returns them, through a
//! bounded channel, so memory stays flat whatever the size. Also the CSV reader the catalog
//! upload uses.

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures_util::TryStreamExt;
use sqlx::Row;

use super::{Role, Shared, need};

/// The columns, in order (the header row).
pub const COLUMNS: [&str; 18] = [
    "decision_id",
    "session_id",
    "sku",
    "policy_version",
    "arm",
    "price",
    "list_price",
    "uniform_price",
    "cost",
    "propensity",
    "purchase_probability",
    "personalized",
    "jurisdiction",
    "disclosed",
    "reasons",
    "time",
    "purchased",
    "revenue",
];

#[derive(serde::Deserialize)]
pub struct ExportQuery {
    policy_version: Option<u64>,
    from: Option<i64>,
    to: Option<i64>,
}

/// A CSV field, quoted when it must be.
fn field(out: &mut String, text: &str) {
    if text.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&text.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(text);
    }
}

fn row_text(r: &sqlx::any::AnyRow) -> Result<String, sqlx::Error> {
    let mut cells: Vec<String> = Vec::with_capacity(COLUMNS.len());
    let text = |c: &str| -> Result<String, sqlx::Error> { Ok(r.try_get::<Option<String>, _>(c)?.unwrap_or_default()) };
    let int = |c: &str| -> Result<String, sqlx::Error> {
        Ok(r.try_get::<Option<i64>, _>(c)?.map_or(String::new(), |v| v.to_string()))
    };
    let real = |c: &str| -> Result<String, sqlx::Error> {
        Ok(r.try_get::<Option<f64>, _>(c)?.map_or(String::new(), |v| v.to_string()))
    };
    let flag = |c: &str| -> Result<String, sqlx::Error> {
        Ok(r.try_get::<Option<i64>, _>(c)?.map_or(String::new(), |v| (v != 0).to_string()))
    };
    for c in COLUMNS {
        cells.push(match c {
            "decision_id" | "session_id" | "sku" | "arm" | "jurisdiction" => text(c)?,
            // Stored as a JSON array; exported as `a;b;c`.
            "reasons" => text(c)?
                .parse::<serde_json::Value>()
                .ok()
                .and_then(|v| v.as_array().map(|a| a.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join(";")))
                .unwrap_or_default(),
            "policy_version" => int(c)?,
            "time" => int("at")?,
            "personalized" | "disclosed" | "purchased" => flag(c)?,
            _ => real(c)?,
        });
    }
    let mut line = String::new();
    for (i, c) in cells.iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        field(&mut line, c);
    }
    line.push_str("\r\n");
    Ok(line)
}

pub async fn decisions(State(s): State<Shared>, headers: HeaderMap, Query(q): Query<ExportQuery>) -> Response {
    if let Err(d) = need(&s, &headers, Role::Admin) {
        return d.into_response();
    }
    let mut filters = vec!["d.kind = 'decision'".to_string()];
    let mut binds = Vec::new();
    for (cond, value) in
        [("d.policy_version =", q.policy_version.map(|v| v as i64)), ("d.at >=", q.from), ("d.at <", q.to)]
    {
        if let Some(v) = value {
            binds.push(v);
            filters.push(format!("{cond} ${}", binds.len()));
        }
    }
    let sql = format!(
        "SELECT d.decision_id, d.session_id, d.sku, d.policy_version, d.arm, d.price, d.list_price, d.uniform_price, \
         d.cost, d.propensity, d.purchase_probability, d.personalized, d.jurisdiction, d.disclosed, d.reasons, d.at, \
         (SELECT MAX(o.purchased) FROM feedback o WHERE o.decision_id = d.decision_id AND o.kind = 'outcome') AS purchased, \
         (SELECT MAX(o.revenue) FROM feedback o WHERE o.decision_id = d.decision_id AND o.kind = 'outcome') AS revenue \
         FROM feedback d WHERE {} ORDER BY d.at, d.decision_id",
        filters.join(" AND ")
    );
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(16);
    let store = s.store.clone();
    tokio::spawn(async move {
        let header = COLUMNS.join(",") + "\r\n";
        if tx.send(Ok(Bytes::from(header))).await.is_err() {
            return;
        }
        let pool = store.pool();
        let mut query = sqlx::query(&sql).persistent(false);
        for b in &binds {
            query = query.bind(*b);
        }
        let mut rows = query.fetch(pool);
        let mut chunk = String::new();
        loop {
            match rows.try_next().await {
                Ok(Some(r)) => match row_text(&r) {
                    Ok(line) => chunk.push_str(&line),
                    Err(e) => {
                        tracing::error!(error = %e, "export row unreadable");
                        let _ = tx.send(Err(std::io::Error::other("export failed"))).await;
                        return;
                    }
                },
                Ok(None) => break,
                Err(e) => {
                    // The body ends without its last row: the client sees a broken transfer,
                    // never a short file that looks complete.
                    tracing::error!(error = %e, "export query failed");
                    let _ = tx.send(Err(std::io::Error::other("export failed"))).await;
                    return;
                }
            }
            if chunk.len() >= 64 * 1024 && tx.send(Ok(Bytes::from(std::mem::take(&mut chunk)))).await.is_err() {
                return;
            }
        }
        if !chunk.is_empty() {
            let _ = tx.send(Ok(Bytes::from(chunk))).await;
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    let mut resp = Body::from_stream(stream).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    let name = q.policy_version.map_or("decisions.csv".to_string(), |v| format!("decisions-v{v}.csv"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

/// A CSV record: its first line's number (1-based) and its fields.
pub type Record = (usize, Vec<String>);

/// CSV text into records with their 1-based line numbers: quoted fields (`""` inside
/// quotes is a quote), CRLF or LF, blank lines skipped. `Err((line, reason))` on an
/// unterminated quote.
pub fn csv_records(text: &str) -> Result<Vec<Record>, (usize, String)> {
    let mut records = Vec::new();
    let (mut record, mut cell) = (Vec::new(), String::new());
    let (mut quoted, mut line, mut start) = (false, 1, 1);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => {
                if c == '\n' {
                    line += 1;
                }
                cell.push(c);
            }
            (false, '"') if cell.is_empty() => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut cell)),
            (false, '\r') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut cell));
                if !(record.len() == 1 && record[0].trim().is_empty()) {
                    records.push((start, std::mem::take(&mut record)));
                }
                record.clear();
                line += 1;
                start = line;
            }
            (false, c) => cell.push(c),
        }
    }
    if quoted {
        return Err((start, "a quoted field is not closed".into()));
    }
    if !cell.is_empty() || !record.is_empty() {
        record.push(cell);
        records.push((start, record));
    }
    Ok(records)
}
