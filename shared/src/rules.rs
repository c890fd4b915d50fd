//! The sync rules: what a product needs before it can become a Xero Item.
//!
//! [`validate`] runs in two settings with the same code: in the browser on every keystroke (without Xero
//! data, [`XeroContext::NONE`], until the organisation's lists have arrived, then with them), and on the
//! server with the organisation's live accounts and tax rates before every write, where it also resolves
//! the names typed in the CRM to the codes Xero wants ([`Report::resolved`]).

use serde::{Deserialize, Serialize};

use crate::fields::{self, FieldMap};
use crate::product::{CrmProduct, FieldValue, JsonKind};
use crate::suggest::closest;
use crate::xero::{
    Account, ItemPayload, MAX_CODE_CHARS, MAX_DESCRIPTION_CHARS, MAX_NAME_CHARS, MAX_PRICE_DECIMALS,
    ROUNDED_PRICE_DECIMALS, Resolved, SalesDetails, TaxRate,
};

/// Whether an issue stops the sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Warning,
    Error,
}

/// Stable machine codes; the widget and API clients may branch on them, so never rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueCode {
    WrongType,
    NameMissing,
    NameTooLong,
    CodeMissing,
    CodeTooLong,
    CodeSurroundingSpaces,
    CodeUnsafeCharacter,
    NotMarkedForXero,
    NotTaxable,
    TaxMissing,
    GlAccountMissing,
    GlAccountUnknown,
    GlAccountArchived,
    GlAccountWithoutCode,
    GlAccountNotRevenue,
    TaxRateMissing,
    TaxRateUnknown,
    TaxRateInactive,
    TaxRateNotForSales,
    PriceNegative,
    PriceTooPrecise,
    PriceRounded,
    DescriptionTooLong,
    ProductInactive,
    /// Another CRM product already owns the Xero item with this code (found by the backend, not the rules).
    CodeInUse,
    /// A message from Xero itself, placed on the field it concerns.
    XeroRejected,
}

/// One problem with one field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issue {
    /// The CRM field's API name, e.g. `Product_Code`.
    pub field: String,
    pub code: IssueCode,
    pub severity: Severity,
    /// Plain words for a sales person: what is wrong and what to do.
    pub message: String,
    /// Closest valid values, best first, for a mistyped name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suggestions: Vec<String>,
}

impl Issue {
    pub fn error(field: &str, code: IssueCode, message: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            code,
            severity: Severity::Error,
            message: message.into(),
            suggestions: Vec::new(),
        }
    }

    pub fn warning(field: &str, code: IssueCode, message: impl Into<String>) -> Self {
        Self { severity: Severity::Warning, ..Self::error(field, code, message) }
    }

    fn with_suggestions(mut self, suggestions: Vec<String>) -> Self {
        self.suggestions = suggestions;
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// One line of the widget's checklist: a requirement and the field it concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Requirement {
    ProductName,
    ProductCode,
    AddToXero,
    Taxable,
    Tax,
    GlAccount,
    TaxRate,
    UnitPrice,
    Description,
    Active,
}

impl Requirement {
    /// Checklist order.
    pub const ALL: [Requirement; 10] = [
        Self::ProductName,
        Self::ProductCode,
        Self::AddToXero,
        Self::Taxable,
        Self::Tax,
        Self::GlAccount,
        Self::TaxRate,
        Self::UnitPrice,
        Self::Description,
        Self::Active,
    ];

    /// The field's label as the CRM shows it.
    pub fn label(self) -> &'static str {
        match self {
            Self::ProductName => "Product Name",
            Self::ProductCode => "Product Code",
            Self::AddToXero => "Add to Xero",
            Self::Taxable => "Taxable",
            Self::Tax => "Tax",
            Self::GlAccount => "Xero GL Account",
            Self::TaxRate => "Xero Tax Rate",
            Self::UnitPrice => "Unit Price",
            Self::Description => "Description",
            Self::Active => "Product Active",
        }
    }

    /// What the requirement asks, shown when it is met.
    pub fn summary(self) -> &'static str {
        match self {
            Self::ProductName => "A name of at most 50 characters",
            Self::ProductCode => "A unique code of at most 30 characters",
            Self::AddToXero => "Marked to be added to Xero",
            Self::Taxable => "Marked taxable",
            Self::Tax => "At least one tax selected",
            Self::GlAccount => "An active Xero sales account",
            Self::TaxRate => "An active Xero sales tax rate",
            Self::UnitPrice => "A price that is not negative, with at most 4 decimals",
            Self::Description => "A description of at most 4,000 characters",
            Self::Active => "An active product",
        }
    }

    pub fn field(self, map: &FieldMap) -> &str {
        match self {
            Self::ProductName => fields::PRODUCT_NAME,
            Self::ProductCode => fields::PRODUCT_CODE,
            Self::AddToXero => &map.add_to_xero,
            Self::Taxable => fields::TAXABLE,
            Self::Tax => fields::TAX,
            Self::GlAccount => &map.gl_account,
            Self::TaxRate => &map.tax_rate,
            Self::UnitPrice => fields::UNIT_PRICE,
            Self::Description => fields::DESCRIPTION,
            Self::Active => fields::PRODUCT_ACTIVE,
        }
    }

    /// The requirement a field belongs to, for placing an issue (ours or Xero's) on the checklist.
    pub fn of_field(field: &str, map: &FieldMap) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.field(map) == field)
    }
}

/// What is known of the Xero organisation. Without lists, the name checks stop at "is something chosen".
#[derive(Debug, Clone, Copy, Default)]
pub struct XeroContext<'a> {
    pub accounts: Option<&'a [Account]>,
    pub tax_rates: Option<&'a [TaxRate]>,
}

impl XeroContext<'_> {
    pub const NONE: XeroContext<'static> = XeroContext { accounts: None, tax_rates: None };
}

/// The outcome of [`validate`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Report {
    /// Every issue, in checklist order.
    pub issues: Vec<Issue>,
    /// Present when both lists were known and both names resolved.
    pub resolved: Option<Resolved>,
}

impl Report {
    pub fn can_sync(&self) -> bool {
        !self.issues.iter().any(Issue::is_error)
    }

    pub fn errors(&self) -> impl Iterator<Item = &Issue> {
        self.issues.iter().filter(|i| i.is_error())
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Issue> {
        self.issues.iter().filter(|i| !i.is_error())
    }

    /// The worst severity on a field, `None` when it is fine.
    pub fn severity_of(&self, field: &str) -> Option<Severity> {
        self.issues.iter().filter(|i| i.field == field).map(|i| i.severity).max()
    }

    /// The Item to send, when nothing blocks and the names resolved.
    pub fn payload(&self, product: &CrmProduct) -> Option<ItemPayload> {
        let resolved = self.resolved.as_ref().filter(|_| self.can_sync())?;
        Some(ItemPayload {
            item_id: product.xero_item_id.text().map(str::to_owned),
            code: product.code.present()?.clone(),
            name: product.name.text()?.to_owned(),
            description: product.description.present().cloned().unwrap_or_default(),
            is_sold: true,
            sales_details: SalesDetails {
                unit_price: product.unit_price.present().copied(),
                account_code: resolved.account_code.clone(),
                tax_type: resolved.tax_type.clone(),
            },
        })
    }
}

/// Checks a product against every sync rule and reports all issues at once.
pub fn validate(product: &CrmProduct, map: &FieldMap, context: XeroContext<'_>) -> Report {
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
    let account_code = check_gl_account(product, map, context.accounts, &mut issues);
    let tax_type = check_tax_rate(product, map, context.tax_rates, &mut issues);
    check_price(product, &mut issues);
    check_description(product, &mut issues);
    check_active(product, &mut issues);
    let resolved = account_code.zip(tax_type).map(|(account_code, tax_type)| Resolved { account_code, tax_type });
    Report { issues, resolved }
}

fn wrong_type(field: &str, label: &str, found: JsonKind, expected: &str) -> Issue {
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

/// Characters that break Xero's look-up of an item by code in a URL path (`GET /Items/{code}`).
const UNSAFE_CODE_CHARS: [char; 4] = ['/', '\\', '?', '#'];

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

/// The name typed in a Xero pick-list field, or the issue saying why there is none.
fn chosen<'a>(
    value: &'a FieldValue<String>,
    field: &str,
    requirement: Requirement,
    missing: IssueCode,
    missing_message: &str,
    issues: &mut Vec<Issue>,
) -> Option<&'a str> {
    if let FieldValue::WrongType(k) = value {
        issues.push(wrong_type(field, requirement.label(), *k, "text"));
        return None;
    }
    let typed = value.text();
    if typed.is_none() {
        issues.push(Issue::error(field, missing, missing_message));
    }
    typed
}

/// Case-insensitive equality of trimmed names and codes, without allocating (it runs per account, per
/// keystroke). Xero compares item codes and account names this way too.
pub fn same_name(a: &str, b: &str) -> bool {
    a.trim().chars().flat_map(char::to_lowercase).eq(b.trim().chars().flat_map(char::to_lowercase))
}

/// Resolves the GL account name (or code) to an account code.
fn check_gl_account(
    product: &CrmProduct,
    map: &FieldMap,
    accounts: Option<&[Account]>,
    issues: &mut Vec<Issue>,
) -> Option<String> {
    let field = map.gl_account.as_str();
    let typed = chosen(
        &product.gl_account,
        field,
        Requirement::GlAccount,
        IssueCode::GlAccountMissing,
        "Choose the Xero GL account that sales of this product are posted to.",
        issues,
    )?;
    let accounts = accounts?;
    let named = |a: &&Account| same_name(&a.name, typed) || a.usable_code().is_some_and(|c| same_name(c, typed));
    // Prefer a usable account when an archived one shares the name.
    let found = accounts.iter().filter(named).max_by_key(|a| (a.is_selectable(), a.is_active()));
    match found {
        Some(a) if a.is_selectable() => {
            if !a.is_revenue() {
                issues.push(Issue::warning(
                    field,
                    IssueCode::GlAccountNotRevenue,
                    format!(
                        "“{}” is not a revenue account in Xero; sales of this product will be posted to it anyway.",
                        a.name
                    ),
                ));
            }
            a.usable_code().map(str::to_owned)
        }
        Some(a) if !a.is_active() => {
            issues.push(
                Issue::error(
                    field,
                    IssueCode::GlAccountArchived,
                    format!(
                        "The Xero account “{}” is {}; choose an active account.",
                        a.name,
                        a.status.to_ascii_lowercase()
                    ),
                )
                .with_suggestions(account_suggestions(typed, accounts)),
            );
            None
        }
        Some(a) => {
            issues.push(
                Issue::error(
                    field,
                    IssueCode::GlAccountWithoutCode,
                    format!(
                        "The Xero account “{}” has no code, and Xero items need one; choose another account.",
                        a.name
                    ),
                )
                .with_suggestions(account_suggestions(typed, accounts)),
            );
            None
        }
        None => {
            let suggestions = account_suggestions(typed, accounts);
            issues.push(
                Issue::error(
                    field,
                    IssueCode::GlAccountUnknown,
                    format!("Xero has no active account named “{typed}”.{}", did_you_mean(&suggestions)),
                )
                .with_suggestions(suggestions),
            );
            None
        }
    }
}

fn account_suggestions(typed: &str, accounts: &[Account]) -> Vec<String> {
    closest(typed, accounts.iter().filter(|a| a.is_selectable()).map(|a| a.name.as_str()), 3)
}

/// Resolves the tax rate name (or TaxType code) to a TaxType.
fn check_tax_rate(
    product: &CrmProduct,
    map: &FieldMap,
    rates: Option<&[TaxRate]>,
    issues: &mut Vec<Issue>,
) -> Option<String> {
    let field = map.tax_rate.as_str();
    let typed = chosen(
        &product.tax_rate,
        field,
        Requirement::TaxRate,
        IssueCode::TaxRateMissing,
        "Choose the Xero tax rate that applies when this product is sold.",
        issues,
    )?;
    let rates = rates?;
    let named = |r: &&TaxRate| same_name(&r.name, typed) || same_name(&r.tax_type, typed);
    let found = rates.iter().filter(named).max_by_key(|r| (r.is_selectable(), r.is_active()));
    let suggestions = || closest(typed, rates.iter().filter(|r| r.is_selectable()).map(|r| r.name.as_str()), 3);
    match found {
        Some(r) if r.is_selectable() => Some(r.tax_type.clone()),
        Some(r) if !r.is_active() => {
            issues.push(
                Issue::error(
                    field,
                    IssueCode::TaxRateInactive,
                    format!(
                        "The Xero tax rate “{}” is {}; choose an active rate.",
                        r.name,
                        r.status.to_ascii_lowercase()
                    ),
                )
                .with_suggestions(suggestions()),
            );
            None
        }
        Some(r) => {
            issues.push(
                Issue::error(
                    field,
                    IssueCode::TaxRateNotForSales,
                    format!("The Xero tax rate “{}” cannot be used on sales; choose a sales tax rate.", r.name),
                )
                .with_suggestions(suggestions()),
            );
            None
        }
        None => {
            let suggestions = suggestions();
            issues.push(
                Issue::error(
                    field,
                    IssueCode::TaxRateUnknown,
                    format!("Xero has no active tax rate named “{typed}”.{}", did_you_mean(&suggestions)),
                )
                .with_suggestions(suggestions),
            );
            None
        }
    }
}

fn did_you_mean(suggestions: &[String]) -> String {
    match suggestions {
        [] => String::new(),
        [only] => format!(" Did you mean “{only}”?"),
        many => {
            format!(" Did you mean one of: {}?", many.iter().map(|s| format!("“{s}”")).collect::<Vec<_>>().join(", "))
        }
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
