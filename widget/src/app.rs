//! The root component: starts the widget (the record, the CRM's fields, the user, Xero's lists, the
//! history) and performs the save, sync and close the views ask for.

use std::cell::RefCell;
use std::rc::Rc;

use serde_json::Value;
use shared::wire::{ApiError, ErrorCode};
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api::Client;
use crate::components::ProductView;
use crate::hooks::use_fit_to_content;
use crate::state::{Action, Model, Phase};
use crate::zoho;

/// Performance marks of the start-up, read by the end-to-end benchmark.
pub const MARK_PAGE_LOAD: &str = "xero-sync:page-load";
pub const MARK_CHECKLIST: &str = "xero-sync:checklist";

pub(crate) fn mark(name: &str) {
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

/// Reads the record, the CRM's taxes (alongside) and the user, then through the backend Xero's lists, the
/// preview of the record and the history.
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
    // The user's name labels the sync log (without it the backend logs "CRM user"); their time zone and
    // locale show times as the CRM shows them.
    let user = zoho::current_user().await.unwrap_or_default();
    let name = user.name.clone();
    model.dispatch(Action::User(user));
    let Some(origin) = Client::page_origin() else {
        let message = "The widget cannot tell where xero-sync runs.".into();
        let error = ApiError { code: ErrorCode::Internal, message, issues: Vec::new(), request_id: None };
        return model.dispatch(Action::OptionsFailed(error));
    };
    let api = Rc::new(Client::new(origin, record_id, name));
    *client.borrow_mut() = Some(api.clone());
    check(&model, &api, true).await;
    refresh_history(&model, &api).await;
}

/// Asks the backend for what the rules cannot know: Xero's lists (when `lists`) and the preview.
async fn check(model: &UseReducerDispatcher<Model>, api: &Client, lists: bool) {
    if lists {
        match api.options().await {
            Ok(lists) => {
                let defaults = lists.defaults.clone();
                model.dispatch(Action::Options(lists));
                model.dispatch(Action::Defaults(defaults));
            }
            Err(error) => model.dispatch(Action::OptionsFailed(error)),
        }
    }
    model.dispatch(Action::Preview(api.preview().await));
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
        let (model, client) = (model.clone(), client.clone());
        Callback::from(move |_| {
            let (dispatcher, edits) = (model.dispatcher(), model.edits.clone());
            let Some(id) = record_id(&model) else { return };
            let api = client.borrow().clone();
            dispatcher.dispatch(Action::Saving);
            spawn_local(async move {
                let saved = match zoho::update_record(&id, &edits).await {
                    Ok(()) => zoho::get_record(&id).await,
                    Err(message) => Err(message),
                };
                match saved {
                    Ok(record) => {
                        dispatcher.dispatch(Action::Record(record));
                        // The backend checks what was saved, as a sync would read it.
                        if let Some(api) = api {
                            check(&dispatcher, &api, false).await;
                        }
                    }
                    Err(message) => dispatcher.dispatch(Action::SaveFailed(message)),
                }
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
            let choice = model.xero_edits.unwrap_or_default();
            dispatcher.dispatch(Action::Syncing);
            spawn_local(async move {
                match api.sync(choice).await {
                    Ok(response) => dispatcher.dispatch(Action::Synced(response)),
                    Err(error) => dispatcher.dispatch(Action::SyncFailed(error)),
                }
                // The sync wrote the ItemID and status back to the record.
                if let Ok(record) = zoho::get_record(&id).await {
                    dispatcher.dispatch(Action::Record(record));
                }
                check(&dispatcher, &api, false).await;
                refresh_history(&dispatcher, &api).await;
            });
        })
    };
    // "Check again" in the banner: whatever failed is asked for again.
    let on_recheck = {
        let (model, client) = (model.clone(), client.clone());
        Callback::from(move |_| {
            let dispatcher = model.dispatcher();
            let lists = model.accounts.is_none();
            let Some(api) = client.borrow().clone() else { return };
            dispatcher.dispatch(Action::Recheck);
            spawn_local(async move { check(&dispatcher, &api, lists).await });
        })
    };
    let on_close = {
        let wrote = model.wrote;
        Callback::from(move |_| spawn_local(async move { drop(zoho::close_popup(wrote).await) }))
    };

    html! {
        <main>
            if sandbox_mode() { <span class="badge" title="Running against the simulators">{ "SANDBOX" }</span> }
            <ProductView model={model.clone()} {on_save} {on_sync} {on_close} {on_recheck} />
        </main>
    }
}
