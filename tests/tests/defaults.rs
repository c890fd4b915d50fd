//! Issue 14 end to end, in real headless Chromium against the demo: the admin sets the organisation's
//! defaults on `/admin/settings` (pre-filled, validated, audited); the widget then shows a product with
//! neither a GL account nor a tax rate as ready, says where the values come from, and it syncs with account
//! 200 and OUTPUT; and "Suggest a code" fills a code Xero accepts. Screenshots go to `artifacts/`.

use demo::Demo;
use e2e::browser::Browser;
use e2e::page::{
    click, failing_fields, open_widget, row_detail, save_and_wait, script, sync_and_wait, text, type_into, wait_until,
};
use e2e::repo_root;
use fantoccini::{Client, Locator};
use sandbox::xero::AU_ORG;
use sandbox::zoho::products;
use serde_json::json;
use shared::{OrgDefaults, TaxMapping};

async fn spawn_backend() -> Demo {
    assert!(
        repo_root().join("widget/dist/index.html").exists(),
        "the widget is not built: run scripts/test.sh (or `trunk build --release` in widget/)"
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    demo::start(listener, |_| None, demo::Tuning::default()).await.expect("demo")
}

fn tenant(demo: &Demo) -> String {
    demo.sandbox.xero.tenant_id(AU_ORG).expect("AU org")
}

/// What the admin saved: the CRM's taxes mapped as the demo organisation's rates propose.
fn demo_defaults() -> OrgDefaults {
    let map = |crm_tax: &str, tax_type: &str| TaxMapping { crm_tax: crm_tax.into(), tax_type: tax_type.into() };
    OrgDefaults {
        gl_account: Some("200".into()),
        taxes: vec![map("GST - 10.0 %", "OUTPUT"), map("GST Free - 0.0 %", "EXEMPTOUTPUT")],
    }
}

/// The selected option's value of a `<select>`.
async fn selected(client: &Client, id: &str) -> String {
    let js = format!("return document.getElementById('{id}').value");
    script(client, &js).await.as_str().unwrap_or_default().to_owned()
}

/// The admin logs in with the demo's password, opens the settings, finds the mapping pre-filled (GST 10 %
/// to OUTPUT, GST Free to EXEMPTOUTPUT), types a control account as the default (refused on its field,
/// nothing stored), then a revenue account (stored, and the audit trail says who changed what, when).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_confirms_the_prefilled_mapping_and_a_change_is_validated_and_audited() {
    let server = spawn_backend().await;
    Browser::run(move |browser| async move {
        let client = browser.client.clone();
        let url = &server.server.url;
        client.goto(&format!("{url}/admin/settings")).await.expect("settings");
        // Behind the login.
        browser.wait_for("#password").await;
        type_into(&client, "#password", demo::DEMO_PASSWORD).await;
        click(&client, "form[action=\"/admin/login\"] button").await;
        browser.wait_for("a[href=\"/admin/settings\"]").await;
        client.goto(&format!("{url}/admin/settings")).await.expect("settings");
        browser.wait_for("#gl_account").await;

        assert_eq!(text(&client, "label[for=\"tax_type_0\"]").await, "GST - 10.0 %");
        assert_eq!(selected(&client, "tax_type_0").await, "OUTPUT");
        assert_eq!(text(&client, "label[for=\"tax_type_1\"]").await, "GST Free - 0.0 %");
        assert_eq!(selected(&client, "tax_type_1").await, "EXEMPTOUTPUT");
        let marks = script(&client, "return [...document.querySelectorAll('table.mapping td.muted')].map(t => t.textContent)");
        assert_eq!(marks.await, json!(["proposed: saving confirms it", "proposed: saving confirms it"]));
        browser.screenshot("issue14-settings-prefilled").await;

        type_into(&client, "#gl_account", "Accounts Receivable").await;
        click(&client, "form[action=\"/admin/settings\"] button[type=submit]").await;
        browser.wait_for("#gl_account-error").await;
        let error = text(&client, "#gl_account-error").await;
        assert!(error.contains("Xero's accounts receivable control account"), "{error}");
        assert_eq!(text(&client, "[role=alert]").await, "Nothing was saved: correct the fields marked below.");
        let store = server.server.store();
        assert_eq!(store.org_defaults().await.expect("store"), OrgDefaults::NONE, "nothing stored");
        browser.screenshot("issue14-settings-refused").await;

        client.find(Locator::Id("gl_account")).await.expect("field").clear().await.expect("cleared");
        type_into(&client, "#gl_account", "Sales (200)").await;
        click(&client, "form[action=\"/admin/settings\"] button[type=submit]").await;
        wait_until(&client, "saved", "return document.body.textContent.includes('Saved: 2 settings changed')").await;
        assert_eq!(store.org_defaults().await.expect("store"), demo_defaults());
        let audit = script(
            &client,
            "return [...document.querySelectorAll('table.audit tbody tr')].map(r => [...r.cells].slice(2).map(c => c.textContent))",
        )
        .await;
        assert_eq!(
            audit,
            json!([
                ["CRM taxes to Xero tax rates", "(none)", "GST - 10.0 % → OUTPUT; GST Free - 0.0 % → EXEMPTOUTPUT"],
                ["Default GL account", "(none)", "Sales (200)"]
            ])
        );
        let who = text(&client, "table.audit tbody tr td:nth-child(2)").await;
        assert!(who.starts_with("admin (session "), "{who}");
        script(&client, "document.querySelector('table.audit').scrollIntoView(); return true").await;
        browser.screenshot("issue14-settings-audited").await;
    })
    .await;
}

/// With the default account and the mapping set, the product with only name, code, Add to Xero, Taxable and
/// Tax meets every check, says where its account and rate come from, and syncs with 200 and OUTPUT; the
/// CRM record's status says which values were the defaults.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_product_without_xero_fields_meets_every_check_and_syncs_with_the_defaults() {
    let server = spawn_backend().await;
    server.server.store().set_org_defaults(&demo_defaults(), "admin").await.expect("defaults");
    let id = products::NO_XERO_FIELDS;
    Browser::run(move |browser| async move {
        let sim = &server.sandbox;
        let client = browser.client.clone();
        open_widget(&browser, &sim.crm.record_url(id)).await;
        // Until Xero's lists arrive with the defaults, the record alone lacks an account and a rate: the
        // rows are not "unchecked" then but failing, so wait for the defaults to show.
        wait_until(
            &client,
            "the lists and the defaults arrive",
            "return !document.querySelector('.checklist li.unchecked') \
             && (document.querySelector('.xero-gets')?.textContent ?? '').includes(\"organisation's default\")",
        )
        .await;
        assert_eq!(failing_fields(&client).await, json!([]));
        let not_met = script(&client, "return [...document.querySelectorAll('.checklist li:not(.ok)')].length").await;
        assert_eq!(not_met, json!(0), "every check met");
        assert_eq!(text(&client, "details.passed > summary").await, "10 checks passed");
        assert_eq!(row_detail(&client, "Xero_GL_Account").await, "Sales (200) — the organisation's default");
        assert_eq!(
            row_detail(&client, "Xero_Tax_Rate").await,
            "GST on Income (OUTPUT) — from the CRM tax GST - 10.0 %"
        );
        let gets = text(&client, ".xero-gets").await;
        assert!(gets.contains("Sales (200) — the organisation's default"), "{gets}");
        click(&client, "details.passed > summary").await;
        browser.screenshot("issue14-defaults-every-check-met").await;

        sync_and_wait(&client, "created").await;
        let item = sim.xero.items(&tenant(&server)).into_iter().find(|i| i.code == "CHG-USB").expect("item");
        assert_eq!((item.sales.account_code.as_deref(), item.sales.tax_type.as_deref()), (Some("200"), Some("OUTPUT")));
        let status = sim.zoho.product(id).expect("record")["Xero_Sync_Status"].clone();
        assert_eq!(
            status,
            "Created in Xero (account 200 is the organisation's default; tax rate OUTPUT is mapped from the CRM tax \
             “GST - 10.0 %”)"
        );
        browser.screenshot("issue14-defaults-synced").await;
    })
    .await;
}

/// "Suggest a code" on the Laptop Stand, which has none, while another Xero item already has
/// `LAPTOP-STAND`: it fills a free code, which saves and syncs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suggest_a_code_fills_a_code_xero_accepts() {
    let server = spawn_backend().await;
    server.sandbox.xero.create_item(&tenant(&server), "LAPTOP-STAND", "Laptop Stand (typed into Xero)").expect("item");
    let id = products::NO_CODE;
    Browser::run(move |browser| async move {
        let sim = &server.sandbox;
        let client = browser.client.clone();
        open_widget(&browser, &sim.crm.record_url(id)).await;
        browser.wait_for("#suggest-code").await;
        // The preview's suggestion, checked against the codes already in Xero: the history loads after it.
        wait_until(
            &client,
            "the preview and the history answer",
            "return document.querySelector('.history').textContent.includes('Not synced yet.')",
        )
        .await;
        click(&client, "#suggest-code").await;
        let code = script(&client, "return document.getElementById('fix-Product_Code').value").await;
        assert_eq!(code, json!("LAPTOP-STAND-2"), "free in Xero: LAPTOP-STAND is another item's");
        browser.screenshot("issue14-suggested-code").await;
        save_and_wait(&client).await;
        sync_and_wait(&client, "created").await;
        let codes: Vec<String> = sim.xero.items(&tenant(&server)).into_iter().map(|i| i.code).collect();
        assert_eq!(codes, ["LAPTOP-STAND", "LAPTOP-STAND-2"], "Xero accepted it");
        browser.screenshot("issue14-suggested-code-synced").await;
    })
    .await;
}
