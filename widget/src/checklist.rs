use shared::{FieldMap, Report, Requirement, Severity};
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct ChecklistProps {
    pub report: Report,
    pub map: FieldMap,
}

/// Every sync requirement, met (✓) or not (✗ blocks the sync, ⚠ does not), with the reasons.
#[function_component(Checklist)]
pub fn checklist(props: &ChecklistProps) -> Html {
    let ChecklistProps { report, map } = props;
    let blockers = report.errors().count();
    html! {
        <section aria-label="Sync requirements">
            <ul class="checklist">
                { for Requirement::ALL.into_iter().map(|requirement| {
                    let field = requirement.field(map);
                    let issues: Vec<_> = report.issues.iter().filter(|i| i.field == field).collect();
                    let (class, mark, state) = match report.severity_of(field) {
                        None => ("ok", "✓", "met"),
                        Some(Severity::Warning) => ("warning", "⚠", "warning"),
                        Some(Severity::Error) => ("error", "✗", "blocks the sync"),
                    };
                    html! {
                        <li class={class} data-field={field.to_owned()}>
                            <span class="mark" aria-label={state}>{ mark }</span>
                            <span class="label">{ requirement.label() }</span>
                            if issues.is_empty() {
                                <span class="detail">{ requirement.summary() }</span>
                            } else {
                                { for issues.iter().map(|i| html! { <span class="detail">{ &i.message }</span> }) }
                            }
                        </li>
                    }
                }) }
            </ul>
            <p class="summary" role="status">
                { if blockers == 0 { "Ready to sync to Xero.".to_owned() }
                  else if blockers == 1 { "1 thing to fix before this product can go to Xero.".to_owned() }
                  else { format!("{blockers} things to fix before this product can go to Xero.") } }
            </p>
        </section>
    }
}
