//! Proof a person keeps and a log nobody can quietly rewrite: signed notes
//! (c2sp.org/signed-note), RFC 6962 Merkle trees, log checkpoints (c2sp.org/tlog-checkpoint),
//! the record each leaf hashes, receipts, and the signing key's file. Nothing here touches the
//! database; `db::log` keeps the tree and `services::log` puts it to work.

pub mod checkpoint;
pub mod key;
pub mod merkle;
pub mod note;
pub mod receipt;
pub mod record;
