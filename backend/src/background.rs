//! Work the service does on its own: the sync log's daily retention and the catalogue readiness check.
//! A graceful shutdown stops it (each task is dropped at its next await; none holds state that a drop
//! could leave half-written: every database write is one statement), before the database closes.

use std::future::Future;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::store::Store;

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

/// Deletes the finished sync log rows older than `days`, now and then once a day.
pub(crate) async fn log_retention(store: Store, days: u32) {
    loop {
        let cutoff = Utc::now() - TimeDelta::days(i64::from(days));
        match store.purge_log(cutoff, RETENTION_BATCH).await {
            Ok(0) => {}
            Ok(rows) => tracing::info!(rows, days, "sync log rows past their retention deleted"),
            Err(error) => {
                tracing::warn!(error = %crate::describe(&error), "the sync log retention failed; next try tomorrow")
            }
        }
        tokio::time::sleep(RETENTION_EVERY).await;
    }
}
