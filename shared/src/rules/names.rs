//! The names typed for Xero's GL account and tax rate, resolved against the organisation's lists, with
//! the closest valid names suggested for a typo.

use crate::defaults::OrgDefaults;
use crate::fields::FieldMap;
use crate::product::{CrmProduct, FieldValue};
use crate::suggest::{closest, fold};
use crate::tax::{Percent, crm_tax_percent};
use crate::xero::{Account, Origin, Resolution, TaxRate};

use super::checks::wrong_type;
use super::{Issue, IssueCode, Requirement};

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
/// keystroke). Xero compares item codes and account names this way too. Letters are folded by
/// `suggest::fold` (Unicode's lower case for the Latin, Greek and Cyrillic alphabets).
pub fn same_name(a: &str, b: &str) -> bool {
    a.trim().chars().map(fold).eq(b.trim().chars().map(fold))
}

/// Resolves the GL account: the name (or code) typed on the product, else the organisation's default.
pub(super) fn check_gl_account(
    product: &CrmProduct,
    map: &FieldMap,
    accounts: Option<&[Account]>,
    defaults: &OrgDefaults,
    issues: &mut Vec<Issue>,
) -> Option<Resolution> {
    let field = map.gl_account.as_str();
    // An empty field (not one of the wrong type) takes the organisation's default, when there is one.
    let default = match &product.gl_account {
        FieldValue::WrongType(_) => None,
        value => value.text().is_none().then(|| defaults.gl_account()).flatten(),
    };
    let (typed, origin) = match default {
        Some(code) => (code, Origin::Default),
        None => (
            chosen(
                &product.gl_account,
                field,
                Requirement::GlAccount,
                IssueCode::GlAccountMissing,
                "Choose the Xero GL account that sales of this product are posted to.",
                issues,
            )?,
            Origin::Typed,
        ),
    };
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
            Some(Resolution { value: a.usable_code()?.to_owned(), origin })
        }
        found if origin == Origin::Default && found.is_none_or(|a| !a.is_active()) => {
            let state = found.map_or_else(
                || format!("(code {typed}) no longer exists in Xero"),
                |a| format!("“{}” ({typed}) is {} in Xero", a.name, a.status.to_ascii_lowercase()),
            );
            let message = format!(
                "The organisation's default account {state}. Choose an account for this product, or ask your \
                 xero-sync admin to change the default."
            );
            issues.push(
                Issue::error(field, IssueCode::DefaultArchived, message)
                    .with_suggestions(revenue_choices(found.map(|a| a.name.as_str()), accounts)),
            );
            None
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
        Some(a) if let Some(role) = a.system_role() => {
            issues.push(
                Issue::error(
                    field,
                    IssueCode::GlAccountSystem,
                    format!("“{}” is {role}, so sales cannot be posted to it. Choose a revenue account.", a.name),
                )
                .with_suggestions(revenue_choices(None, accounts)),
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

/// Revenue accounts to offer instead of an unusable one: the closest names to `near`, else the first few.
fn revenue_choices(near: Option<&str>, accounts: &[Account]) -> Vec<String> {
    let revenue = || accounts.iter().filter(|a| a.is_selectable() && a.is_revenue()).map(|a| a.name.as_str());
    let closest = near.map(|name| closest(name, revenue(), 3)).unwrap_or_default();
    if closest.is_empty() { revenue().take(3).map(str::to_owned).collect() } else { closest }
}

/// Resolves the tax rate: the name (or TaxType) typed on the product, else the rate the organisation maps
/// the product's CRM tax to; then warns when the CRM tax's percentage and the Xero rate's differ.
pub(super) fn check_tax_rate(
    product: &CrmProduct,
    map: &FieldMap,
    rates: Option<&[TaxRate]>,
    defaults: &OrgDefaults,
    issues: &mut Vec<Issue>,
) -> Option<Resolution> {
    let field = map.tax_rate.as_str();
    // An empty field (not one of the wrong type) takes the rate the product's CRM tax maps to, when the
    // organisation maps its taxes.
    let mapped = !defaults.taxes.is_empty()
        && !matches!(product.tax_rate, FieldValue::WrongType(_))
        && product.tax_rate.text().is_none();
    let resolved = if mapped {
        mapped_tax_rate(product, field, rates, defaults, issues)
    } else {
        typed_tax_rate(product, field, rates, issues)
    };
    let (resolution, rate) = resolved?;
    check_consistency(product, field, rate, issues);
    Some(resolution)
}

/// The rate typed (or picked) on the product, by name or TaxType.
fn typed_tax_rate<'a>(
    product: &CrmProduct,
    field: &str,
    rates: Option<&'a [TaxRate]>,
    issues: &mut Vec<Issue>,
) -> Option<(Resolution, &'a TaxRate)> {
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
        Some(r) if r.is_selectable() => Some((Resolution { value: r.tax_type.clone(), origin: Origin::Typed }, r)),
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

/// The rate the organisation maps the product's CRM taxes to: every one of them mapped, all to one rate.
fn mapped_tax_rate<'a>(
    product: &CrmProduct,
    field: &str,
    rates: Option<&'a [TaxRate]>,
    defaults: &OrgDefaults,
    issues: &mut Vec<Issue>,
) -> Option<(Resolution, &'a TaxRate)> {
    const ASK: &str = "choose a Xero tax rate for this product, or ask your xero-sync admin to";
    let Some(taxes) = product.taxes.present().filter(|t| !t.is_empty()) else {
        issues.push(Issue::error(
            field,
            IssueCode::TaxRateMissing,
            "Select the product's tax: xero-sync finds its Xero tax rate from it. Or choose a Xero tax rate here.",
        ));
        return None;
    };
    let unmapped: Vec<&str> = taxes.iter().map(String::as_str).filter(|t| defaults.tax_type_for(t).is_none()).collect();
    if !unmapped.is_empty() {
        let (one, taxes) = if unmapped.len() == 1 { ("tax", "it") } else { ("taxes", "them") };
        let message =
            format!("xero-sync has no Xero tax rate for the CRM {one} {}; {ASK} map {taxes}.", quoted(&unmapped));
        issues.push(Issue::error(field, IssueCode::TaxUnmapped, message));
        return None;
    }
    let crm_tax = taxes.first()?.as_str();
    let tax_type = defaults.tax_type_for(crm_tax)?;
    let conflict = taxes.iter().any(|t| defaults.tax_type_for(t).is_some_and(|other| !same_name(other, tax_type)));
    if conflict {
        let names: Vec<&str> = taxes.iter().map(String::as_str).collect();
        let message = format!(
            "The CRM taxes {} stand for different Xero tax rates; choose the Xero tax rate for this product.",
            quoted(&names)
        );
        issues.push(Issue::error(field, IssueCode::TaxMappingConflict, message));
        return None;
    }
    let rates = rates?;
    let found =
        rates.iter().filter(|r| same_name(&r.tax_type, tax_type)).max_by_key(|r| (r.is_selectable(), r.is_active()));
    let rate = match found {
        Some(r) if r.is_selectable() => r,
        Some(r) if r.is_active() => {
            let message = format!(
                "The Xero tax rate “{}” that the CRM tax “{crm_tax}” maps to cannot be used on sales; {ASK} change \
                 the mapping.",
                r.name
            );
            issues.push(Issue::error(field, IssueCode::TaxRateNotForSales, message));
            return None;
        }
        found => {
            let state = found.map_or_else(
                || format!("{tax_type}, that the CRM tax “{crm_tax}” maps to, no longer exists in Xero"),
                |r| {
                    format!(
                        "“{}”, that the CRM tax “{crm_tax}” maps to, is {} in Xero",
                        r.name,
                        r.status.to_ascii_lowercase()
                    )
                },
            );
            let suggestions =
                found.map(|r| closest(&r.name, rates.iter().filter(|r| r.is_selectable()).map(|r| r.name.as_str()), 3));
            let message = format!("The Xero tax rate {state}; {ASK} update the mapping.");
            issues.push(
                Issue::error(field, IssueCode::DefaultArchived, message)
                    .with_suggestions(suggestions.unwrap_or_default()),
            );
            return None;
        }
    };
    Some((Resolution { value: rate.tax_type.clone(), origin: Origin::Mapping(crm_tax.to_owned()) }, rate))
}

/// Warns when the product's CRM taxes name a percentage and the Xero rate's is another (a "GST Free 0 %"
/// product sent with a 10 % rate): several CRM taxes agree when one of them, or their sum, matches.
fn check_consistency(product: &CrmProduct, field: &str, rate: &TaxRate, issues: &mut Vec<Issue>) {
    let Some(xero) = rate.effective_rate.and_then(Percent::from_rate) else { return };
    let taxes = product.taxes.present().map(Vec::as_slice).unwrap_or_default();
    let named: Vec<(&str, Percent)> =
        taxes.iter().filter_map(|t| crm_tax_percent(t).map(|p| (t.as_str(), p))).collect();
    let sum = Percent(named.iter().map(|(_, p)| p.0).sum());
    if named.is_empty() || sum == xero || named.iter().any(|(_, p)| *p == xero) {
        return;
    }
    let labels: Vec<&str> = named.iter().map(|(t, _)| *t).collect();
    issues.push(Issue::warning(
        field,
        IssueCode::TaxRateMismatch,
        format!(
            "The CRM says {}, but the Xero tax rate “{}” is {} %; check which is right.",
            quoted(&labels),
            rate.name,
            xero.text()
        ),
    ));
}

/// “A”, “A” and “B”, “A”, “B” and “C”.
fn quoted(names: &[&str]) -> String {
    let mut out = String::new();
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            out.push_str(if i + 1 == names.len() { " and " } else { ", " });
        }
        out.push('“');
        out.push_str(name);
        out.push('”');
    }
    out
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
