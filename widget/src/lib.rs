//! The "Sync to Xero" widget, in the popup of the Zoho CRM product record's button.
//!
//! It reads the record through Zoho's SDK ([`zoho`]), checks it with the shared rules compiled to wasm on
//! every keystroke ([`state`]), so the feedback is instant and identical to what the backend enforces,
//! writes fixes back with the SDK, and syncs through the backend's API ([`api`]).

pub mod api;
mod checklist;
mod json;
pub mod state;
pub mod zoho;

use std::cell::RefCell;
use std::rc::Rc;

use serde_json::{Map, Value};
use shared::wire::{ApiError, ErrorCode, SyncOutcome};
use state::{Action, Activity, Model, Phase, advice};
use wasm_bindgen::JsCast;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api::Client;

/// Performance marks of the start-up, read by the end-to-end benchmark.
pub const MARK_PAGE_LOAD: &str = "xero-sync:page-load";
pub const MARK_CHECKLIST: &str = "xero-sync:checklist";

fn mark(name: &str) {
    if let Some(performance) = web_sys::window().and_then(|w| w.performance()) {
        let _ = performance.mark(name);
    }
}

/// `<meta name="xero-sync-mode" content="sandbox">`, filled in by the backend.
fn sandbox_mode() -> bool {
    web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.query_selector(r#"meta[name="xero-sync-mode"]"#).ok().flatten())
        .and_then(|m| m.get_attribute("content"))
        .is_some_and(|mode| mode == "sandbox")
}

/// Reads the record, the CRM's taxes (alongside) and the user, then Xero's lists and the history through the
/// backend.
async fn start(model: UseReducerDispatcher<Model>, client: Rc<RefCell<Option<Rc<Client>>>>) {
    let record_id = match zoho::start().await {
        Ok(id) => id,
        Err(message) => return model.dispatch(Action::Fail(message)),
    };
    mark(MARK_PAGE_LOAD);
    model.dispatch(Action::Loading("Reading the product…"));
    let record = match zoho::get_record(&record_id).await {
        Ok(record) => record,
        Err(message) => return model.dispatch(Action::Fail(message)),
    };
    model.dispatch(Action::Record(record));
    // The CRM's fields and taxes come from the CRM, apart from the backend's calls, so neither waits.
    let fields = model.clone();
    spawn_local(async move { fields.dispatch(Action::CrmFields(zoho::crm_fields().await)) });
    // The name only labels the sync log; without it the backend logs "CRM user".
    let user = zoho::current_user().await.ok().flatten();
    let Some(origin) = Client::page_origin() else {
        return model.dispatch(Action::OptionsFailed("The widget cannot tell where xero-sync runs.".into()));
    };
    let api = Rc::new(Client::new(origin, record_id, user));
    *client.borrow_mut() = Some(api.clone());
    match api.options().await {
        Ok(lists) => model.dispatch(Action::Options(lists)),
        Err(error) => model.dispatch(Action::OptionsFailed(error.message)),
    }
    refresh_history(&model, &api).await;
}

async fn refresh_history(model: &UseReducerDispatcher<Model>, api: &Client) {
    model.dispatch(Action::History(api.history().await.map_err(|e| e.message)));
}

/// The record's id, as read.
fn record_id(model: &Model) -> Option<String> {
    model.record.get("id").and_then(Value::as_str).map(str::to_owned)
}

#[function_component(App)]
pub fn app() -> Html {
    let model = use_reducer(Model::default);
    let client = use_mut_ref(|| None::<Rc<Client>>);

    {
        let (dispatcher, client) = (model.dispatcher(), client.clone());
        use_effect_with((), move |_| spawn_local(start(dispatcher, client)));
    }
    use_fit_to_content(model.phase == Phase::Ready);

    let on_save = {
        let model = model.clone();
        Callback::from(move |_| {
            let (dispatcher, edits) = (model.dispatcher(), model.edits.clone());
            let Some(id) = record_id(&model) else { return };
            dispatcher.dispatch(Action::Saving);
            spawn_local(async move {
                let fields: Map<String, Value> = edits.into_iter().collect();
                let saved = match zoho::update_record(&id, &fields).await {
                    Ok(()) => zoho::get_record(&id).await,
                    Err(message) => Err(message),
                };
                dispatcher.dispatch(match saved {
                    Ok(record) => Action::Record(record),
                    Err(message) => Action::SaveFailed(message),
                });
            });
        })
    };
    let on_sync = {
        let (model, client) = (model.clone(), client.clone());
        Callback::from(move |_| {
            let dispatcher = model.dispatcher();
            let Some(id) = record_id(&model) else { return };
            let Some(api) = client.borrow().clone() else {
                let message = "Still connecting to xero-sync; try again in a moment.".into();
                let error =
                    ApiError { code: ErrorCode::UpstreamUnavailable, message, issues: Vec::new(), request_id: None };
                return dispatcher.dispatch(Action::SyncFailed(error));
            };
            dispatcher.dispatch(Action::Syncing);
            spawn_local(async move {
                match api.sync().await {
                    Ok(response) => dispatcher.dispatch(Action::Synced(response)),
                    Err(error) => dispatcher.dispatch(Action::SyncFailed(error)),
                }
                // The sync wrote the ItemID and status back to the record.
                if let Ok(record) = zoho::get_record(&id).await {
                    dispatcher.dispatch(Action::Record(record));
                }
                refresh_history(&dispatcher, &api).await;
            });
        })
    };
    let on_close = Callback::from(|_| spawn_local(async { drop(zoho::close_popup().await) }));

    html! {
        <main>
            if sandbox_mode() { <span class="badge" title="Running against the simulators">{ "SANDBOX" }</span> }
            <ProductView model={model.clone()} {on_save} {on_sync} {on_close} />
        </main>
    }
}

/// The popup never grows past this; the page scrolls inside it. Zoho's limits are undocumented (reference
/// quirk 5), and 640 px fits a laptop screen under the CRM's own header.
const MAX_POPUP_HEIGHT: i32 = 640;

/// After each render: marks the first one that shows the product (the start-up benchmark reads it), and
/// calls `UI.Resize` when the content's height changed, so the popup fits it.
#[hook]
fn use_fit_to_content(ready: bool) {
    let last = use_mut_ref(|| (0, false));
    use_effect(move || {
        if ready && !last.borrow().1 {
            last.borrow_mut().1 = true;
            mark(MARK_CHECKLIST);
        }
        let Some(window) = web_sys::window() else { return };
        // The body's, not the root element's: that one never reports less than the frame, so it never shrinks.
        let Some(body) = window.document().and_then(|d| d.body()) else { return };
        let height = body.scroll_height().min(MAX_POPUP_HEIGHT);
        let width = window.inner_width().ok().and_then(|w| w.as_f64()).map_or(600, |w| w as i32);
        if height != last.borrow().0 && zoho::available() {
            last.borrow_mut().0 = height;
            spawn_local(async move { drop(zoho::resize(height, width).await) });
        }
    });
}

#[derive(Properties, PartialEq)]
pub struct ProductViewProps {
    pub model: UseReducerHandle<Model>,
    pub on_save: Callback<()>,
    pub on_sync: Callback<()>,
    /// Closes the popup (unsaved changes are asked about first).
    pub on_close: Callback<()>,
}

/// The whole popup for one state: loading, failed, or the product with its checklist and actions.
#[function_component(ProductView)]
pub fn product_view(props: &ProductViewProps) -> Html {
    let ProductViewProps { model, on_save, on_sync, on_close } = props;
    use_confirm_focus(model.confirm_close);
    match &model.phase {
        Phase::Loading(what) => {
            return html! { <p class="loading" role="status" aria-live="polite">{ *what }</p> };
        }
        Phase::Failed(message) => {
            return html! {
                <>
                    <p class="failed" role="alert">{ message }</p>
                    <button type="button" id="close" onclick={on_close.reform(|_: MouseEvent| ())}>{ "Close" }</button>
                </>
            };
        }
        Phase::Ready => {}
    }
    let dispatch = {
        let dispatcher = model.dispatcher();
        Callback::from(move |action| dispatcher.dispatch(action))
    };
    let busy = matches!(model.activity, Activity::Saving | Activity::Syncing);
    let blocked = model.sync_blocked();
    // `aria-disabled` rather than `disabled`: a disabled button drops the keyboard focus, so pressing Save
    // or Sync would send a keyboard user back to the top of the page.
    let can_save = model.has_edits() && !busy;
    let save = {
        let on_save = on_save.clone();
        Callback::from(move |_: MouseEvent| {
            if can_save {
                on_save.emit(())
            }
        })
    };
    let sync = {
        let (on_sync, can_sync) = (on_sync.clone(), blocked.is_none());
        Callback::from(move |_: MouseEvent| {
            if can_sync {
                on_sync.emit(())
            }
        })
    };
    let close = {
        let (dispatcher, on_close, unsaved) = (model.dispatcher(), on_close.clone(), model.has_edits());
        Callback::from(
            move |_: MouseEvent| {
                if unsaved { dispatcher.dispatch(Action::AskToClose) } else { on_close.emit(()) }
            },
        )
    };
    html! {
        <>
            <header>
                <h1>{ model.product.name.text().unwrap_or("Unnamed product") }</h1>
                <p class="code">{ model.product.code.text().map_or("No product code".to_owned(), |c| format!("Code {c}")) }</p>
            </header>
            { missing_fields(model) }
            { checklist::checklist(model, &dispatch) }
            if let Some(note) = &model.crm_fields_error {
                <p class="note">{ format!("The CRM's taxes and fields could not be read ({note}); choose taxes on the record itself.") }</p>
            }
            if model.crm_fields.as_ref().is_some_and(|f| f.taxes.is_empty()) && model.tax_choices().is_empty() {
                <p class="note">{ "The CRM has no taxes to choose from; an administrator adds them in Zoho CRM's setup." }</p>
            }
            if let Some(note) = &model.options_error {
                <p class="note">{ format!("Xero's lists could not be loaded ({note}); names are checked when you sync.") }</p>
            }
            if model.confirm_close {
                { confirm_close(model, on_close) }
            } else {
            <div class="actions" key="actions">
                <button type="button" id="save" onclick={save} aria-disabled={(!can_save).to_string()}>
                    { if matches!(model.activity, Activity::Saving) { "Saving…" } else { "Save to CRM" } }
                </button>
                <button type="button" id="sync" class="primary" onclick={sync} aria-disabled={blocked.is_some().to_string()}
                    aria-describedby={blocked.as_ref().map(|_| "sync-blocked")}>
                    { if matches!(model.activity, Activity::Syncing) { "Syncing…" } else { "Sync to Xero" } }
                </button>
                <button type="button" id="close" onclick={close}>{ "Close" }</button>
            </div>
            }
            if let Some(reason) = &blocked {
                <p id="sync-blocked" class="reason">{ reason }</p>
            }
            <div id="status" class="status" role="status" aria-live="polite">{ status(model, on_sync) }</div>
            { history(model) }
        </>
    }
}

/// Custom fields the CRM does not have: the sync cannot read or write them until an administrator fixes
/// the setup, and typing here would be lost, so their fixes are not offered.
fn missing_fields(model: &Model) -> Html {
    let missing = model.missing_fields();
    if missing.is_empty() {
        return Html::default();
    }
    html! {
        <div class="failed setup" role="alert">
            <p>{ "Your xero-sync administrator needs to finish the setup: the CRM has no field" }</p>
            <ul>
                { for missing.into_iter().map(|(label, name)| html! { <li>{ format!("“{name}” ({label})") }</li> }) }
            </ul>
            <p>{ "They create it in the CRM, or tell xero-sync its API name." }</p>
        </div>
    }
}

/// Asked when Close is pressed with unsaved changes, in place of the action buttons; the focus moves to
/// "Keep editing", the safe choice, and Escape chooses it too.
fn confirm_close(model: &UseReducerHandle<Model>, on_close: &Callback<()>) -> Html {
    let keep = {
        let dispatcher = model.dispatcher();
        Callback::from(move |_: MouseEvent| dispatcher.dispatch(Action::KeepEditing))
    };
    let onkeydown = {
        let dispatcher = model.dispatcher();
        Callback::from(move |e: KeyboardEvent| {
            if e.key() == "Escape" {
                dispatcher.dispatch(Action::KeepEditing)
            }
        })
    };
    let close = on_close.reform(|_: MouseEvent| ());
    html! {
        <div class="actions confirm" key="confirm" role="group" aria-labelledby="confirm-close-text" {onkeydown}>
            <p id="confirm-close-text" role="alert">{ "You have unsaved changes. Close without saving them?" }</p>
            <button type="button" id="keep-editing" class="primary" onclick={keep}>{ "Keep editing" }</button>
            <button type="button" id="close-anyway" onclick={close}>{ "Close without saving" }</button>
        </div>
    }
}

/// Moves the focus into the close question when it opens, and back to Close when it goes while the focus
/// was in it (its buttons are gone, so the focus fell to the page), so a keyboard user is never stranded;
/// a user who went on editing keeps the focus where it is.
#[hook]
fn use_confirm_focus(confirming: bool) {
    let was = use_mut_ref(|| false);
    use_effect_with(confirming, move |&confirming| {
        let document = web_sys::window().and_then(|w| w.document());
        let focus_fell = || {
            let active = document.as_ref().and_then(|d| d.active_element());
            active.is_none() || active.is_some_and(|a| a.tag_name().eq_ignore_ascii_case("body"))
        };
        let target = match (*was.borrow(), confirming) {
            (false, true) => Some("keep-editing"),
            (true, false) if focus_fell() => Some("close"),
            _ => None,
        };
        *was.borrow_mut() = confirming;
        let element = target.and_then(|id| document.as_ref()?.get_element_by_id(id));
        if let Some(element) = element.and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok()) {
            let _ = element.focus();
        }
    });
}

fn status(model: &Model, on_sync: &Callback<()>) -> Html {
    match &model.activity {
        Activity::Idle if model.has_edits() => html! { <p>{ "You have unsaved changes." }</p> },
        Activity::Idle => Html::default(),
        Activity::Saving => html! { <p>{ "Saving to the CRM…" }</p> },
        Activity::Saved => html! { <p class="done">{ "Saved to the CRM." }</p> },
        Activity::SaveFailed(message) => html! { <p class="failed">{ message }</p> },
        Activity::Syncing => html! { <p>{ "Sending the product to Xero…" }</p> },
        Activity::Synced(result) => {
            let outcome = match result.outcome {
                SyncOutcome::Created => "Created in Xero",
                SyncOutcome::Updated => "Updated in Xero",
                SyncOutcome::Unchanged => "Already up to date in Xero",
            };
            html! {
                <p class={classes!("result", "done", outcome_class(result.outcome))}>
                    { format!("{outcome}: item {}. ", result.code) }
                    <a href={result.xero_url.clone()} target="_blank" rel="noopener noreferrer">{ "Open the item in Xero" }</a>
                </p>
            }
        }
        Activity::SyncFailed(error) => {
            let retry = on_sync.reform(|_: MouseEvent| ());
            html! {
                <div class="result failed">
                    <p>{ &error.message }</p>
                    if let Some(advice) = advice(error) { <p>{ advice }</p> }
                    if model.sync_blocked().is_none() {
                        <button type="button" id="retry" onclick={retry}>{ "Try again" }</button>
                    }
                </div>
            }
        }
    }
}

fn outcome_class(outcome: SyncOutcome) -> &'static str {
    match outcome {
        SyncOutcome::Created => "created",
        SyncOutcome::Updated => "updated",
        SyncOutcome::Unchanged => "unchanged",
    }
}

fn history(model: &Model) -> Html {
    let body = match &model.history {
        None => html! { <p class="muted">{ "Loading recent syncs…" }</p> },
        Some(Err(message)) => html! { <p class="muted">{ format!("Recent syncs could not be loaded: {message}") }</p> },
        Some(Ok(entries)) if entries.is_empty() => html! { <p class="muted">{ "Not synced yet." }</p> },
        Some(Ok(entries)) => html! {
            <table>
                <thead><tr><th scope="col">{ "When" }</th><th scope="col">{ "Who" }</th><th scope="col">{ "Outcome" }</th></tr></thead>
                <tbody>
                    { for entries.iter().take(5).map(|e| html! {
                        <tr>
                            // RFC 3339: the date and the minute are what a person reads.
                            <td>{ e.at.get(..16).unwrap_or(&e.at).replace('T', " ") }</td>
                            <td>{ &e.by }</td>
                            <td>{ &e.outcome }{ e.message.as_ref().map(|m| format!(": {m}")).unwrap_or_default() }</td>
                        </tr>
                    }) }
                </tbody>
            </table>
        },
    };
    html! {
        <section class="history" aria-labelledby="history-title">
            <h2 id="history-title">{ "Recent syncs" }</h2>
            { body }
        </section>
    }
}
