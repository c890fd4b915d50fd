//! Bulk and scheduled runs end to end: the service (as the demo, simulators in-process, a SQLite file)
//! runs them in its worker against thousands of generated products, on fast simulated clocks. The
//! generated catalogue says what each product should become (`sandbox::zoho::ProductKind`), written apart
//! from the client's rules; the seeded products' fates are listed below.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use backend::retry::RetryPolicy;
use backend::runs::{
    ProductFilter, ProductOutcome, Run, RunRequest, RunState, RunTrigger, RunTuning, RunWindow, StartError,
};
use backend::xero::{LimiterConfig, XeroClientConfig};
use demo::{Demo, Tuning};
use sandbox::SandboxConfig;
use sandbox::xero::{Fault, FaultTarget, ItemEdit, RateProblem};
use sandbox::zoho::{ProductKind, products};
use serde_json::Value;

use crate::support::{TempDir, start_in};

/// Products in the seeded catalogue, on top of which the generated ones come.
pub const SEEDED: usize = 21;

/// What should become of a product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    Item,
    /// Refused with an issue on this field.
    Refused(String),
    NotForXero,
    /// Its code equals the twin's but for case: one of the two gets the item, the other is refused.
    Clash(String),
}

pub struct Bulk {
    pub demo: Demo,
    /// Holds the database file until the test ends.
    pub _dir: TempDir,
}

/// A fast clock for everything: `scale` simulated seconds per real second.
pub fn tuning(products: usize, scale: f64) -> Tuning {
    let mut sandbox = SandboxConfig { time_scale: scale, ..SandboxConfig::default() };
    sandbox.zoho.generated_products = products.saturating_sub(SEEDED);
    let minute = Duration::from_secs(60).div_f64(scale);
    Tuning {
        sandbox,
        xero: XeroClientConfig {
            limiter: LimiterConfig {
                window: minute,
                day: Duration::from_secs(86_400).div_f64(scale),
                ..LimiterConfig::default()
            },
            retry: RetryPolicy {
                max_attempts: 4,
                min_delay: Duration::from_millis(20),
                max_delay: Duration::from_millis(200),
            },
            ..XeroClientConfig::default()
        },
        runs: RunTuning {
            poll: Duration::from_millis(50),
            schedule_hour: Duration::from_secs(3600).div_f64(scale),
            error_backoff: Duration::from_millis(200),
            zoho_credit_wait: Duration::from_secs(3600).div_f64(scale),
            lease: Some(Duration::from_secs(3)),
            ..RunTuning::default()
        },
        ..Tuning::default()
    }
}

pub async fn spawn(tuning: Tuning) -> Bulk {
    let dir = TempDir::new("bulk");
    let demo = start_in(&dir, |_| None, tuning).await;
    Bulk { demo, _dir: dir }
}

impl Bulk {
    pub fn runs(&self) -> &backend::runs::Runs {
        self.demo.server.runs()
    }

    pub fn tenant(&self) -> String {
        self.demo.sandbox.xero.tenant_id(sandbox::xero::AU_ORG).expect("AU org")
    }

    pub fn items(&self) -> Vec<sandbox::xero::Item> {
        self.demo.sandbox.xero.items(&self.tenant())
    }

    pub async fn start(&self, window: RunWindow, dry_run: bool) -> Run {
        let request = RunRequest { trigger: RunTrigger::Admin, actor: "admin".into(), window, dry_run };
        self.runs().start(request).await.expect("run starts")
    }

    /// Waits for the run to end (within `limit`), returns it as it ended.
    pub async fn finish(&self, id: i64, limit: Duration) -> Run {
        let mut watch = self.runs().watch(id);
        let deadline = Instant::now() + limit;
        let mut last = None;
        while let Ok(Ok(Some(snapshot))) = tokio::time::timeout_at(deadline.into(), watch.next()).await {
            last = Some(snapshot.run);
        }
        let run = self.runs().run(id).await.expect("store").expect("run");
        assert!(!run.state.is_active(), "run {id} still {:?} after {limit:?}: {last:?}", run.state);
        run
    }

    pub async fn run_to_end(&self, window: RunWindow) -> Run {
        let run = self.start(window, false).await;
        self.finish(run.id, Duration::from_secs(120)).await
    }

    pub async fn outcomes(&self, id: i64) -> HashMap<String, backend::runs::RunProduct> {
        let filter = ProductFilter { limit: 100_000, ..ProductFilter::default() };
        let products = self.runs().products(id, &filter).await.expect("products");
        products.into_iter().map(|p| (p.product_id.clone(), p)).collect()
    }

    pub fn expectations(&self) -> HashMap<String, Expect> {
        expectations(&self.demo.sandbox)
    }

    pub async fn assert_catalogue_synced(&self) -> usize {
        assert_catalogue_synced(&self.demo.sandbox, self.demo.server.store()).await
    }

    pub async fn assert_outcomes(&self, run: &Run) {
        assert_outcomes(self.runs(), &self.demo.sandbox, run).await
    }

    pub fn xero_calls(&self, method: &str, path_end: &str) -> usize {
        self.demo.sandbox.xero.calls().iter().filter(|c| c.method == method && c.path.ends_with(path_end)).count()
    }

    pub fn zoho_calls(&self, method: &str) -> usize {
        self.demo.sandbox.zoho.calls().iter().filter(|c| c.method == method && c.path.starts_with("/crm/")).count()
    }
}

/// What should become of every product of the catalogue, by id.
pub fn expectations(sandbox: &sandbox::Sandbox) -> HashMap<String, Expect> {
    let zoho = &sandbox.zoho;
    let fields = zoho.config().fields.clone();
    let mut expect: HashMap<String, Expect> = HashMap::new();
    for product in zoho.generated() {
        let fate = match &product.kind {
            ProductKind::Valid | ProductKind::Warned(_) => Expect::Item,
            ProductKind::Broken(flaw) => Expect::Refused(flaw.field(&fields).to_owned()),
            ProductKind::NotForXero => Expect::NotForXero,
            ProductKind::CaseClash { twin } => Expect::Clash(twin.clone()),
        };
        expect.insert(product.id.clone(), fate);
    }
    use products::*;
    let refused = |field: &str| Expect::Refused(field.to_owned());
    for (id, fate) in [
        (WIRELESS_MOUSE, Expect::Clash(WIRELESS_MOUSE_LOWERCASE.into())),
        (WIRELESS_MOUSE_LOWERCASE, Expect::Clash(WIRELESS_MOUSE.into())),
        (MECHANICAL_KEYBOARD, Expect::Item),
        (USB_C_HUB, Expect::Item),
        (MONITOR_ARM, Expect::Item),
        (SLASH_CODE, Expect::Item),
        (INACTIVE, Expect::Item),
        (NOT_FOR_XERO, Expect::NotForXero),
        (NO_CODE, refused("Product_Code")),
        (LONG_CODE, refused("Product_Code")),
        (LONG_NAME, refused("Product_Name")),
        (NOT_TAXABLE, refused("Taxable")),
        (NO_TAX, refused("Tax")),
        (NO_GL_ACCOUNT, refused(&fields.gl_account)),
        (UNKNOWN_GL_ACCOUNT, refused(&fields.gl_account)),
        (UNKNOWN_TAX_RATE, refused(&fields.tax_rate)),
        (NEGATIVE_PRICE, refused("Unit_Price")),
        (FIVE_DECIMAL_PRICE, refused("Unit_Price")),
        (NO_CODE_NO_GL_ACCOUNT, refused("Product_Code")),
        // A warning only (a "GST Free" CRM tax with a 10 % rate): synced.
        (GST_FREE_AT_TEN_PERCENT, Expect::Item),
        // No account and no rate, and the organisation has no defaults set.
        (NO_XERO_FIELDS, refused(&fields.gl_account)),
    ] {
        expect.insert(id.to_owned(), fate);
    }
    assert_eq!(expect.len(), zoho.products().len(), "every product has a fate");
    expect
}

/// Every product that should have an item has exactly one, with its fields, its link and its write-back;
/// nothing else is in Xero; clashing pairs have one item between them. Returns how many items there are.
pub async fn assert_catalogue_synced(sandbox: &sandbox::Sandbox, store: &backend::store::Store) -> usize {
    let expect = expectations(sandbox);
    let zoho = &sandbox.zoho;
    let fields = zoho.config().fields.clone();
    let tenant = sandbox.xero.tenant_id(sandbox::xero::AU_ORG).expect("AU org");
    let items = sandbox.xero.items(&tenant);
    let mut by_code: HashMap<String, Vec<&sandbox::xero::Item>> = HashMap::new();
    for item in &items {
        by_code.entry(item.code.to_lowercase()).or_default().push(item);
    }
    let duplicates: Vec<_> = by_code.iter().filter(|(_, v)| v.len() > 1).map(|(k, _)| k.clone()).collect();
    assert!(duplicates.is_empty(), "duplicate items in Xero: {duplicates:?}");
    let mut expected_items = 0;
    for (id, fate) in &expect {
        let record = zoho.product(id).expect("product");
        let code = record["Product_Code"].as_str().unwrap_or_default().to_lowercase();
        let link = store.item_link(id, &tenant).await.expect("store");
        match fate {
            Expect::Item => {
                expected_items += 1;
                let item = by_code.get(&code).and_then(|v| v.first()).unwrap_or_else(|| panic!("no item for {id}"));
                assert_eq!(item.name.as_deref(), record["Product_Name"].as_str(), "{id}");
                let price = record["Unit_Price"].as_f64().expect("price");
                assert!((item.sales.unit_price.expect("price") - price).abs() < 1e-9, "{id}: price");
                assert_eq!(item.sales.tax_type.as_deref(), Some("OUTPUT"), "{id}");
                let account = item.sales.account_code.as_deref().expect("account");
                assert!(account == "200" || account == "260", "{id}: account {account}");
                let link = link.unwrap_or_else(|| panic!("no link for {id}"));
                assert_eq!(link.item_id, item.item_id, "{id}: link");
                assert_eq!(record[&fields.item_id].as_str(), Some(item.item_id.as_str()), "{id}: write-back");
                assert!(record[&fields.last_synced].as_str().is_some(), "{id}: write-back time");
            }
            Expect::Clash(twin) => {
                if id < twin {
                    expected_items += 1;
                    let twin_link = store.item_link(twin, &tenant).await.expect("store");
                    assert!(link.is_some() != twin_link.is_some(), "exactly one of {id} and {twin} is linked");
                    assert!(by_code.contains_key(&code), "{id}/{twin}: one item");
                }
            }
            Expect::Refused(_) | Expect::NotForXero => {
                assert!(link.is_none(), "{id} should have no item");
                if !code.is_empty() && by_code.contains_key(&code) {
                    // Another product of the same code may own it (none in these catalogues).
                    panic!("{id} ({code}) has an item");
                }
            }
        }
    }
    assert_eq!(items.len(), expected_items, "no other items in Xero");
    expected_items
}

/// The run's outcomes agree with the oracle, the counters add up, and every refusal names its field.
pub async fn assert_outcomes(runs: &backend::runs::Runs, sandbox: &sandbox::Sandbox, run: &Run) {
    let expect = expectations(sandbox);
    let filter = ProductFilter { limit: 100_000, ..ProductFilter::default() };
    let outcomes: HashMap<String, backend::runs::RunProduct> = runs
        .products(run.id, &filter)
        .await
        .expect("products")
        .into_iter()
        .map(|p| (p.product_id.clone(), p))
        .collect();
    assert_eq!(outcomes.len(), expect.len(), "every product read once");
    for (id, fate) in &expect {
        let product = outcomes.get(id).unwrap_or_else(|| panic!("{id} not in the run"));
        match fate {
            Expect::Item => {
                assert!(
                    matches!(product.outcome, ProductOutcome::Created | ProductOutcome::Updated),
                    "{id}: {product:?}"
                );
                assert!(run.dry_run || product.item_id.is_some(), "{id}: its item");
            }
            Expect::NotForXero => assert_eq!(product.outcome, ProductOutcome::NotForXero, "{id}"),
            Expect::Refused(field) => {
                assert_eq!(product.outcome, ProductOutcome::Refused, "{id}");
                assert!(product.issues.iter().any(|i| &i.field == field && i.is_error()), "{id}: {product:?}");
            }
            Expect::Clash(twin) => {
                let other = &outcomes[twin];
                let pair = [product.outcome, other.outcome];
                assert!(pair.contains(&ProductOutcome::Refused), "{id}/{twin}: {pair:?}");
                assert!(
                    pair.contains(&ProductOutcome::Created) || pair.contains(&ProductOutcome::Updated),
                    "{id}/{twin}: {pair:?}"
                );
                if product.outcome == ProductOutcome::Refused {
                    assert!(product.issues.iter().any(|i| i.code == shared::IssueCode::CodeInUse), "{product:?}");
                }
            }
        }
    }
    let c = run.counters;
    assert_eq!(c.read, expect.len() as u64);
    assert_eq!(c.read, c.not_for_xero + c.unchanged + c.refused + c.created + c.updated + c.failed, "{c:?}");
}

fn count(expect: &HashMap<String, Expect>, want: impl Fn(&Expect) -> bool) -> usize {
    expect.values().filter(|e| want(e)).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_run_creates_one_item_per_valid_product_then_incremental_runs_send_only_changes() {
    let app = spawn(tuning(2000, 100.0)).await;
    let expect = app.expectations();
    let valid = count(&expect, |e| *e == Expect::Item) + count(&expect, |e| matches!(e, Expect::Clash(_))) / 2;

    let run = app.run_to_end(RunWindow::All).await;
    assert_eq!(run.state, RunState::Partial, "{run:?}");
    assert!(run.message.as_deref().is_some_and(|m| m.contains("refused by the rules")), "{:?}", run.message);
    assert_eq!(app.assert_catalogue_synced().await, valid);
    app.assert_outcomes(&run).await;
    let c = run.counters;
    assert_eq!(c.created, valid as u64, "{c:?}");
    assert_eq!(c.not_for_xero, count(&expect, |e| *e == Expect::NotForXero) as u64);
    let writes = app.xero_calls("POST", "/Items");
    assert_eq!(writes, valid.div_ceil(50), "batches of 50: {writes} calls for {valid} items");
    assert_eq!(c.xero_calls, (writes + 3) as u64, "the writes and the three list reads");
    assert!(app.zoho_calls("PUT") <= (valid + c.refused as usize).div_ceil(100) + 1, "write-backs of up to 100");
    // Each product sync is in the combined log, with the run.
    let log = app.demo.server.store().recent_log(10_000).await.expect("log");
    assert_eq!(log.iter().filter(|e| e.bulk_run_id == Some(run.id)).count() as u64, c.created + c.refused);
    assert!(log.iter().all(|e| e.trigger == backend::store::SyncTrigger::Bulk));
    // Named as read from the CRM, with Xero's answer for its element; nothing for a product never sent.
    use backend::store::{LogCursor, LogFilter, SyncOutcome};
    let of_run = |outcome| log.iter().find(|e| e.bulk_run_id == Some(run.id) && e.outcome == outcome);
    let created = of_run(SyncOutcome::Created).expect("a created row");
    assert!(created.product_name.is_some() && created.product_code.is_some(), "{created:?}");
    assert_eq!(created.response.as_ref().and_then(|r| r["StatusAttributeString"].as_str()), Some("OK"));
    let refused = of_run(SyncOutcome::Refused).expect("a refused row");
    assert_eq!((refused.request.as_ref(), refused.response.as_ref()), (None, None), "{refused:?}");
    // The admin's log filtered to the run: its rows, and only them.
    let filter = LogFilter { bulk_run: Some(run.id), outcomes: vec![SyncOutcome::Refused], ..LogFilter::default() };
    let page = app.demo.server.store().log_page(&filter, LogCursor::Newest, 10_000).await.expect("page");
    assert_eq!(page.entries.len() as u64, c.refused);

    // Nothing changed: no Xero write, and Zoho is only read.
    app.demo.sandbox.xero.clear_calls();
    app.demo.sandbox.zoho.clear_calls();
    let again = app.run_to_end(RunWindow::SinceLastRun).await;
    assert_eq!(app.xero_calls("POST", "/Items"), 0, "{again:?}");
    assert_eq!(app.zoho_calls("PUT"), 0, "no write-back");
    assert_eq!(app.zoho_calls("GET"), again.counters.zoho_calls as usize, "only the window's pages");
    assert_eq!((again.counters.created, again.counters.updated, again.counters.failed), (0, 0, 0));
    assert!(again.counters.unchanged >= valid as u64, "our own write-backs read back: {:?}", again.counters);

    // Ten valid products edited in the CRM (a new price): exactly those are updated.
    let mut valid_ids: Vec<&String> = expect.iter().filter(|(_, e)| **e == Expect::Item).map(|(id, _)| id).collect();
    valid_ids.sort();
    let mut edited = HashSet::new();
    for id in valid_ids.into_iter().step_by(37).take(10) {
        let price = app.demo.sandbox.zoho.product(id).and_then(|r| r["Unit_Price"].as_f64()).expect("price");
        let raised = ((price + 1.0) * 100.0).round() / 100.0;
        app.demo.sandbox.zoho.edit_product(id, serde_json::json!({"Unit_Price": raised})).expect("edit");
        edited.insert(id.clone());
    }
    assert_eq!(edited.len(), 10);
    app.demo.sandbox.xero.clear_calls();
    let third = app.run_to_end(RunWindow::SinceLastRun).await;
    let outcomes = app.outcomes(third.id).await;
    let updated: HashSet<String> =
        outcomes.values().filter(|p| p.outcome == ProductOutcome::Updated).map(|p| p.product_id.clone()).collect();
    assert_eq!(updated, edited, "{:?}", third.counters);
    assert_eq!(app.xero_calls("POST", "/Items"), 1);
    for id in &edited {
        let record = app.demo.sandbox.zoho.product(id).expect("product");
        let item = app.items().into_iter().find(|i| Some(i.item_id.as_str()) == record["Xero_Item_ID"].as_str());
        let price = record["Unit_Price"].as_f64();
        assert_eq!(item.and_then(|i| i.sales.unit_price), price, "{id}: the new price is in Xero");
    }
    assert_eq!(app.assert_catalogue_synced().await, valid, "still one item each");
}

/// The button's preview of a product, as the widget asks for it (an API-key session for the record).
async fn preview(app: &Bulk, record_id: &str) -> Value {
    use secrecy::ExposeSecret;
    let http = reqwest::Client::new();
    let url = &app.demo.server.url;
    let session: Value = http
        .post(format!("{url}/api/session"))
        .header("x-api-key", app.demo.api_key.expose_secret())
        .json(&serde_json::json!({"record_id": record_id, "user": "Olivia Nguyen"}))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .expect("session")
        .json()
        .await
        .expect("json");
    let token = session["token"].as_str().expect("token");
    let response = http.get(format!("{url}/api/products/{record_id}/preview")).bearer_auth(token).send().await;
    response.and_then(reqwest::Response::error_for_status).expect("preview").json().await.expect("json")
}

/// Issue 15 in bulk: an item someone changed in Xero since our last sync is kept (a run never overwrites it
/// unattended; the button lets a user choose), and a run's own writes keep the item's state with its link
/// as the button's do, so the button sees no edit that was ours.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_changed_in_xero_is_kept_and_a_runs_own_writes_are_no_edit_to_the_button() {
    let app = spawn(tuning(100, 100.0)).await;
    app.run_to_end(RunWindow::All).await;
    let expect = app.expectations();
    let mut valid: Vec<&String> = expect.iter().filter(|(_, e)| **e == Expect::Item).map(|(id, _)| id).collect();
    valid.sort();
    let (changed_in_xero, crm_only) = (valid[0].clone(), valid[1].clone());
    let (zoho, xero) = (&app.demo.sandbox.zoho, &app.demo.sandbox.xero);
    let item_of = |id: &str| zoho.product(id).and_then(|r| r["Xero_Item_ID"].as_str().map(str::to_owned)).expect("id");
    let in_xero = ItemEdit { unit_price: Some(999.5), ..ItemEdit::default() };
    xero.edit_item(&app.tenant(), &item_of(&changed_in_xero), in_xero).expect("edited in Xero's web app");
    for id in [&changed_in_xero, &crm_only] {
        let price = zoho.product(id).and_then(|r| r["Unit_Price"].as_f64()).expect("price");
        zoho.edit_product(id, serde_json::json!({"Unit_Price": price + 1.0})).expect("edited in the CRM");
    }
    xero.clear_calls();

    let run = app.run_to_end(RunWindow::SinceLastRun).await;
    let outcomes = app.outcomes(run.id).await;
    let kept = &outcomes[&changed_in_xero];
    assert_eq!(kept.outcome, ProductOutcome::Kept, "{kept:?}");
    assert!(kept.message.as_deref().is_some_and(|m| m.contains("Unit Price")), "{kept:?}");
    assert_eq!(outcomes[&crm_only].outcome, ProductOutcome::Updated);
    assert_eq!((run.counters.kept, run.counters.updated), (1, 1), "{:?}", run.counters);
    assert_eq!(app.xero_calls("POST", "/Items"), 1, "one batch, with the CRM-only change alone");
    let item = app.items().into_iter().find(|i| i.item_id == item_of(&changed_in_xero)).expect("item");
    assert_eq!(item.sales.unit_price, Some(999.5), "Xero's change is kept");
    let status = zoho.product(&changed_in_xero).and_then(|r| r["Xero_Sync_Status"].as_str().map(str::to_owned));
    assert!(status.as_deref().is_some_and(|s| s.contains("changed in Xero: Unit Price")), "{status:?}");
    let log = app.demo.server.store().recent_log(1_000).await.expect("log");
    let row = log.iter().find(|e| e.bulk_run_id == Some(run.id) && e.product_id == changed_in_xero).expect("logged");
    assert!(row.messages.iter().any(|m| m.contains("Xero's values were kept")), "{row:?}");

    // The run's own update is not an edit made in Xero: the button plans nothing for it.
    let plan = &preview(&app, &crm_only).await["plan"];
    assert_eq!(plan["outcome"], "unchanged", "{plan}");
    assert!(plan["xero_edits"].as_array().is_none_or(Vec::is_empty), "{plan}");
    // The one changed in Xero: the button shows the change, for a user to keep or overwrite.
    let plan = &preview(&app, &changed_in_xero).await["plan"];
    assert_eq!(plan["xero_edits"].as_array().map(Vec::len), Some(1), "{plan}");
    assert_eq!(plan["xero_edits"][0]["xero_value"], "999.50", "{plan}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_writes_nothing_and_says_what_would_happen_and_its_cost() {
    let app = spawn(tuning(300, 100.0)).await;
    let expect = app.expectations();
    let valid = count(&expect, |e| *e == Expect::Item) + count(&expect, |e| matches!(e, Expect::Clash(_))) / 2;
    let run = app.start(RunWindow::All, true).await;
    let run = app.finish(run.id, Duration::from_secs(60)).await;
    assert!(app.items().is_empty(), "nothing written to Xero");
    assert_eq!(app.zoho_calls("PUT"), 0, "nothing written to the CRM");
    assert_eq!(run.counters.created, valid as u64, "would create");
    app.assert_outcomes(&run).await;
    let estimate = run.estimate.expect("estimate");
    assert_eq!(estimate["xero_writes"], Value::from(valid.div_ceil(50)), "{estimate}");
    assert_eq!(estimate["xero_calls"], Value::from(valid.div_ceil(50) + 3));
    assert!(estimate["summary"].as_str().is_some_and(|s| s.contains("minute")), "{estimate}");
    let products = app.outcomes(run.id).await;
    let created = products.values().find(|p| p.outcome == ProductOutcome::Created).expect("one");
    assert!(created.request.as_ref().is_some_and(|r| r["Code"].is_string()), "the payload it would send");
    assert!(app.demo.server.store().sync_cursor(&app.tenant()).await.expect("cursor").is_none(), "no cursor moved");
    // The real run afterwards does what the dry run said.
    let real = app.run_to_end(RunWindow::All).await;
    assert_eq!(real.counters.created, run.counters.created);
    assert_eq!(app.xero_calls("POST", "/Items"), valid.div_ceil(50));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_active_run_per_organisation_and_cancel_resume_force_release() {
    let app = spawn(tuning(1200, 100.0)).await;
    // Slow Xero down so the run is still going when the second start comes.
    app.demo.sandbox.xero.set_latency(Duration::from_millis(200));
    let first = app.start(RunWindow::All, false).await;
    let refused = app
        .runs()
        .start(RunRequest { trigger: RunTrigger::Cli, actor: "cron".into(), window: RunWindow::All, dry_run: false })
        .await;
    match refused {
        Err(StartError::Active(active)) => assert_eq!(active.id, first.id),
        other => panic!("expected a refusal, got {other:?}"),
    }
    let message = refused_message(&app).await;
    assert!(message.starts_with("a sync is already running (started "), "{message}");
    assert!(message.contains("by admin"), "{message}");

    // Cancel while running: it stops after the batches in flight; resume finishes it.
    wait_for(&app, first.id, |r| r.counters.read > 0).await;
    app.runs().cancel(first.id, "admin").await.expect("cancel");
    let cancelled = app.finish(first.id, Duration::from_secs(30)).await;
    assert_eq!(cancelled.state, RunState::Cancelled, "{cancelled:?}");
    let done_before = cancelled.counters.read;
    assert!(done_before < 1200, "stopped early: {done_before}");
    app.demo.sandbox.xero.set_latency(Duration::ZERO);
    app.runs().resume(first.id, "admin").await.expect("resume");
    let resumed = app.finish(first.id, Duration::from_secs(60)).await;
    assert_eq!(resumed.state, RunState::Partial);
    app.assert_outcomes(&resumed).await;
    app.assert_catalogue_synced().await;
    let events = app.runs().events(first.id).await.expect("events");
    assert!(events.iter().any(|e| e.message.starts_with("Resumed from its checkpoint")), "{events:?}");

    // Force release: the run is queued again with a new fence; the worker takes it up and finishes it.
    app.demo.sandbox.xero.set_latency(Duration::from_millis(150));
    let second = app.start(RunWindow::All, false).await;
    let running = wait_for(&app, second.id, |r| r.state == RunState::Running).await;
    let released = app.runs().force_release(second.id, "admin").await.expect("release").expect("run");
    assert!(released.fence > running.fence, "the fence moved on");
    app.demo.sandbox.xero.set_latency(Duration::ZERO);
    let done = app.finish(second.id, Duration::from_secs(60)).await;
    assert!(matches!(done.state, RunState::Partial | RunState::Succeeded), "{done:?}");
    app.assert_catalogue_synced().await;
}

async fn refused_message(app: &Bulk) -> String {
    let request = RunRequest { trigger: RunTrigger::Cli, actor: "cron".into(), window: RunWindow::All, dry_run: false };
    match app.runs().start(request).await {
        Err(error) => error.to_string(),
        Ok(run) => panic!("started {run:?}"),
    }
}

/// Polls the run until `ready` holds (10 s at most).
pub async fn wait_for(app: &Bulk, id: i64, ready: impl Fn(&Run) -> bool) -> Run {
    wait_within(app, id, Duration::from_secs(10), ready).await
}

pub async fn wait_within(app: &Bulk, id: i64, limit: Duration, ready: impl Fn(&Run) -> bool) -> Run {
    let deadline = Instant::now() + limit;
    loop {
        let run = app.runs().run(id).await.expect("store").expect("run");
        if ready(&run) {
            return run;
        }
        assert!(Instant::now() < deadline, "run never got there: {run:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_and_forced_429s_lose_and_duplicate_nothing() {
    let app = spawn(tuning(2000, 100.0)).await;
    let expect = app.expectations();
    let valid = count(&expect, |e| *e == Expect::Item) + count(&expect, |e| matches!(e, Expect::Clash(_))) / 2;
    let xero = &app.demo.sandbox.xero;
    // Hung requests are cut after 50 ms: what the client sees of a timeout, without waiting 30 s.
    xero.set_hang(Duration::from_millis(50));
    let every =
        [Fault::Status(500), Fault::Status(503), Fault::Hang, Fault::Drop, Fault::LoseResponse, Fault::MissingElement];
    xero.set_fault_mix(0.2, &every);
    let run = app.start(RunWindow::All, false).await;
    wait_for(&app, run.id, |r| r.counters.read > 200).await;
    // And each kind at least once, then a burst of 429s.
    for fault in every {
        xero.fail_next(FaultTarget::Api, 1, fault);
    }
    xero.force_rate_limit(3, RateProblem::Minute, Some(1));
    let run = app.finish(run.id, Duration::from_secs(120)).await;
    xero.clear_faults();
    let injected = xero.calls().iter().filter(|c| c.status >= 500 || c.dropped || c.status == 429).count();
    assert!(injected >= 8, "faults were met: {injected}");
    assert!(app.xero_calls("POST", "/Items") > valid.div_ceil(50), "some batches were sent again");

    // No duplicate, and every product ended somewhere, a failure with its reason.
    let mut codes = HashSet::new();
    for item in app.items() {
        assert!(codes.insert(item.code.to_lowercase()), "duplicate item {}", item.code);
    }
    let outcomes = app.outcomes(run.id).await;
    assert_eq!(outcomes.len(), expect.len(), "every product has an outcome: {:?}", run.counters);
    for (id, fate) in &expect {
        let product = &outcomes[id];
        match product.outcome {
            ProductOutcome::Failed => {
                assert!(product.message.is_some() || !product.issues.is_empty(), "a failure says why: {product:?}")
            }
            ProductOutcome::Created | ProductOutcome::Updated => {
                assert!(matches!(fate, Expect::Item | Expect::Clash(_)), "{id}: {fate:?} got an item");
                let link = app.demo.server.store().item_link(id, &app.tenant()).await.expect("store");
                assert!(
                    link.as_ref().is_some_and(|l| Some(&l.item_id) == product.item_id.as_ref()),
                    "{id}: linked {link:?} {product:?}"
                );
            }
            _ => {}
        }
    }
    // Whatever failed, the next run finishes it: the catalogue ends exactly synced.
    let second = app.run_to_end(RunWindow::All).await;
    assert_eq!(second.counters.failed, 0, "{:?}", second.counters);
    app.assert_catalogue_synced().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_daily_cap_pauses_the_run_at_the_reserve_and_it_completes_after_the_reset() {
    // Xero's day passes in 8.6 s: 20 calls a day, 2 of them kept for the button.
    let scale = 10_000.0;
    let mut tuning = tuning(1000, scale);
    tuning.sandbox.xero.limits.per_day = 20;
    let app = spawn(tuning).await;
    let run = app.start(RunWindow::All, false).await;
    let paused = wait_for(&app, run.id, |r| r.state == RunState::Paused).await;
    let message = paused.message.clone().unwrap_or_default();
    assert!(message.contains("reserve kept for the button") && message.contains("resumes at"), "{message}");
    let resume_at = paused.resume_at.expect("a resume time");
    assert!(resume_at > chrono::Utc::now() && resume_at < chrono::Utc::now() + chrono::TimeDelta::seconds(10));
    let left = app.demo.sandbox.xero.limit_status(&app.tenant()).day_remaining;
    assert!(left >= 2, "the reserve is left: {left}");
    let done = app.finish(run.id, Duration::from_secs(60)).await;
    assert_eq!(done.state, RunState::Partial, "{done:?}");
    app.assert_outcomes(&done).await;
    app.assert_catalogue_synced().await;
    let limited = app.demo.sandbox.xero.calls().iter().filter(|c| c.status == 429).count();
    assert_eq!(limited, 0, "never a 429");
    let events = app.runs().events(run.id).await.expect("events");
    assert!(events.iter().any(|e| e.message.starts_with("Paused: Xero's daily calls")), "{events:?}");
    assert!(events.iter().any(|e| e.message.starts_with("Resumed from its checkpoint")), "{events:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_reported_and_the_run_goes_on_or_stops_resumable() {
    let app = spawn(tuning(300, 100.0)).await;
    let zoho = &app.demo.sandbox.zoho;
    // A product whose JSON has the wrong types (one the catalogue refuses anyway).
    let broken = app
        .expectations()
        .into_iter()
        .find(|(_, e)| matches!(e, Expect::Refused(field) if field == "Taxable"))
        .map(|(id, _)| id)
        .expect("a refused product");
    let mut record = zoho.product(&broken).and_then(|v| v.as_object().cloned()).expect("record");
    record.insert("Unit_Price".into(), Value::from("twelve"));
    record.insert("Taxable".into(), Value::from("yes"));
    zoho.set_product(&broken, record);
    // A page of products that fails (more often than the client retries), and Xero answers that leave the
    // last item of every batch out.
    zoho.fail_next(6);
    app.demo.sandbox.xero.set_fault_rate(1.0, Fault::MissingElement);
    let run = app.run_to_end(RunWindow::All).await;
    app.demo.sandbox.xero.clear_faults();
    assert_eq!(run.state, RunState::Partial, "{run:?}");
    let events = app.runs().events(run.id).await.expect("events");
    assert!(
        events.iter().any(|e| e.message.starts_with("Paused: Zoho CRM is not answering while reading products")),
        "{events:?}"
    );
    let outcomes = app.outcomes(run.id).await;
    let wrong = &outcomes[&broken];
    assert_eq!(wrong.outcome, ProductOutcome::Refused);
    for field in ["Unit_Price", "Taxable"] {
        assert!(
            wrong.issues.iter().any(|i| i.field == field && i.code == shared::IssueCode::WrongType),
            "{field}: {wrong:?}"
        );
    }
    let missing: Vec<_> = outcomes
        .values()
        .filter(|p| p.message.as_deref().is_some_and(|m| m.starts_with("Xero's answer had no result")))
        .collect();
    assert!(!missing.is_empty() && missing.iter().all(|p| p.outcome == ProductOutcome::Failed), "{missing:?}");
    // The next run finds them in Xero by their codes: linked, never duplicated.
    let again = app.run_to_end(RunWindow::All).await;
    assert_eq!(again.counters.failed, 0, "{:?}", again.counters);
    app.assert_catalogue_synced().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_tenant_fails_the_run_with_its_reason_and_it_stays_resumable() {
    let app = spawn(tuning(100, 100.0)).await;
    // A demo-company reset: the organisation Xero knows now has another tenant id.
    app.demo.sandbox.xero.reset_demo_company(sandbox::xero::AU_ORG).expect("reset");
    let run = app.run_to_end(RunWindow::All).await;
    assert_eq!(run.state, RunState::Failed, "{run:?}");
    let message = run.message.clone().unwrap_or_default();
    assert!(message.contains("Xero refused access to this run's organisation"), "{message}");
    assert!(app.items().is_empty());
    let resumed = app.runs().resume(run.id, "admin").await.expect("resumable").expect("run");
    assert_eq!(resumed.state, RunState::Queued);
    let again = app.finish(run.id, Duration::from_secs(30)).await;
    assert_eq!(again.state, RunState::Failed, "still refused until Xero is reconnected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_services_on_one_database_run_one_sync_and_one_run_per_schedule_slot() {
    let scale = 2400.0; // a schedule "hour" lasts 1.5 s
    let mut tuning = tuning(300, scale);
    tuning.runs.schedule_hour = Duration::from_millis(1500);
    let app = spawn(tuning).await;
    let second = {
        let settings = app.demo.server.settings().clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let minute = Duration::from_secs(60).div_f64(scale);
        let options = backend::server::StartOptions {
            xero: XeroClientConfig {
                limiter: LimiterConfig {
                    window: minute,
                    day: Duration::from_secs(86_400).div_f64(scale),
                    ..LimiterConfig::default()
                },
                ..XeroClientConfig::default()
            },
            runs: RunTuning {
                schedule_hour: Duration::from_millis(1500),
                poll: Duration::from_millis(50),
                ..RunTuning::default()
            },
            ..backend::server::StartOptions::default()
        };
        backend::server::start(settings, listener, options).await.expect("a second service")
    };
    app.demo.sandbox.xero.set_latency(Duration::from_millis(100));
    let run = app.start(RunWindow::All, false).await;
    let request =
        RunRequest { trigger: RunTrigger::Admin, actor: "other admin".into(), window: RunWindow::All, dry_run: false };
    let refused = second.runs().start(request).await.expect_err("refused");
    let text = refused.to_string();
    assert!(text.starts_with("a sync is already running (started ") && text.contains(" by admin"), "{text}");
    let done = app.finish(run.id, Duration::from_secs(60)).await;
    app.demo.sandbox.xero.set_latency(Duration::ZERO);
    let started: Vec<_> = app
        .runs()
        .events(done.id)
        .await
        .expect("events")
        .into_iter()
        .filter(|e| e.message.starts_with("Started by"))
        .collect();
    assert_eq!(started.len(), 1, "one worker ran it: {started:?}");

    // The schedule on, every "hour": both services tick, one run per slot.
    let view = second.runs().set_schedule(Some(1), "admin").await.expect("schedule");
    assert!(view.next_run_at.is_some());
    tokio::time::sleep(Duration::from_millis(5000)).await;
    let runs = app.runs().runs(100, None).await.expect("runs");
    let slots: Vec<_> = runs.iter().filter_map(|r| r.schedule_slot).collect();
    assert!(slots.len() >= 2, "slots ran: {slots:?}");
    let distinct: HashSet<_> = slots.iter().collect();
    assert_eq!(distinct.len(), slots.len(), "one run per slot: {slots:?}");
    for pair in slots.windows(2) {
        assert_eq!((pair[0] - pair[1]).num_milliseconds(), 1500, "consecutive slots: {slots:?}");
    }
    let scheduled = runs.iter().filter(|r| r.trigger == RunTrigger::Schedule);
    assert!(scheduled.clone().all(|r| r.window == RunWindow::SinceLastRun && r.actor == "schedule"));
    second.shutdown();
    second.stopped().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spent_zoho_credits_pause_the_run_until_they_come_back() {
    // Zoho's rolling day passes in 8.6 s; 6 credits a day do not cover the run's reads and write-backs.
    let scale = 10_000.0;
    let mut tuning = tuning(700, scale);
    tuning.sandbox.zoho.limits.credits_per_day = 6;
    let app = spawn(tuning).await;
    let run = app.start(RunWindow::All, false).await;
    // Zoho's 429 carries no Retry-After: the client tries it four times over 3.5 s before the run pauses.
    let paused = wait_within(&app, run.id, Duration::from_secs(30), |r| r.state == RunState::Paused).await;
    let message = paused.message.clone().unwrap_or_default();
    assert!(message.contains("Zoho CRM refused more calls") && message.contains("resumes at"), "{message}");
    let done = app.finish(run.id, Duration::from_secs(60)).await;
    assert_eq!(done.state, RunState::Partial, "{done:?}");
    app.assert_outcomes(&done).await;
    app.assert_catalogue_synced().await;
    assert_eq!(app.demo.server.store().pending_writebacks(&app.tenant(), 10).await.expect("owed").len(), 0);
}
