//! Log checkpoints (c2sp.org/tlog-checkpoint): the note text `<origin>\n<tree size>\n<base64
//! root hash>\n`, signed as a signed note by the log's key.

use base64::{Engine as _, engine::general_purpose::STANDARD as B64};

use super::merkle::Hash;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
}

impl Checkpoint {
    pub fn text(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        )
    }

    /// Reads a checkpoint's note text (extension lines after the root are allowed, and
    /// ignored).
    pub fn parse(text: &str) -> Result<Checkpoint, String> {
        let mut lines = text.lines();
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err("a checkpoint has three lines: origin, size, root".into());
        };
        let size = size
            .parse::<u64>()
            .map_err(|_| format!("\"{size}\" is not a tree size"))?;
        let root = parse_hash(root).ok_or("the root is not a base64 SHA-256 hash")?;
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
        })
    }
}

pub fn parse_hash(text: &str) -> Option<Hash> {
    B64.decode(text.trim()).ok()?.try_into().ok()
}

pub fn show_hash(hash: &Hash) -> String {
    B64.encode(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_reads_back() {
        let c = Checkpoint {
            origin: "example.org/log".into(),
            size: 7,
            root: [9; 32],
        };
        assert_eq!(Checkpoint::parse(&c.text()).unwrap(), c);
        assert!(Checkpoint::parse("a\nb\nc\n").is_err());
    }
}
