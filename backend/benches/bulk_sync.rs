//! A bulk run over 10,000 sandbox products at Xero's real limits (60 calls a minute and 5 in flight per
//! organisation, 1,000 calls a day), on a simulated clock running 5 times faster than the wall
//! clock, then the same run again with nothing changed. Xero answers each call in 1 s and Zoho in 0.5 s of
//! simulated time.
//!
//! It prints, last, one line:
//! `BULK products=10000 created=N refused=N xero_calls=N rate_vs_bound=R unplanned_429=N duplicates=N
//! rerun_xero_writes=N rerun_zoho_calls=N peak_rss_mb=N`
//! where `rate_vs_bound` is items written per simulated minute divided by 3,000 (60 calls × 50 items),
//! over the whole run (from its start to its end, list reads and last write-backs included).
//! `peak_rss_mb` is this process's peak resident memory: the service and both simulators.
//!
//! cargo bench -p backend --bench bulk_sync

use std::collections::HashSet;
use std::time::{Duration, Instant};

use backend::runs::{RunRequest, RunState, RunTrigger, RunTuning, RunWindow};
use backend::xero::{LimiterConfig, XeroClientConfig};
use demo::Tuning;
use sandbox::SandboxConfig;

const PRODUCTS: usize = 10_000;
/// Products the sandbox seeds on top of the generated ones.
const SEEDED: usize = 21;
/// Simulated seconds per real second: Xero's minute lasts 12 s. Small enough that the engine's own work
/// (real time, multiplied by this in simulated time) does not decide the rate on this shared machine;
/// `BULK_SYNC_SCALE` sets another.
const DEFAULT_SCALE: f64 = 5.0;
const BOUND_PER_MINUTE: f64 = 60.0 * 50.0;

fn scale() -> f64 {
    std::env::var("BULK_SYNC_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|s: &f64| *s > 0.0)
        .unwrap_or(DEFAULT_SCALE)
}

fn peak_rss_mb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    kb.div_ceil(1024)
}

#[tokio::main]
async fn main() {
    let scale = scale();
    let dir = std::env::temp_dir().join(format!("xero-sync-bench-bulk-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let mut sandbox = SandboxConfig { time_scale: scale, ..SandboxConfig::default() };
    sandbox.zoho.generated_products = PRODUCTS - SEEDED;
    let minute = Duration::from_secs(60).div_f64(scale);
    let tuning = Tuning {
        sandbox,
        // Xero's limits as published, on the fast clock: our limiter's minute is the simulator's.
        xero: XeroClientConfig {
            limiter: LimiterConfig {
                window: minute,
                day: Duration::from_secs(86_400).div_f64(scale),
                ..LimiterConfig::default()
            },
            ..XeroClientConfig::default()
        },
        runs: RunTuning {
            poll: Duration::from_millis(20),
            schedule_hour: Duration::from_secs(3600).div_f64(scale),
            ..RunTuning::default()
        },
        ..Tuning::default()
    };
    let dir_text = dir.display().to_string();
    let vars = move |name: &str| match name {
        "XERO_SYNC_DATA_DIR" => Some(dir_text.clone()),
        "XERO_SYNC_DATABASE_URL" => Some(format!("sqlite://{dir_text}/bench.db?mode=rwc")),
        _ => None,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let demo = demo::start(listener, vars, tuning).await.expect("start");
    let (xero, zoho) = (&demo.sandbox.xero, &demo.sandbox.zoho);
    xero.set_latency(Duration::from_secs(1).div_f64(scale));
    zoho.set_latency(Duration::from_millis(500).div_f64(scale));
    let tenant = xero.tenant_id(sandbox::xero::AU_ORG).expect("AU org");
    let runs = demo.server.runs();
    xero.clear_calls();
    zoho.clear_calls();

    let request = |window| RunRequest { trigger: RunTrigger::Admin, actor: "bench".into(), window, dry_run: false };
    let started = Instant::now();
    let run = runs.start(request(RunWindow::All)).await.expect("run");
    let mut watch = runs.watch(run.id);
    while let Ok(Some(_)) = watch.next().await {}
    let elapsed = started.elapsed();
    let run = runs.run(run.id).await.expect("store").expect("run");
    assert!(matches!(run.state, RunState::Succeeded | RunState::Partial), "{run:?}");
    let calls = xero.calls();
    let xero_calls = calls.iter().filter(|c| c.path.starts_with("/api.xro/")).count();
    let writes = calls.iter().filter(|c| c.method == "POST" && c.path.ends_with("/Items")).count();
    let unplanned_429 = calls.iter().filter(|c| c.status == 429).count();
    let items = xero.items(&tenant);
    let codes: HashSet<String> = items.iter().map(|i| i.code.to_lowercase()).collect();
    let duplicates = items.len() - codes.len();
    let written = run.counters.created + run.counters.updated;
    let sim_minutes = elapsed.mul_f64(scale).as_secs_f64() / 60.0;
    // Xero's windows are fixed: N calls need at least ⌈N/60⌉ − 1 whole windows before the last ones.
    let fewest_minutes = (xero_calls.div_ceil(60) - 1) as f64;
    let rate = written as f64 / sim_minutes / BOUND_PER_MINUTE;
    let zoho_first = zoho.calls().len();

    xero.clear_calls();
    zoho.clear_calls();
    let rerun = runs.start(request(RunWindow::SinceLastRun)).await.expect("rerun");
    let mut watch = runs.watch(rerun.id);
    while let Ok(Some(_)) = watch.next().await {}
    let rerun = runs.run(rerun.id).await.expect("store").expect("run");
    let rerun_xero_writes =
        xero.calls().iter().filter(|c| c.method != "GET" && c.path.starts_with("/api.xro/")).count();
    let rerun_zoho_calls = zoho.calls().iter().filter(|c| c.path.starts_with("/crm/")).count();

    let bound = (written as usize).div_ceil(50) + 3;
    println!(
        "first run (time scale {scale}): {} in {:.1} s real = {:.2} simulated minutes (Xero's fixed windows allow \
         no fewer than {fewest_minutes:.0} plus the last calls); {} read, {} not for Xero; {writes} item writes, \
         {xero_calls} Xero calls (bound ⌈{written}/50⌉ + 3 list reads = {bound}), {zoho_first} Zoho calls",
        run.state.as_str(),
        elapsed.as_secs_f64(),
        sim_minutes,
        run.counters.read,
        run.counters.not_for_xero,
    );
    println!(
        "rerun: {} read, {} unchanged, {} Xero writes, {} Zoho calls ({} reads of the window)",
        rerun.counters.read, rerun.counters.unchanged, rerun_xero_writes, rerun_zoho_calls, rerun.counters.zoho_calls
    );
    println!(
        "BULK products={} created={} refused={} xero_calls={xero_calls} rate_vs_bound={rate:.2} \
         unplanned_429={unplanned_429} duplicates={duplicates} rerun_xero_writes={rerun_xero_writes} \
         rerun_zoho_calls={rerun_zoho_calls} peak_rss_mb={}",
        zoho.products().len(),
        run.counters.created,
        run.counters.refused,
        peak_rss_mb()
    );
    demo.stop().await;
    std::fs::remove_dir_all(&dir).ok();
}
