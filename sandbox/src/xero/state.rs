//! The simulator's in-memory state, behind one mutex that is never held across an `.await`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::XeroConfig;
use super::accounting::Idempotent;
use super::faults::Faults;
use super::identity::Identity;
use super::limits::Limiter;
use super::seed::Org;
use super::time::SimTime;

/// Everything the handlers share.
pub struct Shared {
    pub time: SimTime,
    inner: Mutex<Inner>,
}

pub struct Inner {
    pub config: XeroConfig,
    pub orgs: Vec<Org>,
    pub identity: Identity,
    /// Idempotency keys of the (single) app, by key.
    pub idempotency: HashMap<String, Idempotent>,
    pub limiter: Limiter,
    pub faults: Faults,
    pub calls: Vec<CallRecord>,
}

/// One request the simulator received, for test inspection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    pub method: String,
    /// Path without the query, e.g. `/api.xro/2.0/Items`.
    pub path: String,
    pub query: Option<String>,
    /// The `xero-tenant-id` header as sent, if any.
    pub tenant: Option<String>,
    /// The `Idempotency-Key` header as sent, if any (whatever the method).
    pub idempotency_key: Option<String>,
    pub status: u16,
    /// The response was processed but the connection cut instead of delivering it.
    pub dropped: bool,
}

impl Shared {
    pub fn new(time: SimTime, config: XeroConfig, orgs: Vec<Org>) -> Arc<Self> {
        let inner = Inner {
            faults: Faults::new(config.faults.clone()),
            identity: Identity::default(),
            idempotency: HashMap::new(),
            limiter: Limiter::default(),
            calls: Vec::new(),
            orgs,
            config,
        };
        Arc::new(Self { time, inner: Mutex::new(inner) })
    }

    /// Locks the state; a handler that panicked mid-update cannot wedge the simulator.
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Inner {
    pub fn org(&self, tenant_id: &str) -> Option<&Org> {
        self.orgs.iter().find(|o| o.tenant_id.eq_ignore_ascii_case(tenant_id))
    }

    pub fn org_mut(&mut self, tenant_id: &str) -> Option<&mut Org> {
        self.orgs.iter_mut().find(|o| o.tenant_id.eq_ignore_ascii_case(tenant_id))
    }
}

/// An occupied in-flight slot of a tenant; dropping it (also when the client gives up and the handler
/// future is dropped) gives the slot back.
pub struct InFlight {
    pub shared: Arc<Shared>,
    pub tenant: String,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.shared.lock().limiter.release(&self.tenant);
    }
}
