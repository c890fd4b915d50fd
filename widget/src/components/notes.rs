//! What the user should know before anything else: a banner when Xero cannot be reached (one problem, said
//! once, until it is cleared), the setup problems an administrator must fix, and notes on what the CRM
//! could not tell.

use yew::prelude::*;

use crate::state::Model;

/// The problem that keeps the product from being checked against Xero, in plain words, with "Check again".
pub(super) fn banner(model: &Model, on_recheck: &Callback<()>) -> Html {
    let Some(problem) = model.problem() else { return Html::default() };
    let recheck = on_recheck.reform(|_: MouseEvent| ());
    html! {
        <div class="banner" role="alert">
            <p>{ problem.message() }</p>
            <button type="button" id="recheck" onclick={recheck}>{ "Check again" }</button>
        </div>
    }
}

/// Custom fields the CRM does not have: the sync cannot read or write them until an administrator fixes
/// the setup, and typing here would be lost, so their fixes are not offered.
pub(super) fn missing_fields(model: &Model) -> Html {
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

/// What the CRM could not tell: its taxes (the Tax field is then left to the record itself).
pub(super) fn notes(model: &Model) -> Html {
    if let Some(note) = &model.crm_fields_error {
        return html! {
            <p class="note">{ format!("The CRM's taxes and fields could not be read ({note}); choose taxes on the record itself.") }</p>
        };
    }
    if model.crm_fields.as_ref().is_some_and(|f| f.taxes.is_empty()) && model.tax_choices().is_empty() {
        return html! {
            <p class="note">{ "The CRM has no taxes to choose from; an administrator adds them in Zoho CRM's setup." }</p>
        };
    }
    Html::default()
}
