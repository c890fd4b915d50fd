//! The checklist: every requirement with its verdict (✓ met, ✗ blocks, ⚠ does not, ? not checked) and,
//! where the widget can fix the field, its input. Rows that need attention come first; the others are
//! folded under "N checks passed".

use serde_json::Value;
use shared::xero::account_choices;
use shared::{Requirement, suggest_code};
use web_sys::HtmlInputElement;
use yew::prelude::*;

use super::xero::{account_text, origin_text, tax_rate_text};
use crate::state::{Action, Model, RowState};

/// `dispatch` gets the user's changes (a cleared field is `null`).
pub(super) fn checklist(model: &Model, dispatch: &Callback<Action>) -> Html {
    let blocked = model.blocking_rows();
    let warnings: Vec<_> = Requirement::ALL
        .into_iter()
        .flat_map(|r| model.issues_on(r.field(&model.map)).filter(|i| !i.is_error()))
        .collect();
    let (first, passed): (Vec<Requirement>, Vec<Requirement>) =
        Requirement::ALL.into_iter().partition(|r| model.attention.iter().any(|f| f == r.field(&model.map)));
    let met = passed.iter().filter(|r| model.row_state(**r) == RowState::Met).count();
    let folded = match (met, passed.len() - met) {
        (1, 0) => "1 check passed".to_owned(),
        (n, 0) => format!("{n} checks passed"),
        (n, more) => format!("{n} checks passed, {more} to look at"),
    };
    html! {
        <section aria-labelledby="checklist-title">
            <h2 id="checklist-title" class="visually-hidden">{ "Sync requirements" }</h2>
            <ul class="checklist">
                { for first.into_iter().map(|requirement| row(model, requirement, dispatch)) }
            </ul>
            if !passed.is_empty() {
                <details class="passed">
                    <summary>{ folded }</summary>
                    <ul class="checklist">
                        { for passed.into_iter().map(|requirement| row(model, requirement, dispatch)) }
                    </ul>
                </details>
            }
            <p class="summary" role="status" aria-live="polite">
                { match blocked {
                    0 if model.server_issues.iter().any(|i| i.is_error()) => {
                        "Xero refused the last sync: see the item marked ✗, then try again.".to_owned()
                    }
                    // Never "ready" for what could not be checked.
                    0 if model.problem().is_some() => "Not checked against Xero: see the note at the top.".to_owned(),
                    0 if Requirement::ALL.into_iter().any(|r| model.row_state(r) == RowState::Unchecked) => {
                        "Checking the account and tax rate against Xero…".to_owned()
                    }
                    0 => "Ready to sync to Xero.".to_owned(),
                    1 => "1 thing to fix before this product can go to Xero.".to_owned(),
                    n => format!("{n} things to fix before this product can go to Xero."),
                } }
            </p>
            if !warnings.is_empty() {
                <section class="warnings" aria-label="Warnings (they do not block the sync)">
                    <h3>{ "Worth a look (does not block the sync)" }</h3>
                    <ul>{ for warnings.iter().map(|w| html! { <li>{ &w.message }</li> }) }</ul>
                </section>
            }
        </section>
    }
}

fn row(model: &Model, requirement: Requirement, dispatch: &Callback<Action>) -> Html {
    let field = requirement.field(&model.map).to_owned();
    let state = model.row_state(requirement);
    let (class, mark, said) = match state {
        RowState::Met => ("ok", "✓", "met"),
        RowState::Warning => ("warning", "⚠", "warning"),
        RowState::Error => ("error", "✗", "blocks the sync"),
        RowState::Unchecked => ("unchecked", "?", "not checked"),
        RowState::Typing => ("typing", "…", "being typed"),
    };
    let issues: Vec<_> = model.issues_on(&field).collect();
    let detail_id = format!("detail-{field}");
    let fix_id = format!("fix-{field}");
    let control = fix(model, requirement, &field, &fix_id, &detail_id, dispatch);
    let fixable = control != Html::default();
    let suggestions: Vec<String> = match state {
        RowState::Typing => Vec::new(),
        _ => issues.iter().flat_map(|i| i.suggestions.iter().cloned()).collect(),
    };
    let detail = match state {
        _ if model.is_missing(&field) => html! {
            <span class="message">{ "This field is not set up in the CRM yet (see above)." }</span>
        },
        RowState::Typing => html! { "Checked against Xero's names when you pause typing." },
        RowState::Met | RowState::Unchecked => html! { { met_detail(model, requirement, state) } },
        RowState::Error if !fixable => html! {
            <>
                { for issues.iter().map(|i| html! { <span class="message">{ &i.message }</span> }) }
                <span class="message where">
                    { format!("Edit the {} on the product record in the CRM, then open this window again.", requirement.label()) }
                </span>
            </>
        },
        _ => html! { { for issues.iter().map(|i| html! { <span class="message">{ &i.message }</span> }) } },
    };
    html! {
        <li class={classes!(class, (!fixable).then_some("nofix"))} data-field={field.clone()}>
            <span class="mark" role="img" aria-label={said}>{ mark }</span>
            if !fixable {
                <span class="label">{ requirement.label() }</span>
            } else if matches!(requirement, Requirement::Tax) || !has_input(model, requirement) {
                // A group of checkboxes (or a button) is named by its label's id, not by `for`.
                <span class="label" id={format!("label-{field}")}>{ requirement.label() }</span>
                <span class="control">{ control }</span>
            } else {
                <label class="label" for={fix_id}>{ requirement.label() }</label>
                <span class="control">{ control }</span>
            }
            <span class="detail" id={detail_id}>{ detail }</span>
            if !suggestions.is_empty() {
                <span class="suggestions">
                    { for suggestions.into_iter().map(|s| use_button(dispatch, &field, s, "suggestion")) }
                </span>
            }
        </li>
    }
}

/// "Use “Sales”": sets `field` to `value` in one click.
fn use_button(dispatch: &Callback<Action>, field: &str, value: String, class: &'static str) -> Html {
    let label = format!("Use “{value}”");
    let (dispatch, field) = (dispatch.clone(), field.to_owned());
    let onclick = Callback::from(move |_| dispatch.emit(Action::Edit(field.clone(), Value::String(value.clone()))));
    html! { <button type="button" {class} {onclick}>{ label }</button> }
}

/// What a met (or not yet checkable) row says: the value Xero will get and where it came from, where the
/// rules resolved one, else what the requirement asks.
fn met_detail(model: &Model, requirement: Requirement, state: RowState) -> String {
    let not_loaded = if model.options_error.is_some() {
        "not checked: Xero's lists could not be loaded (see the top)"
    } else {
        "checked once Xero's lists have loaded"
    };
    match requirement {
        Requirement::GlAccount => match (&model.report.account, defaulted(model, requirement)) {
            (Some(account), _) => format!("{} — {}", account_text(model, &account.value), origin_text(&account.origin)),
            (None, true) => format!("The organisation's default account, {not_loaded}."),
            (None, false) if state == RowState::Unchecked => format!("The account is {not_loaded}."),
            (None, false) => requirement.summary().to_owned(),
        },
        Requirement::TaxRate => match (&model.report.tax_rate, defaulted(model, requirement)) {
            (Some(rate), _) => format!("{} — {}", tax_rate_text(model, &rate.value), origin_text(&rate.origin)),
            (None, true) => format!("From the product's CRM tax, {not_loaded}."),
            (None, false) if state == RowState::Unchecked => format!("The tax rate is {not_loaded}."),
            (None, false) => requirement.summary().to_owned(),
        },
        // Whether another item has the code is known from the preview of the saved code only.
        Requirement::ProductCode
            if model.edits.contains_key(requirement.field(&model.map)) || model.preview.is_none() =>
        {
            "A code of at most 30 characters; Xero's other items are checked once it is saved.".to_owned()
        }
        _ => requirement.summary().to_owned(),
    }
}

/// Whether the organisation's default (account) or mapping (tax rate) fills this empty field.
fn defaulted(model: &Model, requirement: Requirement) -> bool {
    let field = requirement.field(&model.map);
    let empty = model.value(field).as_str().is_none_or(|v| v.trim().is_empty());
    empty
        && match requirement {
            Requirement::GlAccount => model.defaults.gl_account().is_some(),
            _ => !model.defaults.taxes.is_empty(),
        }
}

/// Whether the row's fix is a text input or checkbox (named by `for`), rather than a button or a group.
fn has_input(model: &Model, requirement: Requirement) -> bool {
    match requirement {
        Requirement::GlAccount => model.own_account || !defaulted(model, requirement),
        Requirement::TaxRate => model.own_tax_rate || !defaulted(model, requirement),
        _ => true,
    }
}

/// The inline fix for a field (an empty `Html` when the widget offers none); the row's label names it.
fn fix(
    model: &Model,
    requirement: Requirement,
    field: &str,
    id: &str,
    described_by: &str,
    dispatch: &Callback<Action>,
) -> Html {
    let text_input = |list: Option<&'static str>, placeholder: &'static str| {
        let edit = {
            let (dispatch, name) = (dispatch.clone(), field.to_owned());
            move |input: HtmlInputElement| {
                let value = input.value();
                // Zoho stores an emptied field as null.
                let value = if value.is_empty() { Value::Null } else { Value::String(value) };
                dispatch.emit(Action::Edit(name.clone(), value));
            }
        };
        // `change` too: some ways of setting a value (autofill, scripted clears) fire no `input` event.
        let onchange = {
            let edit = edit.clone();
            Callback::from(move |e: Event| edit(e.target_unchecked_into()))
        };
        let oninput = Callback::from(move |e: InputEvent| edit(e.target_unchecked_into()));
        // Leaving a name field shows its verdict at once.
        let onblur = list.map(|_| dispatch.reform(|_: FocusEvent| Action::Settle(None)));
        html! {
            <input id={id.to_owned()} class="fix" type="text" value={model.text(field)} list={list} {placeholder}
                aria-describedby={described_by.to_owned()} autocomplete="off" {oninput} {onchange} {onblur} />
        }
    };
    let toggle = || {
        let dispatch = dispatch.clone();
        let name = field.to_owned();
        let onchange = Callback::from(move |e: Event| {
            let checked = e.target_unchecked_into::<HtmlInputElement>().checked();
            dispatch.emit(Action::Edit(name.clone(), Value::Bool(checked)));
        });
        html! {
            <input id={id.to_owned()} class="fix" type="checkbox" checked={model.value(field) == &Value::Bool(true)}
                aria-describedby={described_by.to_owned()} {onchange} />
        }
    };
    // "Use a different account for this product" in place of the input while the default applies.
    let choose_own = |what: &'static str| {
        let onclick = dispatch.reform(move |_: MouseEvent| Action::ChooseOwn(requirement));
        html! {
            <button type="button" id={id.to_owned()} class="own" aria-describedby={described_by.to_owned()} {onclick}>
                { format!("Use a different {what} for this product") }
            </button>
        }
    };
    match requirement {
        // The CRM would drop what is typed for a field it does not have (the setup note says so).
        _ if model.is_missing(field) => Html::default(),
        Requirement::ProductCode => html! {
            <>
                { text_input(None, "e.g. MP-100") }
                { suggest_code_button(model, field, dispatch) }
            </>
        },
        Requirement::AddToXero | Requirement::Taxable => toggle(),
        Requirement::GlAccount if !has_input(model, requirement) => choose_own("account"),
        Requirement::TaxRate if !has_input(model, requirement) => choose_own("tax rate"),
        Requirement::GlAccount => {
            let chart = model.accounts.as_deref().unwrap_or_default();
            let others = account_choices(chart).any(|a| !a.is_revenue());
            let all = model.all_accounts;
            let show_all = dispatch
                .reform(|e: Event| Action::AllAccounts(e.target_unchecked_into::<HtmlInputElement>().checked()));
            html! {
                <>
                    { text_input(Some("xero-accounts"), "Type to search Xero's accounts") }
                    <datalist id="xero-accounts">
                        { for account_choices(chart).filter(|a| all || a.is_revenue()).map(|a| html! {
                            <option value={a.name.clone()}>{ format!("{} · {}", a.usable_code().unwrap_or_default(), a.name) }</option>
                        }) }
                    </datalist>
                    if others {
                        <label class="all">
                            <input type="checkbox" id="all-accounts" checked={all} onchange={show_all} />
                            { "Show all accounts, not only revenue" }
                        </label>
                    }
                </>
            }
        }
        Requirement::TaxRate => html! {
            <>
                { text_input(Some("xero-tax-rates"), "Type to search Xero's tax rates") }
                <datalist id="xero-tax-rates">
                    { for model.tax_rates.iter().flatten().filter(|r| r.is_selectable()).map(|r| html! {
                        <option value={r.name.clone()}>{ &r.tax_type }</option>
                    }) }
                </datalist>
            </>
        },
        Requirement::Tax => {
            let choices = model.tax_choices();
            if model.crm_fields.is_none() || choices.is_empty() {
                return Html::default();
            }
            html! {
                <span class="taxes" role="group" id={id.to_owned()} aria-labelledby={format!("label-{field}")}
                    aria-describedby={described_by.to_owned()}>
                    { for choices.into_iter().map(|tax| {
                        let checked = model.has_tax(&tax);
                        let (dispatch, label, id) = (dispatch.clone(), tax.label.clone(), tax.id.clone());
                        let onchange = Callback::from(move |e: Event| {
                            let ticked = e.target_unchecked_into::<HtmlInputElement>().checked();
                            dispatch.emit(Action::ToggleTax(tax.clone(), ticked));
                        });
                        html! {
                            <label class="tax">
                                <input class="fix" type="checkbox" {checked} value={id} {onchange} />
                                { label }
                            </label>
                        }
                    }) }
                </span>
            }
        }
        _ => Html::default(),
    }
}

/// "Suggest a code" while the code needs fixing: the one the preview made from the product's name, free
/// among the codes already in Xero; before the preview answers, one made from the name alone (the next
/// preview checks it).
fn suggest_code_button(model: &Model, field: &str, dispatch: &Callback<Action>) -> Html {
    if model.row_state(Requirement::ProductCode) == RowState::Met {
        return Html::default();
    }
    let current = model.product.code.text().unwrap_or_default();
    let from_preview = model.plan().and_then(|p| p.suggested_code.clone());
    let Some(code) = from_preview.or_else(|| suggest_code(model.product.name.text()?, &[current])) else {
        return Html::default();
    };
    if code == current {
        return Html::default();
    }
    let (dispatch, field) = (dispatch.clone(), field.to_owned());
    let onclick = Callback::from(move |_| dispatch.emit(Action::Edit(field.clone(), Value::String(code.clone()))));
    html! { <button type="button" id="suggest-code" class="suggestion" {onclick}>{ "Suggest a code" }</button> }
}
