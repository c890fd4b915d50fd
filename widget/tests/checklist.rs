//! Component tests, in headless Chromium: the checklist renders the shared rules' verdicts.
#![cfg(target_arch = "wasm32")]

use wasm_bindgen::JsCast;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

fn document() -> web_sys::Document {
    web_sys::window().and_then(|w| w.document()).expect("a document")
}

#[wasm_bindgen_test]
async fn the_sample_product_shows_exactly_its_failing_checks() {
    let root = document().create_element("div").expect("div");
    document().body().expect("body").append_child(&root).expect("append");
    yew::Renderer::<widget::App>::with_root(root.clone()).render();
    // Yew renders on the next tick.
    gloo_timers::future::TimeoutFuture::new(0).await;

    let errors = root.query_selector_all("li.error").expect("query");
    let failing: Vec<String> = (0..errors.length())
        .filter_map(|i| errors.item(i)?.dyn_into::<web_sys::Element>().ok()?.get_attribute("data-field"))
        .collect();
    assert_eq!(failing, ["Product_Code", "Xero_GL_Account"]);
    assert_eq!(root.query_selector_all("li.ok").expect("query").length(), 8);
    let summary = root.query_selector(".summary").expect("query").expect("summary").text_content().unwrap_or_default();
    assert_eq!(summary, "2 things to fix before this product can go to Xero.");
}
