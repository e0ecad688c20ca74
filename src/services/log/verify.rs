//! The checks anyone can run: a receipt against the tree (its leaf, its event in the audit
//! trail, its head a prefix of today's tree), and the whole tree recomputed from the audit
//! trail and the acknowledgements against every leaf, head and checkpoint handed out.

use super::*;

pub(super) fn all_leaves(db: &Conn) -> anyhow::Result<Vec<Leaf>> {
    let mut leaves = Vec::new();
    db::log::each_leaf(db, |l| {
        leaves.push(l);
        Ok(())
    })?;
    Ok(leaves)
}

/// A finding of a check: told to the person in one line.
pub(super) fn refused(why: String) -> anyhow::Error {
    UserError::new(why).into()
}

/// Where a receipt's event stands in the tree, or why it is not there.
pub(super) fn in_log(
    db: &Conn,
    ctx: &Context,
    tree: &Tree,
    leaves: &[Leaf],
    r: &Receipt,
) -> anyhow::Result<String> {
    let size = tree.size();
    let Some(leaf) = leaves.get(r.leaf_index as usize) else {
        return Err(refused(format!(
            "The receipt is signed, but its event is not in this log: it names leaf {} and the log holds {size} \
             events. Either it comes from another log, or events were removed from this one.",
            r.leaf_index
        )));
    };
    if leaf.item != Item::Event(r.event) || leaf.hash != r.leaf {
        return Err(refused(format!(
            "The receipt is signed, but its event is not in this log: leaf {} of this log is not event #{} \
             as the receipt recorded it. Either it comes from another log, or this one was rewritten.",
            r.leaf_index, r.event
        )));
    }
    match db::log::event_facts(db, r.event)? {
        Some(f) if leaf_hash(&record(&ctx.keys, &f).bytes()) == leaf.hash => {}
        Some(_) => {
            return Err(refused(format!(
                "The receipt is signed and its leaf is in the log, but event #{} in the audit trail was changed \
                 after it was logged: `dsr-bot log verify` shows where.",
                r.event
            )));
        }
        None => {
            return Err(refused(format!(
                "The receipt is signed and its leaf is in the log, but event #{} is gone from the audit trail.",
                r.event
            )));
        }
    }
    if r.log.size > size || tree.root(r.log.size) != r.log.root {
        return Err(refused(format!(
            "The receipt is signed, but the log no longer has the head it handed out (size {}): the log was \
             rewritten or cut since.",
            r.log.size
        )));
    }
    let proof = tree.inclusion_proof(r.leaf_index, size);
    let root = tree.root(size);
    if !verify_inclusion(r.leaf_index, size, &r.leaf, &proof, &root) {
        return Err(anyhow::anyhow!(
            "an inclusion proof the log made did not check"
        ));
    }
    let consistency = tree.consistency_proof(r.log.size, size);
    if !verify_consistency(r.log.size, size, &r.log.root, &root, &consistency) {
        return Err(anyhow::anyhow!(
            "a consistency proof the log made did not check"
        ));
    }
    Ok(format!(
        "event #{} is leaf {} of the {size} in the log (an inclusion proof of {} hashes checked), and the log \
         grew from the receipt's {} events to {size} without a rewrite (a consistency proof of {} hashes checked)",
        r.event,
        r.leaf_index,
        proof.len(),
        r.log.size,
        consistency.len()
    ))
}

fn describe_event(f: &EventFacts) -> String {
    format!(
        "event #{} (request #{}, {} -> {}, {})",
        f.event_id,
        f.request_id,
        f.from.as_deref().unwrap_or("new"),
        f.to,
        crate::proof::record::instant(f.at)
    )
}

/// The tree rebuilt leaf by leaf from what each leaf logs: the events in their order, and
/// the acknowledgements between them.
struct Walk<'a> {
    leaves: &'a [Leaf],
    acks: &'a std::collections::HashMap<i64, Option<Ack>>,
    frontier: Frontier,
    /// The next leaf to check.
    next: usize,
    events: u64,
    problem: Option<String>,
}

impl Walk<'_> {
    /// Checks `hash`, recomputed from what leaf `next` logs (`what`), against the leaf and the
    /// head handed out with it.
    fn check(&mut self, hash: Hash, what: &str) {
        let i = self.next;
        let leaf = &self.leaves[i];
        self.next += 1;
        if hash != leaf.hash {
            self.problem = Some(format!(
                "{what} does not match leaf {i} of the log: it was changed after it was logged"
            ));
            return;
        }
        self.frontier.append(hash);
        if self.frontier.root() != leaf.root {
            self.problem = Some(format!(
                "the head handed out with leaf {i} ({what}) does not match the tree: the log was rewritten there"
            ));
        }
    }

    /// The acknowledgements at the walk's place, up to the next event's leaf.
    fn acks_until_an_event(&mut self) {
        while self.problem.is_none() {
            let Some(Item::Ack(id)) = self.leaves.get(self.next).map(|l| l.item) else {
                return;
            };
            match self.acks.get(&id).cloned().flatten() {
                Some(a) => self.check(leaf_hash(&ack_record(&a).bytes()), &describe_ack(&a)),
                None => {
                    self.problem = Some(format!(
                        "leaf {} of the log is acknowledgement #{id}, which is gone from consumer_acks",
                        self.next
                    ));
                }
            }
        }
    }

    fn event(&mut self, ctx: &Context, f: &EventFacts) {
        self.acks_until_an_event();
        if self.problem.is_some() {
            return;
        }
        self.events += 1;
        let i = self.next;
        let Some(leaf) = self.leaves.get(i) else {
            self.problem = Some(format!(
                "{} has no leaf in the log: the log ends after {} leaves",
                describe_event(f),
                self.leaves.len()
            ));
            return;
        };
        if leaf.item != Item::Event(f.event_id) {
            self.problem = Some(format!(
                "leaf {i} of the log is {}, but the audit trail has {} there: {} was removed",
                leaf.item,
                describe_event(f),
                leaf.item
            ));
            return;
        }
        self.check(leaf_hash(&record(&ctx.keys, f).bytes()), &describe_event(f));
    }
}

fn describe_ack(a: &Ack) -> String {
    format!(
        "acknowledgement #{} ({} applied the feed to {} in run {})",
        a.id, a.consumer, a.seq, a.run
    )
}

pub(super) fn verify_log(db: &Conn, ctx: &Context) -> anyhow::Result<LogCheck> {
    let leaves = all_leaves(db)?;
    let mut acks = std::collections::HashMap::new();
    for leaf in &leaves {
        if let Item::Ack(id) = leaf.item {
            acks.insert(id, db::feed::ack(db, id)?);
        }
    }
    let mut walk = Walk {
        leaves: &leaves,
        acks: &acks,
        frontier: Frontier::default(),
        next: 0,
        events: 0,
        problem: None,
    };
    db::log::each_event_after(db, 0, |f| {
        walk.event(ctx, &f);
        Ok(())
    })?;
    walk.acks_until_an_event();
    if let Some(p) = walk.problem {
        return Err(refused(format!("The log does not verify: {p}.")));
    }
    let (frontier, events) = (walk.frontier, walk.events);
    let (acks, logged) = db::feed::acks_and_leaves(db)?;
    if acks != logged {
        return Err(refused(format!(
            "The log does not verify: consumer_acks holds {acks} acknowledgements but the log only {logged}: \
             an acknowledgement was written beside the log, not through it."
        )));
    }
    if walk.next < leaves.len() {
        let gone = &leaves[walk.next];
        return Err(refused(format!(
            "The log does not verify: it holds {} leaves but the audit trail ends before leaf {}: {} and the {} \
             leaves after it were removed from the audit trail.",
            leaves.len(),
            gone.index,
            gone.item,
            leaves.len() - walk.next - 1
        )));
    }
    let stored = db::log::frontier(db)?;
    if stored != frontier {
        return Err(refused(format!(
            "The log does not verify: its stored head (size {}) is not the tree of its {events} events.",
            stored.size()
        )));
    }
    let tree = Tree::new(leaves.iter().map(|l| l.hash).collect());
    let root = tree.root(tree.size());
    let checkpoints = db::log::checkpoints(db)?;
    let keys: Vec<NoteVerifier> = db::log::keys(db)?
        .iter()
        .filter_map(|k| NoteVerifier::parse(&k.vkey).ok())
        .collect();
    for c in &checkpoints {
        let shown = format!(
            "the checkpoint of size {} handed out {} ({})",
            c.size,
            crate::proof::record::instant(c.made_at),
            c.why
        );
        let opened = note::open(&c.note, &keys)
            .map_err(|e| refused(format!("The log does not verify: {shown}: {e}.")))?;
        let cp = Checkpoint::parse(&opened.text).map_err(|e| {
            refused(format!(
                "The log does not verify: {shown} does not read: {e}."
            ))
        })?;
        if cp.size != c.size || cp.root != c.root {
            return Err(refused(format!(
                "The log does not verify: {shown} was changed in the table after it was signed."
            )));
        }
        if cp.size > tree.size() {
            return Err(refused(format!(
                "The log does not verify: {shown} covers {} events, and the log now holds {}: the newest {} were \
                 removed.",
                cp.size,
                tree.size(),
                cp.size - tree.size()
            )));
        }
        let proof = tree.consistency_proof(cp.size, tree.size());
        if !verify_consistency(cp.size, tree.size(), &cp.root, &root, &proof) {
            // Every leaf matched its event and its stored head: leaves, heads and events were
            // rewritten together, and only the checkpoints handed out show it.
            return Err(refused(format!(
                "The log does not verify: {shown} is not a prefix of the tree (its root {} is not the tree's \
                 at that size): the first {} events were rewritten together with their leaves.",
                show_hash(&cp.root),
                cp.size
            )));
        }
    }
    Ok(LogCheck {
        events,
        checkpoints: checkpoints.len(),
    })
}
