//! Admin pages: login, connections, API key, sync log (being written).

use axum::Router;

use crate::api::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
}
