//! The seeded Products: a few that sync cleanly and one per sync rule they break.
//!
//! The valid ones use the GL account "Sales" and the tax rate "GST on Income", which the Xero simulator's
//! Australian org has.

use chrono::{DateTime, FixedOffset};
use serde_json::{Map, Value, json};

use super::{CustomFields, format_time};

/// Stable ids of the seeded products (19-digit numeric strings, like Zoho's).
pub mod products {
    /// Valid: "Wireless Mouse", code `WM-100`.
    pub const WIRELESS_MOUSE: &str = "4150868000000411001";
    /// Valid: "Mechanical Keyboard", code `KB-200`.
    pub const MECHANICAL_KEYBOARD: &str = "4150868000000411002";
    /// Valid: "USB-C Hub", code `HUB-7P`.
    pub const USB_C_HUB: &str = "4150868000000411003";
    /// Valid, with no description: "Monitor Arm", code `ARM-1`.
    pub const MONITOR_ARM: &str = "4150868000000411004";
    /// Valid on its own, but its code `wm-100` differs from [`WIRELESS_MOUSE`]'s only in case (Xero item
    /// codes are unique regardless of case).
    pub const WIRELESS_MOUSE_LOWERCASE: &str = "4150868000000411005";
    /// Breaks: Product_Code is missing.
    pub const NO_CODE: &str = "4150868000000411006";
    /// Breaks: Product_Code is longer than 30 characters (Xero's limit; Zoho allows 40).
    pub const LONG_CODE: &str = "4150868000000411007";
    /// Breaks: Product_Code contains a `/`.
    pub const SLASH_CODE: &str = "4150868000000411008";
    /// Breaks: Product_Name is longer than 50 characters (Xero's limit; Zoho allows 120).
    pub const LONG_NAME: &str = "4150868000000411009";
    /// Breaks: Add_to_Xero is unticked.
    pub const NOT_FOR_XERO: &str = "4150868000000411010";
    /// Breaks: Taxable is unticked.
    pub const NOT_TAXABLE: &str = "4150868000000411011";
    /// Breaks: Taxable but no Tax selected.
    pub const NO_TAX: &str = "4150868000000411012";
    /// Breaks: the Xero GL account is missing.
    pub const NO_GL_ACCOUNT: &str = "4150868000000411013";
    /// Breaks: the Xero GL account "Salse" (a typo of "Sales") does not exist in Xero.
    pub const UNKNOWN_GL_ACCOUNT: &str = "4150868000000411014";
    /// Breaks: the Xero tax rate "VAT on Income" does not exist in the Australian org.
    pub const UNKNOWN_TAX_RATE: &str = "4150868000000411015";
    /// Breaks: Unit_Price is negative.
    pub const NEGATIVE_PRICE: &str = "4150868000000411016";
    /// Breaks: Unit_Price has 5 decimals (Xero keeps at most 4).
    pub const FIVE_DECIMAL_PRICE: &str = "4150868000000411017";
    /// Breaks: the product is inactive (Product_Active unticked).
    pub const INACTIVE: &str = "4150868000000411018";
    /// Breaks two rules at once: Product_Code and the Xero GL account are both missing (the widget's first
    /// end-to-end test).
    pub const NO_CODE_NO_GL_ACCOUNT: &str = "4150868000000411019";
    /// Valid, but inconsistent: the CRM tax is "GST Free - 0.0 %" and the Xero tax rate "GST on Income"
    /// (10 %), a warning.
    pub const GST_FREE_AT_TEN_PERCENT: &str = "4150868000000411020";
    /// Only name, code, Add to Xero, Taxable and Tax ("GST - 10.0 %"): no Xero GL account and no Xero tax
    /// rate, which the organisation's defaults can fill.
    pub const NO_XERO_FIELDS: &str = "4150868000000411021";
}

/// Ids handed to products created later ([`super::ZohoSim::insert_product`]).
pub(super) const FIRST_FREE_ID: u64 = 4_150_868_000_000_412_001;

const USER_ID: &str = "4150868000000225013";

/// The org's taxes as CRM lists them in the `Tax` multi-select.
pub(super) const TAXES: [(&str, &str); 2] =
    [("4150868000000045001", "GST - 10.0 %"), ("4150868000000045003", "GST Free - 0.0 %")];

/// `{name, id, email}` of the sandbox's one CRM user.
pub(super) fn user_lookup() -> Value {
    json!({"name": "Olivia Nguyen", "id": USER_ID, "email": "olivia.nguyen@example.com.au"})
}

/// The full user record `getCurrentUser` answers with.
pub(crate) fn current_user() -> Value {
    json!({
        "id": USER_ID,
        "full_name": "Olivia Nguyen",
        "first_name": "Olivia",
        "last_name": "Nguyen",
        "email": "olivia.nguyen@example.com.au",
        "zuid": "71234567",
        "status": "active",
        "role": {"name": "CEO", "id": "4150868000000026005"},
        "profile": {"name": "Administrator", "id": "4150868000000026011"},
        "locale": "en_AU",
        "country_locale": "en_AU",
        "time_zone": "Australia/Sydney",
        "time_format": "hh:mm a",
        "date_format": "dd/MM/yyyy",
    })
}

/// Ownership, timestamps and the read-only `$` metadata every record carries.
pub(super) fn metadata(id: &str, created: &str, modified: &str) -> Map<String, Value> {
    let user = user_lookup();
    let Value::Object(record) = json!({
        "id": id,
        "Owner": user,
        "Created_By": user,
        "Modified_By": user,
        "Created_Time": created,
        "Modified_Time": modified,
        "Tag": [],
        "Record_Image": null,
        "Record_Status__s": "Available",
        "Locked__s": false,
        "$currency_symbol": "A$",
        "$field_states": null,
        "$review_process": {"approve": false, "reject": false, "resubmit": false},
        "$sharing_permission": "full_access",
        "$state": "save",
        "$process_flow": false,
        "$locked_for_me": false,
        "$approved": true,
        "$approval": {"delegate": false, "takeover": false, "approve": false, "reject": false, "resubmit": false},
        "$editable": true,
        "$orchestration": false,
        "$in_merge": false,
        "$approval_state": "approved",
    }) else {
        unreachable!("a JSON object literal")
    };
    record
}

/// What makes one seeded product; [`valid`] gives a product that passes every rule.
struct Seed {
    id: &'static str,
    name: &'static str,
    code: Option<&'static str>,
    price: f64,
    description: Option<&'static str>,
    active: bool,
    taxable: bool,
    /// The CRM tax selected, by its place in [`TAXES`]; `None`: no tax.
    tax: Option<usize>,
    add_to_xero: bool,
    gl_account: Option<&'static str>,
    tax_rate: Option<&'static str>,
}

const fn valid(id: &'static str, name: &'static str, code: &'static str, price: f64) -> Seed {
    Seed {
        id,
        name,
        code: Some(code),
        price,
        description: Some("Stocked item, sold individually."),
        active: true,
        taxable: true,
        tax: Some(0),
        add_to_xero: true,
        gl_account: Some("Sales"),
        tax_rate: Some("GST on Income"),
    }
}

fn seeds() -> Vec<Seed> {
    use products::*;
    vec![
        valid(WIRELESS_MOUSE, "Wireless Mouse", "WM-100", 39.95),
        valid(MECHANICAL_KEYBOARD, "Mechanical Keyboard", "KB-200", 149.0),
        valid(USB_C_HUB, "USB-C Hub", "HUB-7P", 59.5),
        Seed { description: None, ..valid(MONITOR_ARM, "Monitor Arm", "ARM-1", 89.0) },
        valid(WIRELESS_MOUSE_LOWERCASE, "Wireless Mouse (Black)", "wm-100", 42.0),
        Seed { code: None, ..valid(NO_CODE, "Laptop Stand", "", 45.0) },
        valid(LONG_CODE, "HDMI 2.1 Cable 3m", "CABLE-HDMI-2.1-ULTRA-HIGH-SPEED-3M", 24.95),
        valid(SLASH_CODE, "Standard Desk", "DESK/STD", 329.0),
        valid(
            LONG_NAME,
            "Ergonomic Height-Adjustable Standing Desk with Dual Motor and Memory Presets",
            "DESK-ERGO-2M",
            899.0,
        ),
        Seed { add_to_xero: false, ..valid(NOT_FOR_XERO, "Internal Asset Tag", "TAG-INT", 0.5) },
        Seed { taxable: false, ..valid(NOT_TAXABLE, "Gift Card", "GIFT-50", 50.0) },
        Seed { tax: None, ..valid(NO_TAX, "Webcam HD", "CAM-HD", 79.0) },
        Seed { gl_account: None, ..valid(NO_GL_ACCOUNT, "Headset", "HS-300", 119.0) },
        Seed { gl_account: Some("Salse"), ..valid(UNKNOWN_GL_ACCOUNT, "Desk Lamp", "LAMP-LED", 35.0) },
        Seed { tax_rate: Some("VAT on Income"), ..valid(UNKNOWN_TAX_RATE, "Docking Station", "DOCK-4K", 249.0) },
        valid(NEGATIVE_PRICE, "Returns Credit", "CREDIT-RET", -5.0),
        valid(FIVE_DECIMAL_PRICE, "Cable Tie (each)", "TIE-100", 0.12345),
        Seed { active: false, ..valid(INACTIVE, "Legacy Trackball", "TB-OLD", 65.0) },
        Seed { code: None, gl_account: None, ..valid(NO_CODE_NO_GL_ACCOUNT, "Mouse Pad", "", 9.95) },
        Seed { tax: Some(1), ..valid(GST_FREE_AT_TEN_PERCENT, "Printed Manual", "MAN-PRINT", 12.0) },
        Seed { gl_account: None, tax_rate: None, ..valid(NO_XERO_FIELDS, "USB Charger", "CHG-USB", 24.0) },
    ]
}

/// Builds the seeded records. Times are relative to `now` so later updates always look newer.
pub(super) fn products(fields: &CustomFields, now: DateTime<FixedOffset>) -> Vec<Map<String, Value>> {
    let count = seeds().len() as i64;
    seeds()
        .into_iter()
        .enumerate()
        .map(|(i, seed)| {
            let i = i as i64;
            let created = now - chrono::Duration::days(40 - i);
            let modified = now - chrono::Duration::days(1) - chrono::Duration::hours(count - i);
            record(
                fields,
                &Product {
                    id: seed.id,
                    name: seed.name,
                    code: seed.code,
                    price: seed.price,
                    description: seed.description,
                    active: seed.active,
                    taxable: seed.taxable,
                    tax: seed.tax,
                    add_to_xero: seed.add_to_xero,
                    gl_account: seed.gl_account,
                    tax_rate: seed.tax_rate,
                    stock: 25.0,
                    created,
                    modified,
                },
            )
        })
        .collect()
}

/// What a product record is made of, seeded or generated.
pub(super) struct Product<'a> {
    pub(super) id: &'a str,
    pub(super) name: &'a str,
    pub(super) code: Option<&'a str>,
    pub(super) price: f64,
    pub(super) description: Option<&'a str>,
    pub(super) active: bool,
    pub(super) taxable: bool,
    /// The CRM tax selected, by its place in [`TAXES`]; `None`: no tax.
    pub(super) tax: Option<usize>,
    pub(super) add_to_xero: bool,
    pub(super) gl_account: Option<&'a str>,
    pub(super) tax_rate: Option<&'a str>,
    pub(super) stock: f64,
    pub(super) created: DateTime<FixedOffset>,
    pub(super) modified: DateTime<FixedOffset>,
}

/// A Products record as Zoho returns it: the metadata, the standard fields, and the custom fields under the
/// organisation's names (never synced yet). One builder for the seeds and the generated catalogue.
pub(super) fn record(fields: &CustomFields, product: &Product<'_>) -> Map<String, Value> {
    let mut record = metadata(product.id, &format_time(product.created), &format_time(product.modified));
    let tax: Vec<Value> = product.tax.map(|i| json!({"id": TAXES[i].0, "value": TAXES[i].1})).into_iter().collect();
    let Value::Object(body) = json!({
        "Product_Name": product.name,
        "Product_Code": product.code,
        "Product_Active": product.active,
        "Product_Category": "Hardware",
        "Manufacturer": null,
        "Vendor_Name": null,
        "Usage_Unit": "Unit",
        "Unit_Price": product.price,
        "Commission_Rate": null,
        "Qty_in_Stock": product.stock,
        "Qty_Ordered": 0.0,
        "Reorder_Level": 5.0,
        "Taxable": product.taxable,
        "Tax": tax,
        "Description": product.description,
        (fields.add_to_xero.as_str()): product.add_to_xero,
        (fields.gl_account.as_str()): product.gl_account,
        (fields.tax_rate.as_str()): product.tax_rate,
        (fields.item_id.as_str()): null,
        (fields.last_synced.as_str()): null,
        (fields.sync_status.as_str()): null,
    }) else {
        unreachable!("a JSON object literal")
    };
    record.extend(body);
    record
}
