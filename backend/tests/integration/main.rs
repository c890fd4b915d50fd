//! The backend's integration tests, one binary: the service over HTTP (`api`, `admin`, `portal`, `security`)
//! and its parts against the real simulators and a real SQLite database (`store`, `xero_client`, `zoho_client`).
//! `tests/logs.rs` stays apart because it captures the whole process's logs.

mod admin;
mod admin_runs;
mod api;
mod bulk;
mod bulk_processes;
mod fidelity;
mod portal;
mod runs_store;
mod security;
mod store;
mod support;
mod xero_client;
mod zoho_client;
