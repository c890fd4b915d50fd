//! The service's background worker: offers the schedule's current slot, then takes up any run that can be
//! taken (queued, paused until a time now past, or orphaned by a worker whose lease expired), executes it,
//! and looks again; when there is none it waits for a wake-up or the poll interval. Several processes on
//! one database each run one: the claims and the slot index keep them from doing anything twice.

use std::sync::Arc;

use chrono::Utc;

use super::{Execution, Inner, schedule};
use crate::store::{ConnectionStatus, EventLevel, NewRun, RunTrigger, RunWindow};

pub(super) async fn work(inner: Arc<Inner>) {
    tracing::info!(owner = %inner.owner, "sync run worker started");
    loop {
        if inner.stop.is_cancelled() {
            break;
        }
        if let Err(error) = tick(&inner).await {
            tracing::warn!(error = %crate::describe(&error), "the schedule tick failed");
        }
        match inner.store.claim_next_run(&inner.owner, inner.lease).await {
            Ok(Some(run)) => {
                let id = run.id;
                tracing::info!(run = id, fence = run.fence, "took up a sync run");
                let execution = super::execute::execute(&inner, run, inner.stop.clone()).await;
                if let Execution::Interrupted(reason) = execution {
                    tracing::error!(run = id, %reason, "sync run interrupted");
                    // Let the database recover before trying again.
                    wait(&inner).await;
                }
                continue;
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(error = %crate::describe(&error), "could not look for sync runs"),
        }
        wait(&inner).await;
    }
    tracing::info!("sync run worker stopped");
}

async fn wait(inner: &Inner) {
    tokio::select! {
        () = inner.stop.cancelled() => {}
        () = inner.wake.notified() => {}
        // A short lease asks for quick takeovers: look at least twice per lease.
        () = tokio::time::sleep(inner.tuning.poll.min(inner.lease / 2)) => {}
    }
}

/// Offers the run of the schedule's current slot, if one is due; another process may have created it
/// already, or another run be active (then the next tick offers it again, while the slot lasts).
async fn tick(inner: &Inner) -> Result<(), crate::store::StoreError> {
    let Some(connection) = inner.store.xero_connection().await? else { return Ok(()) };
    if connection.status != ConnectionStatus::Connected {
        return Ok(());
    }
    let Some(schedule) = inner.store.schedule(&connection.tenant_id).await? else { return Ok(()) };
    let Some(slot) = schedule::due_slot(&schedule, Utc::now(), inner.tuning.schedule_hour) else { return Ok(()) };
    let new = NewRun {
        tenant_id: connection.tenant_id,
        trigger: RunTrigger::Schedule,
        actor: "schedule".into(),
        window: RunWindow::SinceLastRun,
        dry_run: false,
        schedule_slot: Some(slot),
    };
    if let Some(run) = inner.store.create_scheduled_run(&new).await? {
        let message = format!(
            "Run of the schedule (every {} hours) for the slot of {}.",
            schedule.every_hours,
            super::local_time(slot)
        );
        inner.store.event(run.id, EventLevel::Info, &message).await?;
        tracing::info!(run = run.id, slot = %slot, "scheduled sync run created");
    }
    Ok(())
}
