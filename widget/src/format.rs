//! Prices and times as the user reads them. Prices are printed from whole ten-thousandths (Rust's float
//! `Display` would add about 7 KB gzip to the bundle); times by the browser's `Intl`, in the CRM user's
//! time zone, never as raw UTC.

use serde_json::Value;
use wasm_bindgen::prelude::*;

use crate::json::object;
use crate::zoho::to_js;

#[wasm_bindgen]
extern "C" {
    /// JavaScript's `Date`, bound here for a `toLocaleString` that reports the exception it throws on a time
    /// zone the browser does not know (js-sys's binding would abort the widget).
    #[wasm_bindgen(js_name = Date)]
    type JsDate;
    #[wasm_bindgen(constructor, js_class = "Date")]
    fn new(text: &str) -> JsDate;
    #[wasm_bindgen(method, js_class = "Date", js_name = getTime)]
    fn get_time(this: &JsDate) -> f64;
    #[wasm_bindgen(method, js_class = "Date", js_name = toLocaleString, catch)]
    fn to_locale_string(this: &JsDate, locales: &JsValue, options: &JsValue) -> Result<String, JsValue>;
}

/// A unit price as Xero keeps it (4 decimals at most, sent with `unitdp=4`), shown with at least 2:
/// `9.95`, `12.50`, `10.125`.
pub fn price(value: f64) -> String {
    let scaled = (value.abs() * 10_000.0).round();
    if !scaled.is_finite() || scaled >= 1e17 {
        return String::from("—");
    }
    let scaled = scaled as u64;
    let sign = if value < 0.0 && scaled > 0 { "-" } else { "" };
    let fraction = format!("{:04}", scaled % 10_000);
    let fraction = fraction.trim_end_matches('0');
    format!("{sign}{}.{fraction:0<2}", scaled / 10_000)
}

/// An RFC 3339 time in the user's zone ("28 Nov 2026, 10:15 am" for `en_AU`), or the date alone; the text
/// as sent when it is not a time the browser can read.
pub fn local_time(rfc3339: &str, time_zone: Option<&str>, locale: Option<&str>, with_time: bool) -> String {
    let date = JsDate::new(rfc3339);
    if date.get_time().is_nan() {
        return rfc3339.to_owned();
    }
    let locales = locale.map_or(JsValue::UNDEFINED, |l| JsValue::from_str(&l.replace('_', "-")));
    let mut options = vec![("day", Value::from("numeric")), ("month", "short".into()), ("year", "numeric".into())];
    if with_time {
        options.extend([("hour", Value::from("numeric")), ("minute", "2-digit".into())]);
    }
    let without_zone = to_js(&object(options.clone()));
    if let Some(zone) = time_zone {
        options.push(("timeZone", zone.into()));
        if let Ok(text) = date.to_locale_string(&locales, &to_js(&object(options))) {
            return text;
        }
    }
    // An unknown zone or locale: the browser's own zone, then its own locale.
    date.to_locale_string(&locales, &without_zone)
        .or_else(|_| date.to_locale_string(&JsValue::UNDEFINED, &without_zone))
        .unwrap_or_else(|_| rfc3339.to_owned())
}
