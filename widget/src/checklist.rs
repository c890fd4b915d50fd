use serde_json::Value;
use shared::{Requirement, Severity};
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::state::Model;

/// Every sync requirement, met (✓) or not (✗ blocks the sync, ⚠ does not), with the reasons and, for the
/// fields a sales person can fix here, the input that fixes it; `on_edit` gets a field's API name and new
/// value (`null` when cleared). A plain function rather than a component: one component less in the bundle.
pub fn checklist(model: &Model, on_edit: &Callback<(String, Value)>) -> Html {
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
                { for Requirement::ALL.into_iter().map(|requirement| row(model, requirement, on_edit)) }
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

fn row(model: &Model, requirement: Requirement, on_edit: &Callback<(String, Value)>) -> Html {
    let field = requirement.field(&model.map).to_owned();
    let issues: Vec<_> = model.issues_on(&field).collect();
    let (class, mark, state) = match model.severity_of(&field) {
        None => ("ok", "✓", "met"),
        Some(Severity::Warning) => ("warning", "⚠", "warning"),
        Some(Severity::Error) => ("error", "✗", "blocks the sync"),
    };
    let detail_id = format!("detail-{field}");
    let fix_id = format!("fix-{field}");
    let control = fix(model, requirement, &field, &fix_id, &detail_id, on_edit);
    let suggestions: Vec<String> = issues.iter().flat_map(|i| i.suggestions.iter().cloned()).collect();
    html! {
        <li class={classes!(class, (control == Html::default()).then_some("nofix"))} data-field={field.clone()}>
            <span class="mark" role="img" aria-label={state}>{ mark }</span>
            if control == Html::default() {
                <span class="label">{ requirement.label() }</span>
            } else {
                <label class="label" for={fix_id}>{ requirement.label() }</label>
                <span class="control">{ control }</span>
            }
            <span class="detail" id={detail_id.clone()}>
                if issues.is_empty() {
                    { requirement.summary() }
                } else {
                    { for issues.iter().map(|i| html! { <span class="message">{ &i.message }</span> }) }
                }
            </span>
            if !suggestions.is_empty() {
                <span class="suggestions">
                    { for suggestions.into_iter().map(|s| {
                        let on_edit = on_edit.clone();
                        let field = field.clone();
                        let value = s.clone();
                        let onclick = Callback::from(move |_| on_edit.emit((field.clone(), Value::String(value.clone()))));
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
    on_edit: &Callback<(String, Value)>,
) -> Html {
    let text_input = |list: Option<&'static str>, placeholder: &'static str| {
        let edit = {
            let (on_edit, name) = (on_edit.clone(), field.to_owned());
            move |input: HtmlInputElement| {
                let value = input.value();
                // Zoho stores an emptied field as null.
                let value = if value.is_empty() { Value::Null } else { Value::String(value) };
                on_edit.emit((name.clone(), value));
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
        let on_edit = on_edit.clone();
        let name = field.to_owned();
        let onchange = Callback::from(move |e: Event| {
            let checked = e.target_unchecked_into::<HtmlInputElement>().checked();
            on_edit.emit((name.clone(), Value::Bool(checked)));
        });
        html! {
            <input id={id.to_owned()} class="fix" type="checkbox" checked={model.value(field) == &Value::Bool(true)}
                aria-describedby={described_by.to_owned()} {onchange} />
        }
    };
    match requirement {
        Requirement::ProductCode => text_input(None, "e.g. MP-100"),
        Requirement::AddToXero | Requirement::Taxable => toggle(),
        Requirement::GlAccount => html! {
            <>
                { text_input(Some("xero-accounts"), "Type to search Xero's accounts") }
                <datalist id="xero-accounts">
                    { for model.accounts.iter().map(|a| html! {
                        <option value={a.name.clone()}>{ format!("{} · {}", a.code, a.name) }</option>
                    }) }
                </datalist>
            </>
        },
        Requirement::TaxRate => html! {
            <>
                { text_input(Some("xero-tax-rates"), "Type to search Xero's tax rates") }
                <datalist id="xero-tax-rates">
                    { for model.tax_rates.iter().map(|r| html! {
                        <option value={r.name.clone()}>{ &r.tax_type }</option>
                    }) }
                </datalist>
            </>
        },
        _ => Html::default(),
    }
}
