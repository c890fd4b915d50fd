//! Xero's validation messages, placed on the CRM fields they concern, so the widget can show them next to
//! the field to fix instead of as a raw error.

use shared::{FieldMap, Issue, IssueCode, fields};

/// One issue per message, on the field the message names; a message naming none goes on no field (`""`).
pub(crate) fn issues_from_xero(messages: &[String], map: &FieldMap) -> Vec<Issue> {
    messages.iter().map(|m| Issue::error(field_of(m, map), IssueCode::XeroRejected, m.clone())).collect()
}

fn field_of<'a>(message: &str, map: &'a FieldMap) -> &'a str {
    let lower = message.to_lowercase();
    // Order matters: "TaxType code 'X' cannot be used with account code '200'" is about the tax rate.
    if lower.contains("taxtype") || lower.contains("tax type") || lower.contains("tax rate") {
        &map.tax_rate
    } else if lower.contains("account") {
        &map.gl_account
    } else if lower.contains("item code") || lower.contains("code") {
        fields::PRODUCT_CODE
    } else if lower.contains("name") {
        fields::PRODUCT_NAME
    } else if lower.contains("description") {
        fields::DESCRIPTION
    } else if lower.contains("price") {
        fields::UNIT_PRICE
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xero_messages_land_on_their_fields() {
        let map = FieldMap::default();
        let field = |m: &str| field_of(m, &map).to_owned();
        assert_eq!(field("The TaxType code 'INPUT' cannot be used with account code '200'."), "Xero_Tax_Rate");
        assert_eq!(field("Account code '999' is not a valid code for this document."), "Xero_GL_Account");
        assert_eq!(field("Price List Item with Code 'ABC' already exists"), "Product_Code");
        assert_eq!(field("The Name must be 50 characters or less"), "Product_Name");
        assert_eq!(field("Description is too long"), "Description");
        assert_eq!(field("Something else entirely"), "");
    }
}
