//! The admin portal (issue 13, phase A) in real headless Chromium, as the demo serves it: logging in, the
//! dashboard's set-up checklist, the sync log filtered by hand after a few widget syncs, its CSV download
//! parsed and checked, catalogue readiness against what the shared rules say, and every page at 360 px
//! without sideways scrolling. Each step saves a screenshot to `artifacts/`.

use demo::Demo;
use e2e::browser::Browser;
use e2e::page::{click, script, wait_until};
use fantoccini::{Client, Locator};
use sandbox::zoho::products;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use shared::{Account, CrmProduct, FieldMap, TaxRate, XeroContext, validate};

const FORMULA: &str = r#"=HYPERLINK("http://evil.example","x")"#;

async fn spawn_demo() -> Demo {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    demo::start(listener, |_| None, demo::Tuning::default()).await.expect("demo")
}

async fn text(client: &Client, css: &str) -> String {
    client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}")).text().await.expect("text")
}

/// Syncs `product` as the widget does for `user` (a session through the API key, then the sync call).
async fn sync(demo: &Demo, user: &str, product: &str) -> u16 {
    let http = reqwest::Client::new();
    let session: Value = http
        .post(format!("{}/api/session", demo.server.url))
        .header("x-api-key", demo.api_key.expose_secret())
        .json(&json!({"record_id": product, "user": user}))
        .send()
        .await
        .expect("session")
        .json()
        .await
        .expect("json");
    let token = session["token"].as_str().expect("token");
    let url = format!("{}/api/products/{product}/sync", demo.server.url);
    http.post(url).bearer_auth(token).send().await.expect("sync").status().as_u16()
}

/// The product names of the log table's rows, in order.
async fn logged_products(client: &Client) -> Vec<String> {
    let names = script(
        client,
        "return [...document.querySelectorAll('table.log tbody th a:first-child')].map(a => a.textContent)",
    );
    serde_json::from_value(names.await).expect("names")
}

/// Logs in through the login form, as an admin does.
async fn log_in(browser: &Browser, url: &str) {
    let client = &browser.client;
    client.goto(&format!("{url}/")).await.expect("root");
    wait_until(client, "the root leads to the login", "return location.pathname === '/admin/login'").await;
    let hint = text(client, "main p").await;
    assert!(hint.contains("the password is sandbox"), "{hint}");
    client.find(Locator::Id("password")).await.expect("field").send_keys("sandbox").await.expect("typed");
    click(client, "main button[type=submit]").await;
    wait_until(client, "the dashboard opens", "return location.pathname === '/admin'").await;
}

/// The innermost elements reaching past the viewport's right edge, to say what makes a page scroll.
const WIDE_ELEMENTS: &str = "const w = document.documentElement.clientWidth; \
    return [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > w + 0.5 \
    && ![...e.children].some(c => c.getBoundingClientRect().right > w + 0.5)) \
    .map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right) + ': ' \
    + e.textContent.slice(0, 40))";

/// Whether the page scrolls sideways at the current width.
async fn overflow(client: &Client) -> i64 {
    script(client, "const e = document.documentElement; return e.scrollWidth - e.clientWidth")
        .await
        .as_i64()
        .expect("px")
}

/// The Australian organisation's accounts and tax rates, read from the Xero simulator as the backend reads
/// them (with the token the backend keeps).
async fn xero_lists(demo: &Demo) -> (Vec<Account>, Vec<TaxRate>) {
    let tenant = demo.sandbox.xero.tenant_id(sandbox::xero::AU_ORG).expect("tenant");
    let tokens = demo.server.store().load_xero_tokens().await.expect("store").expect("tokens");
    let http = reqwest::Client::new();
    let get = |path: &str| {
        http.get(format!("{}/{path}", demo.sandbox.xero.api_url()))
            .bearer_auth(tokens.access_token.expose_secret())
            .header("xero-tenant-id", &tenant)
            .header("accept", "application/json")
            .send()
    };
    let accounts: Value = get("Accounts").await.expect("accounts").json().await.expect("json");
    let rates: Value = get("TaxRates").await.expect("rates").json().await.expect("json");
    (
        serde_json::from_value(accounts["Accounts"].clone()).expect("accounts"),
        serde_json::from_value(rates["TaxRates"].clone()).expect("rates"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_logs_in_reads_the_checklist_filters_the_log_and_downloads_it() {
    let demo = spawn_demo().await;
    // A product named like a spreadsheet formula, renamed in the CRM before it is synced.
    let zoho = &demo.sandbox.zoho;
    zoho.edit_product(products::USB_C_HUB, json!({"Product_Name": FORMULA})).expect("renamed");
    Browser::run(move |browser| async move {
        let client = browser.client.clone();
        let url = demo.server.url.clone();
        log_in(&browser, &url).await;

        // (a) The set-up checklist of a demo nobody has opened the widget in: four steps done, one to do.
        assert_eq!(text(&client, ".setup > p").await, "4 of 5 steps done.");
        let steps = script(&client, "return [...document.querySelectorAll('.steps li')].map(li => li.className)").await;
        assert_eq!(steps, json!(["step done", "step done", "step done", "step done", "step todo"]));
        let todo = text(&client, ".steps li.todo").await;
        assert!(todo.contains("Widget registered") && todo.contains("press it once"), "{todo}");
        let empty = text(&client, "#syncs-h + p").await;
        assert_eq!(empty, "No sync has run yet: open a product in Zoho CRM and press Sync to Xero.");
        browser.screenshot("admin-dashboard-new").await;

        // (b) Four syncs through the widget's API: two created, one refused, one more created.
        assert_eq!(sync(&demo, "Olivia", products::MECHANICAL_KEYBOARD).await, 200);
        assert_eq!(sync(&demo, "Olivia", products::NO_GL_ACCOUNT).await, 422);
        assert_eq!(sync(&demo, "Sam", products::USB_C_HUB).await, 200);
        assert_eq!(sync(&demo, "Sam", products::MONITOR_ARM).await, 200);
        client.refresh().await.expect("reload");
        assert_eq!(text(&client, ".setup > p").await, "5 of 5 steps done. Everything is set up.");
        assert_eq!(text(&client, ".counter.created dd").await, "3");
        assert_eq!(text(&client, ".counter.refused dd").await, "1");
        let attention = text(&client, "#syncs-h ~ p.warn").await;
        assert_eq!(attention, "1 sync refused, failed or interrupted in the last 24 hours");
        browser.screenshot("admin-dashboard").await;

        // (c) The log, filtered by hand: product, outcome, trigger, date.
        client.find(Locator::LinkText("Sync log")).await.expect("nav").click().await.expect("click");
        wait_until(&client, "the log opens", "return location.pathname === '/admin/log'").await;
        assert_eq!(logged_products(&client).await, ["Monitor Arm", FORMULA, "Headset", "Mechanical Keyboard"]);
        assert_eq!(
            script(&client, "return document.querySelector('nav a[aria-current=page]').textContent").await,
            "Sync log"
        );

        client.find(Locator::Id("f-product")).await.expect("field").send_keys("keyb").await.expect("typed");
        click(&client, "form.filters button[type=submit]").await;
        wait_until(&client, "the product filter applies", "return location.search.includes('product=keyb')").await;
        assert_eq!(logged_products(&client).await, ["Mechanical Keyboard"]);

        client.goto(&format!("{url}/admin/log")).await.expect("log");
        click(&client, "#f-outcome option[value=refused]").await;
        click(&client, "#f-trigger option[value=widget]").await;
        click(&client, "form.filters button[type=submit]").await;
        wait_until(&client, "the outcome filter applies", "return location.search.includes('outcome=refused')").await;
        assert_eq!(logged_products(&client).await, ["Headset"]);
        let message = text(&client, "table.log td[data-label=Message]").await;
        assert!(message.contains("GL account"), "the refused row says why: {message}");
        browser.screenshot("admin-log-refused").await;

        click(&client, "#f-trigger option[value=bulk]").await;
        click(&client, "form.filters button[type=submit]").await;
        wait_until(&client, "the trigger filter applies", "return location.search.includes('trigger=bulk')").await;
        assert_eq!(text(&client, "p.empty").await, "No sync matches these filters. Show every sync");

        // A date range: everything today, nothing tomorrow (the inputs take the browser's own format).
        let today = chrono::Utc::now().format("%Y-%m-%d");
        for (from, expected) in [(format!("{today}T00:00"), 4), ("2999-01-01T00:00".to_owned(), 0)] {
            client.goto(&format!("{url}/admin/log")).await.expect("log");
            let set = format!(
                "document.getElementById('f-from').value = '{from}'; return document.getElementById('f-from').value"
            );
            assert_eq!(script(&client, &set).await, json!(from), "the datetime-local input took the value");
            click(&client, "form.filters button[type=submit]").await;
            wait_until(&client, "the date filter applies", "return location.search.includes('from=')").await;
            assert_eq!(logged_products(&client).await.len(), expected, "from {from}");
        }

        // (d) The CSV of a filtered view: the download link keeps the filter; fetched as the browser does.
        client.goto(&format!("{url}/admin/log?trigger=widget")).await.expect("log");
        let href = script(&client, "return document.querySelector('a.download').getAttribute('href')").await;
        assert_eq!(href, "/admin/log.csv?trigger=widget");
        // The page's policy forbids scripts fetching, so the download is made as the browser would make it:
        // the link's URL with the browser's session cookie (read through WebDriver; it is HttpOnly).
        let cookie = client.get_named_cookie("xero_sync_admin").await.expect("the session cookie");
        let download = reqwest::Client::new()
            .get(format!("{url}{}", href.as_str().expect("href")))
            .header("cookie", format!("xero_sync_admin={}", cookie.value()))
            .send()
            .await
            .expect("download");
        assert_eq!(download.status(), 200);
        assert_eq!(download.headers()["content-type"], "text/csv; charset=utf-8; header=present");
        let disposition = download.headers()["content-disposition"].to_str().expect("text").to_owned();
        assert!(disposition.starts_with("attachment; filename=\"xero-sync-log-"), "{disposition}");
        let body = download.text().await.expect("the CSV");
        let mut reader = csv::Reader::from_reader(body.as_bytes());
        let header: Vec<String> = reader.headers().expect("header").iter().map(str::to_owned).collect();
        let column =
            |name: &str| header.iter().position(|h| h == name).unwrap_or_else(|| panic!("{name} in {header:?}"));
        let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("a well-formed row")).collect();
        let names: Vec<&str> = rows.iter().map(|r| &r[column("product_name")]).collect();
        let safe_formula = format!("'{FORMULA}");
        assert_eq!(names, ["Monitor Arm", safe_formula.as_str(), "Headset", "Mechanical Keyboard"]);
        let outcomes: Vec<&str> = rows.iter().map(|r| &r[column("outcome")]).collect();
        assert_eq!(outcomes, ["created", "created", "refused", "created"]);
        assert!(rows.iter().all(|r| &r[column("trigger")] == "widget"));
        for row in &rows {
            for cell in row {
                assert!(
                    !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                    "a cell a spreadsheet would run: {cell:?}"
                );
            }
        }

        // (e) A row opens the product's history with what was sent and Xero's answer.
        client.goto(&format!("{url}/admin/log")).await.expect("log");
        client.find(Locator::LinkText("Mechanical Keyboard")).await.expect("row").click().await.expect("click");
        wait_until(&client, "the history opens", "return location.pathname.startsWith('/admin/products/')").await;
        assert_eq!(text(&client, "h1").await, "History of Mechanical Keyboard");
        let sent = text(&client, "article.sync details[open] pre").await;
        assert!(sent.contains("\"Code\": \"KB-200\""), "{sent}");
        let answers = script(
            &client,
            "return [...document.querySelectorAll('article.sync details[open] pre')].map(p => p.textContent)",
        )
        .await;
        assert!(answers[1].as_str().expect("answer").contains("\"StatusAttributeString\": \"OK\""), "{answers}");
        let crm =
            script(&client, "return [...document.links].find(a => a.textContent === 'open it in Zoho CRM').href").await;
        assert_eq!(crm, json!(demo.sandbox.crm.record_url(products::MECHANICAL_KEYBOARD)));
        browser.screenshot("admin-product-history").await;
        // The CRM link opens the record page the emulated CRM serves.
        client.goto(crm.as_str().expect("href")).await.expect("crm");
        assert!(text(&client, "body").await.contains("Mechanical Keyboard"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_counts_what_the_rules_say_and_every_page_fits_from_320_px() {
    let demo = spawn_demo().await;
    Browser::run(move |browser| async move {
        let client = browser.client.clone();
        let url = demo.server.url.clone();

        // What the shared rules say about the seeded catalogue, with the organisation's live lists.
        let (accounts, rates) = xero_lists(&demo).await;
        let fields = FieldMap::default();
        let context = XeroContext { accounts: Some(&accounts), tax_rates: Some(&rates) };
        let (mut ready, mut blocked, mut not_for_xero) = (0, 0, 0);
        let mut blocked_on_gl = 0;
        for record in demo.sandbox.zoho.products() {
            let product = CrmProduct::from_json(&record, &fields).expect("a record");
            let report = validate(&product, &fields, context);
            if report.can_sync() {
                ready += 1;
            } else if !product.add_to_xero.is_true() {
                not_for_xero += 1;
            } else {
                blocked += 1;
                blocked_on_gl += usize::from(report.errors().any(|i| i.field == fields.gl_account));
            }
        }
        assert!(ready > 0 && blocked > 0 && not_for_xero > 0, "the seeded catalogue has all three");

        log_in(&browser, &url).await;
        client.find(Locator::LinkText("Readiness")).await.expect("nav").click().await.expect("click");
        wait_until(&client, "the readiness page opens", "return location.pathname === '/admin/readiness'").await;
        // The first visit starts the check; the page refreshes itself until it is done.
        wait_until(&client, "the check is done", "return !!document.querySelector('.counter.ok dd')").await;
        let counts = script(
            &client,
            "return [...document.querySelectorAll('.counter')].map(c => [c.querySelector('dt').textContent, Number(c.querySelector('dd').textContent)])",
        )
        .await;
        assert_eq!(counts, json!([["Ready", ready], ["Blocked", blocked], ["Not for Xero", not_for_xero]]));
        let gl_caption = text(&client, "#field-Xero_GL_Account caption").await;
        assert_eq!(gl_caption, format!("Xero GL Account Xero_GL_Account: {blocked_on_gl} products"));
        let checked = text(&client, ".status p").await;
        assert!(checked.starts_with("Checked at ") && checked.contains(" products read from Zoho CRM"), "{checked}");
        // A blocked product's link opens its CRM record.
        let headset = script(&client, "return [...document.links].find(a => a.textContent === 'Headset').href").await;
        assert_eq!(headset, json!(demo.sandbox.crm.record_url(products::NO_GL_ACCOUNT)));
        browser.screenshot("admin-readiness").await;

        // "Check again" right away shows the result it has rather than asking Zoho again.
        click(&client, ".status button").await;
        wait_until(&client, "back on the page", "return location.search.includes('again=')").await;

        // Every page at 320, 360 and 800 px: nothing scrolls sideways.
        sync(&demo, "Olivia", products::NO_GL_ACCOUNT).await;
        sync(&demo, "Olivia", products::WIRELESS_MOUSE).await;
        let history = format!("/admin/products/{}", products::WIRELESS_MOUSE);
        for width in [320, 360, 800] {
            client.set_window_size(width, 900).await.expect("resize");
            let inner = script(&client, "return window.innerWidth").await.as_u64().expect("px");
            assert!(inner <= u64::from(width), "the viewport is {inner} px for a {width} px window");
            for path in ["/admin", "/admin/log", history.as_str(), "/admin/readiness", "/admin/log?outcome=bogus"] {
                client.goto(&format!("{url}{path}")).await.expect("page");
                if overflow(&client).await != 0 {
                    let wide = script(&client, WIDE_ELEMENTS).await;
                    panic!("{path} scrolls sideways at {width} px; too wide: {wide}");
                }
            }
            client.goto(&format!("{url}/admin/log")).await.expect("log");
            browser.screenshot(&format!("admin-log-{width}px")).await;
        }
        // At 360 px each log row is a card: the cells stack, each under its heading.
        client.set_window_size(360, 900).await.expect("resize");
        client.goto(&format!("{url}/admin/log")).await.expect("log");
        let stacked = script(&client, "return getComputedStyle(document.querySelector('table.log tbody td')).display").await;
        assert_eq!(stacked, "block");
        let label = script(&client, "return getComputedStyle(document.querySelector('table.log tbody td'), '::before').content").await;
        assert_eq!(label, "\"When\"");
        client.goto(&format!("{url}/admin/readiness")).await.expect("readiness");
        browser.screenshot("admin-readiness-360px").await;
    })
    .await;
}
