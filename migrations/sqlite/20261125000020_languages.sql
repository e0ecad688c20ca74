-- The language the person is answered in about a request (Discord's locale for the member,
-- the language of a mail, or DEFAULT_LANGUAGE), kept so that every later mail about it (a
-- reminder, an extension, the completion) is written in the same language. Requests from
-- before are in English, the only language there was.
ALTER TABLE requests ADD COLUMN language TEXT NOT NULL DEFAULT 'en'
    CHECK (language IN ('en', 'de', 'fr', 'es', 'pt-BR'));
