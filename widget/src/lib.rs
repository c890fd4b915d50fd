//! The "Sync to Xero" widget, in the popup of the Zoho CRM product record's button.
//!
//! It reads the record through Zoho's SDK ([`zoho`]), checks it with the shared rules compiled to wasm on
//! every keystroke ([`state`]), so the feedback is instant and identical to what the backend enforces,
//! writes fixes back with the SDK, and syncs through the backend's API ([`api`]).
//!
//! - `app`: the root component: start-up, and the save, sync and close actions.
//! - `hooks`: the popup's effects on the page (resizing it to its content, moving the focus).
//! - `components`: the views, one small function per part of the popup.

pub mod api;
mod app;
mod components;
mod format;
mod hooks;
mod json;
pub mod state;
pub mod zoho;

pub use app::{App, MARK_CHECKLIST, MARK_PAGE_LOAD};
pub use components::{ProductView, ProductViewProps};
