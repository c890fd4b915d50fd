//! What the routes share, and the slices of it each kind of handler takes (`FromRef`): the widget API
//! needs the engine and the session keys, the widget page its [`WidgetPage`], the admin pages their
//! [`AdminState`]. Cheap to clone: everything inside is reference-counted.

use std::sync::Arc;

use axum::extract::FromRef;

use crate::address::TrustedProxies;
use crate::admin::AdminState;
use crate::api::{SessionKeys, WrongKeys};
use crate::config::{Mode, Settings};
use crate::connections::Connections;
use crate::store::Store;
use crate::sync::Engine;
use crate::widget::WidgetPage;

#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) settings: Arc<Settings>,
    pub(crate) store: Store,
    pub(crate) engine: Engine,
    pub(crate) connections: Connections,
    pub(crate) sessions: SessionKeys,
    pub(crate) wrong_keys: WrongKeys,
    pub(crate) proxies: TrustedProxies,
    pub(crate) widget: WidgetPage,
    pub(crate) admin: AdminState,
}

impl FromRef<AppState> for Mode {
    fn from_ref(state: &AppState) -> Self {
        state.settings.mode
    }
}

impl FromRef<AppState> for Engine {
    fn from_ref(state: &AppState) -> Self {
        state.engine.clone()
    }
}

impl FromRef<AppState> for Store {
    fn from_ref(state: &AppState) -> Self {
        state.store.clone()
    }
}

impl FromRef<AppState> for SessionKeys {
    fn from_ref(state: &AppState) -> Self {
        state.sessions.clone()
    }
}

impl FromRef<AppState> for WidgetPage {
    fn from_ref(state: &AppState) -> Self {
        state.widget.clone()
    }
}

impl FromRef<AppState> for AdminState {
    fn from_ref(state: &AppState) -> Self {
        state.admin.clone()
    }
}

impl FromRef<AppState> for WrongKeys {
    fn from_ref(state: &AppState) -> Self {
        state.wrong_keys.clone()
    }
}

impl FromRef<AppState> for TrustedProxies {
    fn from_ref(state: &AppState) -> Self {
        state.proxies.clone()
    }
}
