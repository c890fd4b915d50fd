//! What the sync will do in Xero: the item it will send, with where the account and tax rate came from and
//! whether it creates or updates an item; and the fields changed in Xero since the last sync, with the
//! choice between overwriting them and keeping them.

use shared::wire::{SyncOutcome, XeroEdits};
use shared::{Origin, Requirement};
use yew::prelude::*;

use crate::format::{local_time, price};
use crate::state::{Action, Model};

/// Where a resolved value came from, as the user reads it.
pub(super) fn origin_text(origin: &Origin) -> String {
    match origin {
        Origin::Typed => "chosen for this product".to_owned(),
        Origin::Default => "the organisation's default".to_owned(),
        Origin::Mapping(crm_tax) => format!("from the CRM tax {crm_tax}"),
    }
}

/// "Sales (200)" for an account code, "GST on Income (OUTPUT)" for a TaxType.
pub(super) fn account_text(model: &Model, code: &str) -> String {
    let name = model.accounts.iter().flatten().find(|a| a.usable_code() == Some(code)).map(|a| a.name.as_str());
    name.map_or_else(|| format!("Account {code}"), |name| format!("{name} ({code})"))
}

pub(super) fn tax_rate_text(model: &Model, tax_type: &str) -> String {
    let name = model.tax_rates.iter().flatten().find(|r| r.tax_type == tax_type).map(|r| r.name.as_str());
    name.map_or_else(|| tax_type.to_owned(), |name| format!("{name} ({tax_type})"))
}

/// The Item the sync will send, once nothing blocks and both names resolved against Xero's lists.
pub(super) fn what_xero_gets(model: &Model) -> Html {
    let Some(resolved) = model.report.resolved.as_ref().filter(|_| model.blocking_rows() == 0) else {
        return Html::default();
    };
    let product = &model.product;
    let row = |term: &'static str, value: String| html! { <><dt>{ term }</dt><dd>{ value }</dd></> };
    let account =
        format!("{} — {}", account_text(model, &resolved.account_code), origin_text(&resolved.account_origin));
    let tax_rate = format!("{} — {}", tax_rate_text(model, &resolved.tax_type), origin_text(&resolved.tax_origin));
    html! {
        <section class="xero-gets" aria-labelledby="xero-gets-title">
            <h2 id="xero-gets-title">{ "What Xero will get" }</h2>
            <dl>
                { row("Code", product.code.text().unwrap_or_default().to_owned()) }
                { row("Name", product.name.text().unwrap_or_default().to_owned()) }
                { row("Sales price", product.unit_price.present().map_or_else(|| "none".to_owned(), |p| price(*p))) }
                { row("Account", account) }
                { row("Tax rate", tax_rate) }
            </dl>
            { plan(model) }
        </section>
    }
}

/// Whether the sync creates or updates an item, as the preview of the saved record says (not shown over
/// unsaved changes, which it did not see).
fn plan(model: &Model) -> Html {
    let Some(plan) = model.plan().filter(|_| !model.has_edits()) else { return Html::default() };
    let text = match (&plan.outcome, &plan.item) {
        (SyncOutcome::Created, _) | (_, None) => "Syncing creates a new item in Xero.".to_owned(),
        (SyncOutcome::Updated, Some(item)) => match &item.last_synced {
            Some(at) => format!(
                "Syncing updates {} (last synced {}).",
                item.code,
                local_time(at, model.user.time_zone.as_deref(), model.user.locale.as_deref(), false)
            ),
            None => format!("Syncing updates {}, which Xero already has.", item.code),
        },
        (SyncOutcome::Unchanged | SyncOutcome::Kept, Some(item)) => {
            format!("Xero's {} already has exactly this.", item.code)
        }
    };
    html! { <p class="plan">{ text }</p> }
}

/// The fields changed in Xero since our last sync, and what to do with them: overwrite with the CRM's
/// values, or keep Xero's (the sync then writes nothing).
pub(super) fn xero_edits(model: &Model, dispatch: &Callback<Action>) -> Html {
    let Some(plan) = model.plan().filter(|p| !p.xero_edits.is_empty()) else { return Html::default() };
    let (zone, locale) = (model.user.time_zone.as_deref(), model.user.locale.as_deref());
    let choice = |value: XeroEdits, id: &'static str, label: &'static str| {
        let dispatch = dispatch.clone();
        let onchange = Callback::from(move |_: Event| dispatch.emit(Action::ChooseXeroEdits(value)));
        html! {
            <label class="choice">
                <input type="radio" name="xero-edits" {id} checked={model.xero_edits == Some(value)} {onchange} />
                { label }
            </label>
        }
    };
    html! {
        <section class="xero-edits" aria-labelledby="xero-edits-title">
            <h2 id="xero-edits-title">{ "Changed in Xero since the last sync" }</h2>
            <ul>
                { for plan.xero_edits.iter().map(|edit| {
                    let label = Requirement::of_field(&edit.field, &model.map).map_or(edit.field.as_str(), |r| r.label());
                    html! { <li>{ format!(
                        "Xero has {label} {}, the CRM {}; changed in Xero on {}.",
                        edit.xero_value, edit.crm_value, local_time(&edit.changed_at, zone, locale, false)
                    ) }</li> }
                }) }
            </ul>
            <div role="radiogroup" aria-labelledby="xero-edits-title" class="choices">
                { choice(XeroEdits::Overwrite, "xero-edits-overwrite", "Overwrite them with the CRM's values") }
                { choice(XeroEdits::Keep, "xero-edits-keep", "Keep Xero's (the sync writes nothing)") }
            </div>
        </section>
    }
}
