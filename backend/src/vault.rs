//! What the clients' token vaults fail with. The clients own the refresh logic and the vaults (the store in
//! production, memory in tests) own durability; a vault's own error is kept as the source.

/// The token store failed (database, decryption…).
#[derive(Debug, thiserror::Error)]
#[error("the credential store failed")]
pub struct VaultError(#[source] Box<dyn std::error::Error + Send + Sync>);

impl VaultError {
    pub fn new(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self(source.into())
    }
}
