//! The "Sync to Xero" widget. The checklist comes from the shared rules compiled to wasm, so the feedback
//! is instant and identical to what the backend enforces.

mod checklist;

pub use checklist::{Checklist, ChecklistProps};

use shared::{CrmProduct, FieldMap, XeroContext, validate};
use yew::prelude::*;

/// A record shaped like Zoho's, missing its code and GL account, until the widget reads the real one
/// through Zoho's SDK.
const SAMPLE_RECORD: &str = r#"{
    "id": "4150868000000224010",
    "Product_Name": "Standing Desk Frame",
    "Product_Code": null,
    "Product_Active": true,
    "Taxable": true,
    "Tax": [{"id": "4150868000000045001", "value": "GST - 10.0 %"}],
    "Unit_Price": 499.0,
    "Add_to_Xero": true,
    "Xero_GL_Account": null,
    "Xero_Tax_Rate": "GST on Income"
}"#;

#[function_component(App)]
pub fn app() -> Html {
    let map = FieldMap::default();
    let record = serde_json::from_str(SAMPLE_RECORD).unwrap_or_default();
    match CrmProduct::from_json(&record, &map) {
        Ok(product) => {
            let report = validate(&product, &map, XeroContext::NONE);
            html! {
                <main>
                    <h1>{ product.name.text().unwrap_or("Unnamed product") }</h1>
                    <p class="code">{ product.code.text().map_or("No product code".to_owned(), |c| format!("Code {c}")) }</p>
                    <Checklist {report} {map} />
                </main>
            }
        }
        Err(e) => html! { <main><p role="alert">{ e.to_string() }</p></main> },
    }
}
