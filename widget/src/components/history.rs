//! The product's recent syncs, folded below the actions: when (in the user's time zone), who (the CRM's
//! word, which the service cannot check), outcome.

use yew::prelude::*;

use crate::format::local_time;
use crate::state::Model;

pub(super) fn history(model: &Model) -> Html {
    let (count, body) = match &model.history {
        None => (None, html! { <p class="muted">{ "Loading recent syncs…" }</p> }),
        Some(Err(message)) => {
            (None, html! { <p class="muted">{ format!("Recent syncs could not be loaded: {message}") }</p> })
        }
        Some(Ok(entries)) if entries.is_empty() => (Some(0), html! { <p class="muted">{ "Not synced yet." }</p> }),
        Some(Ok(entries)) => (
            Some(entries.len().min(5)),
            html! {
                <table>
                    <thead><tr><th scope="col">{ "When" }</th><th scope="col">{ "Who (reported by the CRM)" }</th><th scope="col">{ "Outcome" }</th></tr></thead>
                    <tbody>
                        { for entries.iter().take(5).map(|e| html! {
                            <tr>
                                <td>{ local_time(&e.at, model.user.time_zone.as_deref(), model.user.locale.as_deref(), true) }</td>
                                <td>{ &e.by }</td>
                                <td>{ &e.outcome }{ e.message.as_ref().map(|m| format!(": {m}")).unwrap_or_default() }</td>
                            </tr>
                        }) }
                    </tbody>
                </table>
            },
        ),
    };
    let title = match count {
        Some(n) if n > 0 => format!("Recent syncs ({n})"),
        _ => "Recent syncs".to_owned(),
    };
    html! {
        <details class="history">
            <summary id="history-title">{ title }</summary>
            { body }
        </details>
    }
}
