//! Bindings to Zoho's embedded-app SDK (the `ZOHO` global its `<script>` defines), for Zoho's real SDK and
//! the sandbox's stand-in alike (reference `zoho-crm.md` §2–§4).
//!
//! Every call is resolved at call time, so a missing `window.ZOHO` is an error value, never a crash, and
//! every promise is raced against a timeout, because the SDK has none: an unanswered request would
//! otherwise leave the widget spinning forever.

use std::cell::RefCell;

use js_sys::{Array, Function, JSON, Object, Promise, Reflect};
use serde_json::{Map, Value};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::json::object;
use crate::state::{CrmFields, CrmUser};

/// How long any SDK call may take before the widget gives up on it.
const SDK_TIMEOUT_MS: i32 = 10_000;
/// The rejection value of our own timer, told apart from the SDK's rejections.
const TIMEOUT_MARK: &str = "xero-sync:sdk-timeout";

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = ["ZOHO", "embeddedApp"], js_name = on, catch)]
    fn sdk_on(event: &str, listener: &Function) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_namespace = ["ZOHO", "embeddedApp"], js_name = init, catch)]
    fn sdk_init() -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_namespace = ["ZOHO", "CRM", "API"], js_name = getRecord, catch)]
    fn sdk_get_record(config: &JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_namespace = ["ZOHO", "CRM", "API"], js_name = updateRecord, catch)]
    fn sdk_update_record(config: &JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_namespace = ["ZOHO", "CRM", "UI"], js_name = Resize, catch)]
    fn sdk_resize(dimensions: &JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_namespace = ["ZOHO", "CRM", "UI", "Popup"], js_name = close, catch)]
    fn sdk_popup_close() -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_namespace = ["ZOHO", "CRM", "UI", "Popup"], js_name = closeReload, catch)]
    fn sdk_popup_close_reload() -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_namespace = ["ZOHO", "CRM", "CONFIG"], js_name = getCurrentUser, catch)]
    fn sdk_current_user() -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_namespace = ["ZOHO", "CRM", "META"], js_name = getFields, catch)]
    fn sdk_get_fields(config: &JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_namespace = ["ZOHO", "CRM", "CONNECTION"], js_name = invoke, catch)]
    fn sdk_invoke(connection: &str, request: &JsValue) -> Result<JsValue, JsValue>;
}

// What the SDK started with: the PageLoad data (a promise, registered before `init()`) and `init()`'s
// promise. Kept per page so that a remounted component never registers or initialises twice (quirk 2).
thread_local! {
    static STARTED: RefCell<Option<(Promise, Promise)>> = const { RefCell::new(None) };
}

/// Built directly rather than through JSON text, which would bring serde_json's serialiser into the bundle.
pub(crate) fn to_js(value: &Value) -> JsValue {
    match value {
        Value::Null => JsValue::NULL,
        Value::Bool(b) => JsValue::from_bool(*b),
        Value::Number(n) => n.as_f64().map_or(JsValue::NULL, JsValue::from_f64),
        Value::String(s) => JsValue::from_str(s),
        Value::Array(items) => items.iter().map(to_js).collect::<Array>().into(),
        Value::Object(fields) => {
            let object = Object::new();
            for (name, value) in fields {
                // Setting a property on a fresh plain object cannot fail.
                let _ = Reflect::set(&object, &JsValue::from_str(name), &to_js(value));
            }
            object.into()
        }
    }
}

fn json_text(value: &JsValue) -> String {
    JSON::stringify(value).ok().and_then(|s| s.as_string()).unwrap_or_default()
}

fn to_json(value: &JsValue) -> Value {
    serde_json::from_str(&json_text(value)).unwrap_or(Value::Null)
}

/// A rejection or exception in words: Zoho's REST errors carry `message` (and `details.api_name`), and
/// JS errors a `message` that JSON leaves out.
fn describe(error: &JsValue) -> String {
    if let Some(text) = error.as_string() {
        return text;
    }
    let message = Reflect::get(error, &JsValue::from_str("message")).ok().and_then(|m| m.as_string());
    let field = to_json(error)["details"]["api_name"].as_str().map(str::to_owned);
    match (message, field) {
        (Some(m), Some(field)) => format!("{m} ({field})"),
        (Some(m), None) => m,
        (None, _) => json_text(error),
    }
}

/// Whether Zoho's SDK script defined `window.ZOHO`.
pub fn available() -> bool {
    web_sys::window().and_then(|w| Reflect::get(&w, &JsValue::from_str("ZOHO")).ok()).is_some_and(|z| z.is_object())
}

/// Waits for `value` (a promise or a plain value) with the SDK timeout.
async fn settle(value: Result<JsValue, JsValue>, what: &str) -> Result<JsValue, String> {
    let value = value.map_err(|e| format!("Could not {what}: {}", describe(&e)))?;
    let timeout = Promise::new(&mut |_resolve, reject| {
        if let Some(window) = web_sys::window() {
            let mark = JsValue::from_str(TIMEOUT_MARK);
            // A timer firing after the call settled rejects a promise nobody awaits any more: harmless.
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_1(&reject, SDK_TIMEOUT_MS, &mark);
        }
    });
    let race = Promise::race(&Array::of2(&Promise::resolve(&value), &timeout));
    JsFuture::from(race).await.map_err(|e| {
        if e.as_string().as_deref() == Some(TIMEOUT_MARK) {
            format!("The CRM did not answer (could not {what}); close and reopen the widget.")
        } else {
            format!("Could not {what}: {}", describe(&e))
        }
    })
}

/// The id of the product whose button opened the widget: registers the PageLoad listener, then calls
/// `init()`, once per page, and waits for both (in whichever order they come).
pub async fn start() -> Result<String, String> {
    if !available() {
        return Err("Zoho's widget SDK did not load, so the widget cannot reach the CRM. Close and reopen it.".into());
    }
    let opened_by_crm = web_sys::window()
        .and_then(|w| w.location().search().ok())
        .and_then(|s| web_sys::UrlSearchParams::new_with_str(&s).ok())
        .is_some_and(|p| p.has("serviceOrigin"));
    if !opened_by_crm {
        // Outside CRM, init() never resolves (quirk 8).
        return Err("Open this widget with the “Sync to Xero” button of a product record in Zoho CRM.".into());
    }
    let started = STARTED.with(|cell| -> Result<(Promise, Promise), String> {
        if let Some(started) = cell.borrow().as_ref() {
            return Ok(started.clone());
        }
        let mut registered = Ok(JsValue::UNDEFINED);
        // The promise's own `resolve` is the listener: it keeps the first PageLoad's data.
        let page_load = Promise::new(&mut |resolve, _reject| registered = sdk_on("PageLoad", &resolve));
        registered.map_err(|e| format!("Could not listen to the CRM: {}", describe(&e)))?;
        let init = sdk_init().map_err(|e| format!("Could not connect to the CRM: {}", describe(&e)))?;
        let started = (page_load, Promise::resolve(&init));
        *cell.borrow_mut() = Some(started.clone());
        Ok(started)
    })?;
    let (page_load, init) = started;
    settle(Ok(init.into()), "connect to the CRM").await?;
    let data = to_json(&settle(Ok(page_load.into()), "learn which record is open").await?);
    entity_id(&data).ok_or_else(|| "The CRM did not say which product is open; open the widget from a product.".into())
}

/// `EntityId` is an array for buttons and a string for related lists (quirk 1).
pub fn entity_id(page_load: &Value) -> Option<String> {
    let id = match &page_load["EntityId"] {
        Value::Array(ids) => ids.first()?,
        one => one,
    };
    match id {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => n.as_u64().map(|n| n.to_string()),
        _ => None,
    }
}

/// The product record as the CRM holds it now.
pub async fn get_record(id: &str) -> Result<Map<String, Value>, String> {
    let config = to_js(&object(vec![("Entity", "Products".into()), ("RecordID", id.into())]));
    let answer = to_json(&settle(sdk_get_record(&config), "read the product").await?);
    match &answer["data"][0] {
        Value::Object(record) => Ok(record.clone()),
        _ => Err("The CRM sent no record for this product.".into()),
    }
}

/// Writes `fields` to the record without triggering workflows, as the user would in the CRM.
pub async fn update_record(id: &str, fields: &Map<String, Value>) -> Result<(), String> {
    let mut data = fields.clone();
    data.insert("id".into(), Value::String(id.to_owned()));
    let config = to_js(&object(vec![
        ("Entity", "Products".into()),
        ("APIData", data.into()),
        ("Trigger", Value::Array(Vec::new())),
    ]));
    let answer = settle(sdk_update_record(&config), "save to the CRM").await?;
    let result =
        Reflect::get_u32(&Reflect::get(&answer, &JsValue::from_str("data")).unwrap_or_default(), 0).unwrap_or_default();
    if to_json(&result)["code"] == "SUCCESS" {
        Ok(())
    } else {
        Err(format!("The CRM did not save the product: {}", describe(&result)))
    }
}

/// The Products fields the CRM has, and the taxes its `Tax` field offers.
pub async fn crm_fields() -> Result<CrmFields, String> {
    let config = to_js(&object(vec![("Entity", "Products".into())]));
    let answer = to_json(&settle(sdk_get_fields(&config), "read the CRM's product fields").await?);
    CrmFields::from_meta(&answer)
}

/// Fits the popup to the content.
pub async fn resize(height: i32, width: i32) -> Result<(), String> {
    settle(sdk_resize(&to_js(&object(vec![("height", height.into()), ("width", width.into())]))), "resize the popup")
        .await
        .map(drop)
}

/// Closes the popup; with `reload`, the CRM reloads the record page too (`Popup.closeReload`), so it shows
/// what the widget wrote to the record (the Xero Item ID, the sync status, saved fixes).
pub async fn close_popup(reload: bool) -> Result<(), String> {
    let closed = if reload { sdk_popup_close_reload() } else { sdk_popup_close() };
    settle(closed, "close the popup").await.map(drop)
}

/// The user: `{users:[{full_name, time_zone, locale}]}` in practice, a bare user as documented (quirk 9).
pub async fn current_user() -> Result<CrmUser, String> {
    let answer = to_json(&settle(sdk_current_user(), "learn who you are").await?);
    let user = if answer["users"].is_array() { &answer["users"][0] } else { &answer };
    let text = |name: &str| user[name].as_str().map(str::to_owned);
    Ok(CrmUser { name: text("full_name"), time_zone: text("time_zone"), locale: text("locale") })
}

/// Calls the backend through the CRM Connection (Zoho adds the API key server-side) and returns the
/// backend's JSON body as text; it arrives in `details.statusMessage`, as a string or already parsed.
pub async fn invoke(url: &str, parameters: &Value) -> Result<String, String> {
    let request = to_js(&object(vec![
        ("url", url.into()),
        ("method", "POST".into()),
        ("param_type", 2.into()),
        ("parameters", parameters.clone()),
    ]));
    let answer = settle(sdk_invoke(shared::wire::CONNECTION_NAME, &request), "open a session with xero-sync").await?;
    let field = |value: &JsValue, name: &str| Reflect::get(value, &JsValue::from_str(name)).unwrap_or_default();
    if field(&answer, "code").as_string().as_deref() != Some("SUCCESS") {
        return Err(format!("The CRM connection to xero-sync failed: {}", describe(&answer)));
    }
    let body = field(&field(&answer, "details"), "statusMessage");
    Ok(body.as_string().unwrap_or_else(|| json_text(&body)))
}
