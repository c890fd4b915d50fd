//! What the integration tests share: the service started on a random port (in sandbox mode, with the
//! simulators in-process, unless a test configures credentials), in a temporary directory removed afterwards.

use backend::config::Settings;
use backend::server::{Server, Tuning, start_with};

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

/// Starts the service with its data, database and widget in `dir`; `vars` adds settings.
pub async fn start_in(dir: &TempDir, vars: impl Fn(&str) -> Option<String>, tuning: Tuning) -> Server {
    let dir_text = dir.0.display().to_string();
    let settings = Settings::load(&|name| match name {
        "XERO_SYNC_DATA_DIR" | "XERO_SYNC_WIDGET_DIR" => Some(dir_text.clone()),
        "XERO_SYNC_DATABASE_URL" => Some(format!("sqlite://{dir_text}/test.db?mode=rwc")),
        other => vars(other),
    })
    .expect("settings");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    start_with(settings, listener, tuning).await.expect("start")
}
