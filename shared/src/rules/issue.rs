//! The issue vocabulary: what the rules (and the backend, and Xero) say about a field.

use serde::{Deserialize, Serialize};

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
    /// One of Xero's system or control accounts (receivables, payables, GST/VAT, bank, retained earnings).
    GlAccountSystem,
    TaxRateMissing,
    TaxRateUnknown,
    TaxRateInactive,
    TaxRateNotForSales,
    /// The CRM tax's percentage and the Xero rate's differ.
    TaxRateMismatch,
    /// An empty tax rate, and a CRM tax the organisation's mapping does not cover.
    TaxUnmapped,
    /// An empty tax rate, and CRM taxes the mapping sends to different Xero rates.
    TaxMappingConflict,
    /// The organisation's default account, or the rate a CRM tax maps to, is archived or gone in Xero.
    DefaultArchived,
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

    pub(super) fn with_suggestions(mut self, suggestions: Vec<String>) -> Self {
        self.suggestions = suggestions;
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}
