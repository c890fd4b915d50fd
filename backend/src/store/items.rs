//! Which Xero item each CRM product became, so a re-sync updates it instead of creating a duplicate.

use chrono::{DateTime, Utc};

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

type LinkRow = (String, String, String, String, String, i64);

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
    pub async fn save_item_link(&self, link: &ItemLink) -> Result<(), StoreError> {
        let result = sqlx::query(
            "INSERT INTO item_links (product_id, tenant_id, item_id, code, payload_hash, synced_at)
             VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (product_id, tenant_id) DO UPDATE SET
                 item_id = excluded.item_id, code = excluded.code,
                 payload_hash = excluded.payload_hash, synced_at = excluded.synced_at",
        )
        .bind(&link.product_id)
        .bind(&link.tenant_id)
        .bind(&link.item_id)
        .bind(&link.code)
        .bind(&link.payload_hash)
        .bind(millis(link.synced_at))
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
