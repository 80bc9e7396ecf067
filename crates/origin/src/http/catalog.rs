//! The catalog API and the product pages. `PUT /v1/catalog` replaces the catalog from JSON
//! (`{"products": [...]}` or an array) or CSV, checked line by line: one bad line and
//! nothing changes, and every bad line is reported. `PATCH /v1/catalog/{sku}` changes
//! fields of one product (stock, prices, cost, MAP, tags, name, category). Reads carry the
//! version as ETag (`If-None-Match` gives 304); writes take `If-Match` to refuse a change
//! made on a stale read (412). Reads need a token (costs are the merchant's secret).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde_json::{Value, json};

use super::export::Record;
use super::{Role, Shared, etag_condition, need, need_one_of};
use crate::errors::{error, internal};
use crate::store::StoreError;
use edgeprice_core::pricing::product::Product;

/// Largest catalog upload (about 50,000 products of JSON).
pub const MAX_UPLOAD: usize = 16 << 20;
/// Most errors listed in one answer (the count says how many there were).
const MAX_LISTED: usize = 1000;
/// Fields a PATCH may set; `sku` and `currency` are the product's identity.
const PATCHABLE: [&str; 8] = ["stock", "list_price", "cost", "map_price", "promotion_tags", "name", "category", "map"];

/// One bad line of an upload (1-based: the CSV line, or the product's place in the JSON list).
#[derive(serde::Serialize, Debug, PartialEq)]
pub struct LineError {
    pub line: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    pub code: &'static str,
    pub message: String,
}

/// A checked product: its JSON as the engine reads it, by SKU.
type Checked = (String, Value);
/// An upload's products (or their errors) with their line numbers.
type Lines = Vec<(usize, Result<Checked, LineError>)>;

fn check(line: usize, doc: Value) -> Result<Checked, LineError> {
    let sku = doc.get("sku").and_then(Value::as_str).map(str::to_string);
    match Product::from_value(&doc) {
        Ok(p) => Ok((p.sku, doc)),
        Err(e) => Err(LineError { line, sku, code: e.code(), message: e.to_string() }),
    }
}

/// Reads an upload into products, or every reason it cannot be applied.
pub fn parse_upload(body: &[u8], content_type: &str) -> Result<Vec<Checked>, Vec<LineError>> {
    let whole = |code, message: String| vec![LineError { line: 0, sku: None, code, message }];
    let text = std::str::from_utf8(body).map_err(|_| whole("catalog_malformed", "the upload is not UTF-8".into()))?;
    let json = content_type.starts_with("application/json")
        || (!content_type.starts_with("text/csv") && text.trim_start().starts_with(['[', '{']));
    let items: Lines = if json {
        let doc: Value =
            serde_json::from_str(text).map_err(|e| whole("catalog_malformed", format!("not JSON: {e}")))?;
        let list = doc.get("products").unwrap_or(&doc).as_array().cloned().ok_or_else(|| {
            whole("catalog_malformed", "JSON must be {\"products\": [...]} or an array of products".into())
        })?;
        list.into_iter().enumerate().map(|(i, p)| (i + 1, check(i + 1, p))).collect()
    } else {
        super::export::csv_records(text)
            .map_err(|(line, m)| whole("catalog_malformed", format!("line {line}: {m}")))
            .and_then(|rows| csv_products(&rows))?
    };
    let mut seen = std::collections::BTreeSet::new();
    let mut products = Vec::new();
    let mut errors = Vec::new();
    for (line, item) in items {
        match item {
            Ok((sku, _)) if !seen.insert(sku.clone()) => errors.push(LineError {
                line,
                sku: Some(sku),
                code: "catalog_duplicate_sku",
                message: "this SKU appears more than once".into(),
            }),
            Ok(p) => products.push(p),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() { Ok(products) } else { Err(errors) }
}

/// CSV with a header row naming the product fields; `promotion_tags` separated by `;`;
/// empty cells are absent fields. Each record becomes the JSON the engine reads.
fn csv_products(rows: &[Record]) -> Result<Lines, Vec<LineError>> {
    let Some((_, header)) = rows.first() else {
        return Err(vec![LineError { line: 1, sku: None, code: "catalog_malformed", message: "no header row".into() }]);
    };
    Ok(rows[1..].iter().map(|(line, cells)| (*line, csv_product(header, *line, cells))).collect())
}

/// One CSV record as a product: the header names its fields; `sku` is the first cell.
fn csv_product(header: &[String], line: usize, cells: &[String]) -> Result<Checked, LineError> {
    const NUMBERS: [&str; 4] = ["list_price", "cost", "map_price", "map"];
    let fail = |code, message| Err(LineError { line, sku: cells.first().cloned(), code, message });
    if cells.len() != header.len() {
        return fail("catalog_malformed", format!("{} cells, the header has {}", cells.len(), header.len()));
    }
    let mut doc = serde_json::Map::new();
    for (name, cell) in header.iter().zip(cells).filter(|(_, c)| !c.trim().is_empty()) {
        let cell = cell.trim();
        let value = match name.as_str() {
            n if NUMBERS.contains(&n) => cell.parse::<f64>().ok().map(Value::from),
            "stock" => cell.parse::<u64>().ok().map(Value::from),
            "promotion_tags" => {
                Some(Value::from(cell.split(';').map(str::trim).filter(|t| !t.is_empty()).collect::<Vec<_>>()))
            }
            _ => Some(Value::from(cell)),
        };
        let Some(value) = value else {
            return fail("product_bad_amount", format!("{name}: {cell:?} is not a number"));
        };
        doc.insert(name.clone(), value);
    }
    check(line, Value::Object(doc))
}

fn etag(headers: &mut HeaderMap, tag: String) {
    if let Ok(v) = HeaderValue::from_str(&tag) {
        headers.insert(header::ETAG, v);
    }
}

/// `GET /v1/catalog`: `{"version": N, "products": [...]}`, ETag `"cN"`.
pub async fn list(State(s): State<Shared>, headers: HeaderMap) -> Response {
    if let Err(d) = need_one_of(&s, &headers, &[Role::Admin, Role::Edge]) {
        return d.into_response();
    }
    let (version, products) = match (s.store.catalog_version().await, s.store.products().await) {
        (Ok(v), Ok(p)) => (v, p),
        (Err(e), _) | (_, Err(e)) => return internal(e),
    };
    let tag = format!("\"c{version}\"");
    let mut resp = if etag_condition(&headers, header::IF_NONE_MATCH, &tag) == Some(true) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let list: Vec<Value> = products
            .into_iter()
            .map(|p| json!({"sku": p.sku, "version": p.version, "updated_at": p.updated_at, "product": p.doc}))
            .collect();
        axum::Json(json!({"version": version, "products": list})).into_response()
    };
    etag(resp.headers_mut(), tag);
    resp
}

/// `GET /v1/catalog/{sku}`: the product JSON (the engine's input), ETag `"pN"`.
pub async fn one(State(s): State<Shared>, Path(sku): Path<String>, headers: HeaderMap) -> Response {
    if let Err(d) = need_one_of(&s, &headers, &[Role::Admin, Role::Edge]) {
        return d.into_response();
    }
    match s.store.product(&sku).await {
        Ok(Some(p)) => {
            let tag = format!("\"p{}\"", p.version);
            let mut resp = if etag_condition(&headers, header::IF_NONE_MATCH, &tag) == Some(true) {
                StatusCode::NOT_MODIFIED.into_response()
            } else {
                axum::Json(p.doc).into_response()
            };
            etag(resp.headers_mut(), tag);
            resp
        }
        Ok(None) => error(StatusCode::NOT_FOUND, "unknown_sku", "no such product"),
        Err(e) => internal(e),
    }
}

/// `PUT /v1/catalog` (admin): replaces the catalog, all or nothing.
pub async fn replace(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(d) = need(&s, &headers, Role::Admin) {
        return d.into_response();
    }
    let version = match s.store.catalog_version().await {
        Ok(v) => v,
        Err(e) => return internal(e),
    };
    if etag_condition(&headers, header::IF_MATCH, &format!("\"c{version}\"")) == Some(false) {
        return error(
            StatusCode::PRECONDITION_FAILED,
            "catalog_changed",
            format!("the catalog is at version {version}"),
        );
    }
    let kind = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    match parse_upload(&body, kind) {
        Err(mut errors) => {
            let count = errors.len();
            errors.truncate(MAX_LISTED);
            let body = json!({
                "code": "catalog_invalid",
                "message": format!("{count} bad lines; nothing was changed"),
                "errors": errors,
            });
            (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
        }
        Ok(products) => match s.store.replace_catalog(&products, (s.clock)()).await {
            Ok(change) => {
                let mut resp = axum::Json(change.clone()).into_response();
                etag(resp.headers_mut(), format!("\"c{}\"", change.version));
                resp
            }
            Err(e) => internal(e),
        },
    }
}

/// `PATCH /v1/catalog/{sku}` (admin): a JSON object of the fields to change (`null` removes
/// an optional one); the result must be a valid product.
pub async fn patch(State(s): State<Shared>, Path(sku): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(d) = need(&s, &headers, Role::Admin) {
        return d.into_response();
    }
    let Ok(Value::Object(changes)) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "bad_request", "the body must be a JSON object of fields to change");
    };
    if let Some(k) = changes.keys().find(|k| !PATCHABLE.contains(&k.as_str())) {
        return error(
            StatusCode::BAD_REQUEST,
            "catalog_field",
            format!("{k} cannot be changed (fields: {PATCHABLE:?})"),
        );
    }
    let current = match s.store.product(&sku).await {
        Ok(Some(p)) => p,
        Ok(None) => return error(StatusCode::NOT_FOUND, "unknown_sku", "no such product"),
        Err(e) => return internal(e),
    };
    if etag_condition(&headers, header::IF_MATCH, &format!("\"p{}\"", current.version)) == Some(false) {
        return error(
            StatusCode::PRECONDITION_FAILED,
            "product_changed",
            format!("{sku} is at \"p{}\"", current.version),
        );
    }
    let mut doc = current.doc.clone();
    if let Value::Object(fields) = &mut doc {
        for (k, v) in changes {
            if v.is_null() {
                fields.remove(&k)
            } else {
                fields.insert(k, v)
            };
        }
    }
    if let Err(e) = check(1, doc.clone()) {
        return error(StatusCode::BAD_REQUEST, e.code, e.message);
    }
    match s.store.patch_product(&sku, &doc, current.version, (s.clock)()).await {
        Ok(version) => {
            let mut resp = axum::Json(json!({"sku": sku, "version": version, "product": doc})).into_response();
            etag(resp.headers_mut(), format!("\"p{version}\""));
            resp
        }
        Err(StoreError::Stale(v)) => {
            error(StatusCode::PRECONDITION_FAILED, "product_changed", format!("{sku} changed meanwhile (now \"p{v}\")"))
        }
        Err(StoreError::UnknownSku(_)) => error(StatusCode::NOT_FOUND, "unknown_sku", "no such product"),
        Err(e) => internal(e),
    }
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The product page's look: a card, the price large, the disclosure as a note under it.
const PAGE_STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;background:#f4f5f7;color:#1d2330;margin:0;padding:40px}\
main{max-width:560px;margin:auto;background:#fff;border-radius:12px;padding:28px 32px;box-shadow:0 1px 4px #0002}\
h1{margin:4px 0 16px;font-size:28px}.category{margin:0;color:#6b7280;text-transform:uppercase;font-size:13px}\
.price{font-size:26px;font-weight:600;color:#0b6b3a}\
.edgeprice-disclosure{margin-top:16px;padding:10px 14px;background:#eef4ff;border-left:3px solid #3b6fd8;\
font-size:14px;color:#33415c}";

/// A plain product page (the demo shop's) whose price element the edge worker personalizes.
pub async fn product_page(State(s): State<Shared>, Path(sku): Path<String>) -> Response {
    s.metrics.requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let p = match s.store.product(&sku).await {
        Ok(Some(p)) => p.doc,
        Ok(None) => return (StatusCode::NOT_FOUND, Html("<h1>No such product</h1>".to_string())).into_response(),
        Err(e) => return internal(e),
    };
    let text = |k: &str| escape_html(p.get(k).and_then(|v| v.as_str()).unwrap_or(""));
    let price = p.get("list_price").and_then(|v| v.as_f64()).unwrap_or(0.0);
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{name}</title>\n\
         <meta name=\"viewport\" content=\"width=device-width\"><style>{PAGE_STYLE}</style></head>\n<body>\n\
         <main><p class=\"category\">{category}</p>\n<h1>{name}</h1>\n\
         <p>Price: <span class=\"price\" data-edgeprice-sku=\"{sku}\">{price:.2} {currency}</span></p>\n\
         <p class=\"edgeprice-disclosure\" hidden></p>\n</main>\n</body></html>\n",
        name = text("name"),
        category = text("category"),
        sku = escape_html(&sku),
        currency = text("currency"),
    );
    Html(html).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_bytes_give_products_or_line_errors_never_a_panic() {
        // CSV- and JSON-shaped noise from a fixed seed: quotes, separators, line ends,
        // numbers, field names and non-UTF-8 bytes.
        const PIECES: [&[u8]; 14] = [
            b"\"",
            b",",
            b"\n",
            b"\r\n",
            b"sku",
            b"list_price",
            b"cost",
            b"currency",
            b"USD",
            b"12.5",
            b"-1",
            b"{\"products\":[",
            b"]}",
            b"\xff",
        ];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            let mut body = b"sku,list_price,cost,currency\n".to_vec();
            for _ in 0..(x % 24) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                body.extend_from_slice(PIECES[(x % PIECES.len() as u64) as usize]);
            }
            for kind in ["text/csv", "application/json", ""] {
                if let Err(errors) = parse_upload(&body, kind) {
                    assert!(!errors.is_empty());
                }
            }
        }
    }

    #[test]
    fn csv_lines_are_numbered_as_the_file() {
        let csv = "sku,list_price,cost,currency\n\"a\nb\",10,1,USD\n\nc,10,20,USD\n";
        let errors = parse_upload(csv.as_bytes(), "text/csv").unwrap_err();
        let lines: Vec<(usize, &str)> = errors.iter().map(|e| (e.line, e.code)).collect();
        // The quoted SKU spans lines 2-3 (valid); line 5 has cost above list.
        assert_eq!(lines, [(5, "product_cost_above_list")]);
    }
}
