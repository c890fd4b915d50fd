//! Work the service does on its own: the sync log's daily retention and the catalogue readiness check.
//! A graceful shutdown stops it (each task is dropped at its next await; none holds state that a drop
//! could leave half-written: every database write is one statement), before the database closes.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::store::{LogRetentionDays, Store, StoreError};

/// How often the retention runs, and how many rows one statement deletes.
const RETENTION_EVERY: Duration = Duration::from_secs(24 * 60 * 60);
const RETENTION_BATCH: u32 = 5_000;

/// The service's own tasks; cheap to clone.
#[derive(Clone, Default)]
pub(crate) struct Background {
    tasks: TaskTracker,
    stop: CancellationToken,
}

impl Background {
    /// Runs `task` until it ends or the service shuts down. Refused (dropped) once shutting down.
    pub(crate) fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        if self.stop.is_cancelled() {
            return;
        }
        let stop = self.stop.clone();
        self.tasks.spawn(async move {
            tokio::select! {
                () = task => {}
                () = stop.cancelled() => {}
            }
        });
    }

    /// Shutdown: stops every task and waits until they are gone.
    pub(crate) async fn stop(&self) {
        self.stop.cancel();
        self.tasks.close();
        self.tasks.wait().await;
    }
}

/// The sync log's retention: deletes the finished rows older than the admin's [`LogRetentionDays`] (or the
/// service's `XERO_SYNC_LOG_RETENTION_DAYS` when none is set), at start-up, once a day, and at once when the
/// admin changes the setting. Each pass reads the stored value, so a change needs no restart.
#[derive(Clone)]
pub(crate) struct LogRetention {
    store: Store,
    default_days: u32,
    wake: Arc<Notify>,
}

impl LogRetention {
    pub(crate) fn new(store: Store, default_days: u32) -> Self {
        Self { store, default_days, wake: Arc::new(Notify::new()) }
    }

    /// `XERO_SYNC_LOG_RETENTION_DAYS`: what an empty setting means.
    pub(crate) fn default_days(&self) -> u32 {
        self.default_days
    }

    /// Runs a pass now (after a change of the setting) instead of waiting for tomorrow's.
    pub(crate) fn wake(&self) {
        self.wake.notify_one();
    }

    /// The days in force: the admin's setting, else the service's default.
    async fn days(&self) -> Result<u32, StoreError> {
        Ok(self.store.org_setting::<LogRetentionDays>().await?.unwrap_or(self.default_days))
    }

    async fn pass(&self) -> Result<(), StoreError> {
        let days = self.days().await?;
        let cutoff = Utc::now() - TimeDelta::days(i64::from(days));
        let rows = self.store.purge_log(cutoff, RETENTION_BATCH).await?;
        if rows > 0 {
            tracing::info!(rows, days, "sync log rows past their retention deleted");
        }
        Ok(())
    }

    /// The task: a pass, then the next one tomorrow or when woken.
    pub(crate) async fn run(self) {
        loop {
            if let Err(error) = self.pass().await {
                tracing::warn!(error = %crate::describe(&error), "the sync log retention failed; next try tomorrow");
            }
            tokio::select! {
                () = tokio::time::sleep(RETENTION_EVERY) => {}
                () = self.wake.notified() => {}
            }
        }
    }
}
