//! The views: [`ProductView`] (the whole popup for one state) and the parts it is made of, as plain
//! functions over the model (each Yew component costs bundle space, so only the view with props is one).

mod checklist;

use shared::wire::SyncOutcome;
use yew::prelude::*;

use crate::hooks::use_confirm_focus;
use crate::state::{Action, Activity, Model, Phase, advice};

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
