//! Secrets at rest: one master key, AES-256-GCM for the secret columns of the store, HMAC-derived keys
//! for other purposes, and argon2id for the admin password.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use argon2::password_hash::PasswordHasher;
use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretBox};
use sha2::Sha256;
use thiserror::Error;

/// The file under the data directory holding a generated key.
pub const MASTER_KEY_FILE: &str = "master.key";
const NONCE_LEN: usize = 12;
/// The purpose the at-rest cipher's key is derived for, so no other derived key equals it.
const AT_REST_PURPOSE: &str = "xero-sync/secrets-at-rest/aes-256-gcm/v1";

#[derive(Debug, Error)]
pub enum CryptoError {
    /// The key's text is unusable; the text itself is never included.
    #[error("{0}")]
    BadKey(String),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// One message for every cause, on purpose: it tells an attacker nothing about which check failed.
    #[error("cannot decrypt: wrong master key, wrong context, or the data was altered")]
    Decrypt,
    #[error("password hashing failed: {0}")]
    Password(String),
}

/// The 32-byte key everything else is derived from. Zeroized on drop; `Debug` shows nothing.
pub struct MasterKey(SecretBox<[u8; 32]>);

impl Clone for MasterKey {
    fn clone(&self) -> Self {
        MasterKey::from_bytes(*self.0.expose_secret())
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey([REDACTED])")
    }
}

impl MasterKey {
    pub fn from_bytes(bytes: [u8; 32]) -> MasterKey {
        MasterKey(SecretBox::new(Box::new(bytes)))
    }

    /// A fresh key from rand's CSPRNG (`ThreadRng`, seeded by the operating system).
    pub fn generate() -> MasterKey {
        MasterKey::from_bytes(rand::random())
    }

    /// Standard base64 of exactly 32 bytes, surrounding whitespace ignored.
    pub fn from_base64(text: &str) -> Result<MasterKey, CryptoError> {
        let bytes =
            Zeroizing::new(STANDARD.decode(text.trim()).map_err(|_| {
                CryptoError::BadKey("not valid base64 (make one with `openssl rand -base64 32`)".into())
            })?);
        let key: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::BadKey(format!("decodes to {} bytes, expected 32", bytes.len())))?;
        Ok(MasterKey::from_bytes(key))
    }

    fn to_base64(&self) -> String {
        STANDARD.encode(self.0.expose_secret())
    }

    /// `configured` (from `XERO_SYNC_MASTER_KEY`), else the key in `{data_dir}/master.key`, else a new one
    /// written there (mode 0600). The path is returned only when the key was just created, so `main` can
    /// tell the operator to back it up: losing it loses every stored token.
    pub fn load_or_create(
        configured: Option<&MasterKey>,
        data_dir: &Path,
    ) -> Result<(MasterKey, Option<PathBuf>), CryptoError> {
        if let Some(key) = configured {
            return Ok((key.clone(), None));
        }
        let path = data_dir.join(MASTER_KEY_FILE);
        if let Some(key) = read_key_file(&path)? {
            return Ok((key, None));
        }
        let key = MasterKey::generate();
        if write_new_key_file(&path, &key)? {
            Ok((key, Some(path)))
        } else {
            // Another process created it between our read and write: use theirs.
            let key = read_key_file(&path)?
                .ok_or_else(|| CryptoError::Io { path: path.clone(), source: std::io::ErrorKind::NotFound.into() })?;
            Ok((key, None))
        }
    }

    /// A key for another purpose (session signing, CSRF): HMAC-SHA256 of `purpose` under the master key.
    /// Different purposes give independent keys; the same purpose always gives the same key.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.0.expose_secret()).unwrap_or_else(|_| {
            unreachable!("HMAC takes keys of any length") // the Result exists for fixed-key-size MACs only
        });
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

fn read_key_file(path: &Path) -> Result<Option<MasterKey>, CryptoError> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            MasterKey::from_base64(&text).map(Some).map_err(|e| CryptoError::BadKey(format!("{}: {e}", path.display())))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(CryptoError::Io { path: path.to_owned(), source }),
    }
}

/// Writes the key to a private temporary file, then links it into place, so the key file is never seen
/// half-written and never overwritten. False if the file appeared meanwhile.
fn write_new_key_file(path: &Path, key: &MasterKey) -> Result<bool, CryptoError> {
    let io = |source| CryptoError::Io { path: path.to_owned(), source };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let temp = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4()));
    let written = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temp)?;
        writeln!(file, "{}", key.to_base64())?;
        file.sync_all()?;
        std::fs::hard_link(&temp, path)
    })();
    let _ = std::fs::remove_file(&temp);
    match written {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(io(e)),
    }
}

/// AES-256-GCM under a key derived from the master key. Cheap to clone.
#[derive(Clone)]
pub struct Cipher {
    aead: Aes256Gcm,
}

impl fmt::Debug for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cipher(AES-256-GCM, [REDACTED])")
    }
}

impl Cipher {
    pub fn new(key: &MasterKey) -> Cipher {
        Cipher { aead: Aes256Gcm::new(&Key::<Aes256Gcm>::from(key.derive(AT_REST_PURPOSE))) }
    }

    /// `nonce ‖ ciphertext ‖ tag` with a random 96-bit nonce. `context` (e.g. `"xero_tokens.refresh_token"`)
    /// is authenticated, not stored: the result only opens with the same context, so a ciphertext copied
    /// into another column or row is refused.
    pub fn seal(&self, plaintext: &[u8], context: &str) -> Vec<u8> {
        let nonce_bytes: [u8; NONCE_LEN] = rand::random();
        let nonce = Nonce::from(nonce_bytes);
        // Encryption fails only past GCM's 64 GiB message limit, far beyond any secret this service holds.
        let sealed = self
            .aead
            .encrypt(&nonce, Payload { msg: plaintext, aad: context.as_bytes() })
            .unwrap_or_else(|_| unreachable!("a secret longer than AES-GCM's limit"));
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&sealed);
        out
    }

    /// The plaintext of [`Cipher::seal`]'s output, or [`CryptoError::Decrypt`] for a wrong key, a wrong
    /// context, or any alteration.
    pub fn open(&self, sealed: &[u8], context: &str) -> Result<Vec<u8>, CryptoError> {
        let (nonce, ciphertext) = sealed.split_at_checked(NONCE_LEN).ok_or(CryptoError::Decrypt)?;
        let nonce = Nonce::try_from(nonce).map_err(|_| CryptoError::Decrypt)?;
        self.aead
            .decrypt(&nonce, Payload { msg: ciphertext, aad: context.as_bytes() })
            .map_err(|_| CryptoError::Decrypt)
    }
}

/// Compares without an early exit, so response times say nothing about how much of a secret matched.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// An argon2id PHC string (`$argon2id$v=19$…`) with a random salt, for `XERO_SYNC_ADMIN_PASSWORD_HASH`.
pub fn hash_password(password: &str) -> Result<String, CryptoError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| CryptoError::Password(e.to_string()))
}

/// argon2's working memory (the hash's `m` KiB, ~19 MiB by default), kept from one check to the next on the
/// thread that owns it. Letting argon2 allocate it for every check did not bound memory: on glibc a thread
/// checking passwords one after another grew by ~19 MiB per check (measured with argon2 0.6: 24 MiB after
/// one check, 122 MiB after six), the freed blocks never serving the next.
#[derive(Default)]
pub struct PasswordMemory(Vec<Block>);

impl fmt::Debug for PasswordMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PasswordMemory({} KiB)", self.0.len())
    }
}

/// Whether `password` matches the PHC string `hash` (false for a malformed hash), computed in `memory`.
/// Deliberately slow (tens of milliseconds): run it off the async threads.
pub fn verify_password(password: &str, hash: &str, memory: &mut PasswordMemory) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else { return false };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else { return false };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm.as_str()) else { return false };
    let Ok(version) = parsed.version.map(Version::try_from).transpose() else { return false };
    let Ok(params) = Params::try_from(&parsed) else { return false };
    let blocks = params.block_count();
    if memory.0.len() < blocks {
        memory.0.resize(blocks, Block::default());
    }
    let mut computed = vec![0u8; expected.len()];
    let argon2 = Argon2::new(algorithm, version.unwrap_or_default(), params);
    argon2.hash_password_into_with_memory(password.as_bytes(), salt, &mut computed, &mut memory.0[..blocks]).is_ok()
        && constant_time_eq(&computed, expected.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> MasterKey {
        MasterKey::from_bytes([byte; 32])
    }

    fn temp_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xero-sync-crypto-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    fn load_or_create(data_dir: &Path, master_key: Option<&str>) -> Result<(MasterKey, Option<PathBuf>), CryptoError> {
        let configured = master_key.map(|text| MasterKey::from_base64(text).expect("valid key"));
        MasterKey::load_or_create(configured.as_ref(), data_dir)
    }

    #[test]
    fn seal_then_open_round_trips_with_a_fresh_nonce_each_time() {
        let cipher = Cipher::new(&key(1));
        let a = cipher.seal(b"refresh-token-value", "xero_tokens.refresh_token");
        let b = cipher.seal(b"refresh-token-value", "xero_tokens.refresh_token");
        assert_ne!(a, b, "random nonces");
        assert_eq!(a.len(), NONCE_LEN + "refresh-token-value".len() + 16);
        assert_eq!(cipher.open(&a, "xero_tokens.refresh_token").expect("open"), b"refresh-token-value");
        assert_eq!(cipher.open(&cipher.seal(b"", "c"), "c").expect("empty"), b"");
    }

    #[test]
    fn wrong_context_wrong_key_tampering_and_truncation_fail() {
        let cipher = Cipher::new(&key(1));
        let sealed = cipher.seal(b"secret", "zoho_connection.refresh_token");
        assert!(matches!(cipher.open(&sealed, "xero_tokens.refresh_token"), Err(CryptoError::Decrypt)));
        assert!(matches!(
            Cipher::new(&key(2)).open(&sealed, "zoho_connection.refresh_token"),
            Err(CryptoError::Decrypt)
        ));
        for i in 0..sealed.len() {
            let mut tampered = sealed.clone();
            tampered[i] ^= 0x01;
            assert!(cipher.open(&tampered, "zoho_connection.refresh_token").is_err(), "byte {i}");
        }
        for len in [0, 5, NONCE_LEN, NONCE_LEN + 15, sealed.len() - 1] {
            assert!(cipher.open(&sealed[..len], "zoho_connection.refresh_token").is_err(), "length {len}");
        }
    }

    #[test]
    fn derived_keys_depend_on_purpose_and_key() {
        let k = key(7);
        assert_eq!(k.derive("session"), k.derive("session"));
        assert_ne!(k.derive("session"), k.derive("csrf"));
        assert_ne!(k.derive("session"), key(8).derive("session"));
        assert_ne!(k.derive("session"), [7; 32]);
    }

    #[test]
    fn base64_keys_must_decode_to_32_bytes() {
        let text = STANDARD.encode([9u8; 32]);
        let parsed = MasterKey::from_base64(&format!(" {text}\n")).expect("valid");
        assert_eq!(parsed.derive("p"), key(9).derive("p"));
        let bad = MasterKey::from_base64("%%%not base64").expect_err("bad base64");
        assert!(bad.to_string().contains("not valid base64") && !bad.to_string().contains("%%%"));
        let short = MasterKey::from_base64(&STANDARD.encode([1u8; 16])).expect_err("short");
        assert_eq!(short.to_string(), "decodes to 16 bytes, expected 32");
        assert!(MasterKey::from_base64(&STANDARD.encode([1u8; 33])).is_err());
        assert_eq!(format!("{parsed:?}"), "MasterKey([REDACTED])");
    }

    #[test]
    fn the_key_file_is_created_once_privately_then_reused() {
        let dir = temp_dir().join("nested");
        let (first, created) = load_or_create(&dir, None).expect("create");
        let path = dir.join(MASTER_KEY_FILE);
        assert_eq!(created.as_deref(), Some(path.as_path()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("metadata").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (second, created) = load_or_create(&dir, None).expect("reuse");
        assert!(created.is_none());
        assert_eq!(first.derive("p"), second.derive("p"));
        let leftovers = std::fs::read_dir(&dir).expect("list").count();
        assert_eq!(leftovers, 1, "no temporary file left behind");

        std::fs::write(&path, "garbage").expect("corrupt");
        let error = load_or_create(&dir, None).expect_err("corrupt file");
        assert!(error.to_string().contains("master.key"), "{error}");
        std::fs::remove_dir_all(dir.parent().expect("parent")).expect("cleanup");
    }

    #[test]
    fn the_environment_key_wins_over_the_file() {
        let dir = temp_dir();
        let (from_file, _) = load_or_create(&dir, None).expect("create");
        let text = STANDARD.encode([3u8; 32]);
        let (from_env, created) = load_or_create(&dir, Some(&text)).expect("env");
        assert!(created.is_none());
        assert_eq!(from_env.derive("p"), key(3).derive("p"));
        assert_ne!(from_env.derive("p"), from_file.derive("p"));
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn constant_time_comparison() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }

    #[test]
    fn passwords_hash_to_argon2id_and_verify() {
        let hash = hash_password("correct horse battery").expect("hash");
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert_ne!(hash, hash_password("correct horse battery").expect("hash"), "random salt");
        let mut memory = PasswordMemory::default();
        assert!(verify_password("correct horse battery", &hash, &mut memory));
        assert!(!verify_password("correct horse batter", &hash, &mut memory));
        assert!(!verify_password("anything", "not a hash", &mut memory));
        // The memory is reused, whatever it held: other parameters, other variants, and back.
        let small = Argon2::new(Algorithm::Argon2i, Version::V0x10, Params::new(64, 3, 1, Some(16)).expect("params"));
        let small = small.hash_password(b"tiny").expect("hash").to_string();
        for _ in 0..2 {
            assert!(verify_password("tiny", &small, &mut memory), "{small}");
            assert!(!verify_password("tinY", &small, &mut memory));
            assert!(verify_password("correct horse battery", &hash, &mut memory));
        }
        // A hash cut short or with its output altered verifies nothing.
        assert!(!verify_password("tiny", &small[..small.len() - 4], &mut memory));
        let (head, output) = small.rsplit_once('$').expect("output");
        let flipped = if output.starts_with('A') { "B" } else { "A" };
        assert!(!verify_password("tiny", &format!("{head}${flipped}{}", &output[1..]), &mut memory));
    }
}
