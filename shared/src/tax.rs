//! A CRM tax's percentage, read from its name ("GST - 10.0 %"), to compare it with a Xero tax rate's
//! `EffectiveRate`: for the rules' consistency warning and the pre-filled tax mapping.
//!
//! Percentages are kept as whole ten-thousandths of a percent, so comparing and printing them needs no
//! float parsing or printing (either would add kilobytes to the widget's bundle).

/// A tax rate in ten-thousandths of a percent: 10 % is `Percent(100_000)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Percent(pub i64);

const SCALE: i64 = 10_000;

impl Percent {
    /// A Xero `EffectiveRate` (a percentage, e.g. `10.0`), rounded to the nearest ten-thousandth.
    pub fn from_rate(rate: f64) -> Option<Percent> {
        let scaled = (rate * SCALE as f64).round();
        (scaled.is_finite() && scaled.abs() < 1e15).then_some(Percent(scaled as i64))
    }

    /// As a person writes it: "10", "12.5", "8.875".
    pub fn text(self) -> String {
        let (whole, fraction) = (self.0 / SCALE, (self.0 % SCALE).abs());
        let sign = if self.0 < 0 && whole == 0 { "-" } else { "" };
        if fraction == 0 {
            return format!("{sign}{whole}");
        }
        let fraction = format!("{fraction:04}");
        format!("{sign}{whole}.{}", fraction.trim_end_matches('0'))
    }
}

/// The percentage a CRM tax names: the number right before its last `%` ("GST - 10.0 %" is 10, "VAT 20%"
/// 20, "GST Free 0 %" 0). `None` when the name gives none ("VAT", "GST Free").
pub fn crm_tax_percent(label: &str) -> Option<Percent> {
    let (before, _) = label.rsplit_once('%')?;
    let number = number_at_end(before.trim_end())?;
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    // More than four decimals are rounded away; no tax rate has them.
    let mut value: i64 = 0;
    for digit in whole.bytes().chain(fraction.bytes().chain(std::iter::repeat(b'0')).take(4)) {
        value = value.checked_mul(10)?.checked_add(i64::from(digit - b'0'))?;
    }
    Some(Percent(value))
}

/// The name of a CRM tax without its percentage: "GST - 10.0 %" is "GST", "GST Free 0 %" is "GST Free".
pub fn crm_tax_name(label: &str) -> &str {
    let Some((before, _)) = label.rsplit_once('%') else { return label.trim() };
    let before = before.trim_end();
    let number = number_at_end(before).map_or(0, str::len);
    before[..before.len() - number].trim_end_matches(|c: char| c.is_whitespace() || "-–:(,".contains(c))
}

/// The run of digits and at most one `.` that `text` ends with.
fn number_at_end(text: &str) -> Option<&str> {
    let start = text.rfind(|c: char| !(c.is_ascii_digit() || c == '.')).map_or(0, |i| i + 1);
    let number = text.get(start..)?;
    (number.bytes().any(|b| b.is_ascii_digit()) && number.bytes().filter(|&b| b == b'.').count() <= 1).then_some(number)
}

#[cfg(test)]
mod tests {
    use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

    use super::*;

    wasm_bindgen_test_configure!(run_in_browser);

    #[wasm_bindgen_test(unsupported = test)]
    fn percentages_are_read_from_crm_tax_names() {
        let percent = |label| crm_tax_percent(label).map(Percent::text);
        assert_eq!(percent("GST - 10.0 %").as_deref(), Some("10"));
        assert_eq!(percent("GST Free - 0.0 %").as_deref(), Some("0"));
        assert_eq!(percent("GST Free 0 %").as_deref(), Some("0"));
        assert_eq!(percent("VAT 20%").as_deref(), Some("20"));
        assert_eq!(percent("Sales Tax 8.875%").as_deref(), Some("8.875"));
        assert_eq!(percent("Odd .5 %").as_deref(), Some("0.5"));
        for none in ["VAT", "GST Free", "%", "GST - . %", "1.2.3 %", ""] {
            assert_eq!(crm_tax_percent(none), None, "{none}");
        }
        assert_eq!(crm_tax_percent("GST 10 % (AU)"), Some(Percent(100_000)), "the number before the last %");
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn names_lose_their_percentage() {
        assert_eq!(crm_tax_name("GST - 10.0 %"), "GST");
        assert_eq!(crm_tax_name("GST Free 0 %"), "GST Free");
        assert_eq!(crm_tax_name("VAT 20%"), "VAT");
        assert_eq!(crm_tax_name("Zero rated"), "Zero rated");
        assert_eq!(crm_tax_name("(5 %)"), "");
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn xero_rates_compare_and_print_without_float_formatting() {
        assert_eq!(Percent::from_rate(10.0), crm_tax_percent("GST - 10.0 %"));
        assert_eq!(Percent::from_rate(12.375).map(Percent::text).as_deref(), Some("12.375"));
        assert_eq!(Percent::from_rate(0.0).map(Percent::text).as_deref(), Some("0"));
        assert_eq!(Percent::from_rate(-2.5).map(Percent::text).as_deref(), Some("-2.5"));
        assert_eq!(Percent::from_rate(f64::NAN), None);
    }
}
