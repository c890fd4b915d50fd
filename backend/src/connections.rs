//! The connections the service holds, made the same way whoever makes them (an admin's clicks, or the demo
//! at start-up): Xero (consent with PKCE and a single-use state, the choice of organisation, disconnecting
//! with the refresh token revoked), Zoho (a Self Client code) and the widget's API key. The admin handlers
//! only render what these return.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{TimeDelta, Utc};
use secrecy::{ExposeSecret, SecretString};

use crate::config::{FIELD_VARIABLES, Settings};
use crate::retry::RetryPolicy;
use crate::store::{ConnectionStatus, PendingTenant, Store, StoreError, XeroConnection, ZohoConnection, hash_api_key};
use crate::xero::{LimitStatus, Tenant, XeroClient, XeroError, pkce_pair};
use crate::zoho::{ZohoClient, ZohoError};

/// Called with each new API key once it is stored: the demo passes it to the emulated CRM's Connection,
/// as an admin pastes it into Zoho's.
pub type ApiKeyHook = Arc<dyn Fn(&SecretString) + Send + Sync>;

/// The scopes a Zoho Self Client code needs: the products (to sync), the fields settings (to check the
/// custom fields exist) and the organisation (its `domain_name`, for links to records). Only the first is
/// needed to sync; without the others the admin pages say what they could not check.
pub const ZOHO_SCOPES: [&str; 3] = ["ZohoCRM.modules.products.ALL", "ZohoCRM.settings.fields.READ", "ZohoCRM.org.READ"];

/// How long the admin has to consent at Xero.
const STATE_TTL: TimeDelta = TimeDelta::minutes(10);
/// How long the dashboard waits for Zoho's field list.
const CRM_FIELDS_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a page waits for the CRM organisation's `domain_name`, and how long an answer (or its absence)
/// is kept before asking again.
const CRM_ORG_TIMEOUT: Duration = Duration::from_secs(5);
const CRM_ORG_TTL: Duration = Duration::from_secs(10 * 60);

/// The CRM page of a Products record: `{crm_url}/crm/{org}/tab/Products/{id}`. Without the organisation's
/// `domain_name` (a grant without `ZohoCRM.org.READ`), `{crm_url}/crm/tab/Products/{id}`, which Zoho opens
/// in the user's organisation. The one place a record link is made.
pub fn crm_record_url(crm_url: &str, org: Option<&str>, id: &str) -> String {
    let crm_url = crm_url.trim_end_matches('/');
    let id: String = id.chars().filter(char::is_ascii_alphanumeric).collect();
    match org.filter(|org| !org.is_empty() && org.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')) {
        Some(org) => format!("{crm_url}/crm/{org}/tab/Products/{id}"),
        None => format!("{crm_url}/crm/tab/Products/{id}"),
    }
}

/// Where the admin pages link a product: its CRM record, and its item in Xero.
#[derive(Debug, Clone)]
pub struct RecordLinks {
    crm_url: String,
    org: Option<String>,
}

impl RecordLinks {
    pub fn new(crm_url: &str, org: Option<&str>) -> Self {
        Self { crm_url: crm_url.to_owned(), org: org.map(str::to_owned) }
    }

    /// The product's record in Zoho CRM ([`crm_record_url`]).
    pub fn crm_record(&self, product_id: &str) -> String {
        crm_record_url(&self.crm_url, self.org.as_deref(), product_id)
    }

    /// The item in Xero ([`shared::xero::item_url`]).
    pub fn xero_item(&self, item_id: &str) -> String {
        shared::xero::item_url(item_id)
    }
}

/// The organisation's `domain_name` as last asked, and when.
#[derive(Debug, Default)]
struct OrgCache {
    domain_name: Option<String>,
    asked: Option<std::time::Instant>,
}

/// Xero's answer at the redirect URI, as its query parameters.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct XeroAnswer {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
}

/// Where a consent left the Xero connection.
#[derive(Debug, Clone)]
pub enum Consented {
    /// One organisation: it is the one synced to now.
    Connected(PendingTenant),
    /// Several: the admin chooses ([`Connections::choose_tenant`]).
    ChooseAmong(Vec<PendingTenant>),
}

/// Why a consent did not connect Xero.
#[derive(Debug, thiserror::Error)]
pub enum ConsentError {
    #[error("Xero's answer had no state")]
    NoState,
    #[error("you cancelled at Xero, so nothing changed")]
    Cancelled,
    #[error("Xero answered with the error “{0}”")]
    Refused(String),
    #[error("this Xero answer is unknown, expired or already used")]
    UnknownState,
    #[error("Xero's answer had no authorization code")]
    NoCode,
    #[error("Xero connected no organisation")]
    NoOrganisation,
    /// The code exchange was refused as `invalid_request` while sending a PKCE verifier with the client
    /// secret, which Xero may not accept from a Web app (fidelity-audit X8).
    #[error(
        "Xero refused the code exchange (invalid_request). If the Xero app is a Web app that does not accept \
         PKCE together with its client secret, set XERO_USE_PKCE=false and connect again"
    )]
    PkceRefused,
    #[error(transparent)]
    Xero(#[from] XeroError),
    #[error("storage failed")]
    Store(#[from] StoreError),
}

/// The organisation chosen after a consent, and the others Xero did not confirm disconnecting.
#[derive(Debug)]
pub struct TenantChosen {
    pub tenant: PendingTenant,
    pub not_disconnected: Vec<(PendingTenant, XeroError)>,
}

#[derive(Debug, thiserror::Error)]
pub enum ChoiceError {
    #[error("that organisation is not one the last Xero consent offered")]
    NotOffered,
    #[error("storage failed")]
    Store(#[from] StoreError),
}

/// Why a Zoho Self Client code did not connect Zoho.
#[derive(Debug, thiserror::Error)]
pub enum ZohoCodeError {
    #[error("that is not a Zoho Self Client code")]
    Malformed,
    #[error("Zoho did not accept the code")]
    Refused(#[source] ZohoError),
}

/// A new API key, shown once. `forwarded` when a hook (the demo's) passed it on to the CRM's Connection.
#[derive(Debug)]
pub struct RotatedKey {
    pub key: SecretString,
    pub forwarded: bool,
}

/// What the dashboard shows about the connections.
#[derive(Debug)]
pub struct Overview {
    pub xero: Option<XeroConnection>,
    /// What Xero last said about the organisation's quota; `None` before the first call.
    pub xero_limits: Option<LimitStatus>,
    /// A consent reached several organisations and none is chosen yet.
    pub choosing: bool,
    pub zoho: Option<ZohoConnection>,
    pub has_api_key: bool,
}

/// Whether the CRM has the configured custom fields (a missing one, often renamed by an admin, would
/// otherwise show only as products failing to sync).
#[derive(Debug)]
pub enum FieldCheck {
    /// Each custom field: its label, configured API name, the variable naming it, and whether the CRM has it.
    Checked(Vec<CustomField>),
    /// The grant lacks `ZohoCRM.settings.fields.READ` (syncing does not need it).
    ScopeMissing,
    Failed(ZohoError),
    TimedOut,
}

#[derive(Debug)]
pub struct CustomField {
    pub label: &'static str,
    pub api_name: String,
    pub variable: &'static str,
    pub present: bool,
}

/// The connection service; cheap to clone.
#[derive(Clone)]
pub struct Connections {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    xero: XeroClient,
    zoho: ZohoClient,
    settings: Arc<Settings>,
    on_api_key: Option<ApiKeyHook>,
    org: tokio::sync::Mutex<OrgCache>,
}

impl Connections {
    pub(crate) fn new(
        store: Store,
        xero: XeroClient,
        zoho: ZohoClient,
        settings: Arc<Settings>,
        on_api_key: Option<ApiKeyHook>,
    ) -> Self {
        let org = tokio::sync::Mutex::new(OrgCache::default());
        Self { inner: Arc::new(Inner { store, xero, zoho, settings, on_api_key, org }) }
    }

    /// Starts a Xero consent: remembers a single-use state with its PKCE verifier, and returns the URL of
    /// Xero's consent page to send the admin to (with the PKCE challenge unless `XERO_USE_PKCE` is off; the
    /// verifier is kept either way, and only sent with a challenge).
    pub async fn begin_xero_consent(&self) -> Result<String, ConsentError> {
        let (verifier, challenge) = pkce_pair();
        let state = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
        self.inner.store.save_oauth_state(&state, &verifier, STATE_TTL).await?;
        let settings = &self.inner.settings;
        let scopes: Vec<&str> = settings.xero_scopes.split_whitespace().collect();
        let challenge = settings.xero_use_pkce.then_some(challenge.as_str());
        Ok(self.inner.xero.authorize_url(&settings.xero_redirect_uri(), &state, challenge, &scopes)?)
    }

    /// Finishes a consent with Xero's answer: exchanges the code and lists the organisations it reached.
    /// The state is spent whatever the outcome: it is good for one answer.
    pub async fn finish_xero_consent(&self, answer: XeroAnswer) -> Result<Consented, ConsentError> {
        let state = answer.state.filter(|s| !s.is_empty()).ok_or(ConsentError::NoState)?;
        let verifier = self.inner.store.take_oauth_state(&state).await?;
        if let Some(error) = answer.error {
            return Err(if error == "access_denied" { ConsentError::Cancelled } else { ConsentError::Refused(error) });
        }
        let verifier = verifier.ok_or(ConsentError::UnknownState)?;
        let code = answer.code.filter(|c| !c.is_empty()).ok_or(ConsentError::NoCode)?;
        let (xero, settings) = (&self.inner.xero, &self.inner.settings);
        let verifier = settings.xero_use_pkce.then_some(&verifier);
        match xero.exchange_code(&code, &settings.xero_redirect_uri(), verifier).await {
            Err(XeroError::Unexpected { body_excerpt, .. })
                if settings.xero_use_pkce && body_excerpt.ends_with("invalid_request") =>
            {
                return Err(ConsentError::PkceRefused);
            }
            other => other?,
        };
        let tenants: Vec<PendingTenant> = xero.connections().await?.into_iter().map(pending).collect();
        match tenants.as_slice() {
            [] => Err(ConsentError::NoOrganisation),
            [only] => {
                self.use_tenant(only).await?;
                Ok(Consented::Connected(only.clone()))
            }
            _ => {
                self.inner.store.save_pending_tenants(&tenants).await?;
                Ok(Consented::ChooseAmong(tenants))
            }
        }
    }

    /// The organisations the last consent offered, while none is chosen.
    pub async fn pending_tenants(&self) -> Result<Vec<PendingTenant>, StoreError> {
        self.inner.store.pending_tenants().await
    }

    /// Makes `tenant_id` (one the last consent offered) the organisation to sync to, and disconnects the
    /// others the consent connected: xero-sync keeps no access it does not use.
    pub async fn choose_tenant(&self, tenant_id: &str) -> Result<TenantChosen, ChoiceError> {
        let tenants = self.inner.store.pending_tenants().await?;
        let tenant = tenants.iter().find(|t| t.tenant_id == tenant_id).ok_or(ChoiceError::NotOffered)?.clone();
        self.use_tenant(&tenant).await?;
        // `/connections` lists every organisation this user connected to the app. A connection is removed
        // once, and never the chosen one's.
        let mut others: Vec<&PendingTenant> =
            tenants.iter().filter(|t| t.connection_id != tenant.connection_id).collect();
        others.dedup_by(|a, b| a.connection_id == b.connection_id);
        let mut not_disconnected = Vec::new();
        for other in others {
            match self.inner.xero.disconnect(&other.connection_id).await {
                Ok(()) => tracing::info!(tenant_id = %other.tenant_id, "unused xero organisation disconnected"),
                Err(error) => {
                    let reason = crate::describe(&error);
                    tracing::warn!(tenant_id = %other.tenant_id, %reason, "could not disconnect an unused xero organisation");
                    not_disconnected.push((other.clone(), error));
                }
            }
        }
        Ok(TenantChosen { tenant, not_disconnected })
    }

    /// Makes `tenant` the organisation to sync to (replacing any other, clearing "reconnect needed").
    async fn use_tenant(&self, tenant: &PendingTenant) -> Result<(), StoreError> {
        let connection = XeroConnection {
            tenant_id: tenant.tenant_id.clone(),
            tenant_name: tenant.tenant_name.clone(),
            connection_id: tenant.connection_id.clone(),
            status: ConnectionStatus::Connected,
            status_reason: None,
            updated_at: Utc::now(),
        };
        self.inner.store.save_xero_connection(&connection).await?;
        self.inner.store.save_pending_tenants(&[]).await?;
        tracing::info!(tenant_id = %tenant.tenant_id, "xero organisation connected");
        Ok(())
    }

    /// Disconnects Xero: removes the connection at Xero and revokes the refresh token there, then forgets
    /// the connection and the tokens here. What Xero did not confirm is returned; the local side is gone
    /// regardless, because the admin asked for it to go.
    pub async fn disconnect_xero(&self) -> Result<Vec<XeroError>, StoreError> {
        let store = &self.inner.store;
        let mut not_confirmed = Vec::new();
        if let Some(connection) = store.xero_connection().await?
            && let Err(error) = self.inner.xero.disconnect(&connection.connection_id).await
        {
            not_confirmed.push(error);
        }
        if let Err(error) = self.inner.xero.revoke().await {
            not_confirmed.push(error);
        }
        store.delete_xero_connection().await?;
        store.save_pending_tenants(&[]).await?;
        store.clear_xero_tokens().await?;
        tracing::info!(confirmed_by_xero = not_confirmed.is_empty(), "xero disconnected");
        Ok(not_confirmed)
    }

    /// Connects Zoho with a Self Client code, keeping the refresh token it yields.
    pub async fn connect_zoho(&self, code: &str) -> Result<(), ZohoCodeError> {
        let code = code.trim();
        // Zoho codes are short tokens like `1000.abc….def…`.
        if code.is_empty() || code.len() > 512 || !code.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ZohoCodeError::Malformed);
        }
        self.inner.zoho.exchange_self_client_code(code).await.map_err(ZohoCodeError::Refused)?;
        // Another grant may reach another organisation, or have the org scope this one lacked.
        *self.inner.org.lock().await = OrgCache::default();
        tracing::info!("zoho connected with a self client code");
        Ok(())
    }

    /// A new API key for the CRM Connection; the previous one stops working at once. Only its hash is
    /// stored, so this is the one time it can be shown.
    pub async fn rotate_api_key(&self) -> Result<RotatedKey, StoreError> {
        let key = SecretString::from(URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>()));
        self.inner.store.set_api_key_hash(&hash_api_key(key.expose_secret())).await?;
        tracing::info!("widget api key rotated");
        let forwarded = match &self.inner.on_api_key {
            Some(hook) => {
                hook(&key);
                true
            }
            None => false,
        };
        Ok(RotatedKey { key, forwarded })
    }

    /// The state of every connection, for the dashboard.
    pub async fn overview(&self) -> Result<Overview, StoreError> {
        let store = &self.inner.store;
        let xero = store.xero_connection().await?;
        let xero_limits = xero.as_ref().and_then(|c| self.inner.xero.limits(&c.tenant_id));
        Ok(Overview {
            xero,
            xero_limits,
            choosing: !store.pending_tenants().await?.is_empty(),
            zoho: store.zoho_connection().await?,
            has_api_key: store.api_key_hash().await?.is_some(),
        })
    }

    /// Links for the admin pages. The CRM organisation's `domain_name` is asked of Zoho once in a while
    /// (one quick try: a slow or refusing Zoho only makes the links go without it).
    pub async fn record_links(&self) -> RecordLinks {
        let mut cache = self.inner.org.lock().await;
        if cache.asked.is_none_or(|at| at.elapsed() >= CRM_ORG_TTL) {
            let zoho = self.inner.zoho.clone().with_retry(RetryPolicy::NONE);
            cache.domain_name = match tokio::time::timeout(CRM_ORG_TIMEOUT, zoho.org_domain_name()).await {
                Ok(Ok(name)) => Some(name),
                Ok(Err(error)) => {
                    tracing::info!(%error, "the CRM organisation is unknown; record links go without it");
                    None
                }
                Err(_) => None,
            };
            cache.asked = Some(std::time::Instant::now());
        }
        RecordLinks::new(&self.inner.settings.crm_url, cache.domain_name.as_deref())
    }

    /// Checks the CRM's Products fields against the configured custom fields: one quick try, so a slow or
    /// refusing Zoho does not hold up the dashboard.
    pub async fn check_crm_fields(&self, fields: &shared::FieldMap) -> FieldCheck {
        let zoho = self.inner.zoho.clone().with_retry(RetryPolicy::NONE);
        let names = match tokio::time::timeout(CRM_FIELDS_TIMEOUT, zoho.product_field_names()).await {
            Ok(Ok(names)) => names,
            Ok(Err(ZohoError::Unexpected { code, .. })) if code == "OAUTH_SCOPE_MISMATCH" => {
                return FieldCheck::ScopeMissing;
            }
            Ok(Err(error)) => return FieldCheck::Failed(error),
            Err(_) => return FieldCheck::TimedOut,
        };
        let fields = fields.custom_fields();
        FieldCheck::Checked(
            fields
                .into_iter()
                .zip(FIELD_VARIABLES)
                .map(|((label, name), variable)| CustomField {
                    label,
                    api_name: name.to_owned(),
                    variable,
                    present: names.iter().any(|n| n == name),
                })
                .collect(),
        )
    }
}

fn pending(tenant: Tenant) -> PendingTenant {
    PendingTenant {
        tenant_id: tenant.tenant_id,
        tenant_name: tenant.tenant_name.unwrap_or_default(),
        connection_id: tenant.connection_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_links_name_the_org_when_known_and_nothing_else_in_the_path() {
        let crm = "https://crm.zoho.eu/";
        assert_eq!(
            crm_record_url(crm, Some("org20071234"), "4150868000000411001"),
            "https://crm.zoho.eu/crm/org20071234/tab/Products/4150868000000411001"
        );
        assert_eq!(
            crm_record_url(crm, None, "4150868000000411001"),
            "https://crm.zoho.eu/crm/tab/Products/4150868000000411001"
        );
        assert_eq!(crm_record_url(crm, Some(""), "1"), "https://crm.zoho.eu/crm/tab/Products/1");
        // Nothing from the outside can add a path or a query.
        assert_eq!(crm_record_url(crm, Some("../x?y"), "1/../2?q#f"), "https://crm.zoho.eu/crm/tab/Products/12qf");
        let links = RecordLinks::new("http://127.0.0.1:9", Some("org7"));
        assert_eq!(links.crm_record("5"), "http://127.0.0.1:9/crm/org7/tab/Products/5");
        assert_eq!(links.xero_item("abc"), "https://go.xero.com/Accounts/Inventory/abc");
    }
}
