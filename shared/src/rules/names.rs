//! The names typed for Xero's GL account and tax rate, resolved against the organisation's lists, with
//! the closest valid names suggested for a typo.

use crate::fields::FieldMap;
use crate::product::{CrmProduct, FieldValue};
use crate::suggest::closest;
use crate::xero::{Account, TaxRate};

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
/// keystroke). Xero compares item codes and account names this way too.
pub fn same_name(a: &str, b: &str) -> bool {
    a.trim().chars().flat_map(char::to_lowercase).eq(b.trim().chars().flat_map(char::to_lowercase))
}

/// Resolves the GL account name (or code) to an account code.
pub(super) fn check_gl_account(
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
pub(super) fn check_tax_rate(
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
