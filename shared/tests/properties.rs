//! Property tests of the rules (native only: proptest does not run in the browser), and the contracts:
//! what we map must be an Item Xero's published spec accepts, and what Zoho's spec describes must parse.
#![cfg(not(target_arch = "wasm32"))]

use contracts::{Contract, Mode};
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use shared::{Account, CrmProduct, FieldMap, FieldValue, TaxRate, XeroContext, validate};

const FIELDS: [&str; 15] = [
    "id",
    "Product_Name",
    "Product_Code",
    "Product_Active",
    "Taxable",
    "Tax",
    "Unit_Price",
    "Description",
    "Modified_Time",
    "Add_to_Xero",
    "Xero_GL_Account",
    "Xero_Tax_Rate",
    "Xero_Item_ID",
    "Xero_Last_Synced",
    "Xero_Sync_Status",
];

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_filter("JSON numbers are finite", |f| f.is_finite()).prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(".{0,8}", inner, 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Records whose known fields hold anything at all.
fn any_record() -> impl Strategy<Value = Value> {
    prop::collection::vec((prop::sample::select(FIELDS.to_vec()), any_json()), 0..16)
        .prop_map(|pairs| Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect::<Map<_, _>>()))
}

/// Records shaped like real ones, with values around every limit, so that many of them are valid.
fn plausible_record() -> impl Strategy<Value = Value> {
    (
        "[ A-Za-zé0-9&'-]{0,55}",
        "[ A-Za-z0-9/_-]{0,33}",
        prop_oneof![
            Just(Value::Null),
            (0u32..100_000_000, 0u32..5).prop_map(|(n, dp)| json!(f64::from(n) / 10f64.powi(dp as i32))),
            (-1000i32..0).prop_map(|n| json!(n))
        ],
        prop_oneof![Just(None), Just(Some(4000usize)), Just(Some(4001usize)), (0usize..300).prop_map(Some)],
        prop::sample::select(vec!["Sales", "sales", "200", "Salse", "Other Revenue", "Rent", "", "Sales - Old Range"]),
        prop::sample::select(vec!["GST on Income", "OUTPUT", "gst free income", "GST on Expenses", "Luxury", ""]),
        any::<[bool; 4]>(),
    )
        .prop_map(|(name, code, price, description, account, rate, [active, taxable, add, has_tax])| {
            json!({
                "id": "4150868000000224005",
                "Product_Name": name,
                "Product_Code": code,
                "Unit_Price": price,
                "Description": description.map(|n| "d".repeat(n)),
                "Product_Active": active,
                "Taxable": taxable,
                "Add_to_Xero": add,
                "Tax": if has_tax { json!([{"id": "1", "value": "GST - 10.0 %"}]) } else { json!([]) },
                "Xero_GL_Account": account,
                "Xero_Tax_Rate": rate,
            })
        })
}

fn accounts() -> Vec<Account> {
    serde_json::from_value(json!([
        {"AccountID": "a1", "Code": "200", "Name": "Sales", "Status": "ACTIVE", "Class": "REVENUE", "Type": "REVENUE"},
        {"AccountID": "a2", "Code": "260", "Name": "Other Revenue", "Status": "ACTIVE", "Class": "REVENUE", "Type": "OTHERINCOME"},
        {"AccountID": "a3", "Code": "205", "Name": "Sales - Old Range", "Status": "ARCHIVED", "Class": "REVENUE", "Type": "SALES"},
        {"AccountID": "a5", "Code": "469", "Name": "Rent", "Status": "ACTIVE", "Class": "EXPENSE", "Type": "OVERHEADS"}
    ]))
    .expect("accounts")
}

fn tax_rates() -> Vec<TaxRate> {
    serde_json::from_value(json!([
        {"Name": "GST on Income", "TaxType": "OUTPUT", "Status": "ACTIVE", "CanApplyToRevenue": true},
        {"Name": "GST Free Income", "TaxType": "EXEMPTOUTPUT", "Status": "ACTIVE", "CanApplyToRevenue": true},
        {"Name": "GST on Expenses", "TaxType": "INPUT", "Status": "ACTIVE", "CanApplyToRevenue": false}
    ]))
    .expect("tax rates")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn validation_never_panics_on_any_record(record in any_record()) {
        let map = FieldMap::default();
        let product = CrmProduct::from_json(&record, &map).expect("an object is a record");
        let (accounts, rates) = (accounts(), tax_rates());
        for context in [XeroContext::NONE, XeroContext { accounts: Some(&accounts), tax_rates: Some(&rates) }] {
            let report = validate(&product, &map, context);
            for issue in &report.issues {
                prop_assert!(!issue.message.is_empty());
                prop_assert!(issue.field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
            }
        }
    }

    #[test]
    fn every_product_without_errors_maps_to_an_item_xero_accepts(record in plausible_record()) {
        let map = FieldMap::default();
        let product = CrmProduct::from_json(&record, &map).expect("record");
        let (accounts, rates) = (accounts(), tax_rates());
        let report = validate(&product, &map, XeroContext { accounts: Some(&accounts), tax_rates: Some(&rates) });
        let payload = report.payload(&product);
        prop_assert_eq!(payload.is_some(), report.can_sync(), "a payload exactly when nothing blocks: {:?}", report.issues);
        if let Some(payload) = payload {
            let body = json!({ "Items": [payload] });
            let checked = Contract::xero_accounting().check_request("POST", "/Items", &body);
            prop_assert!(checked.is_ok(), "{:?}", checked);
            prop_assert!(payload.code.chars().count() <= 30 && !payload.code.trim().is_empty());
            prop_assert!(payload.name.chars().count() <= 50 && !payload.name.is_empty());
            prop_assert!(payload.sales_details.unit_price.is_none_or(|p| p >= 0.0));
            prop_assert!(accounts.iter().any(|a| a.is_selectable() && a.code.as_deref() == Some(payload.sales_details.account_code.as_str())));
            prop_assert!(rates.iter().any(|r| r.is_selectable() && r.tax_type == payload.sales_details.tax_type));
        }
    }

    #[test]
    fn the_content_hash_is_stable_and_ignores_the_item_id(record in plausible_record(), id in "[0-9a-f-]{36}") {
        let map = FieldMap::default();
        let product = CrmProduct::from_json(&record, &map).expect("record");
        let (accounts, rates) = (accounts(), tax_rates());
        let report = validate(&product, &map, XeroContext { accounts: Some(&accounts), tax_rates: Some(&rates) });
        if let Some(payload) = report.payload(&product) {
            let with_id = shared::ItemPayload { item_id: Some(id), ..payload.clone() };
            prop_assert_eq!(payload.content_hash(), with_id.content_hash());
        }
    }
}

#[test]
fn a_zoho_products_page_that_meets_the_contract_parses() {
    let page: Value = serde_json::from_str(include_str!("fixtures/zoho_products_page.json")).expect("fixture");
    let zoho = Contract::zoho_record();
    zoho.check_response("GET", "/crm/v8/Products", 200, &page).expect("the fixture follows Zoho's contract");
    let records = page["data"].as_array().expect("data");
    for tax in records.iter().flat_map(|r| r["Tax"].as_array().into_iter().flatten()) {
        zoho.check_schema("Tax", Mode::Strict, tax).expect("Tax elements follow the Tax schema");
    }
    let map = FieldMap::default();
    let chair = CrmProduct::from_json(&records[0], &map).expect("record");
    assert_eq!(chair.id, FieldValue::Present("4150868000000224005".into()));
    assert_eq!(chair.code.text(), Some("CHAIR-ERGO"));
    assert_eq!(chair.taxes, FieldValue::Present(vec!["GST - 10.0 %".into()]));
    assert_eq!(chair.unit_price, FieldValue::Present(349.5));
    assert!(validate(&chair, &map, XeroContext::NONE).issues.is_empty());
    let frame = CrmProduct::from_json(&records[1], &map).expect("record");
    assert_eq!(frame.code, FieldValue::Missing);
    assert_eq!(frame.taxes, FieldValue::Present(vec![]));
    let report = validate(&frame, &map, XeroContext::NONE);
    assert!(!report.can_sync());
}

/// Any text, including the characters JSON escapes.
fn any_text() -> impl Strategy<Value = String> {
    ".{0,12}"
}

fn any_issue() -> impl Strategy<Value = shared::Issue> {
    let codes = prop::sample::select(vec![
        shared::IssueCode::WrongType,
        shared::IssueCode::CodeInUse,
        shared::IssueCode::GlAccountUnknown,
        shared::IssueCode::XeroRejected,
    ]);
    let severities = prop::sample::select(vec![shared::Severity::Error, shared::Severity::Warning]);
    (any_text(), codes, severities, any_text(), prop::collection::vec(any_text(), 0..3)).prop_map(
        |(field, code, severity, message, suggestions)| shared::Issue { field, code, severity, message, suggestions },
    )
}

proptest! {
    /// What the backend writes, the widget reads back exactly (`FromJson` against the derived `Serialize`).
    #[test]
    fn the_widget_reads_back_what_the_backend_writes(
        issues in prop::collection::vec(any_issue(), 0..3),
        texts in prop::collection::vec(any_text(), 6),
        code in prop::option::of("[A-Z0-9]{0,4}"),
        rate in prop::option::of(-1000.0f64..1000.0),
        flags in any::<[bool; 2]>(),
    ) {
        use shared::wire::{ApiError, ErrorCode, FromJson, HistoryEntry, SyncOutcome, SyncResponse};
        let error = ApiError {
            code: if flags[0] { ErrorCode::ValidationFailed } else { ErrorCode::RateLimited },
            message: texts[0].clone(),
            issues: issues.clone(),
            request_id: flags[1].then(|| texts[1].clone()),
        };
        prop_assert_eq!(ApiError::from_json(&serde_json::to_value(&error).expect("json")), Some(error));
        let synced = SyncResponse {
            outcome: if flags[0] { SyncOutcome::Created } else { SyncOutcome::Unchanged },
            item_id: texts[1].clone(),
            code: texts[2].clone(),
            xero_url: texts[3].clone(),
            synced_at: texts[4].clone(),
            warnings: issues,
        };
        prop_assert_eq!(SyncResponse::from_json(&serde_json::to_value(&synced).expect("json")), Some(synced));
        let entry = HistoryEntry { at: texts[0].clone(), by: texts[1].clone(), outcome: texts[2].clone(), message: flags[1].then(|| texts[5].clone()) };
        prop_assert_eq!(HistoryEntry::from_json(&serde_json::to_value(&entry).expect("json")), Some(entry));
        let account = Account { account_id: texts[0].clone(), code, name: texts[1].clone(), status: texts[2].clone(), class: texts[3].clone(), account_type: texts[4].clone(), system_account: flags[1].then(|| texts[5].clone()) };
        prop_assert_eq!(Account::from_json(&serde_json::to_value(&account).expect("json")), Some(account));
        let tax_rate = TaxRate { name: texts[0].clone(), tax_type: texts[1].clone(), status: texts[2].clone(), can_apply_to_revenue: flags[0], effective_rate: rate };
        prop_assert_eq!(TaxRate::from_json(&serde_json::to_value(&tax_rate).expect("json")), Some(tax_rate));
    }
}

fn any_defaults() -> impl Strategy<Value = shared::OrgDefaults> {
    let account = prop::sample::select(vec![None, Some("200"), Some("260"), Some("205"), Some("469"), Some("999")]);
    let mapping = prop::sample::select(vec![
        vec![],
        vec![("GST - 10.0 %", "OUTPUT")],
        vec![("GST - 10.0 %", "EXEMPTOUTPUT")],
        vec![("GST - 10.0 %", "INPUT")],
        vec![("GST - 10.0 %", "GONE")],
        vec![("Other", "OUTPUT")],
    ]);
    (account, mapping).prop_map(|(account, mapping)| shared::OrgDefaults {
        gl_account: account.map(str::to_owned),
        taxes: mapping
            .into_iter()
            .map(|(crm_tax, tax_type)| shared::TaxMapping { crm_tax: crm_tax.into(), tax_type: tax_type.into() })
            .collect(),
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Issue 14: without defaults, exactly today's rules; with them, a value on the product wins, and only an
    /// empty field is filled, from the default account or the CRM tax's mapping; and whatever syncs is an
    /// Item Xero accepts, with a usable account and rate.
    #[test]
    fn defaults_fill_only_what_the_product_leaves_empty(record in plausible_record(), defaults in any_defaults()) {
        use shared::{IssueCode, Origin, validate_with};
        let map = FieldMap::default();
        let product = CrmProduct::from_json(&record, &map).expect("record");
        let (accounts, rates) = (accounts(), tax_rates());
        let context = XeroContext { accounts: Some(&accounts), tax_rates: Some(&rates) };
        let plain = validate(&product, &map, context);
        prop_assert_eq!(&plain, &validate_with(&product, &map, context, &shared::OrgDefaults::NONE));

        let filled = validate_with(&product, &map, context, &defaults);
        let on = |report: &shared::Report, field: &str| -> Vec<shared::Issue> {
            report.issues.iter().filter(|i| i.field == field).cloned().collect()
        };
        for field in ["Product_Name", "Product_Code", "Add_to_Xero", "Taxable", "Tax", "Unit_Price", "Description"] {
            prop_assert_eq!(on(&plain, field), on(&filled, field), "{} is not the defaults' business", field);
        }
        let account_typed = product.gl_account.text().is_some();
        let rate_typed = product.tax_rate.text().is_some();
        if account_typed || defaults.gl_account.is_none() {
            prop_assert_eq!(on(&plain, "Xero_GL_Account"), on(&filled, "Xero_GL_Account"));
            prop_assert_eq!(&plain.account, &filled.account);
        } else {
            prop_assert!(filled.account.as_ref().is_none_or(|a| a.origin == Origin::Default));
            prop_assert!(on(&filled, "Xero_GL_Account").iter().all(|i| i.code != IssueCode::GlAccountMissing));
        }
        if rate_typed || defaults.taxes.is_empty() {
            prop_assert_eq!(on(&plain, "Xero_Tax_Rate"), on(&filled, "Xero_Tax_Rate"));
            prop_assert_eq!(&plain.tax_rate, &filled.tax_rate);
        } else {
            prop_assert!(filled.tax_rate.as_ref().is_none_or(|r| matches!(r.origin, Origin::Mapping(_))));
        }
        if let Some(payload) = filled.payload(&product) {
            let checked = Contract::xero_accounting().check_request("POST", "/Items", &json!({ "Items": [payload] }));
            prop_assert!(checked.is_ok(), "{:?}", checked);
            prop_assert!(accounts.iter().any(|a| a.is_selectable() && a.code.as_deref() == Some(payload.sales_details.account_code.as_str())));
            prop_assert!(rates.iter().any(|r| r.is_selectable() && r.tax_type == payload.sales_details.tax_type));
        }
    }
}
