//! The widget reads the API's answers with `shared::wire::FromJson` rather than serde's derived
//! `Deserialize` (bundle size); these check the two agree on every answer type, natively and, in CI, on
//! wasm32 in headless Chromium where the widget runs them.

use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use shared::wire::{
    ApiError, CodeSuggestion, ErrorEnvelope, FromJson, HistoryEntry, PickLists, SyncPlan, SyncRequest, SyncResponse,
    XeroEdits,
};
use shared::{Account, Issue, OrgDefaults, TaxRate};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

/// Both readings of `value`: by hand, and by serde (`None` where serde fails).
fn both<T: FromJson + DeserializeOwned>(value: Value) -> (Option<T>, Option<T>) {
    (T::from_json(&value), serde_json::from_value(value).ok())
}

fn agree<T: FromJson + DeserializeOwned + PartialEq + std::fmt::Debug>(value: Value) -> Option<T> {
    let (by_hand, by_serde) = both::<T>(value.clone());
    assert_eq!(by_hand, by_serde, "{value}");
    by_hand
}

#[wasm_bindgen_test(unsupported = test)]
fn errors_read_as_serde_reads_them() {
    let envelope = json!({"error": {
        "code": "validation_failed",
        "message": "Fix the highlighted fields in the CRM, then sync again.",
        "issues": [
            {"field": "Product_Code", "code": "code_in_use", "severity": "error", "message": "Taken.", "suggestions": ["WM-101"]},
            {"field": "Xero_GL_Account", "code": "gl_account_not_revenue", "severity": "warning", "message": "Not revenue."}
        ],
        "request_id": "r-1"
    }});
    let by_serde: ErrorEnvelope = serde_json::from_value(envelope.clone()).expect("serde reads it");
    assert_eq!(ApiError::from_json(&envelope["error"]), Some(by_serde.error));
    let error = agree::<ApiError>(json!({"code": "reconnect_needed", "message": "Reconnect Xero."})).expect("read");
    assert_eq!((error.issues.len(), error.request_id), (0, None));
    // Shapes serde refuses are refused: unknown codes, missing or mistyped fields.
    assert_eq!(agree::<ApiError>(json!({"code": "teapot", "message": "?"})), None);
    assert_eq!(agree::<ApiError>(json!({"code": "internal"})), None);
    assert_eq!(agree::<Issue>(json!({"field": "X", "code": "code_in_use", "severity": "fatal", "message": "m"})), None);
    assert_eq!(agree::<Issue>(json!({"field": 1, "code": "code_in_use", "severity": "error", "message": "m"})), None);
    assert_eq!(agree::<Issue>(json!([])), None);
}

#[wasm_bindgen_test(unsupported = test)]
fn sync_answers_and_history_read_as_serde_reads_them() {
    assert!(
        agree::<SyncResponse>(json!({"outcome": "kept", "item_id": "i", "code": "c", "xero_url": "u",
        "synced_at": "t"}))
        .is_some_and(|s| s.outcome == shared::wire::SyncOutcome::Kept)
    );
    let synced = json!({
        "outcome": "updated", "item_id": "5e8e1b35", "code": "WM-100",
        "xero_url": "https://go.xero.com/Accounts/Inventory/5e8e1b35", "synced_at": "2026-11-28T01:02:03Z",
        "warnings": [{"field": "Unit_Price", "code": "price_rounded", "severity": "warning", "message": "3 decimals."}]
    });
    assert!(agree::<SyncResponse>(synced.clone()).is_some_and(|s| s.warnings.len() == 1));
    let mut unknown = synced.clone();
    unknown["outcome"] = json!("deleted");
    assert_eq!(agree::<SyncResponse>(unknown), None);

    let history = json!([
        {"at": "2026-11-28T01:02:03Z", "by": "Olivia Nguyen", "outcome": "created"},
        {"at": "2026-11-28T02:02:03Z", "by": "Olivia Nguyen", "outcome": "failed", "message": "Xero is busy."}
    ]);
    let entries = agree::<Vec<HistoryEntry>>(history).expect("read");
    assert_eq!(entries[1].message.as_deref(), Some("Xero is busy."));
    assert_eq!(agree::<Vec<HistoryEntry>>(json!([{"at": "x", "by": "y"}])), None, "outcome is required");
}

/// The options answer with Xero's own shapes, extra fields and all (as the Xero simulator sends them).
#[wasm_bindgen_test(unsupported = test)]
fn xero_lists_read_as_serde_reads_them() {
    let options = json!({
        "fields": {"gl_account": "GL_Account__c"},
        "accounts": [
            {"AccountID": "a1", "Code": "200", "Name": "Sales", "Status": "ACTIVE", "Type": "REVENUE", "Class": "REVENUE",
             "TaxType": "OUTPUT", "ReportingCode": "REV.TRA", "UpdatedDateUTC": "/Date(1764288000000+0000)/"},
            {"AccountID": "a2", "Name": "Unrealised Currency Gains", "Status": "ACTIVE", "Type": "CURRLIAB",
             "Class": "LIABILITY", "SystemAccount": "UNREALISEDCURRENCYGAIN"},
            {"Name": "Bare"}
        ],
        "tax_rates": [
            {"Name": "GST on Income", "TaxType": "OUTPUT", "Status": "ACTIVE", "CanApplyToRevenue": true,
             "EffectiveRate": 10.0, "DisplayTaxRate": 10.0, "TaxComponents": [{"Name": "GST", "Rate": 10.0}]},
            {"Name": "GST Free Income", "TaxType": "EXEMPTOUTPUT", "EffectiveRate": 0},
            {"Name": "Odd", "TaxType": "TAX009", "EffectiveRate": 12.375}
        ]
    });
    let lists = agree::<PickLists>(options.clone()).expect("read");
    assert_eq!(lists.fields.gl_account, "GL_Account__c");
    assert_eq!(lists.fields.tax_rate, "Xero_Tax_Rate", "a missing name is the default one");
    assert_eq!(lists.accounts.len(), 3);
    assert_eq!(lists.tax_rates[2].effective_rate, Some(12.375));
    let mut without_fields = options.clone();
    without_fields.as_object_mut().map(|o| o.remove("fields"));
    assert!(agree::<PickLists>(without_fields).is_some_and(|l| l.fields == shared::FieldMap::default()));
    let mut broken = options;
    broken["accounts"][0]["Code"] = json!(200);
    assert_eq!(agree::<PickLists>(broken), None, "a numeric code is not Xero's shape");
    assert_eq!(agree::<Account>(json!({"Code": "200"})), None, "a name is required");
    assert_eq!(agree::<TaxRate>(json!({"Name": "GST", "TaxType": "OUTPUT", "CanApplyToRevenue": "yes"})), None);
}

/// The preview's plan, the options' defaults and the code suggestion, read from where the backend sends them.
#[wasm_bindgen_test(unsupported = test)]
fn the_preview_plan_and_the_defaults_read_as_serde_reads_them() {
    let plan = json!({
        "outcome": "updated",
        "item": {"item_id": "5e8e1b35", "code": "WM-100", "last_synced": "2026-11-28T01:02:03Z"},
        "suggested_code": "WIRELESS-MOUSE-BLACK",
        "xero_edits": [{"field": "Unit_Price", "xero_value": "34.00", "crm_value": "29.95", "changed_at": "2026-11-28T03:00:00Z"}]
    });
    let read = agree::<SyncPlan>(plan.clone()).expect("read");
    assert_eq!(
        SyncPlan::in_preview(&json!({"record_id": "1", "issues": [], "payload": null, "plan": plan})),
        Some(read)
    );
    assert_eq!(
        SyncPlan::in_preview(&json!({"record_id": "1", "issues": [], "payload": null})),
        None,
        "a preview without a plan"
    );
    assert!(
        agree::<SyncPlan>(json!({"outcome": "created"})).is_some_and(|p| p.item.is_none() && p.xero_edits.is_empty())
    );
    assert_eq!(agree::<SyncPlan>(json!({"outcome": "created", "item": {"code": "X"}})), None);

    let defaults = json!({"gl_account": "200", "taxes": [{"crm_tax": "GST - 10.0 %", "tax_type": "OUTPUT"}]});
    let read = agree::<OrgDefaults>(defaults.clone()).expect("read");
    assert_eq!(OrgDefaults::in_options(&json!({"accounts": [], "tax_rates": [], "defaults": defaults})), read);
    assert!(OrgDefaults::in_options(&json!({"accounts": [], "tax_rates": []})).is_none(), "no defaults: none");
    let options = json!({"accounts": [], "tax_rates": [], "defaults": defaults});
    assert_eq!(agree::<PickLists>(options).map(|l| l.defaults), Some(read.clone()));
    let broken = json!({"accounts": [], "tax_rates": [], "defaults": {"taxes": {}}});
    assert_eq!(agree::<PickLists>(broken), None, "defaults of the wrong shape");
    assert_eq!(
        agree::<CodeSuggestion>(json!({"code": "LAPTOP-STAND"})).map(|s| s.code).as_deref(),
        Some("LAPTOP-STAND")
    );
    assert_eq!(agree::<CodeSuggestion>(json!({"code": null})), None);
    assert_eq!(agree::<OrgDefaults>(json!({})), Some(OrgDefaults::NONE));
    assert_eq!(agree::<OrgDefaults>(json!({"taxes": [{"crm_tax": "GST"}]})), None);

    // The sync request the widget builds by hand names the choice as serde does.
    for choice in [XeroEdits::Overwrite, XeroEdits::Keep] {
        assert_eq!(
            serde_json::to_value(SyncRequest { xero_edits: choice }).expect("json")["xero_edits"],
            choice.name()
        );
    }
    assert_eq!(serde_json::from_value::<SyncRequest>(json!({})).expect("empty body"), SyncRequest::default());
}
