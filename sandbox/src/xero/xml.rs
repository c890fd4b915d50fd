//! Xero's default format is XML: a request without `Accept: application/json` gets XML back (xero-api.md
//! §1). The simulator renders its JSON answers as XML for such requests, so a client that forgets the
//! header fails here as it would against Xero, instead of being served JSON.
//!
//! The rendering follows Xero's shape closely enough to be recognisably XML of the same data (`<Response>`
//! holding `<Items><Item>…`, `<ApiException>` for errors), not byte for byte; no client should parse it.

use serde_json::Value;

/// `body` as Xero's XML document: the Accounting `Error` schema becomes `<ApiException>`, everything else
/// `<Response>`.
pub fn render(body: &Value) -> String {
    let root = if body.get("ErrorNumber").is_some() { "ApiException" } else { "Response" };
    let mut out = String::from(r#"<?xml version="1.0" encoding="utf-8"?>"#);
    out.push_str(&format!(
        r#"<{root} xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">"#
    ));
    if let Value::Object(map) = body {
        for (key, value) in map {
            element(&mut out, key, value);
        }
    }
    out.push_str(&format!("</{root}>"));
    out
}

fn element(out: &mut String, name: &str, value: &Value) {
    match value {
        Value::Null => out.push_str(&format!("<{name} />")),
        Value::Array(items) => {
            out.push_str(&format!("<{name}>"));
            let child = singular(name);
            for item in items {
                element(out, child, item);
            }
            out.push_str(&format!("</{name}>"));
        }
        Value::Object(map) => {
            out.push_str(&format!("<{name}>"));
            for (key, value) in map {
                element(out, key, value);
            }
            out.push_str(&format!("</{name}>"));
        }
        Value::String(text) => out.push_str(&format!("<{name}>{}</{name}>", escape(text))),
        Value::Bool(b) => out.push_str(&format!("<{name}>{b}</{name}>")),
        Value::Number(n) => out.push_str(&format!("<{name}>{n}</{name}>")),
    }
}

/// The element name of one entry of a list (`Items` → `Item`); Xero names failed elements
/// `DataContractBase`.
fn singular(list: &str) -> &str {
    match list {
        "Elements" => "DataContractBase",
        _ => list.strip_suffix('s').unwrap_or(list),
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lists_and_errors_render_as_xero_xml() {
        let list = render(&json!({"Status": "OK", "Items": [{"Code": "A&B", "IsSold": true}]}));
        assert!(list.contains("<Response "), "{list}");
        assert!(list.contains("<Items><Item><Code>A&amp;B</Code><IsSold>true</IsSold></Item></Items>"), "{list}");
        let error = render(&json!({"ErrorNumber": 10, "Elements": [{"ValidationErrors": [{"Message": "x"}]}]}));
        assert!(error.contains("<ApiException "), "{error}");
        assert!(error.contains("<Elements><DataContractBase><ValidationErrors><ValidationError>"), "{error}");
    }
}
