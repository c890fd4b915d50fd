//! The admin portal's pages over HTTP (issue 13, phase A): the sync log with its filters, the product
//! history, the CSV export, the dashboard's set-up checklist and counters, catalogue readiness, and the
//! login and CSRF rules on every new route. The browser-side checks (layout at 360 px, the filter form
//! driven by hand, screenshots) are in `tests/tests/admin.rs`.

use std::time::{Duration, Instant};

use chrono::Utc;
use reqwest::StatusCode;
use sandbox::zoho::products;
use serde_json::{Map, Value, json};

use crate::admin::{Browser, PASSWORD, TestApp, spawn, spawn_production, spawn_with};
use crate::support::{TempDir, start_in};

/// Renames a seeded product in the Zoho simulator, as a CRM user would.
fn rename(app: &TestApp, id: &str, name: &str) {
    let zoho = &app.demo().sandbox.zoho;
    let mut record: Map<String, Value> = zoho.product(id).and_then(|v| v.as_object().cloned()).expect("product");
    record.insert("Product_Name".into(), json!(name));
    zoho.set_product(id, record);
}

const FORMULA: &str = r#"=HYPERLINK("http://evil.example","x")"#;

/// Three widget syncs: the keyboard created, a product without a GL account refused, and a product named
/// like a spreadsheet formula created.
async fn three_syncs(app: &TestApp) {
    rename(app, products::USB_C_HUB, FORMULA);
    let created = app.sync_as("Olivia", products::MECHANICAL_KEYBOARD).await;
    assert_eq!(created.status(), StatusCode::OK, "{}", created.text().await.unwrap_or_default());
    let refused = app.sync_as("Olivia", products::NO_GL_ACCOUNT).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.text().await.unwrap_or_default());
    let formula = app.sync_as("Sam", products::USB_C_HUB).await;
    assert_eq!(formula.status(), StatusCode::OK, "{}", formula.text().await.unwrap_or_default());
}

/// The product cells of the log table's rows, in order.
fn logged_products(body: &str) -> Vec<String> {
    body.split(r#"<th scope="row" data-label="Product">"#)
        .skip(1)
        .map(|cell| cell.split("</a>").next().unwrap_or_default().rsplit('>').next().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn the_new_pages_need_a_login_and_their_form_the_csrf_token_and_our_origin() {
    let app = spawn(false).await;
    for path in ["/admin/log", "/admin/log?outcome=failed", "/admin/products/4150868000000411001", "/admin/readiness"] {
        let page = app.get(path, None).await;
        assert_eq!((page.status, page.location()), (StatusCode::SEE_OTHER, "/admin/login"), "{path}");
    }
    // The CSV is fetched, not navigated to: no session is a 401, with nothing of the log in it.
    app.sync_as("Olivia", products::WIRELESS_MOUSE).await;
    for cookie in [None, Some("xero_sync_admin=forged")] {
        let forged = cookie.map(|cookie| Browser { cookie: cookie.to_owned(), csrf: String::new() });
        let csv = app.get("/admin/log.csv", forged.as_ref()).await;
        assert_eq!(csv.status, StatusCode::UNAUTHORIZED, "{cookie:?}");
        assert!(!csv.body.contains("Wireless") && !csv.body.contains(products::WIRELESS_MOUSE), "{}", csv.body);
    }
    let anonymous = app.post("/admin/readiness", None, &[("csrf", "x")]).await;
    assert_eq!((anonymous.status, anonymous.location()), (StatusCode::SEE_OTHER, "/admin/login"));

    let browser = app.browser("sandbox").await;
    let missing = app.post("/admin/readiness", Some(&browser), &[]).await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
    let wrong = app.post("/admin/readiness", Some(&browser), &[("csrf", "not-the-token")]).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let foreign = app
        .http
        .post(app.url("/admin/readiness"))
        .header("cookie", &browser.cookie)
        .header("origin", "https://evil.example")
        .form(&[("csrf", browser.csrf.as_str())])
        .send()
        .await
        .expect("post");
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    let readiness = app.get("/admin/readiness", Some(&browser)).await;
    assert!(readiness.body.contains("Not checked yet") || readiness.body.contains("Checking every product"));

    let accepted = app.submit("/admin/readiness", &browser, &[]).await;
    assert_eq!(accepted.status, StatusCode::SEE_OTHER);
    assert!(accepted.location().starts_with("/admin/readiness"), "{}", accepted.location());
}

#[tokio::test]
async fn the_log_names_products_filters_and_says_which_filter_is_wrong() {
    let app = spawn(false).await;
    three_syncs(&app).await;
    let browser = app.browser("sandbox").await;

    let all = app.get("/admin/log", Some(&browser)).await;
    assert_eq!(all.status, StatusCode::OK);
    assert_eq!(
        logged_products(&all.body),
        [FORMULA.replace('"', "&quot;"), "Headset".into(), "Mechanical Keyboard".into()],
        "{}",
        all.body
    );
    assert!(all.body.contains(r#"<a href="/admin/log" aria-current="page">Sync log</a>"#), "{}", all.body);
    assert!(all.body.contains("<caption>Every sync, newest first (times in UTC)</caption>"), "{}", all.body);
    // The refused row names the product and why, with links to the CRM record; created rows link the item.
    let crm = format!("{}/crm/org7001234567/tab/Products/{}", app.demo().sandbox.crm.url, products::NO_GL_ACCOUNT);
    assert!(all.body.contains(&format!(r#"<a href="{crm}">CRM record</a>"#)), "{}", all.body);
    assert!(all.body.contains(r#"title=""#) && all.body.contains("https://go.xero.com/Accounts/Inventory/"));
    assert!(!all.body.contains(r#"rel="next""#), "one page");

    let find = |query: &'static str| {
        let (app, browser) = (&app, &browser);
        async move {
            let page = app.get(&format!("/admin/log?{query}"), Some(browser)).await;
            assert_eq!(page.status, StatusCode::OK, "{query}: {}", page.body);
            logged_products(&page.body)
        }
    };
    assert_eq!(find("outcome=refused").await, ["Headset"]);
    assert_eq!(find("outcome=problems").await, ["Headset"]);
    assert_eq!(find("product=keyBOARD").await, ["Mechanical Keyboard"]);
    assert_eq!(find("product=kb-2").await, ["Mechanical Keyboard"], "by code");
    assert_eq!(find("trigger=widget&outcome=created").await.len(), 2);
    assert!(find("trigger=bulk").await.is_empty());
    let today = Utc::now().format("%Y-%m-%d");
    let dated = app.get(&format!("/admin/log?from={today}&to={today}"), Some(&browser)).await;
    assert_eq!(logged_products(&dated.body).len(), 3, "{}", dated.body);
    let future = app.get("/admin/log?from=2999-01-01T00:00", Some(&browser)).await;
    assert!(future.body.contains("No sync matches these filters."), "{}", future.body);
    // The filters stay filled in.
    let kept = app.get("/admin/log?product=keyboard&outcome=created", Some(&browser)).await;
    assert!(kept.body.contains(r#"name="product" value="keyboard""#), "{}", kept.body);
    assert!(kept.body.contains(r#"<option value="created" selected>created</option>"#), "{}", kept.body);
    assert!(kept.body.contains(r#"href="/admin/log.csv?product=keyboard&amp;outcome=created""#), "{}", kept.body);

    let bad = app.get("/admin/log?from=yesterday&outcome=great", Some(&browser)).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("“yesterday” is not a date and time like 2026-12-05T14:30."), "{}", bad.body);
    assert!(bad.body.contains(r#"aria-invalid="true" aria-describedby="f-from-error""#), "{}", bad.body);
    assert!(bad.body.contains("“great” is no outcome."), "{}", bad.body);
    assert!(logged_products(&bad.body).is_empty(), "nothing shown for a filter that means nothing");
}

#[tokio::test]
async fn the_csv_export_is_the_filtered_view_with_formulas_made_harmless() {
    let app = spawn(false).await;
    three_syncs(&app).await;
    let browser = app.browser("sandbox").await;

    let response = app.http.get(app.url("/admin/log.csv")).header("cookie", &browser.cookie).send().await.expect("csv");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/csv; charset=utf-8; header=present");
    let disposition = response.headers()["content-disposition"].to_str().expect("text").to_owned();
    assert!(disposition.starts_with("attachment; filename=\"xero-sync-log-") && disposition.ends_with(".csv\""));
    let bytes = response.bytes().await.expect("body");
    assert!(bytes.starts_with(b"\xEF\xBB\xBFid,started_at,"), "UTF-8 with a byte order mark");
    assert!(bytes.windows(2).filter(|w| w == b"\r\n").count() >= 4, "RFC 4180 line ends");

    let mut reader = csv::Reader::from_reader(bytes.as_ref());
    let header: Vec<String> = reader.headers().expect("header").iter().map(str::to_owned).collect();
    assert_eq!(
        header[..7],
        ["id", "started_at", "finished_at", "product_id", "product_name", "product_code", "outcome"]
    );
    let column = |name: &str| header.iter().position(|h| h == name).expect(name);
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("a well-formed row")).collect();
    assert_eq!(rows.len(), 3);
    let names: Vec<&str> = rows.iter().map(|r| &r[column("product_name")]).collect();
    assert_eq!(names, [format!("'{FORMULA}").as_str(), "Headset", "Mechanical Keyboard"]);
    let refused = &rows[1];
    assert_eq!(&refused[column("outcome")], "refused");
    assert_eq!(&refused[column("product_id")], products::NO_GL_ACCOUNT);
    assert!(refused[column("messages")].contains("GL"), "{refused:?}");
    assert!(
        refused[column("crm_record_url")]
            .ends_with(&format!("/crm/org7001234567/tab/Products/{}", products::NO_GL_ACCOUNT))
    );
    let keyboard = &rows[2];
    let item = &keyboard[column("xero_item_id")];
    assert_eq!(keyboard[column("xero_item_url")], format!("https://go.xero.com/Accounts/Inventory/{item}"));
    assert_eq!((&keyboard[column("who")], &keyboard[column("trigger")]), ("Olivia", "widget"));
    for row in &rows {
        for cell in row {
            assert!(!cell.starts_with(['=', '+', '-', '@', '\t', '\r']), "a cell a spreadsheet would run: {cell:?}");
        }
    }

    let filtered = app
        .http
        .get(app.url("/admin/log.csv?outcome=refused"))
        .header("cookie", &browser.cookie)
        .send()
        .await
        .expect("csv");
    let filtered = filtered.bytes().await.expect("body");
    let rows: Vec<csv::StringRecord> =
        csv::Reader::from_reader(filtered.as_ref()).records().map(|r| r.expect("row")).collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(&rows[0][column("product_name")], "Headset");
    let bad =
        app.http.get(app.url("/admin/log.csv?to=soon")).header("cookie", &browser.cookie).send().await.expect("csv");
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_dashboard_lists_what_is_left_to_set_up_and_todays_syncs() {
    let app = spawn(false).await;
    let browser = app.browser("sandbox").await;
    let dashboard = app.get("/admin", Some(&browser)).await;
    let body = &dashboard.body;
    assert!(body.contains("<p>4 of 5 steps done.</p>"), "{body}");
    assert!(body.contains(r#"<li class="step todo"><span class="mark" aria-hidden="true">!</span><div><strong>Widget registered</strong>"#), "{body}");
    assert!(body.contains("open a product in the CRM and press it once"), "{body}");
    assert!(
        body.contains("No sync has run yet: open a product in Zoho CRM and press <strong>Sync to Xero</strong>."),
        "{body}"
    );
    assert!(body.contains("Nothing failed or was refused in the last 24 hours."), "{body}");

    three_syncs(&app).await;
    let dashboard = app.get("/admin", Some(&browser)).await;
    let body = &dashboard.body;
    assert!(body.contains("<p>5 of 5 steps done. Everything is set up.</p>"), "the widget's session was noted: {body}");
    let today = Utc::now().format("%Y-%m-%d");
    let counter = |outcome: &str, n: u32| {
        format!(
            r#"<div class="counter {outcome}"><dt>{outcome}</dt><dd><a href="/admin/log?outcome={outcome}&amp;from={today}">{n}</a></dd></div>"#
        )
    };
    for (outcome, n) in [("created", 2), ("updated", 0), ("unchanged", 0), ("refused", 1), ("failed", 0)] {
        assert!(body.contains(&counter(outcome, n)), "{outcome}: {body}");
    }
    assert!(body.contains("1 sync refused, failed or interrupted in the last 24 hours"), "{body}");
    assert!(body.contains("/admin/log?outcome=problems&amp;from="), "{body}");
    assert!(body.contains("Headset</a> (refused, "), "{body}");
    assert!(body.contains("Last sync: ") && body.contains("by Sam."), "{body}");
}

#[tokio::test]
async fn a_service_with_nothing_connected_says_what_to_do_first() {
    let hash = backend::crypto::hash_password(PASSWORD).expect("hash");
    let app = spawn_production(move |name| match name {
        "XERO_SYNC_ADMIN_PASSWORD_HASH" => Some(hash.clone()),
        "XERO_CLIENT_ID" | "ZOHO_CLIENT_ID" => Some("client".into()),
        "XERO_CLIENT_SECRET" | "ZOHO_CLIENT_SECRET" => Some("secret".into()),
        _ => None,
    })
    .await;
    let browser = app.browser(PASSWORD).await;
    let body = app.get("/admin", Some(&browser)).await.body;
    assert!(body.contains("<p>0 of 5 steps done.</p>"), "{body}");
    assert!(body.contains(r##"Press <a href="#xero-h">Connect Xero</a> and allow access at Xero."##), "{body}");
    assert!(body.contains(r##"<a href="#zoho-h">Paste a Self Client code</a>"##), "{body}");
    assert!(body.contains("Checked once Zoho CRM is connected."), "{body}");
    assert!(!body.contains("SANDBOX"), "{body}");

    // Readiness has nothing to check against: it says so, and the page still answers.
    let readiness = app.get("/admin/readiness", Some(&browser)).await;
    assert_eq!(readiness.status, StatusCode::OK);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let page = app.get("/admin/readiness", Some(&browser)).await;
        if page.body.contains("failed: Xero is not connected") {
            assert!(page.body.contains(r#"role="alert""#), "{}", page.body);
            break;
        }
        assert!(Instant::now() < deadline, "{}", page.body);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let log = app.get("/admin/log", Some(&browser)).await;
    assert!(log.body.contains("No sync has run yet"), "{}", log.body);
}

/// Rows past `XERO_SYNC_LOG_RETENTION_DAYS` are deleted at start-up (and daily after); younger ones stay.
#[tokio::test]
async fn the_log_keeps_rows_for_the_retention_days() {
    let dir = TempDir::new("retention");
    let url = format!("sqlite://{}/test.db?mode=rwc", dir.0.display());
    // The key the demo will read from its data directory.
    let (key, _) = backend::crypto::MasterKey::load_or_create(None, &dir.0).expect("key");
    {
        let store = backend::store::Store::connect(&url, backend::crypto::Cipher::new(&key)).await.expect("store");
        for product in ["old", "recent"] {
            let run = store.begin_sync(product, None, "ann", backend::store::SyncTrigger::Widget).await.expect("begin");
            store.finish_sync(&run, backend::store::SyncOutcome::Failed, None, None, None, &[]).await.expect("finish");
        }
        store.close().await;
        // Age the first row by 40 days, as time would.
        let pool = sqlx::SqlitePool::connect(&url).await.expect("pool");
        let forty_days = 40 * 24 * 60 * 60 * 1000_i64;
        sqlx::query("UPDATE sync_log SET started_at = started_at - ? WHERE product_id = 'old'")
            .bind(forty_days)
            .execute(&pool)
            .await
            .expect("age");
        pool.close().await;
    }
    let demo = start_in(
        &dir,
        move |name| match name {
            "XERO_SYNC_LOG_RETENTION_DAYS" => Some("30".into()),
            _ => None,
        },
        demo::Tuning::default(),
    )
    .await;
    let store = demo.server.store();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !store.history("old", 1).await.expect("history").is_empty() {
        assert!(Instant::now() < deadline, "the 40-day-old row was not deleted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(store.history("recent", 1).await.expect("history").len(), 1, "a row within 30 days stays");
    demo.stop().await;
}

#[tokio::test]
async fn a_product_history_lists_every_sync_of_that_product_only() {
    let app = spawn_with(|_| None).await;
    app.sync_as("Olivia", products::WIRELESS_MOUSE).await;
    app.sync_as("Olivia", products::WIRELESS_MOUSE).await;
    app.sync_as("Olivia", products::MECHANICAL_KEYBOARD).await;
    let browser = app.browser("sandbox").await;
    let page = app.get(&format!("/admin/products/{}", products::WIRELESS_MOUSE), Some(&browser)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("<h1>History of Wireless Mouse</h1>"), "{}", page.body);
    assert_eq!(page.body.matches(r#"<article class="sync""#).count(), 2, "{}", page.body);
    assert!(page.body.contains(r#"<span class="badge created">created</span>"#));
    assert!(page.body.contains(r#"<span class="badge unchanged">unchanged</span>"#));
    assert!(page.body.contains("Nothing: no call to Xero was made"), "the unchanged sync sent nothing: {}", page.body);
    assert!(!page.body.contains("<details open>"), "none unfolded without ?sync=");
    let unknown = app.get("/admin/products/999", Some(&browser)).await;
    assert_eq!(unknown.status, StatusCode::OK);
    assert!(unknown.body.contains("This product has not been synced."), "{}", unknown.body);
}
