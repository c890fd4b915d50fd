//! Which Xero item each CRM product became, so a re-sync updates it instead of creating a duplicate, and
//! what Xero held of it right after our write, so an edit made in Xero since is seen.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Store, StoreError, millis, time};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemLink {
    pub product_id: String,
    pub tenant_id: String,
    /// Xero's ItemID.
    pub item_id: String,
    /// The item's Code when last synced.
    pub code: String,
    /// A hash of the payload last sent, so an unchanged product is not sent again.
    pub payload_hash: String,
    pub synced_at: DateTime<Utc>,
}

/// What Xero held of an item right after our last write: the fields the sync manages, as Xero answered
/// them (its own rounding and all), and its `UpdatedDateUTC`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ItemState {
    pub code: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub unit_price: Option<f64>,
    #[serde(default)]
    pub account_code: Option<String>,
    #[serde(default)]
    pub tax_type: Option<String>,
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}

type LinkRow = (String, String, String, String, String, i64);
type LinkStateRow = (String, String, String, String, String, i64, Option<String>);

fn link((product_id, tenant_id, item_id, code, payload_hash, synced_at): LinkRow) -> Result<ItemLink, StoreError> {
    Ok(ItemLink {
        product_id,
        tenant_id,
        item_id,
        code,
        payload_hash,
        synced_at: time("item_links.synced_at", synced_at)?,
    })
}

impl Store {
    pub async fn item_link(&self, product_id: &str, tenant_id: &str) -> Result<Option<ItemLink>, StoreError> {
        let row: Option<LinkRow> = sqlx::query_as(
            "SELECT product_id, tenant_id, item_id, code, payload_hash, synced_at
             FROM item_links WHERE product_id = ? AND tenant_id = ?",
        )
        .bind(product_id)
        .bind(tenant_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(link).transpose()
    }

    /// The product an item is linked to, e.g. before adopting an item found by code.
    pub async fn item_link_by_item(&self, tenant_id: &str, item_id: &str) -> Result<Option<ItemLink>, StoreError> {
        let row: Option<LinkRow> = sqlx::query_as(
            "SELECT product_id, tenant_id, item_id, code, payload_hash, synced_at
             FROM item_links WHERE tenant_id = ? AND item_id = ?",
        )
        .bind(tenant_id)
        .bind(item_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(link).transpose()
    }

    /// The product's link with what Xero held of the item after our last write, when that is known.
    pub async fn item_link_with_state(
        &self,
        product_id: &str,
        tenant_id: &str,
    ) -> Result<Option<(ItemLink, Option<ItemState>)>, StoreError> {
        let row: Option<LinkStateRow> = sqlx::query_as(
            "SELECT product_id, tenant_id, item_id, code, payload_hash, synced_at, xero_state
             FROM item_links WHERE product_id = ? AND tenant_id = ?",
        )
        .bind(product_id)
        .bind(tenant_id)
        .fetch_optional(&self.pool)
        .await?;
        let Some((product_id, tenant_id, item_id, code, payload_hash, synced_at, state)) = row else { return Ok(None) };
        let link = link((product_id, tenant_id, item_id, code, payload_hash, synced_at))?;
        let state = state
            .map(|text| serde_json::from_str(&text))
            .transpose()
            .map_err(|e| StoreError::Corrupt { column: "item_links.xero_state", reason: e.to_string() })?;
        Ok(Some((link, state)))
    }

    /// Forgets the product's link (the item it named is gone from Xero); true if there was one.
    pub async fn delete_item_link(&self, product_id: &str, tenant_id: &str) -> Result<bool, StoreError> {
        let result = sqlx::query("DELETE FROM item_links WHERE product_id = ? AND tenant_id = ?")
            .bind(product_id)
            .bind(tenant_id)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected() > 0)
    }

    /// Creates or updates the product's link. An item already linked to another product of the tenant is
    /// refused ([`StoreError::ItemLinkedElsewhere`]): two products writing one item would undo each other.
    /// What Xero held of the item is forgotten (unknown after a write that did not say).
    pub async fn save_item_link(&self, link: &ItemLink) -> Result<(), StoreError> {
        self.save_link(link, None).await
    }

    /// [`Store::save_item_link`], with what Xero answered it holds after our write.
    pub async fn save_item_link_with_state(&self, link: &ItemLink, state: &ItemState) -> Result<(), StoreError> {
        self.save_link(link, Some(state)).await
    }

    async fn save_link(&self, link: &ItemLink, state: Option<&ItemState>) -> Result<(), StoreError> {
        let state =
            state.map(serde_json::to_string).transpose().map_err(|e| StoreError::InvalidArgument(e.to_string()))?;
        let result = sqlx::query(
            "INSERT INTO item_links (product_id, tenant_id, item_id, code, payload_hash, synced_at, xero_state)
             VALUES (?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (product_id, tenant_id) DO UPDATE SET
                 item_id = excluded.item_id, code = excluded.code,
                 payload_hash = excluded.payload_hash, synced_at = excluded.synced_at,
                 xero_state = excluded.xero_state",
        )
        .bind(&link.product_id)
        .bind(&link.tenant_id)
        .bind(&link.item_id)
        .bind(&link.code)
        .bind(&link.payload_hash)
        .bind(millis(link.synced_at))
        .bind(state)
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                let owner = self.item_link_by_item(&link.tenant_id, &link.item_id).await?;
                Err(StoreError::ItemLinkedElsewhere {
                    tenant_id: link.tenant_id.clone(),
                    item_id: link.item_id.clone(),
                    product_id: owner.map(|owner| owner.product_id).unwrap_or_default(),
                })
            }
            Err(e) => Err(e.into()),
        }
    }
}
