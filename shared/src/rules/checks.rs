//! [`validate`], and the checks of the fields that need no name resolving.

use crate::fields::{self, FieldMap};
use crate::product::{CrmProduct, FieldValue, JsonKind};
use crate::xero::{MAX_CODE_CHARS, MAX_DESCRIPTION_CHARS, MAX_NAME_CHARS, MAX_PRICE_DECIMALS, ROUNDED_PRICE_DECIMALS};

use super::code::UNSAFE_CODE_CHARS;
use super::names::{check_gl_account, check_tax_rate};
use super::{Issue, IssueCode, Report, XeroContext};
use crate::defaults::OrgDefaults;
use crate::xero::Resolved;

/// Checks a product against every sync rule and reports all issues at once.
pub fn validate(product: &CrmProduct, map: &FieldMap, context: XeroContext<'_>) -> Report {
    validate_with(product, map, context, &OrgDefaults::NONE)
}

/// [`validate`] for an organisation with defaults: an empty `Xero_GL_Account` resolves to the default
/// account, an empty `Xero_Tax_Rate` to the rate the product's CRM tax maps to; a value on the product wins.
/// (The defaults are an argument of their own, not a field of [`XeroContext`], because the backend builds
/// that with a struct literal which a new field would break; see the widget branch's report.)
pub fn validate_with(product: &CrmProduct, map: &FieldMap, context: XeroContext<'_>, defaults: &OrgDefaults) -> Report {
    let mut issues = Vec::new();
    check_name(product, &mut issues);
    check_code(product, &mut issues);
    check_ticked(
        &product.add_to_xero,
        &map.add_to_xero,
        "Add to Xero",
        IssueCode::NotMarkedForXero,
        "Tick “Add to Xero” so this product may be sent to Xero.",
        &mut issues,
    );
    check_ticked(
        &product.taxable,
        fields::TAXABLE,
        "Taxable",
        IssueCode::NotTaxable,
        "Tick “Taxable”: products sent to Xero must be taxable.",
        &mut issues,
    );
    check_taxes(product, &mut issues);
    let account = check_gl_account(product, map, context.accounts, defaults, &mut issues);
    let tax_rate = check_tax_rate(product, map, context.tax_rates, defaults, &mut issues);
    check_price(product, &mut issues);
    check_description(product, &mut issues);
    check_active(product, &mut issues);
    let resolved = account.as_ref().zip(tax_rate.as_ref()).map(|(account, rate)| Resolved {
        account_code: account.value.clone(),
        tax_type: rate.value.clone(),
        account_origin: account.origin.clone(),
        tax_origin: rate.origin.clone(),
    });
    Report { issues, resolved, account, tax_rate }
}

pub(super) fn wrong_type(field: &str, label: &str, found: JsonKind, expected: &str) -> Issue {
    Issue::error(
        field,
        IssueCode::WrongType,
        format!("“{label}” holds {} where {expected} is expected; enter it again in the CRM.", found.in_words()),
    )
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// Thousands separators for limits and lengths in messages ("4,000").
fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn check_name(product: &CrmProduct, issues: &mut Vec<Issue>) {
    let field = fields::PRODUCT_NAME;
    match &product.name {
        FieldValue::WrongType(k) => issues.push(wrong_type(field, "Product Name", *k, "text")),
        name => match name.text() {
            None => issues.push(Issue::error(
                field,
                IssueCode::NameMissing,
                "Enter a product name: it becomes the item's name in Xero.",
            )),
            Some(n) if chars(n) > MAX_NAME_CHARS => issues.push(Issue::error(
                field,
                IssueCode::NameTooLong,
                format!(
                    "The product name is {} characters long; Xero allows at most {MAX_NAME_CHARS}. Shorten it.",
                    chars(n)
                ),
            )),
            Some(_) => {}
        },
    }
}

fn check_code(product: &CrmProduct, issues: &mut Vec<Issue>) {
    let field = fields::PRODUCT_CODE;
    let code = match &product.code {
        FieldValue::WrongType(k) => return issues.push(wrong_type(field, "Product Code", *k, "text")),
        FieldValue::Present(code) if !code.trim().is_empty() => code,
        _ => {
            return issues.push(Issue::error(
                field,
                IssueCode::CodeMissing,
                "Enter a product code: Xero identifies the item by it.",
            ));
        }
    };
    if code.trim() != code {
        issues.push(Issue::error(
            field,
            IssueCode::CodeSurroundingSpaces,
            "Remove the spaces at the start or end of the product code.",
        ));
    }
    if chars(code) > MAX_CODE_CHARS {
        issues.push(Issue::error(
            field,
            IssueCode::CodeTooLong,
            format!(
                "The product code is {} characters long; Xero allows at most {MAX_CODE_CHARS}. Shorten it.",
                chars(code)
            ),
        ));
    }
    if let Some(c) = code.chars().find(|c| UNSAFE_CODE_CHARS.contains(c)) {
        issues.push(Issue::warning(
            field,
            IssueCode::CodeUnsafeCharacter,
            format!("The product code contains “{c}”, which breaks some look-ups in Xero; a code without it is safer."),
        ));
    }
}

fn check_ticked(
    value: &FieldValue<bool>,
    field: &str,
    label: &str,
    code: IssueCode,
    message: &str,
    issues: &mut Vec<Issue>,
) {
    match value {
        FieldValue::WrongType(k) => issues.push(wrong_type(field, label, *k, "a tick box")),
        v if !v.is_true() => issues.push(Issue::error(field, code, message)),
        _ => {}
    }
}

fn check_taxes(product: &CrmProduct, issues: &mut Vec<Issue>) {
    let field = fields::TAX;
    match &product.taxes {
        FieldValue::WrongType(k) => issues.push(wrong_type(field, "Tax", *k, "a list of taxes")),
        FieldValue::Present(taxes) if !taxes.is_empty() => {}
        _ => issues.push(Issue::error(field, IssueCode::TaxMissing, "Select at least one tax for this product.")),
    }
}

/// Decimals in the shortest representation of `value`, as serde_json writes it ("12.5", "1.0", "1e-7"):
/// its float printer is in the widget's bundle anyway, and `f64`'s `Display` would add 7 KB gzip to it.
fn decimals(value: f64) -> u32 {
    let text = serde_json::Number::from_f64(value.abs()).map(|n| n.to_string()).unwrap_or_default();
    let (mantissa, exponent) = text.split_once(['e', 'E']).unwrap_or((&text, "0"));
    let fraction = mantissa.split_once('.').map_or("", |(_, f)| f).trim_end_matches('0');
    let places = i64::try_from(fraction.len()).unwrap_or(i64::MAX) - exponent.parse::<i64>().unwrap_or(0);
    u32::try_from(places.max(0)).unwrap_or(u32::MAX)
}

fn check_price(product: &CrmProduct, issues: &mut Vec<Issue>) {
    let field = fields::UNIT_PRICE;
    let price = match &product.unit_price {
        FieldValue::WrongType(k) => return issues.push(wrong_type(field, "Unit Price", *k, "a number")),
        FieldValue::Missing => return,
        FieldValue::Present(p) => *p,
    };
    if price < 0.0 {
        issues.push(Issue::error(field, IssueCode::PriceNegative, "The unit price cannot be negative."));
    }
    let places = decimals(price);
    if places > MAX_PRICE_DECIMALS {
        issues.push(Issue::error(
            field,
            IssueCode::PriceTooPrecise,
            format!("The unit price has {places} decimals; Xero keeps at most {MAX_PRICE_DECIMALS}. Round it."),
        ));
    } else if places > ROUNDED_PRICE_DECIMALS {
        issues.push(Issue::warning(field, IssueCode::PriceRounded, format!(
            "The unit price has {places} decimals; Xero shows prices with {ROUNDED_PRICE_DECIMALS} unless your organisation uses 4."
        )));
    }
}

fn check_description(product: &CrmProduct, issues: &mut Vec<Issue>) {
    let field = fields::DESCRIPTION;
    match &product.description {
        FieldValue::WrongType(k) => issues.push(wrong_type(field, "Description", *k, "text")),
        FieldValue::Present(d) if chars(d) > MAX_DESCRIPTION_CHARS => {
            issues.push(Issue::error(
                field,
                IssueCode::DescriptionTooLong,
                format!(
                    "The description is {} characters long; Xero allows at most {}. Shorten it.",
                    grouped(chars(d)),
                    grouped(MAX_DESCRIPTION_CHARS)
                ),
            ));
        }
        _ => {}
    }
}

fn check_active(product: &CrmProduct, issues: &mut Vec<Issue>) {
    let field = fields::PRODUCT_ACTIVE;
    match &product.active {
        FieldValue::WrongType(k) => issues.push(wrong_type(field, "Product Active", *k, "a tick box")),
        FieldValue::Present(false) => issues.push(Issue::warning(
            field,
            IssueCode::ProductInactive,
            "This product is inactive in the CRM; it can still be sent to Xero.",
        )),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_count_the_shortest_form() {
        assert_eq!(decimals(12.0), 0);
        assert_eq!(decimals(12.5), 1);
        assert_eq!(decimals(0.125), 3);
        assert_eq!(decimals(-19.99001), 5);
        assert_eq!(decimals(1e-7), 7);
        assert_eq!(decimals(1.5e-7), 8);
        assert_eq!(decimals(1e21), 0);
        assert_eq!(decimals(123_456_789.125), 3);
    }

    #[test]
    fn grouped_thousands() {
        assert_eq!(grouped(4000), "4,000");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1234567), "1,234,567");
    }
}
