//! What the integration tests share: the service started on a random port, either as the demo (with the
//! simulators in-process) or as `xero-sync` itself (production mode, when a test configures credentials),
//! in a temporary directory removed afterwards.

use backend::config::Settings;
use backend::server::{Server, StartOptions};
use demo::{Demo, Tuning};

/// A directory removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("xero-sync-{prefix}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

/// The settings for data, database and widget in `dir`, then `vars`.
fn in_dir(dir: &TempDir, vars: impl Fn(&str) -> Option<String>) -> impl Fn(&str) -> Option<String> {
    let dir_text = dir.0.display().to_string();
    move |name| match name {
        "XERO_SYNC_DATA_DIR" | "XERO_SYNC_WIDGET_DIR" => Some(dir_text.clone()),
        "XERO_SYNC_DATABASE_URL" => Some(format!("sqlite://{dir_text}/test.db?mode=rwc")),
        other => vars(other),
    }
}

/// The demo, with its data, database and widget in `dir`; `vars` adds settings.
pub async fn start_in(dir: &TempDir, vars: impl Fn(&str) -> Option<String>, tuning: Tuning) -> Demo {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    demo::start(listener, in_dir(dir, vars), tuning).await.expect("demo starts")
}

/// `xero-sync` as in production, with its data, database and widget in `dir`; `vars` adds settings (at
/// least one service's credentials).
pub async fn start_production(dir: &TempDir, vars: impl Fn(&str) -> Option<String>) -> Server {
    let settings = Settings::load(&in_dir(dir, vars)).expect("settings");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    backend::server::start(settings, listener, StartOptions::default()).await.expect("start")
}
