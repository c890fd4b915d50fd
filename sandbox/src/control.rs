//! The simulators' test hooks over HTTP, for tests that run the simulators in another process than the
//! service (a crash test kills the service, not the simulators). Served by the `sandbox` binary with
//! `--control-addr`; never part of the simulated services' own surface, and never in the product.
//!
//! | route | answer |
//! | --- | --- |
//! | `GET /xero/tenants` | `[{"name", "tenantId"}]` |
//! | `GET /xero/items?tenant=ID` | the tenant's items in Xero's JSON shape (4 decimals) |
//! | `GET /xero/limits?tenant=ID` | calls left this minute and today, and when each window resets |
//! | `GET /zoho/products` and `/zoho/products/{id}` | the records as stored |
//! | `GET /zoho/generated` | `[{"id", "code", "kind"}]`, `kind` as in [`crate::zoho::ProductKind`]'s `Debug` |
//! | `GET /zoho/credits` | the API credits of the rolling day |
//! | `POST /zoho/code` | `{"code"}`: a fresh Self Client code (products and field-settings scopes) |
//! | `POST /zoho/edits?count=N` | `{"ids"}`: N products edited as a CRM user would |

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::xero::XeroSim;
use crate::zoho::ZohoSim;

#[derive(Clone)]
struct Sims {
    xero: XeroSim,
    zoho: ZohoSim,
}

type Params = Query<HashMap<String, String>>;

/// The control routes over the two simulators.
pub fn router(xero: XeroSim, zoho: ZohoSim) -> Router {
    Router::new()
        .route("/xero/tenants", get(tenants))
        .route("/xero/items", get(items))
        .route("/xero/limits", get(limits))
        .route("/zoho/products", get(products))
        .route("/zoho/products/{id}", get(product))
        .route("/zoho/generated", get(generated))
        .route("/zoho/credits", get(credits))
        .route("/zoho/code", post(code))
        .route("/zoho/edits", post(edits))
        .with_state(Sims { xero, zoho })
}

/// The tenant id `?tenant=` names (by id or organisation name).
fn tenant(sims: &Sims, params: &HashMap<String, String>) -> Option<String> {
    let wanted = params.get("tenant").map(String::as_str).unwrap_or_default();
    sims.xero
        .tenants()
        .into_iter()
        .find(|(name, id)| id.eq_ignore_ascii_case(wanted) || name == wanted)
        .map(|(_, id)| id)
}

fn no_tenant(params: &HashMap<String, String>) -> Response {
    (StatusCode::NOT_FOUND, format!("no tenant {:?}", params.get("tenant"))).into_response()
}

async fn tenants(State(sims): State<Sims>) -> Response {
    let list: Vec<Value> =
        sims.xero.tenants().into_iter().map(|(name, id)| json!({"name": name, "tenantId": id})).collect();
    axum::Json(list).into_response()
}

async fn items(State(sims): State<Sims>, Query(params): Params) -> Response {
    match tenant(&sims, &params) {
        Some(id) => axum::Json(sims.xero.items(&id).iter().map(|i| i.to_json(4)).collect::<Vec<_>>()).into_response(),
        None => no_tenant(&params),
    }
}

async fn limits(State(sims): State<Sims>, Query(params): Params) -> Response {
    match tenant(&sims, &params) {
        Some(id) => {
            let status = sims.xero.limit_status(&id);
            axum::Json(json!({
                "minute_remaining": status.minute_remaining,
                "day_remaining": status.day_remaining,
                "in_flight": status.in_flight,
                "minute_resets_in_s": status.minute_resets_in.map(|d| d.as_secs_f64()),
                "day_resets_in_s": status.day_resets_in.map(|d| d.as_secs_f64()),
            }))
            .into_response()
        }
        None => no_tenant(&params),
    }
}

async fn products(State(sims): State<Sims>) -> Response {
    axum::Json(sims.zoho.products()).into_response()
}

async fn product(State(sims): State<Sims>, Path(id): Path<String>) -> Response {
    match sims.zoho.product(&id) {
        Some(record) => axum::Json(record).into_response(),
        None => (StatusCode::NOT_FOUND, format!("no product {id}")).into_response(),
    }
}

async fn generated(State(sims): State<Sims>) -> Response {
    let list: Vec<Value> = sims
        .zoho
        .generated()
        .iter()
        .map(|p| json!({"id": p.id, "code": p.code, "kind": format!("{:?}", p.kind)}))
        .collect();
    axum::Json(list).into_response()
}

async fn credits(State(sims): State<Sims>) -> Response {
    let credits = sims.zoho.credits();
    axum::Json(json!({
        "allowance": credits.allowance,
        "used": credits.used,
        "remaining": credits.remaining,
        "next_release_in_s": credits.next_release_in.map(|d| d.as_secs_f64()),
    }))
    .into_response()
}

async fn code(State(sims): State<Sims>) -> Response {
    let code = sims.zoho.self_client_code(&["ZohoCRM.modules.products.ALL", "ZohoCRM.settings.fields.READ"]);
    axum::Json(json!({"code": code})).into_response()
}

async fn edits(State(sims): State<Sims>, Query(params): Params) -> Response {
    let Some(count) = params.get("count").and_then(|c| c.parse::<usize>().ok()) else {
        return (StatusCode::BAD_REQUEST, "count=N is required").into_response();
    };
    axum::Json(json!({"ids": sims.zoho.edit_some_products(count)})).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Sandbox, SandboxConfig};

    #[tokio::test]
    async fn the_hooks_answer_over_http() {
        let mut config = SandboxConfig::default();
        config.zoho.generated_products = 20;
        let sandbox = Sandbox::start(config).await.expect("sandbox");
        let (listener, url) = crate::bind(std::net::SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("bind");
        let _guard = crate::serve(listener, router(sandbox.xero.clone(), sandbox.zoho.clone()));
        let http = reqwest::Client::new();
        let get = |path: &str| {
            let request = http.get(format!("{url}{path}"));
            async move { request.send().await.expect("answer") }
        };
        let tenants: Value = get("/xero/tenants").await.json().await.expect("json");
        assert_eq!(tenants.as_array().map(Vec::len), Some(2));
        let au = sandbox.xero.tenant_id(crate::xero::AU_ORG).expect("AU");
        sandbox.xero.create_item(&au, "CTL-1", "Control").expect("item");
        let items: Value = get(&format!("/xero/items?tenant={au}")).await.json().await.expect("json");
        assert_eq!(items[0]["Code"], "CTL-1");
        let by_name: Value = get("/xero/items?tenant=Demo%20Company%20(AU)").await.json().await.expect("json");
        assert_eq!(by_name, items);
        assert_eq!(get("/xero/items?tenant=nobody").await.status(), StatusCode::NOT_FOUND);
        let limits: Value = get(&format!("/xero/limits?tenant={au}")).await.json().await.expect("json");
        assert_eq!(limits["day_remaining"], 1000);

        let generated: Value = get("/zoho/generated").await.json().await.expect("json");
        assert_eq!(generated.as_array().map(Vec::len), Some(20));
        let id = generated[0]["id"].as_str().expect("id");
        let record: Value = get(&format!("/zoho/products/{id}")).await.json().await.expect("json");
        assert_eq!(record["id"], id);
        let all: Value = get("/zoho/products").await.json().await.expect("json");
        assert_eq!(all.as_array().map(Vec::len), Some(41), "the 21 seeded products and the 20 generated");
        let edited: Value =
            http.post(format!("{url}/zoho/edits?count=3")).send().await.expect("answer").json().await.expect("json");
        assert_eq!(edited["ids"].as_array().map(Vec::len), Some(3));
        let code: Value =
            http.post(format!("{url}/zoho/code")).send().await.expect("answer").json().await.expect("json");
        assert!(code["code"].as_str().is_some_and(|c| c.starts_with("1000.")));
        let credits: Value = get("/zoho/credits").await.json().await.expect("json");
        assert_eq!(credits["allowance"], 50_000);
    }
}
