//! The encryption seam (PRV-03).
//!
//! * Every personal-data value that identifies or contacts a person, or
//!   names their accounts, is sealed with AES-256-GCM under a key of its own
//!   data subject. The associated data binds the value to its table, column
//!   and row, so a value copied into another row or column does not open.
//! * Subject keys are wrapped (AES-256-GCM) by a master key that comes from
//!   configuration, never from the database, and are kept in a key store
//!   apart from the data ([`crate::keystore`]).
//! * Exact-match look-ups use blind indexes: HMAC-SHA256 under a separate
//!   key, over a domain tag and the normalised value, truncated to 128 bits.
//!
//! Sealed format: `0x01 ‖ nonce (12 bytes, random) ‖ ciphertext ‖ tag (16)`.
//! Random 96-bit nonces are safe here because each key seals only one
//! person's handful of values (far below the 2^32 messages per key limit).

use crate::error::{Result, StoreError};
use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::fmt;
use zeroize::Zeroizing;

const FORMAT_V1: u8 = 1;
const NONCE_LEN: usize = 12;
/// Length of a blind index in bytes.
pub const BLIND_INDEX_LEN: usize = 16;

/// Parses a 256-bit key given as 64 hex digits or standard base64.
pub fn parse_key_material(text: &str) -> Option<Zeroizing<[u8; 32]>> {
    let text = text.trim();
    let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode(text).ok()?
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .ok()?
    };
    let bytes = Zeroizing::new(bytes);
    let array: [u8; 32] = bytes.as_slice().try_into().ok()?;
    Some(Zeroizing::new(array))
}

/// Fresh random key material, hex-encoded (for `carfin demo` and key generation).
pub fn generate_key_hex() -> String {
    let key = Aes256Gcm::generate_key(OsRng);
    hex::encode(key.as_slice())
}

/// The key that wraps subject keys. Held in memory only; never stored in
/// the database. Its id (a fingerprint) is stored beside each wrapped key so
/// that rotation knows which master wrapped what.
#[derive(Clone)]
pub struct MasterKey {
    id: String,
    cipher: Aes256Gcm,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl MasterKey {
    /// A master key from 32 bytes.
    pub fn from_bytes(bytes: &[u8; 32]) -> MasterKey {
        let digest = Sha256::new_with_prefix(b"carfin master key id\0")
            .chain_update(bytes)
            .finalize();
        MasterKey {
            id: hex::encode(&digest[..8]),
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(bytes)),
        }
    }

    /// A master key from its configured text form (hex or base64).
    pub fn parse(text: &str) -> Option<MasterKey> {
        parse_key_material(text).map(|bytes| MasterKey::from_bytes(&bytes))
    }

    /// The key's fingerprint (not secret).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Wraps a subject key for storage.
    pub fn wrap(&self, subject_id: i64, key: &SubjectKey) -> Result<Vec<u8>> {
        seal_with(&self.cipher, &wrap_ad(subject_id), key.bytes.as_slice())
    }

    /// Unwraps a stored subject key.
    pub fn unwrap_key(&self, subject_id: i64, wrapped: &[u8]) -> Result<SubjectKey> {
        let bytes = Zeroizing::new(open_with(&self.cipher, &wrap_ad(subject_id), wrapped)?);
        let array: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| StoreError::Crypto("wrapped subject key has the wrong length".into()))?;
        Ok(SubjectKey::from_bytes(Zeroizing::new(array)))
    }
}

fn wrap_ad(subject_id: i64) -> Vec<u8> {
    format!("carfin/v1/subject-key/{subject_id}").into_bytes()
}

/// Where a sealed value lives; bound into its associated data.
#[derive(Debug, Clone, Copy)]
pub struct FieldRef<'a> {
    /// Table name.
    pub table: &'a str,
    /// Column name.
    pub column: &'a str,
    /// The row's id.
    pub row: i64,
}

impl FieldRef<'_> {
    fn associated_data(&self) -> Vec<u8> {
        format!("carfin/v1/{}/{}/{}", self.table, self.column, self.row).into_bytes()
    }
}

/// A data subject's own data key.
#[derive(Clone)]
pub struct SubjectKey {
    bytes: Zeroizing<[u8; 32]>,
    cipher: Aes256Gcm,
}

impl fmt::Debug for SubjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SubjectKey(..)")
    }
}

impl SubjectKey {
    /// A fresh random key.
    pub fn generate() -> SubjectKey {
        let key = Aes256Gcm::generate_key(OsRng);
        let mut bytes = Zeroizing::new([0u8; 32]);
        bytes.copy_from_slice(key.as_slice());
        SubjectKey::from_bytes(bytes)
    }

    fn from_bytes(bytes: Zeroizing<[u8; 32]>) -> SubjectKey {
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(bytes.as_slice()));
        SubjectKey { bytes, cipher }
    }

    /// Seals a value for the given field.
    pub fn seal(&self, field: FieldRef<'_>, plaintext: &str) -> Result<Vec<u8>> {
        seal_with(&self.cipher, &field.associated_data(), plaintext.as_bytes())
    }

    /// Seals an optional value.
    pub fn seal_opt(
        &self,
        field: FieldRef<'_>,
        plaintext: Option<&str>,
    ) -> Result<Option<Vec<u8>>> {
        plaintext.map(|p| self.seal(field, p)).transpose()
    }

    /// Opens a sealed value of the given field.
    pub fn open(&self, field: FieldRef<'_>, sealed: &[u8]) -> Result<String> {
        let bytes = open_with(&self.cipher, &field.associated_data(), sealed)?;
        String::from_utf8(bytes).map_err(|_| StoreError::Crypto("sealed value is not UTF-8".into()))
    }
}

fn seal_with(cipher: &Aes256Gcm, ad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
    let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
    let ciphertext = cipher
        .encrypt(
            &nonce,
            Payload {
                msg: plaintext,
                aad: ad,
            },
        )
        .map_err(|_| StoreError::Crypto("sealing failed".into()))?;
    let mut out = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
    out.push(FORMAT_V1);
    out.extend_from_slice(nonce.as_slice());
    out.extend_from_slice(&ciphertext);
    Ok(out)
}

fn open_with(cipher: &Aes256Gcm, ad: &[u8], sealed: &[u8]) -> Result<Vec<u8>> {
    if sealed.len() < 1 + NONCE_LEN + 16 || sealed[0] != FORMAT_V1 {
        return Err(StoreError::Crypto("not a sealed value".into()));
    }
    let nonce = Nonce::from_slice(&sealed[1..1 + NONCE_LEN]);
    cipher
        .decrypt(
            nonce,
            Payload {
                msg: &sealed[1 + NONCE_LEN..],
                aad: ad,
            },
        )
        .map_err(|_| {
            StoreError::Crypto("sealed value does not open (wrong key, row or column)".into())
        })
}

/// The key for blind indexes (kept apart from the master key).
#[derive(Clone)]
pub struct BlindIndexKey {
    key: Zeroizing<[u8; 32]>,
}

impl fmt::Debug for BlindIndexKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BlindIndexKey(..)")
    }
}

impl BlindIndexKey {
    /// From 32 bytes.
    pub fn from_bytes(bytes: &[u8; 32]) -> BlindIndexKey {
        BlindIndexKey {
            key: Zeroizing::new(*bytes),
        }
    }

    /// From its configured text form (hex or base64).
    pub fn parse(text: &str) -> Option<BlindIndexKey> {
        parse_key_material(text).map(|bytes| BlindIndexKey { key: bytes })
    }

    /// The blind index of an already normalised value in a domain (such as
    /// `"customer.email"`); equal inputs give equal indexes.
    pub fn index(&self, domain: &str, normalized: &str) -> Vec<u8> {
        // HMAC accepts keys of any length; this cannot fail.
        let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(self.key.as_slice()) {
            Ok(mac) => mac,
            Err(_) => return Vec::new(),
        };
        mac.update(domain.as_bytes());
        mac.update(&[0]);
        mac.update(normalized.as_bytes());
        mac.finalize().into_bytes()[..BLIND_INDEX_LEN].to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(row: i64) -> FieldRef<'static> {
        FieldRef {
            table: "customers",
            column: "email",
            row,
        }
    }

    // PRV-03: a sealed value opens only under its own key, table, column and row.
    #[test]
    fn sealed_values_are_bound_to_their_place() {
        let key = SubjectKey::generate();
        let sealed = key.seal(field(7), "jan@example.test").unwrap();
        assert!(!sealed.windows(4).any(|w| w == b"jan@"));
        assert_eq!(key.open(field(7), &sealed).unwrap(), "jan@example.test");
        assert!(key.open(field(8), &sealed).is_err());
        let other_column = FieldRef {
            table: "customers",
            column: "phone",
            row: 7,
        };
        assert!(key.open(other_column, &sealed).is_err());
        assert!(SubjectKey::generate().open(field(7), &sealed).is_err());
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(key.open(field(7), &tampered).is_err());
        // Nonces are fresh: sealing twice gives different bytes.
        assert_ne!(
            key.seal(field(7), "x").unwrap(),
            key.seal(field(7), "x").unwrap()
        );
    }

    #[test]
    fn subject_keys_wrap_under_the_master_key() {
        let master = MasterKey::parse(&generate_key_hex()).unwrap();
        let key = SubjectKey::generate();
        let sealed = key.seal(field(1), "secret").unwrap();
        let wrapped = master.wrap(42, &key).unwrap();
        let unwrapped = master.unwrap_key(42, &wrapped).unwrap();
        assert_eq!(unwrapped.open(field(1), &sealed).unwrap(), "secret");
        assert!(master.unwrap_key(43, &wrapped).is_err());
        let other = MasterKey::parse(&generate_key_hex()).unwrap();
        assert!(other.unwrap_key(42, &wrapped).is_err());
        assert_ne!(master.id(), other.id());
    }

    #[test]
    fn blind_indexes_are_deterministic_and_keyed() {
        let a = BlindIndexKey::parse(&generate_key_hex()).unwrap();
        let b = BlindIndexKey::parse(&generate_key_hex()).unwrap();
        assert_eq!(a.index("email", "x@y.nl"), a.index("email", "x@y.nl"));
        assert_ne!(a.index("email", "x@y.nl"), a.index("phone", "x@y.nl"));
        assert_ne!(a.index("email", "x@y.nl"), b.index("email", "x@y.nl"));
        assert_eq!(a.index("email", "x@y.nl").len(), BLIND_INDEX_LEN);
    }

    #[test]
    fn key_material_parses_hex_and_base64_only_at_256_bits() {
        let hex_key = generate_key_hex();
        assert!(parse_key_material(&hex_key).is_some());
        let b64 = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        assert!(parse_key_material(&b64).is_some());
        assert!(parse_key_material("abcd").is_none());
        assert!(parse_key_material(&hex_key[..62]).is_none());
    }
}
