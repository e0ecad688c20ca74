//! Sealing what names a person, for an engine that cannot forget.
//!
//! PostgreSQL keeps a deleted row's bytes in its heap and index pages until they are reused,
//! in its WAL until the segment is recycled, and in every archive, replica and backup for as
//! long as those are kept. So on PostgreSQL nothing that names a person is written in clear:
//! each person has a random data key ([`PersonKey`]), kept in `person_keys` wrapped by the
//! wrapping key ([`Wrapping`]), which is derived from the database key (`DATABASE_KEY` or
//! `DATABASE_KEY_FILE`) and never stored in the database. Their identities and the mail about
//! them are sealed under their data key with XChaCha20-Poly1305. Erasure deletes the wrapped
//! data key, and the key tables are then rewritten: the sealed values can no longer be opened
//! with anything the live database holds. Copies of the wrapped key in WAL not yet recycled,
//! in WAL archives and in backups open with the database key: those must expire (see the
//! README, "PostgreSQL").
//!
//! Values the service looks up (an address, a Discord id) are found by a blind index: an HMAC
//! of the value under a second key derived from the database key, which names the value only
//! to someone who holds that key and already knows the value.
//!
//! Each sealed value is bound to where it is kept (`context`, such as `identities.value`) and
//! each wrapped key to its person, so a value moved to another column or person does not open.

use chacha20poly1305::{
    KeyInit, XChaCha20Poly1305, XNonce,
    aead::{Aead, Payload},
};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop};

type HmacSha256 = Hmac<Sha256>;

/// The format of a sealed value: this byte, the 24-byte nonce, the ciphertext and its tag.
const VERSION: u8 = 1;
const NONCE: usize = 24;

/// A sealed value did not open: a wrong key, a value moved from elsewhere, or a changed byte.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a sealed value did not open with its key (wrong key, moved or changed)")]
pub struct Unsealable;

/// A 32-byte key that is wiped from memory when dropped.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
struct KeyBytes([u8; 32]);

impl KeyBytes {
    fn random() -> KeyBytes {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        KeyBytes(key)
    }

    fn derived(root: &[u8], label: &str) -> KeyBytes {
        let mut mac =
            <HmacSha256 as Mac>::new_from_slice(root).expect("HMAC takes keys of any length");
        mac.update(label.as_bytes());
        KeyBytes(mac.finalize().into_bytes().into())
    }

    fn seal(&self, aad: &[u8], plain: &[u8]) -> Vec<u8> {
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        let mut nonce = [0u8; NONCE];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = cipher
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: plain, aad })
            .expect("XChaCha20-Poly1305 seals any length this service writes");
        let mut out = Vec::with_capacity(1 + NONCE + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, Unsealable> {
        if sealed.len() < 1 + NONCE + 16 || sealed[0] != VERSION {
            return Err(Unsealable);
        }
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        cipher
            .decrypt(
                XNonce::from_slice(&sealed[1..1 + NONCE]),
                Payload {
                    msg: &sealed[1 + NONCE..],
                    aad,
                },
            )
            .map_err(|_| Unsealable)
    }
}

/// The keys derived from the database key: one wraps people's data keys, one makes the blind
/// index, one proves to a starting process that it holds the same database key as the others.
#[derive(Clone)]
pub struct Wrapping {
    wrap: KeyBytes,
    index: KeyBytes,
    check: KeyBytes,
}

impl std::fmt::Debug for Wrapping {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Wrapping(..)")
    }
}

impl Wrapping {
    pub fn new(database_key: &[u8]) -> Wrapping {
        Wrapping {
            wrap: KeyBytes::derived(database_key, "dsr-bot wrapping key v1"),
            index: KeyBytes::derived(database_key, "dsr-bot blind index v1"),
            check: KeyBytes::derived(database_key, "dsr-bot key check v1"),
        }
    }

    /// What the database keeps to tell a process started with another database key: a hash
    /// that says nothing of the key.
    pub fn check_value(&self) -> Vec<u8> {
        self.check.0.to_vec()
    }

    /// A new data key for `person`, and its wrapped form to store.
    pub fn new_person_key(&self, person: i64) -> (PersonKey, Vec<u8>) {
        self.new_key(&person_owner(person))
    }

    /// `person`'s data key from its stored, wrapped form.
    pub fn unwrap(&self, person: i64, wrapped: &[u8]) -> Result<PersonKey, Unsealable> {
        self.unwrap_key(&person_owner(person), wrapped)
    }

    /// A new data key for what `owner` names (a person, or one row that is nobody's yet), and
    /// its wrapped form, which opens only for the same owner.
    pub fn new_key(&self, owner: &str) -> (PersonKey, Vec<u8>) {
        let key = KeyBytes::random();
        let wrapped = self.wrap.seal(owner.as_bytes(), &key.0);
        (PersonKey(key), wrapped)
    }

    pub fn unwrap_key(&self, owner: &str, wrapped: &[u8]) -> Result<PersonKey, Unsealable> {
        let mut bytes = self.wrap.open(owner.as_bytes(), wrapped)?;
        let key: Result<[u8; 32], _> = bytes.as_slice().try_into();
        bytes.zeroize();
        Ok(PersonKey(KeyBytes(key.map_err(|_| Unsealable)?)))
    }

    /// The blind index of a value of `kind` (`discord`, `email`, ...): how the value is found
    /// without being stored in clear.
    pub fn blind(&self, kind: &str, value: &str) -> Vec<u8> {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.index.0)
            .expect("HMAC takes keys of any length");
        for part in [kind, value] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        mac.finalize().into_bytes().to_vec()
    }
}

fn person_owner(person: i64) -> String {
    format!("person_keys:{person}")
}

/// One person's data key: what seals their identities and the mail about them.
#[derive(Clone)]
pub struct PersonKey(KeyBytes);

impl std::fmt::Debug for PersonKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PersonKey(..)")
    }
}

impl PersonKey {
    /// Seals `plain` for keeping at `context` (the table and column, such as
    /// `identities.value`).
    pub fn seal(&self, context: &str, plain: &str) -> Vec<u8> {
        self.0.seal(context.as_bytes(), plain.as_bytes())
    }

    pub fn open(&self, context: &str, sealed: &[u8]) -> Result<String, Unsealable> {
        let plain = self.0.open(context.as_bytes(), sealed)?;
        String::from_utf8(plain).map_err(|_| Unsealable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_only_with_its_key_and_where_it_was_kept() {
        let wrapping = Wrapping::new(&[7u8; 32]);
        let (key, wrapped) = wrapping.new_person_key(41);
        let sealed = key.seal("identities.value", "ada@example.org");
        assert!(
            !sealed.windows(3).any(|w| w == b"ada"),
            "nothing of the value in clear"
        );
        assert_eq!(
            key.open("identities.value", &sealed).unwrap(),
            "ada@example.org"
        );
        // The same key again from its wrapped form.
        let again = wrapping.unwrap(41, &wrapped).unwrap();
        assert_eq!(
            again.open("identities.value", &sealed).unwrap(),
            "ada@example.org"
        );
        // Moved to another column, or another person's wrapped key, or another database key.
        assert_eq!(key.open("outbox.recipient", &sealed), Err(Unsealable));
        assert_eq!(wrapping.unwrap(42, &wrapped).map(|_| ()), Err(Unsealable));
        assert_eq!(
            Wrapping::new(&[8u8; 32]).unwrap(41, &wrapped).map(|_| ()),
            Err(Unsealable)
        );
        let (other, _) = wrapping.new_person_key(41);
        assert_eq!(other.open("identities.value", &sealed), Err(Unsealable));
        // A changed byte anywhere.
        for i in 0..sealed.len() {
            let mut changed = sealed.clone();
            changed[i] ^= 1;
            assert_eq!(
                key.open("identities.value", &changed),
                Err(Unsealable),
                "byte {i}"
            );
        }
        assert_eq!(key.open("identities.value", &sealed[..20]), Err(Unsealable));
    }

    #[test]
    fn the_same_value_seals_differently_but_has_one_blind_index() {
        let wrapping = Wrapping::new(&[7u8; 32]);
        let (key, _) = wrapping.new_person_key(1);
        assert_ne!(key.seal("c", "x"), key.seal("c", "x"));
        assert_eq!(
            wrapping.blind("email", "a@b.c"),
            wrapping.blind("email", "a@b.c")
        );
        assert_ne!(
            wrapping.blind("email", "a@b.c"),
            wrapping.blind("discord", "a@b.c")
        );
        assert_ne!(
            wrapping.blind("email", "a@b.c"),
            Wrapping::new(&[8u8; 32]).blind("email", "a@b.c")
        );
        assert_ne!(
            Wrapping::new(&[7u8; 32]).check_value(),
            Wrapping::new(&[8u8; 32]).check_value()
        );
    }
}
