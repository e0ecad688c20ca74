//! The store seam for reply tokens: what the token in a mail's plus address (or the Message-ID
//! a reply cites) points at, so a reply is tied to its request and to the address the mail
//! went to. Only a hash of each token is kept; the token itself is only in the mail.

use chrono::{DateTime, Utc};

use crate::db::{self, Conn, reply_tokens::ReplyToken};

/// A token to keep: given in a mail about `request` to `email`.
pub struct NewToken<'a> {
    pub token: &'a str,
    pub request: i64,
    /// The mail lists the person's requests (the status answer).
    pub lists: bool,
    pub email: &'a str,
    pub now: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Reply tokens in the store.
pub trait ReplyTokens {
    fn add_reply_token(&self, token: &NewToken<'_>) -> anyhow::Result<()>;

    /// What `token` points at, expired or not.
    fn reply_token(&self, token: &str) -> anyhow::Result<Option<ReplyToken>>;

    /// The token of the outgoing mail with this Message-ID, for replies that lost the plus
    /// address but kept In-Reply-To / References.
    fn reply_token_of_mail(&self, message_id: &str) -> anyhow::Result<Option<ReplyToken>>;

    /// Erasure: the tokens of `person`'s requests, and every token given to one of `emails`.
    fn forget_reply_tokens(&self, person: i64, emails: &[String]) -> anyhow::Result<()>;
}

impl ReplyTokens for Conn {
    fn add_reply_token(&self, t: &NewToken<'_>) -> anyhow::Result<()> {
        Ok(db::reply_tokens::insert(
            self,
            t.token,
            t.request,
            t.lists,
            t.email,
            t.now,
            t.expires_at,
        )?)
    }

    fn reply_token(&self, token: &str) -> anyhow::Result<Option<ReplyToken>> {
        Ok(db::reply_tokens::find(self, token)?)
    }

    fn reply_token_of_mail(&self, message_id: &str) -> anyhow::Result<Option<ReplyToken>> {
        Ok(db::reply_tokens::find_by_message_id(self, message_id)?)
    }

    fn forget_reply_tokens(&self, person: i64, emails: &[String]) -> anyhow::Result<()> {
        Ok(db::reply_tokens::delete_for(self, person, emails)?)
    }
}
