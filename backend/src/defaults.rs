//! The organisation's defaults (issue 14) as an admin sets them: the default GL account, chosen from the
//! organisation's active revenue accounts with a code, and the Xero tax rate of each CRM tax, pre-filled
//! by [`shared::defaults::prefill_tax_mapping`] from the CRM's taxes (the `Tax` field's pick-list) and
//! Xero's rates for the admin to confirm. Every change is checked against the live lists ([`check`]),
//! with a message on the field, then stored and audited ([`crate::store::OrgSetting`]). The rules read
//! them through [`crate::store::Store::org_defaults`].

use std::sync::Arc;

use shared::defaults::prefill_tax_mapping;
use shared::rules::same_name;
use shared::{Account, OrgDefaults, TaxMapping, TaxRate, fields};

use crate::retry::RetryPolicy;
use crate::store::{ConnectionStatus, SettingChange, Store, StoreError};
use crate::xero::{XeroClient, XeroError};
use crate::zoho::{ZohoClient, ZohoError};

/// How many changes the settings page lists.
const AUDIT_ROWS: u32 = 50;
/// How long the settings page waits for the CRM's field list.
const CRM_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// What an admin submitted: the default account as typed (a name or a code; empty for none) and, for each
/// CRM tax, the TaxType chosen (empty for none).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DefaultsForm {
    pub gl_account: String,
    pub taxes: Vec<(String, String)>,
}

/// A refused value: the form field it was typed in, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormError {
    /// `gl_account`, or `tax_type_{i}` for the i-th CRM tax of the form.
    pub field: String,
    pub message: String,
}

/// The organisation's Xero lists, when Xero is connected and answered.
#[derive(Debug, Clone)]
pub struct XeroLists {
    pub accounts: Arc<Vec<Account>>,
    pub tax_rates: Arc<Vec<TaxRate>>,
}

/// One row of the tax mapping as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxRow {
    pub crm_tax: String,
    /// The TaxType stored, or proposed; `None`: not mapped.
    pub tax_type: Option<String>,
    /// Proposed by matching the rates, not yet confirmed by an admin (saving confirms it).
    pub proposed: bool,
}

/// What the settings page shows.
#[derive(Debug)]
pub struct DefaultsPage {
    /// Why Xero's lists are missing, when they are.
    pub lists: Result<XeroLists, String>,
    /// Why the CRM's taxes are missing, when they are (the stored mapping is shown alone then).
    pub crm_taxes_error: Option<String>,
    pub stored: OrgDefaults,
    pub rows: Vec<TaxRow>,
    /// CRM taxes no Xero rate was found for.
    pub unmapped: Vec<String>,
    /// Stored mappings of taxes the CRM no longer lists: saving the form removes them.
    pub stale: Vec<TaxMapping>,
    pub audit: Vec<SettingChange>,
}

/// Why a change was not stored.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("some values were refused")]
    Invalid(Vec<FormError>),
    /// Xero's lists are needed to check a change.
    #[error("{0}")]
    Unavailable(String),
    #[error("storage failed")]
    Store(#[from] StoreError),
}

/// Reads and changes the defaults; cheap to clone.
#[derive(Clone)]
pub struct Defaults {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    xero: XeroClient,
    zoho: ZohoClient,
}

impl Defaults {
    pub(crate) fn new(store: Store, xero: XeroClient, zoho: ZohoClient) -> Self {
        Self { inner: Arc::new(Inner { store, xero, zoho }) }
    }

    /// The connected organisation's lists, fetched afresh when `fresh` (a change is checked against
    /// what Xero holds now, not a cached chart).
    async fn lists(&self, fresh: bool) -> Result<XeroLists, String> {
        let connection = self.inner.store.xero_connection().await.map_err(|e| crate::describe(&e))?;
        let Some(connection) = connection.filter(|c| c.status == ConnectionStatus::Connected) else {
            return Err("Xero is not connected: connect it on the dashboard first; the defaults are chosen from \
                        its accounts and tax rates."
                .into());
        };
        let tenant = connection.tenant_id;
        if fresh {
            self.inner.xero.invalidate(&tenant);
        }
        let xero = &self.inner.xero;
        let fetched = tokio::try_join!(xero.accounts(&tenant), xero.tax_rates(&tenant));
        let (accounts, tax_rates) =
            fetched.map_err(|e: XeroError| format!("Xero's lists could not be read ({}).", crate::describe(&e)))?;
        Ok(XeroLists { accounts, tax_rates })
    }

    /// The CRM's taxes, from the `Tax` field's pick-list: one quick try, so a slow CRM does not hold up the
    /// page.
    async fn crm_taxes(&self) -> Result<Vec<String>, String> {
        let zoho = self.inner.zoho.clone().with_retry(RetryPolicy::NONE);
        let fields = match tokio::time::timeout(CRM_TIMEOUT, zoho.product_fields()).await {
            Ok(Ok(fields)) => fields,
            Ok(Err(ZohoError::Unexpected { code, .. })) if code == "OAUTH_SCOPE_MISMATCH" => {
                return Err("the Zoho grant lacks the scope ZohoCRM.settings.fields.READ".into());
            }
            Ok(Err(error)) => return Err(crate::describe(&error)),
            Err(_) => return Err("Zoho did not answer in time".into()),
        };
        let tax = fields.into_iter().find(|f| f.api_name == fields::TAX);
        Ok(tax.map(|f| f.pick_list_values).unwrap_or_default())
    }

    /// What the settings page shows: the stored defaults, a row for each CRM tax (its stored rate, else
    /// the proposed one), and the audit trail.
    pub async fn page(&self) -> Result<DefaultsPage, StoreError> {
        let store = &self.inner.store;
        let (lists, crm_taxes) = tokio::join!(self.lists(false), self.crm_taxes());
        let stored = store.org_defaults().await?;
        let audit = store.org_settings_audit(AUDIT_ROWS).await?;
        let stale = match &crm_taxes {
            Ok(crm_taxes) => {
                stored.taxes.iter().filter(|m| !crm_taxes.iter().any(|t| same_name(t, &m.crm_tax))).cloned().collect()
            }
            Err(_) => Vec::new(),
        };
        let (rows, unmapped) = match (&crm_taxes, &lists) {
            (Ok(crm_taxes), Ok(lists)) => rows(crm_taxes, &stored, &lists.tax_rates),
            // Without the CRM's taxes, or Xero's rates to propose from, the stored mapping alone.
            _ => {
                let rows = stored
                    .taxes
                    .iter()
                    .map(|m| TaxRow { crm_tax: m.crm_tax.clone(), tax_type: Some(m.tax_type.clone()), proposed: false })
                    .collect();
                (rows, Vec::new())
            }
        };
        Ok(DefaultsPage { lists, crm_taxes_error: crm_taxes.err(), stored, rows, unmapped, stale, audit })
    }

    /// Checks `form` against Xero's lists as they are now and the CRM's taxes, then stores and audits
    /// what changed (as `by`); returns the labels of the settings that changed.
    pub async fn change(&self, form: &DefaultsForm, by: &str) -> Result<Vec<&'static str>, ChangeError> {
        let lists = self.lists(true).await.map_err(ChangeError::Unavailable)?;
        let crm_taxes = self.crm_taxes().await.ok();
        let defaults =
            check(form, &lists.accounts, &lists.tax_rates, crm_taxes.as_deref()).map_err(ChangeError::Invalid)?;
        let changed = self.inner.store.set_org_defaults(&defaults, by).await?;
        if !changed.is_empty() {
            tracing::info!(settings = ?changed, by, "organisation defaults changed");
        }
        Ok(changed)
    }
}

/// A row per CRM tax: its stored rate, else the rate [`prefill_tax_mapping`] proposes.
fn rows(crm_taxes: &[String], stored: &OrgDefaults, rates: &[TaxRate]) -> (Vec<TaxRow>, Vec<String>) {
    let new: Vec<&str> = crm_taxes.iter().map(String::as_str).filter(|t| stored.tax_type_for(t).is_none()).collect();
    let proposal = prefill_tax_mapping(&new, rates);
    let rows = crm_taxes
        .iter()
        .map(|tax| match stored.tax_type_for(tax) {
            Some(tax_type) => TaxRow { crm_tax: tax.clone(), tax_type: Some(tax_type.to_owned()), proposed: false },
            None => {
                let proposed = proposal.mapped.iter().find(|m| &m.crm_tax == tax).map(|m| m.tax_type.clone());
                TaxRow { crm_tax: tax.clone(), proposed: proposed.is_some(), tax_type: proposed }
            }
        })
        .collect();
    (rows, proposal.unmapped)
}

/// "Sales (200)": an account as the settings page names it.
pub fn account_label(account: &Account) -> String {
    match account.usable_code() {
        Some(code) => format!("{} ({code})", account.name),
        None => account.name.clone(),
    }
}

/// The defaults `form` asks for, or a message on each field that cannot be stored: the account must be one
/// of the organisation's active revenue accounts with a code, each rate an active one that applies to
/// sales, and each CRM tax one the CRM has (when its taxes are known), mapped once.
pub fn check(
    form: &DefaultsForm,
    accounts: &[Account],
    rates: &[TaxRate],
    crm_taxes: Option<&[String]>,
) -> Result<OrgDefaults, Vec<FormError>> {
    let mut errors = Vec::new();
    let gl_account = match check_account(form.gl_account.trim(), accounts) {
        Ok(code) => code,
        Err(message) => {
            errors.push(FormError { field: "gl_account".into(), message });
            None
        }
    };
    let mut taxes: Vec<TaxMapping> = Vec::new();
    for (i, (crm_tax, tax_type)) in form.taxes.iter().enumerate() {
        let (crm_tax, tax_type) = (crm_tax.trim(), tax_type.trim());
        let field = format!("tax_type_{i}");
        let mut refuse = |message: String| errors.push(FormError { field: field.clone(), message });
        if crm_tax.is_empty() {
            refuse("This row names no CRM tax; reload the page.".into());
            continue;
        }
        if taxes.iter().any(|m| same_name(&m.crm_tax, crm_tax)) {
            refuse(format!("The CRM tax “{crm_tax}” is listed twice; reload the page."));
            continue;
        }
        if crm_taxes.is_some_and(|known| !known.iter().any(|t| same_name(t, crm_tax))) {
            refuse(format!("The CRM has no tax “{crm_tax}” any more; reload the page to see its taxes."));
            continue;
        }
        if tax_type.is_empty() {
            continue;
        }
        match rates.iter().find(|r| same_name(&r.tax_type, tax_type) || same_name(&r.name, tax_type)) {
            Some(rate) if rate.is_selectable() => {
                taxes.push(TaxMapping { crm_tax: crm_tax.to_owned(), tax_type: rate.tax_type.clone() })
            }
            Some(rate) if rate.is_active() => refuse(format!(
                "“{}” cannot be used on sales in Xero; choose a rate that applies to revenue.",
                rate.name
            )),
            _ => refuse(format!("Xero has no active tax rate {tax_type}; choose one of the list.")),
        }
    }
    if errors.is_empty() { Ok(OrgDefaults { gl_account, taxes }) } else { Err(errors) }
}

/// The code of the default account typed (by code or name); `None` for none.
fn check_account(typed: &str, accounts: &[Account]) -> Result<Option<String>, String> {
    if typed.is_empty() {
        return Ok(None);
    }
    // By code, name, or "Name (code)" as the page's list offers it.
    let named = |a: &&Account| {
        a.usable_code().is_some_and(|c| same_name(c, typed))
            || same_name(&a.name, typed)
            || same_name(&account_label(a), typed)
    };
    let revenue = || {
        let choices: Vec<String> =
            accounts.iter().filter(|a| a.is_selectable() && a.is_revenue()).take(5).map(account_label).collect();
        if choices.is_empty() { String::new() } else { format!(" ({})", choices.join(", ")) }
    };
    let found = accounts.iter().filter(named).max_by_key(|a| (a.is_selectable(), a.is_active()));
    match found {
        None => Err(format!("Xero has no account “{typed}”. Choose one of the active revenue accounts{}.", revenue())),
        Some(a) if !a.is_active() => Err(format!(
            "“{}” is {} in Xero; choose an active revenue account{}.",
            account_label(a),
            a.status.to_ascii_lowercase(),
            revenue()
        )),
        Some(a) if let Some(role) = a.system_role() => Err(format!(
            "“{}” is {role}, so sales cannot be posted to it. Choose a revenue account{}.",
            account_label(a),
            revenue()
        )),
        Some(a) if a.usable_code().is_none() => {
            Err(format!("“{}” has no code, and Xero items need one; choose another account{}.", a.name, revenue()))
        }
        Some(a) if !a.is_revenue() => Err(format!(
            "“{}” is not a revenue account; the default is where sales are posted, so choose a revenue account{}.",
            account_label(a),
            revenue()
        )),
        Some(a) => Ok(a.usable_code().map(str::to_owned)),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn accounts() -> Vec<Account> {
        serde_json::from_value(json!([
            {"Code": "200", "Name": "Sales", "Status": "ACTIVE", "Class": "REVENUE", "Type": "REVENUE"},
            {"Code": "210", "Name": "Old Sales", "Status": "ARCHIVED", "Class": "REVENUE", "Type": "REVENUE"},
            {"Code": "400", "Name": "Advertising", "Status": "ACTIVE", "Class": "EXPENSE", "Type": "OVERHEADS"},
            {"Code": "610", "Name": "Accounts Receivable", "Status": "ACTIVE", "Class": "ASSET", "Type": "CURRENT",
             "SystemAccount": "DEBTORS"}
        ]))
        .expect("accounts")
    }

    fn rates() -> Vec<TaxRate> {
        serde_json::from_value(json!([
            {"Name": "GST on Income", "TaxType": "OUTPUT", "Status": "ACTIVE", "CanApplyToRevenue": true, "EffectiveRate": 10.0},
            {"Name": "GST Free Income", "TaxType": "EXEMPTOUTPUT", "Status": "ACTIVE", "CanApplyToRevenue": true, "EffectiveRate": 0.0},
            {"Name": "GST on Expenses", "TaxType": "INPUT", "Status": "ACTIVE", "CanApplyToRevenue": false, "EffectiveRate": 10.0}
        ]))
        .expect("rates")
    }

    fn form(gl_account: &str, taxes: &[(&str, &str)]) -> DefaultsForm {
        DefaultsForm {
            gl_account: gl_account.into(),
            taxes: taxes.iter().map(|(c, t)| ((*c).to_owned(), (*t).to_owned())).collect(),
        }
    }

    fn crm() -> Vec<String> {
        vec!["GST - 10.0 %".into(), "GST Free - 0.0 %".into()]
    }

    #[test]
    fn a_revenue_account_and_sales_rates_are_stored_by_code() {
        let asked = form(" sales ", &[("GST - 10.0 %", "OUTPUT"), ("GST Free - 0.0 %", "")]);
        let defaults = check(&asked, &accounts(), &rates(), Some(&crm())).expect("valid");
        assert_eq!(defaults.gl_account.as_deref(), Some("200"));
        for typed in ["200", "Sales (200)"] {
            let defaults = check(&form(typed, &[]), &accounts(), &rates(), None).expect("valid");
            assert_eq!(defaults.gl_account.as_deref(), Some("200"), "{typed}");
        }
        assert_eq!(defaults.taxes, [TaxMapping { crm_tax: "GST - 10.0 %".into(), tax_type: "OUTPUT".into() }]);
        assert_eq!(check(&form("", &[]), &accounts(), &rates(), None).expect("none"), OrgDefaults::NONE);
    }

    #[test]
    fn every_refusal_names_its_field_and_why() {
        let refused = |gl: &str, taxes: &[(&str, &str)]| {
            check(&form(gl, taxes), &accounts(), &rates(), Some(&crm())).expect_err("refused")
        };
        let only = |errors: Vec<FormError>| {
            assert_eq!(errors.len(), 1, "{errors:?}");
            (errors[0].field.clone(), errors[0].message.clone())
        };
        let (field, message) = only(refused("Accounts Receivable", &[]));
        assert_eq!(field, "gl_account");
        assert!(message.contains("accounts receivable control account"), "{message}");
        assert!(message.contains("Sales (200)"), "revenue accounts offered: {message}");
        assert!(only(refused("210", &[])).1.contains("archived"));
        assert!(only(refused("Advertising", &[])).1.contains("not a revenue account"));
        assert!(only(refused("Salse", &[])).1.starts_with("Xero has no account “Salse”"));
        let (field, message) = only(refused("200", &[("GST - 10.0 %", "INPUT")]));
        assert_eq!((field.as_str(), message.contains("cannot be used on sales")), ("tax_type_0", true));
        let (field, _) = only(refused("", &[("GST - 10.0 %", "OUTPUT"), ("GST Free - 0.0 %", "TAX999")]));
        assert_eq!(field, "tax_type_1");
        assert!(only(refused("", &[("VAT 20 %", "OUTPUT")])).1.contains("no tax “VAT 20 %”"));
        assert!(only(refused("", &[("GST - 10.0 %", "OUTPUT"), ("gst - 10.0 %", "OUTPUT")])).1.contains("twice"));
    }

    #[test]
    fn rows_keep_what_is_stored_and_propose_the_rest() {
        let stored = OrgDefaults {
            gl_account: None,
            taxes: vec![TaxMapping { crm_tax: "GST - 10.0 %".into(), tax_type: "OUTPUT".into() }],
        };
        let mut taxes = crm();
        taxes.push("Luxury - 33 %".into());
        let (rows, unmapped) = rows(&taxes, &stored, &rates());
        let shown: Vec<(&str, Option<&str>, bool)> =
            rows.iter().map(|r| (r.crm_tax.as_str(), r.tax_type.as_deref(), r.proposed)).collect();
        assert_eq!(
            shown,
            [
                ("GST - 10.0 %", Some("OUTPUT"), false),
                ("GST Free - 0.0 %", Some("EXEMPTOUTPUT"), true),
                ("Luxury - 33 %", None, false)
            ]
        );
        assert_eq!(unmapped, ["Luxury - 33 %"]);
    }
}
