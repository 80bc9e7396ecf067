//! A simulated shopper of the demo, through the real worker as a browser would go: a data
//! set session replayed as page events (`POST /events`, the visit cookie carried along), one
//! product page (`GET /products/<sku>`, priced by the worker), and a purchase when the market
//! model says this shopper buys at the price the page showed (`POST /purchase`).
//!
//! The market judges the session's own row (its true type), never what the worker inferred
//! from the events; the learner and the worker never see the market. Every shopper is a new
//! visitor to the worker (a returning one would need a cookie that went idle for 30 minutes).

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use edgeprice_core::session::{Numeric, Session};
use edgeprice_core::tracker::PageEvent;
use serde_json::{Value, json};

use super::crowd::World;

/// The worker takes at most this many events in one `POST /events`.
const EVENTS_PER_POST: usize = 100;
/// A session's page views beyond this are not replayed (a few sessions have over 700).
const MAX_REPLAYED: usize = 300;

/// A catalog product as a shopper sees it: its SKU and list price (the market's valuations
/// are ratios of the list price).
#[derive(Clone, Debug)]
pub struct Item {
    pub sku: String,
    pub list_price: f64,
}

/// The page events that give the worker's tracker this session's aggregates (up to
/// rounding): its page counts and durations per kind, bounces and exits as shares of the
/// pages, and product pages whose page values add up to its PageValues per page.
pub fn events_of(s: &Session, page_values: &BTreeMap<String, f64>) -> Vec<PageEvent> {
    let count = |c: Numeric| s.get(c).max(0.0).round() as usize;
    let kinds = [
        ("administrative", count(Numeric::Administrative), s.get(Numeric::AdministrativeDuration)),
        ("informational", count(Numeric::Informational), s.get(Numeric::InformationalDuration)),
        ("product", count(Numeric::ProductRelated), s.get(Numeric::ProductRelatedDuration)),
    ];
    let mut events = Vec::new();
    for (page, n, seconds) in kinds {
        let each = if n > 0 && seconds.is_finite() && seconds > 0.0 { Some(seconds / n as f64) } else { None };
        for _ in 0..n {
            events.push(PageEvent { page: page.into(), seconds: each, page_id: None, bounce: false, exit: false });
        }
    }
    events.truncate(MAX_REPLAYED);
    let pages = events.len() as f64;
    let share = |c: Numeric| (s.get(c).clamp(0.0, 1.0) * pages).round() as usize;
    for e in events.iter_mut().take(share(Numeric::BounceRates)) {
        e.bounce = true;
    }
    for e in events.iter_mut().rev().take(share(Numeric::ExitRates)) {
        e.exit = true;
    }
    // Greedy: each product page gets the most valuable page id that still fits the sum.
    let mut values: Vec<(&String, f64)> = page_values.iter().map(|(k, v)| (k, *v)).filter(|(_, v)| *v > 0.0).collect();
    values.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut left = s.get(Numeric::PageValues).max(0.0) * pages;
    for e in events.iter_mut().filter(|e| e.page == "product") {
        match values.iter().find(|(_, v)| *v <= left + 1e-9) {
            Some((id, v)) => {
                e.page_id = Some((*id).clone());
                left -= v;
            }
            None => break,
        }
    }
    events
}

/// The decision id, the price text and whether a disclosure is shown, read from a product
/// page the worker rewrote (`data-edgeprice-decision`, the priced element's text, and the
/// disclosure paragraph without its `hidden` attribute).
pub fn read_page(html: &str, sku: &str) -> Option<(String, f64, bool)> {
    let marker = format!("data-edgeprice-sku=\"{sku}\"");
    let at = html.find(&marker)?;
    let tag_end = at + html[at..].find('>')?;
    let tag = &html[at..tag_end];
    let id_at = tag.find("data-edgeprice-decision=\"")? + "data-edgeprice-decision=\"".len();
    let decision_id = tag[id_at..].split('"').next()?.to_string();
    let text = html[tag_end + 1..].split('<').next()?;
    let price: f64 = text.split_whitespace().next()?.parse().ok()?;
    let disclosed = html.contains("<p class=\"edgeprice-disclosure\">");
    (!decision_id.is_empty() && price.is_finite()).then_some((decision_id, price, disclosed))
}

/// The demo's HTTP client: answers of any status come back as answers (the caller reads the
/// status), and no request waits longer than `timeout`.
pub fn agent(timeout: std::time::Duration) -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(timeout)).build().into()
}

/// One browser's worth of HTTP: an agent and the visit cookie the worker sets.
pub struct Browser {
    agent: ureq::Agent,
    base: String,
    cookie: Option<String>,
}

impl Browser {
    pub fn new(base: &str) -> Self {
        Browser { agent: agent(std::time::Duration::from_secs(20)), base: base.to_string(), cookie: None }
    }

    fn keep_cookie(&mut self, resp: &ureq::http::Response<ureq::Body>) {
        if let Some(set) = resp.headers().get("set-cookie").and_then(|v| v.to_str().ok()) {
            self.cookie = set.split(';').next().map(str::to_string);
        }
    }

    /// GET or POST (with a JSON body); the status and the body's text.
    pub fn send(&mut self, path: &str, body: Option<&Value>) -> Result<(u16, String)> {
        let url = format!("{}{path}", self.base);
        let cookie = self.cookie.clone().unwrap_or_default();
        let mut resp = match body {
            Some(b) => self
                .agent
                .post(&url)
                .header("Cookie", &cookie)
                .header("Content-Type", "application/json")
                .send(serde_json::to_vec(b)?)
                .with_context(|| format!("POST {url}"))?,
            None => self.agent.get(&url).header("Cookie", &cookie).call().with_context(|| format!("GET {url}"))?,
        };
        self.keep_cookie(&resp);
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        Ok((resp.status().as_u16(), text))
    }
}

/// Replays a data set session (`row`: the session and whether it bought at list price) as
/// shopper `index` at the worker, on `item`'s page; the market decides the purchase.
/// Whether the shopper bought.
pub fn shop(worker: &str, world: &World, row: &(Session, bool), item: &Item, index: usize) -> Result<bool> {
    let (s, bought) = (&row.0, row.1);
    let mut browser = Browser::new(worker);
    let events = events_of(s, &world.page_values);
    for (n, chunk) in events.chunks(EVENTS_PER_POST).enumerate() {
        let mut body = json!({ "events": chunk });
        if n == 0 {
            body["traffic_type"] = json!(s.traffic_type);
        }
        let (status, text) = browser.send("/events", Some(&body))?;
        if status != 200 {
            bail!("POST /events answered {status}: {text}");
        }
    }
    let (status, html) = browser.send(&format!("/products/{}", item.sku), None)?;
    if status != 200 {
        bail!("GET /products/{} answered {status}", item.sku);
    }
    let (decision_id, price, _) = read_page(&html, &item.sku).with_context(|| {
        format!("the page of {} carries no decided price (fallback to the origin's page?)", item.sku)
    })?;
    let valuation = edgeprice_learn::simulate::valuation(&world.market, s, bought, world.seed, index);
    let purchased = item.list_price > 0.0 && price / item.list_price <= valuation;
    if purchased {
        let (status, text) = browser.send("/purchase", Some(&json!({"decision_id": decision_id, "revenue": price})))?;
        if status != 202 {
            bail!("POST /purchase answered {status}: {text}");
        }
    }
    Ok(purchased)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_give_the_tracker_the_sessions_aggregates() {
        let mut s = Session::default();
        s.set(Numeric::Administrative, 2.0);
        s.set(Numeric::AdministrativeDuration, 30.0);
        s.set(Numeric::ProductRelated, 8.0);
        s.set(Numeric::ProductRelatedDuration, 400.0);
        s.set(Numeric::BounceRates, 0.1);
        s.set(Numeric::ExitRates, 0.2);
        s.set(Numeric::PageValues, 10.0);
        let table: BTreeMap<String, f64> =
            [("a".to_string(), 42.5), ("b".to_string(), 18.0), ("c".to_string(), 7.5), ("d".to_string(), 2.0)].into();
        let events = events_of(&s, &table);
        let mut t = edgeprice_core::tracker::SessionTracker::default();
        for e in &events {
            t.record(e, &table);
        }
        let got = t.session(0, "New_Visitor", "2", 0.0);
        for c in [Numeric::Administrative, Numeric::AdministrativeDuration, Numeric::ProductRelated] {
            assert_eq!(got.get(c), s.get(c), "{c:?}");
        }
        assert!((got.get(Numeric::ProductRelatedDuration) - 400.0).abs() < 1e-9);
        assert_eq!(got.get(Numeric::BounceRates), 0.1);
        assert_eq!(got.get(Numeric::ExitRates), 0.2);
        // 100 of page value over 10 pages: 42.5 + 42.5 + 7.5 + 7.5 = 100, within the table's steps.
        assert!((got.get(Numeric::PageValues) - 10.0).abs() <= 0.2, "{}", got.get(Numeric::PageValues));
    }

    #[test]
    fn a_rewritten_page_gives_its_decision_price_and_disclosure() {
        let page = "<p>Price: <span class=\"price\" data-edgeprice-sku=\"sku-1\" data-edgeprice-decision=\"ab12\">\
                    17.99 USD</span></p>\n<p class=\"edgeprice-disclosure\">Personalized price.</p>";
        assert_eq!(read_page(page, "sku-1"), Some(("ab12".into(), 17.99, true)));
        let origin_only = "<span class=\"price\" data-edgeprice-sku=\"sku-1\">19.99 USD</span>\
                           <p class=\"edgeprice-disclosure\" hidden></p>";
        assert_eq!(read_page(origin_only, "sku-1"), None, "no decision id: not priced by the worker");
        assert_eq!(read_page(page, "sku-2"), None);
    }
}
