//! Keyed hashes (HMAC-SHA256) for one-time codes and for what remains of erased identities,
//! and the random values the bot hands out.

use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

#[derive(Clone)]
pub struct Keys {
    key: Vec<u8>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(..)")
    }
}

impl Keys {
    pub fn new(key: Vec<u8>) -> Self {
        Self { key }
    }

    pub fn generate_hex() -> String {
        hex::encode(rand::thread_rng().r#gen::<[u8; 32]>())
    }

    fn mac(&self, parts: &[&str]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        for part in parts {
            // Length-prefixed so ("ab", "c") and ("a", "bc") differ.
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        mac
    }

    /// The hash kept for a code: bound to the verification it belongs to.
    pub fn code_hash(&self, verification_salt: &str, code: &str) -> String {
        hex::encode(
            self.mac(&["code", verification_salt, code])
                .finalize()
                .into_bytes(),
        )
    }

    /// Compares in constant time.
    pub fn code_matches(&self, verification_salt: &str, code: &str, stored_hex: &str) -> bool {
        let Ok(stored) = hex::decode(stored_hex) else {
            return false;
        };
        self.mac(&["code", verification_salt, code])
            .verify_slice(&stored)
            .is_ok()
    }

    /// The key an input that may come twice (an interaction, a message, an import row) is
    /// recorded under: keyed, since a Message-ID or an import row can name a person.
    pub fn input_hash(&self, source: &str, key: &str) -> String {
        hex::encode(self.mac(&["input", source, key]).finalize().into_bytes())
    }

    /// A short tag proving `payload` was made by this service (a button's custom id): 16 hex
    /// digits of its HMAC, compared in constant time by [`Self::tag_matches`].
    pub fn tag(&self, payload: &str) -> String {
        hex::encode(&self.mac(&["tag", payload]).finalize().into_bytes()[..8])
    }

    pub fn tag_matches(&self, payload: &str, tag: &str) -> bool {
        let Ok(given) = hex::decode(tag) else {
            return false;
        };
        given.len() == 8
            && self
                .mac(&["tag", payload])
                .verify_truncated_left(&given)
                .is_ok()
    }

    /// The person as the log and receipts name them: 32 hex digits of a keyed hash of their
    /// internal number, which names no one once their identities are erased.
    pub fn person_hash(&self, person_id: i64) -> String {
        hex::encode(
            &self
                .mac(&["person", &person_id.to_string()])
                .finalize()
                .into_bytes()[..16],
        )
    }

    /// What remains of an erased identity: answers "was this address erased?" only for
    /// someone who holds the key and the address.
    pub fn identity_hash(&self, kind: &str, value: &str) -> String {
        hex::encode(self.mac(&["identity", kind, value]).finalize().into_bytes())
    }
}

/// A six-digit one-time code.
pub fn new_code() -> String {
    format!("{:06}", rand::thread_rng().gen_range(0..1_000_000))
}

/// A reply token: 20 characters from [a-z2-7] (100 bits), safe in the local part of an address.
pub fn new_reply_token() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut rng = rand::thread_rng();
    (0..20)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// A short reference a person can quote when something went wrong on our side.
pub fn new_reference() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..8)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_verify_only_against_their_own_salt() {
        let keys = Keys::new(vec![7; 32]);
        let h = keys.code_hash("v1", "123456");
        assert!(keys.code_matches("v1", "123456", &h));
        assert!(!keys.code_matches("v1", "123457", &h));
        assert!(!keys.code_matches("v2", "123456", &h));
        assert!(!Keys::new(vec![8; 32]).code_matches("v1", "123456", &h));
    }

    #[test]
    fn codes_and_references_have_their_shape() {
        let c = new_code();
        assert_eq!(c.len(), 6);
        assert!(c.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(new_reference().len(), 8);
    }
}
