//! The store as the Xero and Zoho clients' token vaults: the clients own the refresh logic, the store owns
//! durability (encrypted, compare-and-set).

use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use secrecy::SecretString;

use super::{ConnectionStatus, Store, StoreError, XeroTokens, ZohoConnection};
use crate::vault::VaultError;
use crate::xero::{TokenSet, TokenVault};
use crate::zoho::{ZohoGrant, ZohoVault};

fn vault_error(error: StoreError) -> VaultError {
    VaultError::new(error)
}

#[async_trait]
impl TokenVault for Store {
    async fn load(&self) -> Result<Option<TokenSet>, VaultError> {
        Ok(self.load_xero_tokens().await.map_err(vault_error)?.map(|t| TokenSet {
            access_token: t.access_token,
            refresh_token: t.refresh_token,
            access_expires_at: t.access_expires_at,
            version: t.version,
        }))
    }

    async fn replace(&self, expected: Option<i64>, new: &TokenSet) -> Result<bool, VaultError> {
        let tokens = XeroTokens::new(new.access_token.clone(), new.refresh_token.clone(), new.access_expires_at);
        let won = self.replace_xero_tokens(expected, &tokens).await.map_err(vault_error)?;
        if won {
            // Fresh tokens from Xero: whatever made the connection "reconnect needed" is over.
            let connected = self.xero_connection().await.map_err(vault_error)?;
            if connected.is_some_and(|c| c.status == ConnectionStatus::ReconnectNeeded) {
                self.set_xero_status(ConnectionStatus::Connected, None).await.map_err(vault_error)?;
            }
        }
        Ok(won)
    }

    async fn previous_refresh_token(&self, grace: Duration) -> Result<Option<SecretString>, VaultError> {
        let Some(tokens) = self.load_xero_tokens().await.map_err(vault_error)? else { return Ok(None) };
        let grace = chrono::TimeDelta::from_std(grace).unwrap_or(chrono::TimeDelta::MAX);
        Ok(tokens.retryable_previous(Utc::now(), grace).cloned())
    }

    async fn mark_reconnect_needed(&self, reason: &str) -> Result<(), VaultError> {
        self.set_xero_status(ConnectionStatus::ReconnectNeeded, Some(reason)).await.map_err(vault_error)?;
        Ok(())
    }
}

/// The store as the Zoho grant's vault; the accounts server is the configured data centre's.
#[derive(Clone)]
pub(crate) struct ZohoGrantVault {
    pub(crate) store: Store,
    pub(crate) accounts_url: String,
}

#[async_trait]
impl ZohoVault for ZohoGrantVault {
    async fn load(&self) -> Result<Option<ZohoGrant>, VaultError> {
        let connection = self.store.zoho_connection().await.map_err(vault_error)?;
        Ok(connection
            .filter(|c| c.status == ConnectionStatus::Connected)
            .map(|c| ZohoGrant { refresh_token: c.refresh_token, api_domain: c.api_domain }))
    }

    async fn save(&self, grant: &ZohoGrant) -> Result<(), VaultError> {
        self.store
            .save_zoho_connection(&ZohoConnection {
                refresh_token: grant.refresh_token.clone(),
                api_domain: grant.api_domain.clone(),
                accounts_url: self.accounts_url.clone(),
                status: ConnectionStatus::Connected,
                status_reason: None,
                updated_at: Utc::now(),
            })
            .await
            .map_err(vault_error)
    }

    async fn mark_reconnect_needed(&self, reason: &str) -> Result<(), VaultError> {
        self.store.set_zoho_status(ConnectionStatus::ReconnectNeeded, Some(reason)).await.map_err(vault_error)?;
        Ok(())
    }
}
