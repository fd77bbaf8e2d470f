//! Ed25519 signatures over the policy: the exact bytes `policy_hash` hashes (the
//! canonical serialisation of every field but `policy_hash` and `signature`), so a
//! consumer that checks one checks both. `key_id` (inside the signed bytes) names the
//! key: the first 16 hex digits of sha256 of its 32-byte public key.
//!
//! The signing key is a file holding the 32-byte seed as 64 hex digits, readable by its
//! owner only; a trusted key is `KEY_ID:PUBLIC_KEY_HEX`, as `universe keygen` prints it.

use std::collections::BTreeMap;
use std::path::Path;

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

/// A key that signs policies.
pub struct Signer {
    key: SigningKey,
    key_id: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer {{ key_id: {}, key: [redacted] }}", self.key_id)
    }
}

impl Signer {
    /// The key in `path`: refused if the group or others may read it, or if it is not
    /// 64 hex digits.
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let at = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
        let meta = std::fs::metadata(path).map_err(|e| at(&e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(at(&format_args!(
                    "readable by others (mode {mode:o}); a signing key must be 600 or 400"
                )));
            }
        }
        #[cfg(not(unix))]
        let _ = meta;
        let text = std::fs::read_to_string(path).map_err(|e| at(&e))?;
        let seed: [u8; 32] = hex(text.trim())
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| at(&"expected 64 hex digits (universe keygen writes them)"))?;
        Ok(Self::from_seed(&seed))
    }

    pub fn from_seed(seed: &[u8; 32]) -> Self {
        let key = SigningKey::from_bytes(seed);
        let key_id = key_id(&key.verifying_key());
        Self { key, key_id }
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The signature of `bytes`, as 128 hex digits.
    pub fn sign(&self, bytes: &[u8]) -> String {
        to_hex(&self.key.sign(bytes).to_bytes())
    }

    /// The public half, as a trusted-keys entry: `KEY_ID:PUBLIC_KEY_HEX`.
    pub fn trusted_entry(&self) -> String {
        format!(
            "{}:{}",
            self.key_id,
            to_hex(self.key.verifying_key().as_bytes())
        )
    }

    /// The seed, as the key file holds it.
    pub fn secret_hex(&self) -> String {
        to_hex(self.key.as_bytes())
    }
}

/// The first 16 hex digits of sha256 of a public key.
pub fn key_id(key: &VerifyingKey) -> String {
    crate::digest::sha256_hex(key.as_bytes())[..16].to_owned()
}

/// The keys a policy may be signed by, by `key_id`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trusted(BTreeMap<String, VerifyingKey>);

impl Trusted {
    /// `policy.trusted_keys`' entries, each `KEY_ID:PUBLIC_KEY_HEX`; the id must be the
    /// key's own.
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        let mut keys = BTreeMap::new();
        for entry in entries {
            let bad = || {
                format!("{entry:?}: expected KEY_ID:PUBLIC_KEY_HEX, as universe keygen prints it")
            };
            let (id, public) = entry.split_once(':').ok_or_else(bad)?;
            let bytes: [u8; 32] = hex(public)
                .and_then(|b| b.try_into().ok())
                .ok_or_else(bad)?;
            let key = VerifyingKey::from_bytes(&bytes).map_err(|_| bad())?;
            if key_id(&key) != id {
                return Err(format!(
                    "{entry:?}: the key's id is {}, not {id}",
                    key_id(&key)
                ));
            }
            keys.insert(id.to_owned(), key);
        }
        Ok(Self(keys))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `fields` carry a valid signature by one of these keys, or why not.
    pub fn verify(&self, fields: &BTreeMap<String, String>) -> Result<String, String> {
        let id = fields
            .get(super::field::KEY_ID)
            .ok_or("unsigned: no key_id")?;
        let signature = fields
            .get(super::field::SIGNATURE)
            .ok_or("unsigned: no signature")?;
        let key = self
            .0
            .get(id)
            .ok_or_else(|| format!("key {id} is not among the {} trusted keys", self.0.len()))?;
        let bytes: [u8; 64] = hex(signature)
            .and_then(|b| b.try_into().ok())
            .ok_or("the signature is not 128 hex digits")?;
        key.verify_strict(&super::canonical(fields), &Signature::from_bytes(&bytes))
            .map(|()| format!("signed by trusted key {id}"))
            .map_err(|_| format!("the signature does not verify with key {id}"))
    }
}

fn hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
