//! The checklist: one requirement per field the sync needs, in the order the widget lists them.

use crate::fields::{self, FieldMap};

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
