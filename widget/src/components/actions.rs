//! The action bar: Save, Sync and Close, why Sync is disabled, and the outcome next to the buttons. It sticks
//! to the bottom of the popup, so it is on screen from 320 to 800 px wide whatever the checklist's length.

use shared::wire::{ErrorCode, SyncOutcome};
use yew::prelude::*;

use crate::state::{Action, Activity, Model, advice};

pub(super) fn action_bar(
    model: &UseReducerHandle<Model>,
    on_save: &Callback<()>,
    on_sync: &Callback<()>,
    on_close: &Callback<()>,
) -> Html {
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
        <div class="actionbar">
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

/// The outcome of the last save or sync.
fn status(model: &Model, on_sync: &Callback<()>) -> Html {
    match &model.activity {
        Activity::Idle if model.has_edits() => html! { <p>{ "You have unsaved changes." }</p> },
        Activity::Idle => Html::default(),
        Activity::Saving => html! { <p>{ "Saving to the CRM…" }</p> },
        Activity::Saved => html! { <p class="done">{ "Saved to the CRM." }</p> },
        Activity::SaveFailed(message) => html! { <p class="failed">{ message }</p> },
        Activity::Syncing => html! { <p>{ "Sending the product to Xero…" }</p> },
        Activity::Synced(result) => {
            let outcome = result.outcome.sentence();
            let class = match result.outcome {
                SyncOutcome::Created => "created",
                SyncOutcome::Updated => "updated",
                SyncOutcome::Unchanged => "unchanged",
                SyncOutcome::Kept => "kept",
            };
            html! {
                <p class={classes!("result", "done", class)}>
                    { format!("{outcome}: item {}. ", result.code) }
                    <a href={result.xero_url.clone()} target="_blank" rel="noopener noreferrer">{ "Open the item in Xero" }</a>
                    { " The record shows it once you close this window." }
                </p>
            }
        }
        // Xero must be reconnected: the banner at the top says so, once.
        Activity::SyncFailed(error) if error.code == ErrorCode::ReconnectNeeded => {
            html! { <p class="result failed">{ "Not synced (see the note at the top)." }</p> }
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
