//! Bulk runs across processes: the `xero-sync` binary as a child process (the service, killed with
//! SIGKILL at several points of a run and started again; the `sync` and `schedule` subcommands), against
//! the simulators in this test process and a database this test connected beforehand through the
//! service's own connection code.

use std::collections::HashMap;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use backend::config::Settings;
use backend::runs::{RunRequest, RunState, RunTrigger, RunWindow};
use backend::server::{Core, StartOptions, open};
use demo::Demo;
use sandbox::Sandbox;
use secrecy::ExposeSecret;
use serde_json::Value;

use crate::bulk::{assert_catalogue_synced, assert_outcomes, tuning};
use crate::support::{TempDir, start_in};

const BINARY: &str = env!("CARGO_BIN_EXE_xero-sync");

/// A database connected to the simulators (Xero, Zoho, API key), the simulators still running, and the
/// environment that points the binary at both.
struct Prepared {
    sandbox: Sandbox,
    settings: Settings,
    env: HashMap<&'static str, String>,
    dir: TempDir,
}

async fn prepare(products: usize, scale: f64) -> Prepared {
    let dir = TempDir::new("bulk-process");
    let demo = start_in(&dir, |_| None, tuning(products, scale)).await;
    let settings = demo.server.settings().clone();
    let xero = settings.xero.clone().expect("xero credentials");
    let zoho = settings.zoho.clone().expect("zoho credentials");
    let env = HashMap::from([
        ("XERO_SYNC_ADDR", "127.0.0.1:0".to_owned()),
        ("XERO_SYNC_PUBLIC_URL", "http://127.0.0.1:8080".to_owned()),
        ("XERO_SYNC_DATABASE_URL", settings.database_url.clone()),
        ("XERO_SYNC_DATA_DIR", settings.data_dir.display().to_string()),
        ("XERO_CLIENT_ID", xero.client_id.clone()),
        ("XERO_CLIENT_SECRET", xero.client_secret.expose_secret().to_owned()),
        ("ZOHO_CLIENT_ID", zoho.client_id.clone()),
        ("ZOHO_CLIENT_SECRET", zoho.client_secret.expose_secret().to_owned()),
        ("XERO_LOGIN_URL", settings.xero_endpoints.login_url.clone()),
        ("XERO_IDENTITY_URL", settings.xero_endpoints.identity_url.clone()),
        ("XERO_API_URL", settings.xero_endpoints.api_url.clone()),
        ("XERO_CONNECTIONS_URL", settings.xero_endpoints.connections_url.clone()),
        ("ZOHO_ACCOUNTS_URL", settings.zoho_endpoints.accounts_url.clone()),
        ("ZOHO_API_URL", settings.zoho_endpoints.api_url.clone()),
        // A dead process's run is taken over 2 s after its last heartbeat.
        ("XERO_SYNC_RUN_LEASE_SECS", "2".to_owned()),
    ]);
    // The service that connected everything stops; the simulators stay.
    let Demo { server, sandbox, .. } = demo;
    server.shutdown();
    server.stopped().await;
    Prepared { sandbox, settings, env, dir }
}

impl Prepared {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BINARY);
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("RUST_LOG", "warn")
            .envs(&self.env)
            .args(args)
            .current_dir(&self.dir.0);
        command
    }

    /// The service, its logs appended to `service.log` in the test's directory.
    fn service(&self) -> Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.0.join("service.log"))
            .expect("log file");
        self.command(&[]).stdout(Stdio::null()).stderr(log).spawn().expect("start xero-sync")
    }

    fn cli(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run xero-sync")
    }

    /// The service's parts on the same database, without its worker: to start runs and watch them.
    async fn core(&self) -> Core {
        open(self.settings.clone(), &StartOptions::default()).await.expect("open")
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_six_points_of_a_2000_product_run_the_service_resumes_and_loses_and_duplicates_nothing() {
    let prepared = prepare(2000, 100.0).await;
    // Slow enough to be caught at each point: Xero answers in 100 ms, Zoho in 10 ms.
    prepared.sandbox.xero.set_latency(Duration::from_millis(100));
    prepared.sandbox.zoho.set_latency(Duration::from_millis(10));
    let core = prepared.core().await;
    let request =
        RunRequest { trigger: RunTrigger::Admin, actor: "admin".into(), window: RunWindow::All, dry_run: false };
    let run = core.runs.start(request).await.expect("queued");
    let started = Instant::now();
    let mut child = prepared.service();
    let mut kills = Vec::new();
    // During the list reads (nothing committed yet), then at five places further on.
    for threshold in [0, 250, 600, 950, 1300, 1650] {
        let deadline = Instant::now() + Duration::from_secs(30);
        let reached = loop {
            let now = core.store.run(run.id).await.expect("store").expect("run");
            if now.state == RunState::Running && now.counters.read >= threshold && now.heartbeat_at.is_some() {
                break Some(now);
            }
            if !now.state.is_active() {
                break None;
            }
            assert!(Instant::now() < deadline, "run stuck before {threshold}: {now:?}");
            tokio::time::sleep(Duration::from_millis(3)).await;
        };
        let Some(at) = reached else { break };
        child.kill().expect("kill -9");
        child.wait().expect("reaped");
        kills.push((threshold, at.counters.read, at.fence));
        child = prepared.service();
    }
    assert!(kills.len() >= 5, "killed at five points at least: {kills:?}");
    let deadline = Instant::now() + Duration::from_secs(90);
    let done = loop {
        let now = core.store.run(run.id).await.expect("store").expect("run");
        if !now.state.is_active() {
            break now;
        }
        assert!(Instant::now() < deadline, "run never finished: {now:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    child.kill().expect("stop the service");
    child.wait().expect("reaped");
    let log = std::fs::read_to_string(prepared.dir.0.join("service.log")).unwrap_or_default();
    assert_eq!(done.state, RunState::Partial, "{done:?}\n{log}");
    assert!(done.fence as usize > kills.len(), "claimed again after each kill: {kills:?} fence {}", done.fence);
    let events = core.runs.events(run.id).await.expect("events");
    let resumed = events.iter().filter(|e| e.message.starts_with("Resumed from its checkpoint")).count();
    assert!(resumed >= kills.len() - 1, "{resumed} resumes for {kills:?}: {events:#?}");
    assert_outcomes(&core.runs, &prepared.sandbox, &done).await;
    assert_catalogue_synced(&prepared.sandbox, &core.store).await;
    assert_eq!(core.store.pending_writebacks(&done.tenant_id, 10).await.expect("owed").len(), 0, "no write-back lost");
    eprintln!("kill -9 test: kills at (threshold, read, fence) {kills:?}, {:?} in all", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sync_command_runs_in_the_foreground_with_exit_codes_and_a_json_summary() {
    let prepared = prepare(0, 100.0).await;
    // The seeded catalogue: its broken products and the lowercase twin are taken out of Xero's scope, so
    // a run syncs or skips everything.
    let zoho = &prepared.sandbox.zoho;
    let core = prepared.core().await;
    let broken: Vec<String> = crate::bulk::expectations(&prepared.sandbox)
        .into_iter()
        .filter(|(id, e)| {
            matches!(e, crate::bulk::Expect::Refused(_)) || id == sandbox::zoho::products::WIRELESS_MOUSE_LOWERCASE
        })
        .map(|(id, _)| id)
        .collect();

    // With broken products: exit 1, and the JSON lists them.
    let output = prepared.cli(&["sync", "--all", "--json"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let summary: Value = serde_json::from_str(&stdout(&output)).expect("JSON on stdout");
    assert_eq!(summary["run"]["state"], "partial", "{summary}");
    assert_eq!(summary["run"]["trigger"], "cli");
    assert_eq!(summary["run"]["counters"]["read"], 21);
    let listed = summary["refused_or_failed"].as_array().expect("list").len();
    assert_eq!(listed, broken.len(), "{summary}");
    let log = core.store.recent_log(100).await.expect("log");
    assert!(log.iter().any(|e| e.trigger == backend::store::SyncTrigger::Cli), "the log says cli");

    // Nothing for Xero is refused any more: exit 0, and a text summary.
    for id in &broken {
        zoho.edit_product(id, serde_json::json!({"Add_to_Xero": false})).expect("untick");
    }
    let output = prepared.cli(&["sync", "--all"]);
    assert_eq!(output.status.code(), Some(0), "{}\n{}", stdout(&output), stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("succeeded") && text.contains("21 read"), "{text}");

    // Bad arguments, another run active, nothing connected: exit 2 with the reason.
    let output = prepared.cli(&["sync", "--all", "--days", "3"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--all and --days cannot go together"));
    let held = core
        .runs
        .start_here(RunRequest {
            trigger: RunTrigger::Admin,
            actor: "admin".into(),
            window: RunWindow::All,
            dry_run: false,
        })
        .await
        .expect("a run held by this process");
    let output = prepared.cli(&["sync"]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(message.contains("a sync is already running (started ") && message.contains("by admin"), "{message}");
    core.runs.cancel(held.id, "admin").await.expect("cancel");

    let empty = TempDir::new("bulk-cli-empty");
    let mut command = prepared.command(&["sync"]);
    command.env("XERO_SYNC_DATABASE_URL", format!("sqlite://{}/empty.db?mode=rwc", empty.0.display()));
    command.env("XERO_SYNC_DATA_DIR", empty.0.display().to_string());
    let output = command.output().expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("Xero is not connected yet"), "{}", stderr(&output));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schedule_command_turns_the_automatic_sync_on_and_off() {
    let prepared = prepare(0, 100.0).await;
    let output = prepared.cli(&["schedule"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).contains("Automatic sync: off"), "{}", stdout(&output));
    let output = prepared.cli(&["schedule", "--every", "4h"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).contains("every 4 hours, next run at"), "{}", stdout(&output));
    let core = prepared.core().await;
    let view = core.runs.schedule().await.expect("schedule");
    let schedule = view.schedule.expect("stored");
    assert!(schedule.enabled && schedule.every_hours == 4 && schedule.updated_by.starts_with("cli"));
    let next = view.next_run_at.expect("next");
    assert!(next > chrono::Utc::now() && next <= chrono::Utc::now() + chrono::TimeDelta::hours(4));
    let output = prepared.cli(&["schedule", "--every", "5h"]);
    assert_eq!(output.status.code(), Some(2));
    let output = prepared.cli(&["schedule", "--off"]);
    assert!(stdout(&output).contains("Automatic sync: off"), "{}", stdout(&output));
}
