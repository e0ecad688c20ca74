-- The Message-ID of the first mail about the same request to the same address: every later
-- mail names it in References, so a reply to any of them leads back to the request. It is one
-- of the bot's own Message-IDs (outbox.message_id), which name no one, so it is kept in clear.
ALTER TABLE outbox ADD COLUMN thread_root TEXT;
