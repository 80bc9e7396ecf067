//! Product pages: the origin's HTML streamed through the runtime's `HTMLRewriter`, which
//! workers-rs does not expose, so it is bound here. The element marked
//! `data-edgeprice-sku="<sku>"` gets the decided price and the decision id; the element
//! with class `edgeprice-disclosure` gets the decision's disclosure (its jurisdiction's
//! text, present only on a personalized price); a small script reporting time on page is
//! appended to `<body>`.

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use worker::worker_sys::web_sys;
use worker::{Headers, Response};

use edgeprice_core::pricing::decision::Decision;
use edgeprice_core::pricing::money::Currency;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = HTMLRewriter)]
    type HtmlRewriter;

    #[wasm_bindgen(constructor, js_class = "HTMLRewriter", catch)]
    fn new() -> Result<HtmlRewriter, JsValue>;

    #[wasm_bindgen(method, js_class = "HTMLRewriter", catch)]
    fn on(this: &HtmlRewriter, selector: &str, handler: &js_sys::Object) -> Result<HtmlRewriter, JsValue>;

    #[wasm_bindgen(method, js_class = "HTMLRewriter", catch)]
    fn transform(this: &HtmlRewriter, response: &web_sys::Response) -> Result<web_sys::Response, JsValue>;

    /// An element as HTMLRewriter hands it to a handler.
    type RewriterElement;

    #[wasm_bindgen(method, js_name = setInnerContent)]
    fn set_inner_content(this: &RewriterElement, content: &str);

    #[wasm_bindgen(method, js_name = setAttribute)]
    fn set_attribute(this: &RewriterElement, name: &str, value: &str);

    #[wasm_bindgen(method, js_name = removeAttribute)]
    fn remove_attribute(this: &RewriterElement, name: &str);

    #[wasm_bindgen(method)]
    fn append(this: &RewriterElement, content: &str, options: &js_sys::Object);
}

/// Reports the seconds spent on this page when it is hidden (sendBeacon keeps cookies).
const PAGE_SCRIPT: &str = r#"<script>(()=>{const t=performance.now(),s=document.querySelector("[data-edgeprice-sku]"),p=s?"product/"+s.dataset.edgepriceSku:location.pathname;addEventListener("pagehide",()=>navigator.sendBeacon("/events",JSON.stringify({events:[{page:"product",page_id:p,seconds:Math.round((performance.now()-t)/1e3)}]})),{once:true})})()</script>"#;

/// The price as the page shows it: `17.99 USD`.
pub fn display_price(d: &Decision) -> String {
    match Currency::parse(&d.currency) {
        Some(c) => format!("{} {}", c.format(d.price_minor), c.code()),
        None => format!("{:.2} {}", d.price, d.currency),
    }
}

/// A disclosure as an HTTP header value: printable ASCII as it is, any other byte
/// percent-encoded (header values are ASCII; a merchant's text may not be).
pub fn header_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if (0x20..0x7f).contains(&b) && b != b'%' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A handler object `{ element(el) { ... } }` whose callback the JS GC owns.
fn handler(callback: impl FnMut(RewriterElement) + 'static) -> Result<js_sys::Object, JsValue> {
    let object = js_sys::Object::new();
    let f = Closure::<dyn FnMut(RewriterElement)>::new(callback).into_js_value();
    js_sys::Reflect::set(&object, &"element".into(), &f)?;
    Ok(object)
}

fn html_option() -> Result<js_sys::Object, JsValue> {
    let o = js_sys::Object::new();
    js_sys::Reflect::set(&o, &"html".into(), &JsValue::TRUE)?;
    Ok(o)
}

/// The origin page with the decision written in, streamed. `headers` are the response's.
pub fn rewrite(page: Response, d: &Decision, headers: Headers) -> Result<Response, JsValue> {
    let price_text = display_price(d);
    let decision_id = d.decision_id.clone();
    let sku_selector = format!("[data-edgeprice-sku=\"{}\"]", d.sku);
    let mut rewriter = HtmlRewriter::new()?.on(
        &sku_selector,
        &handler(move |el| {
            el.set_inner_content(&price_text);
            el.set_attribute("data-edgeprice-decision", &decision_id);
        })?,
    )?;
    if let Some(text) = d.disclosure.clone() {
        rewriter = rewriter.on(
            ".edgeprice-disclosure",
            &handler(move |el| {
                el.set_inner_content(&text);
                el.remove_attribute("hidden");
            })?,
        )?;
    }
    let options = html_option()?;
    rewriter = rewriter.on("body", &handler(move |el| el.append(PAGE_SCRIPT, &options))?)?;
    let status = page.status_code();
    let raw: web_sys::Response = page.into();
    let out = rewriter.transform(&raw)?;
    let body = out.body().ok_or_else(|| JsValue::from_str("rewritten page has no body"))?;
    Ok(Response::builder().with_status(status).with_headers(headers).stream(body.unchecked_into()))
}
