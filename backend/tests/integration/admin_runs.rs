//! The bulk runs' admin pages over HTTP (issue 13, phase B): Sync Now, a run's page and its server-sent
//! events, Cancel, Resume, Retry failed, the list of runs and the schedule, against the demo's simulators
//! on a fast clock; and the login, CSRF and origin rules on every new route.

use std::time::{Duration, Instant};

use backend::runs::{ProductFilter, ProductOutcome, RunState, RunWindow};
use reqwest::StatusCode;
use reqwest::header::LOCATION;

use crate::bulk::{Bulk, SEEDED, spawn, tuning, wait_for};

struct Admin {
    http: reqwest::Client,
    url: String,
    cookie: String,
    csrf: String,
}

struct Page {
    status: StatusCode,
    location: String,
    body: String,
}

async fn read(response: reqwest::Response) -> Page {
    let status = response.status();
    let location = response.headers().get(LOCATION).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    Page { status, location, body: response.text().await.expect("body") }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

/// The value of the first `<input name="{name}" value="…">` of a page.
fn input_value(body: &str, name: &str) -> Option<String> {
    let start = body.find(&format!(r#"name="{name}" value=""#))? + name.len() + 15;
    let end = body[start..].find('"')? + start;
    Some(body[start..end].to_owned())
}

impl Admin {
    /// Logs in to the demo with its password.
    async fn login(app: &Bulk) -> Admin {
        let http = client();
        let url = app.demo.server.url.clone();
        let response = http.post(format!("{url}/admin/login")).form(&[("password", "sandbox")]).send().await;
        let response = response.expect("login");
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let set_cookie = response.headers()["set-cookie"].to_str().expect("text").to_owned();
        let cookie = set_cookie.split(';').next().expect("pair").to_owned();
        let dashboard =
            read(http.get(format!("{url}/admin")).header("cookie", &cookie).send().await.expect("dashboard")).await;
        let csrf = input_value(&dashboard.body, "csrf").expect("csrf");
        Admin { http, url, cookie, csrf }
    }

    async fn get(&self, path: &str) -> Page {
        read(self.http.get(format!("{}{path}", self.url)).header("cookie", &self.cookie).send().await.expect("get"))
            .await
    }

    async fn submit(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut form = vec![("csrf", self.csrf.as_str())];
        form.extend_from_slice(fields);
        let request = self.http.post(format!("{}{path}", self.url)).header("cookie", &self.cookie).form(&form);
        read(request.send().await.expect("post")).await
    }

    /// Starts a run from the Sync page; returns its id (from the redirect to its page).
    async fn sync_now(&self, fields: &[(&str, &str)]) -> i64 {
        let page = self.submit("/admin/sync", fields).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        page.location.strip_prefix("/admin/runs/").and_then(|id| id.parse().ok()).expect("run page")
    }
}

fn products(app: &Bulk) -> usize {
    SEEDED + app.demo.sandbox.zoho.config().generated_products
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_run_route_needs_a_login_the_csrf_token_and_our_origin() {
    let app = spawn(tuning(SEEDED, 50.0)).await;
    let http = client();
    let url = &app.demo.server.url;
    for path in ["/admin/sync", "/admin/runs", "/admin/runs/1", "/admin/runs/1?outcome=failed", "/admin/run.js"] {
        let page = read(http.get(format!("{url}{path}")).send().await.expect("get")).await;
        assert_eq!((page.status, page.location.as_str()), (StatusCode::SEE_OTHER, "/admin/login"), "{path}");
    }
    // An EventSource cannot log in: the events answer 401.
    let events = read(http.get(format!("{url}/admin/runs/1/events")).send().await.expect("events")).await;
    assert_eq!(events.status, StatusCode::UNAUTHORIZED);
    let forged = http.get(format!("{url}/admin/runs/1/events")).header("cookie", "xero_sync_admin=forged");
    assert_eq!(forged.send().await.expect("events").status(), StatusCode::UNAUTHORIZED);

    let posts = [
        "/admin/sync",
        "/admin/sync/schedule",
        "/admin/runs/1/cancel",
        "/admin/runs/1/resume",
        "/admin/runs/1/retry",
        "/admin/settings/runs",
        "/admin/settings/log",
        "/admin/settings/fields",
    ];
    let fields = [
        ("window", "all"),
        ("every_hours", "4"),
        ("daily_reserve_percent", "5"),
        ("log_retention_days", "1"),
        ("field_item_id", "Xero_Sync_Status"),
    ];
    for path in posts {
        let page = read(http.post(format!("{url}{path}")).form(&[("csrf", "x")]).send().await.expect("post")).await;
        assert_eq!((page.status, page.location.as_str()), (StatusCode::SEE_OTHER, "/admin/login"), "{path}");
    }
    let admin = Admin::login(&app).await;
    for path in posts {
        let without = read(
            http.post(format!("{url}{path}")).header("cookie", &admin.cookie).form(&fields).send().await.expect("post"),
        )
        .await;
        assert_eq!(without.status, StatusCode::FORBIDDEN, "{path} without the token");
        let elsewhere = read(
            http.post(format!("{url}{path}"))
                .header("cookie", &admin.cookie)
                .header("origin", "https://evil.example")
                .form(&[&[("csrf", admin.csrf.as_str())][..], &fields].concat())
                .send()
                .await
                .expect("post"),
        )
        .await;
        assert_eq!(elsewhere.status, StatusCode::FORBIDDEN, "{path} from another site");
    }
    assert!(app.runs().runs(10, None).await.expect("runs").is_empty(), "no run started");
    let schedule = app.runs().schedule().await.expect("schedule");
    assert!(schedule.schedule.is_none(), "no schedule set");
    assert!(app.demo.server.store().org_settings_audit(10).await.expect("audit").is_empty(), "no setting changed");

    // Logged in: the pages and the script answer, under a policy that allows our own script only.
    let script = app.demo.server.url.clone() + "/admin/run.js";
    let response = http.get(script).header("cookie", &admin.cookie).send().await.expect("script");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().expect("type").starts_with("text/javascript"));
    let csp = response.headers()["content-security-policy"].to_str().expect("csp").to_owned();
    assert!(csp.contains("script-src 'self';") && csp.contains("connect-src 'self';"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert!(response.text().await.expect("text").contains("EventSource"));
    assert_eq!(admin.get("/admin/runs/999").await.status, StatusCode::NOT_FOUND);
    assert_eq!(admin.get("/admin/runs/abc").await.status, StatusCode::NOT_FOUND);
    let missing = http.get(format!("{url}/admin/runs/999/events")).header("cookie", &admin.cookie);
    assert_eq!(missing.send().await.expect("events").status(), StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_now_dry_run_then_real_run_then_retry_failed() {
    let app = spawn(tuning(SEEDED, 50.0)).await;
    let admin = Admin::login(&app).await;
    let sync = admin.get("/admin/sync").await;
    assert_eq!(sync.status, StatusCode::OK);
    assert!(sync.body.contains("no run has finished yet"), "{}", sync.body);
    assert!(sync.body.contains(r#"value="since_last_run" checked"#), "the default window");
    assert!(sync.body.contains("Sync Now"));
    let empty = admin.get("/admin/runs").await;
    assert!(empty.body.contains("No run yet"), "{}", empty.body);

    // A bad number of days comes back on its field, nothing started.
    let bad = admin.submit("/admin/sync", &[("window", "last_days"), ("days", "0")]).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains(r#"id="days-error""#) && bad.body.contains("from 1 to 3650"), "{}", bad.body);
    assert!(bad.body.contains(r#"aria-invalid="true""#));
    assert!(app.runs().runs(10, None).await.expect("runs").is_empty());

    // Dry run: nothing written; the page says what would happen.
    let dry = admin.sync_now(&[("window", "all"), ("dry_run", "on")]).await;
    let dry_run = app.finish(dry, Duration::from_secs(60)).await;
    assert!(dry_run.dry_run && app.items().is_empty(), "nothing written to Xero");
    let page = admin.get(&format!("/admin/runs/{dry}")).await;
    assert!(page.body.contains(&format!("<h1>Dry run {dry}</h1>")), "{}", page.body);
    assert!(page.body.contains("started by admin (session ") && page.body.contains(") with Sync Now"), "who and how");
    assert!(page.body.contains("Would create") && page.body.contains("would create ("), "{}", page.body);
    assert!(page.body.contains("blocked ("), "refused products are 'blocked' in a dry run");
    assert!(page.body.contains(r#"id="run-estimate""#) && page.body.contains("Xero calls"), "the cost");
    assert!(!page.body.contains("Retry failed"), "a dry run is not retried");
    assert!(!page.body.contains("http-equiv=\"refresh\""), "a finished run's page does not refresh");
    assert!(!page.body.contains("data-run-events"), "nor follow events");

    // The real run: while it is active, the Sync page shows it instead of the form, and a second start is
    // refused with the reason.
    app.demo.sandbox.xero.set_latency(Duration::from_millis(300));
    let real = admin.sync_now(&[("window", "since_last_run")]).await;
    let active = admin.get("/admin/sync").await;
    assert!(active.body.contains("A sync is active") && !active.body.contains(">Sync Now<"), "{}", active.body);
    let page = admin.get(&format!("/admin/runs/{real}")).await;
    assert!(page.body.contains(r#"<meta http-equiv="refresh" content="3">"#), "refreshes without JavaScript");
    assert!(page.body.contains(&format!(r#"data-run-events="/admin/runs/{real}/events""#)), "{}", page.body);
    assert!(page.body.contains(r#"<script src="/admin/run.js" defer></script>"#));
    assert!(page.body.contains(">Cancel<"), "an active run can be cancelled");
    let refused = admin.submit("/admin/sync", &[("window", "all")]).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(refused.body.contains("The sync did not start. A sync is already running (started "), "{}", refused.body);
    app.demo.sandbox.xero.set_latency(Duration::ZERO);
    let run = app.finish(real, Duration::from_secs(60)).await;
    assert_eq!(run.state, RunState::Partial, "the seeded catalogue has refused products");
    let page = admin.get(&format!("/admin/runs/{real}")).await;
    assert!(page.body.contains(r#"<progress id="run-progress" max="100" value="100">"#), "{}", page.body);
    assert!(page.body.contains(&format!(r#"<dd id="run-created">{}</dd>"#, run.counters.created)));
    assert!(page.body.contains(&format!(r#"<dd id="run-read">{}</dd>"#, products(&app))));
    assert!(page.body.contains(r#"<dd id="run-xero_calls">"#) && page.body.contains(r#"<dd id="run-calls_left">"#));
    assert!(page.body.contains("Finished: some products were refused or failed"));
    let retryable = run.counters.failed + run.counters.refused;
    assert!(retryable > 0);
    assert!(page.body.contains(&format!("Retry failed ({retryable} products)")), "{}", page.body);

    // Filtered by outcome: the refused products with each issue on its field.
    let refused_page = admin.get(&format!("/admin/runs/{real}?outcome=refused")).await;
    let filter = ProductFilter { outcomes: vec![ProductOutcome::Refused], limit: 1000, ..ProductFilter::default() };
    let refused_products = app.runs().products(real, &filter).await.expect("products");
    for product in &refused_products {
        assert!(refused_page.body.contains(&product.product_id), "{}", product.product_id);
        let issue = product.issues.first().expect("an issue");
        assert!(refused_page.body.contains(&format!("<strong>{}</strong>", issue.field)), "{}", issue.field);
    }
    assert!(!refused_page.body.contains(r#"class="outcome-created""#), "only the refused ones");
    assert_eq!(admin.get(&format!("/admin/runs/{real}?outcome=bogus")).await.status, StatusCode::BAD_REQUEST);

    // Retry failed: a new run over exactly those products.
    let retry = admin.submit(&format!("/admin/runs/{real}/retry"), &[]).await;
    assert_eq!(retry.status, StatusCode::SEE_OTHER, "{}", retry.body);
    let retry_id: i64 = retry.location.strip_prefix("/admin/runs/").and_then(|i| i.parse().ok()).expect("run");
    let again = app.finish(retry_id, Duration::from_secs(60)).await;
    match &again.window {
        RunWindow::Products(ids) => assert_eq!(ids.len() as u64, retryable),
        other => panic!("{other:?}"),
    }
    assert_eq!(again.counters.read, retryable);
    assert_eq!(again.counters.created + again.counters.updated, 0, "still refused: nothing written");

    // The list: every run, newest first, with its trigger, window and state.
    let list = admin.get("/admin/runs").await;
    let position = |id: i64| list.body.find(&format!(r#"href="/admin/runs/{id}""#)).expect("listed");
    assert!(position(retry_id) < position(real) && position(real) < position(dry), "newest first");
    assert!(list.body.contains("1 chosen product") || list.body.contains(&format!("{retryable} chosen products")));
    assert!(list.body.contains("admin (Sync Now)") && list.body.contains("dry run"));
    // The dashboard names the last run and the schedule; the log shows a run's rows.
    let dashboard = admin.get("/admin").await;
    let summary = format!(r#"Last bulk run: <a href="/admin/runs/{retry_id}">run {retry_id}</a>"#);
    assert!(dashboard.body.contains(&summary), "{}", dashboard.body);
    assert!(dashboard.body.contains("Next scheduled run: none"));
    let log = admin.get(&format!("/admin/log?bulk_run={real}")).await;
    assert_eq!(log.status, StatusCode::OK);
    let logged = log.body.matches("<tr>").count();
    assert!(logged > 1, "the run's rows: {}", log.body);
    assert_eq!(admin.get("/admin/log?bulk_run=x").await.status, StatusCode::BAD_REQUEST);
    let page = admin.get(&format!("/admin/runs/{real}?outcome=created")).await;
    assert!(page.body.contains("Open in Xero") && page.body.contains("CRM record"), "record links");
    // After it, the Sync page names the last run's time.
    let sync = admin.get("/admin/sync").await;
    assert!(sync.body.contains("products changed since "), "{}", sync.body);
}

/// Reads a run's server-sent events until the stream ends; returns each `snapshot`'s JSON.
async fn read_events(admin: &Admin, id: i64, limit: Duration) -> Vec<serde_json::Value> {
    let response = admin
        .http
        .get(format!("{}/admin/runs/{id}/events", admin.url))
        .header("cookie", &admin.cookie)
        .send()
        .await
        .expect("events");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().expect("type").starts_with("text/event-stream"));
    let mut response = response;
    let mut text = String::new();
    let deadline = Instant::now() + limit;
    while let Ok(Some(chunk)) =
        tokio::time::timeout_at(deadline.into(), response.chunk()).await.map(|c| c.expect("chunk"))
    {
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(Instant::now() < deadline, "the stream ended with the run");
    text.split("\n\n")
        .filter(|block| block.lines().any(|l| l == "event: snapshot"))
        .map(|block| {
            let data = block.lines().find_map(|l| l.strip_prefix("data: ")).expect("data");
            serde_json::from_str(data).expect("json")
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_events_follow_a_run_to_its_end() {
    let app = spawn(tuning(600, 50.0)).await;
    let admin = Admin::login(&app).await;
    let id = admin.sync_now(&[("window", "all")]).await;
    let snapshots = read_events(&admin, id, Duration::from_secs(60)).await;
    assert!(snapshots.len() >= 2, "{snapshots:?}");
    let last = snapshots.last().expect("last");
    assert_eq!(last["active"], false);
    assert_eq!(last["percent"], 100);
    assert_eq!(last["text"]["read"], products(&app).to_string());
    let percents: Vec<u64> = snapshots.iter().filter_map(|s| s["percent"].as_u64()).collect();
    assert!(percents.windows(2).all(|w| w[0] <= w[1]), "the bar only moves forward: {percents:?}");
    // A finished run's events: its last snapshot, then the end.
    let again = read_events(&admin, id, Duration::from_secs(5)).await;
    assert_eq!(again.len(), 1);
}

/// Cancel while running, then Resume: it finishes from where it stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_and_resume_from_the_run_page() {
    let app = spawn(tuning(600, 50.0)).await;
    let admin = Admin::login(&app).await;
    app.demo.sandbox.xero.set_latency(Duration::from_millis(200));
    let id = admin.sync_now(&[("window", "all")]).await;
    wait_for(&app, id, |r| r.state == RunState::Running).await;
    let cancel = admin.submit(&format!("/admin/runs/{id}/cancel"), &[]).await;
    assert_eq!(
        (cancel.status, cancel.location.as_str()),
        (StatusCode::SEE_OTHER, format!("/admin/runs/{id}").as_str())
    );
    let cancelled = app.finish(id, Duration::from_secs(30)).await;
    assert_eq!(cancelled.state, RunState::Cancelled);
    let page = admin.get(&format!("/admin/runs/{id}")).await;
    assert!(page.body.contains("Cancelled ("), "{}", page.body);
    assert!(page.body.contains("Cancel requested by admin (session "), "the run's log: {}", page.body);
    assert!(cancelled.counters.read < 600, "stopped early: {:?}", cancelled.counters);
    assert!(page.body.contains(">Resume<") && !page.body.contains(">Cancel<"), "{}", page.body);
    app.demo.sandbox.xero.set_latency(Duration::ZERO);
    let resume = admin.submit(&format!("/admin/runs/{id}/resume"), &[]).await;
    assert_eq!(resume.status, StatusCode::SEE_OTHER, "{}", resume.body);
    let resumed = app.finish(id, Duration::from_secs(60)).await;
    assert!(matches!(resumed.state, RunState::Partial | RunState::Succeeded), "{resumed:?}");
    let page = admin.get(&format!("/admin/runs/{id}")).await;
    assert!(page.body.contains("Resumed by admin (session "), "the run's log: {}", page.body);
    // Resuming a finished run changes nothing.
    let twice = admin.submit(&format!("/admin/runs/{id}/resume"), &[]).await;
    assert_eq!(twice.status, StatusCode::SEE_OTHER);
    assert_eq!(app.runs().run(id).await.expect("store").expect("run").state, resumed.state);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schedule_is_set_from_the_sync_page_with_its_next_run() {
    let app = spawn(tuning(SEEDED, 1.0)).await;
    let admin = Admin::login(&app).await;
    let page = admin.get("/admin/sync").await;
    assert!(page.body.contains("Off: products sync only when"), "{}", page.body);
    let bad = admin.submit("/admin/sync/schedule", &[("every_hours", "3")]).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("The schedule was not changed: choose off or every 1, 2, 4, 6, 12, 24 hours."));
    let on = admin.submit("/admin/sync/schedule", &[("every_hours", "6")]).await;
    assert_eq!((on.status, on.location.as_str()), (StatusCode::SEE_OTHER, "/admin/sync#schedule-h"));
    let view = app.runs().schedule().await.expect("schedule");
    let schedule = view.schedule.as_ref().expect("set");
    assert!(schedule.enabled && schedule.every_hours == 6);
    assert!(schedule.updated_by.starts_with("admin (session "), "{}", schedule.updated_by);
    let next = view.next_run_at.expect("next run").format("%Y-%m-%d %H:%M UTC").to_string();
    let page = admin.get("/admin/sync").await;
    assert!(page.body.contains("On: every 6 hours"), "{}", page.body);
    assert!(page.body.contains(&format!(r#"<strong id="schedule-next">{next}</strong>"#)), "{}", page.body);
    assert!(page.body.contains(r#"<option value="6" selected>"#));
    let dashboard = admin.get("/admin").await;
    assert!(dashboard.body.contains(&format!("Next scheduled run: <strong>{next}</strong>")), "{}", dashboard.body);
    let off = admin.submit("/admin/sync/schedule", &[("every_hours", "off")]).await;
    assert_eq!(off.status, StatusCode::SEE_OTHER);
    assert!(!app.runs().schedule().await.expect("schedule").schedule.expect("row").enabled);
    assert!(admin.get("/admin/sync").await.body.contains("Off: products sync only when"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_reserve_is_a_setting_checked_audited_and_used_by_the_runs() {
    let app = spawn(tuning(SEEDED, 50.0)).await;
    let admin = Admin::login(&app).await;
    let page = admin.get("/admin/settings").await;
    assert!(
        page.body.contains(r#"name="daily_reserve_percent" min="0" max="90" value="" placeholder="10""#),
        "{}",
        page.body
    );
    for bad in ["95", "-1", "ten", "2.5"] {
        let refused = admin.submit("/admin/settings/runs", &[("daily_reserve_percent", bad)]).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert!(refused.body.contains(r#"id="daily_reserve_percent-error""#), "{bad}");
        assert!(refused.body.contains("Give a whole percent from 0 to 90"), "{bad}");
        assert!(refused.body.contains(&format!(r#"value="{bad}""#)), "what was typed is kept");
    }
    assert!(page.body.contains("No setting has been changed yet."));
    let saved = admin.submit("/admin/settings/runs", &[("daily_reserve_percent", "25")]).await;
    assert_eq!((saved.status, saved.location.as_str()), (StatusCode::SEE_OTHER, "/admin/settings?saved=1"));
    let page = admin.get("/admin/settings").await;
    assert!(page.body.contains(r#"value="25""#));
    let audit = &page.body[page.body.find(r#"class="audit""#).expect("audit trail")..];
    assert!(audit.contains("Xero daily calls kept for the button (%)") && audit.contains("25 %"), "{audit}");
    assert!(audit.contains("admin (session "), "who: {audit}");

    // The runs keep the new share: 25 % of the organisation's 1,000 calls.
    let id = admin.sync_now(&[("window", "all"), ("dry_run", "on")]).await;
    app.finish(id, Duration::from_secs(60)).await;
    let snapshot = app.runs().snapshot(id).await.expect("store").expect("run");
    assert_eq!(snapshot.xero_reserve, 250);
    let estimate = snapshot.run.estimate.expect("estimate");
    assert_eq!(estimate["xero_reserve"], 250, "{estimate}");
    // Emptied: back to the service's default.
    let saved = admin.submit("/admin/settings/runs", &[("daily_reserve_percent", " ")]).await;
    assert_eq!(saved.location, "/admin/settings?saved=1");
    assert_eq!(app.runs().snapshot(id).await.expect("store").expect("run").xero_reserve, 100);
    assert!(admin.get("/admin/settings").await.body.contains("(the service's default)"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_run_says_until_when_and_why() {
    // 20 Xero calls a day, a day of 86 s: the run pauses at the button's reserve.
    let mut tuning = tuning(1000, 1000.0);
    tuning.sandbox.xero.limits.per_day = 20;
    let app = spawn(tuning).await;
    let admin = Admin::login(&app).await;
    let id = admin.sync_now(&[("window", "all")]).await;
    let paused = wait_for(&app, id, |r| r.state == RunState::Paused).await;
    let until = paused.resume_at.expect("resume time").format("%Y-%m-%d %H:%M UTC").to_string();
    let page = admin.get(&format!("/admin/runs/{id}")).await;
    let status = format!(r#"<p id="run-status" role="status" aria-live="polite">Paused until {until} because "#);
    assert!(page.body.contains(&status), "{}", page.body);
    assert!(page.body.contains("reserve kept for the button"), "the reason");
    assert!(page.body.contains(r#"<dd id="run-calls_left">"#) && page.body.contains("(keeping 2 for the button)"));
    assert!(page.body.contains(">Cancel<") && page.body.contains(">Resume<"), "both, while paused");
    assert!(page.body.contains(r#"<meta http-equiv="refresh""#), "still active");
    let sync = admin.get("/admin/sync").await;
    assert!(sync.body.contains("A sync is active") && sync.body.contains("badge paused"), "{}", sync.body);
    // Cancelled while paused: at once.
    let cancel = admin.submit(&format!("/admin/runs/{id}/cancel"), &[]).await;
    assert_eq!(cancel.status, StatusCode::SEE_OTHER);
    assert_eq!(app.runs().run(id).await.expect("store").expect("run").state, RunState::Cancelled);
}
