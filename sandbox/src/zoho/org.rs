//! `GET /crm/v8/org` (scope `ZohoCRM.org.READ`): the organisation, of which a client needs the
//! `domain_name`, the `org…` segment of the CRM's record URLs (`https://crm.zoho.com/crm/{domain_name}/tab/
//! Products/{id}`). Shape from Zoho's Organization API (`{"org": [{…}]}`, one element), with the fields a
//! client may read; the emulated CRM page serves record pages under the same segment.

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::Inner;
use super::error::ZohoError;
use super::oauth::Operation;
use super::records::authorize;

/// The simulated org's `domain_name`.
pub const ORG_DOMAIN_NAME: &str = "org7001234567";

pub(super) async fn org(State(inner): State<Arc<Inner>>, headers: HeaderMap) -> Result<Response, ZohoError> {
    authorize(&inner, &headers, Operation::ReadOrg)?;
    let org = json!({
        "id": "7001234567000000001",
        "domain_name": ORG_DOMAIN_NAME,
        "zgid": "7001234567",
        "company_name": "Sandbox Trading Pty Ltd",
        "primary_email": "admin@sandbox.example",
        "time_zone": "Australia/Sydney",
        "country_code": "AU",
        "currency": "Australian Dollar",
        "iso_code": "AUD",
        "currency_symbol": "A$",
        "currency_locale": "en_AU",
        "mc_status": false,
        "license_details": {"paid": true, "paid_type": "enterprise", "users_license_purchased": 10},
    });
    Ok(axum::Json(json!({ "org": [org] })).into_response())
}
