//! Signed notes (c2sp.org/signed-note): a text ending in a newline, a blank line, and one
//! `— <key name> base64(key ID || signature)` line per signature. Keys are Ed25519 (signature
//! type 0x01); the key ID is the first four bytes of SHA-256(name || 0x0A || 0x01 || public
//! key). Keys are written as Go's `golang.org/x/mod/sumdb/note` writes them:
//! `<name>+<hex key ID>+<base64(0x01 || public key)>` for the public key (a "vkey") and
//! `PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 || seed)>` for the private one, so the keys
//! and notes work with those tools too.

use base64::{Engine as _, engine::general_purpose::STANDARD as B64};
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use sha2::{Digest, Sha256};

/// The signature type byte of Ed25519 in signed notes.
const ED25519: u8 = 0x01;
/// Opens every signature line.
pub const DASH: &str = "— ";
/// The most signatures read from one note (the format asks for at least 16).
const MAX_SIGNATURES: usize = 16;

/// A key name as the format allows it: not empty, no spaces, no `+`, no control characters.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || c.is_control())
}

/// The key ID of an Ed25519 key called `name`.
pub fn key_id(name: &str, public: &VerifyingKey) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', ED25519]);
    h.update(public.as_bytes());
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("{0}")]
    Malformed(String),
}

fn malformed(what: &str) -> KeyError {
    KeyError::Malformed(what.to_owned())
}

/// A signing key and its name. Never printed: its `Debug` shows the name and key ID only.
#[derive(Clone)]
pub struct NoteSigner {
    name: String,
    id: u32,
    key: SigningKey,
}

impl std::fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NoteSigner({}+{:08x})", self.name, self.id)
    }
}

impl NoteSigner {
    /// A new random key called `name`.
    pub fn generate(name: &str) -> Result<NoteSigner, KeyError> {
        if !valid_name(name) {
            return Err(malformed(
                "a key name must not be empty and must hold no spaces and no '+'",
            ));
        }
        Ok(Self::from_key(
            name,
            SigningKey::generate(&mut rand::rngs::OsRng),
        ))
    }

    fn from_key(name: &str, key: SigningKey) -> NoteSigner {
        let id = key_id(name, &key.verifying_key());
        NoteSigner {
            name: name.to_owned(),
            id,
            key,
        }
    }

    /// Reads `PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>`.
    pub fn parse(text: &str) -> Result<NoteSigner, KeyError> {
        const FORM: &str = "a signing key has the form PRIVATE+KEY+<name>+<key id>+<key> (`dsr-bot keys rotate` makes one)";
        let rest = text
            .trim()
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(malformed(FORM))?;
        let (name, id, key) = split_key(rest).ok_or(malformed(FORM))?;
        let bytes = B64.decode(key).map_err(|_| malformed(FORM))?;
        let seed: [u8; 32] = match bytes.split_first() {
            Some((&ED25519, seed)) => seed.try_into().map_err(|_| malformed(FORM))?,
            _ => return Err(malformed("only Ed25519 signing keys (type 1) are taken")),
        };
        let signer = Self::from_key(name, SigningKey::from_bytes(&seed));
        if signer.id != id {
            return Err(malformed(
                "the signing key's id does not match its name and key: the key was changed or mistyped",
            ));
        }
        Ok(signer)
    }

    /// The key in the form [`NoteSigner::parse`] reads. Written to the key file only.
    pub fn private_text(&self) -> String {
        let mut bytes = vec![ED25519];
        bytes.extend_from_slice(self.key.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.id,
            B64.encode(bytes)
        )
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            id: self.id,
            key: self.key.verifying_key(),
        }
    }

    /// The bare Ed25519 signature of `bytes` (a feed page, a webhook, an export), base64.
    pub fn sign_bytes(&self, bytes: &[u8]) -> String {
        B64.encode(self.key.sign(bytes).to_bytes())
    }

    /// `text` (which must end in a newline) signed: the text, a blank line, the signature line.
    pub fn sign(&self, text: &str) -> String {
        debug_assert!(text.ends_with('\n'), "a note's text ends in a newline");
        let signature = self.key.sign(text.as_bytes());
        let mut bytes = self.id.to_be_bytes().to_vec();
        bytes.extend_from_slice(&signature.to_bytes());
        format!("{text}\n{DASH}{} {}\n", self.name, B64.encode(bytes))
    }
}

/// `<name>+<hex id>+<base64>` split at its last two `+` (a name holds none).
fn split_key(text: &str) -> Option<(&str, u32, &str)> {
    let (name, rest) = text.split_once('+')?;
    let (id, key) = rest.split_once('+')?;
    if !valid_name(name) || id.len() != 8 {
        return None;
    }
    Some((name, u32::from_str_radix(id, 16).ok()?, key))
}

/// A public key and its name: what checks a note.
#[derive(Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    id: u32,
    key: VerifyingKey,
}

impl std::fmt::Debug for NoteVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NoteVerifier({})", self.short())
    }
}

impl NoteVerifier {
    /// Reads `<name>+<hex id>+<base64(0x01 || public key)>`.
    pub fn parse(text: &str) -> Result<NoteVerifier, KeyError> {
        const FORM: &str = "a public key has the form <name>+<key id>+<key>, as `dsr-bot keys public` and /privacy show it";
        let (name, id, key) = split_key(text.trim()).ok_or(malformed(FORM))?;
        let bytes = B64.decode(key).map_err(|_| malformed(FORM))?;
        let public: [u8; 32] = match bytes.split_first() {
            Some((&ED25519, public)) => public.try_into().map_err(|_| malformed(FORM))?,
            _ => return Err(malformed("only Ed25519 public keys (type 1) are taken")),
        };
        let key = VerifyingKey::from_bytes(&public)
            .map_err(|_| malformed("the public key is not a valid Ed25519 key"))?;
        if key_id(name, &key) != id {
            return Err(malformed(
                "the public key's id does not match its name and key: it was changed or mistyped",
            ));
        }
        Ok(NoteVerifier {
            name: name.to_owned(),
            id,
            key,
        })
    }

    /// The key in the form [`NoteVerifier::parse`] reads.
    pub fn vkey(&self) -> String {
        let mut bytes = vec![ED25519];
        bytes.extend_from_slice(self.key.as_bytes());
        format!("{}+{:08x}+{}", self.name, self.id, B64.encode(bytes))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `name+id`: how messages name a key.
    pub fn short(&self) -> String {
        format!("{}+{:08x}", self.name, self.id)
    }

    pub fn id_hex(&self) -> String {
        format!("{:08x}", self.id)
    }

    /// Whether `signature` (base64) is this key's Ed25519 signature of `bytes`, as
    /// [`NoteSigner::sign_bytes`] makes them for feed pages and exports.
    pub fn verify_bytes(&self, bytes: &[u8], signature: &str) -> bool {
        let Ok(raw) = B64.decode(signature.trim()) else {
            return false;
        };
        let Ok(raw) = <[u8; 64]>::try_from(raw.as_slice()) else {
            return false;
        };
        self.key
            .verify_strict(bytes, &ed25519_dalek::Signature::from_bytes(&raw))
            .is_ok()
    }
}

/// Why a note was not taken. Each says in one line what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("{0}")]
    Malformed(String),
    #[error(
        "it is signed by {signed_by}, a key this check does not know (it knows {known}): it was not signed by this log's key"
    )]
    UnknownKey { signed_by: String, known: String },
    #[error("its signature by {0} does not match its text: it was changed after it was signed")]
    BadSignature(String),
}

/// A note whose signature checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// The signed text, with its final newline.
    pub text: String,
    pub signed_by: NoteVerifier,
}

/// Checks `note` against `known` keys: a signature by a known key (same name and key ID) must
/// verify, and at least one must. Signatures by unknown keys are ignored, as the format asks.
pub fn open(note: &str, known: &[NoteVerifier]) -> Result<Opened, NoteError> {
    if note.chars().any(|c| c.is_control() && c != '\n') {
        return Err(NoteError::Malformed(
            "it holds control characters, which a signed note never does".into(),
        ));
    }
    let split = note.rfind("\n\n").ok_or_else(|| {
        NoteError::Malformed("it has no signature line (\"— <key name> <signature>\")".into())
    })?;
    let (text, signatures) = (&note[..split + 1], &note[split + 2..]);
    let lines: Vec<&str> = signatures.lines().collect();
    if lines.is_empty() || lines.len() > MAX_SIGNATURES || !note.ends_with('\n') {
        return Err(NoteError::Malformed(
            "its signature lines are missing or cut".into(),
        ));
    }
    let mut unknown = Vec::new();
    let mut opened = None;
    for line in lines {
        let (name, sig) = line
            .strip_prefix(DASH)
            .and_then(|l| l.split_once(' '))
            .ok_or_else(|| {
                NoteError::Malformed(format!("\"{}\" is not a signature line", clip(line)))
            })?;
        let bytes = B64.decode(sig).map_err(|_| {
            NoteError::Malformed(format!(
                "the signature by {name} is not base64: it was cut or changed"
            ))
        })?;
        if bytes.len() < 4 {
            return Err(NoteError::Malformed(format!(
                "the signature by {name} is too short: it was cut"
            )));
        }
        let id = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        let Some(key) = known.iter().find(|k| k.name == name && k.id == id) else {
            unknown.push(format!("{name}+{id:08x}"));
            continue;
        };
        let signature =
            Signature::from_slice(&bytes[4..]).map_err(|_| NoteError::BadSignature(key.short()))?;
        key.key
            .verify(text.as_bytes(), &signature)
            .map_err(|_| NoteError::BadSignature(key.short()))?;
        opened.get_or_insert_with(|| key.clone());
    }
    match opened {
        Some(signed_by) => Ok(Opened {
            text: text.to_owned(),
            signed_by,
        }),
        None => Err(NoteError::UnknownKey {
            signed_by: unknown.join(", "),
            known: if known.is_empty() {
                "no key".into()
            } else {
                known
                    .iter()
                    .map(NoteVerifier::short)
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        }),
    }
}

fn clip(s: &str) -> String {
    let mut out: String = s.chars().take(40).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_notes_verify() {
        let signer = NoteSigner::generate("example.org/log").unwrap();
        let again = NoteSigner::parse(&signer.private_text()).unwrap();
        assert_eq!(again.verifier(), signer.verifier());
        let verifier = NoteVerifier::parse(&signer.verifier().vkey()).unwrap();
        let note = signer.sign("hello\nworld\n");
        let opened = open(&note, &[verifier]).unwrap();
        assert_eq!(opened.text, "hello\nworld\n");
    }

    /// The example of c2sp.org/signed-note (and of Go's note package), checked with its key.
    #[test]
    fn the_published_example_verifies() {
        let vkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
        let note = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
        let verifier = NoteVerifier::parse(vkey).unwrap();
        let opened = open(note, &[verifier]).unwrap();
        assert!(opened.text.starts_with("If you think"));
    }

    #[test]
    fn a_changed_byte_another_key_and_a_cut_note_each_fail_with_their_reason() {
        let signer = NoteSigner::generate("example.org/log").unwrap();
        let other = NoteSigner::generate("example.org/log").unwrap();
        let note = signer.sign("request 1\n");
        let changed = note.replacen("request 1", "request 2", 1);
        assert!(matches!(
            open(&changed, &[signer.verifier()]),
            Err(NoteError::BadSignature(_))
        ));
        assert!(matches!(
            open(&other.sign("request 1\n"), &[signer.verifier()]),
            Err(NoteError::UnknownKey { .. })
        ));
        assert!(matches!(
            open("request 1\n", &[signer.verifier()]),
            Err(NoteError::Malformed(_))
        ));
        let cut = &note[..note.len() - 10];
        assert!(open(cut, &[signer.verifier()]).is_err());
    }

    #[test]
    fn a_tampered_key_id_or_name_is_refused() {
        let signer = NoteSigner::generate("a").unwrap();
        let vkey = signer.verifier().vkey();
        let renamed = vkey.replacen("a+", "b+", 1);
        assert!(NoteVerifier::parse(&renamed).is_err());
        assert!(NoteSigner::generate("has space").is_err());
        assert!(NoteSigner::generate("has+plus").is_err());
    }
}
