//! Which Xero organisation and which Zoho grant the service uses, and whether they still work.

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::{Store, StoreError, millis, time};

/// Whether a connection works, or needs the admin to consent again (e.g. after `invalid_grant`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    Connected,
    ReconnectNeeded,
}

impl ConnectionStatus {
    fn as_str(self) -> &'static str {
        match self {
            ConnectionStatus::Connected => "connected",
            ConnectionStatus::ReconnectNeeded => "reconnect_needed",
        }
    }

    fn parse(column: &'static str, text: &str) -> Result<Self, StoreError> {
        match text {
            "connected" => Ok(ConnectionStatus::Connected),
            "reconnect_needed" => Ok(ConnectionStatus::ReconnectNeeded),
            other => Err(StoreError::Corrupt { column, reason: format!("unknown status {other:?}") }),
        }
    }
}

/// The Xero tenant the service syncs to (from `GET /connections`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct XeroConnection {
    pub tenant_id: String,
    pub tenant_name: String,
    /// The connection `id`, which `DELETE /connections/{id}` takes (not the tenant id).
    pub connection_id: String,
    pub status: ConnectionStatus,
    pub status_reason: Option<String>,
    /// Set by the store on every write.
    pub updated_at: DateTime<Utc>,
}

/// A tenant offered after a consent that reached several, until the admin picks one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PendingTenant {
    pub tenant_id: String,
    pub tenant_name: String,
    pub connection_id: String,
}

/// The Zoho grant: its refresh token never expires or rotates (`../shared/reference/zoho-crm.md` §6).
#[derive(Debug, Clone)]
pub struct ZohoConnection {
    pub refresh_token: SecretString,
    /// The `api_domain` of the last token response.
    pub api_domain: String,
    /// The accounts server the grant belongs to (its data centre).
    pub accounts_url: String,
    pub status: ConnectionStatus,
    pub status_reason: Option<String>,
    /// Set by the store on every write.
    pub updated_at: DateTime<Utc>,
}

const ZOHO_REFRESH: &str = "zoho_connection.refresh_token";

type ZohoRow = (Vec<u8>, String, String, String, Option<String>, i64);

impl Store {
    pub async fn xero_connection(&self) -> Result<Option<XeroConnection>, StoreError> {
        let row: Option<(String, String, String, String, Option<String>, i64)> = sqlx::query_as(
            "SELECT tenant_id, tenant_name, connection_id, status, status_reason, updated_at
             FROM xero_connection WHERE id = 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        row.map(|(tenant_id, tenant_name, connection_id, status, status_reason, updated_at)| {
            Ok(XeroConnection {
                tenant_id,
                tenant_name,
                connection_id,
                status: ConnectionStatus::parse("xero_connection.status", &status)?,
                status_reason,
                updated_at: time("xero_connection.updated_at", updated_at)?,
            })
        })
        .transpose()
    }

    /// Makes `connection` the tenant to sync to, replacing any other.
    pub async fn save_xero_connection(&self, connection: &XeroConnection) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT OR REPLACE INTO xero_connection
                 (id, tenant_id, tenant_name, connection_id, status, status_reason, updated_at)
             VALUES (1, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&connection.tenant_id)
        .bind(&connection.tenant_name)
        .bind(&connection.connection_id)
        .bind(connection.status.as_str())
        .bind(&connection.status_reason)
        .bind(millis(Utc::now()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records whether the Xero connection works; false if there is no connection.
    pub async fn set_xero_status(&self, status: ConnectionStatus, reason: Option<&str>) -> Result<bool, StoreError> {
        let result =
            sqlx::query("UPDATE xero_connection SET status = ?, status_reason = ?, updated_at = ? WHERE id = 1")
                .bind(status.as_str())
                .bind(reason)
                .bind(millis(Utc::now()))
                .execute(&self.pool)
                .await?;
        Ok(result.rows_affected() == 1)
    }

    pub async fn delete_xero_connection(&self) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM xero_connection").execute(&self.pool).await?;
        Ok(())
    }

    /// Replaces the list of tenants to choose from (empty once one is chosen).
    pub async fn save_pending_tenants(&self, tenants: &[PendingTenant]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        // A write first, so the transaction takes the write lock at once and waits its turn.
        sqlx::query("DELETE FROM xero_pending_tenants").execute(&mut *tx).await?;
        for (position, tenant) in (0_i64..).zip(tenants) {
            sqlx::query(
                "INSERT INTO xero_pending_tenants (position, tenant_id, tenant_name, connection_id) VALUES (?, ?, ?, ?)",
            )
            .bind(position)
            .bind(&tenant.tenant_id)
            .bind(&tenant.tenant_name)
            .bind(&tenant.connection_id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The tenants to choose from, in the order saved.
    pub async fn pending_tenants(&self) -> Result<Vec<PendingTenant>, StoreError> {
        let rows: Vec<(String, String, String)> =
            sqlx::query_as("SELECT tenant_id, tenant_name, connection_id FROM xero_pending_tenants ORDER BY position")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .map(|(tenant_id, tenant_name, connection_id)| PendingTenant { tenant_id, tenant_name, connection_id })
            .collect())
    }

    pub async fn zoho_connection(&self) -> Result<Option<ZohoConnection>, StoreError> {
        let row: Option<ZohoRow> = sqlx::query_as(
            "SELECT refresh_token_sealed, api_domain, accounts_url, status, status_reason, updated_at
             FROM zoho_connection WHERE id = 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        row.map(|(sealed, api_domain, accounts_url, status, status_reason, updated_at)| {
            Ok(ZohoConnection {
                refresh_token: self.open(&sealed, ZOHO_REFRESH, "zoho_connection.refresh_token_sealed")?,
                api_domain,
                accounts_url,
                status: ConnectionStatus::parse("zoho_connection.status", &status)?,
                status_reason,
                updated_at: time("zoho_connection.updated_at", updated_at)?,
            })
        })
        .transpose()
    }

    /// Stores the grant, e.g. after the first exchange, or with the `api_domain` of a newer token response.
    pub async fn save_zoho_connection(&self, connection: &ZohoConnection) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT OR REPLACE INTO zoho_connection
                 (id, refresh_token_sealed, api_domain, accounts_url, status, status_reason, updated_at)
             VALUES (1, ?, ?, ?, ?, ?, ?)",
        )
        .bind(self.seal(&connection.refresh_token, ZOHO_REFRESH))
        .bind(&connection.api_domain)
        .bind(&connection.accounts_url)
        .bind(connection.status.as_str())
        .bind(&connection.status_reason)
        .bind(millis(Utc::now()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records whether the Zoho grant works; false if there is no grant.
    pub async fn set_zoho_status(&self, status: ConnectionStatus, reason: Option<&str>) -> Result<bool, StoreError> {
        let result =
            sqlx::query("UPDATE zoho_connection SET status = ?, status_reason = ?, updated_at = ? WHERE id = 1")
                .bind(status.as_str())
                .bind(reason)
                .bind(millis(Utc::now()))
                .execute(&self.pool)
                .await?;
        Ok(result.rows_affected() == 1)
    }

    pub async fn delete_zoho_connection(&self) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM zoho_connection").execute(&self.pool).await?;
        Ok(())
    }
}
