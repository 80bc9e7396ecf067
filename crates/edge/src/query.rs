//! One parameter of a request URL's query, read from the URL text the runtime serialized
//! (`application/x-www-form-urlencoded`: `+` is a space, `%XX` a byte, invalid UTF-8
//! replaced), as the `url` crate's `query_pairs` reads it. The worker reads its two query
//! parameters (`sku`, `limit`) with this instead of parsing the whole URL with `url`, whose
//! parser, host code and IDNA tables were 158 KB of the lean worker's 737 KB module (the
//! runtime has already checked the URL).

/// The first value of `key` in `url`'s query (after the first `?` before any `#`), decoded.
pub fn param(url: &str, key: &str) -> Option<String> {
    let url = url.split('#').next().unwrap_or_default();
    let (_, query) = url.split_once('?')?;
    query.split('&').filter(|pair| !pair.is_empty()).find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(k) == key).then(|| decode(v))
    })
}

/// Form decoding: `+` to a space, `%` and two hex digits to that byte; a `%` without two
/// hex digits stays as it is.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let digit = |at: usize| bytes.get(at).and_then(|&b| (b as char).to_digit(16));
        match (bytes[i], digit(i + 1), digit(i + 2)) {
            (b'+', ..) => out.push(b' '),
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 2;
            }
            (b, ..) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::param;

    #[test]
    fn reads_the_first_value_of_a_key() {
        let url = "https://shop.test/price?a=1&sku=sku-1001&sku=other#sku=frag";
        assert_eq!(param(url, "sku").as_deref(), Some("sku-1001"));
        assert_eq!(param(url, "a").as_deref(), Some("1"));
        assert_eq!(param(url, "missing"), None);
        assert_eq!(param("https://shop.test/price", "sku"), None);
        assert_eq!(param("https://shop.test/price?x=1#sku=2", "sku"), None);
        // A `?` in the fragment starts no query.
        assert_eq!(param("https://shop.test/price#a?sku=2", "sku"), None);
    }

    #[test]
    fn decodes_as_a_form() {
        let url = "https://shop.test/?sku=a%2Db+c&k%65y=%zz%4&empty&flag=&bad=%FF";
        assert_eq!(param(url, "sku").as_deref(), Some("a-b c"));
        // A key is decoded before it is compared; `%` without two hex digits stays.
        assert_eq!(param(url, "key").as_deref(), Some("%zz%4"));
        assert_eq!(param(url, "empty").as_deref(), Some(""));
        assert_eq!(param(url, "flag").as_deref(), Some(""));
        assert_eq!(param(url, "bad").as_deref(), Some("\u{fffd}"));
    }
}
