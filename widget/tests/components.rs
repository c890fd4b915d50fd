//! Component tests, in headless Chromium: the checklist renders the shared rules' verdicts on a record as
//! Zoho sends it, each keystroke revalidates it, the reducer keeps edits apart from the
//! record, and a page without Zoho's SDK shows an error rather than nothing. Also a benchmark of the
//! per-keystroke revalidation (printed, not asserted).
#![cfg(target_arch = "wasm32")]

use serde_json::{Map, Value, json};
use shared::wire::{ApiError, ErrorCode, PickLists, SyncOutcome, SyncPlan, SyncResponse, XeroEdits};
use shared::{Issue, IssueCode, Severity};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::{console_log, wasm_bindgen_test, wasm_bindgen_test_configure};
use widget::state::{Action, Activity, CrmFields, CrmTax, CrmUser, Model, Preview, Problem, advice};
use widget::{ProductView, zoho};
use yew::prelude::*;

wasm_bindgen_test_configure!(run_in_browser);

/// The sandbox's Mouse Pad as `getRecord` returns it: missing its code and GL account.
fn mouse_pad() -> Map<String, Value> {
    let record = json!({
        "id": "4150868000000411019",
        "Product_Name": "Mouse Pad",
        "Product_Code": null,
        "Product_Active": true,
        "Taxable": true,
        "Tax": [{"id": "4150868000000045001", "value": "GST - 10.0 %"}],
        "Unit_Price": 9.95,
        "Add_to_Xero": true,
        "Xero_GL_Account": null,
        "Xero_Tax_Rate": "GST on Income"
    });
    record.as_object().cloned().unwrap_or_default()
}

fn document() -> web_sys::Document {
    web_sys::window().and_then(|w| w.document()).expect("a document")
}

fn errors(model: &Model) -> Vec<&str> {
    model.report.errors().map(|i| i.field.as_str()).collect()
}

#[wasm_bindgen_test]
fn the_reducer_keeps_edits_apart_from_the_record_until_saved() {
    let model = Model::with_record(mouse_pad());
    assert_eq!(errors(&model), ["Product_Code", "Xero_GL_Account"]);
    assert_eq!(model.sync_blocked().as_deref(), Some("Fix the 2 items marked ✗ first."));

    let model = model.apply(Action::Edit("Product_Code".into(), json!("MP-100")));
    assert_eq!(errors(&model), ["Xero_GL_Account"]);
    assert_eq!(model.record["Product_Code"], Value::Null, "the record is what the CRM holds");
    let model = model.apply(Action::Edit("Xero_GL_Account".into(), json!("Sales")));
    assert_eq!(errors(&model), Vec::<&str>::new());
    assert!(model.sync_blocked().is_some_and(|r| r.starts_with("Save your changes")), "unsaved edits block");

    // Typing a field back to its saved value is no change.
    let undone = model.clone().apply(Action::Edit("Xero_GL_Account".into(), Value::Null));
    assert_eq!(undone.edits.keys().collect::<Vec<_>>(), ["Product_Code"]);

    let mut saved = mouse_pad();
    saved.insert("Product_Code".into(), json!("MP-100"));
    saved.insert("Xero_GL_Account".into(), json!("Sales"));
    let model = model.apply(Action::Saving).apply(Action::Record(saved));
    assert!(!model.has_edits());
    assert_eq!(model.activity, Activity::Saved);
    assert_eq!(model.sync_blocked(), None);
}

#[wasm_bindgen_test]
fn the_organisations_field_names_come_with_the_pick_lists() {
    // An organisation whose GL account field is called `GL_Account__c`, holding "Sales".
    let mut record = mouse_pad();
    record.remove("Xero_GL_Account");
    record.insert("GL_Account__c".into(), json!("Sales"));
    let model = Model::with_record(record);
    assert_eq!(errors(&model), ["Product_Code", "Xero_GL_Account"], "read with the default names");
    let fields = shared::FieldMap { gl_account: "GL_Account__c".into(), ..shared::FieldMap::default() };
    let lists = shared::wire::PickLists { fields, ..xero_lists() };
    let model = model.apply(Action::Options(lists));
    assert_eq!(errors(&model), ["Product_Code"], "read again with the organisation's names");
}

/// An organisation's lists as `/api/xero/options` sends them: Xero's own shapes, archived entries included.
fn xero_lists() -> PickLists {
    serde_json::from_value(json!({
        "accounts": [
            {"AccountID": "a1", "Code": "200", "Name": "Sales", "Status": "ACTIVE", "Class": "REVENUE", "Type": "REVENUE"},
            {"AccountID": "a2", "Code": "260", "Name": "Other Revenue", "Status": "ACTIVE", "Class": "REVENUE", "Type": "OTHERINCOME"},
            {"AccountID": "a3", "Code": "210", "Name": "Old Sales", "Status": "ARCHIVED", "Class": "REVENUE", "Type": "REVENUE"},
            {"AccountID": "a4", "Code": "469", "Name": "Rent", "Status": "ACTIVE", "Class": "EXPENSE", "Type": "OVERHEADS"}
        ],
        "tax_rates": [
            {"Name": "GST on Income", "TaxType": "OUTPUT", "Status": "ACTIVE", "CanApplyToRevenue": true, "EffectiveRate": 10.0},
            {"Name": "GST on Expenses", "TaxType": "INPUT", "Status": "ACTIVE", "CanApplyToRevenue": false, "EffectiveRate": 10.0}
        ]
    }))
    .expect("lists")
}

fn issue_on<'a>(model: &'a Model, field: &str) -> Option<&'a Issue> {
    model.report.issues.iter().find(|i| i.field == field)
}

#[wasm_bindgen_test]
fn with_xero_lists_names_are_checked_as_they_are_typed() {
    let mut record = mouse_pad();
    record.insert("Product_Code".into(), json!("MP-100"));
    record.insert("Xero_GL_Account".into(), json!("Salse"));
    let model = Model::with_record(record);
    assert_eq!(errors(&model), Vec::<&str>::new(), "before the lists arrive any name is a choice");

    let model = model.apply(Action::Options(xero_lists()));
    let issue = issue_on(&model, "Xero_GL_Account").expect("an issue");
    assert_eq!(issue.code, IssueCode::GlAccountUnknown);
    assert_eq!(issue.suggestions, ["Sales"]);

    let model = model.apply(Action::Edit("Xero_GL_Account".into(), json!("Old Sales")));
    assert_eq!(issue_on(&model, "Xero_GL_Account").map(|i| i.code), Some(IssueCode::GlAccountArchived));
    let model = model.apply(Action::Edit("Xero_GL_Account".into(), json!("SALES")));
    assert_eq!(errors(&model), Vec::<&str>::new(), "names match as Xero matches them");
    let model = model.apply(Action::Edit("Xero_GL_Account".into(), json!("Rent")));
    assert_eq!(issue_on(&model, "Xero_GL_Account").map(|i| i.severity), Some(Severity::Warning), "not revenue");
    let model = model.apply(Action::Edit("Xero_Tax_Rate".into(), json!("GST on Expenses")));
    assert_eq!(issue_on(&model, "Xero_Tax_Rate").map(|i| i.code), Some(IssueCode::TaxRateNotForSales));
}

#[wasm_bindgen_test]
async fn the_pick_lists_offer_only_what_can_be_chosen() {
    let root = render_after(mouse_pad(), vec![Action::Options(xero_lists())]).await;
    assert_eq!(texts(&root, "#xero-accounts option", Some("value")), ["Sales", "Other Revenue"], "revenue first");
    assert_eq!(texts(&root, "#xero-tax-rates option", Some("value")), ["GST on Income"]);
    // "Show all" adds the other usable accounts (never an archived or a system one).
    let all: web_sys::HtmlElement =
        root.query_selector("#all-accounts").expect("query").expect("show all").dyn_into().expect("element");
    all.click();
    gloo_timers::future::TimeoutFuture::new(0).await;
    assert_eq!(texts(&root, "#xero-accounts option", Some("value")), ["Sales", "Other Revenue", "Rent"]);
}

#[wasm_bindgen_test]
fn issues_from_the_sync_stay_on_their_field_until_it_is_edited() {
    let mut record = mouse_pad();
    record.insert("Product_Code".into(), json!("MP-100"));
    record.insert("Xero_GL_Account".into(), json!("Salse"));
    let model = Model::with_record(record);
    assert_eq!(model.severity_of("Xero_GL_Account"), None, "without Xero's lists any name is a choice");
    let issue = Issue {
        field: "Xero_GL_Account".into(),
        code: IssueCode::GlAccountUnknown,
        severity: Severity::Error,
        message: "Xero has no active account named “Salse”. Did you mean “Sales”?".into(),
        suggestions: vec!["Sales".into()],
    };
    let error = ApiError {
        code: ErrorCode::ValidationFailed,
        message: "The product cannot be synced yet.".into(),
        issues: vec![issue],
        request_id: None,
    };
    let model = model.apply(Action::Syncing).apply(Action::SyncFailed(error));
    assert_eq!(model.severity_of("Xero_GL_Account"), Some(Severity::Error));
    assert_eq!(model.sync_blocked(), None, "a retry stays possible");
    let model = model.apply(Action::Edit("Xero_GL_Account".into(), json!("Sales")));
    assert_eq!(model.severity_of("Xero_GL_Account"), None);
}

#[wasm_bindgen_test]
fn failures_that_need_someone_else_say_who() {
    let error = |code| ApiError { code, message: String::new(), issues: Vec::new(), request_id: None };
    assert_eq!(
        advice(&error(ErrorCode::ReconnectNeeded)),
        Some("Xero needs to be reconnected by your xero-sync admin.")
    );
    assert_eq!(advice(&error(ErrorCode::RateLimited)), Some("Xero is busy right now; try again in a minute."));
    assert_eq!(advice(&error(ErrorCode::ValidationFailed)), None, "its issues are on the fields");
}

#[wasm_bindgen_test]
fn page_load_entity_ids_come_as_arrays_or_strings() {
    assert_eq!(zoho::entity_id(&json!({"EntityId": ["41"]})).as_deref(), Some("41"));
    assert_eq!(zoho::entity_id(&json!({"EntityId": "42"})).as_deref(), Some("42"));
    assert_eq!(zoho::entity_id(&json!({"EntityId": []})), None);
    assert_eq!(zoho::entity_id(&json!({})), None);
}

#[derive(Properties, PartialEq)]
struct HarnessProps {
    record: Map<String, Value>,
    /// What happened after the record was read (the Xero and CRM lists arriving, …).
    then: Vec<Action>,
}

/// The popup's view over a reducer, without the SDK: what `App` renders once the record is read.
#[function_component(Harness)]
fn harness(props: &HarnessProps) -> Html {
    let (record, then) = (props.record.clone(), props.then.clone());
    let model = use_reducer(move || then.into_iter().fold(Model::with_record(record), Model::apply));
    html! { <ProductView {model} on_save={Callback::noop()} on_sync={Callback::noop()} on_close={Callback::noop()} /> }
}

fn texts(root: &web_sys::Element, css: &str, attribute: Option<&str>) -> Vec<String> {
    let nodes = root.query_selector_all(css).expect("query");
    (0..nodes.length())
        .filter_map(|i| nodes.item(i)?.dyn_into::<web_sys::Element>().ok())
        .filter_map(|e| match attribute {
            Some(name) => e.get_attribute(name),
            None => e.text_content(),
        })
        .collect()
}

fn text(root: &web_sys::Element, css: &str) -> String {
    texts(root, css, None).concat()
}

async fn render(record: Map<String, Value>) -> web_sys::Element {
    render_after(record, Vec::new()).await
}

async fn render_after(record: Map<String, Value>, then: Vec<Action>) -> web_sys::Element {
    let root = document().create_element("div").expect("div");
    document().body().expect("body").append_child(&root).expect("append");
    yew::Renderer::<Harness>::with_root_and_props(root.clone(), HarnessProps { record, then }).render();
    // Yew renders on the next tick.
    gloo_timers::future::TimeoutFuture::new(0).await;
    root
}

/// The view has no way to the network (it only dispatches to the reducer); the end-to-end test checks the
/// real widget's requests while typing.
#[wasm_bindgen_test]
async fn typing_a_code_revalidates_the_checklist() {
    let root = render(mouse_pad()).await;
    assert_eq!(texts(&root, "li.error", Some("data-field")), ["Product_Code", "Xero_GL_Account"]);
    // Xero's lists have not arrived: the tax rate's name is not checked yet, so it has no ✓.
    assert_eq!(root.query_selector_all("li.ok").expect("query").length(), 7);
    assert_eq!(texts(&root, "li.unchecked", Some("data-field")), ["Xero_Tax_Rate"]);
    assert_eq!(text(&root, ".summary"), "2 things to fix before this product can go to Xero.");
    assert_eq!(text(&root, "h1"), "Mouse Pad");
    let sync = root.query_selector("#sync").expect("query").expect("sync button");
    assert_eq!(sync.get_attribute("aria-disabled").as_deref(), Some("true"));
    assert_eq!(text(&root, "#sync-blocked"), "Fix the 2 items marked ✗ first.");
    // Every fix has a label the screen reader announces with it.
    assert_eq!(texts(&root, "label[for]", Some("for")).len(), 5);

    let input: web_sys::HtmlInputElement =
        root.query_selector("#fix-Product_Code").expect("query").expect("code input").dyn_into().expect("input");
    for typed in ["M", "MP", "MP-", "MP-1"] {
        input.set_value(typed);
        let init = web_sys::InputEventInit::new();
        init.set_bubbles(true);
        let event = web_sys::InputEvent::new_with_event_init_dict("input", &init).expect("event");
        input.dispatch_event(&event).expect("dispatched");
        gloo_timers::future::TimeoutFuture::new(0).await;
    }
    assert_eq!(texts(&root, "li.error", Some("data-field")), ["Xero_GL_Account"]);
    assert_eq!(text(&root, "h1 + .code"), "Code MP-1");
    assert_eq!(text(&root, ".summary"), "1 thing to fix before this product can go to Xero.");
    let save = root.query_selector("#save").expect("query").expect("save button");
    assert_eq!(save.get_attribute("aria-disabled").as_deref(), Some("false"), "an edit can be saved");
}

/// `META.getFields` for Products, as Zoho answers it: the project's custom fields exist, and the `Tax`
/// multi-select lists the org's taxes.
fn products_fields() -> Value {
    let custom =
        ["Add_to_Xero", "Xero_GL_Account", "Xero_Tax_Rate", "Xero_Item_ID", "Xero_Last_Synced", "Xero_Sync_Status"];
    let mut meta = json!({"fields": [
        {"api_name": "Product_Code", "data_type": "text", "pick_list_values": []},
        {"api_name": "Tax", "data_type": "multiselectpicklist", "pick_list_values": [
            {"display_value": "GST - 10.0 %", "actual_value": "GST - 10.0 %", "id": "4150868000000045001", "sequence_number": 1},
            {"display_value": "GST Free - 0.0 %", "actual_value": "GST Free - 0.0 %", "id": "4150868000000045003", "sequence_number": 2},
            {"display_value": "  ", "id": "4150868000000045009"}
        ]}
    ]});
    if let Some(fields) = meta["fields"].as_array_mut() {
        fields.extend(custom.iter().map(|name| json!({"api_name": name, "custom_field": true})));
    }
    meta
}

fn crm_fields() -> CrmFields {
    CrmFields::from_meta(&products_fields()).expect("the Products fields")
}

fn untaxed() -> Map<String, Value> {
    let mut record = mouse_pad();
    record.insert("Product_Code".into(), json!("MP-100"));
    record.insert("Xero_GL_Account".into(), json!("Sales"));
    record.insert("Tax".into(), json!([]));
    record
}

fn crm_taxes() -> Vec<CrmTax> {
    crm_fields().taxes
}

#[wasm_bindgen_test]
fn the_crm_taxes_are_the_tax_fields_choices() {
    let taxes = crm_taxes();
    let labels: Vec<&str> = taxes.iter().map(|t| t.label.as_str()).collect();
    assert_eq!(labels, ["GST - 10.0 %", "GST Free - 0.0 %"], "blank choices are dropped");
    assert_eq!(taxes[0].id.as_deref(), Some("4150868000000045001"));
    let no_tax_field = CrmFields::from_meta(&json!({"fields": [{"api_name": "Product_Code"}]})).expect("fields");
    assert_eq!((no_tax_field.api_names, no_tax_field.taxes), (vec!["Product_Code".to_owned()], Vec::new()));
    assert!(CrmFields::from_meta(&json!({"status": "error"})).is_err());
    let no_taxes = CrmFields::from_meta(&json!({"fields": [{"api_name": "Tax", "pick_list_values": []}]}));
    assert_eq!(no_taxes.map(|f| f.taxes), Ok(Vec::new()));
}

#[wasm_bindgen_test]
fn ticking_a_tax_fills_the_tax_field_as_the_crm_stores_it() {
    let taxes = crm_taxes();
    let model = Model::with_record(untaxed()).apply(Action::CrmFields(Ok(crm_fields())));
    assert_eq!(errors(&model), ["Tax"]);
    assert!(!model.has_tax(&taxes[0]));

    let model = model.apply(Action::ToggleTax(taxes[1].clone(), true));
    assert_eq!(model.edits["Tax"], json!([{"id": "4150868000000045003", "value": "GST Free - 0.0 %"}]));
    assert_eq!(errors(&model), Vec::<&str>::new());
    // Two ticks before any redraw both count: each is worked out from the state it finds.
    let model = model.apply(Action::ToggleTax(taxes[0].clone(), true));
    let both = &model.edits["Tax"];
    assert_eq!(
        (both[0]["value"].as_str(), both[1]["value"].as_str()),
        (Some("GST - 10.0 %"), Some("GST Free - 0.0 %"))
    );

    // Unticking both is back to the saved, empty field: no change left to save.
    let model =
        model.apply(Action::ToggleTax(taxes[1].clone(), false)).apply(Action::ToggleTax(taxes[0].clone(), false));
    assert!(!model.has_edits(), "{:?}", model.edits);
}

#[wasm_bindgen_test]
fn taxes_held_in_other_shapes_are_kept_and_can_be_removed() {
    let taxes = crm_taxes();
    // Older API versions: one name, or names; `{name}` objects; a tax the CRM no longer lists.
    let mut record = untaxed();
    record.insert("Tax".into(), json!("GST - 10.0 %"));
    let model = Model::with_record(record).apply(Action::CrmFields(Ok(crm_fields())));
    assert!(model.has_tax(&taxes[0]), "a single name");
    assert_eq!(errors(&model), Vec::<&str>::new());
    let model = model.apply(Action::ToggleTax(taxes[1].clone(), true));
    let labels: Vec<&str> =
        model.edits["Tax"].as_array().expect("list").iter().filter_map(|t| t["value"].as_str()).collect();
    assert_eq!(labels, ["GST - 10.0 %", "GST Free - 0.0 %"], "ticking another keeps the saved one");

    let mut record = untaxed();
    record.insert("Tax".into(), json!([{"name": "GST Free - 0.0 %"}, {"id": "77", "value": "Retired tax - 5 %"}]));
    let model = Model::with_record(record).apply(Action::CrmFields(Ok(crm_fields())));
    assert!(model.has_tax(&taxes[1]), "a `{{name}}` object");
    let choices: Vec<String> = model.tax_choices().into_iter().map(|t| t.label).collect();
    assert_eq!(choices, ["GST - 10.0 %", "GST Free - 0.0 %", "Retired tax - 5 %"], "the retired tax is shown");
    let retired = model.tax_choices().pop().expect("retired");
    let model = model.apply(Action::ToggleTax(retired, false));
    assert_eq!(model.edits["Tax"], json!([{"id": "4150868000000045003", "value": "GST Free - 0.0 %"}]));

    // The same taxes in another order are no change.
    let mut record = untaxed();
    let saved = json!([{"id": "4150868000000045003", "value": "GST Free - 0.0 %"}, {"id": "4150868000000045001", "value": "GST - 10.0 %"}]);
    record.insert("Tax".into(), saved);
    let model = Model::with_record(record).apply(Action::CrmFields(Ok(crm_fields())));
    let model =
        model.apply(Action::ToggleTax(taxes[0].clone(), false)).apply(Action::ToggleTax(taxes[0].clone(), true));
    assert!(!model.has_edits(), "{:?}", model.edits);
}

#[wasm_bindgen_test]
async fn the_tax_field_is_a_group_of_checkboxes() {
    let root = render_after(untaxed(), vec![Action::CrmFields(Ok(crm_fields()))]).await;
    assert_eq!(texts(&root, "li.error", Some("data-field")), ["Tax"]);
    let group = root.query_selector(r#"[role="group"]"#).expect("query").expect("the taxes' group");
    let label_id = group.get_attribute("aria-labelledby").expect("labelled");
    assert_eq!(document().get_element_by_id(&label_id).and_then(|l| l.text_content()).as_deref(), Some("Tax"));
    assert_eq!(text(&group, "label"), "GST - 10.0 %GST Free - 0.0 %");

    let first: web_sys::HtmlElement =
        group.query_selector("input").expect("query").expect("checkbox").dyn_into().expect("element");
    first.click();
    gloo_timers::future::TimeoutFuture::new(0).await;
    assert_eq!(texts(&root, "li.error", Some("data-field")), Vec::<String>::new());
    let checked: Vec<bool> = (0..2)
        .map(|i| {
            let nodes = root.query_selector_all(r#"[role="group"] input"#).expect("query");
            nodes.item(i).and_then(|n| n.dyn_into::<web_sys::HtmlInputElement>().ok()).is_some_and(|c| c.checked())
        })
        .collect();
    assert_eq!(checked, [true, false]);
    // Xero's lists have not arrived: the account and tax rate are not checked, so it is not "ready" yet.
    assert_eq!(text(&root, ".summary"), "Checking the account and tax rate against Xero…");
}

#[wasm_bindgen_test]
async fn a_custom_field_the_crm_lacks_is_a_setup_problem_not_an_input() {
    let mut meta = products_fields();
    if let Some(fields) = meta["fields"].as_array_mut() {
        fields.retain(|f| f["api_name"] != "Xero_GL_Account" && f["api_name"] != "Xero_Sync_Status");
    }
    let crm = CrmFields::from_meta(&meta).expect("fields");
    // Before the backend said which names the organisation uses, nothing is called missing.
    let root = render_after(mouse_pad(), vec![Action::CrmFields(Ok(crm.clone()))]).await;
    assert!(root.query_selector(".setup").expect("query").is_none());
    let root = render_after(mouse_pad(), vec![Action::CrmFields(Ok(crm)), Action::Options(xero_lists())]).await;
    let alert = text(&root, ".setup");
    assert!(alert.contains("“Xero_GL_Account” (Xero GL Account)"), "{alert}");
    assert!(alert.contains("“Xero_Sync_Status” (Xero Sync Status)"), "{alert}");
    assert!(root.query_selector("#fix-Xero_GL_Account").expect("query").is_none(), "typing there would be lost");
    let row = text(&root, r#"li[data-field="Xero_GL_Account"] .detail"#);
    assert_eq!(row, "This field is not set up in the CRM yet (see above).");
    assert!(root.query_selector("#fix-Product_Code").expect("query").is_some());

    let root =
        render_after(mouse_pad(), vec![Action::CrmFields(Ok(crm_fields())), Action::Options(xero_lists())]).await;
    assert!(root.query_selector(".setup").expect("query").is_none(), "every field exists");

    // Renamed in both places (the CRM and xero-sync's settings): nothing is missing, whatever the order the
    // answers come in.
    let mut meta = products_fields();
    if let Some(fields) = meta["fields"].as_array_mut() {
        fields.retain(|f| f["api_name"] != "Xero_GL_Account");
        fields.push(json!({"api_name": "GL_Account__c", "custom_field": true}));
    }
    let crm = CrmFields::from_meta(&meta).expect("fields");
    let renamed = PickLists {
        fields: shared::FieldMap { gl_account: "GL_Account__c".into(), ..shared::FieldMap::default() },
        ..xero_lists()
    };
    let root =
        render_after(mouse_pad(), vec![Action::CrmFields(Ok(crm.clone())), Action::Options(renamed.clone())]).await;
    assert!(root.query_selector(".setup").expect("query").is_none(), "{}", root.inner_html());
    let root = render_after(mouse_pad(), vec![Action::Options(renamed), Action::CrmFields(Ok(crm))]).await;
    assert!(root.query_selector(".setup").expect("query").is_none(), "{}", root.inner_html());
}

#[wasm_bindgen_test]
async fn the_crm_taxes_failing_to_load_leaves_the_field_read_only_with_a_note() {
    let root = render_after(untaxed(), vec![Action::CrmFields(Err("the CRM did not answer".into()))]).await;
    assert!(root.query_selector(r#"[role="group"]"#).expect("query").is_none());
    assert!(text(&root, ".note").contains("the CRM did not answer"), "{}", root.inner_html());
}

#[wasm_bindgen_test]
async fn closing_with_unsaved_changes_asks_first() {
    let root = render(mouse_pad()).await;
    let click = |css: &str| {
        let button: web_sys::HtmlElement =
            root.query_selector(css).expect("query").unwrap_or_else(|| panic!("{css}")).dyn_into().expect("element");
        button.click();
    };
    let input: web_sys::HtmlInputElement =
        root.query_selector("#fix-Product_Code").expect("query").expect("code input").dyn_into().expect("input");
    input.set_value("MP-100");
    input.dispatch_event(&web_sys::Event::new("change").expect("event")).expect("dispatched");
    gloo_timers::future::TimeoutFuture::new(0).await;

    click("#close");
    gloo_timers::future::TimeoutFuture::new(0).await;
    let dialog = root.query_selector(".confirm").expect("query").expect("asked before closing");
    assert_eq!(text(&dialog, "p"), "You have unsaved changes. Close without saving them?");
    let focused = document().active_element().map(|e| e.id());
    assert_eq!(focused.as_deref(), Some("keep-editing"), "the safe choice has the focus");
    assert!(root.query_selector("#save").expect("query").is_none());

    click("#keep-editing");
    gloo_timers::future::TimeoutFuture::new(0).await;
    assert!(root.query_selector(".confirm").expect("query").is_none());
    assert_eq!(document().active_element().map(|e| e.id()).as_deref(), Some("close"));
    assert_eq!(input.value(), "MP-100", "nothing was lost");

    // Asked again, then Escape keeps editing too.
    click("#close");
    gloo_timers::future::TimeoutFuture::new(0).await;
    let init = web_sys::KeyboardEventInit::new();
    init.set_key("Escape");
    init.set_bubbles(true);
    let escape = web_sys::KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init).expect("event");
    document().active_element().expect("focused").dispatch_event(&escape).expect("dispatched");
    gloo_timers::future::TimeoutFuture::new(0).await;
    assert!(root.query_selector(".confirm").expect("query").is_none(), "Escape keeps editing");

    // Asked again, and the user goes on typing instead: the focus stays in the field being typed in.
    click("#close");
    gloo_timers::future::TimeoutFuture::new(0).await;
    input.focus().expect("focus");
    input.set_value("MP-1000");
    input.dispatch_event(&web_sys::Event::new("change").expect("event")).expect("dispatched");
    gloo_timers::future::TimeoutFuture::new(0).await;
    assert!(root.query_selector(".confirm").expect("query").is_none(), "an edit answers the question");
    assert_eq!(document().active_element().map(|e| e.id()).as_deref(), Some("fix-Product_Code"));
}

#[wasm_bindgen_test]
async fn without_zoho_sdk_the_widget_says_so() {
    let root = document().create_element("div").expect("div");
    document().body().expect("body").append_child(&root).expect("append");
    yew::Renderer::<widget::App>::with_root(root.clone()).render();
    let deadline = js_sys::Date::now() + 5_000.0;
    while root.query_selector("[role=alert]").expect("query").is_none() && js_sys::Date::now() < deadline {
        gloo_timers::future::TimeoutFuture::new(10).await;
    }
    assert!(text(&root, "[role=alert]").starts_with("Zoho's widget SDK did not load"), "{}", root.inner_html());
}

/// A busy organisation's lists: 150 accounts (one of them "Sales") and 40 tax rates, as the backend sends them.
fn busy_organisation() -> PickLists {
    let mut accounts: Vec<Value> = (0..149)
        .map(|i| json!({"Code": format!("{}", 300 + i), "Name": format!("Expense account number {i}"), "Status": "ACTIVE", "Class": "EXPENSE"}))
        .collect();
    accounts.push(json!({"Code": "200", "Name": "Sales", "Status": "ACTIVE", "Class": "REVENUE"}));
    let mut rates: Vec<Value> = (0..39)
        .map(|i| json!({"Name": format!("Rate {i}"), "TaxType": format!("TAX{i:03}"), "Status": "ACTIVE", "CanApplyToRevenue": i % 2 == 0}))
        .collect();
    rates.push(json!({"Name": "GST on Income", "TaxType": "OUTPUT", "Status": "ACTIVE", "CanApplyToRevenue": true}));
    serde_json::from_value(json!({"accounts": accounts, "tax_rates": rates})).expect("lists")
}

/// Benchmark, not a test of speed: the time of one keystroke's revalidation (the reducer merging the edit
/// into the record and running every rule against a busy organisation's lists), measured in the browser;
/// best of 5 rounds of 1,000 edits, as the machines running it are shared. Two cases: typing a product code
/// (every name valid), and typing a GL account name no account has (the worst case: the closest of 150
/// names are looked for on every keystroke).
#[wasm_bindgen_test]
fn bench_keystroke_revalidation() {
    const EDITS: u32 = 1_000;
    let performance = web_sys::window().and_then(|w| w.performance()).expect("performance");
    let mut record = mouse_pad();
    record.insert("Xero_GL_Account".into(), json!("Sales"));
    let loaded = Model::with_record(record).apply(Action::Options(busy_organisation()));
    assert_eq!(errors(&loaded), ["Product_Code"]);
    for (field, typed) in [("Product_Code", "MP-"), ("Xero_GL_Account", "Revenue from sale ")] {
        let mut model = loaded.clone();
        let mut rounds = Vec::new();
        for _ in 0..5 {
            let start = performance.now();
            for i in 0..EDITS {
                model = model.apply(Action::Edit(field.into(), Value::String(format!("{typed}{i}"))));
            }
            rounds.push((performance.now() - start) * 1_000.0 / f64::from(EDITS));
        }
        assert_eq!(model.text(field), format!("{typed}{}", EDITS - 1));
        let best = rounds.iter().copied().fold(f64::INFINITY, f64::min);
        let mean = rounds.iter().sum::<f64>() / 5.0;
        console_log!(
            "BENCH widget keystroke revalidation ({field}, 150 accounts): best round {best:.1} µs per edit, mean of rounds {mean:.1} µs"
        );
    }
}

// ---- Issue 15: what only the server knows, shown before any click; honest states; what Xero will get ----

/// The Wireless Mouse (Black), code `wm-100`, whose code another product's item holds in Xero.
fn black_mouse() -> Map<String, Value> {
    let mut record = mouse_pad();
    record.insert("id".into(), json!("4150868000000411005"));
    record.insert("Product_Name".into(), json!("Wireless Mouse (Black)"));
    record.insert("Product_Code".into(), json!("wm-100"));
    record.insert("Xero_GL_Account".into(), json!("Sales"));
    record
}

fn code_in_use() -> Issue {
    Issue {
        field: "Product_Code".into(),
        code: IssueCode::CodeInUse,
        severity: Severity::Error,
        message: "Xero already has an item with the code “WM-100”, synced from Wireless Mouse; give this product its own code.".into(),
        suggestions: Vec::new(),
    }
}

/// A preview answer as the backend sends it (read by the same functions the widget's client uses).
fn preview(answer: Value) -> Action {
    let issues = shared::wire::FromJson::from_json(&answer["issues"]).expect("issues");
    Action::Preview(Ok(Preview { issues, plan: SyncPlan::in_preview(&answer) }))
}

fn api_error(code: ErrorCode, message: &str) -> ApiError {
    ApiError { code, message: message.into(), issues: Vec::new(), request_id: None }
}

fn click(root: &web_sys::Element, css: &str) {
    let element: web_sys::HtmlElement =
        root.query_selector(css).expect("query").unwrap_or_else(|| panic!("no {css}")).dyn_into().expect("element");
    element.click();
}

async fn tick() {
    gloo_timers::future::TimeoutFuture::new(0).await;
}

#[wasm_bindgen_test]
async fn a_code_another_product_holds_is_shown_before_any_click_with_a_free_code() {
    let taken = json!({"record_id": "4150868000000411005", "issues": [code_in_use()], "payload": null,
        "plan": {"outcome": "created", "suggested_code": "WIRELESS-MOUSE-BLACK"}});
    let root = render_after(black_mouse(), vec![Action::Options(xero_lists()), preview(taken)]).await;
    assert_eq!(texts(&root, "li.error", Some("data-field")), ["Product_Code"], "at first paint, no click");
    assert!(text(&root, r#"li[data-field="Product_Code"] .detail"#).contains("synced from Wireless Mouse"));
    assert_eq!(text(&root, "#sync-blocked"), "Fix the item marked ✗ first.");
    assert_eq!(text(&root, ".summary"), "1 thing to fix before this product can go to Xero.");
    assert!(root.query_selector(".xero-gets").expect("query").is_none(), "nothing to promise while blocked");

    click(&root, "#suggest-code");
    tick().await;
    let input: web_sys::HtmlInputElement =
        root.query_selector("#fix-Product_Code").expect("query").expect("input").dyn_into().expect("input");
    assert_eq!(input.value(), "WIRELESS-MOUSE-BLACK", "the free code the preview found");
    assert_eq!(texts(&root, "li.error", Some("data-field")), Vec::<String>::new(), "the preview was of the old code");
    assert!(text(&root, "#sync-blocked").starts_with("Save your changes"));

    // A preview refusing the record (a 422 with the issue) is the same verdict, not a failure.
    let refused = ApiError { issues: vec![code_in_use()], ..api_error(ErrorCode::ValidationFailed, "Fix the fields.") };
    let model = Model::with_record(black_mouse()).apply(Action::Preview(Err(refused)));
    assert_eq!(model.problem(), None);
    assert_eq!(model.severity_of("Product_Code"), Some(Severity::Error));
    assert_eq!(model.blocking_rows(), 1);
    // Without a plan from the backend, the code is made from the name.
    let root =
        render_after(black_mouse(), vec![Action::Preview(Ok(Preview { issues: vec![code_in_use()], plan: None }))])
            .await;
    click(&root, "#suggest-code");
    tick().await;
    assert_eq!(text(&root, "h1 + .code"), "Code WIRELESS-MOUSE-BLACK");
}

/// "Suggest a code" for a product without one fills the code the preview made from the name, free among
/// the codes already in Xero (here `LAPTOP-STAND` is another item's).
#[wasm_bindgen_test]
async fn suggest_a_code_fills_the_free_code_the_preview_made_from_the_name() {
    let mut record = mouse_pad();
    record.insert("Product_Name".into(), json!("Laptop Stand"));
    let missing = Issue::error("Product_Code", IssueCode::CodeMissing, "Enter a product code.");
    let answer = json!({"record_id": "1", "issues": [missing], "payload": null,
        "plan": {"outcome": "created", "suggested_code": "LAPTOP-STAND-2"}});
    let root = render_after(record, vec![Action::Options(xero_lists()), preview(answer)]).await;
    click(&root, "#suggest-code");
    tick().await;
    assert_eq!(text(&root, "h1 + .code"), "Code LAPTOP-STAND-2");
    assert!(root.query_selector("#suggest-code").expect("query").is_none(), "the code is fine now");
}

fn synced_mouse() -> Map<String, Value> {
    let mut record = mouse_pad();
    record.insert("Product_Code".into(), json!("WM-100"));
    record.insert("Xero_GL_Account".into(), json!("Sales"));
    record.insert("Unit_Price".into(), json!(29.5));
    record
}

fn sydney() -> Action {
    Action::User(CrmUser {
        name: Some("Olivia Nguyen".into()),
        time_zone: Some("Australia/Sydney".into()),
        locale: Some("en_AU".into()),
    })
}

#[wasm_bindgen_test]
async fn what_xero_will_get_is_shown_with_where_each_value_comes_from() {
    let plan = json!({"record_id": "1", "issues": [], "payload": null, "plan": {
        "outcome": "updated", "item": {"item_id": "i1", "code": "WM-100", "last_synced": "2026-11-27T23:30:00Z"}}});
    let root = render_after(synced_mouse(), vec![sydney(), Action::Options(xero_lists()), preview(plan)]).await;
    let block = text(&root, ".xero-gets dl");
    for part in ["CodeWM-100", "NameMouse Pad", "Sales price29.50", "AccountSales (200) — chosen for this product"] {
        assert!(block.contains(part), "{part} in {block}");
    }
    assert!(block.contains("Tax rateGST on Income (OUTPUT) — chosen for this product"), "{block}");
    // The last sync, in the user's zone: 23:30 UTC on the 27th is the 28th in Sydney.
    assert_eq!(text(&root, ".xero-gets .plan"), "Syncing updates WM-100 (last synced 28 Nov 2026).");
    // Every check met: folded behind one line, so the actions stay on the first screen.
    assert_eq!(text(&root, "details.passed > summary"), "10 checks passed");
    assert_eq!(root.query_selector_all("details.passed li.ok").expect("query").length(), 10);
    assert_eq!(text(&root, ".summary"), "Ready to sync to Xero.");

    let creates = json!({"record_id": "1", "issues": [], "payload": null, "plan": {"outcome": "created"}});
    let root = render_after(synced_mouse(), vec![Action::Options(xero_lists()), preview(creates)]).await;
    assert_eq!(text(&root, ".xero-gets .plan"), "Syncing creates a new item in Xero.");
    // Prices as Xero keeps them: at least 2 decimals, at most 4.
    let mut precise = synced_mouse();
    precise.insert("Unit_Price".into(), json!(10.125));
    let root = render_after(precise, vec![Action::Options(xero_lists())]).await;
    assert!(text(&root, ".xero-gets dl").contains("Sales price10.125"));
}

#[wasm_bindgen_test]
async fn rows_that_need_attention_come_first_and_never_move_while_typing() {
    let root = render_after(mouse_pad(), vec![Action::Options(xero_lists())]).await;
    assert_eq!(texts(&root, "section > ul.checklist > li", Some("data-field")), ["Product_Code", "Xero_GL_Account"]);
    assert_eq!(text(&root, "details.passed > summary"), "8 checks passed");
    let input: web_sys::HtmlInputElement =
        root.query_selector("#fix-Product_Code").expect("query").expect("input").dyn_into().expect("input");
    input.focus().expect("focus");
    input.set_value("MP-100");
    input.dispatch_event(&web_sys::Event::new("change").expect("event")).expect("dispatched");
    tick().await;
    assert_eq!(texts(&root, "section > ul.checklist > li", Some("data-field")), ["Product_Code", "Xero_GL_Account"]);
    assert_eq!(texts(&root, r#"li[data-field="Product_Code"]"#, Some("class")), ["ok"], "met, and still in place");
    assert_eq!(document().active_element().map(|e| e.id()).as_deref(), Some("fix-Product_Code"));
}

#[wasm_bindgen_test]
async fn a_disconnected_xero_is_one_banner_sync_disabled_and_no_tick_it_could_not_check() {
    let reconnect = api_error(ErrorCode::ReconnectNeeded, "Xero is not connected yet; an admin must connect it.");
    let root = render_after(
        synced_mouse(),
        vec![Action::OptionsFailed(reconnect.clone()), Action::Preview(Err(reconnect.clone()))],
    )
    .await;
    assert_eq!(text(&root, ".banner p"), "Xero is not connected yet; an admin must connect it.");
    assert_eq!(root.query_selector_all("[role=alert]").expect("query").length(), 1, "said once");
    assert_eq!(texts(&root, "li.unchecked", Some("data-field")), ["Xero_GL_Account", "Xero_Tax_Rate"]);
    assert!(text(&root, r#"li[data-field="Xero_GL_Account"] .detail"#).contains("not checked"));
    let sync = root.query_selector("#sync").expect("query").expect("sync");
    assert_eq!(sync.get_attribute("aria-disabled").as_deref(), Some("true"));
    assert_eq!(text(&root, "#sync-blocked"), "Xero must be reconnected before anything can be synced (see the top).");
    assert_eq!(text(&root, ".summary"), "Not checked against Xero: see the note at the top.", "never “ready”");
    assert!(root.query_selector(".xero-gets").expect("query").is_none());

    // Once reconnected, "Check again" brings the lists and the preview, and the banner goes.
    let model = Model::with_record(synced_mouse())
        .apply(Action::OptionsFailed(reconnect.clone()))
        .apply(Action::Recheck)
        .apply(Action::Options(xero_lists()))
        .apply(Action::Preview(Ok(Preview::default())));
    assert_eq!(model.problem(), None);
    assert_eq!(model.sync_blocked(), None);

    // A sync refused for the same reason says so once: in the banner, not again below the buttons.
    let model = Model::with_record(synced_mouse()).apply(Action::Syncing).apply(Action::SyncFailed(reconnect));
    assert!(matches!(model.problem(), Some(Problem::Reconnect(_))));
    let root = render_after(
        synced_mouse(),
        vec![Action::Syncing, Action::SyncFailed(api_error(ErrorCode::ReconnectNeeded, "Reconnect Xero."))],
    )
    .await;
    assert_eq!(text(&root, "#status"), "Not synced (see the note at the top).");
    assert_eq!(text(&root, ".banner p"), "Reconnect Xero.");
}

#[wasm_bindgen_test]
async fn lists_or_a_preview_that_fail_are_said_in_the_banner_until_checked_again() {
    let root = render_after(
        synced_mouse(),
        vec![Action::OptionsFailed(api_error(ErrorCode::UpstreamUnavailable, "Xero is not answering"))],
    )
    .await;
    assert!(text(&root, ".banner p").starts_with("Xero's accounts and tax rates could not be loaded"));
    assert!(text(&root, ".banner p").ends_with("Xero is not answering"));
    assert!(root.query_selector("#recheck").expect("query").is_some());
    assert!(text(&root, "#sync-blocked").contains("Check again"));

    let failed = Action::Preview(Err(api_error(ErrorCode::UpstreamUnavailable, "Zoho is not answering")));
    let model = Model::with_record(synced_mouse()).apply(Action::Options(xero_lists())).apply(failed);
    assert_eq!(model.problem(), Some(Problem::PreviewFailed("Zoho is not answering".into())));
    let model = model.apply(Action::Recheck);
    assert_eq!(model.problem(), None, "checking again");
    assert_eq!(model.sync_blocked(), None, "a preview still on its way does not block");
}

#[wasm_bindgen_test]
async fn after_a_sync_the_record_page_is_reloaded_on_close_and_times_are_local() {
    let synced = SyncResponse {
        outcome: SyncOutcome::Created,
        item_id: "i1".into(),
        code: "WM-100".into(),
        xero_url: "https://go.xero.com/Accounts/Inventory/i1".into(),
        synced_at: "2026-11-28T01:02:03Z".into(),
        warnings: Vec::new(),
    };
    let history = vec![shared::wire::HistoryEntry {
        at: "2026-11-28T01:02:03Z".into(),
        by: "Olivia Nguyen".into(),
        outcome: "created".into(),
        message: None,
    }];
    let model = Model::with_record(synced_mouse());
    assert!(!model.wrote);
    let model = model.apply(Action::Syncing).apply(Action::Synced(synced.clone()));
    assert!(model.wrote, "closing reloads the record page (Popup.closeReload)");
    let root = render_after(
        synced_mouse(),
        vec![sydney(), Action::Syncing, Action::Synced(synced), Action::History(Ok(history))],
    )
    .await;
    assert!(text(&root, "#status").ends_with("The record shows it once you close this window."));
    // 01:02 UTC is 12:02 in Sydney in November (daylight saving); the history is folded below the actions.
    let when = text(&root, "details.history td");
    assert!(when.contains("28 Nov 2026") && when.contains("12:02"), "{when}");
    assert_eq!(text(&root, "details.history > summary"), "Recent syncs (1)");
    // Who synced is the CRM's claim, and says so.
    assert_eq!(text(&root, "details.history th:nth-child(2)"), "Who (reported by the CRM)");
    // A zone the browser does not know falls back to its own, never to raw UTC text or a crash.
    let unknown = Action::User(CrmUser { time_zone: Some("Mars/Olympus".into()), ..CrmUser::default() });
    let entry = shared::wire::HistoryEntry {
        at: "2026-11-28T01:02:03Z".into(),
        by: "x".into(),
        outcome: "created".into(),
        message: None,
    };
    let root = render_after(synced_mouse(), vec![unknown, Action::History(Ok(vec![entry]))]).await;
    assert!(!text(&root, "details.history td").contains('T'), "{}", text(&root, "details.history td"));
}

#[wasm_bindgen_test]
async fn fields_the_widget_cannot_fix_say_where_to_fix_them() {
    let mut record = synced_mouse();
    record.insert("Product_Name".into(), json!("x".repeat(51)));
    let root = render(record).await;
    let detail = text(&root, r#"li[data-field="Product_Name"] .detail"#);
    assert!(detail.contains("Xero allows at most 50"), "{detail}");
    assert!(detail.contains("Edit the Product Name on the product record in the CRM"), "{detail}");
}

#[wasm_bindgen_test]
async fn a_name_matching_error_waits_until_typing_pauses_or_the_field_is_left() {
    let root = render_after(synced_mouse(), vec![Action::Options(xero_lists())]).await;
    let input: web_sys::HtmlInputElement =
        root.query_selector("#fix-Xero_GL_Account").expect("query").expect("input").dyn_into().expect("input");
    let row = r#"li[data-field="Xero_GL_Account"]"#;
    for typed in ["S", "Sa", "Sal"] {
        input.set_value(typed);
        let init = web_sys::InputEventInit::new();
        init.set_bubbles(true);
        input
            .dispatch_event(&web_sys::InputEvent::new_with_event_init_dict("input", &init).expect("event"))
            .expect("dispatched");
        tick().await;
        assert_eq!(texts(&root, row, Some("class")), ["typing"], "{typed}: no error mid-word");
        assert!(!text(&root, row).contains("no active account"), "{typed}");
    }
    gloo_timers::future::TimeoutFuture::new(700).await;
    assert_eq!(texts(&root, row, Some("class")), ["error"], "after a pause");
    assert!(text(&root, row).contains("Xero has no active account named “Sal”. Did you mean “Sales”?"));

    // Leaving the field shows it at once.
    input.set_value("Salx");
    input.dispatch_event(&web_sys::Event::new("change").expect("event")).expect("dispatched");
    tick().await;
    assert_eq!(texts(&root, row, Some("class")), ["typing"]);
    input.dispatch_event(&web_sys::FocusEvent::new("blur").expect("event")).expect("dispatched");
    tick().await;
    assert_eq!(texts(&root, row, Some("class")), ["error"]);
    // The rules ran on every keystroke all along: the model knew.
    let model = Model::with_record(synced_mouse()).apply(Action::Options(xero_lists()));
    let typing = model.apply(Action::Edit("Xero_GL_Account".into(), json!("Sal")));
    assert_eq!(typing.report.errors().next().map(|i| i.code), Some(IssueCode::GlAccountUnknown));
}

#[wasm_bindgen_test]
async fn fields_changed_in_xero_are_shown_with_a_choice_before_syncing() {
    let edited = json!({"record_id": "1", "issues": [], "payload": null, "plan": {
        "outcome": "updated", "item": {"item_id": "i1", "code": "WM-100"},
        "xero_edits": [{"field": "Unit_Price", "xero_value": "34.00", "crm_value": "29.50", "changed_at": "2026-11-28T03:00:00Z"}]}});
    let root = render_after(synced_mouse(), vec![sydney(), Action::Options(xero_lists()), preview(edited)]).await;
    assert_eq!(
        text(&root, ".xero-edits li"),
        "Xero has Unit Price 34.00, the CRM 29.50; changed in Xero on 28 Nov 2026."
    );
    assert_eq!(text(&root, "#sync-blocked"), "Choose first what to do with the changes made in Xero.");
    click(&root, "#xero-edits-keep");
    tick().await;
    assert!(root.query_selector("#sync-blocked").expect("query").is_none(), "chosen: Sync may be pressed");
    let model = Model::with_record(synced_mouse()).apply(Action::ChooseXeroEdits(XeroEdits::Keep));
    assert_eq!(model.xero_edits, Some(XeroEdits::Keep), "sent as the sync request's choice");
}

/// The options answer of an organisation with defaults, as `/api/xero/options` will send it.
fn options_with_defaults() -> Value {
    let mut answer = serde_json::to_value(xero_lists()).expect("json");
    answer["defaults"] = json!({"gl_account": "200", "taxes": [
        {"crm_tax": "GST - 10.0 %", "tax_type": "OUTPUT"}, {"crm_tax": "GST Free - 0.0 %", "tax_type": "EXEMPTOUTPUT"}]});
    answer
}

#[wasm_bindgen_test]
async fn with_the_organisations_defaults_a_product_needs_no_xero_typing() {
    // Only name, code, Add to Xero, Taxable and Tax.
    let mut record = synced_mouse();
    record.insert("Xero_GL_Account".into(), Value::Null);
    record.insert("Xero_Tax_Rate".into(), Value::Null);
    let answer = options_with_defaults();
    let lists: PickLists = shared::wire::FromJson::from_json(&answer).expect("lists");
    let defaults = shared::OrgDefaults::in_options(&answer);
    assert_eq!(defaults.gl_account.as_deref(), Some("200"));
    let root = render_after(record.clone(), vec![Action::Options(lists), Action::Defaults(defaults)]).await;
    assert_eq!(texts(&root, "li:not(.ok)", Some("data-field")), Vec::<String>::new(), "every check met");
    assert_eq!(text(&root, ".summary"), "Ready to sync to Xero.");
    assert_eq!(text(&root, r#"li[data-field="Xero_GL_Account"] .detail"#), "Sales (200) — the organisation's default");
    assert_eq!(
        text(&root, r#"li[data-field="Xero_Tax_Rate"] .detail"#),
        "GST on Income (OUTPUT) — from the CRM tax GST - 10.0 %"
    );
    assert!(text(&root, ".xero-gets").contains("Sales (200) — the organisation's default"));
    assert!(root.query_selector("#fix-Xero_GL_Account[type=text]").expect("query").is_none(), "nothing to type");

    click(&root, "#fix-Xero_GL_Account");
    tick().await;
    assert!(root.query_selector("input#fix-Xero_GL_Account").expect("query").is_some(), "today's pick-list");
    assert_eq!(texts(&root, "#xero-accounts option", Some("value")), ["Sales", "Other Revenue"]);

    // Without defaults in the answer (today's backend), the same product lacks both.
    let answer = serde_json::to_value(xero_lists()).expect("json");
    let model = Model::with_record(record)
        .apply(Action::Options(shared::wire::FromJson::from_json(&answer).expect("lists")))
        .apply(Action::Defaults(shared::OrgDefaults::in_options(&answer)));
    assert_eq!(errors(&model), ["Xero_GL_Account", "Xero_Tax_Rate"]);
}

#[wasm_bindgen_test]
async fn a_sync_that_may_succeed_next_time_offers_to_try_again_once() {
    let busy = api_error(ErrorCode::UpstreamUnavailable, "Xero is not answering; the sync can safely be retried.");
    let root =
        render_after(synced_mouse(), vec![Action::Options(xero_lists()), Action::Syncing, Action::SyncFailed(busy)])
            .await;
    assert_eq!(
        text(&root, "#status p"),
        "Xero is not answering; the sync can safely be retried.Trying again is safe: it never duplicates."
    );
    assert!(root.query_selector("#retry").expect("query").is_some(), "Try again");
    assert!(root.query_selector(".banner").expect("query").is_none(), "nothing for the top: the lists loaded");
}

#[wasm_bindgen_test]
fn leaving_a_name_field_is_no_keystroke() {
    // Leaving the field fires `change` with the value already typed: the verdict does not wait again.
    let model = Model::with_record(synced_mouse()).apply(Action::Options(xero_lists()));
    let typed = model.apply(Action::Edit("Xero_GL_Account".into(), json!("Salse")));
    assert!(typed.typing.is_some());
    let left = typed.apply(Action::Settle(None)).apply(Action::Edit("Xero_GL_Account".into(), json!("Salse")));
    assert_eq!(left.typing, None);
    assert_eq!(left.blocking_rows(), 1);
}
