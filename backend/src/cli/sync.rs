//! `xero-sync sync` and `xero-sync schedule`: bulk runs for cron and scripts, against the configured
//! database and services (the same settings as the service).
//!
//! `sync` runs in this process, with a progress display on a terminal: it starts a run claimed by itself
//! (a service sharing the database sees it running and leaves it alone), executes it, waits out a pause
//! (Xero's daily reserve, a service not answering) and goes on. If a run is already active it is refused,
//! unless that run can be taken up now (queued, or left by a process that died): then this process takes
//! it over from its checkpoint. Exit status: 0 when every product was synced or skipped, 1 when some were
//! refused or failed (or the run stopped), 2 when no run could start.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use chrono::Utc;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::runs::{
    Execution, ProductFilter, ProductOutcome, Run, RunProduct, RunRequest, RunState, RunTrigger, RunWindow, Runs,
    SCHEDULE_HOURS, StartError, local_time,
};
use crate::server::{Core, StartOptions, open};

pub(super) const SYNC_USAGE: &str = "usage: xero-sync sync [--all | --since-last-run | --days N] [--dry-run] [--json]

  --since-last-run   products changed since the last run finished (the default; all products before any run)
  --all              every product, also those never edited since the CRM was set up
  --days N           products changed in the last N days
  --dry-run          decide everything and write nothing: what would be created, updated, refused, and the cost
  --json             print a JSON summary on stdout instead of the text one

exit status: 0 every product synced or skipped, 1 some refused or failed (or the run stopped), 2 no run started";

pub(super) const SCHEDULE_USAGE: &str = "usage: xero-sync schedule [--every 1h|2h|4h|6h|12h|24h | --off]

  without an option, shows the automatic sync: on or off, its interval, the next run and the last one";

/// What `sync` was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SyncArgs {
    pub(super) window: RunWindow,
    pub(super) dry_run: bool,
    pub(super) json: bool,
}

pub(super) fn parse_sync(args: &[String]) -> Result<SyncArgs, String> {
    let mut window = None;
    let mut parsed = SyncArgs { window: RunWindow::SinceLastRun, dry_run: false, json: false };
    let mut args = args.iter();
    let mut set = |w: RunWindow, flag: &str| match window.replace(flag.to_owned()) {
        Some(other) => Err(format!("{other} and {flag} cannot go together")),
        None => {
            parsed.window = w;
            Ok(())
        }
    };
    let mut dry_run = false;
    let mut json = false;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--all" => set(RunWindow::All, "--all")?,
            "--since-last-run" => set(RunWindow::SinceLastRun, "--since-last-run")?,
            "--days" => {
                let value = args.next().ok_or("--days needs a number of days")?;
                let days = value
                    .parse::<u32>()
                    .ok()
                    .filter(|d| (1..=3650).contains(d))
                    .ok_or_else(|| format!("--days {value}: expected a whole number of days from 1 to 3650"))?;
                set(RunWindow::LastDays(days), "--days")?;
            }
            "--dry-run" => dry_run = true,
            "--json" => json = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    parsed.dry_run = dry_run;
    parsed.json = json;
    Ok(parsed)
}

/// `Some(hours)` to turn it on, `None` to turn it off; `Ok(None)` of the outer option: just show it.
pub(super) fn parse_schedule(args: &[String]) -> Result<Option<Option<u32>>, String> {
    match args {
        [] => Ok(None),
        [flag] if flag == "--off" => Ok(Some(None)),
        [flag, value] if flag == "--every" => {
            let hours = value.trim_end_matches('h').parse::<u32>().ok().filter(|h| SCHEDULE_HOURS.contains(h));
            hours.map(|h| Some(Some(h))).ok_or_else(|| format!("--every {value}: choose 1h, 2h, 4h, 6h, 12h or 24h"))
        }
        _ => Err("expected --every <hours> or --off".into()),
    }
}

fn user() -> String {
    std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "unknown user".into())
}

/// The settings and the database, as the service opens them; `Err` is the exit status to return.
async fn core() -> Result<Core, ExitCode> {
    let settings = Settings::from_env().map_err(|error| {
        eprintln!("xero-sync: configuration error: {error}");
        ExitCode::from(2)
    })?;
    open(settings, &StartOptions::default()).await.map_err(|error| {
        eprintln!("xero-sync: cannot open the service's state: {}", crate::describe(&error));
        ExitCode::from(2)
    })
}

pub(super) async fn sync(args: SyncArgs) -> ExitCode {
    let core = match core().await {
        Ok(core) => core,
        Err(code) => return code,
    };
    let code = sync_with(&core.runs, args).await;
    core.store.close().await;
    code
}

async fn sync_with(runs: &Runs, args: SyncArgs) -> ExitCode {
    let request = RunRequest {
        trigger: RunTrigger::Cli,
        actor: format!("cli ({})", user()),
        window: args.window.clone(),
        dry_run: args.dry_run,
    };
    let run = match runs.start_here(request).await {
        Ok(run) => run,
        Err(StartError::Active(active)) => match take_over(runs, &active).await {
            Some(run) => run,
            None => {
                eprintln!("xero-sync: cannot start the sync: {}", StartError::Active(active));
                return ExitCode::from(2);
            }
        },
        Err(error) => {
            eprintln!("xero-sync: cannot start the sync: {}", crate::describe(&error));
            return ExitCode::from(2);
        }
    };
    let id = run.id;
    let stop = CancellationToken::new();
    let interrupt = stop.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            interrupt.cancel();
        }
    });
    let progress = Progress::start(runs, id, std::io::stderr().is_terminal());
    let mut run = run;
    let stopped = loop {
        match runs.execute(run, stop.clone()).await {
            Execution::Finished(_) => break false,
            Execution::Paused { until, reason } => {
                progress.say(&format!("paused: {reason}"));
                let wait = (until - Utc::now()).to_std().unwrap_or_default() + Duration::from_millis(50);
                tokio::select! {
                    () = stop.cancelled() => break true,
                    () = tokio::time::sleep(wait) => {}
                }
                match runs.claim(id).await {
                    Ok(Some(claimed)) => run = claimed,
                    // Taken up by another process (a service): follow it to its end.
                    Ok(None) => break follow(runs, id, &stop).await,
                    Err(error) => {
                        eprintln!("xero-sync: {}", crate::describe(&error));
                        return ExitCode::FAILURE;
                    }
                }
            }
            Execution::Released => break true,
            Execution::LeaseLost => break follow(runs, id, &stop).await,
            Execution::Interrupted(reason) => {
                progress.finish();
                eprintln!("xero-sync: the run was interrupted: {reason}; it goes on from its checkpoint later");
                return ExitCode::FAILURE;
            }
        }
    };
    progress.finish();
    let Ok(Some(run)) = runs.run(id).await else {
        eprintln!("xero-sync: run {id} cannot be read back");
        return ExitCode::FAILURE;
    };
    if stopped {
        eprintln!(
            "xero-sync: stopped; run {id} is handed back and goes on from its checkpoint when the service or the \
             next `xero-sync sync` takes it up"
        );
    }
    let problems = runs
        .products(
            id,
            &ProductFilter {
                outcomes: vec![ProductOutcome::Refused, ProductOutcome::Failed],
                limit: 100_000,
                after_seq: None,
            },
        )
        .await
        .unwrap_or_default();
    let left = runs.snapshot(id).await.ok().flatten().and_then(|s| s.xero_calls_left_today);
    if args.json {
        let summary = Summary { run: &run, xero_calls_left_today: left, refused_or_failed: &problems };
        match serde_json::to_string_pretty(&summary) {
            Ok(text) => println!("{text}"),
            Err(error) => eprintln!("xero-sync: {error}"),
        }
    } else {
        print_summary(&run, left, &problems);
    }
    exit_code(&run, stopped)
}

/// The exit status of a run as it ended.
pub(super) fn exit_code(run: &Run, stopped: bool) -> ExitCode {
    match run.state {
        RunState::Succeeded if !stopped => ExitCode::SUCCESS,
        // Nothing could be done at all (e.g. Xero refused the organisation at once): it did not start.
        RunState::Failed if run.counters.read == 0 => ExitCode::from(2),
        _ => ExitCode::from(1),
    }
}

/// An active run this process may take over: queued with no worker, or left by one whose lease expired.
async fn take_over(runs: &Runs, active: &Run) -> Option<Run> {
    let claimed = runs.claim(active.id).await.ok().flatten()?;
    eprintln!(
        "xero-sync: taking up run {} ({}, started by {}), which no process was running; it goes on from its checkpoint",
        claimed.id,
        claimed.window.describe(),
        claimed.actor
    );
    Some(claimed)
}

/// Follows a run another process executes, to its end; `true` when interrupted by ctrl-c.
async fn follow(runs: &Runs, id: i64, stop: &CancellationToken) -> bool {
    let mut watch = runs.watch(id);
    loop {
        tokio::select! {
            () = stop.cancelled() => return true,
            next = watch.next() => match next {
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => return false,
            },
        }
    }
}

#[derive(Serialize)]
struct Summary<'a> {
    run: &'a Run,
    xero_calls_left_today: Option<u32>,
    refused_or_failed: &'a [RunProduct],
}

fn duration(run: &Run) -> String {
    let (Some(start), Some(end)) = (run.started_at, run.finished_at.or(Some(Utc::now()))) else {
        return String::new();
    };
    let seconds = (end - start).num_seconds().max(0);
    format!(" in {}m {:02}s", seconds / 60, seconds % 60)
}

fn print_summary(run: &Run, left: Option<u32>, problems: &[RunProduct]) {
    let c = run.counters;
    let kind = if run.dry_run { "Dry run" } else { "Run" };
    println!("{kind} {} ({}) {}{}.", run.id, run.window.describe(), run.state.as_str(), duration(run));
    if let Some(message) = &run.message {
        println!("  {message}");
    }
    let verb = if run.dry_run { "would be " } else { "" };
    println!(
        "  {} read: {} {verb}created, {} {verb}updated, {} unchanged, {} not for Xero, {} refused, {} failed",
        c.read, c.created, c.updated, c.unchanged, c.not_for_xero, c.refused, c.failed
    );
    if c.kept > 0 {
        println!(
            "  {} changed in Xero since their last sync: Xero's values kept, nothing written (sync them from the \
             CRM record to choose)",
            c.kept
        );
    }
    let left = left.map(|l| format!(" ({l} left today)")).unwrap_or_default();
    println!("  Xero calls {}{left}, Zoho calls {}", c.xero_calls, c.zoho_calls);
    if let Some(summary) = run.estimate.as_ref().and_then(|e| e["summary"].as_str()) {
        println!("  The run would take {summary}.");
    }
    if !problems.is_empty() {
        let shown = problems.len().min(20);
        println!("Refused or failed ({shown} of {}):", problems.len());
        for product in &problems[..shown] {
            let why: Vec<String> = product
                .issues
                .iter()
                .filter(|i| i.is_error())
                .map(|i| if i.field.is_empty() { i.message.clone() } else { format!("{}: {}", i.field, i.message) })
                .chain(product.message.clone())
                .collect();
            println!(
                "  {}  {}  {}",
                product.product_id,
                product.code.as_deref().unwrap_or("(no code)"),
                why.join("; ")
            );
        }
        if problems.len() > shown {
            println!("  … and {} more: `xero-sync sync --json` lists them all", problems.len() - shown);
        }
    }
}

/// The progress display: a spinner with the counters on a terminal, nothing otherwise.
struct Progress {
    bar: Option<ProgressBar>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Progress {
    fn start(runs: &Runs, id: i64, terminal: bool) -> Progress {
        if !terminal {
            return Progress { bar: None, task: None };
        }
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        let shown = bar.clone();
        let mut watch = runs.watch(id);
        let task = tokio::spawn(async move {
            while let Ok(Some(snapshot)) = watch.next().await {
                let run = &snapshot.run;
                let c = run.counters;
                let state = match (run.state, run.resume_at) {
                    (RunState::Paused, Some(until)) => format!("paused until {}", local_time(until)),
                    (state, _) => state.as_str().to_owned(),
                };
                shown.set_message(format!(
                    "run {} {state}: {} read · {} created · {} updated · {} unchanged · {} refused · {} failed · {} Xero calls",
                    run.id, c.read, c.created, c.updated, c.unchanged, c.refused, c.failed, c.xero_calls
                ));
            }
        });
        Progress { bar: Some(bar), task: Some(task) }
    }

    fn say(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("xero-sync: {line}"),
        }
    }

    fn finish(&self) {
        if let Some(task) = &self.task {
            task.abort();
        }
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

pub(super) async fn schedule(change: Option<Option<u32>>) -> ExitCode {
    let core = match core().await {
        Ok(core) => core,
        Err(code) => return code,
    };
    let result = match change {
        Some(every) => core.runs.set_schedule(every, &format!("cli ({})", user())).await,
        None => core.runs.schedule().await,
    };
    core.store.close().await;
    let view = match result {
        Ok(view) => view,
        Err(error @ (StartError::XeroNotConnected | StartError::Invalid(_))) => {
            eprintln!("xero-sync: {error}");
            return ExitCode::from(2);
        }
        Err(error) => {
            eprintln!("xero-sync: {}", crate::describe(&error));
            return ExitCode::FAILURE;
        }
    };
    match (&view.schedule, view.next_run_at) {
        (Some(schedule), Some(next)) if schedule.enabled => println!(
            "Automatic sync: every {} hour{}, next run at {} ({}).",
            schedule.every_hours,
            if schedule.every_hours == 1 { "" } else { "s" },
            local_time(next),
            next.to_rfc3339()
        ),
        _ => println!("Automatic sync: off (turn it on with `xero-sync schedule --every 4h`)."),
    }
    match &view.last_run {
        Some(run) => println!(
            "Last run: {} ({}, {}), {}.",
            run.id,
            run.trigger.as_str(),
            run.window.describe(),
            run.message.as_deref().unwrap_or(run.state.as_str())
        ),
        None => println!("No run has finished yet."),
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn sync_arguments() {
        let default = parse_sync(&[]).expect("default");
        assert_eq!(default, SyncArgs { window: RunWindow::SinceLastRun, dry_run: false, json: false });
        let all = parse_sync(&args(&["--all", "--dry-run", "--json"])).expect("all");
        assert_eq!(all, SyncArgs { window: RunWindow::All, dry_run: true, json: true });
        assert_eq!(parse_sync(&args(&["--days", "7"])).expect("days").window, RunWindow::LastDays(7));
        assert_eq!(parse_sync(&args(&["--all", "--days", "7"])), Err("--all and --days cannot go together".into()));
        assert!(parse_sync(&args(&["--days"])).is_err());
        assert!(parse_sync(&args(&["--days", "0"])).is_err_and(|e| e.contains("from 1 to 3650")));
        assert!(parse_sync(&args(&["--everything"])).is_err_and(|e| e.contains("unknown argument --everything")));
    }

    #[test]
    fn schedule_arguments() {
        assert_eq!(parse_schedule(&[]), Ok(None));
        assert_eq!(parse_schedule(&args(&["--off"])), Ok(Some(None)));
        assert_eq!(parse_schedule(&args(&["--every", "4h"])), Ok(Some(Some(4))));
        assert_eq!(parse_schedule(&args(&["--every", "12"])), Ok(Some(Some(12))));
        assert!(parse_schedule(&args(&["--every", "3h"])).is_err_and(|e| e.contains("choose 1h")));
        assert!(parse_schedule(&args(&["--every"])).is_err());
    }
}
