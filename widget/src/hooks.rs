//! The popup's effects on the page: fitting the popup to its content, keeping the keyboard focus where a
//! user can find it, and the pause in typing after which a name-matching error shows.

use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::app::{MARK_CHECKLIST, mark};
use crate::state::{Action, Model, TYPING_PAUSE_MS};
use crate::zoho;

/// The popup never grows past this; the page scrolls inside it. Zoho's limits are undocumented (reference
/// quirk 5), and 640 px fits a laptop screen under the CRM's own header.
const MAX_POPUP_HEIGHT: i32 = 640;

/// After each render: marks the first one that shows the product (the start-up benchmark reads it), and
/// calls `UI.Resize` when the content's height changed, so the popup fits it.
#[hook]
pub(crate) fn use_fit_to_content(ready: bool) {
    let last = use_mut_ref(|| (0, false));
    use_effect(move || {
        if ready && !last.borrow().1 {
            last.borrow_mut().1 = true;
            mark(MARK_CHECKLIST);
        }
        let Some(window) = web_sys::window() else { return };
        // The body's, not the root element's: that one never reports less than the frame, so it never shrinks.
        let Some(body) = window.document().and_then(|d| d.body()) else { return };
        let height = body.scroll_height().min(MAX_POPUP_HEIGHT);
        let width = window.inner_width().ok().and_then(|w| w.as_f64()).map_or(600, |w| w as i32);
        if height != last.borrow().0 && zoho::available() {
            last.borrow_mut().0 = height;
            spawn_local(async move { drop(zoho::resize(height, width).await) });
        }
    });
}

/// Moves the focus into the close question when it opens, and back to Close when it goes while the focus
/// was in it (its buttons are gone, so the focus fell to the page), so a keyboard user is never stranded;
/// a user who went on editing keeps the focus where it is.
#[hook]
pub(crate) fn use_confirm_focus(confirming: bool) {
    let was = use_mut_ref(|| false);
    use_effect_with(confirming, move |&confirming| {
        let document = web_sys::window().and_then(|w| w.document());
        let focus_fell = || {
            let active = document.as_ref().and_then(|d| d.active_element());
            active.is_none() || active.is_some_and(|a| a.tag_name().eq_ignore_ascii_case("body"))
        };
        let target = match (*was.borrow(), confirming) {
            (false, true) => Some("keep-editing"),
            (true, false) if focus_fell() => Some("close"),
            _ => None,
        };
        *was.borrow_mut() = confirming;
        let element = target.and_then(|id| document.as_ref()?.get_element_by_id(id));
        if let Some(element) = element.and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok()) {
            let _ = element.focus();
        }
    });
}

/// Lets a name-matching error show once typing pauses ([`TYPING_PAUSE_MS`] after the last keystroke): each
/// keystroke replaces the timer, so "Sal" on the way to "Sales" is never called unknown.
#[hook]
pub(crate) fn use_typing_pause(model: &UseReducerHandle<Model>) {
    let waiting = model.typing.as_ref().map(|(_, keystroke)| *keystroke);
    let dispatcher = model.dispatcher();
    use_effect_with(waiting, move |waiting| {
        let window = web_sys::window();
        let timer = waiting.zip(window.clone()).and_then(|(keystroke, window)| {
            let settle = Closure::once_into_js(move || dispatcher.dispatch(Action::Settle(Some(keystroke))));
            window.set_timeout_with_callback_and_timeout_and_arguments_0(settle.unchecked_ref(), TYPING_PAUSE_MS).ok()
        });
        move || {
            if let (Some(timer), Some(window)) = (timer, window) {
                window.clear_timeout_with_handle(timer);
            }
        }
    });
}
