//! One test per sync rule. They run natively and, in CI, on wasm32 in headless Chromium, because the widget
//! runs these very rules in the browser.

use serde_json::{Value, json};
use shared::{Account, CrmProduct, FieldMap, IssueCode, Report, Requirement, Severity, TaxRate, XeroContext, validate};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

fn valid_record() -> Value {
    json!({
        "id": "4150868000000224005",
        "Product_Name": "Ergonomic Chair",
        "Product_Code": "CHAIR-ERGO",
        "Product_Active": true,
        "Taxable": true,
        "Tax": [{"id": "4150868000000045001", "value": "GST - 10.0 %"}],
        "Unit_Price": 349.5,
        "Description": "Mesh back, adjustable arms.",
        "Modified_Time": "2026-11-20T10:15:00+11:00",
        "Add_to_Xero": true,
        "Xero_GL_Account": "Sales",
        "Xero_Tax_Rate": "GST on Income",
        "Xero_Item_ID": null,
        "Owner": {"name": "Pat", "id": "1"}
    })
}

fn with(changes: Value) -> Value {
    let mut record = valid_record();
    for (k, v) in changes.as_object().expect("object") {
        record[k] = v.clone();
    }
    record
}

fn accounts() -> Vec<Account> {
    serde_json::from_value(json!([
        {"AccountID": "a1", "Code": "200", "Name": "Sales", "Status": "ACTIVE", "Class": "REVENUE", "Type": "REVENUE"},
        {"AccountID": "a2", "Code": "260", "Name": "Other Revenue", "Status": "ACTIVE", "Class": "REVENUE", "Type": "OTHERINCOME"},
        {"AccountID": "a3", "Code": "205", "Name": "Sales - Old Range", "Status": "ARCHIVED", "Class": "REVENUE", "Type": "SALES"},
        {"AccountID": "a4", "Name": "Historical Adjustment", "Status": "ACTIVE", "Class": "LIABILITY", "Type": "CURRLIAB"},
        {"AccountID": "a5", "Code": "469", "Name": "Rent", "Status": "ACTIVE", "Class": "EXPENSE", "Type": "OVERHEADS"}
    ]))
    .expect("accounts")
}

fn tax_rates() -> Vec<TaxRate> {
    serde_json::from_value(json!([
        {"Name": "GST on Income", "TaxType": "OUTPUT", "Status": "ACTIVE", "CanApplyToRevenue": true, "EffectiveRate": 10.0},
        {"Name": "GST Free Income", "TaxType": "EXEMPTOUTPUT", "Status": "ACTIVE", "CanApplyToRevenue": true},
        {"Name": "GST on Expenses", "TaxType": "INPUT", "Status": "ACTIVE", "CanApplyToRevenue": false},
        {"Name": "Old Luxury Tax", "TaxType": "TAX002", "Status": "DELETED", "CanApplyToRevenue": true}
    ]))
    .expect("tax rates")
}

fn check(record: Value) -> Report {
    let product = CrmProduct::from_json(&record, &FieldMap::default()).expect("record");
    validate(&product, &FieldMap::default(), XeroContext::NONE)
}

fn check_live(record: Value) -> Report {
    let (accounts, rates) = (accounts(), tax_rates());
    let product = CrmProduct::from_json(&record, &FieldMap::default()).expect("record");
    validate(&product, &FieldMap::default(), XeroContext { accounts: Some(&accounts), tax_rates: Some(&rates) })
}

/// The report's issues as (field, code, severity), for exact comparisons.
fn codes(report: &Report) -> Vec<(&str, IssueCode, Severity)> {
    report.issues.iter().map(|i| (i.field.as_str(), i.code, i.severity)).collect()
}

const E: Severity = Severity::Error;
const W: Severity = Severity::Warning;

#[wasm_bindgen_test(unsupported = test)]
fn a_complete_product_has_no_issues_and_resolves() {
    let report = check_live(valid_record());
    assert!(report.issues.is_empty(), "{:?}", report.issues);
    let resolved = report.resolved.expect("resolved");
    assert_eq!((resolved.account_code.as_str(), resolved.tax_type.as_str()), ("200", "OUTPUT"));
    assert!(check(valid_record()).issues.is_empty());
    assert_eq!(check(valid_record()).resolved, None, "nothing resolves without Xero's lists");
}

#[wasm_bindgen_test(unsupported = test)]
fn name_must_be_present_after_trimming() {
    for name in [json!(null), json!(""), json!("   ")] {
        assert_eq!(codes(&check(with(json!({"Product_Name": name})))), [("Product_Name", IssueCode::NameMissing, E)]);
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn name_is_at_most_50_characters() {
    assert!(check(with(json!({"Product_Name": "é".repeat(50)}))).issues.is_empty(), "counts characters, not bytes");
    let report = check(with(json!({"Product_Name": "x".repeat(51)})));
    assert_eq!(codes(&report), [("Product_Name", IssueCode::NameTooLong, E)]);
    assert!(report.issues[0].message.contains("51"), "{}", report.issues[0].message);
}

#[wasm_bindgen_test(unsupported = test)]
fn code_must_be_present() {
    for code in [json!(null), json!(""), json!("  ")] {
        assert_eq!(codes(&check(with(json!({"Product_Code": code})))), [("Product_Code", IssueCode::CodeMissing, E)]);
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn code_is_at_most_30_characters() {
    assert!(check(with(json!({"Product_Code": "C".repeat(30)}))).issues.is_empty());
    assert_eq!(
        codes(&check(with(json!({"Product_Code": "C".repeat(31)})))),
        [("Product_Code", IssueCode::CodeTooLong, E)]
    );
}

#[wasm_bindgen_test(unsupported = test)]
fn code_has_no_surrounding_spaces() {
    for code in [" CHAIR", "CHAIR ", "\tCHAIR"] {
        assert_eq!(
            codes(&check(with(json!({"Product_Code": code})))),
            [("Product_Code", IssueCode::CodeSurroundingSpaces, E)]
        );
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn code_with_a_slash_is_a_warning() {
    let report = check(with(json!({"Product_Code": "CHAIR/ERGO"})));
    assert_eq!(codes(&report), [("Product_Code", IssueCode::CodeUnsafeCharacter, W)]);
    assert!(report.can_sync(), "a warning does not block");
}

#[wasm_bindgen_test(unsupported = test)]
fn add_to_xero_must_be_ticked() {
    for value in [json!(false), json!(null)] {
        assert_eq!(
            codes(&check(with(json!({"Add_to_Xero": value})))),
            [("Add_to_Xero", IssueCode::NotMarkedForXero, E)]
        );
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn taxable_must_be_ticked() {
    assert_eq!(codes(&check(with(json!({"Taxable": false})))), [("Taxable", IssueCode::NotTaxable, E)]);
}

#[wasm_bindgen_test(unsupported = test)]
fn at_least_one_tax_is_selected() {
    for tax in [json!(null), json!([]), json!("")] {
        assert_eq!(codes(&check(with(json!({"Tax": tax})))), [("Tax", IssueCode::TaxMissing, E)]);
    }
    assert!(check(with(json!({"Tax": ["VAT 20%"]}))).issues.is_empty());
}

#[wasm_bindgen_test(unsupported = test)]
fn gl_account_must_be_chosen() {
    let report = check(with(json!({"Xero_GL_Account": null})));
    assert_eq!(codes(&report), [("Xero_GL_Account", IssueCode::GlAccountMissing, E)]);
}

#[wasm_bindgen_test(unsupported = test)]
fn gl_account_matches_an_active_account_ignoring_case_or_by_code() {
    for typed in ["sales", " SALES ", "200"] {
        let report = check_live(with(json!({"Xero_GL_Account": typed})));
        assert!(report.issues.is_empty(), "{typed}: {:?}", report.issues);
        assert_eq!(report.resolved.expect("resolved").account_code, "200");
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn unknown_gl_account_suggests_the_closest_names() {
    let report = check_live(with(json!({"Xero_GL_Account": "Salse"})));
    assert_eq!(codes(&report), [("Xero_GL_Account", IssueCode::GlAccountUnknown, E)]);
    assert_eq!(report.issues[0].suggestions, ["Sales"]);
    assert!(report.issues[0].message.contains("Did you mean “Sales”?"), "{}", report.issues[0].message);
    assert_eq!(report.resolved, None);
    // Without Xero's list the same product passes: the name can only be checked against the organisation.
    assert!(check(with(json!({"Xero_GL_Account": "Salse"}))).issues.is_empty());
}

#[wasm_bindgen_test(unsupported = test)]
fn archived_or_codeless_accounts_are_refused() {
    let archived = check_live(with(json!({"Xero_GL_Account": "Sales - Old Range"})));
    assert_eq!(codes(&archived), [("Xero_GL_Account", IssueCode::GlAccountArchived, E)]);
    assert!(archived.issues[0].message.contains("archived"));
    let codeless = check_live(with(json!({"Xero_GL_Account": "historical adjustment"})));
    assert_eq!(codes(&codeless), [("Xero_GL_Account", IssueCode::GlAccountWithoutCode, E)]);
}

#[wasm_bindgen_test(unsupported = test)]
fn a_non_revenue_account_is_a_warning() {
    let report = check_live(with(json!({"Xero_GL_Account": "Rent"})));
    assert_eq!(codes(&report), [("Xero_GL_Account", IssueCode::GlAccountNotRevenue, W)]);
    assert_eq!(report.resolved.expect("still resolves").account_code, "469");
}

#[wasm_bindgen_test(unsupported = test)]
fn tax_rate_must_be_chosen() {
    assert_eq!(codes(&check(with(json!({"Xero_Tax_Rate": " "})))), [("Xero_Tax_Rate", IssueCode::TaxRateMissing, E)]);
}

#[wasm_bindgen_test(unsupported = test)]
fn tax_rate_matches_an_active_revenue_rate_by_name_or_type() {
    for typed in ["gst on income", "OUTPUT"] {
        let report = check_live(with(json!({"Xero_Tax_Rate": typed})));
        assert!(report.issues.is_empty(), "{typed}: {:?}", report.issues);
        assert_eq!(report.resolved.expect("resolved").tax_type, "OUTPUT");
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn tax_rates_that_are_unknown_deleted_or_for_expenses_are_refused() {
    let unknown = check_live(with(json!({"Xero_Tax_Rate": "GST on Incme"})));
    assert_eq!(codes(&unknown), [("Xero_Tax_Rate", IssueCode::TaxRateUnknown, E)]);
    assert_eq!(unknown.issues[0].suggestions.first().map(String::as_str), Some("GST on Income"));
    let deleted = check_live(with(json!({"Xero_Tax_Rate": "Old Luxury Tax"})));
    assert_eq!(codes(&deleted), [("Xero_Tax_Rate", IssueCode::TaxRateInactive, E)]);
    let expense = check_live(with(json!({"Xero_Tax_Rate": "GST on Expenses"})));
    assert_eq!(codes(&expense), [("Xero_Tax_Rate", IssueCode::TaxRateNotForSales, E)]);
}

#[wasm_bindgen_test(unsupported = test)]
fn price_is_optional_but_never_negative() {
    assert!(check(with(json!({"Unit_Price": null}))).issues.is_empty());
    assert!(check(with(json!({"Unit_Price": 0}))).issues.is_empty());
    assert_eq!(codes(&check(with(json!({"Unit_Price": -1})))), [("Unit_Price", IssueCode::PriceNegative, E)]);
}

#[wasm_bindgen_test(unsupported = test)]
fn price_has_at_most_four_decimals_and_warns_above_two() {
    assert!(check(with(json!({"Unit_Price": 10.25}))).issues.is_empty());
    assert_eq!(codes(&check(with(json!({"Unit_Price": 10.125})))), [("Unit_Price", IssueCode::PriceRounded, W)]);
    assert_eq!(codes(&check(with(json!({"Unit_Price": 10.1234})))), [("Unit_Price", IssueCode::PriceRounded, W)]);
    assert_eq!(codes(&check(with(json!({"Unit_Price": 10.12345})))), [("Unit_Price", IssueCode::PriceTooPrecise, E)]);
}

#[wasm_bindgen_test(unsupported = test)]
fn description_is_at_most_4000_characters() {
    assert!(check(with(json!({"Description": "d".repeat(4000)}))).issues.is_empty());
    let report = check(with(json!({"Description": "d".repeat(4001)})));
    assert_eq!(codes(&report), [("Description", IssueCode::DescriptionTooLong, E)]);
    assert!(report.issues[0].message.contains("4,001"), "{}", report.issues[0].message);
}

#[wasm_bindgen_test(unsupported = test)]
fn an_inactive_product_is_a_warning() {
    let report = check(with(json!({"Product_Active": false})));
    assert_eq!(codes(&report), [("Product_Active", IssueCode::ProductInactive, W)]);
    assert!(report.can_sync());
}

#[wasm_bindgen_test(unsupported = test)]
fn a_wrong_type_is_an_issue_on_its_field_not_a_failed_parse() {
    let report = check(with(json!({"Product_Name": 42, "Taxable": "yes", "Unit_Price": {"amount": 1}})));
    assert_eq!(
        codes(&report),
        [
            ("Product_Name", IssueCode::WrongType, E),
            ("Taxable", IssueCode::WrongType, E),
            ("Unit_Price", IssueCode::WrongType, E)
        ]
    );
    assert!(report.issues[0].message.contains("a number where text is expected"), "{}", report.issues[0].message);
}

#[wasm_bindgen_test(unsupported = test)]
fn all_issues_come_at_once_in_checklist_order() {
    let report = check(with(json!({"Product_Code": null, "Xero_GL_Account": null, "Taxable": false})));
    assert_eq!(
        codes(&report),
        [
            ("Product_Code", IssueCode::CodeMissing, E),
            ("Taxable", IssueCode::NotTaxable, E),
            ("Xero_GL_Account", IssueCode::GlAccountMissing, E)
        ]
    );
    let map = FieldMap::default();
    let rows: Vec<_> = Requirement::ALL.iter().map(|r| report.severity_of(r.field(&map))).collect();
    assert_eq!(rows.iter().filter(|s| s.is_some()).count(), 3);
}

#[wasm_bindgen_test(unsupported = test)]
fn custom_field_names_come_from_the_field_map() {
    let map = FieldMap { gl_account: "GL_Account__c".into(), ..FieldMap::default() };
    let mut record = valid_record();
    record["GL_Account__c"] = json!("Salse");
    let product = CrmProduct::from_json(&record, &map).expect("record");
    let (accounts, rates) = (accounts(), tax_rates());
    let report = validate(&product, &map, XeroContext { accounts: Some(&accounts), tax_rates: Some(&rates) });
    assert_eq!(codes(&report), [("GL_Account__c", IssueCode::GlAccountUnknown, E)]);
}

#[wasm_bindgen_test(unsupported = test)]
fn payload_maps_a_valid_product() {
    let mut record = valid_record();
    record["Xero_Item_ID"] = json!("5e8e1b35-a4d8-4b0a-8a46-1c5e0e9a3c11");
    record["Product_Name"] = json!("  Ergonomic Chair ");
    let product = CrmProduct::from_json(&record, &FieldMap::default()).expect("record");
    let (accounts, rates) = (accounts(), tax_rates());
    let report =
        validate(&product, &FieldMap::default(), XeroContext { accounts: Some(&accounts), tax_rates: Some(&rates) });
    let payload = report.payload(&product).expect("payload");
    assert_eq!(
        serde_json::to_value(&payload).expect("json"),
        json!({
            "ItemID": "5e8e1b35-a4d8-4b0a-8a46-1c5e0e9a3c11",
            "Code": "CHAIR-ERGO",
            "Name": "Ergonomic Chair",
            "Description": "Mesh back, adjustable arms.",
            "IsSold": true,
            "SalesDetails": {"UnitPrice": 349.5, "AccountCode": "200", "TaxType": "OUTPUT"}
        })
    );
    // The hash ignores the ItemID and changes with the content.
    let first = payload.content_hash();
    assert_eq!(first.len(), 64);
    assert_eq!(shared::ItemPayload { item_id: None, ..payload.clone() }.content_hash(), first);
    let mut cheaper = payload.clone();
    cheaper.sales_details.unit_price = Some(300.0);
    assert_ne!(cheaper.content_hash(), first);
    // No payload while something blocks.
    let blocked = with(json!({"Taxable": false}));
    let product = CrmProduct::from_json(&blocked, &FieldMap::default()).expect("record");
    let report =
        validate(&product, &FieldMap::default(), XeroContext { accounts: Some(&accounts), tax_rates: Some(&rates) });
    assert_eq!(report.payload(&product), None);
}
