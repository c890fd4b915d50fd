//! The organisation's defaults (issue 14): the GL account a product with an empty `Xero_GL_Account` is
//! posted to, and the Xero tax rate each CRM tax stands for, so a new CRM product needs no Xero typing.
//!
//! An admin sets them; [`prefill_tax_mapping`] proposes the mapping from the CRM's taxes and Xero's rates.
//! The rules ([`crate::rules::validate_with`]) resolve an empty field through them and say where each
//! value came from ([`crate::xero::Origin`]).

use serde::{Deserialize, Serialize};

use crate::rules::same_name;
use crate::suggest::closest;
use crate::tax::{Percent, crm_tax_name, crm_tax_percent};
use crate::xero::TaxRate;

/// The organisation's defaults. Empty (the `Default`) means none: the rules behave exactly as without.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OrgDefaults {
    /// The code of the account an empty `Xero_GL_Account` resolves to: one of the organisation's active
    /// revenue accounts with a code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gl_account: Option<String>,
    /// The Xero tax rate of each CRM tax, for products with an empty `Xero_Tax_Rate`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub taxes: Vec<TaxMapping>,
}

/// One CRM tax and the Xero tax rate it stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxMapping {
    /// The tax as the CRM's `Tax` field names it, e.g. "GST - 10.0 %".
    pub crm_tax: String,
    /// The Xero TaxType, e.g. `OUTPUT`.
    pub tax_type: String,
}

impl OrgDefaults {
    /// No defaults: what [`crate::rules::validate`] uses.
    pub const NONE: OrgDefaults = OrgDefaults { gl_account: None, taxes: Vec::new() };

    /// The default account's code, when one is set.
    pub fn gl_account(&self) -> Option<&str> {
        self.gl_account.as_deref().map(str::trim).filter(|c| !c.is_empty())
    }

    /// Whether there are none (the rules then behave exactly as without).
    pub fn is_none(&self) -> bool {
        self.gl_account().is_none() && self.taxes.is_empty()
    }

    /// The defaults of an options answer (`GET /api/xero/options`), none when it carries none.
    pub fn in_options(options: &serde_json::Value) -> OrgDefaults {
        options.get("defaults").and_then(crate::wire::FromJson::from_json).unwrap_or_default()
    }

    /// The TaxType a CRM tax maps to (names compared as the rules compare names).
    pub fn tax_type_for(&self, crm_tax: &str) -> Option<&str> {
        self.taxes.iter().find(|m| same_name(&m.crm_tax, crm_tax)).map(|m| m.tax_type.as_str())
    }
}

/// A proposed mapping for the admin to confirm: the CRM taxes a Xero rate was found for, and the others.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaxMappingProposal {
    pub mapped: Vec<TaxMapping>,
    pub unmapped: Vec<String>,
}

/// Proposes the Xero rate of each CRM tax among the rates a product can be sold with: the rates with the
/// CRM tax's percentage ("GST - 10.0 %" → the 10 % rates), then, when several have it, the closest name
/// ("GST Free - 0.0 %" → "GST Free Income" rather than "BAS Excluded"). A CRM tax that names no percentage
/// is matched by name alone. No plausible rate: unmapped, for the admin to choose.
pub fn prefill_tax_mapping(crm_taxes: &[&str], rates: &[TaxRate]) -> TaxMappingProposal {
    let mut proposal = TaxMappingProposal::default();
    let usable: Vec<&TaxRate> = rates.iter().filter(|r| r.is_selectable()).collect();
    for &crm_tax in crm_taxes {
        let percent = crm_tax_percent(crm_tax);
        let pool: Vec<&TaxRate> = match percent {
            Some(percent) => usable
                .iter()
                .copied()
                .filter(|r| r.effective_rate.and_then(Percent::from_rate) == Some(percent))
                .collect(),
            None => usable.clone(),
        };
        let name = crm_tax_name(crm_tax);
        let best = match pool.as_slice() {
            [only] if percent.is_some() => Some(*only),
            _ => closest(name, pool.iter().map(|r| r.name.as_str()), 1)
                .first()
                .and_then(|best| pool.iter().copied().find(|r| &r.name == best)),
        };
        match best {
            Some(rate) => {
                proposal.mapped.push(TaxMapping { crm_tax: crm_tax.to_owned(), tax_type: rate.tax_type.clone() })
            }
            None => proposal.unmapped.push(crm_tax.to_owned()),
        }
    }
    proposal
}
