//! Shared harness for the end-to-end tests: a headless Chromium driven through chromedriver ([`browser`]),
//! what the widget's tests do on its page ([`page`]), and the places the tests read from and write to.

pub mod browser;
pub mod page;

use std::path::PathBuf;

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// Where tests save screenshots (gitignored; CI keeps them as artifacts).
pub fn artifacts_dir() -> PathBuf {
    let dir = repo_root().join("artifacts");
    std::fs::create_dir_all(&dir).ok();
    dir
}
