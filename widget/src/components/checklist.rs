//! The checklist: every requirement with its verdict and, where the widget can fix the field, its input.

use serde_json::Value;
use shared::xero::account_choices;
use shared::{Requirement, Severity};
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::state::{Action, Model};

/// Every sync requirement, met (✓) or not (✗ blocks the sync, ⚠ does not), with the reasons and, for the
/// fields a sales person can fix here, the input that fixes it; `dispatch` gets the user's changes (a
/// cleared field is `null`). A plain function rather than a component: one component less in the bundle.
pub(super) fn checklist(model: &Model, dispatch: &Callback<Action>) -> Html {
    let blocked = Requirement::ALL
        .into_iter()
        .filter(|r| model.severity_of(r.field(&model.map)) == Some(Severity::Error))
        .count();
    let warnings: Vec<_> =
        model.report.warnings().chain(model.server_issues.iter().filter(|i| !i.is_error())).collect();
    html! {
        <section aria-labelledby="checklist-title">
            <h2 id="checklist-title" class="visually-hidden">{ "Sync requirements" }</h2>
            <ul class="checklist">
                { for Requirement::ALL.into_iter().map(|requirement| row(model, requirement, dispatch)) }
            </ul>
            <p class="summary" role="status" aria-live="polite">
                { match blocked {
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
    let issues: Vec<_> = model.issues_on(&field).collect();
    let (class, mark, state) = match model.severity_of(&field) {
        None => ("ok", "✓", "met"),
        Some(Severity::Warning) => ("warning", "⚠", "warning"),
        Some(Severity::Error) => ("error", "✗", "blocks the sync"),
    };
    let detail_id = format!("detail-{field}");
    let fix_id = format!("fix-{field}");
    let control = fix(model, requirement, &field, &fix_id, &detail_id, dispatch);
    let suggestions: Vec<String> = issues.iter().flat_map(|i| i.suggestions.iter().cloned()).collect();
    html! {
        <li class={classes!(class, (control == Html::default()).then_some("nofix"))} data-field={field.clone()}>
            <span class="mark" role="img" aria-label={state}>{ mark }</span>
            if control == Html::default() {
                <span class="label">{ requirement.label() }</span>
            } else if requirement == Requirement::Tax {
                // A group of checkboxes is named by its label's id, not by `for`.
                <span class="label" id={format!("label-{field}")}>{ requirement.label() }</span>
                <span class="control">{ control }</span>
            } else {
                <label class="label" for={fix_id}>{ requirement.label() }</label>
                <span class="control">{ control }</span>
            }
            <span class="detail" id={detail_id.clone()}>
                if model.is_missing(&field) {
                    <span class="message">{ "This field is not set up in the CRM yet (see above)." }</span>
                } else if issues.is_empty() {
                    { requirement.summary() }
                } else {
                    { for issues.iter().map(|i| html! { <span class="message">{ &i.message }</span> }) }
                }
            </span>
            if !suggestions.is_empty() {
                <span class="suggestions">
                    { for suggestions.into_iter().map(|s| {
                        let dispatch = dispatch.clone();
                        let field = field.clone();
                        let value = s.clone();
                        let onclick = Callback::from(move |_| dispatch.emit(Action::Edit(field.clone(), Value::String(value.clone()))));
                        html! { <button type="button" class="suggestion" {onclick}>{ format!("Use “{s}”") }</button> }
                    }) }
                </span>
            }
        </li>
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
        html! {
            <input id={id.to_owned()} class="fix" type="text" value={model.text(field)} list={list} {placeholder}
                aria-describedby={described_by.to_owned()} autocomplete="off" {oninput} {onchange} />
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
    match requirement {
        // The CRM would drop what is typed for a field it does not have (the setup note says so).
        _ if model.is_missing(field) => Html::default(),
        Requirement::ProductCode => text_input(None, "e.g. MP-100"),
        Requirement::AddToXero | Requirement::Taxable => toggle(),
        Requirement::GlAccount => html! {
            <>
                { text_input(Some("xero-accounts"), "Type to search Xero's accounts") }
                <datalist id="xero-accounts">
                    { for model.accounts.iter().flat_map(|chart| account_choices(chart)).map(|a| html! {
                        <option value={a.name.clone()}>{ format!("{} · {}", a.usable_code().unwrap_or_default(), a.name) }</option>
                    }) }
                </datalist>
            </>
        },
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
