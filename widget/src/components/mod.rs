//! The views: [`ProductView`] (the whole popup for one state) and the parts it is made of. The parts are
//! plain functions over the model rather than components of their own: each Yew component adds its
//! lifecycle code to the bundle, and these have no state of their own to keep.
//!
//! Top to bottom: the product, a banner when Xero cannot be reached, the checklist (what needs attention
//! first, the rest folded under "N checks passed"), fields changed in Xero, what Xero will get, the action
//! bar (sticky, so Save and Sync are always on screen) with the outcome, and the history, folded.

mod actions;
mod checklist;
mod history;
mod notes;
mod xero;

use yew::prelude::*;

use crate::hooks::{use_confirm_focus, use_typing_pause};
use crate::state::{Model, Phase};

#[derive(Properties, PartialEq)]
pub struct ProductViewProps {
    pub model: UseReducerHandle<Model>,
    pub on_save: Callback<()>,
    pub on_sync: Callback<()>,
    /// Closes the popup (unsaved changes are asked about first).
    pub on_close: Callback<()>,
    /// Asks the backend again for what failed (Xero's lists, the preview).
    #[prop_or_default]
    pub on_recheck: Callback<()>,
}

/// The whole popup for one state: loading, failed, or the product with its checklist and actions.
#[function_component(ProductView)]
pub fn product_view(props: &ProductViewProps) -> Html {
    let ProductViewProps { model, on_save, on_sync, on_close, on_recheck } = props;
    use_confirm_focus(model.confirm_close);
    use_typing_pause(model);
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
    html! {
        <>
            <header>
                <h1>{ model.product.name.text().unwrap_or("Unnamed product") }</h1>
                <p class="code">{ model.product.code.text().map_or("No product code".to_owned(), |c| format!("Code {c}")) }</p>
            </header>
            { notes::banner(model, on_recheck) }
            { notes::missing_fields(model) }
            { checklist::checklist(model, &dispatch) }
            { notes::notes(model) }
            { xero::xero_edits(model, &dispatch) }
            { xero::what_xero_gets(model) }
            { actions::action_bar(model, on_save, on_sync, on_close) }
            { history::history(model) }
        </>
    }
}
