//! One test per sync rule. They run natively and, in CI, on wasm32 in headless Chromium, because the widget
//! runs these very rules in the browser.

use serde_json::{Value, json};
use shared::defaults::prefill_tax_mapping;
use shared::{
    Account, CrmProduct, FieldMap, IssueCode, OrgDefaults, Origin, Report, Requirement, Resolution, Severity,
    TaxMapping, TaxRate, XeroContext, suggest_code, validate, validate_with,
};
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

/// The Australian demo organisation's chart as Xero lists it: its system and control accounts included.
fn demo_chart() -> Vec<Account> {
    serde_json::from_value(json!([
        {"AccountID": "b1", "Code": "090", "Name": "Business Bank Account", "Status": "ACTIVE", "Class": "ASSET", "Type": "BANK"},
        {"AccountID": "b2", "Code": "200", "Name": "Sales", "Status": "ACTIVE", "Class": "REVENUE", "Type": "REVENUE", "SystemAccount": ""},
        {"AccountID": "b3", "Code": "260", "Name": "Other Revenue", "Status": "ACTIVE", "Class": "REVENUE", "Type": "OTHERINCOME"},
        {"AccountID": "b4", "Code": "429", "Name": "General Expenses", "Status": "ACTIVE", "Class": "EXPENSE", "Type": "OVERHEADS"},
        {"AccountID": "b5", "Code": "610", "Name": "Accounts Receivable", "Status": "ACTIVE", "Class": "ASSET", "Type": "CURRENT", "SystemAccount": "DEBTORS"},
        {"AccountID": "b6", "Code": "800", "Name": "Accounts Payable", "Status": "ACTIVE", "Class": "LIABILITY", "Type": "CURRLIAB", "SystemAccount": "CREDITORS"},
        {"AccountID": "b7", "Code": "820", "Name": "GST", "Status": "ACTIVE", "Class": "LIABILITY", "Type": "CURRLIAB", "SystemAccount": "GST"},
        {"AccountID": "b8", "Name": "Unrealised Currency Gains", "Status": "ACTIVE", "Class": "LIABILITY", "Type": "CURRLIAB", "SystemAccount": "UNREALISEDCURRENCYGAIN"},
        {"AccountID": "b9", "Code": "960", "Name": "Retained Earnings", "Status": "ACTIVE", "Class": "EQUITY", "Type": "EQUITY", "SystemAccount": "RETAINEDEARNINGS"},
        {"AccountID": "b10", "Code": "210", "Name": "Old Sales", "Status": "ARCHIVED", "Class": "REVENUE", "Type": "REVENUE"}
    ]))
    .expect("accounts")
}

/// The demo organisation's tax rates, with Xero's `EffectiveRate`s.
fn demo_rates() -> Vec<TaxRate> {
    serde_json::from_value(json!([
        {"Name": "GST on Income", "TaxType": "OUTPUT", "Status": "ACTIVE", "CanApplyToRevenue": true, "EffectiveRate": 10.0},
        {"Name": "GST Free Income", "TaxType": "EXEMPTOUTPUT", "Status": "ACTIVE", "CanApplyToRevenue": true, "EffectiveRate": 0.0},
        {"Name": "GST on Expenses", "TaxType": "INPUT", "Status": "ACTIVE", "CanApplyToRevenue": false, "EffectiveRate": 10.0},
        {"Name": "Input Taxed", "TaxType": "INPUTTAXED", "Status": "ACTIVE", "CanApplyToRevenue": true, "EffectiveRate": 0.0},
        {"Name": "BAS Excluded", "TaxType": "BASEXCLUDED", "Status": "ACTIVE", "CanApplyToRevenue": true, "EffectiveRate": 0.0},
        {"Name": "Wine Equalisation Tax", "TaxType": "TAX001", "Status": "DELETED", "CanApplyToRevenue": true, "EffectiveRate": 29.0}
    ]))
    .expect("tax rates")
}

fn check_demo(record: Value, defaults: &OrgDefaults) -> Report {
    let (accounts, rates) = (demo_chart(), demo_rates());
    let product = CrmProduct::from_json(&record, &FieldMap::default()).expect("record");
    let context = XeroContext { accounts: Some(&accounts), tax_rates: Some(&rates) };
    validate_with(&product, &FieldMap::default(), context, defaults)
}

#[wasm_bindgen_test(unsupported = test)]
fn system_and_control_accounts_are_refused_with_the_reason() {
    for (name, reason) in [
        ("Accounts Receivable", "accounts receivable control account"),
        ("Accounts Payable", "accounts payable control account"),
        ("GST", "GST/VAT control account"),
        ("Business Bank Account", "a bank account"),
        ("090", "a bank account"),
        ("Retained Earnings", "retained earnings"),
        ("Unrealised Currency Gains", "a system account that Xero manages itself"),
    ] {
        let report = check_demo(with(json!({"Xero_GL_Account": name})), &OrgDefaults::NONE);
        assert_eq!(codes(&report), [("Xero_GL_Account", IssueCode::GlAccountSystem, E)], "{name}");
        let issue = &report.issues[0];
        assert!(issue.message.contains(reason), "{name}: {}", issue.message);
        assert!(issue.message.contains("Choose a revenue account"), "{}", issue.message);
        assert_eq!(issue.suggestions, ["Sales", "Other Revenue"], "revenue accounts, one click away");
        assert_eq!(report.resolved, None, "never synced to it");
    }
    // Other accounts that are not revenue stay a warning.
    let expense = check_demo(with(json!({"Xero_GL_Account": "General Expenses"})), &OrgDefaults::NONE);
    assert_eq!(codes(&expense), [("Xero_GL_Account", IssueCode::GlAccountNotRevenue, W)]);
    // An empty SystemAccount (Xero sends "" on ordinary accounts) is no system account.
    assert!(check_demo(valid_record(), &OrgDefaults::NONE).issues.is_empty());
}

#[wasm_bindgen_test(unsupported = test)]
fn the_pick_list_never_offers_system_accounts() {
    let chart = demo_chart();
    let choices: Vec<&str> = shared::xero::account_choices(&chart).map(|a| a.name.as_str()).collect();
    assert_eq!(choices, ["Sales", "Other Revenue", "General Expenses"], "revenue first, then the rest");
}

#[wasm_bindgen_test(unsupported = test)]
fn a_crm_tax_whose_rate_differs_from_the_xero_rate_is_a_warning() {
    let gst_free = json!([{"id": "4150868000000045003", "value": "GST Free - 0.0 %"}]);
    let report = check_demo(with(json!({"Tax": gst_free})), &OrgDefaults::NONE);
    assert_eq!(codes(&report), [("Xero_Tax_Rate", IssueCode::TaxRateMismatch, W)]);
    assert_eq!(
        report.issues[0].message,
        "The CRM says “GST Free - 0.0 %”, but the Xero tax rate “GST on Income” is 10 %; check which is right."
    );
    assert!(report.can_sync(), "a warning: the organisation may mean it");
    assert_eq!(report.resolved.map(|r| r.tax_type).as_deref(), Some("OUTPUT"));

    // Agreeing rates, a name without a percentage, several taxes adding up, a rate Xero gives no percentage.
    let agreeing = [
        json!({}),
        json!({"Tax": ["GST"]}),
        json!({"Tax": ["State tax 6 %", "City tax 4 %"]}),
        json!({"Tax": ["GST Free 0 %"], "Xero_Tax_Rate": "GST Free Income"}),
    ];
    for changes in agreeing {
        let report = check_demo(with(changes.clone()), &OrgDefaults::NONE);
        assert!(report.issues.is_empty(), "{changes}: {:?}", report.issues);
    }
    let report = check_live(with(json!({"Tax": ["GST Free 0 %"], "Xero_Tax_Rate": "GST Free Income"})));
    assert!(report.issues.is_empty(), "the fixture's GST Free Income has no EffectiveRate: nothing to compare");
    let several = check_demo(with(json!({"Tax": ["A 5 %", "B 2.5 %"]})), &OrgDefaults::NONE);
    assert!(several.issues[0].message.starts_with("The CRM says “A 5 %” and “B 2.5 %”"), "{:?}", several.issues);
}

/// The demo organisation's defaults: account 200, and its two CRM taxes mapped.
fn demo_defaults() -> OrgDefaults {
    OrgDefaults {
        gl_account: Some("200".into()),
        taxes: vec![
            TaxMapping { crm_tax: "GST - 10.0 %".into(), tax_type: "OUTPUT".into() },
            TaxMapping { crm_tax: "GST Free - 0.0 %".into(), tax_type: "EXEMPTOUTPUT".into() },
        ],
    }
}

/// A product with nothing typed for Xero: name, code, Add to Xero, Taxable and its CRM tax.
fn untyped() -> Value {
    with(json!({"Xero_GL_Account": null, "Xero_Tax_Rate": ""}))
}

#[wasm_bindgen_test(unsupported = test)]
fn empty_xero_fields_resolve_through_the_organisations_defaults() {
    let report = check_demo(untyped(), &demo_defaults());
    assert!(report.issues.is_empty(), "{:?}", report.issues);
    let resolved = report.resolved.clone().expect("resolved");
    assert_eq!((resolved.account_code.as_str(), resolved.tax_type.as_str()), ("200", "OUTPUT"));
    assert_eq!(resolved.account_origin, Origin::Default);
    assert_eq!(resolved.tax_origin, Origin::Mapping("GST - 10.0 %".into()));
    assert_eq!(report.account, Some(Resolution { value: "200".into(), origin: Origin::Default }));
    let product = CrmProduct::from_json(&untyped(), &FieldMap::default()).expect("record");
    let payload = report.payload(&product).expect("a payload");
    assert_eq!(
        (payload.sales_details.account_code.as_str(), payload.sales_details.tax_type.as_str()),
        ("200", "OUTPUT")
    );

    let gst_free = check_demo(
        with(json!({"Xero_GL_Account": null, "Xero_Tax_Rate": null, "Tax": ["GST Free - 0.0 %"]})),
        &demo_defaults(),
    );
    assert!(gst_free.issues.is_empty(), "{:?}", gst_free.issues);
    assert_eq!(gst_free.tax_rate.map(|r| r.value).as_deref(), Some("EXEMPTOUTPUT"));

    // Without Xero's lists the defaults fill the fields (nothing is missing) but nothing resolves yet.
    let product = CrmProduct::from_json(&untyped(), &FieldMap::default()).expect("record");
    let offline = validate_with(&product, &FieldMap::default(), XeroContext::NONE, &demo_defaults());
    assert!(offline.issues.is_empty(), "{:?}", offline.issues);
    assert_eq!((offline.resolved, offline.account, offline.tax_rate), (None, None, None));
}

#[wasm_bindgen_test(unsupported = test)]
fn a_value_typed_on_the_product_wins_over_the_defaults() {
    let typed = with(
        json!({"Xero_GL_Account": "Other Revenue", "Xero_Tax_Rate": "GST Free Income", "Tax": ["GST Free - 0.0 %"]}),
    );
    let report = check_demo(typed.clone(), &demo_defaults());
    assert!(report.issues.is_empty(), "{:?}", report.issues);
    let resolved = report.resolved.clone().expect("resolved");
    assert_eq!((resolved.account_code.as_str(), resolved.tax_type.as_str()), ("260", "EXEMPTOUTPUT"));
    assert_eq!((resolved.account_origin, resolved.tax_origin), (Origin::Typed, Origin::Typed));
    assert_eq!(report, check_demo(typed, &OrgDefaults::NONE), "the defaults change nothing then");
    // A typed name that is wrong is wrong, defaults or not.
    let wrong = check_demo(with(json!({"Xero_GL_Account": "Salse"})), &demo_defaults());
    assert_eq!(codes(&wrong), [("Xero_GL_Account", IssueCode::GlAccountUnknown, E)]);
}

#[wasm_bindgen_test(unsupported = test)]
fn crm_taxes_the_mapping_cannot_settle_are_errors_with_plain_messages() {
    let unmapped =
        check_demo(with(json!({"Xero_Tax_Rate": null, "Tax": ["GST - 10.0 %", "Luxury - 33 %"]})), &demo_defaults());
    assert_eq!(codes(&unmapped), [("Xero_Tax_Rate", IssueCode::TaxUnmapped, E)]);
    assert_eq!(
        unmapped.issues[0].message,
        "xero-sync has no Xero tax rate for the CRM tax “Luxury - 33 %”; choose a Xero tax rate for this product, or \
         ask your xero-sync admin to map it."
    );
    let conflict =
        check_demo(with(json!({"Xero_Tax_Rate": null, "Tax": ["GST - 10.0 %", "GST Free - 0.0 %"]})), &demo_defaults());
    assert_eq!(codes(&conflict), [("Xero_Tax_Rate", IssueCode::TaxMappingConflict, E)]);
    assert!(
        conflict.issues[0].message.contains("“GST - 10.0 %” and “GST Free - 0.0 %” stand for different Xero tax rates")
    );
    let no_tax = check_demo(with(json!({"Xero_Tax_Rate": null, "Tax": []})), &demo_defaults());
    assert_eq!(codes(&no_tax), [("Tax", IssueCode::TaxMissing, E), ("Xero_Tax_Rate", IssueCode::TaxRateMissing, E)]);
    assert!(no_tax.issues[1].message.starts_with("Select the product's tax"), "{}", no_tax.issues[1].message);
}

#[wasm_bindgen_test(unsupported = test)]
fn a_default_xero_has_since_archived_is_an_error() {
    let archived = OrgDefaults { gl_account: Some("210".into()), ..demo_defaults() };
    let report = check_demo(untyped(), &archived);
    assert_eq!(codes(&report), [("Xero_GL_Account", IssueCode::DefaultArchived, E)]);
    assert_eq!(
        report.issues[0].message,
        "The organisation's default account “Old Sales” (210) is archived in Xero. Choose an account for this \
         product, or ask your xero-sync admin to change the default."
    );
    assert_eq!(report.issues[0].suggestions, ["Sales"], "the revenue account closest to the archived one");
    let gone = OrgDefaults { gl_account: Some("999".into()), ..demo_defaults() };
    let report = check_demo(untyped(), &gone);
    assert!(report.issues[0].message.contains("(code 999) no longer exists in Xero"), "{:?}", report.issues);
    assert_eq!(report.issues[0].suggestions, ["Sales", "Other Revenue"], "the revenue accounts");

    let deleted_rate = OrgDefaults {
        taxes: vec![TaxMapping { crm_tax: "GST - 10.0 %".into(), tax_type: "TAX001".into() }],
        ..demo_defaults()
    };
    let report = check_demo(untyped(), &deleted_rate);
    assert_eq!(codes(&report), [("Xero_Tax_Rate", IssueCode::DefaultArchived, E)]);
    assert!(
        report.issues[0]
            .message
            .contains("“Wine Equalisation Tax”, that the CRM tax “GST - 10.0 %” maps to, is deleted in Xero")
    );
    let expense_rate = OrgDefaults {
        taxes: vec![TaxMapping { crm_tax: "GST - 10.0 %".into(), tax_type: "INPUT".into() }],
        ..demo_defaults()
    };
    assert_eq!(codes(&check_demo(untyped(), &expense_rate)), [("Xero_Tax_Rate", IssueCode::TaxRateNotForSales, E)]);
}

#[wasm_bindgen_test(unsupported = test)]
fn without_defaults_an_empty_field_is_missing_as_before() {
    let report = check_demo(untyped(), &OrgDefaults::NONE);
    assert_eq!(
        codes(&report),
        [("Xero_GL_Account", IssueCode::GlAccountMissing, E), ("Xero_Tax_Rate", IssueCode::TaxRateMissing, E)]
    );
    // Only an account default: the tax rate is still asked for, and the other way round.
    let account_only = OrgDefaults { gl_account: Some("200".into()), taxes: Vec::new() };
    assert_eq!(codes(&check_demo(untyped(), &account_only)), [("Xero_Tax_Rate", IssueCode::TaxRateMissing, E)]);
    let taxes_only = OrgDefaults { gl_account: None, ..demo_defaults() };
    assert_eq!(codes(&check_demo(untyped(), &taxes_only)), [("Xero_GL_Account", IssueCode::GlAccountMissing, E)]);
}

#[wasm_bindgen_test(unsupported = test)]
fn the_mapping_is_prefilled_by_percentage_then_name() {
    let rates = demo_rates();
    let proposal = prefill_tax_mapping(&["GST - 10.0 %", "GST Free - 0.0 %", "Luxury - 33 %", "Mystery"], &rates);
    let mapped: Vec<(&str, &str)> = proposal.mapped.iter().map(|m| (m.crm_tax.as_str(), m.tax_type.as_str())).collect();
    assert_eq!(mapped, [("GST - 10.0 %", "OUTPUT"), ("GST Free - 0.0 %", "EXEMPTOUTPUT")]);
    assert_eq!(proposal.unmapped, ["Luxury - 33 %", "Mystery"], "no 33 % rate; no name close enough");
    // The UK organisation's rates: one 20 % rate for sales, several at 0 %.
    let uk: Vec<TaxRate> = serde_json::from_value(json!([
        {"Name": "20% (VAT on Income)", "TaxType": "OUTPUT2", "Status": "ACTIVE", "CanApplyToRevenue": true, "EffectiveRate": 20.0},
        {"Name": "20% (VAT on Expenses)", "TaxType": "INPUT2", "Status": "ACTIVE", "CanApplyToRevenue": false, "EffectiveRate": 20.0},
        {"Name": "Zero Rated Income", "TaxType": "ZERORATEDOUTPUT", "Status": "ACTIVE", "CanApplyToRevenue": true, "EffectiveRate": 0.0},
        {"Name": "Exempt Income", "TaxType": "EXEMPTOUTPUT", "Status": "ACTIVE", "CanApplyToRevenue": true, "EffectiveRate": 0.0},
        {"Name": "No VAT", "TaxType": "NONE", "Status": "ACTIVE", "CanApplyToRevenue": true, "EffectiveRate": 0.0}
    ]))
    .expect("rates");
    let proposal = prefill_tax_mapping(&["VAT 20%", "Zero rated 0%", "Exempt - 0 %"], &uk);
    let mapped: Vec<&str> = proposal.mapped.iter().map(|m| m.tax_type.as_str()).collect();
    assert_eq!(mapped, ["OUTPUT2", "ZERORATEDOUTPUT", "EXEMPTOUTPUT"]);
}

#[wasm_bindgen_test(unsupported = test)]
fn a_code_is_suggested_from_the_name() {
    assert_eq!(suggest_code("Wireless Mouse (Black)", &[]).as_deref(), Some("WIRELESS-MOUSE-BLACK"));
    assert_eq!(suggest_code("  USB-C Hub / 7 port? #2 ", &[]).as_deref(), Some("USB-C-HUB-7-PORT-2"));
    assert_eq!(suggest_code("Café crème brûlée", &[]).as_deref(), Some("CAFE-CREME-BRULEE"));
    assert_eq!(suggest_code("Чай 20 × 2", &[]).as_deref(), Some("20-2"), "other scripts are left out");
    // At most 30 characters, cut at a word; a single long word is cut anywhere.
    let long = suggest_code("Ergonomic Office Chair with Adjustable Lumbar Support", &[]).expect("a code");
    assert_eq!(long, "ERGONOMIC-OFFICE-CHAIR-WITH");
    assert_eq!(suggest_code(&"x".repeat(40), &[]).map(|c| c.len()), Some(30));
    // Never a code Xero already has, in any case.
    let taken = ["wireless-mouse-black", "WIRELESS-MOUSE-BLACK-2"];
    assert_eq!(suggest_code("Wireless Mouse (Black)", &taken).as_deref(), Some("WIRELESS-MOUSE-BLACK-3"));
    let full = "A".repeat(30);
    assert_eq!(suggest_code(&full, &[full.as_str()]).as_deref(), Some(format!("{}-2", "A".repeat(28)).as_str()));
    assert_eq!(suggest_code(" - / ? ", &[]), None, "nothing to make a code of");
    // What is suggested passes the code rules.
    for name in ["Wireless Mouse (Black)", "Ergonomic Office Chair with Adjustable Lumbar Support", "a/b\\c?d#e"] {
        let code = suggest_code(name, &[]).expect("a code");
        assert!(check(with(json!({"Product_Code": code}))).issues.is_empty(), "{code}");
    }
}
