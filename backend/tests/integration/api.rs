//! The service end to end over HTTP, spawned on a random port as the demo: the Xero and Zoho simulators
//! in-process, a real SQLite store, and the widget's API as Zoho's servers and the browser call it.

use std::time::Duration;

use demo::{Demo, Tuning};
use reqwest::StatusCode;
use sandbox::xero::{Fault, FaultTarget, RateProblem};
use sandbox::zoho::products;
use secrecy::ExposeSecret;
use serde_json::{Map, Value, json};

use crate::support::{TempDir, start_in};

struct TestApp {
    demo: Demo,
    http: reqwest::Client,
    dir: TempDir,
}

async fn spawn() -> TestApp {
    spawn_tuned(Tuning::default()).await
}

async fn spawn_tuned(tuning: Tuning) -> TestApp {
    let dir = TempDir::new("api");
    let demo = start_in(&dir, |_| None, tuning).await;
    TestApp { demo, http: reqwest::Client::new(), dir }
}

impl TestApp {
    fn sandbox(&self) -> &sandbox::Sandbox {
        &self.demo.sandbox
    }

    fn tenant(&self) -> String {
        self.sandbox().xero.tenant_id(sandbox::xero::AU_ORG).expect("AU org")
    }

    fn items(&self) -> Vec<sandbox::xero::Item> {
        self.sandbox().xero.items(&self.tenant())
    }

    /// What Zoho's servers do for the widget's `CONNECTION.invoke`: present the API key, get a token.
    async fn session(&self, record_id: &str) -> String {
        let key = self.demo.api_key.expose_secret().to_owned();
        let response = self
            .http
            .post(format!("{}/api/session", self.demo.server.url))
            .header("x-api-key", key)
            .json(&json!({"record_id": record_id, "user": "Olivia Nguyen"}))
            .send()
            .await
            .expect("session");
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.expect("json");
        body["token"].as_str().expect("token").to_owned()
    }

    async fn call(&self, method: reqwest::Method, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.demo.server.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn sync(&self, record_id: &str) -> (StatusCode, Value) {
        let token = self.session(record_id).await;
        self.call(reqwest::Method::POST, &format!("/api/products/{record_id}/sync"), Some(&token)).await
    }

    /// A sync with a body, as the widget sends it (`{"xero_edits": "keep"}`).
    async fn sync_with(&self, record_id: &str, body: Value) -> (StatusCode, Value) {
        let token = self.session(record_id).await;
        let url = format!("{}/api/products/{record_id}/sync", self.demo.server.url);
        let response = self.http.post(url).bearer_auth(token).json(&body).send().await.expect("sync");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn preview(&self, record_id: &str) -> Value {
        let token = self.session(record_id).await;
        let path = format!("/api/products/{record_id}/preview");
        let (status, body) = self.call(reqwest::Method::GET, &path, Some(&token)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    fn edit_product(&self, record_id: &str, changes: Value) {
        let zoho = &self.sandbox().zoho;
        let mut record: Map<String, Value> =
            zoho.product(record_id).and_then(|v| v.as_object().cloned()).expect("product");
        for (k, v) in changes.as_object().expect("object") {
            record.insert(k.clone(), v.clone());
        }
        zoho.set_product(record_id, record);
    }
}

fn issue_fields(body: &Value) -> Vec<String> {
    body["error"]["issues"]
        .as_array()
        .map(|issues| issues.iter().filter_map(|i| i["field"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_demo_connects_xero_and_zoho_by_itself() {
    let app = spawn().await;
    let connection = app.demo.server.store().xero_connection().await.expect("store").expect("connected");
    assert_eq!(connection.tenant_id, app.tenant());
    assert_eq!(connection.tenant_name, sandbox::xero::AU_ORG);
    assert!(app.demo.server.store().zoho_connection().await.expect("store").is_some());
    let (status, body) = app.call(reqwest::Method::GET, "/health", None).await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("ok")));
}

#[tokio::test]
async fn sync_creates_the_item_then_updates_the_same_one() {
    let app = spawn().await;
    let (status, body) = app.sync(products::WIRELESS_MOUSE).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["outcome"], "created");
    let item_id = body["item_id"].as_str().expect("item id").to_owned();
    let items = app.items();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].code, "WM-100");
    assert_eq!(items[0].sales.account_code.as_deref(), Some("200"));
    assert_eq!(items[0].sales.tax_type.as_deref(), Some("OUTPUT"));
    // Written back to the CRM record.
    let record = app.sandbox().zoho.product(products::WIRELESS_MOUSE).expect("record");
    assert_eq!(record["Xero_Item_ID"], item_id.as_str());
    assert_eq!(record["Xero_Sync_Status"], "Created in Xero");
    // Zoho's DateTime form, with a numeric offset (a `Z` would fail the whole write-back).
    assert_eq!(record["Xero_Last_Synced"], body["synced_at"]);
    assert!(record["Xero_Last_Synced"].as_str().is_some_and(|t| t.ends_with("+00:00")), "{record}");

    // Nothing changed: nothing is sent.
    let (status, body) = app.sync(products::WIRELESS_MOUSE).await;
    assert_eq!((status, body["outcome"].as_str()), (StatusCode::OK, Some("unchanged")));

    app.edit_product(products::WIRELESS_MOUSE, json!({"Unit_Price": 31.5}));
    let (status, body) = app.sync(products::WIRELESS_MOUSE).await;
    assert_eq!((status, body["outcome"].as_str()), (StatusCode::OK, Some("updated")), "{body}");
    assert_eq!(body["item_id"], item_id.as_str());
    let items = app.items();
    assert_eq!(items.len(), 1, "no duplicate");
    assert_eq!(items[0].sales.unit_price, Some(31.5));

    // The history shows all three, newest first, with who did it.
    let token = app.session(products::WIRELESS_MOUSE).await;
    let (_, history) = app
        .call(reqwest::Method::GET, &format!("/api/products/{}/history", products::WIRELESS_MOUSE), Some(&token))
        .await;
    let outcomes: Vec<&str> = history.as_array().expect("list").iter().filter_map(|h| h["outcome"].as_str()).collect();
    assert_eq!(outcomes, ["updated", "unchanged", "created"]);
    assert_eq!(history[0]["by"], "Olivia Nguyen");
}

#[tokio::test]
async fn a_code_renamed_in_the_crm_renames_the_same_item() {
    let app = spawn().await;
    let (_, first) = app.sync(products::MECHANICAL_KEYBOARD).await;
    let item_id = first["item_id"].as_str().expect("item").to_owned();
    app.edit_product(products::MECHANICAL_KEYBOARD, json!({"Product_Code": "KB-200-V2"}));
    let (status, body) = app.sync(products::MECHANICAL_KEYBOARD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!((body["outcome"].as_str(), body["item_id"].as_str()), (Some("updated"), Some(item_id.as_str())));
    let items = app.items();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].code, "KB-200-V2");
}

#[tokio::test]
async fn an_item_xero_already_has_is_linked_by_code_ignoring_case() {
    let app = spawn().await;
    let existing = app.sandbox().xero.create_item(&app.tenant(), "wm-100", "Mouse typed into Xero").expect("item");
    let (status, body) = app.sync(products::WIRELESS_MOUSE).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!((body["outcome"].as_str(), body["item_id"].as_str()), (Some("updated"), Some(existing.as_str())));
    let items = app.items();
    assert_eq!(items.len(), 1, "no duplicate");
    assert_eq!(items[0].name.as_deref(), Some("Wireless Mouse"));
}

#[tokio::test]
async fn two_crm_products_cannot_share_one_xero_item() {
    let app = spawn().await;
    assert_eq!(app.sync(products::WIRELESS_MOUSE).await.0, StatusCode::OK);
    // Another product whose code differs only in case.
    let (status, body) = app.sync(products::WIRELESS_MOUSE_LOWERCASE).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["issues"][0]["code"], "code_in_use");
    assert_eq!(issue_fields(&body), ["Product_Code"]);
    assert_eq!(app.items().len(), 1);
}

/// Issue 15: the preview tells before any click that the code is another product's item's, naming that
/// product by name and code, with a code free in Xero; once the product takes it, it syncs.
#[tokio::test]
async fn the_preview_names_the_product_whose_item_has_the_code_and_offers_a_free_one() {
    let app = spawn().await;
    assert_eq!(app.sync(products::WIRELESS_MOUSE).await.0, StatusCode::OK);
    let preview = app.preview(products::WIRELESS_MOUSE_LOWERCASE).await;
    let issue = &preview["issues"][0];
    assert_eq!((issue["field"].as_str(), issue["code"].as_str()), (Some("Product_Code"), Some("code_in_use")));
    let message = issue["message"].as_str().expect("message");
    assert!(message.contains("already used by Wireless Mouse, WM-100 in Xero"), "{message}");
    assert!(message.contains("“WIRELESS-MOUSE-BLACK”"), "{message}");
    assert_eq!(preview["plan"]["suggested_code"], "WIRELESS-MOUSE-BLACK");
    assert_eq!(preview["plan"]["outcome"], "created");
    assert_eq!(preview["payload"], Value::Null, "nothing to send while the code is taken");
    let (_, refused) = app.sync(products::WIRELESS_MOUSE_LOWERCASE).await;
    assert_eq!(refused["error"]["issues"][0]["message"], issue["message"], "the sync says the same");
    assert_eq!(refused["error"]["message"], "Fix the highlighted fields, then sync again.");

    app.edit_product(products::WIRELESS_MOUSE_LOWERCASE, json!({"Product_Code": "WIRELESS-MOUSE-BLACK"}));
    let (status, body) = app.sync(products::WIRELESS_MOUSE_LOWERCASE).await;
    assert_eq!((status, body["outcome"].as_str()), (StatusCode::OK, Some("created")), "{body}");
    assert_eq!(app.items().len(), 2);
}

/// The preview's plan: what a sync would do (create, update which item, or nothing), before any click.
#[tokio::test]
async fn the_preview_says_whether_a_sync_creates_updates_or_changes_nothing() {
    let app = spawn().await;
    let plan = app.preview(products::WIRELESS_MOUSE).await["plan"].clone();
    assert_eq!(plan, json!({"outcome": "created"}));
    let (_, synced) = app.sync(products::WIRELESS_MOUSE).await;
    let plan = app.preview(products::WIRELESS_MOUSE).await["plan"].clone();
    assert_eq!(plan["outcome"], "unchanged");
    assert_eq!((&plan["item"]["item_id"], &plan["item"]["code"]), (&synced["item_id"], &json!("WM-100")));
    let last = plan["item"]["last_synced"].as_str().expect("last synced");
    assert!(chrono::DateTime::parse_from_rfc3339(last).is_ok(), "{last}");
    app.edit_product(products::WIRELESS_MOUSE, json!({"Description": "Now with a longer cable."}));
    assert_eq!(app.preview(products::WIRELESS_MOUSE).await["plan"]["outcome"], "updated");
    // An item Xero already had, matched by code: updated, never synced by us.
    app.sandbox().xero.create_item(&app.tenant(), "HUB-7P", "Hub typed into Xero").expect("item");
    let plan = app.preview(products::USB_C_HUB).await["plan"].clone();
    assert_eq!((plan["outcome"].as_str(), plan["item"]["code"].as_str()), (Some("updated"), Some("HUB-7P")));
    assert_eq!(plan["item"].get("last_synced"), None);
}

/// Issue 15: an item changed in Xero's web app since our last sync shows what changed; "keep Xero's" writes
/// nothing to Xero (and says so in the log and the CRM), and a sync that overwrites restores the CRM's.
#[tokio::test]
async fn an_item_edited_in_xero_is_shown_and_kept_or_overwritten() {
    use sandbox::xero::ItemEdit;
    let app = spawn().await;
    let (_, synced) = app.sync(products::WIRELESS_MOUSE).await;
    let item_id = synced["item_id"].as_str().expect("item").to_owned();
    assert_eq!(app.preview(products::WIRELESS_MOUSE).await["plan"].get("xero_edits"), None, "no edit yet");
    let edit = ItemEdit { unit_price: Some(34.0), ..ItemEdit::default() };
    let edited = app.sandbox().xero.edit_item(&app.tenant(), &item_id, edit).expect("edited in Xero");

    let plan = app.preview(products::WIRELESS_MOUSE).await["plan"].clone();
    assert_eq!(plan["outcome"], "updated");
    let edits = plan["xero_edits"].as_array().expect("edits");
    assert_eq!(edits.len(), 1, "{plan}");
    assert_eq!(
        (&edits[0]["field"], &edits[0]["xero_value"], &edits[0]["crm_value"]),
        (&json!("Unit_Price"), &json!("34.00"), &json!("39.95"))
    );
    let changed =
        chrono::DateTime::parse_from_rfc3339(edits[0]["changed_at"].as_str().expect("when")).expect("rfc3339");
    assert_eq!(
        changed.timestamp(),
        chrono::DateTime::<chrono::Utc>::from_timestamp_millis(edited.updated_ms).expect("ms").timestamp()
    );

    app.sandbox().xero.clear_calls();
    let (status, kept) = app.sync_with(products::WIRELESS_MOUSE, json!({"xero_edits": "keep"})).await;
    assert_eq!((status, kept["outcome"].as_str()), (StatusCode::OK, Some("kept")), "{kept}");
    let writes = app.sandbox().xero.calls().into_iter().filter(|c| c.method == "POST").count();
    assert_eq!(writes, 0, "nothing was written to Xero");
    assert_eq!(app.items()[0].sales.unit_price, Some(34.0));
    let record = app.sandbox().zoho.product(products::WIRELESS_MOUSE).expect("record");
    assert_eq!(
        record["Xero_Sync_Status"],
        "Kept Xero's version (changed in Xero: Unit Price); nothing written to Xero"
    );
    let log = app.demo.server.store().history(products::WIRELESS_MOUSE, 1).await.expect("log");
    assert_eq!(log[0].outcome, backend::store::SyncOutcome::Unchanged);
    assert_eq!(log[0].messages, ["Kept the changes made in Xero to Unit Price; nothing was written to Xero."]);
    // The difference stands until it is overwritten.
    assert_eq!(app.preview(products::WIRELESS_MOUSE).await["plan"]["xero_edits"].as_array().map(Vec::len), Some(1));

    let (status, overwritten) = app.sync_with(products::WIRELESS_MOUSE, json!({"xero_edits": "overwrite"})).await;
    assert_eq!((status, overwritten["outcome"].as_str()), (StatusCode::OK, Some("updated")), "{overwritten}");
    assert_eq!(app.items()[0].sales.unit_price, Some(39.95));
    let log = app.demo.server.store().history(products::WIRELESS_MOUSE, 1).await.expect("log");
    assert_eq!(log[0].messages, ["Overwrote the changes made in Xero to Unit Price."]);
    let plan = app.preview(products::WIRELESS_MOUSE).await["plan"].clone();
    assert_eq!((plan["outcome"].as_str(), plan.get("xero_edits")), (Some("unchanged"), None));
}

/// Issue 14: "Suggest a code" asks the backend, which knows the codes already in Xero.
#[tokio::test]
async fn a_suggested_code_is_free_in_xero() {
    let app = spawn().await;
    app.sandbox().xero.create_item(&app.tenant(), "laptop-stand", "Someone else's stand").expect("item");
    // The preview of a product whose code needs fixing carries the same suggestion, for the widget.
    assert_eq!(app.preview(products::NO_CODE).await["plan"]["suggested_code"], "LAPTOP-STAND-2");
    assert_eq!(app.preview(products::WIRELESS_MOUSE).await["plan"].get("suggested_code"), None, "a good code");
    let token = app.session(products::NO_CODE).await;
    let path = |name: &str| format!("/api/products/{}/code-suggestion?name={name}", products::NO_CODE);
    let (status, body) = app.call(reqwest::Method::GET, &path("Laptop%20Stand"), Some(&token)).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"code": "LAPTOP-STAND-2"})));
    let (status, body) = app.call(reqwest::Method::GET, &path("%E2%9C%93%20%E2%9C%93"), Some(&token)).await;
    assert_eq!(
        (status, body["error"]["issues"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("Product_Code"))
    );
    let (status, _) = app.call(reqwest::Method::GET, &path(""), Some(&token)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let other = format!("/api/products/{}/code-suggestion?name=X", products::USB_C_HUB);
    assert_eq!(app.call(reqwest::Method::GET, &other, Some(&token)).await.0, StatusCode::FORBIDDEN);

    app.edit_product(products::NO_CODE, json!({"Product_Code": "LAPTOP-STAND-2"}));
    let (status, body) = app.sync(products::NO_CODE).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::OK, Some("LAPTOP-STAND-2")), "Xero accepts it: {body}");
}

/// Issue 14: with a default account and the tax mapping set, a product with neither a GL account nor a tax
/// rate resolves both, the options carry the defaults for the widget, and the log and the CRM's status say
/// which values were the defaults.
#[tokio::test]
async fn with_the_defaults_a_product_without_xero_fields_syncs_to_200_and_output() {
    let app = spawn().await;
    let (status, body) = app.sync(products::NO_XERO_FIELDS).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "without defaults, today's rules: {body}");
    assert_eq!(issue_fields(&body), ["Xero_GL_Account", "Xero_Tax_Rate"]);

    let defaults: shared::OrgDefaults = serde_json::from_value(json!({"gl_account": "200", "taxes": [
        {"crm_tax": "GST - 10.0 %", "tax_type": "OUTPUT"}, {"crm_tax": "GST Free - 0.0 %", "tax_type": "EXEMPTOUTPUT"}]}))
    .expect("defaults");
    app.demo.server.store().set_org_defaults(&defaults, "test").await.expect("stored");
    let token = app.session(products::NO_XERO_FIELDS).await;
    let (_, options) = app.call(reqwest::Method::GET, "/api/xero/options", Some(&token)).await;
    assert_eq!(options["defaults"], serde_json::to_value(&defaults).expect("json"));
    let preview = app.preview(products::NO_XERO_FIELDS).await;
    assert_eq!(preview["issues"], json!([]));
    assert_eq!(
        preview["payload"]["SalesDetails"],
        json!({"UnitPrice": 24.0, "AccountCode": "200", "TaxType": "OUTPUT"})
    );

    let (status, body) = app.sync(products::NO_XERO_FIELDS).await;
    assert_eq!((status, body["outcome"].as_str()), (StatusCode::OK, Some("created")), "{body}");
    let item = app.items().into_iter().find(|i| i.code == "CHG-USB").expect("item");
    assert_eq!((item.sales.account_code.as_deref(), item.sales.tax_type.as_deref()), (Some("200"), Some("OUTPUT")));
    let note = "account 200 is the organisation's default; tax rate OUTPUT is mapped from the CRM tax “GST - 10.0 %”";
    let record = app.sandbox().zoho.product(products::NO_XERO_FIELDS).expect("record");
    assert_eq!(record["Xero_Sync_Status"], format!("Created in Xero ({note})"));
    let log = app.demo.server.store().history(products::NO_XERO_FIELDS, 1).await.expect("log");
    assert_eq!(log[0].messages, [format!("A{}.", &note[1..])]);
    // A value typed on the product still wins.
    let (_, body) = app.sync(products::WIRELESS_MOUSE).await;
    assert_eq!(
        app.sandbox().zoho.product(products::WIRELESS_MOUSE).expect("record")["Xero_Sync_Status"],
        "Created in Xero",
        "{body}"
    );
}

/// Issue 15's honest states: Xero disconnected is one plain sentence that says what to do once, on every
/// route the widget calls; connected again, the same calls succeed.
#[tokio::test]
async fn a_disconnected_xero_is_said_once_until_it_is_connected_again() {
    let app = spawn().await;
    app.demo.server.connections().disconnect_xero().await.expect("disconnected");
    let token = app.session(products::WIRELESS_MOUSE).await;
    let preview = format!("/api/products/{}/preview", products::WIRELESS_MOUSE);
    for path in ["/api/xero/options", preview.as_str()] {
        let (status, body) = app.call(reqwest::Method::GET, path, Some(&token)).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::SERVICE_UNAVAILABLE, Some("reconnect_needed"))
        );
        let message = body["error"]["message"].as_str().expect("message");
        assert_eq!(message, "Xero is not connected yet: your xero-sync admin connects it on the admin pages.");
    }
    app.demo.connect_xero().await.expect("connected again");
    let (status, _) = app.call(reqwest::Method::GET, "/api/xero/options", Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.preview(products::WIRELESS_MOUSE).await["issues"], json!([]));
}

/// Issue 15: a system account is refused with its reason, and a CRM tax whose rate differs from the Xero
/// rate's is a warning, by the server's check as by the widget's.
#[tokio::test]
async fn a_system_account_is_refused_and_a_tax_mismatch_is_a_warning() {
    let app = spawn().await;
    app.edit_product(products::WIRELESS_MOUSE, json!({"Xero_GL_Account": "Accounts Receivable"}));
    let issues = app.preview(products::WIRELESS_MOUSE).await["issues"].clone();
    assert_eq!(
        (issues[0]["code"].as_str(), issues[0]["severity"].as_str()),
        (Some("gl_account_system"), Some("error"))
    );
    assert!(
        issues[0]["message"].as_str().is_some_and(|m| m.contains("accounts receivable control account")),
        "{issues}"
    );
    let issues = app.preview(products::GST_FREE_AT_TEN_PERCENT).await["issues"].clone();
    assert_eq!(issues.as_array().map(Vec::len), Some(1), "{issues}");
    assert_eq!(
        (issues[0]["code"].as_str(), issues[0]["severity"].as_str()),
        (Some("tax_rate_mismatch"), Some("warning"))
    );
    assert_eq!(
        issues[0]["message"],
        "The CRM says “GST Free - 0.0 %”, but the Xero tax rate “GST on Income” is 10 %; check which is right."
    );
}

#[tokio::test]
async fn a_product_breaking_a_rule_is_refused_with_the_field_named() {
    let app = spawn().await;
    let (status, body) = app.sync(products::NO_CODE_NO_GL_ACCOUNT).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "validation_failed");
    assert_eq!(issue_fields(&body), ["Product_Code", "Xero_GL_Account"]);
    let (_, body) = app.sync(products::UNKNOWN_GL_ACCOUNT).await;
    assert_eq!(issue_fields(&body), ["Xero_GL_Account"]);
    assert_eq!(body["error"]["issues"][0]["suggestions"][0], "Sales");
    assert!(app.items().is_empty());
    let record = app.sandbox().zoho.product(products::UNKNOWN_GL_ACCOUNT).expect("record");
    assert!(record["Xero_Sync_Status"].as_str().is_some_and(|s| s.starts_with("Sync failed")), "{record}");
}

#[tokio::test]
async fn preview_shows_the_exact_payload_without_sending() {
    let app = spawn().await;
    let token = app.session(products::USB_C_HUB).await;
    let (status, body) =
        app.call(reqwest::Method::GET, &format!("/api/products/{}/preview", products::USB_C_HUB), Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["payload"]["Code"], "HUB-7P");
    assert_eq!(body["payload"]["SalesDetails"]["AccountCode"], "200");
    assert!(app.items().is_empty(), "a preview sends nothing");
}

#[tokio::test]
async fn a_xero_validation_error_comes_back_on_its_field() {
    let app = spawn().await;
    // Warm the account cache, then archive the account in Xero behind our back.
    assert_eq!(app.sync(products::WIRELESS_MOUSE).await.0, StatusCode::OK);
    assert!(app.sandbox().xero.archive_account(&app.tenant(), "200"));
    let (status, body) = app.sync(products::MECHANICAL_KEYBOARD).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "xero_rejected");
    assert_eq!(issue_fields(&body), ["Xero_GL_Account"]);
    // The cache was dropped: the next try is judged against the live chart, by our own rules.
    let (_, body) = app.sync(products::MECHANICAL_KEYBOARD).await;
    assert_eq!(body["error"]["code"], "validation_failed", "{body}");
    assert_eq!(body["error"]["issues"][0]["code"], "gl_account_archived");
}

#[tokio::test]
async fn options_carry_the_organisations_chart_and_rates_for_the_widgets_rules() {
    let app = spawn().await;
    let token = app.session(products::WIRELESS_MOUSE).await;
    let (status, body) = app.call(reqwest::Method::GET, "/api/xero/options", Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    let lists: shared::wire::PickLists = serde_json::from_value(body).expect("the widget reads it");
    assert_eq!(lists.fields.gl_account, "Xero_GL_Account", "the organisation's CRM field names");
    assert!(lists.accounts.iter().any(|a| a.code.as_deref() == Some("200") && a.name == "Sales"));
    assert!(lists.accounts.iter().any(|a| !a.is_active()), "archived accounts too, for the rules' messages");
    let choices: Vec<_> = shared::xero::account_choices(&lists.accounts).collect();
    assert!(choices[0].is_revenue(), "revenue accounts first");
    assert!(choices.iter().all(|a| a.is_selectable()));
    assert!(lists.tax_rates.iter().any(|r| r.tax_type == "OUTPUT" && r.is_selectable()));
    assert!(lists.tax_rates.iter().any(|r| r.tax_type == "INPUT" && !r.is_selectable()), "the rules tell why");
}

#[tokio::test]
async fn calls_without_a_valid_session_are_refused() {
    let app = spawn().await;
    let path = format!("/api/products/{}/sync", products::WIRELESS_MOUSE);
    let (status, body) = app.call(reqwest::Method::POST, &path, None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthorized")));
    let (status, _) = app.call(reqwest::Method::POST, &path, Some("forged.token")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app.call(reqwest::Method::GET, "/api/xero/options", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A wrong API key opens no session.
    let response = app
        .http
        .post(format!("{}/api/session", app.demo.server.url))
        .header("x-api-key", "not-the-key")
        .json(&json!({"record_id": products::WIRELESS_MOUSE}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(app.items().is_empty());
}

#[tokio::test]
async fn a_session_for_one_record_cannot_sync_another() {
    let app = spawn().await;
    let token = app.session(products::WIRELESS_MOUSE).await;
    let path = format!("/api/products/{}/sync", products::USB_C_HUB);
    let (status, body) = app.call(reqwest::Method::POST, &path, Some(&token)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")));
    assert!(app.items().is_empty());
}

#[tokio::test]
async fn a_rate_limit_and_server_errors_end_in_exactly_one_item() {
    let app = spawn().await;
    let xero = &app.sandbox().xero;
    xero.force_rate_limit(2, RateProblem::Minute, Some(1));
    let (status, body) = app.sync(products::WIRELESS_MOUSE).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    xero.fail_next(FaultTarget::Api, 2, Fault::Status(503));
    let (status, body) = app.sync(products::USB_C_HUB).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let codes: Vec<String> = app.items().into_iter().map(|i| i.code).collect();
    assert_eq!(codes.len(), 2, "{codes:?}");
}

#[tokio::test]
async fn a_dropped_item_response_is_retried_without_a_duplicate() {
    let app = spawn().await;
    let xero = &app.sandbox().xero;
    // Warm the caches so the next Xero call is the POST itself, then lose its answer.
    let token = app.session(products::WIRELESS_MOUSE).await;
    app.call(reqwest::Method::GET, &format!("/api/products/{}/preview", products::WIRELESS_MOUSE), Some(&token)).await;
    xero.fail_next(FaultTarget::Api, 1, Fault::Drop);
    let (status, body) = app.sync(products::WIRELESS_MOUSE).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(app.items().len(), 1);
}

#[tokio::test]
async fn an_expired_access_token_is_refreshed_once_for_many_concurrent_syncs() {
    use backend::xero::{LimiterConfig, XeroClientConfig};
    // Xero's limits lifted so that 100 syncs do not wait out minute windows; the client's pacing follows.
    let tuning = Tuning {
        sandbox: sandbox::SandboxConfig {
            xero: sandbox::xero::XeroConfig {
                limits: sandbox::xero::RateLimits { per_minute: 10_000, ..Default::default() },
                ..Default::default()
            },
            ..Default::default()
        },
        xero: XeroClientConfig {
            limiter: LimiterConfig { per_window: 10_000, ..Default::default() },
            ..Default::default()
        },
        ..Default::default()
    };
    let app = spawn_tuned(tuning).await;
    let mut ids = Vec::new();
    for n in 0..100 {
        let mut record =
            app.sandbox().zoho.product(products::WIRELESS_MOUSE).and_then(|v| v.as_object().cloned()).expect("p");
        record.remove("id");
        record.insert("Product_Code".into(), json!(format!("BULK-{n:03}")));
        ids.push(app.sandbox().zoho.insert_product(record));
    }
    let mut tokens = Vec::new();
    for id in &ids {
        tokens.push(app.session(id).await);
    }
    // The access token dies in Xero while the service still believes it has most of its life left.
    app.sandbox().xero.expire_access_tokens();
    let before = app.sandbox().xero.token_stats().refreshes;
    let paths: Vec<String> = ids.iter().map(|id| format!("/api/products/{id}/sync")).collect();
    let syncs =
        paths.iter().zip(&tokens).map(|(path, token)| app.call(reqwest::Method::POST, path, Some(token.as_str())));
    let results = futures::future::join_all(syncs).await;
    assert!(
        results.iter().all(|(s, _)| *s == StatusCode::OK),
        "{:?}",
        results.iter().find(|(s, _)| *s != StatusCode::OK)
    );
    assert_eq!(app.sandbox().xero.token_stats().refreshes - before, 1, "exactly one refresh");
    assert_eq!(app.items().len(), 100);
}

#[tokio::test]
async fn a_refused_refresh_token_shows_reconnect_needed() {
    use sandbox::xero::{Lifetimes, XeroConfig};
    // 1000× simulated time: the access token dies after 1.8 s, the unused refresh token after 2.4 s.
    let lifetimes = Lifetimes { refresh_token: Duration::from_secs(40 * 60), ..Lifetimes::default() };
    let tuning = Tuning {
        sandbox: sandbox::SandboxConfig {
            time_scale: 1000.0,
            xero: XeroConfig { lifetimes, ..XeroConfig::default() },
            ..Default::default()
        },
        ..Default::default()
    };
    let app = spawn_tuned(tuning).await;
    tokio::time::sleep(Duration::from_millis(3000)).await;
    let (status, body) = app.sync(products::WIRELESS_MOUSE).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "reconnect_needed");
    assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains("admin")), "{body}");
    let connection = app.demo.server.store().xero_connection().await.expect("store").expect("connection");
    assert_eq!(connection.status, backend::store::ConnectionStatus::ReconnectNeeded);
    // Later syncs fail fast with the same answer instead of hammering Xero's token endpoint.
    let failures = app.sandbox().xero.token_stats().refresh_failures;
    let (status, _) = app.sync(products::USB_C_HUB).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(app.sandbox().xero.token_stats().refresh_failures, failures);
    assert!(app.items().is_empty());
}

#[tokio::test]
async fn the_widget_page_names_the_sdk_and_who_may_frame_it() {
    let app = spawn().await;
    let dir = &app.dir.0;
    std::fs::write(
        dir.join("index.html"),
        r#"<meta name="xero-sync-mode" content="__XERO_SYNC_MODE__"><script src="__ZOHO_SDK_URL__"></script>"#,
    )
    .expect("index");
    std::fs::write(dir.join("widget.js"), "export default 1;").expect("asset");
    let page = app.http.get(format!("{}/widget/?serviceOrigin=x", app.demo.server.url)).send().await.expect("page");
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page.headers()["content-security-policy"].to_str().expect("csp").to_owned();
    let crm = &app.sandbox().crm.url;
    assert_eq!(
        csp,
        format!(
            "default-src 'self'; script-src 'self' 'wasm-unsafe-eval' {crm}; connect-src 'self'; style-src 'self'; \
             object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'self' {crm}"
        )
    );
    let html = page.text().await.expect("html");
    assert!(html.contains(&format!(r#"src="{}""#, app.sandbox().crm.sdk_url())), "{html}");
    assert!(html.contains(r#"content="sandbox""#));
    let asset = app.http.get(format!("{}/widget/widget.js", app.demo.server.url)).send().await.expect("asset");
    assert_eq!(asset.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_sync_that_outlasts_xeros_errors_can_simply_be_tried_again() {
    let app = spawn().await;
    assert_eq!(app.sync(products::WIRELESS_MOUSE).await.0, StatusCode::OK);
    app.edit_product(products::WIRELESS_MOUSE, json!({"Unit_Price": 27.0}));
    // More server errors than the client retries: the item write gives up.
    app.sandbox().xero.fail_next(FaultTarget::Api, 8, Fault::Status(500));
    let (status, body) = app.sync(products::WIRELESS_MOUSE).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["error"]["code"], "upstream_unavailable");
    app.sandbox().xero.clear_faults();
    let (status, body) = app.sync(products::WIRELESS_MOUSE).await;
    assert_eq!((status, body["outcome"].as_str()), (StatusCode::OK, Some("updated")), "{body}");
    let items = app.items();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].sales.unit_price, Some(27.0));
}

#[tokio::test]
async fn after_a_reconnect_every_rotated_refresh_token_is_kept() {
    use backend::connections::Consented;
    use sandbox::xero::{Lifetimes, XeroConfig};
    // No grace: a refresh token lost even once would mean "reconnect needed".
    let lifetimes = Lifetimes { refresh_grace: Duration::ZERO, ..Lifetimes::default() };
    let tuning = Tuning {
        sandbox: sandbox::SandboxConfig {
            xero: XeroConfig { lifetimes, ..XeroConfig::default() },
            ..Default::default()
        },
        ..Default::default()
    };
    let app = spawn_tuned(tuning).await;
    let server = &app.demo.server;
    // What the admin's disconnect then connect do to the tokens.
    server.store().clear_xero_tokens().await.expect("clear");
    let consent_url = server.connections().begin_xero_consent().await.expect("consent URL");
    let answer = demo::consent_at_simulator(&app.sandbox().xero, &consent_url, &[app.tenant()]).expect("consent");
    let consented = server.connections().finish_xero_consent(answer).await.expect("exchange");
    assert!(matches!(consented, Consented::Connected(_)), "{consented:?}");

    for product in [products::WIRELESS_MOUSE, products::USB_C_HUB, products::MECHANICAL_KEYBOARD] {
        app.sandbox().xero.expire_access_tokens();
        let (status, body) = app.sync(product).await;
        assert_eq!(status, StatusCode::OK, "{product}: {body}");
    }
    assert_eq!(app.sandbox().xero.token_stats().refresh_failures, 0);
}

/// Zoho's Connection forwarder may send the body under any Content-Type, or form-encoded: the session
/// opens either way, and a body that is neither gets the API's error envelope.
#[tokio::test]
async fn a_session_body_is_read_whatever_its_content_type_and_a_bad_one_gets_the_envelope() {
    let app = spawn().await;
    let key = app.demo.api_key.expose_secret().to_owned();
    let url = format!("{}/api/session", app.demo.server.url);
    let json = json!({"record_id": products::WIRELESS_MOUSE, "user": "Olivia Nguyen"}).to_string();
    let form = format!("record_id={}&user=Olivia+Nguyen", products::WIRELESS_MOUSE);
    let bodies = [
        (Some("application/json"), json.clone()),
        (Some("text/plain;charset=UTF-8"), json.clone()),
        (None, json),
        (Some("application/x-www-form-urlencoded"), form.clone()),
        (Some("application/json"), form),
    ];
    for (content_type, body) in bodies {
        let mut request = app.http.post(&url).header("x-api-key", &key).body(body.clone());
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.expect("session");
        assert_eq!(response.status(), StatusCode::OK, "{content_type:?} {body}");
        let session: Value = response.json().await.expect("json");
        assert_eq!(session["record_id"], products::WIRELESS_MOUSE, "{content_type:?} {body}");
    }
    for body in ["{\"record_id\": ", "<session/>", "", "user=Olivia"] {
        let response = app
            .http
            .post(&url)
            .header("x-api-key", &key)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("session");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body:?}");
        let request_id = response.headers()["x-request-id"].to_str().expect("id").to_owned();
        let envelope: shared::wire::ErrorEnvelope = response.json().await.expect("the JSON error envelope");
        assert_eq!(envelope.error.code, shared::wire::ErrorCode::BadRequest, "{body:?}");
        assert!(envelope.error.message.starts_with("The body must be a JSON object"), "{body:?}: {envelope:?}");
        assert_eq!(envelope.error.request_id.as_deref(), Some(request_id.as_str()), "the log's request id");
    }
}
