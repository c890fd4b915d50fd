//! The CRM field API names the sync uses.
//!
//! Standard Products fields have fixed API names. Custom fields get theirs from the label an admin typed,
//! and admins can rename them, so every custom name is configurable; the defaults are what Zoho generates
//! for the labels in our setup guide.

use serde::{Deserialize, Serialize};

/// Standard Products fields (fixed by Zoho).
pub const ID: &str = "id";
pub const PRODUCT_NAME: &str = "Product_Name";
pub const PRODUCT_CODE: &str = "Product_Code";
pub const PRODUCT_ACTIVE: &str = "Product_Active";
pub const TAXABLE: &str = "Taxable";
pub const TAX: &str = "Tax";
pub const UNIT_PRICE: &str = "Unit_Price";
pub const DESCRIPTION: &str = "Description";
pub const MODIFIED_TIME: &str = "Modified_Time";

/// API names of the custom fields, per CRM organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FieldMap {
    /// Checkbox: the product is meant to exist in Xero.
    pub add_to_xero: String,
    /// Text or pick-list: the Xero GL (sales) account, by name or code.
    pub gl_account: String,
    /// Text or pick-list: the Xero tax rate, by name or TaxType code.
    pub tax_rate: String,
    /// Written back: the Xero ItemID.
    pub item_id: String,
    /// Written back: when the product was last synced (ISO-8601).
    pub last_synced: String,
    /// Written back: the outcome of the last sync, in words.
    pub sync_status: String,
}

impl Default for FieldMap {
    fn default() -> Self {
        Self {
            add_to_xero: "Add_to_Xero".into(),
            gl_account: "Xero_GL_Account".into(),
            tax_rate: "Xero_Tax_Rate".into(),
            item_id: "Xero_Item_ID".into(),
            last_synced: "Xero_Last_Synced".into(),
            sync_status: "Xero_Sync_Status".into(),
        }
    }
}

impl FieldMap {
    /// The custom fields, each with its label in the setup guide.
    pub fn custom_fields(&self) -> [(&'static str, &str); 6] {
        [
            ("Add to Xero", &self.add_to_xero),
            ("Xero GL Account", &self.gl_account),
            ("Xero Tax Rate", &self.tax_rate),
            ("Xero Item ID", &self.item_id),
            ("Xero Last Synced", &self.last_synced),
            ("Xero Sync Status", &self.sync_status),
        ]
    }

    /// Every API name the sync reads, for the `fields` parameter of Zoho's list call.
    pub fn read_fields(&self) -> Vec<&str> {
        vec![
            ID,
            PRODUCT_NAME,
            PRODUCT_CODE,
            PRODUCT_ACTIVE,
            TAXABLE,
            TAX,
            UNIT_PRICE,
            DESCRIPTION,
            MODIFIED_TIME,
            &self.add_to_xero,
            &self.gl_account,
            &self.tax_rate,
            &self.item_id,
            &self.last_synced,
            &self.sync_status,
        ]
    }
}
