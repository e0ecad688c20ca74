//! What a use-case gives back for a channel to show the person.

use crate::{db::requests::Request, domain::RequestState};

/// What a channel shows the person after a successful call.
#[derive(Debug, Clone)]
pub struct Reply {
    pub text: String,
    /// The request the reply is about, when there is one.
    pub request_id: Option<i64>,
    /// A change took effect: the person gets a receipt of it (on Discord, a DM queued in the
    /// same unit of work).
    pub receipt: bool,
    /// The request's facts, for an answer by mail.
    pub(super) about: Option<Request>,
    /// The text lists the person's requests (the status answer); `about` is the first.
    pub(super) lists: bool,
    /// The receipts the text refers to, made and signed once the text leaves the unit.
    pub(super) receipts: Vec<crate::proof::receipt::Receipt>,
}

impl Reply {
    /// A reply about nothing in particular (help, the privacy notice).
    pub fn text(text: String) -> Self {
        Self {
            text,
            request_id: None,
            receipt: false,
            about: None,
            lists: false,
            receipts: Vec::new(),
        }
    }

    /// The state of the request the reply is about, as the use-case left it.
    pub fn request_state(&self) -> Option<RequestState> {
        self.about.as_ref().map(|r| r.state)
    }

    pub(super) fn about(req: &Request, text: String) -> Self {
        Self {
            text,
            request_id: Some(req.id),
            receipt: false,
            about: Some(req.clone()),
            lists: false,
            receipts: Vec::new(),
        }
    }

    pub(super) fn with_receipt(mut self) -> Self {
        self.receipt = true;
        self
    }
}

/// What a member's use-case returns: the reply to mail back when the person wrote by mail.
pub(super) trait Answers {
    fn reply_mut(&mut self) -> Option<&mut Reply>;
}

impl Answers for Reply {
    fn reply_mut(&mut self) -> Option<&mut Reply> {
        Some(self)
    }
}
