//! Component tests, in headless Chromium: the checklist renders the shared rules' verdicts on a record as
//! Zoho sends it, each keystroke revalidates it, the reducer keeps edits apart from the
//! record, and a page without Zoho's SDK shows an error rather than nothing. Also a benchmark of the
//! per-keystroke revalidation (printed, not asserted).
#![cfg(target_arch = "wasm32")]

use serde_json::{Map, Value, json};
use shared::wire::{ApiError, ErrorCode};
use shared::{Issue, IssueCode, Severity};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::{console_log, wasm_bindgen_test, wasm_bindgen_test_configure};
use widget::state::{Action, Activity, Model, advice};
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
    let lists = shared::wire::PickLists { fields, accounts: Vec::new(), tax_rates: Vec::new() };
    let model = model.apply(Action::Options(lists));
    assert_eq!(errors(&model), ["Product_Code"], "read again with the organisation's names");
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
}

/// The popup's view over a reducer, without the SDK: what `App` renders once the record is read.
#[function_component(Harness)]
fn harness(props: &HarnessProps) -> Html {
    let record = props.record.clone();
    let model = use_reducer(move || Model::with_record(record));
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
    let root = document().create_element("div").expect("div");
    document().body().expect("body").append_child(&root).expect("append");
    yew::Renderer::<Harness>::with_root_and_props(root.clone(), HarnessProps { record }).render();
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
    assert_eq!(root.query_selector_all("li.ok").expect("query").length(), 8);
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

/// Benchmark, not a test of speed: the time of one keystroke's revalidation (the reducer merging the edit
/// into the record and running every rule), measured in the browser; best of 5 rounds of 1,000 edits, as
/// the machines running it are shared.
#[wasm_bindgen_test]
fn bench_keystroke_revalidation() {
    const EDITS: u32 = 1_000;
    let performance = web_sys::window().and_then(|w| w.performance()).expect("performance");
    let mut model = Model::with_record(mouse_pad());
    let mut rounds = Vec::new();
    for _ in 0..5 {
        let start = performance.now();
        for i in 0..EDITS {
            model = model.apply(Action::Edit("Product_Code".into(), Value::String(format!("MP-{i}"))));
        }
        rounds.push((performance.now() - start) * 1_000.0 / f64::from(EDITS));
    }
    assert_eq!(model.text("Product_Code"), format!("MP-{}", EDITS - 1));
    let best = rounds.iter().copied().fold(f64::INFINITY, f64::min);
    let mean = rounds.iter().sum::<f64>() / 5.0;
    console_log!("BENCH widget keystroke revalidation: best round {best:.1} µs per edit, mean of rounds {mean:.1} µs");
}
