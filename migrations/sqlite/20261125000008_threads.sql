-- The Message-ID of the first mail about the same request to the same address: every later
-- mail names it in References, so a reply to any of them leads back to the request.
ALTER TABLE outbox ADD COLUMN thread_root TEXT;
