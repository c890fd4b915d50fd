//! What a product is checked against: the connected organisation's chart of accounts, its tax rates and
//! its defaults (issue 14). The single sync, the preview, the widget's options and the bulk engine all
//! take them from [`Organisation::load`] and check products with [`Organisation::check`], so they resolve
//! the same account and rate; [`resolution_note`] says, for the log and the CRM's status, which came from
//! the defaults.

use std::sync::Arc;

use shared::{
    Account, CrmProduct, FieldMap, OrgDefaults, Origin, Report, Resolved, TaxRate, XeroContext, validate_with,
};

use super::SyncError;
use crate::store::Store;
use crate::xero::XeroClient;

/// The connected organisation's lists (cached by the Xero client) and its defaults (read from the store).
#[derive(Debug, Clone)]
pub(crate) struct Organisation {
    pub(crate) tenant_id: String,
    pub(crate) accounts: Arc<Vec<Account>>,
    pub(crate) tax_rates: Arc<Vec<TaxRate>>,
    pub(crate) defaults: OrgDefaults,
}

impl Organisation {
    /// The lists and defaults of the organisation `tenant_id`: one read of the store, and Xero's lists from
    /// the client's cache (refetched when stale). A bulk run loads it once per batch.
    pub(crate) async fn load(store: &Store, xero: &XeroClient, tenant_id: &str) -> Result<Organisation, SyncError> {
        let (accounts, tax_rates) = tokio::try_join!(xero.accounts(tenant_id), xero.tax_rates(tenant_id))?;
        let defaults = store.org_defaults().await?;
        Ok(Organisation { tenant_id: tenant_id.to_owned(), accounts, tax_rates, defaults })
    }

    /// The shared rules against the organisation's lists, with its defaults: every issue, and the account
    /// and rate the product resolves to, with where each came from.
    pub(crate) fn check(&self, product: &CrmProduct, fields: &FieldMap) -> Report {
        let context = XeroContext { accounts: Some(&self.accounts), tax_rates: Some(&self.tax_rates) };
        validate_with(product, fields, context, &self.defaults)
    }
}

/// Which resolved values came from the organisation's defaults, in words ("account 200 is the
/// organisation's default; tax rate OUTPUT is mapped from the CRM tax “GST - 10.0 %”"); `None` when both
/// were typed on the product.
pub(crate) fn resolution_note(resolved: &Resolved) -> Option<String> {
    let account = match &resolved.account_origin {
        Origin::Typed => None,
        Origin::Default => Some(format!("account {} is the organisation's default", resolved.account_code)),
        Origin::Mapping(tax) => Some(format!("account {} comes from the CRM tax “{tax}”", resolved.account_code)),
    };
    let rate = match &resolved.tax_origin {
        Origin::Typed => None,
        Origin::Default => Some(format!("tax rate {} is the organisation's default", resolved.tax_type)),
        Origin::Mapping(tax) => Some(format!("tax rate {} is mapped from the CRM tax “{tax}”", resolved.tax_type)),
    };
    let parts: Vec<String> = account.into_iter().chain(rate).collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved(account_origin: Origin, tax_origin: Origin) -> Resolved {
        Resolved { account_code: "200".into(), tax_type: "OUTPUT".into(), account_origin, tax_origin }
    }

    #[test]
    fn the_note_names_what_came_from_the_defaults() {
        assert_eq!(resolution_note(&resolved(Origin::Typed, Origin::Typed)), None);
        assert_eq!(
            resolution_note(&resolved(Origin::Default, Origin::Mapping("GST - 10.0 %".into()))).as_deref(),
            Some(
                "account 200 is the organisation's default; tax rate OUTPUT is mapped from the CRM tax “GST - 10.0 %”"
            )
        );
        assert_eq!(
            resolution_note(&resolved(Origin::Typed, Origin::Mapping("GST Free - 0.0 %".into()))).as_deref(),
            Some("tax rate OUTPUT is mapped from the CRM tax “GST Free - 0.0 %”")
        );
    }
}
